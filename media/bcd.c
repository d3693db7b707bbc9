/* BCD signing policy (see bcd.h). A BCD store is a hive: Objects\{GUID}\Description\Type gives
 * the object type, Objects\{GUID}\Elements\<8 hex digits>\Element holds the value; booleans are a
 * one-byte REG_BINARY.
 */
#include "bcd.h"

#include "error.h"
#include "hive.h"

#include <string.h>

#define BCD_TYPE_OS_LOADER 0x10200003u
#define BCD_ELEM_DEFAULT "23000003"
#define GUID_BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define GUID_GLOBALSETTINGS "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
#define GUID_BOOTLOADERSETTINGS "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}"

const char *media_signing_name(MediaSigning s)
{
    return s == MEDIA_SIGNING_TESTSIGNING ? "testsigning"
           : s == MEDIA_SIGNING_NOINTEGRITYCHECKS ? "nointegritychecks" : "none";
}

gboolean media_signing_parse(const char *name, MediaSigning *out)
{
    const MediaSigning all[] = {MEDIA_SIGNING_NONE, MEDIA_SIGNING_TESTSIGNING, MEDIA_SIGNING_NOINTEGRITYCHECKS};
    for (guint i = 0; name && i < G_N_ELEMENTS(all); i++) {
        if (!strcmp(name, media_signing_name(all[i]))) {
            *out = all[i];
            return TRUE;
        }
    }
    return FALSE;
}

guint32 media_signing_element(MediaSigning s)
{
    return s == MEDIA_SIGNING_TESTSIGNING ? 0x16000049u
           : s == MEDIA_SIGNING_NOINTEGRITYCHECKS ? 0x16000048u : 0;
}

void media_bcd_report_clear(MediaBcdReport *r)
{
    g_free(r->default_loader);
    if (r->loaders)
        g_ptr_array_unref(r->loaders);
    if (r->patched)
        g_ptr_array_unref(r->patched);
    memset(r, 0, sizeof(*r));
}

typedef struct {
    char *guid;
    hive_node_h node;
    guint32 type;
} BcdObject;

static void objects_free(GArray *a);

static GArray *objects(MediaHive *hv, GError **error)
{
    hive_node_h objs = media_hive_lookup(hv, "Objects");
    if (!objs) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a BCD store (no Objects key)",
                    hv->label);
        return NULL;
    }
    GArray *out = g_array_new(FALSE, TRUE, sizeof(BcdObject));
    hive_node_h *kids = hivex_node_children(hv->h, objs);
    for (size_t i = 0; kids && kids[i]; i++) {
        BcdObject o = {0};
        char *name = hivex_node_name(hv->h, kids[i]);
        if (!name) { /* its length runs past its record: hivex opens such a hive all the same */
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: damaged BCD store (a key of Objects has a name that cannot be read)", hv->label);
            free(kids);
            objects_free(out);
            return NULL;
        }
        o.guid = g_ascii_strdown(name, -1);
        free(name);
        o.node = kids[i];
        hive_node_h desc = hivex_node_get_child(hv->h, kids[i], "Description");
        if (desc)
            media_hive_get_dword(hv, desc, "Type", &o.type);
        g_array_append_val(out, o);
    }
    free(kids);
    return out;
}

static void objects_free(GArray *a)
{
    for (guint i = 0; a && i < a->len; i++)
        g_free(g_array_index(a, BcdObject, i).guid);
    if (a)
        g_array_unref(a);
}

static gboolean is_target(const BcdObject *o)
{
    return o->type == BCD_TYPE_OS_LOADER || !strcmp(o->guid, GUID_GLOBALSETTINGS) ||
           !strcmp(o->guid, GUID_BOOTLOADERSETTINGS);
}

static void fill_report(MediaHive *hv, GArray *objs, MediaBcdReport *r)
{
    r->loaders = g_ptr_array_new_with_free_func(g_free);
    r->patched = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < objs->len; i++) {
        BcdObject *o = &g_array_index(objs, BcdObject, i);
        if (o->type == BCD_TYPE_OS_LOADER)
            g_ptr_array_add(r->loaders, g_strdup(o->guid));
        if (!strcmp(o->guid, GUID_BOOTMGR) && !r->default_loader) { /* a second {bootmgr}: the same key */
            hive_node_h el = media_hive_lookup(hv, "Objects\\" GUID_BOOTMGR "\\Elements\\" BCD_ELEM_DEFAULT);
            char *d = el ? media_hive_get_string(hv, el, "Element") : NULL;
            if (d) {
                r->default_loader = g_ascii_strdown(d, -1);
                free(d);
            }
        }
    }
}

gboolean media_bcd_patch(const char *path, const char *label, MediaSigning s, gboolean need_loader,
                         MediaBcdReport *r, GError **error)
{
    memset(r, 0, sizeof(*r));
    MediaHive *hv = media_hive_open(path, label, TRUE, error);
    if (!hv)
        return FALSE;
    gboolean ok = FALSE;
    GArray *objs = objects(hv, error);
    if (!objs)
        goto out;
    fill_report(hv, objs, r);
    if (need_loader && r->loaders->len == 0) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: BCD has no Windows loader object", label);
        goto out;
    }
    if (r->default_loader) {
        gboolean found = FALSE;
        for (guint i = 0; i < r->loaders->len; i++)
            found |= !strcmp(g_ptr_array_index(r->loaders, i), r->default_loader);
        if (!found && need_loader) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: {bootmgr} default %s is not a Windows loader in this store", label,
                        r->default_loader);
            goto out;
        }
    }
    if (s != MEDIA_SIGNING_NONE) {
        g_autofree char *elem = g_strdup_printf("%08X", media_signing_element(s));
        const guint8 on = 1;
        for (guint i = 0; i < objs->len; i++) {
            BcdObject *o = &g_array_index(objs, BcdObject, i);
            if (!is_target(o))
                continue;
            g_autofree char *shown = g_strdup_printf("Objects\\%s\\Elements\\%s", o->guid, elem);
            hive_node_h els = media_hive_ensure_child(hv, o->node, "Elements", shown, error);
            hive_node_h e = els ? media_hive_ensure_child(hv, els, elem, shown, error) : 0;
            if (!e)
                goto out;
            if (!media_hive_set_binary(hv, e, "Element", &on, 1, error))
                goto out;
            g_ptr_array_add(r->patched, g_strdup(o->guid));
        }
        if (!media_hive_commit(hv, error))
            goto out;
    }
    ok = TRUE;
out:
    objects_free(objs);
    media_hive_close(hv);
    return ok;
}

gboolean media_bcd_check(const char *path, const char *label, MediaSigning s, MediaBcdReport *r,
                         GError **error)
{
    memset(r, 0, sizeof(*r));
    MediaHive *hv = media_hive_open(path, label, FALSE, error);
    if (!hv)
        return FALSE;
    GArray *objs = objects(hv, error);
    if (!objs) {
        media_hive_close(hv);
        return FALSE;
    }
    fill_report(hv, objs, r);
    g_autofree char *elem = g_strdup_printf("%08X", media_signing_element(s));
    for (guint i = 0; i < objs->len; i++) {
        BcdObject *o = &g_array_index(objs, BcdObject, i);
        /* the object's own key, as the patch writes it (not a lookup by GUID, which finds the
         * first of two keys with one name) */
        hive_node_h els = hivex_node_get_child(hv->h, o->node, "Elements");
        hive_node_h e = els ? hivex_node_get_child(hv->h, els, elem) : 0;
        hive_type t;
        g_autoptr(GBytes) d = e ? media_hive_get_data(hv, e, "Element", &t) : NULL;
        gsize n = 0;
        const guint8 *b = d ? g_bytes_get_data(d, &n) : NULL;
        if (b && n >= 1 && b[0] == 1 && t == hive_t_REG_BINARY)
            g_ptr_array_add(r->patched, g_strdup(o->guid));
    }
    objects_free(objs);
    media_hive_close(hv);
    return TRUE;
}
