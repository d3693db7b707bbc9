/* Writing ISO 9660 images (see iso.h): the changes applied to the imported tree, then libisofs
 * generates the image on its own thread into a ring buffer; this thread takes it out in big
 * chunks and writes them (holes for all-zero chunks) while a second thread hashes them.
 */
#include "iso_internal.h"

#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITE_CHUNK (4u << 20)
#define WRITE_BUFFERS 4
#define FIFO_BLOCKS 8192 /* 16 MiB between libisofs' generator and our writer */

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
        IsoFile *old = iso_file_node(in, c->iso_path);
        Extents x;
        if (!old || !iso_extents_of(in, c->iso_path, &x, error)) {
            if (!old)
                g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s:%s: no such file in the image", in->path,
                            c->iso_path);
            return FALSE;
        }
        gint64 size = media_file_size(c->disk_path);
        if (size < 0) {
            iso_set_errno_error(error, errno, c->disk_path, "cannot read");
            iso_extents_clear(&x);
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
        IsoStream *s = iso_patch_stream_new(in, &x, c->disk_path, c->from_disk, (guint64)size);
        iso_node_remove(on);
        IsoFile *nf = NULL;
        r = iso_image_add_new_file(image, parent, name, s, &nf);
        if (r < 0) {
            iso_stream_unref(s);
            g_autofree char *where = g_strdup_printf("%s:%s", in->path, c->iso_path);
            iso_set_lib_error(error, r, where, "cannot replace the file");
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
        iso_set_lib_error(error, r, c->disk_path, "cannot add to the image");
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
    g_free(iso_lib_drain(NULL)); /* only this write's complaints count below */
    IsoWriteOpts *o = write_opts();
    struct burn_source *bs = NULL;
    int r = o ? iso_image_create_burn_source(image, o, &bs) : (int)ISO_OUT_OF_MEM;
    if (o)
        iso_write_opts_free(o);
    if (r < 0) {
        iso_set_lib_error(error, r, label, "cannot write the ISO");
        return FALSE;
    }
    guint64 total = (guint64)bs->get_size(bs), done = 0;
    int fd = g_open(out, O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0), 0666); /* less the umask, like any new file */
    if (fd < 0) {
        iso_set_errno_error(error, errno, label, "cannot create");
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
            ok = iso_pwrite_all(fd, c->data, c->len, done);
        if (!ok)
            err = errno;
        done += c->len;
        if (!media_progress_update(w->progress, done) && ok) {
            ok = FALSE;
            err = ECANCELED;
        }
    }
    g_async_queue_push(h.todo, &hasher_stop);
    g_thread_join(t);
    if (ok) { /* a source libisofs could not read was written as zeros: that is no ISO to keep */
        gboolean serious = FALSE;
        g_autofree char *why = iso_lib_drain(&serious);
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
            iso_set_lib_error(error, (int)ISO_WRITE_ERROR, label, "cannot write the ISO");
        else
            iso_set_errno_error(error, err, label, "cannot write");
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
    iso_lib_init();
    fixed_now();
    IsoImage *image = NULL;
    g_autofree char *abs = g_canonicalize_filename(dir, NULL); /* libisofs wants absolute paths */
    int r = iso_image_new(w->volid ? w->volid : "AERO", &image);
    if (r >= 0)
        r = iso_tree_add_dir_rec(image, iso_image_get_root(image), abs);
    if (r < 0) {
        iso_set_lib_error(error, r, dir, "cannot add to the image");
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
             media_fsync_path(tmp, error) && media_progress_check(w->progress, out, error);
        if (ok && g_rename(tmp, out) != 0) {
            iso_set_errno_error(error, errno, out, "cannot rename into place");
            ok = FALSE;
        }
        if (!ok)
            g_unlink(tmp);
        media_cleanup_remove(tmp);
    }
    iso_image_unref(image);
    return ok;
}

