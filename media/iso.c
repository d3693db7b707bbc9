/* ISO 9660 images through libisofs, reading (see iso.h): the image is imported once (tree, boot
 * catalog, system area); file data is read straight from the image file through each file's
 * extents, so big files are copied with copy_file_range and never pass through libisofs' 2 KiB
 * block reads. The patch stream, the UDF bridge, El Torito and writing have files of their own
 * (iso_stream.c, iso_udf.c, iso_boot.c, iso_write.c) over iso_internal.h.
 */
#define _GNU_SOURCE /* copy_file_range */
#include "iso_internal.h"

#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void iso_lib_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        iso_init();
        /* keep SORRY and worse queued so a failure can be explained; print nothing */
        iso_set_msgs_severities("SORRY", "NEVER", "aero-media");
        /* a failed read of a source file is a MISHAP (libisofs then writes zeros instead): stop */
        iso_set_abort_severity("MISHAP");
        g_once_init_leave(&once, 1);
    }
}

static int sev_num(const char *name)
{
    int n = 0;
    iso_text_to_sev((char *)name, &n);
    return n;
}

/* Empty libisofs' message queue; the first message at MISHAP or worse (what went wrong first,
 * e.g. "Read error in file /sources/install.wim", not the "Image write cancelled" after it),
 * else the last SORRY, else NULL. */
char *iso_lib_drain(gboolean *serious)
{
    char text[4096], sev[80];
    int err, imgid, mishap = sev_num("MISHAP");
    char *first_bad = NULL, *last = NULL;
    while (iso_obtain_msgs("SORRY", &err, &imgid, text, sev) > 0) {
        if (!first_bad && sev_num(sev) >= mishap)
            first_bad = g_strdup(text);
        g_free(last);
        last = g_strdup(text);
    }
    if (serious)
        *serious = first_bad != NULL;
    if (first_bad) {
        g_free(last);
        return g_strstrip(first_bad);
    }
    return last ? g_strstrip(last) : NULL;
}

/* libisofs' most telling complaint since the last call (or its error code's text). */
static char *lib_why(int code)
{
    char *why = iso_lib_drain(NULL);
    if (why)
        return why;
    return g_strdup(code < 0 ? iso_error_to_msg(code) : "libisofs failed");
}

void iso_set_lib_error(GError **error, int code, const char *subject, const char *what)
{
    g_autofree char *why = lib_why(code);
    g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: %s (%s)", subject, what, why);
}

void iso_set_errno_error(GError **error, int err, const char *subject, const char *what)
{
    g_set_error(error, MEDIA_ERROR, media_error_from_errno(err), "%s: %s: %s", subject, what,
                g_strerror(err));
}

gboolean media_iso_probe(const char *path)
{
    char buf[6] = {0};
    int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return FALSE;
    gboolean ok = pread(fd, buf, 6, 16 * ISO_BLOCK) == 6 && buf[0] == 1 && memcmp(buf + 1, "CD001", 5) == 0;
    close(fd);
    return ok;
}

/* ---- data source: the image file read 1 MiB at a time ------------------------------------- */

typedef struct {
    int fd;
    GMutex lock; /* libisofs' writer thread and ours may both read blocks */
    guint8 *cache;
    guint64 start, len;
} CachedSource;

#define SOURCE_CACHE (1u << 20)

static int src_open(IsoDataSource *s) { (void)s; return ISO_SUCCESS; }
static int src_close(IsoDataSource *s) { (void)s; return ISO_SUCCESS; }

static int src_read_block(IsoDataSource *s, uint32_t lba, uint8_t *buffer)
{
    CachedSource *c = s->data;
    guint64 off = (guint64)lba * ISO_BLOCK;
    int ret = ISO_SUCCESS;
    g_mutex_lock(&c->lock);
    if (off < c->start || off + ISO_BLOCK > c->start + c->len) {
        ssize_t n = pread(c->fd, c->cache, SOURCE_CACHE, (off_t)off);
        c->start = off;
        c->len = n > 0 ? (guint64)n : 0;
    }
    if (c->len >= ISO_BLOCK && off >= c->start && off + ISO_BLOCK <= c->start + c->len)
        memcpy(buffer, c->cache + (off - c->start), ISO_BLOCK);
    else
        ret = (int)ISO_DATA_SOURCE_FAILURE;
    g_mutex_unlock(&c->lock);
    return ret;
}

static void src_free(IsoDataSource *s)
{
    CachedSource *c = s->data;
    g_mutex_clear(&c->lock);
    g_free(c->cache);
    g_free(c);
}

static IsoDataSource *cached_source_new(int fd)
{
    IsoDataSource *s = calloc(1, sizeof(*s)); /* libisofs frees it with free() */
    CachedSource *c = g_new0(CachedSource, 1);
    c->fd = fd;
    g_mutex_init(&c->lock);
    c->cache = g_malloc(SOURCE_CACHE);
    s->version = 0;
    s->refcount = 1;
    s->open = src_open;
    s->close = src_close;
    s->read_block = src_read_block;
    s->free_data = src_free;
    s->data = c;
    return s;
}

/* ---- opening -------------------------------------------------------------------------------- */

/* A regular file that a directory lists (not a boot image kept in no directory). */
gboolean iso_listed_file(IsoNode *n)
{
    return iso_node_get_type(n) == LIBISO_FILE && !(iso_node_get_hidden(n) & LIBISO_HIDE_ON_RR);
}

/* A name aero-media can handle. Rock Ridge names are bytes that libisofs passes on as they are:
 * not empty, "." or ".." (extracting names a place outside the folder), UTF-8 (GLib's case
 * folding reads past the end of a string cut inside a character), no control characters (each
 * message is one line). */
static gboolean usable_name(const char *name)
{
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..") || !g_utf8_validate(name, -1, NULL))
        return FALSE;
    for (const char *c = name; *c; c++)
        if ((guchar)*c < 0x20 || *c == '/')
            return FALSE;
    return TRUE;
}

void iso_collect_files(IsoDir *dir, GHashTable *files, char **bad)
{
    IsoDirIter *it = NULL;
    IsoNode *n;
    if (iso_dir_get_children(dir, &it) < 0)
        return;
    while (iso_dir_iter_next(it, &n) == 1) {
        gboolean is_dir = iso_node_get_type(n) == LIBISO_DIR;
        if (!is_dir && !iso_listed_file(n))
            continue;
        char *p = iso_tree_get_node_path(n);
        if (!usable_name(iso_node_get_name(n))) {
            if (bad && !*bad)
                *bad = g_strdup(p ? p : "?");
        } else if (is_dir) {
            iso_collect_files((IsoDir *)n, files, bad);
        } else if (p) {
            g_hash_table_insert(files, g_utf8_strdown(p, -1), g_strdup(p));
        }
        free(p);
    }
    iso_dir_iter_free(it);
}

/* Bounds on the imported tree. libisofs follows directory records wherever they point and skips
 * "." and ".." by position only: a directory listing itself under another name made
 * iso_image_import recurse without end (found by fuzz_iso), and records sharing a directory
 * multiply the tree. Its report callback sees every node before it is added; refusing one
 * cancels the import. */
#define IMPORT_MAX_DEPTH 256u
#define IMPORT_MAX_NODES (1u << 20)

typedef struct {
    guint nodes;
    gboolean refused;
} ImportBounds;

static int import_report(IsoImage *image, IsoFileSource *src)
{
    ImportBounds *b = iso_image_get_attached_data(image);
    char *path = iso_file_source_get_path(src);
    guint depth = 0;
    for (const char *p = path; p && *p && depth <= IMPORT_MAX_DEPTH; p++)
        depth += *p == '/';
    free(path);
    if (++b->nodes > IMPORT_MAX_NODES || depth > IMPORT_MAX_DEPTH) {
        b->refused = TRUE;
        return -1; /* ISO_CANCELED */
    }
    return 1;
}

MediaIso *media_iso_open(const char *path, GError **error)
{
    iso_lib_init();
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no such file", path);
        return NULL;
    }
    if (!media_iso_probe(path)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not an ISO 9660 image", path);
        return NULL;
    }
    int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        iso_set_errno_error(error, errno, path, "cannot open");
        return NULL;
    }
    MediaIso *iso = g_new0(MediaIso, 1);
    iso->path = g_strdup(path);
    iso->fd = fd;
    iso->src = cached_source_new(fd);
    IsoReadOpts *ro = NULL;
    IsoReadImageFeatures *features = NULL;
    int r = iso_image_new("AERO", &iso->image);
    if (r >= 0)
        r = iso_read_opts_new(&ro, 0);
    ImportBounds bounds = {0, FALSE};
    if (r >= 0) {
        iso_read_opts_load_system_area(ro, 1); /* MBR/hybrid data survive a rebuild */
        iso_image_attach_data(iso->image, &bounds, NULL);
        iso_tree_set_report_callback(iso->image, import_report);
        r = iso_image_import(iso->image, iso->src, ro, &features);
        iso_tree_set_report_callback(iso->image, NULL);
        iso_image_attach_data(iso->image, NULL, NULL);
    }
    if (ro)
        iso_read_opts_free(ro);
    if (features)
        iso_read_image_features_destroy(features);
    if (r < 0 && bounds.refused) {
        g_free(iso_lib_drain(NULL));
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                    "%s: ISO 9660 directory tree deeper than %u levels or larger than %u entries (looping directory records?)",
                    path, IMPORT_MAX_DEPTH, IMPORT_MAX_NODES);
        media_iso_close(iso);
        return NULL;
    }
    if (r < 0) {
        iso_set_lib_error(error, r, path, "cannot read the ISO 9660 image");
        media_iso_close(iso);
        return NULL;
    }
    iso->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *bad = NULL;
    iso_collect_files(iso_image_get_root(iso->image), iso->files, &bad);
    if (bad) {
        g_autofree char *shown = g_strescape(bad, NULL); /* octal escapes: ASCII, one line */
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                    "%s: unusable file name \"%s\" (empty, . or .., not UTF-8 or with control characters)", path,
                    shown);
        media_iso_close(iso);
        return NULL;
    }
    if (!iso_use_udf_tree(iso, error) || (!iso->from_udf && !iso_keep_boot_images(iso, NULL, error))) {
        media_iso_close(iso);
        return NULL;
    }
    return iso;
}

void media_iso_close(MediaIso *iso)
{
    if (!iso)
        return;
    if (iso->image)
        iso_image_unref(iso->image);
    if (iso->src)
        iso_data_source_unref(iso->src);
    if (iso->files)
        g_hash_table_unref(iso->files);
    if (iso->fd >= 0)
        close(iso->fd);
    g_free(iso->udf_problem);
    g_free(iso->path);
    g_free(iso);
}

const char *media_iso_path(MediaIso *iso) { return iso->path; }
const char *media_iso_volume_id(MediaIso *iso)
{
    const char *v = iso_image_get_volume_id(iso->image);
    return v ? v : "";
}
GHashTable *media_iso_files(MediaIso *iso) { return iso->files; }
const char *media_iso_find(MediaIso *iso, const char *lower_path)
{
    return g_hash_table_lookup(iso->files, lower_path);
}

IsoFile *iso_file_node(MediaIso *iso, const char *path)
{
    IsoNode *n = NULL;
    if (iso_image_path_to_node(iso->image, path, &n) != 1 || !n || iso_node_get_type(n) != LIBISO_FILE)
        return NULL;
    return (IsoFile *)n;
}

gint64 media_iso_file_size(MediaIso *iso, const char *path)
{
    IsoFile *f = iso_file_node(iso, path);
    return f ? (gint64)iso_file_get_size(f) : -1;
}

/* ---- reading file data through its extents ----------------------------------------------- */

gboolean iso_extents_of(MediaIso *iso, const char *path, Extents *x, GError **error)
{
    memset(x, 0, sizeof(*x));
    IsoFile *f = iso_file_node(iso, path);
    g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
    if (!f) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no such file in the image", label);
        return FALSE;
    }
    const Extents *udf = iso_input_extents(f);
    if (udf) { /* a file of the UDF tree */
        x->size = udf->size;
        x->x = g_array_copy(udf->x);
        return TRUE;
    }
    /* data stored compressed (zisofs) would need libisofs' filters; Windows media never are */
    if (iso_stream_get_input_stream(iso_file_get_stream(f), 0)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: filtered (zisofs) file data is not supported",
                    label);
        return FALSE;
    }
    x->size = (guint64)iso_file_get_size(f);
    x->x = g_array_new(FALSE, FALSE, sizeof(MediaExtent));
    struct iso_file_section *sec = NULL;
    int n = 0;
    if (x->size && iso_file_get_old_image_sections(f, &n, &sec, 0) != 1) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: no data extents", label);
        g_clear_pointer(&x->x, g_array_unref);
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        MediaExtent e = {(guint64)sec[i].block * ISO_BLOCK, sec[i].size};
        g_array_append_val(x->x, e);
    }
    free(sec);
    return TRUE;
}

void iso_extents_clear(Extents *x)
{
    if (x->x)
        g_array_unref(x->x);
    memset(x, 0, sizeof(*x));
}

/* Image byte offset (MEDIA_EXTENT_ZERO: bytes recorded as zeros) and contiguous length
 * available at file offset off. */
static gboolean extent_at(const Extents *x, guint64 off, guint64 *img_off, guint64 *avail)
{
    guint64 base = 0;
    for (guint i = 0; x->x && i < x->x->len; i++) {
        const MediaExtent *e = &g_array_index(x->x, MediaExtent, i);
        if (off < base + e->len) {
            *img_off = e->off == MEDIA_EXTENT_ZERO ? MEDIA_EXTENT_ZERO : e->off + (off - base);
            *avail = base + e->len - off;
            return TRUE;
        }
        base += e->len;
    }
    return FALSE;
}

gboolean iso_pread_all(int fd, void *buf, gsize len, guint64 off)
{
    guint8 *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the image is shorter than its directory says */
            return FALSE;
        }
        p += r;
        off += (guint64)r;
        len -= (gsize)r;
    }
    return TRUE;
}

gboolean iso_pwrite_all(int fd, const void *buf, gsize len, guint64 off)
{
    const guint8 *p = buf;
    while (len) {
        ssize_t r = pwrite(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return FALSE;
        p += r;
        off += (guint64)r;
        len -= (gsize)r;
    }
    return TRUE;
}

/* Read file bytes [off, off+len) into buf. */
gboolean iso_read_file_range(MediaIso *iso, const Extents *x, guint64 off, void *buf, gsize len)
{
    guint8 *p = buf;
    while (len) {
        guint64 img, avail;
        if (!extent_at(x, off, &img, &avail)) {
            errno = EIO;
            return FALSE;
        }
        gsize n = (gsize)MIN((guint64)len, avail);
        if (img == MEDIA_EXTENT_ZERO)
            memset(p, 0, n);
        else if (!iso_pread_all(iso->fd, p, n, img))
            return FALSE;
        p += n;
        off += n;
        len -= n;
    }
    return TRUE;
}

gboolean media_iso_from_udf(MediaIso *iso) { return iso->from_udf; }
const char *media_iso_udf_problem(MediaIso *iso) { return iso->udf_problem; }

/* Which side of a copy failed: the image (read), the destination (write), or either (an EIO from
 * copy_file_range, which does not say). */
enum { FAILED_READ, FAILED_WRITE, FAILED_COPY };

static void set_copy_error(GError **error, int err, int failed, const char *src, const char *dest)
{
    if (failed == FAILED_COPY)
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(err), "%s: cannot copy to %s: %s", src, dest,
                    g_strerror(err));
    else
        iso_set_errno_error(error, err, failed == FAILED_WRITE ? dest : src,
                        failed == FAILED_WRITE ? "cannot write" : "cannot read");
}

/* Copy file bytes [off, off+len) to fd at the same offset; the kernel copies when it can. The
 * destination's errors (ENOSPC) are told apart from the image's with *dest_failed. */
static gboolean copy_file_range_to(MediaIso *iso, const Extents *x, guint64 off, guint64 len, int fd,
                                   MediaProgress *p, guint64 progress_base, int *dest_failed)
{
    static const gsize chunk = 8u << 20;
    g_autofree guint8 *buf = NULL;
    gboolean by_hand = FALSE; /* copy_file_range cannot (EXDEV, ENOSYS, EINVAL...) */
    *dest_failed = FAILED_READ;
    while (len) {
        guint64 img, avail;
        if (!extent_at(x, off, &img, &avail)) {
            errno = EIO;
            return FALSE;
        }
        gsize n = (gsize)MIN(MIN(len, avail), (guint64)chunk);
        gboolean zeros = img == MEDIA_EXTENT_ZERO; /* a UDF extent recorded as zeros */
        if (!by_hand && !zeros) {
            loff_t in = (loff_t)img, out = (loff_t)off;
            ssize_t r = copy_file_range(iso->fd, &in, fd, &out, n, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == ENOSPC || errno == EDQUOT)) {
                *dest_failed = FAILED_WRITE;
                return FALSE;
            }
            if (r < 0 && errno == EIO) {
                *dest_failed = FAILED_COPY;
                return FALSE;
            }
            if (r == 0) {
                errno = EIO; /* the image is shorter than its directory says */
                return FALSE;
            }
            if (r > 0) {
                off += (guint64)r;
                len -= (guint64)r;
                if (!media_progress_update(p, progress_base + off)) {
                    errno = ECANCELED;
                    return FALSE;
                }
                continue;
            }
            by_hand = TRUE;
        }
        if (!buf)
            buf = g_malloc(chunk);
        if (zeros)
            memset(buf, 0, n);
        else if (!iso_pread_all(iso->fd, buf, n, img))
            return FALSE;
        if (!iso_pwrite_all(fd, buf, n, off)) {
            *dest_failed = FAILED_WRITE;
            return FALSE;
        }
        off += n;
        len -= n;
        if (!media_progress_update(p, progress_base + off)) {
            errno = ECANCELED;
            return FALSE;
        }
    }
    return TRUE;
}

gboolean media_iso_copy_range(MediaIso *iso, const char *path, guint64 offset, guint64 length, int fd,
                              const char *dest_label, GError **error)
{
    Extents x;
    if (!iso_extents_of(iso, path, &x, error))
        return FALSE;
    int dest_failed;
    length = offset >= x.size ? 0 : MIN(length, x.size - offset);
    gboolean ok = copy_file_range_to(iso, &x, offset, length, fd, NULL, 0, &dest_failed);
    int saved = errno;
    if (!ok) {
        g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
        set_copy_error(error, saved, dest_failed, label, dest_label);
    }
    iso_extents_clear(&x);
    return ok;
}

gboolean media_iso_extract_file(MediaIso *iso, const char *path, const char *dest, MediaProgress *p,
                                GError **error)
{
    Extents x;
    if (!iso_extents_of(iso, path, &x, error))
        return FALSE;
    int fd = g_open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        iso_set_errno_error(error, errno, dest, "cannot create");
        iso_extents_clear(&x);
        return FALSE;
    }
    if (p)
        media_progress_begin(p, x.size, "copying %s", path + 1);
    int dest_failed;
    gboolean ok = copy_file_range_to(iso, &x, 0, x.size, fd, p, 0, &dest_failed);
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = FALSE;
        dest_failed = FAILED_WRITE;
        saved = errno;
    }
    if (p)
        media_progress_end(p);
    if (!ok) {
        g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
        set_copy_error(error, saved, dest_failed, label, dest);
        g_unlink(dest);
    }
    iso_extents_clear(&x);
    return ok;
}

static guint64 tree_bytes(IsoDir *dir)
{
    guint64 total = 0;
    IsoDirIter *it = NULL;
    IsoNode *n;
    if (iso_dir_get_children(dir, &it) < 0)
        return 0;
    while (iso_dir_iter_next(it, &n) == 1) {
        if (iso_node_get_type(n) == LIBISO_DIR)
            total += tree_bytes((IsoDir *)n);
        else if (iso_listed_file(n))
            total += (guint64)iso_file_get_size((IsoFile *)n);
    }
    iso_dir_iter_free(it);
    return total;
}

static gboolean extract_dir(MediaIso *iso, IsoDir *dir, const char *dest, MediaProgress *p, guint64 *done,
                            GError **error)
{
    if (g_mkdir(dest, 0755) != 0 && errno != EEXIST) { /* one level: its parent exists */
        iso_set_errno_error(error, errno, dest, "cannot create");
        return FALSE;
    }
    IsoDirIter *it = NULL;
    IsoNode *n;
    gboolean ok = TRUE;
    if (iso_dir_get_children(dir, &it) < 0)
        return TRUE;
    while (ok && iso_dir_iter_next(it, &n) == 1) {
        g_autofree char *to = g_build_filename(dest, iso_node_get_name(n), NULL);
        if (iso_node_get_type(n) == LIBISO_DIR) {
            ok = extract_dir(iso, (IsoDir *)n, to, p, done, error);
        } else if (iso_listed_file(n)) {
            char *path = iso_tree_get_node_path(n);
            Extents x;
            ok = path && iso_extents_of(iso, path, &x, error);
            if (ok) {
                int fd = g_open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int dest_failed = fd < 0 ? FAILED_WRITE : FAILED_READ;
                ok = fd >= 0 && copy_file_range_to(iso, &x, 0, x.size, fd, p, *done, &dest_failed);
                int saved = errno;
                if (fd >= 0 && close(fd) != 0 && ok) {
                    ok = FALSE;
                    dest_failed = FAILED_WRITE;
                    saved = errno;
                }
                if (!ok) {
                    g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
                    set_copy_error(error, saved, dest_failed, label, to);
                }
                *done += x.size;
                iso_extents_clear(&x);
            }
            free(path);
        }
    }
    iso_dir_iter_free(it);
    return ok;
}

gboolean media_iso_extract_all(MediaIso *iso, const char *dest, MediaProgress *p, GError **error)
{
    IsoDir *root = iso_image_get_root(iso->image);
    guint64 done = 0;
    g_autofree char *base = g_path_get_basename(iso->path);
    media_progress_begin(p, tree_bytes(root), "extracting %s", base);
    gboolean ok = extract_dir(iso, root, dest, p, &done, error);
    media_progress_end(p);
    return ok;
}

char *iso_extents_sha256(MediaIso *iso, const Extents *x, const char *label, GError **error)
{
    MediaSha256 *h = media_sha256_new();
    g_autofree guint8 *buf = g_malloc(1u << 20);
    for (guint64 off = 0; off < x->size;) {
        gsize n = (gsize)MIN(x->size - off, (guint64)(1u << 20));
        if (!iso_read_file_range(iso, x, off, buf, n)) {
            iso_set_errno_error(error, errno, label, "cannot read");
            g_free(media_sha256_finish(h));
            return NULL;
        }
        media_sha256_update(h, buf, n);
        off += n;
    }
    return media_sha256_finish(h);
}

char *media_iso_file_sha256(MediaIso *iso, const char *path, GError **error)
{
    Extents x;
    if (!iso_extents_of(iso, path, &x, error))
        return NULL;
    g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
    char *sum = iso_extents_sha256(iso, &x, label, error);
    iso_extents_clear(&x);
    return sum;
}
