/* `aero-media win7`: the user's Windows 7 ISO in, a patched ISO out (see win7.h).
 *
 * Flow: list the input ISO; extract only what changes (boot.wim, install.wim, BCD stores); patch
 * BCD stores; for every boot.wim image and each selected install.wim image extract the SOFTWARE
 * and SYSTEM hives (and BCD-Template), edit them with hivex, and queue them plus the storage
 * driver (and, for install images, the driver packages) for a wimlib in-place append; stage the
 * driver packages and autounattend.xml; let xorriso write a new image from the input with those
 * files replaced and the El Torito entries kept; write the manifest. Everything is written to
 * temporary names in the output folder and renamed at the very end.
 */
#include "win7.h"

#include "cert.h"
#include "drivers.h"
#include "hive.h"
#include "iso.h"
#include "util.h"
#include "wim.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#define SCSIADAPTER_GUID "{4D36E97B-E325-11CE-BFC1-08002BE10318}"

typedef struct {
    const MediaWin7Options *o;
    char *work;
    GHashTable *files; /* lower-case ISO path -> stored path */
    MediaArch arch;
    GPtrArray *packages;
    const MediaPackage *blk;
    MediaCert cert;
    GBytes *blob;
    GArray *maps;      /* MediaIsoMap */
    GPtrArray *owned;  /* strings referenced by maps */
    JsonBuilder *mf;
    char *stage;       /* staging root for files added to the ISO */
} Ctx;

static const char *own(Ctx *c, char *s)
{
    g_ptr_array_add(c->owned, s);
    return s;
}

static void add_map(Ctx *c, const char *disk, const char *iso_path)
{
    MediaIsoMap m = {own(c, g_strdup(disk)), own(c, g_strdup(iso_path))};
    g_array_append_val(c->maps, m);
}

static const char *iso_find(Ctx *c, const char *lower)
{
    return g_hash_table_lookup(c->files, lower);
}

static char *work_path(Ctx *c, const char *name) { return g_build_filename(c->work, name, NULL); }

static void mf_str(JsonBuilder *b, const char *k, const char *v)
{
    json_builder_set_member_name(b, k);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

/* ---- hive edits ------------------------------------------------------------------------- */

static gboolean add_certificate(Ctx *c, MediaHive *hv, GError **error)
{
    if (!c->blob)
        return TRUE;
    const char *stores[] = {"ROOT", "TrustedPublisher"};
    gsize n;
    const guint8 *b = g_bytes_get_data(c->blob, &n);
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        g_autofree char *p = g_strdup_printf("Microsoft\\SystemCertificates\\%s\\Certificates\\%s",
                                             stores[i], c->cert.thumbprint);
        hive_node_h k = media_hive_ensure(hv, p, error);
        if (!k || !media_hive_set_binary(hv, k, "Blob", b, n, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean add_device_path(Ctx *c, MediaHive *hv, GError **error)
{
    hive_node_h k = media_hive_ensure(hv, "Microsoft\\Windows\\CurrentVersion", error);
    if (!k)
        return FALSE;
    char *cur = media_hive_get_string(hv, k, "DevicePath");
    GString *v = g_string_new(cur && *cur ? cur : "%SystemRoot%\\inf");
    free(cur);
    for (guint i = 0; i < c->packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c->packages, i);
        g_autofree char *entry = g_strdup_printf("%%SystemRoot%%\\AeroDrivers\\%s", p->name);
        if (!strstr(v->str, entry))
            g_string_append_printf(v, ";%s", entry);
    }
    gboolean ok = media_hive_set_expand_sz(hv, k, "DevicePath", v->str, error);
    g_string_free(v, TRUE);
    return ok;
}

/* Boot-critical storage pre-seed in every ControlSet00N (the one Select\Current names first). */
static gboolean preseed_storage(Ctx *c, MediaHive *hv, GError **error)
{
    const MediaPackage *p = c->blk;
    g_autofree char *sysname = g_path_get_basename(p->sys);
    g_autofree char *image_path = g_strdup_printf("system32\\drivers\\%s", sysname);
    hive_node_h *kids = hivex_node_children(hv->h, hivex_root(hv->h));
    guint sets = 0;
    gboolean ok = TRUE;
    for (size_t i = 0; ok && kids && kids[i]; i++) {
        char *name = hivex_node_name(hv->h, kids[i]);
        gboolean is_cs = g_ascii_strncasecmp(name, "ControlSet", 10) == 0 && strlen(name) == 13;
        g_autofree char *cs = g_strdup(name);
        free(name);
        if (!is_cs)
            continue;
        sets++;
        g_autofree char *svc = g_strdup_printf("%s\\Services\\%s", cs, p->service);
        hive_node_h s = media_hive_ensure(hv, svc, error);
        ok = s && media_hive_set_dword(hv, s, "Type", 1, error) &&
             media_hive_set_dword(hv, s, "Start", 0, error) &&
             media_hive_set_dword(hv, s, "ErrorControl", 1, error) &&
             media_hive_set_sz(hv, s, "Group", p->group ? p->group : "SCSI miniport", error) &&
             media_hive_set_expand_sz(hv, s, "ImagePath", image_path, error);
        g_autofree char *pnp = g_strdup_printf("%s\\Parameters\\PnpInterface", svc);
        hive_node_h pi = ok ? media_hive_ensure(hv, pnp, error) : 0;
        ok = ok && pi && media_hive_set_dword(hv, pi, "5", 1, error); /* PCI bus for storport */
        const char *ids[] = {"pci#ven_1af4&dev_1042", "pci#ven_1af4&dev_1042&subsys_00021af4",
                             "pci#ven_1af4&dev_1042&subsys_00021af4&rev_01"};
        for (guint j = 0; ok && j < G_N_ELEMENTS(ids); j++) {
            g_autofree char *cdd = g_strdup_printf("%s\\Control\\CriticalDeviceDatabase\\%s", cs, ids[j]);
            hive_node_h k = media_hive_ensure(hv, cdd, error);
            ok = k && media_hive_set_sz(hv, k, "Service", p->service, error) &&
                 media_hive_set_sz(hv, k, "ClassGUID", SCSIADAPTER_GUID, error);
        }
    }
    free(kids);
    if (ok && sets == 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: no ControlSet00N in the SYSTEM hive",
                    hv->label);
        ok = FALSE;
    }
    return ok;
}

/* ---- one image ---------------------------------------------------------------------------- */

static gboolean patch_image(Ctx *c, MediaWim *w, const char *wimname, int image, gboolean install,
                            GError **error)
{
    g_autofree char *tag = g_strdup_printf("%s-%d", wimname, image);
    g_autofree char *dir = work_path(c, tag);
    g_mkdir_with_parents(dir, 0700);
    g_autofree char *software = g_build_filename(dir, "SOFTWARE", NULL);
    g_autofree char *system = g_build_filename(dir, "SYSTEM", NULL);
    g_autofree char *label_sw = g_strdup_printf("%s image %d: Windows/System32/config/SOFTWARE", wimname, image);
    g_autofree char *label_sys = g_strdup_printf("%s image %d: Windows/System32/config/SYSTEM", wimname, image);
    if (!media_wim_extract_file(w, image, "/Windows/System32/config/SOFTWARE", software, error) ||
        !media_wim_extract_file(w, image, "/Windows/System32/config/SYSTEM", system, error))
        return FALSE;

    MediaHive *hv = media_hive_open(software, label_sw, TRUE, error);
    gboolean ok = hv && add_certificate(c, hv, error) && (!install || add_device_path(c, hv, error)) &&
                  media_hive_commit(hv, error);
    media_hive_close(hv);
    if (!ok)
        return FALSE;
    hv = media_hive_open(system, label_sys, TRUE, error);
    ok = hv && preseed_storage(c, hv, error) && media_hive_commit(hv, error);
    media_hive_close(hv);
    if (!ok)
        return FALSE;

    media_set_tree_times(dir); /* SOURCE_DATE_EPOCH: what goes into the WIM has fixed times */
    media_wim_queue_add(w, image, software, "/Windows/System32/config/SOFTWARE");
    media_wim_queue_add(w, image, system, "/Windows/System32/config/SYSTEM");
    /* A private copy: never the user's driver tree (times get normalised), and not the staged
     * package file either (the same inode twice would become a hard link in the image). */
    g_autofree char *sys_base = g_path_get_basename(c->blk->sys);
    g_autofree char *sys_orig = g_build_filename(c->blk->dir, c->blk->sys, NULL);
    g_autofree char *sys_src = g_build_filename(dir, sys_base, NULL);
    if (!media_copy_file(sys_orig, sys_src, error))
        return FALSE;
    g_autofree char *sys_dst = g_strdup_printf("/Windows/System32/drivers/%s", sys_base);
    media_wim_queue_add(w, image, sys_src, sys_dst);

    json_builder_begin_object(c->mf);
    json_builder_set_member_name(c->mf, "index");
    json_builder_add_int_value(c->mf, image);
    mf_str(c->mf, "name", media_wim_image_name(w, image));
    mf_str(c->mf, "storage_driver", sys_dst);
    if (install) {
        g_autofree char *tmpl = g_build_filename(dir, "BCD-Template", NULL);
        g_autofree char *label_t = g_strdup_printf("%s image %d: Windows/System32/config/BCD-Template",
                                                   wimname, image);
        MediaBcdReport r = {0};
        if (!media_wim_extract_file(w, image, "/Windows/System32/config/BCD-Template", tmpl, error) ||
            !media_bcd_patch(tmpl, label_t, c->o->signing, FALSE, &r, error)) {
            media_bcd_report_clear(&r);
            json_builder_end_object(c->mf);
            return FALSE;
        }
        json_builder_set_member_name(c->mf, "bcd_template_patched");
        json_builder_begin_array(c->mf);
        for (guint i = 0; r.patched && i < r.patched->len; i++)
            json_builder_add_string_value(c->mf, g_ptr_array_index(r.patched, i));
        json_builder_end_array(c->mf);
        media_bcd_report_clear(&r);
        media_set_tree_times(dir);
        media_wim_queue_add(w, image, tmpl, "/Windows/System32/config/BCD-Template");
        /* the whole arch folder at once: no directory is created with the current time */
        g_autofree char *src = g_build_filename(c->stage, "AERO", "DRIVERS", media_arch_name(c->arch), NULL);
        media_wim_queue_add(w, image, src, "/Windows/AeroDrivers");
    }
    json_builder_end_object(c->mf);
    return TRUE;
}

static gboolean parse_indexes(const char *spec, int count, GArray *out, const char *label, GError **error)
{
    if (!spec || !g_ascii_strcasecmp(spec, "all")) {
        for (int i = 1; i <= count; i++)
            g_array_append_val(out, i);
        return TRUE;
    }
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    for (guint i = 0; parts[i]; i++) {
        char *end = NULL;
        gint64 v = g_ascii_strtoll(g_strstrip(parts[i]), &end, 10);
        if (!*parts[i] || *end || v < 1 || v > count) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: install.wim has %d image(s); index '%s' does not exist", label, count,
                        parts[i]);
            return FALSE;
        }
        int iv = (int)v;
        gboolean dup = FALSE;
        for (guint j = 0; j < out->len; j++)
            dup |= g_array_index(out, int, j) == iv;
        if (!dup)
            g_array_append_val(out, iv);
    }
    return TRUE;
}

static gboolean stage_drivers(Ctx *c, GError **error)
{
    json_builder_set_member_name(c->mf, "drivers");
    json_builder_begin_array(c->mf);
    for (guint i = 0; i < c->packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c->packages, i);
        g_autofree char *dest = g_build_filename(c->stage, "AERO", "DRIVERS", media_arch_name(c->arch), p->name, NULL);
        json_builder_begin_object(c->mf);
        mf_str(c->mf, "device", media_device_name(p->device));
        mf_str(c->mf, "name", p->name);
        mf_str(c->mf, "service", p->service);
        g_autofree char *inf = g_strdup_printf("AERO/DRIVERS/%s/%s/%s", media_arch_name(c->arch), p->name, p->inf);
        mf_str(c->mf, "inf", inf);
        json_builder_set_member_name(c->mf, "files");
        json_builder_begin_array(c->mf);
        for (guint f = 0; f < p->files->len; f++) {
            const char *rel = g_ptr_array_index(p->files, f);
            g_autofree char *src = g_build_filename(p->dir, rel, NULL);
            g_autofree char *dst = g_build_filename(dest, rel, NULL);
            g_autofree char *dd = g_path_get_dirname(dst);
            g_mkdir_with_parents(dd, 0755);
            if (!media_copy_file(src, dst, error))
                return FALSE;
            g_autofree char *sha = media_sha256_file(dst, error);
            if (!sha)
                return FALSE;
            g_autofree char *ip = g_strdup_printf("AERO/DRIVERS/%s/%s/%s", media_arch_name(c->arch), p->name, rel);
            json_builder_begin_object(c->mf);
            mf_str(c->mf, "path", ip);
            mf_str(c->mf, "sha256", sha);
            json_builder_end_object(c->mf);
        }
        json_builder_end_array(c->mf);
        json_builder_end_object(c->mf);
    }
    json_builder_end_array(c->mf);
    return TRUE;
}

static gboolean patch_bcd_store(Ctx *c, const char *lower, GError **error)
{
    const char *stored = iso_find(c, lower);
    if (!stored)
        return TRUE;
    g_autofree char *name = g_strdelimit(g_strdup(lower + 1), "/", '_');
    g_autofree char *disk = work_path(c, name);
    g_autofree char *label = g_strdup_printf("%s:%s", c->o->iso, stored);
    if (!media_iso_extract_file(c->o->iso, stored, disk, error))
        return FALSE;
    MediaBcdReport r = {0};
    if (!media_bcd_patch(disk, label, c->o->signing, TRUE, &r, error)) {
        media_bcd_report_clear(&r);
        return FALSE;
    }
    add_map(c, disk, stored);
    json_builder_begin_object(c->mf);
    mf_str(c->mf, "store", stored);
    mf_str(c->mf, "default", r.default_loader);
    json_builder_set_member_name(c->mf, "loaders");
    json_builder_begin_array(c->mf);
    for (guint i = 0; i < r.loaders->len; i++)
        json_builder_add_string_value(c->mf, g_ptr_array_index(r.loaders, i));
    json_builder_end_array(c->mf);
    json_builder_set_member_name(c->mf, "patched");
    json_builder_begin_array(c->mf);
    for (guint i = 0; r.patched && i < r.patched->len; i++)
        json_builder_add_string_value(c->mf, g_ptr_array_index(r.patched, i));
    json_builder_end_array(c->mf);
    json_builder_end_object(c->mf);
    media_bcd_report_clear(&r);
    return TRUE;
}

static char *el_torito_summary(const char *iso)
{
    g_autofree char *r = media_iso_el_torito(iso, NULL);
    if (!r)
        return g_strdup("");
    GString *s = g_string_new(NULL);
    g_auto(GStrv) lines = g_strsplit(r, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (g_str_has_prefix(lines[i], "El Torito boot img") || g_str_has_prefix(lines[i], "El Torito img path"))
            g_string_append_printf(s, "%s\n", g_strstrip(lines[i]));
    return g_string_free(s, FALSE);
}

static char *volume_id(const char *iso)
{
    char buf[33] = {0};
    FILE *f = fopen(iso, "rb");
    if (!f)
        return g_strdup("");
    if (fseek(f, 32768 + 40, SEEK_SET) != 0 || fread(buf, 1, 32, f) != 32)
        buf[0] = '\0';
    fclose(f);
    return g_strchomp(g_strdup(buf));
}

gboolean media_win7(const MediaWin7Options *o, GError **error)
{
    Ctx c = {.o = o};
    gboolean ok = FALSE;
    MediaWim *boot = NULL, *inst = NULL;
    g_autofree char *drivers_tmp = NULL, *in_sha = NULL, *out_sha = NULL, *manifest_path = NULL;
    g_autofree char *manifest_tmp = NULL, *unattend_disk = NULL, *in_boot = NULL, *in_vol = NULL;
    g_autofree char *boot_wim = NULL, *inst_wim = NULL, *outdir = NULL;
    g_autoptr(GArray) indexes = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    const char *drivers_root = o->drivers;
    const char *boot_stored, *inst_stored;
    gboolean keep_unattend = FALSE;
    MediaScanOptions so = {0};
    guint boot_arch;

    c.maps = g_array_new(FALSE, TRUE, sizeof(MediaIsoMap));
    c.owned = g_ptr_array_new_with_free_func(g_free);
    c.mf = json_builder_new();

    if (media_same_file(o->iso, o->output)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: output would overwrite the input", o->output);
        goto out;
    }
    if (!g_file_test(o->iso, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", o->iso);
        goto out;
    }
    if (o->cert) {
        if (!media_cert_load(o->cert, &c.cert, error))
            goto out;
        c.blob = media_cert_blob(&c.cert);
    }
    media_progress(o->quiet, "reading %s", o->iso);
    c.files = media_iso_list(o->iso, error);
    if (!c.files)
        goto out;
    boot_stored = iso_find(&c, "/sources/boot.wim");
    inst_stored = iso_find(&c, "/sources/install.wim");
    if (!boot_stored || !inst_stored) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no %s: not a Windows 7 install ISO",
                    o->iso, boot_stored ? "sources/install.wim" : "sources/boot.wim");
        goto out;
    }
    outdir = g_path_get_dirname(o->output);
    {
        g_autofree char *base = g_path_get_basename(o->output);
        g_autofree char *tmpl = g_strdup_printf("%s/.%s.work-XXXXXX", outdir, base);
        c.work = g_mkdtemp(g_steal_pointer(&tmpl));
        if (!c.work) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot create a work folder next to it",
                        o->output);
            goto out;
        }
    }
    c.stage = work_path(&c, "stage");

    /* install.wim first: it decides the architecture and the drivers to use */
    media_progress(o->quiet, "extracting sources/install.wim and sources/boot.wim");
    inst_wim = work_path(&c, "install.wim");
    boot_wim = work_path(&c, "boot.wim");
    if (!media_iso_extract_file(o->iso, inst_stored, inst_wim, error) ||
        !media_iso_extract_file(o->iso, boot_stored, boot_wim, error)) {
        g_prefix_error(error, "%s: work copy: ", o->output); /* e.g. no space next to the output */
        goto out;
    }
    {
        g_autofree char *li = g_strdup_printf("%s:%s", o->iso, inst_stored);
        g_autofree char *lb = g_strdup_printf("%s:%s", o->iso, boot_stored);
        inst = media_wim_open(inst_wim, li, error);
        boot = inst ? media_wim_open(boot_wim, lb, error) : NULL;
        if (!inst || !boot)
            goto out;
        if (!parse_indexes(o->index_spec, media_wim_image_count(inst), indexes, li, error))
            goto out;
        for (guint i = 0; i < indexes->len; i++) {
            int img = g_array_index(indexes, int, i);
            guint a = media_wim_image_arch(inst, img);
            if (!a) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: cannot tell the architecture of image %d", li, img);
                goto out;
            }
            if (c.arch && a != c.arch) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: images of different architectures selected; use --index", li);
                goto out;
            }
            c.arch = a;
        }
        boot_arch = media_wim_image_arch(boot, media_wim_image_count(boot));
        if (boot_arch && boot_arch != c.arch) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is %s but install.wim is %s", lb,
                        media_arch_name(boot_arch), media_arch_name(c.arch));
            goto out;
        }
    }
    media_progress(o->quiet, "media: %s, install.wim image(s) %u of %d", media_arch_name(c.arch),
                   indexes->len, media_wim_image_count(inst));

    /* drivers of the media's architecture only */
    if (g_file_test(o->drivers, G_FILE_TEST_IS_REGULAR)) {
        drivers_tmp = work_path(&c, "drivers-src");
        if (!media_iso_extract(o->drivers, drivers_tmp, error))
            goto out;
        drivers_root = drivers_tmp;
    }
    so.archs = so.required_archs = c.arch;
    so.allow_unsigned = o->allow_unsigned;
    {
        GError *e = NULL;
        c.packages = media_drivers_scan(drivers_root, &so, notes, &e);
        if (!c.packages) {
            g_autofree char *m = drivers_tmp ? media_replace_prefix(e->message, drivers_tmp, o->drivers)
                                             : g_strdup(e->message);
            g_set_error(error, e->domain, e->code, "%s (the install media is %s)", m, media_arch_name(c.arch));
            g_error_free(e);
            goto out;
        }
    }
    for (guint i = 0; i < c.packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c.packages, i);
        if (p->device == MEDIA_DEV_BLK)
            c.blk = p;
        media_progress(o->quiet, "  driver %-5s %-12s service %s", media_device_name(p->device), p->name, p->service);
    }

    json_builder_begin_object(c.mf);
    mf_str(c.mf, "tool", "aero-media " MEDIA_VERSION);
    mf_str(c.mf, "arch", media_arch_name(c.arch));
    mf_str(c.mf, "signing", media_signing_name(o->signing));
    if (!stage_drivers(&c, error))
        goto out;
    media_set_tree_times(c.stage);

    media_progress(o->quiet, "patching BCD stores (%s)", media_signing_name(o->signing));
    json_builder_set_member_name(c.mf, "bcd");
    json_builder_begin_array(c.mf);
    if (!iso_find(&c, "/boot/bcd")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no boot/BCD", o->iso);
        goto out;
    }
    if (!patch_bcd_store(&c, "/boot/bcd", error) || !patch_bcd_store(&c, "/efi/microsoft/boot/bcd", error))
        goto out;
    json_builder_end_array(c.mf);

    media_progress(o->quiet, "patching boot.wim (%d image(s))", media_wim_image_count(boot));
    json_builder_set_member_name(c.mf, "boot_wim");
    json_builder_begin_array(c.mf);
    for (int img = 1; img <= media_wim_image_count(boot); img++)
        if (!patch_image(&c, boot, "boot.wim", img, FALSE, error))
            goto out;
    json_builder_end_array(c.mf);
    if (!media_wim_commit(boot, o->quiet, error)) {
        g_prefix_error(error, "%s: work copy: ", o->output);
        goto out;
    }

    media_progress(o->quiet, "patching install.wim");
    json_builder_set_member_name(c.mf, "install_wim");
    json_builder_begin_array(c.mf);
    for (guint i = 0; i < indexes->len; i++)
        if (!patch_image(&c, inst, "install.wim", g_array_index(indexes, int, i), TRUE, error))
            goto out;
    json_builder_end_array(c.mf);
    if (!media_wim_commit(inst, o->quiet, error)) {
        g_prefix_error(error, "%s: work copy: ", o->output);
        goto out;
    }
    media_wim_close(boot);
    media_wim_close(inst);
    boot = inst = NULL;
    add_map(&c, boot_wim, boot_stored);
    add_map(&c, inst_wim, inst_stored);
    {
        g_autofree char *aero = g_build_filename(c.stage, "AERO", NULL);
        add_map(&c, aero, "/AERO");
    }

    /* autounattend.xml: keep the user's unless --unattend was given */
    keep_unattend = iso_find(&c, "/autounattend.xml") && !o->unattend_given;
    json_builder_set_member_name(c.mf, "unattend");
    if (keep_unattend) {
        json_builder_add_string_value(c.mf, "kept");
    } else if (o->unattend == MEDIA_UNATTEND_NONE) {
        json_builder_add_string_value(c.mf, "none");
    } else {
        int first = g_array_index(indexes, int, 0);
        g_autofree char *xml = media_unattend_xml(o->unattend, c.arch, first, o->product_key);
        unattend_disk = work_path(&c, "autounattend.xml");
        if (!g_file_set_contents(unattend_disk, xml, -1, error))
            goto out;
        const char *stored = iso_find(&c, "/autounattend.xml");
        add_map(&c, unattend_disk, stored ? stored : "/autounattend.xml");
        json_builder_add_string_value(c.mf, o->unattend == MEDIA_UNATTEND_FULL ? "full" : "drivers");
    }
    if (c.blob) {
        json_builder_set_member_name(c.mf, "certificate");
        json_builder_begin_object(c.mf);
        mf_str(c.mf, "thumbprint", c.cert.thumbprint);
        mf_str(c.mf, "subject", c.cert.subject);
        json_builder_end_object(c.mf);
    }
    in_boot = el_torito_summary(o->iso);
    in_vol = volume_id(o->iso);
    mf_str(c.mf, "el_torito", in_boot);
    mf_str(c.mf, "volume_id", o->volid ? o->volid : in_vol);
    media_set_tree_times(c.stage);
    media_set_tree_times(c.work);

    media_progress(o->quiet, "writing %s", o->output);
    {
        /* the final name only appears when the manifest is ready too */
        g_autofree char *base = g_path_get_basename(o->output);
        g_autofree char *iso_tmp = g_strdup_printf("%s/.%s.iso-partial", c.work, base);
        if (!media_iso_rebuild(o->iso, iso_tmp, (MediaIsoMap *)c.maps->data, c.maps->len, o->volid,
                               o->quiet, error))
            goto out;
        media_progress(o->quiet, "hashing input and output");
        in_sha = media_sha256_file(o->iso, error);
        out_sha = in_sha ? media_sha256_file(iso_tmp, error) : NULL;
        if (!out_sha)
            goto out;
        json_builder_set_member_name(c.mf, "input");
        json_builder_begin_object(c.mf);
        g_autofree char *in_base = g_path_get_basename(o->iso);
        mf_str(c.mf, "file", in_base);
        mf_str(c.mf, "sha256", in_sha);
        json_builder_end_object(c.mf);
        json_builder_set_member_name(c.mf, "output");
        json_builder_begin_object(c.mf);
        mf_str(c.mf, "file", base);
        mf_str(c.mf, "sha256", out_sha);
        json_builder_end_object(c.mf);
        json_builder_end_object(c.mf);
        root = json_builder_get_root(c.mf);
        json_generator_set_root(gen, root);
        json_generator_set_pretty(gen, TRUE);
        manifest_path = g_strdup_printf("%s.manifest.json", o->output);
        manifest_tmp = g_strdup_printf("%s/.manifest.partial", c.work);
        if (!json_generator_to_file(gen, manifest_tmp, error))
            goto out;
        if (g_rename(iso_tmp, o->output) != 0 || g_rename(manifest_tmp, manifest_path) != 0) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot move into place: %s",
                        o->output, g_strerror(errno));
            g_unlink(o->output);
            goto out;
        }
    }
    media_progress(o->quiet, "wrote %s and %s", o->output, manifest_path);
    ok = TRUE;
out:
    media_wim_close(boot);
    media_wim_close(inst);
    if (c.work)
        media_rm_rf(c.work);
    g_free(c.work);
    g_free(c.stage);
    if (c.files)
        g_hash_table_unref(c.files);
    if (c.packages)
        g_ptr_array_unref(c.packages);
    media_cert_clear(&c.cert);
    if (c.blob)
        g_bytes_unref(c.blob);
    g_array_unref(c.maps);
    g_ptr_array_unref(c.owned);
    g_object_unref(c.mf);
    return ok;
}
