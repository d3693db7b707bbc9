/* Small file and progress helpers (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void media_progress(gboolean quiet, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("%s\n", msg);
}

gboolean media_copy_file(const char *src, const char *dst, GError **error)
{
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents(src, &data, &len, error))
        return FALSE;
    return g_file_set_contents(dst, data, (gssize)len, error);
}

char *media_sha256_file(const char *path, GError **error)
{
    int fd = g_open(path, O_RDONLY, 0);
    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    guchar buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_checksum_update(c, buf, (gssize)n);
    int saved = errno;
    close(fd);
    if (n < 0) {
        g_checksum_free(c);
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: %s", path,
                    g_strerror(saved));
        return NULL;
    }
    char *hex = g_strdup(g_checksum_get_string(c));
    g_checksum_free(c);
    return hex;
}

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
        if (strncmp(p, prefix, pl) == 0) {
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

void media_set_tree_times(const char *dir)
{
    const char *sde = g_getenv("SOURCE_DATE_EPOCH");
    if (!sde || !*sde)
        return;
    set_times(dir, g_ascii_strtoll(sde, NULL, 10));
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

char *media_unquote_xorriso(const char *s)
{
    return media_replace_prefix(s, "'\"'\"'", "'");
}
