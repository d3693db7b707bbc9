/* ISO 9660 images through libisofs (see iso.h).
 *
 * Reading: the image is imported once (tree, boot catalog, system area); file data is read
 * straight from the image file through each file's extents, so big files are copied with
 * copy_file_range and never pass through libisofs' 2 KiB block reads.
 *
 * Writing: libisofs generates the image on its own thread into a ring buffer; this thread takes it
 * out in big chunks, writes them (holes for all-zero chunks) while a second thread hashes them.
 * A patched file (MEDIA_ISO_PATCH) is a custom IsoStream that reads the changed ranges from the
 * local work copy and everything else from the input image, so a WIM updated by appending is
 * never copied in full.
 */
#define _GNU_SOURCE /* copy_file_range */
#define LIBISOFS_WITHOUT_LIBBURN 1 /* struct burn_source from libisofs.h: no libburn needed */
#include "iso.h"

#include "error.h"
#include "udf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libisofs/libisofs.h>

#define ISO_BLOCK 2048u
#define WRITE_CHUNK (4u << 20)
#define WRITE_BUFFERS 4
#define FIFO_BLOCKS 8192 /* 16 MiB between libisofs' generator and our writer */

static void lib_init(void)
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
static char *lib_drain(gboolean *serious)
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
    char *why = lib_drain(NULL);
    if (why)
        return why;
    return g_strdup(code < 0 ? iso_error_to_msg(code) : "libisofs failed");
}

static void set_lib_error(GError **error, int code, const char *subject, const char *what)
{
    g_autofree char *why = lib_why(code);
    g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: %s (%s)", subject, what, why);
}

static void set_errno_error(GError **error, int err, const char *subject, const char *what)
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

struct MediaIso {
    char *path;
    int fd;
    IsoDataSource *src;
    IsoImage *image;
    GHashTable *files; /* lower-case path -> stored path */
    gboolean from_udf; /* the tree is the image's UDF tree (a UDF bridge image) */
    char *udf_problem; /* why the image's UDF tree was not read, when it was not */
};

static gboolean use_udf_tree(MediaIso *iso, GError **error);
static gboolean keep_boot_images(MediaIso *iso, GHashTable *udf_starts, GError **error);
static guint64 hidden_boot_size(MediaIso *iso, guint64 off, int platform, int load_size);
static gboolean boot_node_start(IsoFile *f, guint64 *off);
static gboolean boot_node_hidden(IsoFile *f);

/* In no directory of any tree, but written: boot images that no file holds (keep_boot_images). */
#define IN_NO_DIRECTORY (LIBISO_HIDE_ON_RR | LIBISO_HIDE_ON_JOLIET | LIBISO_HIDE_ON_1999 | LIBISO_HIDE_ON_HFSPLUS | \
                         LIBISO_HIDE_ON_FAT | LIBISO_HIDE_BUT_WRITE)

/* A regular file that a directory lists (not a boot image kept in no directory). */
static gboolean listed_file(IsoNode *n)
{
    return iso_node_get_type(n) == LIBISO_FILE && !(iso_node_get_hidden(n) & LIBISO_HIDE_ON_RR);
}

static void collect_files(IsoDir *dir, GHashTable *files)
{
    IsoDirIter *it = NULL;
    IsoNode *n;
    if (iso_dir_get_children(dir, &it) < 0)
        return;
    while (iso_dir_iter_next(it, &n) == 1) {
        if (iso_node_get_type(n) == LIBISO_DIR) {
            collect_files((IsoDir *)n, files);
        } else if (listed_file(n)) {
            char *p = iso_tree_get_node_path(n);
            if (p) {
                g_hash_table_insert(files, g_utf8_strdown(p, -1), g_strdup(p));
                free(p);
            }
        }
    }
    iso_dir_iter_free(it);
}

MediaIso *media_iso_open(const char *path, GError **error)
{
    lib_init();
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
        set_errno_error(error, errno, path, "cannot open");
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
    if (r >= 0) {
        iso_read_opts_load_system_area(ro, 1); /* MBR/hybrid data survive a rebuild */
        r = iso_image_import(iso->image, iso->src, ro, &features);
    }
    if (ro)
        iso_read_opts_free(ro);
    if (features)
        iso_read_image_features_destroy(features);
    if (r < 0) {
        set_lib_error(error, r, path, "cannot read the ISO 9660 image");
        media_iso_close(iso);
        return NULL;
    }
    iso->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    collect_files(iso_image_get_root(iso->image), iso->files);
    if (!use_udf_tree(iso, error) || (!iso->from_udf && !keep_boot_images(iso, NULL, error))) {
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

static IsoFile *file_node(MediaIso *iso, const char *path)
{
    IsoNode *n = NULL;
    if (iso_image_path_to_node(iso->image, path, &n) != 1 || !n || iso_node_get_type(n) != LIBISO_FILE)
        return NULL;
    return (IsoFile *)n;
}

gint64 media_iso_file_size(MediaIso *iso, const char *path)
{
    IsoFile *f = file_node(iso, path);
    return f ? (gint64)iso_file_get_size(f) : -1;
}

/* ---- reading file data through its extents ----------------------------------------------- */

/* Where a file's bytes are in the image: ISO 9660 file sections or UDF extents. */
typedef struct {
    GArray *x; /* MediaExtent */
    guint64 size;
} Extents;

typedef struct PatchStream PatchStream;
static IsoStreamIface patch_class;
static const Extents *udf_extents(IsoFile *f);

static gboolean extents_of(MediaIso *iso, const char *path, Extents *x, GError **error)
{
    memset(x, 0, sizeof(*x));
    IsoFile *f = file_node(iso, path);
    g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
    if (!f) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no such file in the image", label);
        return FALSE;
    }
    const Extents *udf = udf_extents(f);
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

static void extents_clear(Extents *x)
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

static gboolean pread_all(int fd, void *buf, gsize len, guint64 off)
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

static gboolean pwrite_all(int fd, const void *buf, gsize len, guint64 off)
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
static gboolean read_file_range(MediaIso *iso, const Extents *x, guint64 off, void *buf, gsize len)
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
        else if (!pread_all(iso->fd, p, n, img))
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
        set_errno_error(error, err, failed == FAILED_WRITE ? dest : src,
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
                media_progress_update(p, progress_base + off);
                continue;
            }
            by_hand = TRUE;
        }
        if (!buf)
            buf = g_malloc(chunk);
        if (zeros)
            memset(buf, 0, n);
        else if (!pread_all(iso->fd, buf, n, img))
            return FALSE;
        if (!pwrite_all(fd, buf, n, off)) {
            *dest_failed = FAILED_WRITE;
            return FALSE;
        }
        off += n;
        len -= n;
        media_progress_update(p, progress_base + off);
    }
    return TRUE;
}

gboolean media_iso_copy_range(MediaIso *iso, const char *path, guint64 offset, guint64 length, int fd,
                              const char *dest_label, GError **error)
{
    Extents x;
    if (!extents_of(iso, path, &x, error))
        return FALSE;
    int dest_failed;
    length = offset >= x.size ? 0 : MIN(length, x.size - offset);
    gboolean ok = copy_file_range_to(iso, &x, offset, length, fd, NULL, 0, &dest_failed);
    int saved = errno;
    if (!ok) {
        g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
        set_copy_error(error, saved, dest_failed, label, dest_label);
    }
    extents_clear(&x);
    return ok;
}

gboolean media_iso_extract_file(MediaIso *iso, const char *path, const char *dest, MediaProgress *p,
                                GError **error)
{
    Extents x;
    if (!extents_of(iso, path, &x, error))
        return FALSE;
    int fd = g_open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_errno_error(error, errno, dest, "cannot create");
        extents_clear(&x);
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
    extents_clear(&x);
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
        else if (listed_file(n))
            total += (guint64)iso_file_get_size((IsoFile *)n);
    }
    iso_dir_iter_free(it);
    return total;
}

static gboolean extract_dir(MediaIso *iso, IsoDir *dir, const char *dest, MediaProgress *p, guint64 *done,
                            GError **error)
{
    if (g_mkdir(dest, 0755) != 0 && errno != EEXIST) { /* one level: its parent exists */
        set_errno_error(error, errno, dest, "cannot create");
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
        } else if (listed_file(n)) {
            char *path = iso_tree_get_node_path(n);
            Extents x;
            ok = path && extents_of(iso, path, &x, error);
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
                extents_clear(&x);
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

static char *extents_sha256(MediaIso *iso, const Extents *x, const char *label, GError **error)
{
    MediaSha256 *h = media_sha256_new();
    g_autofree guint8 *buf = g_malloc(1u << 20);
    for (guint64 off = 0; off < x->size;) {
        gsize n = (gsize)MIN(x->size - off, (guint64)(1u << 20));
        if (!read_file_range(iso, x, off, buf, n)) {
            set_errno_error(error, errno, label, "cannot read");
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
    if (!extents_of(iso, path, &x, error))
        return NULL;
    g_autofree char *label = g_strdup_printf("%s:%s", iso->path, path);
    char *sum = extents_sha256(iso, &x, label, error);
    extents_clear(&x);
    return sum;
}

/* ---- El Torito ------------------------------------------------------------------------------ */

void media_boot_entry_free(MediaBootEntry *e)
{
    if (!e)
        return;
    g_free(e->platform);
    g_free(e->emulation);
    g_free(e->path);
    g_free(e->sha256);
    g_free(e);
}

GPtrArray *media_iso_boot_entries(MediaIso *iso, GError **error)
{
    int n = 0;
    ElToritoBootImage **boots = NULL;
    IsoFile **nodes = NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)media_boot_entry_free);
    int r = iso_image_get_all_boot_imgs(iso->image, &n, &boots, &nodes, 0);
    if (r < 0) {
        set_lib_error(error, r, iso->path, "cannot read the El Torito catalog");
        g_ptr_array_unref(out);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        MediaBootEntry *e = g_new0(MediaBootEntry, 1);
        int pid = el_torito_get_boot_platform_id(boots[i]);
        e->platform = pid == 0 ? g_strdup("BIOS") : pid == 0xef ? g_strdup("UEFI") : g_strdup_printf("0x%02x", pid);
        enum eltorito_boot_media_type mt = ELTORITO_NO_EMUL;
        el_torito_get_boot_media_type(boots[i], &mt);
        e->emulation = g_strdup(mt == ELTORITO_NO_EMUL ? "none" : mt == ELTORITO_FLOPPY_EMUL ? "floppy" : "hard_disk");
        e->load_size = (guint)el_torito_get_load_size(boots[i]);
        guint64 off;
        if (nodes && nodes[i] && !boot_node_hidden(nodes[i])) {
            char *p = iso_tree_get_node_path((IsoNode *)nodes[i]);
            e->path = g_strdup(p);
            free(p);
            e->sha256 = e->path ? media_iso_file_sha256(iso, e->path, NULL) : NULL;
        } else if (nodes && nodes[i] && boot_node_start(nodes[i], &off)) {
            /* in no directory: the bytes a firmware would use, by the same rule as when it is
             * kept (hidden_boot_size), so input and output compare */
            guint64 size = hidden_boot_size(iso, off, pid, (int)e->load_size);
            Extents x = {g_array_new(FALSE, FALSE, sizeof(MediaExtent)), size};
            MediaExtent one = {off, size};
            g_array_append_val(x.x, one);
            e->sha256 = extents_sha256(iso, &x, iso->path, NULL);
            extents_clear(&x);
        }
        g_ptr_array_add(out, e);
    }
    free(boots);
    free(nodes);
    return out;
}

/* ---- a patched file: changed ranges from the work copy, the rest from the input image ---- */
/* With no work copy (disk_path NULL) the stream is a file of the input's UDF tree. */

struct PatchStream {
    MediaIso *iso;
    Extents old;
    char *disk_path;
    int fd;
    GArray *ranges; /* MediaRange, sorted */
    guint64 size, pos;
    guint cursor;   /* first range that may contain the next composed byte */
    guint8 *buf;    /* composed bytes [buf_start, buf_start + buf_len) */
    guint64 buf_start, buf_len;
    ino_t ino;
};

#define PATCH_BUFFER (4u << 20)

static int patch_open(IsoStream *s)
{
    PatchStream *d = s->data;
    d->fd = d->disk_path ? g_open(d->disk_path, O_RDONLY | O_CLOEXEC, 0) : -1;
    d->pos = 0;
    d->cursor = 0;
    d->buf_start = d->buf_len = 0;
    if (!d->buf)
        d->buf = g_malloc(PATCH_BUFFER);
    return d->disk_path && d->fd < 0 ? (int)ISO_FILE_ERROR : ISO_SUCCESS;
}

static int patch_close(IsoStream *s)
{
    PatchStream *d = s->data;
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    g_clear_pointer(&d->buf, g_free);
    return ISO_SUCCESS;
}

static off_t patch_get_size(IsoStream *s) { return (off_t)((PatchStream *)s->data)->size; }

/* Bytes [pos, pos+count) of the patched file, from the work copy or the input image. Reads are
 * sequential, so a cursor walks the sorted ranges. */
static gboolean patch_compose(PatchStream *d, guint64 pos, guint8 *p, gsize count)
{
    while (count) {
        while (d->cursor < d->ranges->len) {
            const MediaRange *r = &g_array_index(d->ranges, MediaRange, d->cursor);
            if (pos < r->offset + r->length)
                break;
            d->cursor++;
        }
        const MediaRange *r = d->cursor < d->ranges->len ? &g_array_index(d->ranges, MediaRange, d->cursor) : NULL;
        gboolean from_disk;
        guint64 until;
        if (r && pos >= r->offset) { /* a changed range */
            from_disk = TRUE;
            until = r->offset + r->length;
        } else if (pos >= d->old.size) { /* appended after the old end */
            from_disk = TRUE;
            until = r ? r->offset : d->size;
        } else { /* unchanged: the input image's bytes */
            from_disk = FALSE;
            until = r ? MIN(r->offset, d->old.size) : d->old.size;
        }
        until = MIN(until, d->size);
        gsize n = (gsize)MIN((guint64)count, until - pos);
        gboolean ok = from_disk ? pread_all(d->fd, p, n, pos) : read_file_range(d->iso, &d->old, pos, p, n);
        if (!ok)
            return FALSE;
        p += n;
        pos += n;
        count -= n;
    }
    return TRUE;
}

/* libisofs asks for 2 KiB at a time: serve them from a big buffer. */
static int patch_read(IsoStream *s, void *buf, size_t count)
{
    PatchStream *d = s->data;
    if (d->pos >= d->size)
        return 0;
    count = (size_t)MIN((guint64)count, d->size - d->pos);
    guint8 *out = buf;
    size_t left = count;
    while (left) {
        if (d->pos < d->buf_start || d->pos >= d->buf_start + d->buf_len) {
            gsize n = (gsize)MIN(d->size - d->pos, (guint64)PATCH_BUFFER);
            if (!patch_compose(d, d->pos, d->buf, n))
                return (int)ISO_FILE_READ_ERROR;
            d->buf_start = d->pos;
            d->buf_len = n;
        }
        gsize n = (gsize)MIN((guint64)left, d->buf_start + d->buf_len - d->pos);
        memcpy(out, d->buf + (d->pos - d->buf_start), n);
        out += n;
        d->pos += n;
        left -= n;
    }
    return (int)count;
}

static int patch_is_repeatable(IsoStream *s) { (void)s; return 1; }

static void patch_get_id(IsoStream *s, unsigned int *fs_id, dev_t *dev_id, ino_t *ino_id)
{
    /* libisofs' convention for streams with no file system identity */
    *fs_id = 0;
    *dev_id = 0;
    *ino_id = ((PatchStream *)s->data)->ino;
}

static void patch_free(IsoStream *s)
{
    PatchStream *d = s->data;
    extents_clear(&d->old);
    g_free(d->buf);
    g_free(d->disk_path);
    g_array_unref(d->ranges);
    g_free(d);
}

static int patch_update_size(IsoStream *s) { (void)s; return ISO_SUCCESS; }
static IsoStream *patch_input(IsoStream *s, int flag) { (void)s; (void)flag; return NULL; }

static IsoStreamIface patch_class = {
    .version = 2, .type = "user", .open = patch_open, .close = patch_close, .get_size = patch_get_size,
    .read = patch_read, .is_repeatable = patch_is_repeatable, .get_id = patch_get_id, .free = patch_free,
    .update_size = patch_update_size, .get_input_stream = patch_input,
};

/* Takes old. With disk_path and ranges NULL it is a file of the input read through its extents. */
static IsoStream *patch_stream_new(MediaIso *iso, const Extents *old, const char *disk_path,
                                   const GArray *ranges, guint64 size)
{
    PatchStream *d = g_new0(PatchStream, 1);
    d->iso = iso;
    d->old = *old;
    d->disk_path = g_strdup(disk_path);
    d->fd = -1;
    d->ranges = g_array_sized_new(FALSE, FALSE, sizeof(MediaRange), ranges ? ranges->len : 0);
    if (ranges)
        g_array_append_vals(d->ranges, ranges->data, ranges->len);
    d->size = size;
    d->ino = serial_id++;
    IsoStream *s = calloc(1, sizeof(*s)); /* libisofs frees streams with free() */
    s->class = &patch_class;
    s->refcount = 1;
    s->data = d;
    return s;
}

static const Extents *udf_extents(IsoFile *f)
{
    IsoStream *s = iso_file_get_stream(f);
    if (!s || s->class != &patch_class || ((PatchStream *)s->data)->disk_path)
        return NULL;
    return &((PatchStream *)s->data)->old;
}

/* ---- the UDF tree of a bridge image --------------------------------------------------------- */

static void set_node_times(IsoNode *n, time_t t)
{
    iso_node_set_mtime(n, t);
    iso_node_set_atime(n, t);
    iso_node_set_ctime(n, t);
}

/* The UDF folder's children under parent; starts maps each file's first data byte in the image
 * to its node, to find the El Torito boot images among them. */
static gboolean add_udf_nodes(MediaIso *iso, IsoDir *parent, const MediaUdfNode *dir, const char *path,
                              GHashTable *starts, GError **error)
{
    for (guint i = 0; i < dir->children->len; i++) {
        const MediaUdfNode *c = g_ptr_array_index(dir->children, i);
        g_autofree char *p = g_strconcat(path, "/", c->name, NULL);
        IsoNode *node = NULL;
        int r;
        if (c->dir) {
            r = iso_image_add_new_dir(iso->image, parent, c->name, (IsoDir **)&node);
        } else {
            Extents x = {g_array_copy(c->extents), c->size};
            IsoStream *s = patch_stream_new(iso, &x, NULL, NULL, c->size);
            r = iso_image_add_new_file(iso->image, parent, c->name, s, (IsoFile **)&node);
            if (r < 0)
                iso_stream_unref(s);
            else if (x.x->len && g_array_index(x.x, MediaExtent, 0).off != MEDIA_EXTENT_ZERO &&
                     !g_hash_table_contains(starts, &g_array_index(x.x, MediaExtent, 0).off))
                g_hash_table_insert(starts, g_memdup2(&g_array_index(x.x, MediaExtent, 0).off, sizeof(guint64)), node);
        }
        if (r < 0) {
            g_autofree char *where = g_strdup_printf("%s: UDF file system: %s", iso->path, p);
            set_lib_error(error, r, where, "cannot take it into the ISO 9660 tree");
            return FALSE;
        }
        iso_node_set_uid(node, 0);
        iso_node_set_gid(node, 0);
        iso_node_set_permissions(node, c->dir ? 0555 : 0444);
        set_node_times(node, (time_t)c->mtime);
        if (c->dir && !add_udf_nodes(iso, (IsoDir *)node, c, p, starts, error))
            return FALSE;
    }
    return TRUE;
}

/* How many bytes from block lba make up a boot image that no file holds: what the firmware
 * loads (load_size sectors, at least one block), and for UEFI the whole FAT image, whose boot
 * sector gives its size (UEFI firmware reads the FAT file system, whatever the load size says:
 * Microsoft's media record 1 sector). */
static guint64 hidden_boot_size(MediaIso *iso, guint64 off, int platform, int load_size)
{
    guint64 size = MAX((guint64)MAX(load_size, 0) * 512, (guint64)ISO_BLOCK);
    guint8 bs[512];
    if (platform == 0xef && pread_all(iso->fd, bs, sizeof(bs), off) && bs[510] == 0x55 && bs[511] == 0xaa) {
        guint bytes_per_sector = bs[11] | bs[12] << 8;
        guint64 sectors = (guint)(bs[19] | bs[20] << 8);
        if (!sectors)
            sectors = (guint64)bs[32] | (guint64)bs[33] << 8 | (guint64)bs[34] << 16 | (guint64)bs[35] << 24;
        if (bytes_per_sector >= 512 && bytes_per_sector <= 4096 && !(bytes_per_sector & (bytes_per_sector - 1)) &&
            sectors * bytes_per_sector <= (64u << 20))
            size = MAX(size, sectors * bytes_per_sector);
    }
    struct stat st;
    if (fstat(iso->fd, &st) == 0 && off < (guint64)st.st_size)
        size = MIN(size, (guint64)st.st_size - off);
    return size;
}

/* Image byte offset where a boot image node's data starts, if it has any. */
static gboolean boot_node_start(IsoFile *f, guint64 *off)
{
    const Extents *udf = udf_extents(f);
    if (udf) {
        if (!udf->x->len || g_array_index(udf->x, MediaExtent, 0).off == MEDIA_EXTENT_ZERO)
            return FALSE;
        *off = g_array_index(udf->x, MediaExtent, 0).off;
        return TRUE;
    }
    struct iso_file_section *sec = NULL;
    int n = 0;
    gboolean ok = iso_file_get_old_image_sections(f, &n, &sec, 0) == 1 && n > 0;
    if (ok)
        *off = (guint64)sec[0].block * ISO_BLOCK;
    free(sec);
    return ok;
}

/* A boot image in no directory: libisofs' own stand-in (one block), or ours. */
static gboolean boot_node_hidden(IsoFile *f)
{
    return !iso_node_get_parent((IsoNode *)f) || !listed_file((IsoNode *)f);
}

typedef struct {
    char *path;
    enum eltorito_boot_media_type type;
    int platform, load_seg, load_size, bootable, isolinux;
    uint8_t id[28], crit[20];
} BootCopy;

/* A file in no directory whose data is written: a boot image that no file holds. */
static char *add_hidden_boot_file(MediaIso *iso, guint64 off, guint64 size, int index, GError **error)
{
    IsoDir *root = iso_image_get_root(iso->image);
    char *name = NULL;
    IsoNode *clash = NULL;
    for (int k = 0; !name || iso_dir_get_node(root, name, &clash) == 1; k++) {
        g_free(name);
        name = k ? g_strdup_printf("boot-image-%d.%d.img", index, k) : g_strdup_printf("boot-image-%d.img", index);
    }
    Extents x = {g_array_new(FALSE, FALSE, sizeof(MediaExtent)), size};
    MediaExtent e = {off, size};
    g_array_append_val(x.x, e);
    IsoStream *s = patch_stream_new(iso, &x, NULL, NULL, size);
    IsoFile *f = NULL;
    int r = iso_image_add_new_file(iso->image, root, name, s, &f);
    if (r < 0) {
        iso_stream_unref(s);
        set_lib_error(error, r, iso->path, "cannot keep a boot image that no file holds");
        g_free(name);
        return NULL;
    }
    iso_node_set_hidden((IsoNode *)f, IN_NO_DIRECTORY);
    char *path = g_strconcat("/", name, NULL);
    g_free(name);
    return path;
}

static char *node_path(IsoNode *n)
{
    char *p = iso_tree_get_node_path(n);
    char *copy = g_strdup(p);
    free(p);
    return copy;
}

/* A new catalog on the entries' files, every entry as it was; like the input's (and Microsoft's
 * media), it is in no directory. */
static gboolean rebuild_catalog(MediaIso *iso, BootCopy *b, int n, GError **error)
{
    static const char *const names[] = {"/boot.catalog", "/boot.cat", "/aero-boot.catalog"};
    const char *cat = NULL;
    for (guint k = 0; k < G_N_ELEMENTS(names) && !cat; k++) {
        IsoNode *x = NULL;
        if (iso_image_path_to_node(iso->image, names[k], &x) != 1)
            cat = names[k];
    }
    iso_image_remove_boot_image(iso->image);
    for (int i = 0; i < n; i++) {
        ElToritoBootImage *e = NULL;
        int r = i == 0 ? iso_image_set_boot_image(iso->image, b[i].path, b[i].type, cat, &e)
                       : iso_image_add_boot_image(iso->image, b[i].path, b[i].type, 0, &e);
        if (r < 0) {
            g_autofree char *where = g_strdup_printf("%s:%s", iso->path, b[i].path);
            set_lib_error(error, r, where, "cannot keep it as El Torito boot image");
            return FALSE;
        }
        el_torito_set_boot_platform_id(e, (uint8_t)b[i].platform);
        el_torito_set_load_seg(e, (short)b[i].load_seg);
        el_torito_set_load_size(e, (short)b[i].load_size);
        if (!b[i].bootable)
            el_torito_set_no_bootable(e);
        el_torito_set_id_string(e, b[i].id);
        el_torito_set_selection_crit(e, b[i].crit);
        el_torito_set_isolinux_options(e, b[i].isolinux, 0);
    }
    iso_image_set_boot_catalog_hidden(iso->image, IN_NO_DIRECTORY);
    return TRUE;
}

/* Libisofs imports a boot image that no file of the tree holds as a hidden one-block file, which
 * would cut a UEFI FAT image (or a BIOS image loading several blocks) short when written. Each
 * such entry is moved onto the file of udf_starts (a UDF tree's files by first data byte) that
 * starts at its block, else onto a file in no directory holding the whole image
 * (hidden_boot_size), and the catalog is rebuilt on them. */
static gboolean keep_boot_images(MediaIso *iso, GHashTable *udf_starts, GError **error)
{
    int n = 0;
    ElToritoBootImage **boots = NULL;
    IsoFile **nodes = NULL;
    if (iso_image_get_all_boot_imgs(iso->image, &n, &boots, &nodes, 0) != 1 || n <= 0 || !nodes) {
        free(boots);
        free(nodes);
        return TRUE;
    }
    BootCopy *b = g_new0(BootCopy, n);
    gboolean moved = FALSE, keepable = TRUE, ok = TRUE;
    for (int i = 0; i < n && keepable && ok; i++) {
        el_torito_get_boot_media_type(boots[i], &b[i].type);
        b[i].platform = el_torito_get_boot_platform_id(boots[i]);
        b[i].load_seg = el_torito_get_load_seg(boots[i]);
        b[i].load_size = el_torito_get_load_size(boots[i]);
        b[i].bootable = el_torito_get_bootable(boots[i]);
        b[i].isolinux = el_torito_get_isolinux_options(boots[i], 0);
        el_torito_get_id_string(boots[i], b[i].id);
        el_torito_get_selection_crit(boots[i], b[i].crit);
        guint64 off;
        keepable = nodes[i] && boot_node_start(nodes[i], &off); /* else no data: libisofs keeps the catalog */
        if (!keepable)
            break;
        if (!boot_node_hidden(nodes[i])) {
            b[i].path = node_path((IsoNode *)nodes[i]);
            continue;
        }
        IsoFile *f = udf_starts ? g_hash_table_lookup(udf_starts, &off) : NULL;
        b[i].path = f ? node_path((IsoNode *)f)
                      : add_hidden_boot_file(iso, off, hidden_boot_size(iso, off, b[i].platform, b[i].load_size),
                                             i + 1, error);
        ok = b[i].path != NULL;
        moved = TRUE;
    }
    free(boots);
    free(nodes);
    if (ok && keepable && moved)
        ok = rebuild_catalog(iso, b, n, error);
    for (int i = 0; i < n; i++)
        g_free(b[i].path);
    g_free(b);
    return ok;
}

/* A UDF bridge image whose ISO 9660 tree holds fewer files than its UDF tree (Microsoft's
 * CDIMAGE -u2 media: README.TXT only) is read through its UDF tree, which then replaces the
 * ISO 9660 tree for everything after: finding, reading, patching and writing files. */
static gboolean use_udf_tree(MediaIso *iso, GError **error)
{
    guint iso_files = g_hash_table_size(iso->files);
    gboolean stub = iso_files == 1 && g_hash_table_contains(iso->files, "/readme.txt");
    if (!media_udf_present(iso->fd)) {
        if (stub)
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: its ISO 9660 tree holds just README.TXT and it has no UDF file system", iso->path);
        return !stub;
    }
    GError *e = NULL;
    MediaUdf *udf = media_udf_read(iso->fd, iso->path, &e);
    if (!udf) {
        if (stub || !iso_files) {
            g_propagate_error(error, e);
            return FALSE;
        }
        iso->udf_problem = g_strdup(e->message); /* the ISO 9660 tree may do */
        g_error_free(e);
        return TRUE;
    }
    gboolean ok = TRUE;
    if (udf->files > iso_files) {
        IsoDir *root = iso_image_get_root(iso->image);
        IsoDirIter *it = NULL;
        IsoNode *n;
        if (iso_dir_get_children(root, &it) >= 0) {
            while (iso_dir_iter_next(it, &n) == 1)
                iso_dir_iter_remove(it);
            iso_dir_iter_free(it);
        }
        GHashTable *starts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        set_node_times((IsoNode *)root, (time_t)udf->root->mtime);
        ok = add_udf_nodes(iso, root, udf->root, "", starts, error) && keep_boot_images(iso, starts, error);
        g_hash_table_unref(starts);
        g_hash_table_remove_all(iso->files);
        collect_files(root, iso->files);
        iso->from_udf = TRUE;
    }
    media_udf_free(udf);
    return ok;
}

/* ---- tree edits ------------------------------------------------------------------------------ */

/* Readable by everyone, owned by root, whatever the local files were (like mkisofs -r). */
static void normalize_tree(IsoNode *n)
{
    iso_node_set_uid(n, 0);
    iso_node_set_gid(n, 0);
    if (iso_node_get_type(n) != LIBISO_DIR) {
        iso_node_set_permissions(n, (iso_node_get_permissions(n) & 0111) ? 0555 : 0444);
        return;
    }
    iso_node_set_permissions(n, 0555);
    IsoDirIter *it = NULL;
    IsoNode *c;
    if (iso_dir_get_children((IsoDir *)n, &it) < 0)
        return;
    while (iso_dir_iter_next(it, &c) == 1)
        normalize_tree(c);
    iso_dir_iter_free(it);
}

/* Make the parent folders of an absolute image path; returns the parent. */
static IsoDir *ensure_parent(IsoImage *image, const char *path, int *err)
{
    IsoDir *dir = iso_image_get_root(image);
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    guint n = g_strv_length(parts);
    for (guint i = 0; i + 1 < n; i++) {
        if (!*parts[i])
            continue;
        IsoNode *c = NULL;
        if (iso_dir_get_node(dir, parts[i], &c) == 1 && c && iso_node_get_type(c) == LIBISO_DIR) {
            dir = (IsoDir *)c;
            continue;
        }
        IsoDir *nd = NULL;
        *err = iso_image_add_new_dir(image, dir, parts[i], &nd);
        if (*err < 0)
            return NULL;
        normalize_tree((IsoNode *)nd);
        dir = nd;
    }
    return dir;
}

static void remove_path(IsoImage *image, const char *path)
{
    IsoNode *n = NULL;
    /* iso_node_remove frees a folder with its children (libisofs 1.5.4's iso_node_remove_tree
     * mistakes files for folders) */
    if (iso_image_path_to_node(image, path, &n) == 1 && n && n != (IsoNode *)iso_image_get_root(image))
        iso_node_remove(n);
}

static gboolean apply_change(MediaIso *in, const MediaIsoChange *c, GError **error)
{
    IsoImage *image = in->image;
    g_autofree char *name = g_path_get_basename(c->iso_path);
    int r = 0;
    if (c->op == MEDIA_ISO_REMOVE) {
        remove_path(image, c->iso_path);
        return TRUE;
    }
    if (c->op == MEDIA_ISO_PATCH) {
        IsoFile *old = file_node(in, c->iso_path);
        Extents x;
        if (!old || !extents_of(in, c->iso_path, &x, error)) {
            if (!old)
                g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s:%s: no such file in the image", in->path,
                            c->iso_path);
            return FALSE;
        }
        gint64 size = media_file_size(c->disk_path);
        if (size < 0) {
            set_errno_error(error, errno, c->disk_path, "cannot read");
            extents_clear(&x);
            return FALSE;
        }
        /* keep what the input said about the file (owner, mode, times, hiding) */
        IsoNode *on = (IsoNode *)old;
        mode_t mode = iso_node_get_permissions(on);
        uid_t uid = iso_node_get_uid(on);
        gid_t gid = iso_node_get_gid(on);
        time_t mt = iso_node_get_mtime(on), at = iso_node_get_atime(on), ct = iso_node_get_ctime(on);
        int hidden = iso_node_get_hidden(on);
        IsoDir *parent = iso_node_get_parent(on);
        IsoStream *s = patch_stream_new(in, &x, c->disk_path, c->from_disk, (guint64)size);
        iso_node_remove(on);
        IsoFile *nf = NULL;
        r = iso_image_add_new_file(image, parent, name, s, &nf);
        if (r < 0) {
            iso_stream_unref(s);
            g_autofree char *where = g_strdup_printf("%s:%s", in->path, c->iso_path);
            set_lib_error(error, r, where, "cannot replace the file");
            return FALSE;
        }
        IsoNode *nn = (IsoNode *)nf;
        iso_node_set_permissions(nn, mode);
        iso_node_set_uid(nn, uid);
        iso_node_set_gid(nn, gid);
        iso_node_set_mtime(nn, mt);
        iso_node_set_atime(nn, at);
        iso_node_set_ctime(nn, ct);
        iso_node_set_hidden(nn, hidden);
        return TRUE;
    }
    remove_path(image, c->iso_path);
    IsoDir *parent = ensure_parent(image, c->iso_path, &r);
    IsoNode *node = NULL;
    g_autofree char *abs = g_canonicalize_filename(c->disk_path, NULL); /* libisofs wants absolute paths */
    if (parent)
        r = iso_tree_add_new_node(image, parent, name, abs, &node);
    if (r >= 0 && node && iso_node_get_type(node) == LIBISO_DIR)
        r = iso_tree_add_dir_rec(image, (IsoDir *)node, abs);
    if (r < 0) {
        set_lib_error(error, r, c->disk_path, "cannot add to the image");
        return FALSE;
    }
    if (node)
        normalize_tree(node);
    return TRUE;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* SOURCE_DATE_EPOCH, as xorriso applies it: "now" for new nodes, every file's atime and ctime
 * set to its mtime, volume times from a fixed UUID-style date. */
static void tree_times_to_mtime(IsoNode *n)
{
    time_t m = iso_node_get_mtime(n);
    iso_node_set_atime(n, m);
    iso_node_set_ctime(n, m);
    if (iso_node_get_type(n) != LIBISO_DIR)
        return;
    IsoDirIter *it = NULL;
    IsoNode *c;
    if (iso_dir_get_children((IsoDir *)n, &it) < 0)
        return;
    while (iso_dir_iter_next(it, &c) == 1)
        tree_times_to_mtime(c);
    iso_dir_iter_free(it);
}

static void fixed_now(void)
{
    gint64 sde = media_source_date_epoch();
    if (sde >= 0) {
        time_t t = (time_t)sde;
        iso_nowtime(&t, 1);
    }
}

static IsoWriteOpts *write_opts(void)
{
    IsoWriteOpts *o = NULL;
    if (iso_write_opts_new(&o, 0) < 0)
        return NULL;
    iso_write_opts_set_iso_level(o, 3); /* multi-extent files over 4 GiB */
    iso_write_opts_set_rockridge(o, 1);
    iso_write_opts_set_joliet(o, 1);
    iso_write_opts_set_joliet_long_names(o, 1);   /* 103 characters instead of 64 */
    iso_write_opts_set_joliet_longer_paths(o, 1);
    /* xorriso's default relaxations: keep deep and long ISO 9660 paths instead of relocating */
    iso_write_opts_set_allow_deep_paths(o, 1);
    iso_write_opts_set_allow_longer_paths(o, 1);
    iso_write_opts_set_always_gmt(o, 1);
    iso_write_opts_set_dir_rec_mtime(o, 7);
    iso_write_opts_set_rrip_version_1_10(o, 1);
    iso_write_opts_set_aaip_susp_1_10(o, 1);
    iso_write_opts_set_fifo_size(o, FIFO_BLOCKS);
    gint64 sde = media_source_date_epoch();
    if (sde >= 0) {
        time_t t = (time_t)sde;
        struct tm tm;
        gmtime_r(&t, &tm);
        char uuid[17];
        strftime(uuid, sizeof(uuid), "%Y%m%d%H%M%S00", &tm); /* YYYYMMDDhhmmsscc */
        iso_write_opts_set_pvd_times(o, t, t, 0, 0, uuid);
    }
    return o;
}

typedef struct {
    guint8 *data;
    gsize len;
} Chunk;

typedef struct {
    GAsyncQueue *todo, *done; /* Chunk*: to hash, hashed (free for reuse) */
    MediaSha256 *sha;
} Hasher;

static Chunk hasher_stop;

static gpointer hasher_run(gpointer data)
{
    Hasher *h = data;
    Chunk *c;
    while ((c = g_async_queue_pop(h->todo)) != &hasher_stop) {
        media_sha256_update(h->sha, c->data, c->len);
        g_async_queue_push(h->done, c);
    }
    return NULL;
}

static gboolean all_zero(const guint8 *p, gsize n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Drain libisofs' generator after a failure, so its thread ends before the image is freed. */
static void cancel_source(IsoImage *image, struct burn_source *bs)
{
    bs->cancel(bs);
    for (int i = 0; i < 2000 && iso_image_generator_is_running(image); i++)
        g_usleep(5000);
}

/* create: out is made here (in a registered work folder); otherwise it was made and registered
 * by the caller and is only opened, so a signal's cleanup is never undone by this thread. */
static gboolean write_image(IsoImage *image, const char *out, gboolean create, const char *label,
                            MediaIsoWrite *w, GError **error)
{
    g_free(lib_drain(NULL)); /* only this write's complaints count below */
    IsoWriteOpts *o = write_opts();
    struct burn_source *bs = NULL;
    int r = o ? iso_image_create_burn_source(image, o, &bs) : (int)ISO_OUT_OF_MEM;
    if (o)
        iso_write_opts_free(o);
    if (r < 0) {
        set_lib_error(error, r, label, "cannot write the ISO");
        return FALSE;
    }
    guint64 total = (guint64)bs->get_size(bs), done = 0;
    int fd = g_open(out, O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0), 0666); /* less the umask, like any new file */
    if (fd < 0) {
        set_errno_error(error, errno, label, "cannot create");
        cancel_source(image, bs);
        bs->free_data(bs);
        free(bs);
        return FALSE;
    }
    Hasher h = {g_async_queue_new(), g_async_queue_new(), media_sha256_new()};
    Chunk chunks[WRITE_BUFFERS];
    for (int i = 0; i < WRITE_BUFFERS; i++) {
        chunks[i].data = g_malloc(WRITE_CHUNK);
        g_async_queue_push(h.done, &chunks[i]);
    }
    GThread *t = g_thread_new("aero-media-sha", hasher_run, &h);
    gboolean ok = TRUE, lib_failed = FALSE;
    int err = 0;
    media_progress_begin(w->progress, total, "writing %s", label);
    while (ok && done < total) {
        Chunk *c = g_async_queue_pop(h.done);
        c->len = (gsize)MIN(total - done, (guint64)WRITE_CHUNK);
        int got = bs->read_xt(bs, c->data, (int)c->len);
        if (got != (int)c->len) {
            ok = FALSE;
            lib_failed = TRUE;
            g_async_queue_push(h.done, c);
            break;
        }
        g_async_queue_push(h.todo, c);
        /* hashing runs on the other thread while this one writes the same (read-only) chunk */
        if (all_zero(c->data, c->len))
            ok = lseek(fd, (off_t)c->len, SEEK_CUR) >= 0;
        else
            ok = pwrite_all(fd, c->data, c->len, done);
        if (!ok)
            err = errno;
        done += c->len;
        media_progress_update(w->progress, done);
    }
    g_async_queue_push(h.todo, &hasher_stop);
    g_thread_join(t);
    if (ok) { /* a source libisofs could not read was written as zeros: that is no ISO to keep */
        gboolean serious = FALSE;
        g_autofree char *why = lib_drain(&serious);
        if (serious) {
            ok = FALSE;
            lib_failed = TRUE;
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_IO, "%s: cannot write the ISO (%s)", label, why);
        }
    }
    if (ok && ftruncate(fd, (off_t)total) != 0) { /* a trailing hole still has the image's size */
        ok = FALSE;
        err = errno;
    }
    if (close(fd) != 0 && ok) {
        ok = FALSE;
        err = errno;
    }
    media_progress_end(w->progress);
    if (ok) {
        w->sha256 = media_sha256_finish(h.sha);
    } else {
        g_free(media_sha256_finish(h.sha));
        if (lib_failed && !(error && *error))
            set_lib_error(error, (int)ISO_WRITE_ERROR, label, "cannot write the ISO");
        else
            set_errno_error(error, err, label, "cannot write");
        cancel_source(image, bs);
        g_unlink(out);
    }
    for (int i = 0; i < WRITE_BUFFERS; i++)
        g_free(chunks[i].data);
    g_async_queue_unref(h.todo);
    g_async_queue_unref(h.done);
    bs->free_data(bs);
    free(bs);
    return ok;
}

gboolean media_iso_rebuild(MediaIso *in, const MediaIsoChange *changes, guint n, const char *out,
                           MediaIsoWrite *w, GError **error)
{
    fixed_now();
    for (guint i = 0; i < n; i++)
        if (!apply_change(in, &changes[i], error))
            return FALSE;
    if (w->volid)
        iso_image_set_volume_id(in->image, w->volid);
    if (media_source_date_epoch() >= 0)
        tree_times_to_mtime((IsoNode *)iso_image_get_root(in->image));
    return write_image(in->image, out, TRUE, w->label ? w->label : out, w, error);
}

gboolean media_iso_write_dir(const char *dir, const char *out, MediaIsoWrite *w, GError **error)
{
    lib_init();
    fixed_now();
    IsoImage *image = NULL;
    g_autofree char *abs = g_canonicalize_filename(dir, NULL); /* libisofs wants absolute paths */
    int r = iso_image_new(w->volid ? w->volid : "AERO", &image);
    if (r >= 0)
        r = iso_tree_add_dir_rec(image, iso_image_get_root(image), abs);
    if (r < 0) {
        set_lib_error(error, r, dir, "cannot add to the image");
        if (image)
            iso_image_unref(image);
        return FALSE;
    }
    normalize_tree((IsoNode *)iso_image_get_root(image));
    if (media_source_date_epoch() >= 0)
        tree_times_to_mtime((IsoNode *)iso_image_get_root(image));
    g_autofree char *tmp = media_cleanup_temp_beside(out, error);
    gboolean ok = tmp != NULL;
    if (ok) {
        ok = write_image(image, tmp, FALSE, w->label ? w->label : out, w, error) &&
             media_fsync_path(tmp, error);
        if (ok && g_rename(tmp, out) != 0) {
            set_errno_error(error, errno, out, "cannot rename into place");
            ok = FALSE;
        }
        if (!ok)
            g_unlink(tmp);
        media_cleanup_remove(tmp);
    }
    iso_image_unref(image);
    return ok;
}
