/* WIM access through wimlib (see wim.h).
 *
 * The sparse work copy: wimlib reads a WIM lazily with pread — the header, blob table and XML when
 * opening, an image's metadata resource when the image is used, a file's resource when it is
 * extracted — and an in-place append (wimlib_overwrite without REBUILD) writes only the header and
 * new data after the old XML (wimlib's write.c, overwrite_wim_inplace). So a work copy holding
 * just those ranges behaves like the whole file, and after the append it differs from the
 * original only in the ranges filled here (the header among them) and past the old end. Holes are
 * never read: wimlib checks the SHA-1 of everything it reads, so a missed range is an error, not
 * wrong data.
 */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE */
#include "wim.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wimlib.h>

#define WIM_HEADER_SIZE 208u
#define FILL_ALIGN (1u << 20) /* fills cover whole MiB: file system blocks are never half-filled */

struct MediaWim {
    WIMStruct *wim;
    char *label;
    char *work;
    MediaWimSource src;
    gboolean sparse;
    guint64 old_end;   /* end of the original XML: an append writes past it */
    GArray *filled;    /* MediaRange copied from the original */
    GArray *changed;   /* after commit */
    GArray *queue;     /* struct pending */
    MediaProgress *progress;
    ino_t ino;
};

struct pending {
    int image;
    char *source, *target;
};

static void global_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        /* Windows paths: match case-insensitively everywhere. */
        wimlib_global_init(WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE);
        g_once_init_leave(&once, 1);
    }
}

static guint32 le32(const guint8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (guint32)p[3] << 24; }
static guint64 le64(const guint8 *p) { return le32(p) | (guint64)le32(p + 4) << 32; }

/* A resource header: 7-byte size in the WIM + flags byte, offset, original size. */
typedef struct {
    guint64 size, offset;
} ResHdr;

static ResHdr reshdr(const guint8 *p) { return (ResHdr){le64(p) & 0x00FFFFFFFFFFFFFFull, le64(p + 8)}; }

/* Copy [offset, offset+length) of the original into the work copy (rounded out to FILL_ALIGN,
 * clipped to the part an append leaves alone). */
static gboolean fill(MediaWim *w, int fd, guint64 offset, guint64 length, GError **error)
{
    guint64 limit = w->sparse ? w->old_end : w->src.size;
    guint64 start = offset - offset % FILL_ALIGN;
    guint64 end = offset + length;
    end = end % FILL_ALIGN ? end + FILL_ALIGN - end % FILL_ALIGN : end;
    end = MIN(end, limit);
    if (start >= end || media_ranges_cover(w->filled, start, end - start))
        return TRUE;
    if (!w->src.copy_range(w->src.user, start, end - start, fd, error))
        return FALSE;
    media_ranges_add(w->filled, start, end - start);
    return TRUE;
}

static gboolean fill_path(MediaWim *w, guint64 offset, guint64 length, GError **error)
{
    if (!w->sparse)
        return TRUE;
    int fd = g_open(w->work, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: %s", w->work, g_strerror(errno));
        return FALSE;
    }
    gboolean ok = fill(w, fd, offset, length, error);
    close(fd);
    return ok;
}

/* Whether the file system reports holes (SEEK_DATA finds none in a fresh sparse file). */
static gboolean holes_supported(int fd)
{
    errno = 0;
    return lseek(fd, 0, SEEK_DATA) < 0 && errno == ENXIO;
}

/* Decide from the header whether an append would keep the layout the sparse copy relies on. */
static gboolean sparse_layout_ok(const guint8 *h, guint64 size, guint64 *old_end)
{
    if (memcmp(h, "MSWIM\0\0\0", 8) != 0 || le32(h + 8) != WIM_HEADER_SIZE)
        return FALSE; /* not a WIM (wimlib will say so) or a pipable one */
    guint16 part = h[40] | h[41] << 8, parts = h[42] | h[43] << 8;
    ResHdr blobs = reshdr(h + 48), xml = reshdr(h + 72), integrity = reshdr(h + 124);
    *old_end = xml.offset + xml.size;
    return part == 1 && parts == 1 && integrity.offset == 0 && blobs.offset + blobs.size <= xml.offset &&
           xml.size > 0 && *old_end <= size;
}

struct meta_fill {
    MediaWim *w;
    int fd;
    GError **error;
    gboolean solid;
    guint64 xml_offset;
    gboolean after_xml; /* a resource lies past the XML: an append would not keep the layout */
};

static int fill_metadata(const struct wimlib_resource_entry *r, void *ctx)
{
    struct meta_fill *m = ctx;
    if (r->packed)
        m->solid = TRUE;
    guint64 end = r->packed ? r->raw_resource_offset_in_wim + r->raw_resource_compressed_size
                            : r->offset + r->compressed_size;
    if (end > m->xml_offset)
        m->after_xml = TRUE;
    if (m->solid || m->after_xml)
        return 0; /* copied in full below */
    if (!r->is_metadata || r->packed)
        return 0;
    return fill(m->w, m->fd, r->offset, r->compressed_size, m->error) ? 0 : 1;
}

static gboolean full_copy(MediaWim *w, int fd, MediaProgress *p, GError **error)
{
    /* one step, reported as the original is copied in 64 MiB pieces */
    media_progress_begin(p, w->src.size, "copying %s", w->label);
    gboolean ok = TRUE;
    for (guint64 off = 0; ok && off < w->src.size;) {
        guint64 n = MIN(w->src.size - off, (guint64)64 << 20);
        ok = w->src.copy_range(w->src.user, off, n, fd, error);
        off += n;
        if (ok && !media_progress_update(p, off)) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_CANCELLED, "%s: cancelled", w->label);
            ok = FALSE;
        }
    }
    media_progress_end(p);
    if (ok) {
        g_array_set_size(w->filled, 0);
        media_ranges_add(w->filled, 0, w->src.size);
    }
    return ok;
}

/* Build the work copy in fd: the header's MiB, then (sparse) the blob table, XML and every
 * metadata resource, or (otherwise) everything; and open it with wimlib. */
static gboolean prepare(MediaWim *w, int fd, MediaProgress *p, GError **error)
{
    guint8 h[WIM_HEADER_SIZE] = {0};
    guint64 head = MIN(w->src.size, (guint64)FILL_ALIGN);
    w->sparse = holes_supported(fd);
    w->old_end = w->src.size;
    if (!w->src.copy_range(w->src.user, 0, head, fd, error))
        return FALSE;
    media_ranges_add(w->filled, 0, head);
    gboolean have_header = w->src.size >= WIM_HEADER_SIZE && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
    w->sparse = w->sparse && have_header && sparse_layout_ok(h, w->src.size, &w->old_end);
    if (w->sparse) {
        ResHdr blobs = reshdr(h + 48), xml = reshdr(h + 72);
        if (!fill(w, fd, blobs.offset, blobs.size, error) || !fill(w, fd, xml.offset, xml.size, error))
            return FALSE;
    } else if (!full_copy(w, fd, p, error)) {
        return FALSE;
    }
    int rc = wimlib_open_wim(w->work, 0, &w->wim);
    if (rc) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a usable WIM (%s)", w->label,
                    wimlib_get_error_string(rc));
        return FALSE;
    }
    if (!w->sparse)
        return TRUE;
    GError *e = NULL;
    struct meta_fill m = {w, fd, &e, FALSE, reshdr(h + 72).offset, FALSE};
    if (wimlib_iterate_lookup_table(w->wim, 0, fill_metadata, &m) != 0) {
        if (!e)
            g_set_error(&e, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a usable WIM (bad blob table)", w->label);
        g_propagate_error(error, e);
        return FALSE;
    }
    if (m.solid || m.after_xml) { /* solid resources are shared by many files; resources after the
                                     * XML would be overwritten by an append: take it all */
        w->sparse = FALSE;
        return full_copy(w, fd, p, error);
    }
    return TRUE;
}

MediaWim *media_wim_open(const MediaWimSource *src, const char *work_path, const char *label,
                         MediaProgress *p, GError **error)
{
    global_init();
    MediaWim *w = g_new0(MediaWim, 1);
    w->label = g_strdup(label);
    w->work = g_strdup(work_path);
    w->src = *src;
    w->filled = g_array_new(FALSE, FALSE, sizeof(MediaRange));
    w->queue = g_array_new(FALSE, TRUE, sizeof(struct pending));
    int fd = g_open(work_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)src->size) != 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot create a work copy: %s",
                    work_path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        media_wim_close(w);
        return NULL;
    }
    gboolean ok = prepare(w, fd, p, error);
    struct stat st;
    if (fstat(fd, &st) == 0)
        w->ino = st.st_ino;
    close(fd);
    if (!ok) {
        media_wim_close(w);
        return NULL;
    }
    return w;
}

void media_wim_close(MediaWim *w)
{
    if (!w)
        return;
    for (guint i = 0; i < w->queue->len; i++) {
        struct pending *p = &g_array_index(w->queue, struct pending, i);
        g_free(p->source);
        g_free(p->target);
    }
    g_array_unref(w->queue);
    g_array_unref(w->filled);
    if (w->changed)
        g_array_unref(w->changed);
    if (w->wim)
        wimlib_free(w->wim);
    g_free(w->label);
    g_free(w->work);
    g_free(w);
}

int media_wim_image_count(MediaWim *w)
{
    struct wimlib_wim_info info;
    wimlib_get_wim_info(w->wim, &info);
    return (int)info.image_count;
}

const char *media_wim_image_arch_text(MediaWim *w, int image)
{
    return wimlib_get_image_property(w->wim, image, "WINDOWS/ARCH");
}

guint media_wim_image_arch(MediaWim *w, int image)
{
    const wimlib_tchar *a = media_wim_image_arch_text(w, image);
    if (g_strcmp0(a, "0") == 0)
        return 1; /* MEDIA_ARCH_X86 */
    if (g_strcmp0(a, "9") == 0)
        return 2; /* MEDIA_ARCH_AMD64 */
    return 0;
}

const char *media_wim_image_name(MediaWim *w, int image)
{
    const char *n = wimlib_get_image_name(w->wim, image);
    return n && *n ? n : "(unnamed)";
}

const char *media_wim_label(MediaWim *w) { return w->label; }

struct blob_fill {
    MediaWim *w;
    GError **error;
};

static int fill_dentry(const struct wimlib_dir_entry *d, void *ctx)
{
    struct blob_fill *b = ctx;
    for (guint32 i = 0; i <= d->num_named_streams; i++) {
        const struct wimlib_resource_entry *r = &d->streams[i].resource;
        if (!r->uncompressed_size || r->is_missing)
            continue;
        guint64 off = r->packed ? r->raw_resource_offset_in_wim : r->offset;
        guint64 len = r->packed ? r->raw_resource_compressed_size : r->compressed_size;
        if (!fill_path(b->w, off, len, b->error))
            return 1;
    }
    return 0;
}

static int count_entry(const struct wimlib_dir_entry *d, void *ctx)
{
    (void)d;
    (*(int *)ctx)++;
    return 0;
}

static int no_fill(const struct wimlib_dir_entry *d, void *ctx)
{
    (void)d;
    (void)ctx;
    return 0;
}

/* Make sure the data of path (and below it, if recursive) is in the work copy. */
static gboolean ensure_data(MediaWim *w, int image, const char *wim_path, gboolean recursive, GError **error)
{
    GError *e = NULL;
    struct blob_fill b = {w, &e};
    int rc = wimlib_iterate_dir_tree(w->wim, image, wim_path, recursive ? WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE : 0,
                                     w->sparse ? fill_dentry : no_fill, &b);
    if (e) {
        g_propagate_error(error, e);
        return FALSE;
    }
    if (rc) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s image %d: %s: %s", w->label, image, wim_path,
                    rc == WIMLIB_ERR_PATH_DOES_NOT_EXIST ? "missing from the image" : wimlib_get_error_string(rc));
        return FALSE;
    }
    return TRUE;
}


gboolean media_wim_exists(MediaWim *w, int image, const char *wim_path)
{
    int n = 0;
    return wimlib_iterate_dir_tree(w->wim, image, wim_path, 0, count_entry, &n) == 0 && n > 0;
}

static gboolean extract(MediaWim *w, int image, const char *wim_path, const char *dir, GError **error)
{
    const char *paths[] = {wim_path};
    int rc = wimlib_extract_paths(w->wim, image, dir, paths, 1,
                                  WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE | WIMLIB_EXTRACT_FLAG_NO_ACLS);
    if (rc)
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s image %d: %s: %s", w->label, image, wim_path,
                    rc == WIMLIB_ERR_PATH_DOES_NOT_EXIST ? "missing from the image" : wimlib_get_error_string(rc));
    return rc == 0;
}

/* Extract one path of an image to dest (a file, or a folder with is_dir). wimlib names the result
 * with the image's own letter case, so extract into a scratch folder beside dest and move its only
 * entry into place. */
static gboolean extract_one(MediaWim *w, int image, const char *wim_path, const char *dest,
                            gboolean is_dir, GError **error)
{
    if (!ensure_data(w, image, wim_path, is_dir, error))
        return FALSE;
    g_autofree char *tmp = g_strdup_printf("%s.x", dest);
    g_mkdir(tmp, 0700); /* beside dest, whose folder exists */
    if (!extract(w, image, wim_path, tmp, error)) {
        media_rm_rf(tmp);
        return FALSE;
    }
    g_autoptr(GDir) d = g_dir_open(tmp, 0, NULL);
    const char *e = d ? g_dir_read_name(d) : NULL;
    g_autofree char *src = e ? g_build_filename(tmp, e, NULL) : NULL;
    gboolean ok = src && g_file_test(src, is_dir ? G_FILE_TEST_IS_DIR : G_FILE_TEST_IS_REGULAR) &&
                  g_rename(src, dest) == 0;
    media_rm_rf(tmp);
    if (!ok)
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s image %d: %s: not a %s", w->label,
                    image, wim_path, is_dir ? "folder" : "file");
    return ok;
}

gboolean media_wim_extract_file(MediaWim *w, int image, const char *wim_path, const char *dest_file,
                                GError **error)
{
    return extract_one(w, image, wim_path, dest_file, FALSE, error);
}

gboolean media_wim_extract_dir(MediaWim *w, int image, const char *wim_path, const char *dest_dir,
                               GError **error)
{
    return extract_one(w, image, wim_path, dest_dir, TRUE, error);
}

void media_wim_queue_add(MediaWim *w, int image, const char *source, const char *target)
{
    struct pending p = {image, g_strdup(source), g_strdup(target)};
    g_array_append_val(w->queue, p);
}

static enum wimlib_progress_status progress(enum wimlib_progress_msg msg, union wimlib_progress_info *info,
                                            void *ctx)
{
    MediaWim *w = ctx;
    if (msg == WIMLIB_PROGRESS_MSG_WRITE_STREAMS) {
        media_progress_total(w->progress, info->write_streams.total_bytes);
        media_progress_update(w->progress, info->write_streams.completed_bytes);
    }
    /* the run was asked to stop: wimlib fails with WIMLIB_ERR_ABORTED_BY_PROGRESS */
    return media_progress_cancelled(w->progress) ? WIMLIB_PROGRESS_STATUS_ABORT : WIMLIB_PROGRESS_STATUS_CONTINUE;
}

/* Every byte wimlib wrote below the old end must be in a range filled here (it only rewrites the
 * header); otherwise the ISO would get the original bytes where wimlib changed them. */
static gboolean writes_where_expected(MediaWim *w)
{
    int fd = g_open(w->work, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return FALSE;
    gboolean ok = TRUE;
    off_t pos = 0;
    while (ok && (guint64)pos < w->old_end) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0 || (guint64)data >= w->old_end)
            break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0)
            hole = (off_t)w->old_end;
        guint64 end = MIN((guint64)hole, w->old_end);
        ok = media_ranges_cover(w->filled, (guint64)data, end - (guint64)data);
        pos = hole;
    }
    close(fd);
    return ok;
}

gboolean media_wim_commit(MediaWim *w, MediaProgress *p, GError **error)
{
    int images = media_wim_image_count(w);
    for (int img = 1; img <= images; img++) {
        GArray *cmds = g_array_new(FALSE, TRUE, sizeof(struct wimlib_update_command));
        for (guint i = 0; i < w->queue->len; i++) {
            struct pending *q = &g_array_index(w->queue, struct pending, i);
            if (q->image != img)
                continue;
            /* reading a source bumps its access time; SOURCE_DATE_EPOCH runs reset it each time */
            media_set_tree_times(q->source);
            struct wimlib_update_command c = {.op = WIMLIB_UPDATE_OP_ADD};
            c.add.fs_source_path = q->source;
            c.add.wim_target_path = q->target;
            c.add.add_flags = WIMLIB_ADD_FLAG_NO_ACLS;
            g_array_append_val(cmds, c);
        }
        int rc = cmds->len ? wimlib_update_image(w->wim, img, (struct wimlib_update_command *)cmds->data,
                                                  cmds->len, 0)
                           : 0;
        g_array_unref(cmds);
        if (rc) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s image %d: cannot update: %s", w->label, img,
                        wimlib_get_error_string(rc));
            return FALSE;
        }
    }
    w->progress = p;
    wimlib_register_progress_function(w->wim, progress, w);
    media_progress_begin(p, 0, "updating %s", w->label);
    errno = 0;
    int rc = wimlib_overwrite(w->wim, 0, 0);
    int saved = errno; /* before anything else can change it */
    wimlib_register_progress_function(w->wim, NULL, NULL);
    gint64 sde = media_source_date_epoch();
    if (!rc && sde >= 0) {
        /* wimlib stamps modified images with the current time while writing; for reproducible
         * output put SOURCE_DATE_EPOCH (as a FILETIME) back and rewrite the XML only. A WIMStruct
         * must not be written again after wimlib_overwrite() succeeded: reopen the work copy. */
        wimlib_free(w->wim);
        w->wim = NULL;
        rc = wimlib_open_wim(w->work, 0, &w->wim);
        saved = errno;
        if (!rc) {
            guint64 ft = ((guint64)sde + 11644473600ull) * 10000000ull;
            g_autofree char *hi = g_strdup_printf("0x%08X", (guint32)(ft >> 32));
            g_autofree char *lo = g_strdup_printf("0x%08X", (guint32)ft);
            for (int img = 1; img <= images && !rc; img++) {
                rc = wimlib_set_image_property(w->wim, img, "LASTMODIFICATIONTIME/HIGHPART", hi);
                if (!rc)
                    rc = wimlib_set_image_property(w->wim, img, "LASTMODIFICATIONTIME/LOWPART", lo);
            }
            if (!rc) {
                errno = 0;
                rc = wimlib_overwrite(w->wim, 0, 0);
                saved = errno;
            }
        }
    }
    media_progress_end(p);
    if (rc) {
        /* a write failure is the work copy's disk (full?), not the WIM: MEDIA_ERROR_IO says so */
        gboolean io = rc == WIMLIB_ERR_WRITE || rc == WIMLIB_ERR_OPEN || rc == WIMLIB_ERR_NOMEM;
        g_set_error(error, MEDIA_ERROR, io ? MEDIA_ERROR_IO : MEDIA_ERROR_FAILED, "%s: cannot write: %s%s%s",
                    w->label, wimlib_get_error_string(rc), io && saved ? ": " : "", io && saved ? g_strerror(saved) : "");
        return FALSE;
    }
    struct stat st;
    if (g_stat(w->work, &st) != 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: %s", w->work, g_strerror(errno));
        return FALSE;
    }
    /* wimlib falls back to a full rebuild (a new file renamed over ours) when it cannot append;
     * from a sparse copy that would have read holes, so it must not pass */
    if (w->sparse && (st.st_ino != w->ino || (guint64)st.st_size < w->old_end || !writes_where_expected(w))) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: wimlib did not append in place", w->label);
        return FALSE;
    }
    w->changed = g_array_new(FALSE, FALSE, sizeof(MediaRange));
    if (!w->sparse) {
        media_ranges_add(w->changed, 0, (guint64)st.st_size);
    } else {
        for (guint i = 0; i < w->filled->len; i++) {
            MediaRange r = g_array_index(w->filled, MediaRange, i);
            media_ranges_add(w->changed, r.offset, r.length);
        }
        if ((guint64)st.st_size > w->old_end)
            media_ranges_add(w->changed, w->old_end, (guint64)st.st_size - w->old_end);
    }
    return TRUE;
}

const char *media_wim_work_path(MediaWim *w) { return w->work; }
const GArray *media_wim_changed_ranges(MediaWim *w) { return w->changed; }
gboolean media_wim_is_sparse(MediaWim *w) { return w->sparse; }
