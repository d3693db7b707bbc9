/* Offline registry hive editing through hivex (see hive.h). */
#include "hive.h"

#include "error.h"

#include <errno.h>
#include <string.h>

MediaHive *media_hive_open(const char *path, const char *label, gboolean write, GError **error)
{
    hive_h *h = hivex_open(path, write ? HIVEX_OPEN_WRITE : 0);
    if (!h) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a registry hive (%s)",
                    label ? label : path, g_strerror(errno));
        return NULL;
    }
    MediaHive *hv = g_new0(MediaHive, 1);
    hv->h = h;
    hv->path = g_strdup(path);
    hv->label = g_strdup(label ? label : path);
    return hv;
}

void media_hive_close(MediaHive *hv)
{
    if (!hv)
        return;
    hivex_close(hv->h);
    g_free(hv->path);
    g_free(hv->label);
    g_free(hv);
}

gboolean media_hive_commit(MediaHive *hv, GError **error)
{
    if (hivex_commit(hv->h, NULL, 0) != 0) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: cannot write the hive: %s",
                    hv->label, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static hive_node_h ensure_child(MediaHive *hv, hive_node_h n, const char *name, const char *path, GError **error)
{
    errno = 0;
    hive_node_h c = hivex_node_get_child(hv->h, n, name);
    if (c)
        return c;
    if (errno) { /* not "absent": a child key hivex cannot read (found by fuzz_hive) */
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: damaged hive (cannot read the keys on the way to %s: %s)",
                    hv->label, path, g_strerror(errno));
        return 0;
    }
    c = hivex_node_add_child(hv->h, n, name);
    if (!c)
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: cannot create key %s: %s", hv->label, path,
                    g_strerror(errno));
    return c;
}

static hive_node_h walk(MediaHive *hv, const char *path, gboolean create, GError **error)
{
    hive_node_h n = hivex_root(hv->h);
    g_auto(GStrv) parts = g_strsplit(path, "\\", -1);
    for (guint i = 0; n && parts[i]; i++) {
        if (!*parts[i])
            continue;
        n = create ? ensure_child(hv, n, parts[i], path, error) : hivex_node_get_child(hv->h, n, parts[i]);
    }
    return n;
}

hive_node_h media_hive_ensure_child(MediaHive *hv, hive_node_h n, const char *name, const char *shown,
                                   GError **error)
{
    return ensure_child(hv, n, name, shown, error);
}

hive_node_h media_hive_lookup(MediaHive *hv, const char *path) { return walk(hv, path, FALSE, NULL); }
hive_node_h media_hive_ensure(MediaHive *hv, const char *path, GError **error)
{
    return walk(hv, path, TRUE, error);
}

static gboolean set(MediaHive *hv, hive_node_h n, const char *name, hive_type t, const void *d,
                    gsize len, GError **error)
{
    hive_set_value v = {.key = (char *)name, .t = t, .len = len, .value = (char *)d};
    if (hivex_node_set_value(hv->h, n, &v, 0) != 0) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_FAILED, "%s: cannot set %s: %s", hv->label,
                    name, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* REG_SZ / REG_EXPAND_SZ data: UTF-16LE with the terminating NUL. */
static gboolean set_utf16(MediaHive *hv, hive_node_h n, const char *name, hive_type t,
                          const char *s, GError **error)
{
    glong items = 0;
    g_autofree gunichar2 *u = g_utf8_to_utf16(s, -1, NULL, &items, NULL);
    if (!u)
        return set(hv, n, name, t, "\0\0", 2, error);
    g_autofree guint8 *le = g_malloc((gsize)(items + 1) * 2);
    for (glong i = 0; i <= items; i++) {
        le[2 * i] = (guint8)u[i];
        le[2 * i + 1] = (guint8)(u[i] >> 8);
    }
    return set(hv, n, name, t, le, (gsize)(items + 1) * 2, error);
}

gboolean media_hive_set_sz(MediaHive *hv, hive_node_h n, const char *name, const char *v, GError **error)
{
    return set_utf16(hv, n, name, hive_t_REG_SZ, v, error);
}

gboolean media_hive_set_expand_sz(MediaHive *hv, hive_node_h n, const char *name, const char *v,
                                  GError **error)
{
    return set_utf16(hv, n, name, hive_t_REG_EXPAND_SZ, v, error);
}

gboolean media_hive_set_dword(MediaHive *hv, hive_node_h n, const char *name, guint32 v, GError **error)
{
    guint8 le[4] = {(guint8)v, (guint8)(v >> 8), (guint8)(v >> 16), (guint8)(v >> 24)};
    return set(hv, n, name, hive_t_REG_DWORD, le, 4, error);
}

gboolean media_hive_set_binary(MediaHive *hv, hive_node_h n, const char *name, const void *d,
                               gsize len, GError **error)
{
    return set(hv, n, name, hive_t_REG_BINARY, d, len, error);
}

char *media_hive_get_string(MediaHive *hv, hive_node_h n, const char *name)
{
    hive_value_h v = hivex_node_get_value(hv->h, n, name);
    return v ? hivex_value_string(hv->h, v) : NULL;
}

gboolean media_hive_get_dword(MediaHive *hv, hive_node_h n, const char *name, guint32 *out)
{
    hive_value_h v = hivex_node_get_value(hv->h, n, name);
    if (!v)
        return FALSE;
    errno = 0;
    gint32 d = hivex_value_dword(hv->h, v);
    if (errno)
        return FALSE;
    *out = (guint32)d;
    return TRUE;
}

GBytes *media_hive_get_data(MediaHive *hv, hive_node_h n, const char *name, hive_type *type)
{
    hive_value_h v = hivex_node_get_value(hv->h, n, name);
    if (!v)
        return NULL;
    size_t len;
    char *d = hivex_value_value(hv->h, v, type, &len);
    if (!d)
        return NULL;
    return g_bytes_new_take(d, len);
}
