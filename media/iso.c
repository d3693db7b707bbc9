/* ISO access through xorriso (see iso.h). */
#include "iso.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

gboolean media_iso_probe(const char *path)
{
    char buf[6] = {0};
    int fd = g_open(path, O_RDONLY, 0);
    if (fd < 0)
        return FALSE;
    gboolean ok = pread(fd, buf, 6, 32768 + 0) == 6 && buf[0] == 1 && memcmp(buf + 1, "CD001", 5) == 0;
    close(fd);
    return ok;
}

/* Run xorriso with argv; on failure set a one-line error with xorriso's last complaint. */
static gboolean run_xorriso(const char *what, const char *subject, char **argv, GError **error)
{
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    GError *e = NULL;
    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &e)) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s: cannot run xorriso: %s", subject,
                    e->message);
        g_error_free(e);
        return FALSE;
    }
    if (g_spawn_check_wait_status(status, NULL))
        return TRUE;
    /* the most telling line is the last FAILURE/SORRY line xorriso printed */
    const char *why = "xorriso failed";
    g_auto(GStrv) lines = g_strsplit(err ? err : "", "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (strstr(lines[i], "FAILURE") || strstr(lines[i], "SORRY"))
            why = lines[i];
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s (%s)", subject, what,
                g_strstrip((char *)why));
    return FALSE;
}

gboolean media_iso_extract(const char *iso, const char *dest, GError **error)
{
    if (!media_iso_probe(iso)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not an ISO 9660 image", iso);
        return FALSE;
    }
    char *argv[] = {"xorriso", "-abort_on", "FAILURE", "-osirrox", "on", "-indev", (char *)iso,
                    "-extract", "/", (char *)dest, NULL};
    if (!run_xorriso("cannot extract", iso, argv, error))
        return FALSE;
    /* extracted files keep the ISO's read-only modes; make the copy ours */
    char *chmod_argv[] = {"chmod", "-R", "u+w", (char *)dest, NULL};
    int st;
    g_spawn_sync(NULL, chmod_argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                 G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &st, NULL);
    return TRUE;
}

gboolean media_iso_extract_file(const char *iso, const char *path, const char *dest_file,
                                GError **error)
{
    char *argv[] = {"xorriso", "-abort_on", "FAILURE", "-osirrox", "on", "-indev", (char *)iso,
                    "-extract", (char *)path, (char *)dest_file, NULL};
    return run_xorriso("cannot extract file", iso, argv, error);
}

gboolean media_iso_write_data(const char *staging, const char *out, const MediaIsoWriteOptions *o,
                              GError **error)
{
    g_autofree char *dir = g_path_get_dirname(out);
    g_autofree char *base = g_path_get_basename(out);
    g_autofree char *tmpl = g_strdup_printf("%s/.%s.tmp-XXXXXX", dir, base);
    int fd = g_mkstemp(tmpl);
    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: cannot create: %s",
                    out, g_strerror(errno));
        return FALSE;
    }
    close(fd);
    g_unlink(tmpl);
    char *argv[] = {"xorriso", "-abort_on", "FAILURE", "-as", "mkisofs", "-quiet", "-iso-level",
                    "3", "-r", "-J", "-joliet-long", "-V", (char *)(o->volid ? o->volid : "AERO"),
                    "-o", tmpl, (char *)staging, NULL};
    if (!run_xorriso("cannot write the ISO", out, argv, error)) {
        g_unlink(tmpl);
        return FALSE;
    }
    if (g_rename(tmpl, out) != 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", out,
                    g_strerror(errno));
        g_unlink(tmpl);
        return FALSE;
    }
    return TRUE;
}
