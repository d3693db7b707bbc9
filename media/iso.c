/* ISO access through xorriso (see iso.h). */
#include "iso.h"

#include "util.h"

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
static gboolean run_xorriso_out(const char *what, const char *subject, char **argv, char **stdout_text,
                                GError **error)
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
    if (g_spawn_check_wait_status(status, NULL)) {
        if (stdout_text)
            *stdout_text = g_steal_pointer(&out);
        return TRUE;
    }
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

static gboolean run_xorriso(const char *what, const char *subject, char **argv, GError **error)
{
    return run_xorriso_out(what, subject, argv, NULL, error);
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

/* A free temporary name in out's folder (same file system, so the final rename is atomic). */
static char *temp_name_beside(const char *out, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(out);
    g_autofree char *base = g_path_get_basename(out);
    char *tmpl = g_strdup_printf("%s/.%s.tmp-XXXXXX", dir, base);
    int fd = g_mkstemp(tmpl);
    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: cannot create: %s",
                    out, g_strerror(errno));
        g_free(tmpl);
        return NULL;
    }
    close(fd);
    g_unlink(tmpl);
    return tmpl;
}

gboolean media_iso_write_data(const char *staging, const char *out, const MediaIsoWriteOptions *o,
                              GError **error)
{
    g_autofree char *tmpl = temp_name_beside(out, error);
    if (!tmpl)
        return FALSE;
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

GHashTable *media_iso_list(const char *iso, GError **error)
{
    if (!media_iso_probe(iso)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not an ISO 9660 image", iso);
        return NULL;
    }
    char *argv[] = {"xorriso", "-abort_on", "FAILURE", "-indev", (char *)iso, "-find", "/",
                    "-type", "f", NULL};
    g_autofree char *out = NULL;
    if (!run_xorriso_out("cannot read", iso, argv, &out, error))
        return NULL;
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *l = lines[i];
        gsize n = strlen(l);
        if (n < 3 || l[0] != '\'' || l[n - 1] != '\'')
            continue;
        /* xorriso quotes with '...' and writes a quote inside as '"'"' */
        g_autofree char *inner = g_strndup(l + 1, n - 2);
        char *path = media_unquote_xorriso(inner);
        g_hash_table_insert(t, g_utf8_strdown(path, -1), path);
    }
    return t;
}

gboolean media_iso_rebuild(const char *in, const char *out, const MediaIsoMap *maps, guint n,
                           const char *volid, gboolean quiet, GError **error)
{
    g_autofree char *tmpl = temp_name_beside(out, error);
    if (!tmpl)
        return FALSE;
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    const char *head[] = {"xorriso", "-abort_on", "FAILURE", "-indev", in, NULL};
    for (guint i = 0; head[i]; i++)
        g_ptr_array_add(a, g_strdup(head[i]));
    g_ptr_array_add(a, g_strdup("-outdev"));
    g_ptr_array_add(a, g_strdup_printf("stdio:%s", tmpl));
    const char *mid[] = {"-compliance", "iso_9660_level=3", "-joliet", "on", "-rockridge", "on",
                         "-boot_image", "any", "keep", NULL};
    for (guint i = 0; mid[i]; i++)
        g_ptr_array_add(a, g_strdup(mid[i]));
    if (volid) {
        g_ptr_array_add(a, g_strdup("-volid"));
        g_ptr_array_add(a, g_strdup(volid));
    }
    for (guint i = 0; i < n; i++) {
        g_ptr_array_add(a, g_strdup("-map"));
        g_ptr_array_add(a, g_strdup(maps[i].disk_path));
        g_ptr_array_add(a, g_strdup(maps[i].iso_path));
    }
    (void)quiet; /* xorriso's own pacifier goes to its captured stderr; callers print steps */
    g_ptr_array_add(a, g_strdup("-commit"));
    g_ptr_array_add(a, NULL);
    gboolean ok = run_xorriso("cannot write the ISO", out, (char **)a->pdata, error);
    g_ptr_array_unref(a);
    if (ok && g_rename(tmpl, out) != 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", out,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        g_unlink(tmpl);
    return ok;
}

char *media_iso_el_torito(const char *iso, GError **error)
{
    char *argv[] = {"xorriso", "-abort_on", "FAILURE", "-indev", (char *)iso, "-report_el_torito",
                    "plain", NULL};
    char *out = NULL;
    if (!run_xorriso_out("cannot read", iso, argv, &out, error))
        return NULL;
    return out;
}
