/* `aero-media verify`: re-open a patched ISO with libisofs, wimlib and hivex and check every
 * promise of `aero-media win7` from the image itself — what is there decides what is checked
 * (every boot.wim image, the install.wim images that carry the drivers, every BCD store present,
 * the storage driver the hives name). The manifest, when there is one, only adds what the image
 * cannot tell: the output hash, the input's El Torito entries, the signing policy, the
 * certificate, which install images were asked for, and each staged file's hash.
 */
#include "verify.h"

#include "bcd.h"
#include "cert.h"
#include "error.h"
#include "drivers.h"
#include "hive.h"
#include "iso.h"
#include "manifest.h"
#include "unattend.h"
#include "util.h"
#include "wim.h"
#include "wincfg.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
    MediaVerifyFunc report;
    void *user;
    guint fails, checks;
    char *work;
    const char *path;
    MediaIso *iso;
    JsonObject *mf;   /* NULL without a manifest */
    MediaProgress *p;
    MediaArch arch;
    MediaSigning signing;
    char *svc;        /* storage service name */
    char *sys;        /* its binary's file name */
    char *sys_sha;    /* SHA-256 of the package copy on the media */
    GPtrArray *thumbs; /* certificate thumbprints every patched image must trust */
    GPtrArray *packages; /* staged package names */
    gboolean thumbs_known; /* from the manifest, or discovered in the first image */
    guint serial;
} V;

static void check(V *v, gboolean ok, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void check(V *v, gboolean ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    v->checks++;
    if (!ok)
        v->fails++;
    if (v->report)
        v->report(ok ? MEDIA_VERIFY_PASS : MEDIA_VERIFY_FAIL, msg, v->user);
}

static void info(V *v, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void info(V *v, const char *fmt, ...)
{
    if (!v->report)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    v->report(MEDIA_VERIFY_NOTE, msg, v->user);
}

static char *tmp_path(V *v, const char *name)
{
    return g_strdup_printf("%s/%u-%s", v->work, v->serial++, name);
}

/* A file of the ISO (lower-case path) copied out, or NULL. */
static char *extract(V *v, const char *lower, const char *name)
{
    const char *stored = media_iso_find(v->iso, lower);
    if (!stored)
        return NULL;
    char *dst = tmp_path(v, name);
    if (!media_iso_extract_file(v->iso, stored, dst, NULL, NULL)) {
        g_free(dst);
        return NULL;
    }
    return dst;
}

/* Files of the ISO below a lower-case folder prefix ("/aero/drivers/"), as stored, sorted. */
static GPtrArray *files_below(V *v, const char *prefix)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, media_iso_files(v->iso));
    while (g_hash_table_iter_next(&it, &k, &val))
        if (g_str_has_prefix(k, prefix))
            g_ptr_array_add(out, g_strdup(val));
    g_ptr_array_sort(out, (GCompareFunc)g_strcmp0);
    return out;
}

/* ---- PE machine of a driver binary ------------------------------------------------------- */

static guint pe_arch(const char *path)
{
    g_autofree char *d = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &d, &n, NULL) || n < 0x40 || d[0] != 'M' || d[1] != 'Z')
        return 0;
    const guint8 *b = (const guint8 *)d;
    guint32 pe = b[0x3c] | b[0x3d] << 8 | b[0x3e] << 16 | (guint32)b[0x3f] << 24;
    if (pe > n - 6 || memcmp(b + pe, "PE\0\0", 4) != 0)
        return 0;
    guint16 machine = b[pe + 4] | b[pe + 5] << 8;
    return machine == 0x8664 ? MEDIA_ARCH_AMD64 : machine == 0x14c ? MEDIA_ARCH_X86 : 0;
}

/* ---- BCD -------------------------------------------------------------------------------------- */

static void check_bcd(V *v, const char *path, const char *label, gboolean need_loader)
{
    MediaBcdReport r = {0};
    GError *e = NULL;
    if (!media_bcd_check(path, label, v->signing, &r, &e)) {
        check(v, FALSE, "%s", e->message);
        g_error_free(e);
        return;
    }
    guint missing = 0;
    for (guint i = 0; i < r.loaders->len; i++) {
        gboolean hit = FALSE;
        for (guint j = 0; j < r.patched->len; j++)
            hit |= !strcmp(g_ptr_array_index(r.patched, j), g_ptr_array_index(r.loaders, i));
        missing += !hit;
    }
    gboolean dflt = !r.default_loader;
    for (guint j = 0; r.default_loader && j < r.patched->len; j++)
        dflt |= !strcmp(g_ptr_array_index(r.patched, j), r.default_loader);
    if (need_loader)
        check(v, r.loaders->len > 0 && missing == 0 && dflt, "%s: %s on %s and all %u Windows loader(s)", label,
              media_signing_name(v->signing), r.default_loader ? "the {bootmgr} default" : "(no default)",
              r.loaders->len);
    else
        check(v, r.patched->len > 0, "%s: %s on %u object(s)", label, media_signing_name(v->signing), r.patched->len);
    media_bcd_report_clear(&r);
}

/* The policy a store carries on its default loader (or first loader). */
static MediaSigning discover_signing(const char *path)
{
    const MediaSigning kinds[] = {MEDIA_SIGNING_TESTSIGNING, MEDIA_SIGNING_NOINTEGRITYCHECKS};
    for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
        MediaBcdReport r = {0};
        gboolean hit = FALSE;
        if (media_bcd_check(path, "BCD", kinds[k], &r, NULL)) {
            const char *want = r.default_loader ? r.default_loader
                               : r.loaders->len ? g_ptr_array_index(r.loaders, 0) : NULL;
            for (guint j = 0; want && j < r.patched->len; j++)
                hit |= !strcmp(g_ptr_array_index(r.patched, j), want);
        }
        media_bcd_report_clear(&r);
        if (hit)
            return kinds[k];
    }
    return MEDIA_SIGNING_NONE;
}

static void check_bcd_stores(V *v)
{
    const char *stores[] = {WIN_MEDIA_BOOT_BCD, WIN_MEDIA_EFI_BCD};
    g_autofree char *boot_bcd = extract(v, stores[0], "BCD");
    check(v, boot_bcd != NULL, "boot/BCD present");
    const char *sig = media_manifest_str(v->mf, MF_SIGNING);
    if (sig)
        v->signing = media_signing_parse(sig, &v->signing) ? v->signing : MEDIA_SIGNING_NONE;
    else if (boot_bcd)
        v->signing = discover_signing(boot_bcd);
    info(v, "signing policy %s (%s)", media_signing_name(v->signing), sig ? "manifest" : "found in boot/BCD");
    if (v->signing == MEDIA_SIGNING_NONE)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        const char *stored = media_iso_find(v->iso, stores[i]);
        g_autofree char *x = stored ? extract(v, stores[i], "BCD") : NULL;
        if (stored)
            check_bcd(v, x, stored + 1, TRUE);
    }
}

/* ---- El Torito and the volume --------------------------------------------------------------- */

static const MediaBootEntry *entry_for(GPtrArray *entries, const char *platform)
{
    for (guint i = 0; entries && i < entries->len; i++) {
        const MediaBootEntry *e = g_ptr_array_index(entries, i);
        if (!strcmp(e->platform, platform))
            return e;
    }
    return NULL;
}

static void check_boot(V *v)
{
    GError *e = NULL;
    g_autoptr(GPtrArray) got = media_iso_boot_entries(v->iso, &e);
    if (!got) {
        check(v, FALSE, "%s", e->message);
        g_error_free(e);
        return;
    }
    const MediaBootEntry *bios = entry_for(got, "BIOS"), *uefi = entry_for(got, "UEFI");
    /* the boot file, or (as on media whose boot images are in no directory) data of its own */
    gboolean bios_hidden = bios && !bios->path;
    check(v, bios && (bios_hidden ? bios->sha256 != NULL : !g_ascii_strcasecmp(bios->path, "/boot/etfsboot.com")) &&
                 !strcmp(bios->emulation, "none"),
          "El Torito BIOS entry boots %s without emulation",
          bios_hidden ? "a boot image in no directory" : "/boot/etfsboot.com");
    JsonArray *want = media_manifest_arr(v->mf, MF_EL_TORITO);
    /* without the input's entries to compare with: x64 media carrying efisys.bin boot by UEFI */
    if (!want && media_iso_find(v->iso, "/efi/microsoft/boot/efisys.bin"))
        check(v, uefi && uefi->path && !g_ascii_strcasecmp(uefi->path, "/efi/microsoft/boot/efisys.bin") &&
                     !strcmp(uefi->emulation, "none"),
              "El Torito UEFI entry boots /efi/microsoft/boot/efisys.bin without emulation");
    if (!want)
        return;
    /* the input's entries, recorded by the run: same platform, emulation, load size, path and
     * boot image bytes (only the block addresses move) */
    gboolean same = media_manifest_boot_entries_match(want, got);
    check(v, same, "El Torito: %u entr%s as in the input (platform, emulation, load size, path, boot image SHA-256)",
          got->len, got->len == 1 ? "y" : "ies");
}

/* ---- drivers on the media ------------------------------------------------------------------ */

static void check_staged(V *v)
{
    g_autofree char *drivers = g_ascii_strdown("/" WIN_MEDIA_DRIVERS "/", -1);
    g_autoptr(GPtrArray) all = files_below(v, drivers);
    const char *arch = media_arch_name(v->arch);
    g_autofree char *prefix = g_strdup_printf("%s%s/", drivers, arch);
    guint other = 0;
    for (guint i = 0; i < all->len; i++) {
        g_autofree char *l = g_utf8_strdown(g_ptr_array_index(all, i), -1);
        other += !g_str_has_prefix(l, prefix);
    }
    check(v, all->len > 0 && other == 0, "driver packages staged under " WIN_MEDIA_DRIVERS "/%s only (the media's architecture)",
          arch);
    /* copy the arch folder out and validate it as a driver tree: INFs parse, name their files,
     * have models for this architecture, and blk and net are there */
    g_autofree char *root = tmp_path(v, "drivers");
    gboolean copied = all->len > 0;
    for (guint i = 0; i < all->len; i++) {
        const char *stored = g_ptr_array_index(all, i);
        g_autofree char *l = g_utf8_strdown(stored, -1);
        if (!g_str_has_prefix(l, prefix))
            continue;
        g_autofree char *dst = g_build_filename(root, stored + strlen(prefix), NULL);
        g_autofree char *dd = g_path_get_dirname(dst);
        copied &= media_mkdir_below(v->work, dd, NULL) && media_iso_extract_file(v->iso, stored, dst, NULL, NULL);
    }
    MediaScanOptions so = {.archs = v->arch, .required_archs = v->arch, .allow_unsigned = TRUE};
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    g_autoptr(GPtrArray) pkgs = copied ? media_drivers_scan(root, &so, notes, &e) : NULL;
    if (!pkgs) {
        g_autofree char *m = e ? media_replace_prefix(e->message, root, WIN_MEDIA_DRIVERS) : g_strdup("nothing staged");
        check(v, FALSE, "staged drivers: %s", m);
        g_clear_error(&e);
        return;
    }
    guint pe_ok = 0, sys_total = 0;
    GString *names = g_string_new(NULL);
    for (guint i = 0; i < pkgs->len; i++) {
        const MediaPackage *p = g_ptr_array_index(pkgs, i);
        g_ptr_array_add(v->packages, g_path_get_basename(p->dir));
        g_string_append_printf(names, "%s%s (%s)", i ? ", " : "", media_device_name(p->device),
                               (char *)g_ptr_array_index(v->packages, v->packages->len - 1));
        g_autofree char *sys = g_build_filename(p->dir, p->sys, NULL);
        sys_total++;
        pe_ok += pe_arch(sys) == v->arch;
        g_autofree char *sys_base = g_path_get_basename(p->sys);
        if (v->sys && p->device == MEDIA_DEV_BLK && !g_ascii_strcasecmp(sys_base, v->sys))
            v->sys_sha = media_sha256_file(sys, NULL, NULL);
    }
    check(v, TRUE, "staged drivers are valid %s packages: %s", arch, names->str);
    check(v, pe_ok == sys_total, "staged driver binaries are %s PE images (%u of %u)", arch, pe_ok, sys_total);
    g_string_free(names, TRUE);
}

static void check_driver_hashes(V *v)
{
    JsonArray *drivers = media_manifest_arr(v->mf, MF_DRIVERS);
    for (guint i = 0; drivers && i < json_array_get_length(drivers); i++) {
        JsonObject *d = json_array_get_object_element(drivers, i);
        JsonArray *files = media_manifest_arr(d, MF_FILES);
        guint good = 0, n = files ? json_array_get_length(files) : 0;
        for (guint f = 0; f < n; f++) {
            JsonObject *fo = json_array_get_object_element(files, f);
            g_autofree char *lower = g_utf8_strdown(media_manifest_str(fo, MF_PATH) ? media_manifest_str(fo, MF_PATH) : "", -1);
            g_autofree char *path = g_strdup_printf("/%s", lower);
            const char *stored = media_iso_find(v->iso, path);
            g_autofree char *h = stored ? media_iso_file_sha256(v->iso, stored, NULL) : NULL;
            good += h && !g_strcmp0(h, media_manifest_str(fo, MF_SHA256));
        }
        check(v, n && good == n, "driver %s (%s): %u file(s) on the media match their SHA-256", media_manifest_str(d, MF_NAME),
              media_manifest_str(d, MF_DEVICE), n);
    }
}

/* ---- hives ------------------------------------------------------------------------------------ */

static gboolean cert_in_store(MediaHive *hv, const char *store, const char *thumb)
{
    g_autofree char *p = g_strdup_printf(WIN_CERT_KEY_FMT, store, thumb);
    hive_node_h k = media_hive_lookup(hv, p);
    hive_type t;
    g_autoptr(GBytes) blob = k ? media_hive_get_data(hv, k, WIN_CERT_BLOB, &t) : NULL;
    gsize n = 0;
    const guint8 *b = blob ? g_bytes_get_data(blob, &n) : NULL;
    g_autoptr(GBytes) der = b ? media_cert_blob_der(b, n) : NULL;
    g_autofree char *sha = der ? g_compute_checksum_for_bytes(G_CHECKSUM_SHA1, der) : NULL;
    return sha && !g_ascii_strcasecmp(sha, thumb);
}

/* Without a manifest: the certificates this image's TrustedPublisher holds become the expected
 * set (the first image decides; aero-media puts the same one in every image). */
static void discover_thumbs(V *v, MediaHive *hv)
{
    g_autofree char *store = g_strdup_printf(WIN_CERT_STORES_KEY_FMT, WIN_CERT_STORE_TRUSTED_PUBLISHER);
    hive_node_h k = media_hive_lookup(hv, store);
    hive_node_h *kids = k ? hivex_node_children(hv->h, k) : NULL;
    for (size_t i = 0; kids && kids[i]; i++) {
        char *name = hivex_node_name(hv->h, kids[i]);
        if (name) /* NULL: a damaged key, no thumbprint */
            g_ptr_array_add(v->thumbs, g_ascii_strup(name, -1));
        free(name);
    }
    free(kids);
}

static void check_software(V *v, MediaHive *hv, gboolean install)
{
    if (!v->thumbs_known)
        discover_thumbs(v, hv);
    v->thumbs_known = TRUE;
    for (guint i = 0; i < v->thumbs->len; i++) {
        const char *t = g_ptr_array_index(v->thumbs, i);
        check(v, cert_in_store(hv, WIN_CERT_STORE_ROOT, t) && cert_in_store(hv, WIN_CERT_STORE_TRUSTED_PUBLISHER, t),
              "%s: certificate %s in ROOT and TrustedPublisher (Blob parses, DER's SHA-1 matches)", hv->label, t);
    }
    if (!install)
        return;
    hive_node_h k = media_hive_lookup(hv, WIN_CURRENT_VERSION_KEY);
    char *dp = k ? media_hive_get_string(hv, k, WIN_DEVICE_PATH) : NULL;
    guint listed = 0;
    for (guint i = 0; dp && i < v->packages->len; i++) {
        g_autofree char *entry = g_strdup_printf(WIN_DEVICE_PATH_ENTRY_FMT, (char *)g_ptr_array_index(v->packages, i));
        g_autofree char *l_dp = g_ascii_strdown(dp, -1), *l_entry = g_ascii_strdown(entry, -1);
        listed += strstr(l_dp, l_entry) != NULL;
    }
    check(v, dp && v->packages->len && listed == v->packages->len,
          "%s: DevicePath lists every staged package (%u of %u)", hv->label, listed, v->packages->len);
    free(dp);
}

static gboolean service_ok(MediaHive *hv, const char *cs, const char *svc, const char *sys)
{
    g_autofree char *sp = g_strdup_printf(WIN_SERVICE_KEY_FMT, cs, svc);
    hive_node_h s = media_hive_lookup(hv, sp);
    guint32 start = 99, type = 99, ec = 99;
    char *ip = s ? media_hive_get_string(hv, s, "ImagePath") : NULL;
    g_autofree char *want = g_strdup_printf(WIN_SERVICE_IMAGE_PATH_FMT, sys);
    gboolean ok = s && media_hive_get_dword(hv, s, "Start", &start) && media_hive_get_dword(hv, s, "Type", &type) &&
                  media_hive_get_dword(hv, s, "ErrorControl", &ec) && start == WIN_SERVICE_START_BOOT && type == WIN_SERVICE_TYPE_KERNEL &&
                  ec == WIN_SERVICE_ERROR_NORMAL && ip &&
                  !g_ascii_strcasecmp(ip, want);
    free(ip);
    return ok;
}

static gboolean cdd_ok(MediaHive *hv, const char *cs, const char *svc, guint *variants)
{
    *variants = 0;
    for (guint i = 0; i < WIN_BLK_CDD_COUNT; i++) {
        g_autofree char *p = g_strdup_printf(WIN_CDD_KEY_FMT, cs, win_blk_cdd_ids[i]);
        hive_node_h k = media_hive_lookup(hv, p);
        char *service = k ? media_hive_get_string(hv, k, "Service") : NULL;
        char *guid = k ? media_hive_get_string(hv, k, "ClassGUID") : NULL;
        *variants += service && !strcmp(service, svc) && guid && !g_ascii_strcasecmp(guid, WIN_SCSIADAPTER_CLASS_GUID);
        free(service);
        free(guid);
    }
    return *variants == WIN_BLK_CDD_COUNT;
}

/* Without a manifest: the storage service the current ControlSet's CDD names for the blk
 * function, and its binary from the service's ImagePath. */
static void discover_storage(V *v, MediaHive *hv)
{
    guint32 cur = 0;
    if (!win_current_control_set(hv, &cur))
        return;
    g_autofree char *cs = g_strdup_printf(WIN_CONTROL_SET_FMT, cur);
    g_autofree char *cdd = g_strdup_printf(WIN_CDD_KEY_FMT, cs, win_blk_cdd_ids[0]);
    hive_node_h k = media_hive_lookup(hv, cdd);
    char *svc = k ? media_hive_get_string(hv, k, "Service") : NULL;
    g_autofree char *sp = svc ? g_strdup_printf(WIN_SERVICE_KEY_FMT, cs, svc) : NULL;
    hive_node_h s = sp ? media_hive_lookup(hv, sp) : 0;
    char *ip = s ? media_hive_get_string(hv, s, "ImagePath") : NULL;
    if (svc && ip) {
        g_strdelimit(ip, "\\", '/');
        v->svc = g_strdup(svc);
        v->sys = g_path_get_basename(ip);
    }
    free(svc);
    free(ip);
}

static void check_system(V *v, MediaHive *hv)
{
    guint32 cur = 0;
    gboolean have = win_current_control_set(hv, &cur);
    g_autofree char *current = g_strdup_printf(WIN_CONTROL_SET_FMT, cur);
    check(v, have && media_hive_lookup(hv, current), "%s: Select\\Current names %s, which exists", hv->label,
          have ? current : "nothing");
    if (!v->svc)
        return;
    hive_node_h *kids = hivex_node_children(hv->h, hivex_root(hv->h));
    guint sets = 0, good_svc = 0, good_cdd = 0;
    for (size_t i = 0; kids && kids[i]; i++) {
        char *name = hivex_node_name(hv->h, kids[i]);
        if (win_is_control_set(name)) {
            guint variants;
            sets++;
            good_svc += service_ok(hv, name, v->svc, v->sys);
            good_cdd += cdd_ok(hv, name, v->svc, &variants);
        }
        free(name);
    }
    free(kids);
    check(v, sets && good_svc == sets, "%s: %s boot-start kernel driver (ImagePath system32\\drivers\\%s) in %u of %u ControlSet(s)",
          hv->label, v->svc, v->sys, good_svc, sets);
    check(v, sets && good_cdd == sets,
          "%s: CriticalDeviceDatabase " WIN_BLK_CDD_DESCRIPTION " -> %s in %u of %u ControlSet(s)",
          hv->label, v->svc, good_cdd, sets);
}

/* ---- images ----------------------------------------------------------------------------------- */

static void check_image(V *v, MediaWim *w, const char *wimname, int img, gboolean install)
{
    g_autofree char *lab = g_strdup_printf("%s[%d]", wimname, img);
    g_autofree char *sw = tmp_path(v, "SOFTWARE"), *sy = tmp_path(v, "SYSTEM");
    GError *e = NULL;
    guint a = media_wim_image_arch(w, img);
    check(v, a == v->arch, "%s: architecture %s (WINDOWS/ARCH %s)", lab, a ? media_arch_name(a) : "unknown",
          media_wim_image_arch_text(w, img) ? media_wim_image_arch_text(w, img) : "missing");
    if (!media_wim_extract_file(w, img, WIN_IMAGE_SOFTWARE, sw, &e) ||
        !media_wim_extract_file(w, img, WIN_IMAGE_SYSTEM, sy, &e)) {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
        return;
    }
    g_autofree char *lsy = g_strdup_printf("%s SYSTEM", lab);
    g_autofree char *lsw = g_strdup_printf("%s SOFTWARE", lab);
    MediaHive *hv = media_hive_open(sy, lsy, FALSE, &e);
    if (hv) {
        if (!v->svc)
            discover_storage(v, hv);
        check_system(v, hv);
        media_hive_close(hv);
    } else {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
    }
    hv = media_hive_open(sw, lsw, FALSE, &e);
    if (hv) {
        check_software(v, hv, install);
        media_hive_close(hv);
    } else {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
    }
    if (v->sys) {
        g_autofree char *sysp = g_strdup_printf(WIN_IMAGE_DRIVER_FMT, v->sys);
        g_autofree char *sysf = tmp_path(v, v->sys);
        gboolean there = media_wim_extract_file(w, img, sysp, sysf, NULL);
        g_autofree char *h = there ? media_sha256_file(sysf, NULL, NULL) : NULL;
        check(v, h && v->sys_sha && !strcmp(h, v->sys_sha), "%s: %s present and equal to the media's package copy",
              lab, sysp);
    } else {
        check(v, FALSE, "%s: no storage driver to look for (no CriticalDeviceDatabase entry for " WIN_BLK_HWID ")",
              lab);
    }
    if (!install)
        return;
    g_autofree char *ad = tmp_path(v, "AeroDrivers");
    gboolean staged = media_wim_extract_dir(w, img, WIN_IMAGE_AERO_DRIVERS, ad, NULL);
    guint present = 0;
    for (guint i = 0; staged && i < v->packages->len; i++) {
        g_autofree char *d = g_build_filename(ad, g_ptr_array_index(v->packages, i), NULL);
        present += g_file_test(d, G_FILE_TEST_IS_DIR);
    }
    check(v, staged && v->packages->len && present == v->packages->len,
          "%s: " WIN_IMAGE_AERO_DRIVERS " holds every staged package (%u of %u)", lab, present, v->packages->len);
    if (v->signing != MEDIA_SIGNING_NONE) {
        g_autofree char *t = tmp_path(v, "BCD-Template");
        g_autofree char *lt = g_strdup_printf("%s BCD-Template", lab);
        if (media_wim_extract_file(w, img, WIN_IMAGE_BCD_TEMPLATE, t, &e)) {
            check_bcd(v, t, lt, FALSE);
        } else {
            check(v, FALSE, "%s", e->message);
            g_clear_error(&e);
        }
    }
}

typedef struct {
    MediaIso *iso;
    const char *stored;
    char *work; /* the work copy being filled, for errors */
} WimInIso;

static gboolean copy_from_iso(void *user, guint64 offset, guint64 length, int fd, GError **error)
{
    WimInIso *s = user;
    return media_iso_copy_range(s->iso, s->stored, offset, length, fd, s->work, error);
}

static MediaWim *open_wim(V *v, WimInIso *s, const char *lower, const char *name)
{
    s->iso = v->iso;
    s->stored = media_iso_find(v->iso, lower);
    if (!s->stored) {
        check(v, FALSE, "%s present", lower + 1);
        return NULL;
    }
    g_autofree char *work = tmp_path(v, name);
    g_free(s->work);
    s->work = g_strdup(work);
    g_autofree char *label = g_strdup_printf("%s:%s", v->path, s->stored);
    MediaWimSource src = {(guint64)media_iso_file_size(v->iso, s->stored), copy_from_iso, s};
    GError *e = NULL;
    MediaWim *w = media_wim_open(&src, work, label, v->p, &e);
    check(v, w != NULL, "%s opens with wimlib%s%s", s->stored + 1, e ? ": " : "", e ? e->message : "");
    g_clear_error(&e);
    return w;
}

/* The install images to check: the manifest's, else every image that carries the drivers. */
static GArray *patched_install_images(V *v, MediaWim *inst)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(int));
    JsonArray *listed = media_manifest_arr(v->mf, MF_INSTALL_WIM);
    for (guint i = 0; listed && i < json_array_get_length(listed); i++) {
        int img = (int)json_object_get_int_member_with_default(json_array_get_object_element(listed, i), MF_INDEX, 0);
        g_array_append_val(out, img);
    }
    if (listed)
        return out;
    for (int img = 1; img <= media_wim_image_count(inst); img++)
        if (media_wim_exists(inst, img, WIN_IMAGE_AERO_DRIVERS))
            g_array_append_val(out, img);
    return out;
}

/* ---- autounattend.xml -------------------------------------------------------------------------- */

typedef struct {
    GPtrArray *paths, *archs;
    GString *text;
    gboolean use_config_set;
    const char *element;
} UnattendScan;

static void ua_start(GMarkupParseContext *ctx, const char *name, const char **an, const char **av, gpointer data,
                     GError **error)
{
    UnattendScan *u = data;
    u->element = name;
    g_string_truncate(u->text, 0);
    for (guint i = 0; an[i]; i++)
        if (!strcmp(an[i], "processorArchitecture"))
            g_ptr_array_add(u->archs, g_strdup(av[i]));
}

static void ua_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
    g_string_append_len(((UnattendScan *)data)->text, text, (gssize)len);
}

static void ua_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
    UnattendScan *u = data;
    if (!strcmp(name, "Path"))
        g_ptr_array_add(u->paths, g_strdup(u->text->str));
    if (!strcmp(name, "UseConfigurationSet") && !strcmp(g_strstrip(u->text->str), "true"))
        u->use_config_set = TRUE;
    g_string_truncate(u->text, 0);
}

/* Whether a media folder (backslash path relative to the root) holds at least one INF below it. */
static gboolean folder_has_infs(V *v, const char *rel)
{
    g_autofree char *l = g_utf8_strdown(rel, -1);
    g_strdelimit(l, "\\", '/');
    g_autofree char *prefix = g_strdup_printf("/%s/", l);
    g_autoptr(GPtrArray) files = files_below(v, prefix);
    for (guint i = 0; i < files->len; i++)
        if (g_str_has_suffix(g_ptr_array_index(files, i), ".inf") || g_str_has_suffix(g_ptr_array_index(files, i), ".INF"))
            return TRUE;
    return FALSE;
}

static void check_unattend(V *v)
{
    const char *want = media_manifest_str(v->mf, MF_UNATTEND);
    const char *stored = media_iso_find(v->iso, WIN_MEDIA_UNATTEND);
    g_autofree char *x = stored ? extract(v, WIN_MEDIA_UNATTEND, WIN_MEDIA_UNATTEND + 1) : NULL;
    g_autofree char *xml = NULL;
    if (x)
        g_file_get_contents(x, &xml, NULL, NULL);
    gboolean ours = xml && strstr(xml, "written by aero-media");
    if (want && (!strcmp(want, media_unattend_name(MEDIA_UNATTEND_NONE)) || !strcmp(want, MF_UNATTEND_REMOVED))) {
        check(v, !stored, "autounattend.xml absent (--unattend none)");
        return;
    }
    if (want && !strcmp(want, MF_UNATTEND_KEPT)) {
        check(v, stored && !ours, "autounattend.xml: the input's own, kept");
        return;
    }
    if (!want && !ours) {
        info(v, "autounattend.xml: %s", stored ? "not written by aero-media; not checked" : "none");
        return;
    }
    check(v, ours, "autounattend.xml written by aero-media present");
    if (!ours)
        return;
    UnattendScan u = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free), g_string_new(NULL),
                      FALSE, NULL};
    GMarkupParser parser = {ua_start, ua_end, ua_text, NULL, NULL};
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &u, NULL);
    GError *e = NULL;
    gboolean wf = g_markup_parse_context_parse(ctx, xml, -1, &e) && g_markup_parse_context_end_parse(ctx, &e);
    check(v, wf, "autounattend.xml is well-formed XML%s%s", e ? ": " : "", e ? e->message : "");
    g_clear_error(&e);
    g_markup_parse_context_free(ctx);
    guint arch_ok = 0, paths_ok = 0, driver_paths = 0;
    gboolean config_root = FALSE;
    for (guint i = 0; i < u.archs->len; i++)
        arch_ok += !strcmp(g_ptr_array_index(u.archs, i), media_arch_name(v->arch));
    check(v, u.archs->len && arch_ok == u.archs->len, "autounattend.xml: every component is for %s",
          media_arch_name(v->arch));
    g_autofree char *script = g_strdelimit(g_strdup(MEDIA_UNATTEND_DISK_SCRIPT), "/", '\\'); /* as Windows writes it */
    for (guint i = 0; i < u.paths->len; i++) {
        const char *pth = g_strstrip((char *)g_ptr_array_index(u.paths, i));
        if (g_str_has_prefix(pth, "%configsetroot%\\")) {
            config_root = TRUE;
            driver_paths++;
            paths_ok += folder_has_infs(v, pth + 16);
        } else if (strstr(pth, script)) {
            guint there = 0;
            for (guint f = 0; f < MEDIA_UNATTEND_SETUP_FILES; f++) {
                g_autofree char *sp = g_strdup_printf("/%s/%s", MEDIA_UNATTEND_SETUP_DIR, media_unattend_setup_files[f]);
                g_autofree char *lower = g_ascii_strdown(sp, -1);
                there += media_iso_find(v->iso, lower) != NULL;
            }
            paths_ok += there == MEDIA_UNATTEND_SETUP_FILES;
        }
    }
    check(v, driver_paths >= 2 && paths_ok == u.paths->len,
          "autounattend.xml: %u path(s) (%u driver folder(s)), all present on the media", u.paths->len, driver_paths);
    if (config_root)
        check(v, u.use_config_set, "autounattend.xml: %%configsetroot%% comes with UseConfigurationSet true");
    g_ptr_array_unref(u.paths);
    g_ptr_array_unref(u.archs);
    g_string_free(u.text, TRUE);
}

/* ---- the checklist ---------------------------------------------------------------------------- */

static gboolean load_manifest(const char *iso, const char *manifest, JsonParser *p, JsonObject **out, GError **error)
{
    g_autofree char *def = g_strconcat(iso, MF_BESIDE_SUFFIX, NULL);
    *out = NULL;
    if (!manifest && !g_file_test(def, G_FILE_TEST_EXISTS))
        return TRUE;
    *out = media_manifest_load(p, manifest ? manifest : def, error);
    return *out != NULL;
}

static void check_storage_source(V *v)
{
    JsonObject *sd = media_manifest_obj(v->mf, MF_STORAGE_DRIVER);
    if (sd && media_manifest_str(sd, MF_SERVICE) && media_manifest_str(sd, MF_SYS)) {
        v->svc = g_strdup(media_manifest_str(sd, MF_SERVICE));
        g_autofree char *s = g_strdup(media_manifest_str(sd, MF_SYS));
        v->sys = g_path_get_basename(s);
        info(v, "storage driver %s (%s), from the manifest", v->svc, v->sys);
    }
}

gboolean media_verify(MediaVerifyOptions *o, GError **error)
{
    const char *iso = o->iso, *manifest = o->manifest;
    MediaProgress *p = o->progress;
    V v = {.report = o->report, .user = o->user, .path = iso, .p = p};
    g_autoptr(JsonParser) parser = json_parser_new();
    MediaWim *boot = NULL, *inst = NULL;
    WimInIso boot_src = {0}, inst_src = {0};
    gboolean ok = FALSE;
    g_autoptr(GArray) images = NULL;

    if (!load_manifest(iso, manifest, parser, &v.mf, error))
        return FALSE;
    v.iso = media_iso_open(iso, error);
    if (!v.iso)
        return FALSE;
    v.work = media_cleanup_tmp_dir("aero-media-verify-XXXXXX", error);
    if (!v.work) {
        g_prefix_error(error, "%s: cannot create a temporary folder: ", g_get_tmp_dir());
        goto out;
    }
    v.thumbs = g_ptr_array_new_with_free_func(g_free);
    v.packages = g_ptr_array_new_with_free_func(g_free);
    if (!v.mf)
        info(&v, "no manifest: checking what the image itself shows");

    if (v.mf) {
        JsonObject *out = media_manifest_obj(v.mf, MF_OUTPUT);
        g_autofree char *sha = media_sha256_file(iso, p, error);
        if (!sha)
            goto out;
        check(&v, out && !g_strcmp0(media_manifest_str(out, MF_SHA256), sha), "output SHA-256 matches the manifest");
        const char *vol = media_manifest_str(v.mf, MF_VOLUME_ID);
        check(&v, vol && !strcmp(vol, media_iso_volume_id(v.iso)), "volume ID %s as the manifest records",
              media_iso_volume_id(v.iso));
        v.thumbs_known = TRUE;
        JsonObject *cert = media_manifest_obj(v.mf, MF_CERTIFICATE);
        if (media_manifest_str(cert, MF_THUMBPRINT))
            g_ptr_array_add(v.thumbs, g_ascii_strup(media_manifest_str(cert, MF_THUMBPRINT), -1));
    } else {
        info(&v, "volume ID %s", media_iso_volume_id(v.iso));
    }
    check_boot(&v);
    check_storage_source(&v);

    boot = open_wim(&v, &boot_src, WIN_MEDIA_BOOT_WIM, "boot.wim");
    inst = open_wim(&v, &inst_src, WIN_MEDIA_INSTALL_WIM, "install.wim");
    if (!boot || !inst)
        goto summary;
    v.arch = media_wim_image_arch(boot, 1);
    check(&v, v.arch != 0, "media architecture %s (boot.wim image 1's WINDOWS/ARCH)", v.arch ? media_arch_name(v.arch) : "unknown");
    if (!v.arch)
        goto summary;
    if (!v.svc) { /* the storage driver, from the boot image Setup runs */
        g_autofree char *sy = tmp_path(&v, "SYSTEM");
        MediaHive *hv = media_wim_extract_file(boot, media_wim_image_count(boot), WIN_IMAGE_SYSTEM, sy, NULL)
                            ? media_hive_open(sy, "boot.wim SYSTEM", FALSE, NULL) : NULL;
        if (hv)
            discover_storage(&v, hv);
        media_hive_close(hv);
        if (v.svc)
            info(&v, "storage driver %s (%s), from boot.wim's CriticalDeviceDatabase", v.svc, v.sys);
    }
    check(&v, v.svc != NULL, "storage driver for " WIN_BLK_HWID " known (%s)", v.svc ? v.svc : "none pre-seeded");
    check_staged(&v);
    check_driver_hashes(&v);
    check(&v, v.sys_sha != NULL, "storage driver %s staged on the media as part of the blk package", v.sys ? v.sys : "?");
    check_bcd_stores(&v);
    for (int img = 1; img <= media_wim_image_count(boot) && !media_progress_cancelled(p); img++)
        check_image(&v, boot, "boot.wim", img, FALSE);
    images = patched_install_images(&v, inst);
    check(&v, images->len > 0, "install.wim: %u image(s) patched%s", images->len, v.mf ? " as the manifest lists" : "");
    for (guint i = 0; i < images->len && !media_progress_cancelled(p); i++) {
        int img = g_array_index(images, int, i);
        if (img < 1 || img > media_wim_image_count(inst))
            check(&v, FALSE, "install.wim image %d exists", img);
        else
            check_image(&v, inst, "install.wim", img, TRUE);
    }
    check_unattend(&v);
summary:
    if (!media_progress_check(p, iso, error))
        goto out;
    if (v.fails)
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_CHECKS_FAILED, "%s: %u of %u checks failed", iso, v.fails, v.checks);
    ok = v.fails == 0;
out:
    if (!ok)
        media_progress_check(p, iso, error); /* a stop, not what failed on the way out */
    media_wim_close(boot);
    media_wim_close(inst);
    g_free(boot_src.work);
    g_free(inst_src.work);
    if (v.work) {
        media_rm_rf(v.work);
        media_cleanup_remove(v.work);
        g_free(v.work);
    }
    media_iso_close(v.iso);
    if (v.thumbs)
        g_ptr_array_unref(v.thumbs);
    if (v.packages)
        g_ptr_array_unref(v.packages);
    g_free(v.svc);
    g_free(v.sys);
    g_free(v.sys_sha);
    o->checks = v.checks;
    o->fails = v.fails;
    media_error_adopt(error); /* GLib and json-glib errors on the way, too */
    return ok;
}
