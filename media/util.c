/* Small file helpers (see util.h). */
#define _GNU_SOURCE /* SEEK_DATA */
#include "util.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK (4u << 20)

gboolean media_copy_file(const char *src, const char *dst, GError **error)
{
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents(src, &data, &len, error))
        return FALSE;
    return g_file_set_contents(dst, data, (gssize)len, error);
}

void media_ranges_add(GArray *ranges, guint64 offset, guint64 length)
{
    if (!length)
        return;
    guint64 end = offset + length;
    guint i = 0;
    while (i < ranges->len && g_array_index(ranges, MediaRange, i).offset + g_array_index(ranges, MediaRange, i).length < offset)
        i++;
    /* i: first range that ends at or after offset; swallow every range that touches [offset, end) */
    while (i < ranges->len && g_array_index(ranges, MediaRange, i).offset <= end) {
        MediaRange *r = &g_array_index(ranges, MediaRange, i);
        offset = MIN(offset, r->offset);
        end = MAX(end, r->offset + r->length);
        g_array_remove_index(ranges, i);
    }
    MediaRange n = {offset, end - offset};
    g_array_insert_val(ranges, i, n);
}

gboolean media_ranges_cover(const GArray *ranges, guint64 offset, guint64 length)
{
    for (guint i = 0; i < ranges->len; i++) {
        const MediaRange *r = &g_array_index(ranges, MediaRange, i);
        if (offset >= r->offset && offset + length <= r->offset + r->length)
            return TRUE;
    }
    return length == 0;
}

/* ---- SHA-256 -------------------------------------------------------------------------------- */

struct MediaSha256 {
    gnutls_hash_hd_t h;
};

MediaSha256 *media_sha256_new(void)
{
    MediaSha256 *s = g_new0(MediaSha256, 1);
    /* only fails on allocation failure or a FIPS policy forbidding SHA-256 */
    if (gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256) < 0)
        g_error("GnuTLS cannot compute SHA-256");
    return s;
}

void media_sha256_update(MediaSha256 *s, const void *data, gsize len)
{
    gnutls_hash(s->h, data, len);
}

char *media_sha256_finish(MediaSha256 *s)
{
    guint8 d[32];
    gnutls_hash_deinit(s->h, d);
    g_free(s);
    char *hex = g_malloc(65);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return hex;
}

/* Hash fd to the end; *done is updated as it goes (atomically, for a waiting thread), and the
 * loop stops early when *cancel becomes non-zero. Holes are hashed as the zeros they read as,
 * without reading them. Returns the hex digest, or NULL with errno. */
static char *hash_fd(int fd, _Atomic gint64 *done, atomic_bool *cancel)
{
    static const guint8 zeros[1 << 16];
    MediaSha256 *s = media_sha256_new();
    guint8 *buf = g_malloc(HASH_CHUNK);
    ssize_t n = 0;
    off_t pos = 0;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO) { /* a hole up to the end */
            struct stat st;
            data = fstat(fd, &st) == 0 ? st.st_size : pos;
        }
        while (data > pos) { /* hashing zeros needs no read */
            gsize z = (gsize)MIN((off_t)sizeof(zeros), data - pos);
            media_sha256_update(s, zeros, z);
            pos += (off_t)z;
        }
        n = pread(fd, buf, HASH_CHUNK, pos);
        if (n <= 0)
            break;
        media_sha256_update(s, buf, (gsize)n);
        pos += n;
        if (done)
            atomic_store(done, (gint64)pos);
        if (cancel && atomic_load(cancel))
            break;
    }
    int saved = errno;
    g_free(buf);
    char *hex = media_sha256_finish(s);
    if (n < 0) {
        g_free(hex);
        errno = saved;
        return NULL;
    }
    return hex;
}

char *media_sha256_file(const char *path, MediaProgress *p, GError **error)
{
    MediaHashJob *j = NULL;
    if (p) { /* a big file: hash on the job's thread and report from here */
        j = media_hash_job_start(path);
        g_autofree char *base = g_path_get_basename(path);
        g_autofree char *what = g_strdup_printf("hashing %s", base);
        return media_hash_job_finish(j, p, what, error);
    }
    int fd = g_open(path, O_RDONLY, 0);
    if (fd < 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: %s", path, g_strerror(errno));
        return NULL;
    }
    char *hex = hash_fd(fd, NULL, NULL);
    int saved = errno;
    close(fd);
    if (!hex)
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(saved), "%s: %s", path, g_strerror(saved));
    return hex;
}

/* ---- background hash ------------------------------------------------------------------------- */

struct MediaHashJob {
    char *path;
    GThread *thread;
    _Atomic gint64 done;
    gint64 size;
    atomic_bool cancel;
    atomic_bool finished;
    char *hex;
    int err; /* errno when hex is NULL */
};

static gpointer hash_job_run(gpointer data)
{
    MediaHashJob *j = data;
    int fd = g_open(j->path, O_RDONLY, 0);
    if (fd < 0) {
        j->err = errno;
        atomic_store(&j->finished, true);
        return NULL;
    }
    j->hex = hash_fd(fd, &j->done, &j->cancel);
    j->err = j->hex ? 0 : errno;
    close(fd);
    atomic_store(&j->finished, true);
    return NULL;
}

MediaHashJob *media_hash_job_start(const char *path)
{
    MediaHashJob *j = g_new0(MediaHashJob, 1);
    j->path = g_strdup(path);
    j->size = media_file_size(path);
    j->thread = g_thread_new("aero-media-hash", hash_job_run, j);
    return j;
}

static void hash_job_free(MediaHashJob *j)
{
    g_free(j->path);
    g_free(j->hex);
    g_free(j);
}

char *media_hash_job_finish(MediaHashJob *j, MediaProgress *p, const char *what, GError **error)
{
    if (!atomic_load(&j->finished)) { /* still running: show it; otherwise nothing worth a bar */
        media_progress_begin(p, (guint64)MAX(j->size, 0), "%s", what);
        while (!atomic_load(&j->finished)) {
            if (!media_progress_update(p, (guint64)atomic_load(&j->done)))
                atomic_store(&j->cancel, true); /* the thread stops at its next chunk */
            g_usleep(50000);
        }
    }
    g_thread_join(j->thread);
    media_progress_end(p);
    char *hex = g_steal_pointer(&j->hex);
    if (hex && atomic_load(&j->cancel)) { /* stopped early: a hash of part of the file */
        g_clear_pointer(&hex, g_free);
        j->err = ECANCELED;
    }
    if (!hex)
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(j->err), "%s: %s", j->path,
                    g_strerror(j->err));
    hash_job_free(j);
    return hex;
}

void media_hash_job_cancel(MediaHashJob *j)
{
    if (!j)
        return;
    atomic_store(&j->cancel, true);
    g_thread_join(j->thread);
    hash_job_free(j);
}

/* ---- files ------------------------------------------------------------------------------------ */

gint64 media_file_size(const char *path)
{
    GStatBuf st;
    return g_stat(path, &st) == 0 ? (gint64)st.st_size : -1;
}

gboolean media_same_file(const char *a, const char *b)
{
    GStatBuf sa, sb;
    if (g_stat(a, &sa) == 0 && g_stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    g_autofree char *ca = g_canonicalize_filename(a, NULL);
    g_autofree char *cb = g_canonicalize_filename(b, NULL);
    return strcmp(ca, cb) == 0;
}

char *media_replace_prefix(const char *s, const char *prefix, const char *with)
{
    GString *o = g_string_new(NULL);
    gsize pl = strlen(prefix);
    for (const char *p = s; *p;) {
        if (pl && strncmp(p, prefix, pl) == 0) {
            g_string_append(o, with);
            p += pl;
        } else {
            g_string_append_c(o, *p++);
        }
    }
    return g_string_free(o, FALSE);
}

static void set_times(const char *path, gint64 t)
{
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
    if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK))
        return;
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *c = g_build_filename(path, e, NULL);
        set_times(c, t);
    }
    utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

gint64 media_source_date_epoch(void)
{
    const char *sde = g_getenv("SOURCE_DATE_EPOCH");
    char *end = NULL;
    if (!sde || !*sde)
        return -1;
    gint64 t = g_ascii_strtoll(sde, &end, 10);
    return *end || t < 0 ? -1 : t;
}

void media_set_tree_times(const char *dir)
{
    gint64 t = media_source_date_epoch();
    if (t >= 0)
        set_times(dir, t);
}

void media_rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *e;
        while (d && (e = g_dir_read_name(d))) {
            g_autofree char *c = g_build_filename(path, e, NULL);
            media_rm_rf(c);
        }
        g_rmdir(path);
        return;
    }
    g_unlink(path);
}

/* ---- cleanup registry ----------------------------------------------------------------------- */

/* Process-wide on purpose: a signal can arrive while any command runs. */
static GMutex cleanup_lock;
static GPtrArray *cleanup_paths;
static gboolean cleanup_stopping; /* set by media_cleanup_run: no new temporaries from then on */

void media_cleanup_add(const char *path)
{
    g_mutex_lock(&cleanup_lock);
    if (cleanup_stopping) { /* the cleanup already ran: this one would outlive the process */
        media_rm_rf(path);
        g_mutex_unlock(&cleanup_lock);
        return;
    }
    if (!cleanup_paths)
        cleanup_paths = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(cleanup_paths, g_strdup(path));
    g_mutex_unlock(&cleanup_lock);
}

void media_cleanup_remove(const char *path)
{
    g_mutex_lock(&cleanup_lock);
    for (guint i = 0; cleanup_paths && i < cleanup_paths->len; i++) {
        if (!strcmp(g_ptr_array_index(cleanup_paths, i), path)) {
            g_ptr_array_remove_index(cleanup_paths, i);
            break;
        }
    }
    g_mutex_unlock(&cleanup_lock);
}

void media_cleanup_run(void)
{
    g_mutex_lock(&cleanup_lock);
    cleanup_stopping = TRUE; /* a thread still at work creates no new temporaries after this */
    for (guint i = 0; cleanup_paths && i < cleanup_paths->len; i++) {
        const char *path = g_ptr_array_index(cleanup_paths, i);
        /* Out of the way first: a thread still at work creates files by path, and under the old
         * name it now finds nothing, so nothing can appear while the folder is being emptied. */
        g_autofree char *gone = g_strdup_printf("%s.removing-%d", path, (int)getpid());
        media_rm_rf(g_rename(path, gone) == 0 ? gone : path);
    }
    g_mutex_unlock(&cleanup_lock);
}

char *media_cleanup_mkdtemp(const char *tmpl, GError **error)
{
    char *path = g_strdup(tmpl);
    g_mutex_lock(&cleanup_lock);
    gboolean ok = !cleanup_stopping && g_mkdtemp(path) != NULL;
    int saved = cleanup_stopping ? ECANCELED : errno;
    if (ok) {
        if (!cleanup_paths)
            cleanup_paths = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(cleanup_paths, g_strdup(path));
    }
    g_mutex_unlock(&cleanup_lock);
    if (!ok) {
        g_set_error_literal(error, MEDIA_ERROR, media_error_from_errno(saved), g_strerror(saved));
        g_clear_pointer(&path, g_free);
    }
    return path;
}

char *media_cleanup_tmp_dir(const char *name_tmpl, GError **error)
{
    g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), name_tmpl, NULL);
    return media_cleanup_mkdtemp(tmpl, error);
}

mode_t media_output_mode(void)
{
    static gsize once = 0;
    static mode_t mode;
    if (g_once_init_enter(&once)) {
        mode_t mask = umask(022); /* read it (no other way but /proc), then put it back */
        umask(mask);
        mode = 0666 & ~mask;
        g_once_init_leave(&once, 1);
    }
    return mode;
}

gboolean media_fsync_path(const char *path, GError **error)
{
    int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
    int err = 0;
    if (fd < 0 || fsync(fd) != 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(err), "%s: cannot sync: %s", path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

char *media_cleanup_temp_beside(const char *out, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(out);
    g_autofree char *base = g_path_get_basename(out);
    char *tmpl = g_strdup_printf("%s/.%s.tmp-XXXXXX", dir, base);
    g_mutex_lock(&cleanup_lock);
    int fd = cleanup_stopping ? -1 : g_mkstemp(tmpl);
    int saved = cleanup_stopping ? ECANCELED : errno;
    if (fd >= 0 && fchmod(fd, media_output_mode()) != 0) { /* mkstemp makes 0600; outputs follow umask */
        saved = errno;
        close(fd);
        g_unlink(tmpl);
        fd = -1;
    }
    if (fd >= 0) {
        if (!cleanup_paths)
            cleanup_paths = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(cleanup_paths, g_strdup(tmpl));
    }
    g_mutex_unlock(&cleanup_lock);
    if (fd < 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(saved), "%s: cannot create: %s", out,
                    g_strerror(saved));
        g_free(tmpl);
        return NULL;
    }
    close(fd);
    return tmpl;
}

gboolean media_mkdir_below(const char *base, const char *path, GError **error)
{
    gsize bl = strlen(base);
    if (strncmp(path, base, bl) != 0 || (path[bl] && path[bl] != '/')) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not below %s", path, base);
        return FALSE;
    }
    g_auto(GStrv) parts = g_strsplit(path + bl, "/", -1);
    GString *cur = g_string_new(base);
    gboolean ok = TRUE;
    for (guint i = 0; ok && parts[i]; i++) {
        if (!*parts[i])
            continue;
        g_string_append_printf(cur, "/%s", parts[i]);
        if (g_mkdir(cur->str, 0755) != 0 && errno != EEXIST) {
            g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot create: %s", cur->str,
                        g_strerror(errno));
            ok = FALSE;
        }
    }
    g_string_free(cur, TRUE);
    return ok;
}
