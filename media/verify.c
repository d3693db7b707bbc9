/* `aero-media verify`: re-open a patched ISO with the same libraries and check every promise of
 * `aero-media win7` from the image itself (the manifest says what to expect: signing policy,
 * certificate, indexes, driver hashes, boot entries), printing a checklist.
 */
#include "win7.h"

#include "cert.h"
#include "hive.h"
#include "iso.h"
#include "util.h"
#include "wim.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
    gboolean quiet;
    guint fails, checks;
    char *work;
    const char *iso;
    GHashTable *files;
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
    if (!v->quiet || !ok)
        g_print("[%s] %s\n", ok ? " ok " : "FAIL", msg);
}

static const char *member_str(JsonObject *o, const char *k)
{
    return o && json_object_has_member(o, k) && !json_object_get_null_member(o, k)
               ? json_object_get_string_member(o, k) : NULL;
}

static char *extract(V *v, const char *lower, const char *name)
{
    const char *stored = g_hash_table_lookup(v->files, lower);
    if (!stored)
        return NULL;
    char *dst = g_build_filename(v->work, name, NULL);
    if (!media_iso_extract_file(v->iso, stored, dst, NULL)) {
        g_free(dst);
        return NULL;
    }
    return dst;
}

static void check_bcd(V *v, const char *path, const char *label, MediaSigning s, gboolean need_loader)
{
    MediaBcdReport r = {0};
    GError *e = NULL;
    if (!media_bcd_check(path, label, s, &r, &e)) {
        check(v, FALSE, "%s: %s", label, e->message);
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
        check(v, r.loaders->len > 0 && missing == 0 && dflt,
              "%s: %s on %s and all %u Windows loader(s)", label, media_signing_name(s),
              r.default_loader ? "the {bootmgr} default" : "(no default)", r.loaders->len);
    else
        check(v, r.patched->len > 0, "%s: %s on %u object(s)", label, media_signing_name(s), r.patched->len);
    media_bcd_report_clear(&r);
}

static void check_cert(V *v, MediaHive *hv, const char *thumb)
{
    const char *stores[] = {"ROOT", "TrustedPublisher"};
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        g_autofree char *p = g_strdup_printf("Microsoft\\SystemCertificates\\%s\\Certificates\\%s", stores[i], thumb);
        hive_node_h k = media_hive_lookup(hv, p);
        hive_type t;
        g_autoptr(GBytes) blob = k ? media_hive_get_data(hv, k, "Blob", &t) : NULL;
        gsize n = 0;
        const guint8 *b = blob ? g_bytes_get_data(blob, &n) : NULL;
        g_autoptr(GBytes) der = b ? media_cert_blob_der(b, n) : NULL;
        g_autofree char *sha = der ? g_compute_checksum_for_bytes(G_CHECKSUM_SHA1, der) : NULL;
        check(v, sha && !g_ascii_strcasecmp(sha, thumb), "%s: certificate %s in %s (Blob parses, DER matches)",
              hv->label, thumb, stores[i]);
    }
}

static void check_system(V *v, MediaHive *hv, const char *svc, const char *sys)
{
    guint32 cur = 0;
    hive_node_h sel = media_hive_lookup(hv, "Select");
    gboolean have = sel && media_hive_get_dword(hv, sel, "Current", &cur);
    g_autofree char *cs = g_strdup_printf("ControlSet%03u", cur);
    g_autofree char *sp = g_strdup_printf("%s\\Services\\%s", cs, svc);
    hive_node_h s = have ? media_hive_lookup(hv, sp) : 0;
    guint32 start = 99, type = 99;
    char *ip = s ? media_hive_get_string(hv, s, "ImagePath") : NULL;
    g_autofree char *want_ip = g_strdup_printf("system32\\drivers\\%s", sys);
    gboolean ok = s && media_hive_get_dword(hv, s, "Start", &start) && media_hive_get_dword(hv, s, "Type", &type) &&
                  start == 0 && type == 1 && ip && !g_ascii_strcasecmp(ip, want_ip);
    free(ip);
    check(v, ok, "%s: %s\\Services\\%s boot-start kernel driver, ImagePath %s", hv->label, cs, svc, want_ip);
    g_autofree char *cdd = g_strdup_printf("%s\\Control\\CriticalDeviceDatabase\\pci#ven_1af4&dev_1042", cs);
    hive_node_h k = have ? media_hive_lookup(hv, cdd) : 0;
    char *service = k ? media_hive_get_string(hv, k, "Service") : NULL;
    check(v, service && !strcmp(service, svc), "%s: CriticalDeviceDatabase pci#ven_1af4&dev_1042 -> %s",
          hv->label, svc);
    free(service);
}

static void check_image(V *v, MediaWim *w, const char *wimname, int img, JsonObject *mf, gboolean install,
                        const char *svc, const char *sys, MediaSigning s)
{
    g_autofree char *dir = g_strdup_printf("%s/%s-%d", v->work, wimname, img);
    g_mkdir_with_parents(dir, 0700);
    g_autofree char *sw = g_build_filename(dir, "SOFTWARE", NULL);
    g_autofree char *sy = g_build_filename(dir, "SYSTEM", NULL);
    g_autofree char *sysf = g_build_filename(dir, "driver.sys", NULL);
    g_autofree char *sysp = g_strdup_printf("/Windows/System32/drivers/%s", sys);
    g_autofree char *lab = g_strdup_printf("%s[%d]", wimname, img);
    GError *e = NULL;
    if (!media_wim_extract_file(w, img, "/Windows/System32/config/SOFTWARE", sw, &e) ||
        !media_wim_extract_file(w, img, "/Windows/System32/config/SYSTEM", sy, &e)) {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
        return;
    }
    check(v, media_wim_extract_file(w, img, sysp, sysf, NULL), "%s: %s present", lab, sysp);
    JsonObject *cert = json_object_has_member(mf, "certificate") ? json_object_get_object_member(mf, "certificate") : NULL;
    g_autofree char *lsw = g_strdup_printf("%s SOFTWARE", lab);
    g_autofree char *lsy = g_strdup_printf("%s SYSTEM", lab);
    MediaHive *hv = media_hive_open(sw, lsw, FALSE, &e);
    if (hv) {
        if (cert)
            check_cert(v, hv, member_str(cert, "thumbprint"));
        if (install) {
            hive_node_h k = media_hive_lookup(hv, "Microsoft\\Windows\\CurrentVersion");
            char *dp = k ? media_hive_get_string(hv, k, "DevicePath") : NULL;
            check(v, dp && strstr(dp, "%SystemRoot%\\AeroDrivers\\"), "%s: DevicePath lists the staged drivers", lsw);
            free(dp);
        }
        media_hive_close(hv);
    } else {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
    }
    hv = media_hive_open(sy, lsy, FALSE, &e);
    if (hv) {
        check_system(v, hv, svc, sys);
        media_hive_close(hv);
    } else {
        check(v, FALSE, "%s", e->message);
        g_clear_error(&e);
    }
    if (install) {
        g_autofree char *t = g_build_filename(dir, "BCD-Template", NULL);
        g_autofree char *lt = g_strdup_printf("%s BCD-Template", lab);
        if (s != MEDIA_SIGNING_NONE && media_wim_extract_file(w, img, "/Windows/System32/config/BCD-Template", t, NULL))
            check_bcd(v, t, lt, s, FALSE);
    }
}

gboolean media_verify(const char *iso, const char *manifest, gboolean quiet, GError **error)
{
    V v = {.quiet = quiet, .iso = iso};
    g_autofree char *mpath = manifest ? g_strdup(manifest) : g_strdup_printf("%s.manifest.json", iso);
    g_autoptr(JsonParser) p = json_parser_new();
    gboolean ok = FALSE;
    MediaWim *boot = NULL, *inst = NULL;
    g_autofree char *bw = NULL, *iw = NULL, *sha = NULL, *eltorito = NULL, *unatt = NULL, *svc = NULL, *sys = NULL;
    JsonObject *mf;
    MediaSigning s = MEDIA_SIGNING_NONE;
    const char *sig;
    JsonArray *drivers, *bcds, *boots, *insts;
    JsonObject *outobj;

    if (!json_parser_load_from_file(p, mpath, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no readable manifest (give --manifest)", mpath);
        return FALSE;
    }
    mf = json_node_get_object(json_parser_get_root(p));
    v.files = media_iso_list(iso, error);
    if (!v.files)
        return FALSE;
    v.work = g_dir_make_tmp("aero-media-verify-XXXXXX", error);
    if (!v.work)
        goto out;
    sig = member_str(mf, "signing");
    s = !g_strcmp0(sig, "testsigning") ? MEDIA_SIGNING_TESTSIGNING
        : !g_strcmp0(sig, "nointegritychecks") ? MEDIA_SIGNING_NOINTEGRITYCHECKS : MEDIA_SIGNING_NONE;

    outobj = json_object_get_object_member(mf, "output");
    sha = media_sha256_file(iso, error);
    if (!sha)
        goto out;
    check(&v, outobj && !g_strcmp0(member_str(outobj, "sha256"), sha), "output SHA-256 matches the manifest");
    eltorito = media_iso_el_torito(iso, NULL);
    {
        GString *got = g_string_new(NULL);
        g_auto(GStrv) lines = g_strsplit(eltorito ? eltorito : "", "\n", -1);
        for (guint i = 0; lines[i]; i++)
            if (g_str_has_prefix(lines[i], "El Torito boot img") || g_str_has_prefix(lines[i], "El Torito img path"))
                g_string_append_printf(got, "%s\n", g_strstrip(lines[i]));
        /* LBAs move; compare platform, emulation, load size and paths */
        g_auto(GStrv) want_l = g_strsplit(member_str(mf, "el_torito") ? member_str(mf, "el_torito") : "", "\n", -1);
        g_auto(GStrv) got_l = g_strsplit(got->str, "\n", -1);
        gboolean same = g_strv_length(want_l) == g_strv_length(got_l);
        for (guint i = 0; same && want_l[i]; i++) {
            g_auto(GStrv) a = g_strsplit_set(want_l[i], " ", -1), b = g_strsplit_set(got_l[i], " ", -1);
            guint na = g_strv_length(a), nb = g_strv_length(b);
            same = na == nb;
            for (guint k = 0; same && k + 1 < na; k++)
                same = !strcmp(a[k], b[k]);
        }
        gboolean uefi = strstr(got->str, "UEFI") != NULL, bios = strstr(got->str, "BIOS") != NULL;
        check(&v, same && bios, "El Torito entries as in the input (BIOS%s)", uefi ? " + UEFI" : "");
        g_string_free(got, TRUE);
    }
    drivers = json_object_get_array_member(mf, "drivers");
    for (guint i = 0; drivers && i < json_array_get_length(drivers); i++) {
        JsonObject *d = json_array_get_object_element(drivers, i);
        if (!g_strcmp0(member_str(d, "device"), "blk")) {
            svc = g_strdup(member_str(d, "service"));
            JsonArray *files = json_object_get_array_member(d, "files");
            for (guint f = 0; f < json_array_get_length(files); f++) {
                const char *fp = member_str(json_array_get_object_element(files, f), "path");
                if (g_str_has_suffix(fp, ".sys") || g_str_has_suffix(fp, ".SYS"))
                    sys = g_path_get_basename(fp);
            }
        }
        JsonArray *files = json_object_get_array_member(d, "files");
        guint good = 0, n = json_array_get_length(files);
        for (guint f = 0; f < n; f++) {
            JsonObject *fo = json_array_get_object_element(files, f);
            g_autofree char *lower = g_utf8_strdown(member_str(fo, "path"), -1);
            g_autofree char *path = g_strdup_printf("/%s", lower);
            g_autofree char *x = extract(&v, path, "f");
            g_autofree char *h = x ? media_sha256_file(x, NULL) : NULL;
            good += h && !g_strcmp0(h, member_str(fo, "sha256"));
        }
        check(&v, n && good == n, "driver %s (%s): %u file(s) on the media match their SHA-256",
              member_str(d, "name"), member_str(d, "device"), n);
    }
    bcds = json_object_get_array_member(mf, "bcd");
    for (guint i = 0; s != MEDIA_SIGNING_NONE && bcds && i < json_array_get_length(bcds); i++) {
        const char *store = member_str(json_array_get_object_element(bcds, i), "store");
        g_autofree char *lower = g_utf8_strdown(store, -1);
        g_autofree char *x = extract(&v, lower, "bcd");
        if (!x)
            check(&v, FALSE, "%s: missing from the ISO", store);
        else
            check_bcd(&v, x, store, s, TRUE);
    }
    bw = extract(&v, "/sources/boot.wim", "boot.wim");
    iw = extract(&v, "/sources/install.wim", "install.wim");
    boot = bw ? media_wim_open(bw, "boot.wim", NULL) : NULL;
    inst = iw ? media_wim_open(iw, "install.wim", NULL) : NULL;
    check(&v, boot && inst, "sources/boot.wim and sources/install.wim open with wimlib");
    if (!boot || !inst || !svc || !sys)
        goto summary;
    boots = json_object_get_array_member(mf, "boot_wim");
    for (guint i = 0; boots && i < json_array_get_length(boots); i++)
        check_image(&v, boot, "boot.wim", (int)json_object_get_int_member(json_array_get_object_element(boots, i), "index"),
                    mf, FALSE, svc, sys, s);
    insts = json_object_get_array_member(mf, "install_wim");
    for (guint i = 0; insts && i < json_array_get_length(insts); i++)
        check_image(&v, inst, "install.wim", (int)json_object_get_int_member(json_array_get_object_element(insts, i), "index"),
                    mf, TRUE, svc, sys, s);
    {
        const char *u = member_str(mf, "unattend");
        if (u && (!strcmp(u, "drivers") || !strcmp(u, "full"))) {
            unatt = extract(&v, "/autounattend.xml", "autounattend.xml");
            g_autofree char *xml = NULL;
            gboolean paths_ok = unatt && g_file_get_contents(unatt, &xml, NULL, NULL);
            guint npaths = 0;
            for (char *q = xml; paths_ok && (q = strstr(q, "<Path>")); q++) {
                char *end = strstr(q, "</Path>");
                g_autofree char *pth = end ? g_strndup(q + 6, (gsize)(end - q - 6)) : NULL;
                const char *rel = pth && g_str_has_prefix(pth, "%configsetroot%\\") ? pth + 16 : NULL;
                g_autofree char *lower = rel ? g_utf8_strdown(rel, -1) : NULL;
                if (lower)
                    g_strdelimit(lower, "\\", '/');
                gboolean found = FALSE;
                GHashTableIter it;
                gpointer k;
                g_hash_table_iter_init(&it, v.files);
                while (lower && !found && g_hash_table_iter_next(&it, &k, NULL))
                    found = g_str_has_prefix((char *)k + 1, lower);
                paths_ok = found;
                npaths++;
            }
            check(&v, paths_ok && npaths >= 2, "autounattend.xml: %u driver path(s), all present on the media", npaths);
        } else {
            check(&v, TRUE, "autounattend.xml: %s", u ? u : "not recorded");
        }
    }
summary:
    if (v.fails)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %u of %u checks failed", iso, v.fails, v.checks);
    else if (!quiet)
        g_print("%s: all %u checks passed\n", iso, v.checks);
    ok = v.fails == 0;
out:
    media_wim_close(boot);
    media_wim_close(inst);
    if (v.work) {
        media_rm_rf(v.work);
        g_free(v.work);
    }
    g_hash_table_unref(v.files);
    return ok;
}
