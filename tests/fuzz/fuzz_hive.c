/* libFuzzer target: aero-media's registry edits through hivex (media/hive.c, media/bcd.c) on a
 * hostile hive. The first input byte picks the edit, the rest is the hive file:
 *   bits 0-1  0: a BCD store, patched with media_bcd_patch (boot media and BCD-Template) after
 *                a read-only media_bcd_check (verify); bit 2 need_loader, bits 3-4 the policy
 *                (none, testsigning, nointegritychecks);
 *             1: a SOFTWARE hive: the test certificate into ROOT and TrustedPublisher, and with
 *                bit 2 (install image) the driver folders onto DevicePath;
 *             2, 3: a SYSTEM hive: the boot-critical storage pre-seed of every ControlSet, the
 *                one Select\Current names first.
 * The SOFTWARE and SYSTEM edits are media/win7.c's (add_certificate, add_device_path,
 * preseed_storage), step for step: the same media/hive.c calls on the same keys and values, from
 * media/wincfg.h.
 *
 * Beyond "no crash": a refusal is one line naming the hive, and a hive whose edit was refused is
 * byte for byte what it was (no half-written edits: only a whole edit is committed); an edit that
 * succeeded left a hive that hivex opens again and that reads back what was written (the flag on
 * every object the report says was patched, the loaders and default unchanged; the Blob in both
 * stores; DevicePath naming each package; the service values and critical device entries in every
 * ControlSet patched); nothing is written beside the hive.
 */
#include "fuzz_media.h"

#include "bcd.h"
#include "cert.h"
#include "error.h"
#include "hive.h"
#include "wincfg.h"

#include <stdlib.h>
#include <string.h>

#define LABEL "fuzz.hive"

static const char *const packages[] = {"viostor", "netkvm"};
#define SERVICE "viostor"
#define SYS_NAME "viostor.sys"

/* ---- BCD ------------------------------------------------------------------------------------ */

static gboolean contains(GPtrArray *a, const char *s)
{
    for (guint i = 0; a && i < a->len; i++)
        if (!strcmp(g_ptr_array_index(a, i), s))
            return TRUE;
    return FALSE;
}

static void check_same(const char *what, GPtrArray *a, GPtrArray *b)
{
    if ((a ? a->len : 0) != (b ? b->len : 0))
        fm_violated("%s: %u before the patch, %u after", what, a ? a->len : 0, b ? b->len : 0);
    for (guint i = 0; a && i < a->len; i++)
        if (!contains(b, g_ptr_array_index(a, i)))
            fm_violated("%s: %s lost by the patch", what, (char *)g_ptr_array_index(a, i));
}

static void bcd(const char *path, unsigned sel, const uint8_t *hive, size_t size)
{
    static const MediaSigning policies[] = {MEDIA_SIGNING_NONE, MEDIA_SIGNING_TESTSIGNING,
                                            MEDIA_SIGNING_NOINTEGRITYCHECKS, MEDIA_SIGNING_TESTSIGNING};
    MediaSigning s = policies[(sel >> 3) & 3];
    gboolean need_loader = (sel & 4) != 0;
    MediaBcdReport before = {0}, r = {0}, after = {0};
    GError *e = NULL;
    if (!media_bcd_check(path, LABEL, s, &before, &e)) {
        fm_check_error(e, LABEL);
        g_clear_error(&e);
    }
    if (!fm_file_equals(path, hive, size))
        fm_violated("media_bcd_check changed the store");
    if (!media_bcd_patch(path, LABEL, s, need_loader, &r, &e)) {
        fm_check_error(e, LABEL);
        g_clear_error(&e);
        if (!fm_file_equals(path, hive, size))
            fm_violated("a refused BCD patch changed the store");
        goto out;
    }
    if (s == MEDIA_SIGNING_NONE) {
        if (!fm_file_equals(path, hive, size))
            fm_violated("a BCD patch with no policy changed the store");
        goto out;
    }
    if (!media_bcd_check(path, LABEL, s, &after, &e))
        fm_violated("the patched store does not open again: %s", e->message);
    for (guint i = 0; i < r.patched->len; i++)
        if (!contains(after.patched, g_ptr_array_index(r.patched, i)))
            fm_violated("%s reported patched, but the flag does not read back",
                        (char *)g_ptr_array_index(r.patched, i));
    check_same("loaders", r.loaders, after.loaders);
    if (g_strcmp0(r.default_loader, after.default_loader) != 0)
        fm_violated("the default loader changed from %s to %s", r.default_loader, after.default_loader);
out:
    media_bcd_report_clear(&before);
    media_bcd_report_clear(&r);
    media_bcd_report_clear(&after);
}

/* ---- SOFTWARE: win7.c add_certificate, add_device_path --------------------------------------- */

static const char *const stores[] = {WIN_CERT_STORE_ROOT, WIN_CERT_STORE_TRUSTED_PUBLISHER};

static gboolean add_certificate(MediaHive *hv, const MediaCert *c, GBytes *blob, GError **error)
{
    gsize n;
    const guint8 *b = g_bytes_get_data(blob, &n);
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        g_autofree char *p = g_strdup_printf(WIN_CERT_KEY_FMT, stores[i], c->thumbprint);
        hive_node_h k = media_hive_ensure(hv, p, error);
        if (!k || !media_hive_set_binary(hv, k, WIN_CERT_BLOB, b, n, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean add_device_path(MediaHive *hv, GError **error)
{
    hive_node_h k = media_hive_ensure(hv, WIN_CURRENT_VERSION_KEY, error);
    if (!k)
        return FALSE;
    char *cur = media_hive_get_string(hv, k, WIN_DEVICE_PATH);
    GString *v = g_string_new(cur && *cur ? cur : WIN_DEVICE_PATH_DEFAULT);
    free(cur);
    for (guint i = 0; i < G_N_ELEMENTS(packages); i++) {
        g_autofree char *entry = g_strdup_printf(WIN_DEVICE_PATH_ENTRY_FMT, packages[i]);
        if (!strstr(v->str, entry))
            g_string_append_printf(v, ";%s", entry);
    }
    gboolean ok = media_hive_set_expand_sz(hv, k, WIN_DEVICE_PATH, v->str, error);
    g_string_free(v, TRUE);
    return ok;
}

static void software(const char *path, unsigned sel, const uint8_t *hive, size_t size)
{
    gboolean install = (sel & 4) != 0;
    /* a stand-in certificate: the Blob format does not look into the DER */
    static const char der[] = "0\x82 stand-in DER of the aero test-signing certificate";
    MediaCert c = {.der = g_bytes_new_static(der, sizeof(der) - 1)};
    g_autofree char *sha1 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA1, c.der);
    for (int i = 0; i < 40; i++)
        c.thumbprint[i] = g_ascii_toupper(sha1[i]);
    g_autoptr(GBytes) blob = media_cert_blob(&c);

    GError *e = NULL;
    MediaHive *hv = media_hive_open(path, LABEL, TRUE, &e);
    gboolean ok = hv && add_certificate(hv, &c, blob, &e) && (!install || add_device_path(hv, &e)) &&
                  media_hive_commit(hv, &e);
    media_hive_close(hv);
    g_bytes_unref(c.der);
    if (!ok) {
        fm_check_error(e, LABEL);
        g_error_free(e);
        if (!fm_file_equals(path, hive, size))
            fm_violated("a refused SOFTWARE edit changed the hive");
        return;
    }
    hv = media_hive_open(path, LABEL, FALSE, &e);
    if (!hv)
        fm_violated("the edited SOFTWARE hive does not open again: %s", e->message);
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        g_autofree char *p = g_strdup_printf(WIN_CERT_KEY_FMT, stores[i], c.thumbprint);
        hive_node_h k = media_hive_lookup(hv, p);
        hive_type t = 0;
        g_autoptr(GBytes) got = k ? media_hive_get_data(hv, k, WIN_CERT_BLOB, &t) : NULL;
        if (!got || t != hive_t_REG_BINARY || !g_bytes_equal(got, blob))
            fm_violated("the certificate Blob does not read back from %s", p);
    }
    if (install) {
        hive_node_h k = media_hive_lookup(hv, WIN_CURRENT_VERSION_KEY);
        char *dp = k ? media_hive_get_string(hv, k, WIN_DEVICE_PATH) : NULL;
        for (guint i = 0; i < G_N_ELEMENTS(packages); i++) {
            g_autofree char *entry = g_strdup_printf(WIN_DEVICE_PATH_ENTRY_FMT, packages[i]);
            if (!dp || !strstr(dp, entry))
                fm_violated("DevicePath does not read back with %s", entry);
        }
        free(dp);
    }
    media_hive_close(hv);
}

/* ---- SYSTEM: win7.c preseed_storage ------------------------------------------------------- */

static gboolean preseed_control_set(MediaHive *hv, const char *cs, GError **error)
{
    g_autofree char *image_path = g_strdup_printf(WIN_SERVICE_IMAGE_PATH_FMT, SYS_NAME);
    g_autofree char *svc = g_strdup_printf(WIN_SERVICE_KEY_FMT, cs, SERVICE);
    hive_node_h s = media_hive_ensure(hv, svc, error);
    gboolean ok = s && media_hive_set_dword(hv, s, "Type", WIN_SERVICE_TYPE_KERNEL, error) &&
                  media_hive_set_dword(hv, s, "Start", WIN_SERVICE_START_BOOT, error) &&
                  media_hive_set_dword(hv, s, "ErrorControl", WIN_SERVICE_ERROR_NORMAL, error) &&
                  media_hive_set_sz(hv, s, "Group", WIN_SERVICE_GROUP_DEFAULT, error) &&
                  media_hive_set_expand_sz(hv, s, "ImagePath", image_path, error);
    g_autofree char *pnp = g_strdup_printf(WIN_SERVICE_PNP_KEY_FMT, cs, SERVICE);
    hive_node_h pi = ok ? media_hive_ensure(hv, pnp, error) : 0;
    ok = ok && pi && media_hive_set_dword(hv, pi, WIN_PNP_INTERFACE_PCI, 1, error);
    for (guint j = 0; ok && j < WIN_BLK_CDD_COUNT; j++) {
        g_autofree char *cdd = g_strdup_printf(WIN_CDD_KEY_FMT, cs, win_blk_cdd_ids[j]);
        hive_node_h k = media_hive_ensure(hv, cdd, error);
        ok = k && media_hive_set_sz(hv, k, "Service", SERVICE, error) &&
             media_hive_set_sz(hv, k, "ClassGUID", WIN_SCSIADAPTER_CLASS_GUID, error);
    }
    return ok;
}

static gboolean preseed_storage(MediaHive *hv, GPtrArray *sets, GError **error)
{
    guint32 cur = 0;
    if (!win_current_control_set(hv, &cur)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: no Select\\Current value", hv->label);
        return FALSE;
    }
    g_autofree char *current = g_strdup_printf(WIN_CONTROL_SET_FMT, cur);
    if (cur == 0 || cur > 999 || !media_hive_lookup(hv, current)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                    "%s: Select\\Current names %s, which does not exist", hv->label, current);
        return FALSE;
    }
    if (!preseed_control_set(hv, current, error))
        return FALSE;
    g_ptr_array_add(sets, g_strdup(current));
    hive_node_h *kids = hivex_node_children(hv->h, hivex_root(hv->h));
    gboolean ok = TRUE;
    for (size_t i = 0; ok && kids && kids[i]; i++) {
        char *name = hivex_node_name(hv->h, kids[i]);
        if (!name) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: damaged hive (a root key has a name that cannot be read)", hv->label);
            ok = FALSE;
            break;
        }
        if (win_is_control_set(name) && g_ascii_strcasecmp(name, current) != 0) {
            ok = preseed_control_set(hv, name, error);
            g_ptr_array_add(sets, g_strdup(name));
        }
        free(name);
    }
    free(kids);
    return ok;
}

static void check_dword(MediaHive *hv, hive_node_h k, const char *key, const char *name, guint32 want)
{
    guint32 v = 0;
    if (!media_hive_get_dword(hv, k, name, &v) || v != want)
        fm_violated("%s\\%s does not read back as %u", key, name, want);
}

static void check_sz(MediaHive *hv, hive_node_h k, const char *key, const char *name, const char *want)
{
    char *v = media_hive_get_string(hv, k, name);
    if (!v || strcmp(v, want) != 0)
        fm_violated("%s\\%s does not read back as %s", key, name, want);
    free(v);
}

static void system_hive(const char *path, const uint8_t *hive, size_t size)
{
    GError *e = NULL;
    g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func(g_free);
    MediaHive *hv = media_hive_open(path, LABEL, TRUE, &e);
    gboolean ok = hv && preseed_storage(hv, sets, &e) && media_hive_commit(hv, &e);
    media_hive_close(hv);
    if (!ok) {
        fm_check_error(e, LABEL);
        g_error_free(e);
        if (!fm_file_equals(path, hive, size))
            fm_violated("a refused SYSTEM edit changed the hive");
        return;
    }
    hv = media_hive_open(path, LABEL, FALSE, &e);
    if (!hv)
        fm_violated("the edited SYSTEM hive does not open again: %s", e->message);
    g_autofree char *image_path = g_strdup_printf(WIN_SERVICE_IMAGE_PATH_FMT, SYS_NAME);
    for (guint i = 0; i < sets->len; i++) {
        const char *cs = g_ptr_array_index(sets, i);
        g_autofree char *svc = g_strdup_printf(WIN_SERVICE_KEY_FMT, cs, SERVICE);
        hive_node_h s = media_hive_lookup(hv, svc);
        if (!s)
            fm_violated("%s does not read back", svc);
        check_dword(hv, s, svc, "Type", WIN_SERVICE_TYPE_KERNEL);
        check_dword(hv, s, svc, "Start", WIN_SERVICE_START_BOOT);
        check_dword(hv, s, svc, "ErrorControl", WIN_SERVICE_ERROR_NORMAL);
        check_sz(hv, s, svc, "ImagePath", image_path);
        for (guint j = 0; j < WIN_BLK_CDD_COUNT; j++) {
            g_autofree char *cdd = g_strdup_printf(WIN_CDD_KEY_FMT, cs, win_blk_cdd_ids[j]);
            hive_node_h k = media_hive_lookup(hv, cdd);
            if (!k)
                fm_violated("%s does not read back", cdd);
            check_sz(hv, k, cdd, "Service", SERVICE);
        }
    }
    media_hive_close(hv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const uint8_t *hive = data + 1;
    size--;
    g_autofree char *path = fm_write("in.hive", hive, size);
    switch (sel & 3) {
    case 0:
        bcd(path, sel, hive, size);
        break;
    case 1:
        software(path, sel, hive, size);
        break;
    default:
        system_hive(path, hive, size);
        break;
    }
    const char *const left[] = {"in.hive", NULL};
    fm_check_dir(left);
    return 0;
}
