/* Support for the media parser unit tests (see unit.h). */
#include "unit.h"

#include <glib/gstdio.h>

char *unit_dir;

static void rm_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            rm_tree(p);
        else
            g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
}

void unit_setup(void)
{
    GError *e = NULL;
    unit_dir = g_dir_make_tmp("aero-media-unit-XXXXXX", &e);
    ck_assert_msg(unit_dir != NULL, "scratch folder: %s", e ? e->message : "?");
}

void unit_teardown(void)
{
    if (unit_dir)
        rm_tree(unit_dir);
    g_clear_pointer(&unit_dir, g_free);
}

char *unit_write(const char *name, const void *data, gssize len)
{
    char *path = g_build_filename(unit_dir, name, NULL);
    GError *e = NULL;
    gboolean ok = g_file_set_contents(path, data, len, &e);
    ck_assert_msg(ok, "writing %s: %s", path, e ? e->message : "?");
    return path;
}
