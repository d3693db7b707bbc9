/* `aero-media win7`: the user's Windows 7 ISO in, a patched ISO out (see win7.h).
 *
 * Flow: open the input ISO (libisofs) and start hashing it on a second thread; open boot.wim and
 * install.wim through sparse work copies (only what wimlib reads is copied); decide the
 * architecture from the WIM metadata; scan the driver tree; patch the BCD stores; for every
 * boot.wim image and each selected install.wim image edit the SOFTWARE and SYSTEM hives (and
 * BCD-Template) with hivex and queue them plus the storage driver (and, for install images, the
 * driver packages) for a wimlib in-place append; stage the driver packages and autounattend.xml;
 * write the new image from the input with those changes — the WIMs as "input bytes plus the
 * appended ranges", so nothing is copied twice — hashing it as it is written; write the manifest.
 * Everything lives in a work folder beside the output and is renamed into place at the very end.
 */
#include "win7.h"

#include "error.h"
#include "cert.h"
#include "drivers.h"
#include "hive.h"
#include "iso.h"
#include "manifest.h"
#include "util.h"
#include "wim.h"
#include "wincfg.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const MediaWin7Options *o;
    MediaProgress *p;
    MediaIso *iso;
    char *work;
    MediaArch arch;
    GPtrArray *packages;
    const MediaPackage *blk;
    MediaCert cert;
    GBytes *blob;
    GArray *changes;  /* MediaIsoChange */
    GPtrArray *owned; /* strings and arrays referenced by changes */
    JsonBuilder *mf;
    char *stage;      /* staging root for files added to the ISO */
} Ctx;

static const char *own(Ctx *c, char *s)
{
    g_ptr_array_add(c->owned, s);
    return s;
}

static void add_change(Ctx *c, MediaIsoOp op, const char *iso_path, const char *disk, const GArray *ranges)
{
    MediaIsoChange ch = {op, own(c, g_strdup(iso_path)), disk ? own(c, g_strdup(disk)) : NULL, ranges};
    g_array_append_val(c->changes, ch);
}

static const char *iso_find(Ctx *c, const char *lower) { return media_iso_find(c->iso, lower); }

static char *work_path(Ctx *c, const char *name) { return g_build_filename(c->work, name, NULL); }

/* ---- hive edits ------------------------------------------------------------------------- */

static gboolean add_certificate(Ctx *c, MediaHive *hv, GError **error)
{
    if (!c->blob)
        return TRUE;
    const char *stores[] = {WIN_CERT_STORE_ROOT, WIN_CERT_STORE_TRUSTED_PUBLISHER};
    gsize n;
    const guint8 *b = g_bytes_get_data(c->blob, &n);
    for (guint i = 0; i < G_N_ELEMENTS(stores); i++) {
        g_autofree char *p = g_strdup_printf(WIN_CERT_KEY_FMT, stores[i], c->cert.thumbprint);
        hive_node_h k = media_hive_ensure(hv, p, error);
        if (!k || !media_hive_set_binary(hv, k, WIN_CERT_BLOB, b, n, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean add_device_path(Ctx *c, MediaHive *hv, GError **error)
{
    hive_node_h k = media_hive_ensure(hv, WIN_CURRENT_VERSION_KEY, error);
    if (!k)
        return FALSE;
    char *cur = media_hive_get_string(hv, k, WIN_DEVICE_PATH);
    GString *v = g_string_new(cur && *cur ? cur : WIN_DEVICE_PATH_DEFAULT);
    free(cur);
    for (guint i = 0; i < c->packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c->packages, i);
        g_autofree char *entry = g_strdup_printf(WIN_DEVICE_PATH_ENTRY_FMT, p->name);
        if (!strstr(v->str, entry))
            g_string_append_printf(v, ";%s", entry);
    }
    gboolean ok = media_hive_set_expand_sz(hv, k, WIN_DEVICE_PATH, v->str, error);
    g_string_free(v, TRUE);
    return ok;
}

static gboolean preseed_control_set(Ctx *c, MediaHive *hv, const char *cs, GError **error)
{
    const MediaPackage *p = c->blk;
    g_autofree char *sysname = g_path_get_basename(p->sys);
    g_autofree char *image_path = g_strdup_printf(WIN_SERVICE_IMAGE_PATH_FMT, sysname);
    g_autofree char *svc = g_strdup_printf(WIN_SERVICE_KEY_FMT, cs, p->service);
    hive_node_h s = media_hive_ensure(hv, svc, error);
    gboolean ok = s && media_hive_set_dword(hv, s, "Type", WIN_SERVICE_TYPE_KERNEL, error) &&
                  media_hive_set_dword(hv, s, "Start", WIN_SERVICE_START_BOOT, error) &&
                  media_hive_set_dword(hv, s, "ErrorControl", WIN_SERVICE_ERROR_NORMAL, error) &&
                  media_hive_set_sz(hv, s, "Group", p->group ? p->group : WIN_SERVICE_GROUP_DEFAULT, error) &&
                  media_hive_set_expand_sz(hv, s, "ImagePath", image_path, error);
    g_autofree char *pnp = g_strdup_printf(WIN_SERVICE_PNP_KEY_FMT, cs, p->service);
    hive_node_h pi = ok ? media_hive_ensure(hv, pnp, error) : 0;
    ok = ok && pi && media_hive_set_dword(hv, pi, WIN_PNP_INTERFACE_PCI, 1, error);
    for (guint j = 0; ok && j < WIN_BLK_CDD_COUNT; j++) {
        g_autofree char *cdd = g_strdup_printf(WIN_CDD_KEY_FMT, cs, win_blk_cdd_ids[j]);
        hive_node_h k = media_hive_ensure(hv, cdd, error);
        ok = k && media_hive_set_sz(hv, k, "Service", p->service, error) &&
             media_hive_set_sz(hv, k, "ClassGUID", WIN_SCSIADAPTER_CLASS_GUID, error);
    }
    return ok;
}

/* Boot-critical storage pre-seed: the ControlSet that Select\Current names must exist (it is the
 * one Windows boots with); every ControlSet00N present is patched, the current one first. */
static gboolean preseed_storage(Ctx *c, MediaHive *hv, GPtrArray *sets_out, GError **error)
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
    if (!preseed_control_set(c, hv, current, error))
        return FALSE;
    g_ptr_array_add(sets_out, g_strdup(current));
    hive_node_h *kids = hivex_node_children(hv->h, hivex_root(hv->h));
    gboolean ok = TRUE;
    for (size_t i = 0; ok && kids && kids[i]; i++) {
        char *name = hivex_node_name(hv->h, kids[i]);
        if (!name) { /* its length runs past its record: hivex opens such a hive all the same */
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: damaged hive (a root key has a name that cannot be read)", hv->label);
            ok = FALSE;
            break;
        }
        gboolean other = win_is_control_set(name) && g_ascii_strcasecmp(name, current) != 0;
        if (other) {
            ok = preseed_control_set(c, hv, name, error);
            g_ptr_array_add(sets_out, g_strdup(name));
        }
        free(name);
    }
    free(kids);
    return ok;
}

/* ---- one image ---------------------------------------------------------------------------- */

static gboolean patch_image(Ctx *c, MediaWim *w, const char *wimname, int image, gboolean install,
                            GError **error)
{
    g_autofree char *tag = g_strdup_printf("%s-%d", wimname, image);
    g_autofree char *dir = work_path(c, tag);
    if (!media_mkdir_below(c->work, dir, error))
        return FALSE;
    g_autofree char *software = g_build_filename(dir, "SOFTWARE", NULL);
    g_autofree char *system = g_build_filename(dir, "SYSTEM", NULL);
    const char *wl = media_wim_label(w); /* IN.iso:/sources/<wim> */
    g_autofree char *label_sw = g_strdup_printf("%s image %d: %s", wl, image, WIN_IMAGE_SOFTWARE + 1);
    g_autofree char *label_sys = g_strdup_printf("%s image %d: %s", wl, image, WIN_IMAGE_SYSTEM + 1);
    g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func(g_free);
    media_progress_note(c->p, "patching %s image %d (%s)", wimname, image, media_wim_image_name(w, image));
    if (!media_wim_extract_file(w, image, WIN_IMAGE_SOFTWARE, software, error) ||
        !media_wim_extract_file(w, image, WIN_IMAGE_SYSTEM, system, error))
        return FALSE;

    MediaHive *hv = media_hive_open(software, label_sw, TRUE, error);
    gboolean ok = hv && add_certificate(c, hv, error) && (!install || add_device_path(c, hv, error)) &&
                  media_hive_commit(hv, error);
    media_hive_close(hv);
    if (!ok)
        return FALSE;
    hv = media_hive_open(system, label_sys, TRUE, error);
    ok = hv && preseed_storage(c, hv, sets, error) && media_hive_commit(hv, error);
    media_hive_close(hv);
    if (!ok)
        return FALSE;

    media_set_tree_times(dir); /* SOURCE_DATE_EPOCH: what goes into the WIM has fixed times */
    media_wim_queue_add(w, image, software, WIN_IMAGE_SOFTWARE);
    media_wim_queue_add(w, image, system, WIN_IMAGE_SYSTEM);
    /* A private copy: never the user's driver tree (times get normalised), and not the staged
     * package file either (the same inode twice would become a hard link in the image). */
    g_autofree char *sys_base = g_path_get_basename(c->blk->sys);
    g_autofree char *sys_orig = g_build_filename(c->blk->dir, c->blk->sys, NULL);
    g_autofree char *sys_src = g_build_filename(dir, sys_base, NULL);
    if (!media_copy_file(sys_orig, sys_src, error))
        return FALSE;
    g_autofree char *sys_dst = g_strdup_printf(WIN_IMAGE_DRIVER_FMT, sys_base);
    media_wim_queue_add(w, image, sys_src, sys_dst);

    json_builder_begin_object(c->mf);
    json_builder_set_member_name(c->mf, MF_INDEX);
    json_builder_add_int_value(c->mf, image);
    media_json_member_str(c->mf, MF_NAME, media_wim_image_name(w, image));
    media_json_member_str(c->mf, MF_STORAGE_DRIVER, sys_dst);
    media_json_member_strv(c->mf, MF_CONTROL_SETS, sets); /* the current one first */
    if (install) {
        g_autofree char *tmpl = g_build_filename(dir, "BCD-Template", NULL);
        g_autofree char *label_t = g_strdup_printf("%s image %d: %s", wl, image, WIN_IMAGE_BCD_TEMPLATE + 1);
        MediaBcdReport r = {0};
        if (!media_wim_extract_file(w, image, WIN_IMAGE_BCD_TEMPLATE, tmpl, error) ||
            !media_bcd_patch(tmpl, label_t, c->o->signing, FALSE, &r, error)) {
            media_bcd_report_clear(&r);
            json_builder_end_object(c->mf);
            return FALSE;
        }
        media_json_member_strv(c->mf, MF_BCD_TEMPLATE_PATCHED, r.patched);
        media_bcd_report_clear(&r);
        media_set_tree_times(dir);
        media_wim_queue_add(w, image, tmpl, WIN_IMAGE_BCD_TEMPLATE);
        /* the whole arch folder at once: no directory is created with the current time */
        g_autofree char *src = g_build_filename(c->stage, WIN_MEDIA_DRIVERS, media_arch_name(c->arch), NULL);
        media_wim_queue_add(w, image, src, WIN_IMAGE_AERO_DRIVERS);
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
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
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
    json_builder_set_member_name(c->mf, MF_DRIVERS);
    json_builder_begin_array(c->mf);
    for (guint i = 0; i < c->packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c->packages, i);
        const char *arch = media_arch_name(c->arch);
        g_autofree char *dest = g_build_filename(c->stage, WIN_MEDIA_DRIVERS, arch, p->name, NULL);
        json_builder_begin_object(c->mf);
        media_json_member_str(c->mf, MF_DEVICE, media_device_name(p->device));
        media_json_member_str(c->mf, MF_ARCH, arch);
        media_json_member_str(c->mf, MF_NAME, p->name);
        media_json_member_str(c->mf, MF_SERVICE, p->service);
        g_autofree char *inf = g_strdup_printf(WIN_MEDIA_DRIVERS "/%s/%s/%s", arch, p->name, p->inf);
        media_json_member_str(c->mf, MF_INF, inf);
        g_autofree char *sys = g_strdup_printf(WIN_MEDIA_DRIVERS "/%s/%s/%s", arch, p->name, p->sys);
        media_json_member_str(c->mf, MF_SYS, sys);
        media_json_member_strv(c->mf, MF_HARDWARE_IDS, p->contract_hwids);
        json_builder_set_member_name(c->mf, MF_REV01_GATED);
        json_builder_add_boolean_value(c->mf, p->rev01_gated);
        json_builder_set_member_name(c->mf, MF_FILES);
        json_builder_begin_array(c->mf);
        for (guint f = 0; f < p->files->len; f++) {
            const char *rel = g_ptr_array_index(p->files, f);
            g_autofree char *src = g_build_filename(p->dir, rel, NULL);
            g_autofree char *dst = g_build_filename(dest, rel, NULL);
            g_autofree char *dd = g_path_get_dirname(dst);
            if (!media_mkdir_below(c->work, dd, error) || !media_copy_file(src, dst, error))
                return FALSE;
            g_autofree char *sha = media_sha256_file(dst, NULL, error);
            if (!sha)
                return FALSE;
            g_autofree char *ip = g_strdup_printf(WIN_MEDIA_DRIVERS "/%s/%s/%s", arch, p->name, rel);
            media_manifest_add_file(c->mf, ip, sha, -1);
        }
        json_builder_end_array(c->mf);
        json_builder_end_object(c->mf);
    }
    json_builder_end_array(c->mf);
    return TRUE;
}

static gboolean patch_bcd_store(Ctx *c, const char *stored, GError **error)
{
    g_autofree char *lower = g_utf8_strdown(stored, -1);
    g_autofree char *name = g_strdelimit(g_strdup(lower + 1), "/", '_');
    g_autofree char *disk = work_path(c, name);
    g_autofree char *label = g_strdup_printf("%s:%s", c->o->iso, stored);
    if (!media_iso_extract_file(c->iso, stored, disk, NULL, error))
        return FALSE;
    MediaBcdReport r = {0};
    if (!media_bcd_patch(disk, label, c->o->signing, TRUE, &r, error)) {
        media_bcd_report_clear(&r);
        return FALSE;
    }
    add_change(c, MEDIA_ISO_ADD, stored, disk, NULL);
    json_builder_begin_object(c->mf);
    media_json_member_str(c->mf, MF_STORE, stored);
    media_json_member_str(c->mf, MF_DEFAULT, r.default_loader);
    media_json_member_strv(c->mf, MF_LOADERS, r.loaders);
    media_json_member_strv(c->mf, MF_PATCHED, r.patched);
    json_builder_end_object(c->mf);
    media_bcd_report_clear(&r);
    return TRUE;
}

/* ---- the WIMs ---------------------------------------------------------------------------------- */

typedef struct {
    MediaIso *iso;
    const char *stored;
    const char *dest_label;
} IsoWimSource;

static gboolean copy_from_iso(void *user, guint64 offset, guint64 length, int fd, GError **error)
{
    IsoWimSource *s = user;
    return media_iso_copy_range(s->iso, s->stored, offset, length, fd, s->dest_label, error);
}

static MediaWim *open_wim(Ctx *c, IsoWimSource *s, const char *stored, const char *name, GError **error)
{
    g_autofree char *label = g_strdup_printf("%s:%s", c->o->iso, stored);
    g_autofree char *work = work_path(c, name);
    s->iso = c->iso;
    s->stored = stored;
    s->dest_label = own(c, g_strdup_printf("%s: work copy", c->o->output));
    MediaWimSource src = {(guint64)media_iso_file_size(c->iso, stored), copy_from_iso, s};
    return media_wim_open(&src, work, label, c->p, error);
}

/* Every image's WINDOWS/ARCH must be one we know; returns the MediaArch or 0 with an error. */
static guint image_arch(MediaWim *w, int image, GError **error)
{
    guint a = media_wim_image_arch(w, image);
    if (!a) {
        const char *t = media_wim_image_arch_text(w, image);
        if (t)
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s image %d: unknown architecture (WINDOWS/ARCH %s; x86 is 0, x64 is 9)",
                        media_wim_label(w), image, t);
        else
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s image %d: cannot tell the architecture (no WINDOWS/ARCH in its metadata)",
                        media_wim_label(w), image);
    }
    return a;
}

static gboolean decide_arch(Ctx *c, MediaWim *inst, MediaWim *boot, GArray *indexes, GError **error)
{
    for (guint i = 0; i < indexes->len; i++) {
        int img = g_array_index(indexes, int, i);
        guint a = image_arch(inst, img, error);
        if (!a)
            return FALSE;
        if (c->arch && a != c->arch) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: images of different architectures selected; use --index", media_wim_label(inst));
            return FALSE;
        }
        c->arch = a;
    }
    for (int img = 1; img <= media_wim_image_count(boot); img++) {
        guint a = image_arch(boot, img, error);
        if (!a)
            return FALSE;
        if (a != c->arch) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s image %d is %s but install.wim is %s",
                        media_wim_label(boot), img, media_arch_name(a), media_arch_name(c->arch));
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean commit_wim(Ctx *c, MediaWim *w, const char *stored, GError **error)
{
    if (!media_wim_commit(w, c->p, error)) {
        if (g_error_matches(*error, MEDIA_ERROR, MEDIA_ERROR_IO)) /* e.g. no space beside the output */
            g_prefix_error(error, "%s: work copy: ", c->o->output);
        return FALSE;
    }
    add_change(c, MEDIA_ISO_PATCH, stored, media_wim_work_path(w), media_wim_changed_ranges(w));
    return TRUE;
}

/* ---- inputs ---------------------------------------------------------------------------------- */

static gboolean check_paths(const MediaWin7Options *o, GError **error)
{
    const struct {
        const char *path, *what;
    } inputs[] = {{o->iso, "--iso"}, {o->drivers, "--drivers"}, {o->cert, "--cert"}};
    for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
        if (inputs[i].path && media_same_file(inputs[i].path, o->output)) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_BAD_PATH, "%s: output would overwrite the input (%s)",
                        o->output, inputs[i].what);
            return FALSE;
        }
    }
    if (g_file_test(o->output, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_BAD_PATH, "%s: is a folder", o->output);
        return FALSE;
    }
    if (o->product_key && o->unattend != MEDIA_UNATTEND_FULL) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "--product-key is only used with --unattend full");
        return FALSE;
    }
    return TRUE;
}

static gboolean load_drivers(Ctx *c, GError **error)
{
    const MediaWin7Options *o = c->o;
    g_autofree char *extracted = NULL;
    const char *root = o->drivers;
    if (g_file_test(o->drivers, G_FILE_TEST_IS_REGULAR)) {
        MediaIso *d = media_iso_open(o->drivers, error);
        extracted = work_path(c, "drivers-src");
        gboolean ok = d && media_iso_extract_all(d, extracted, c->p, error);
        media_iso_close(d);
        if (!ok)
            return FALSE;
        root = extracted;
    } else if (!g_file_test(o->drivers, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no such file or folder", o->drivers);
        return FALSE;
    }
    MediaScanOptions so = {.archs = c->arch, .required_archs = c->arch, .allow_unsigned = o->allow_unsigned};
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    c->packages = media_drivers_scan(root, &so, notes, &e);
    if (!c->packages) {
        g_autofree char *m = extracted ? media_replace_prefix(e->message, extracted, o->drivers) : g_strdup(e->message);
        g_set_error(error, e->domain, e->code, "%s (the install media is %s)", m, media_arch_name(c->arch));
        g_error_free(e);
        return FALSE;
    }
    for (guint i = 0; i < notes->len; i++) {
        g_autofree char *n = extracted ? media_replace_prefix(g_ptr_array_index(notes, i), extracted, o->drivers)
                                       : g_strdup(g_ptr_array_index(notes, i));
        media_progress_note(c->p, "  note: %s", n);
    }
    for (guint i = 0; i < c->packages->len; i++) {
        const MediaPackage *p = g_ptr_array_index(c->packages, i);
        if (p->device == MEDIA_DEV_BLK)
            c->blk = p;
        media_progress_note(c->p, "  driver %-5s %-12s service %-16s %s%s", media_device_name(p->device),
                            p->name, p->service, p->rev01_gated ? "REV_01-gated" : "not REV_01-gated",
                            p->catalog ? "" : ", unsigned");
    }
    return TRUE;
}

static void mf_boot_entries(Ctx *c)
{
    g_autoptr(GPtrArray) entries = media_iso_boot_entries(c->iso, NULL);
    media_manifest_add_boot_entries(c->mf, entries);
}

/* autounattend.xml: the user's is kept unless --unattend was given; none removes it then. */
static gboolean unattend(Ctx *c, GArray *indexes, GError **error)
{
    const MediaWin7Options *o = c->o;
    const char *existing = iso_find(c, WIN_MEDIA_UNATTEND);
    json_builder_set_member_name(c->mf, MF_UNATTEND);
    if (existing && !o->unattend_given) {
        json_builder_add_string_value(c->mf, MF_UNATTEND_KEPT);
        return TRUE;
    }
    if (o->unattend == MEDIA_UNATTEND_NONE) {
        if (existing)
            add_change(c, MEDIA_ISO_REMOVE, existing, NULL, NULL);
        json_builder_add_string_value(c->mf, existing ? MF_UNATTEND_REMOVED : media_unattend_name(MEDIA_UNATTEND_NONE));
        return TRUE;
    }
    int first = g_array_index(indexes, int, 0);
    g_autofree char *xml = media_unattend_xml(o->unattend, c->arch, first, o->product_key);
    g_autofree char *disk = work_path(c, "autounattend.xml");
    if (!g_file_set_contents(disk, xml, -1, error))
        return FALSE;
    add_change(c, MEDIA_ISO_ADD, existing ? existing : WIN_MEDIA_UNATTEND, disk, NULL);
    json_builder_add_string_value(c->mf, media_unattend_name(o->unattend));
    return TRUE;
}

static gboolean write_manifest(Ctx *c, const char *in_sha, const char *out_sha, const char *path, GError **error)
{
    g_autofree char *in_base = g_path_get_basename(c->o->iso);
    g_autofree char *out_base = g_path_get_basename(c->o->output);
    json_builder_set_member_name(c->mf, MF_INPUT);
    json_builder_begin_object(c->mf);
    media_json_member_str(c->mf, MF_FILE, in_base);
    media_json_member_str(c->mf, MF_SHA256, in_sha);
    /* where the files were read: "udf" for a bridge image whose ISO 9660 tree is a stub */
    media_json_member_str(c->mf, MF_FILE_TREE, media_iso_from_udf(c->iso) ? MF_FILE_TREE_UDF : MF_FILE_TREE_ISO9660);
    json_builder_end_object(c->mf);
    json_builder_set_member_name(c->mf, MF_OUTPUT);
    json_builder_begin_object(c->mf);
    media_json_member_str(c->mf, MF_FILE, out_base);
    media_json_member_str(c->mf, MF_SHA256, out_sha);
    json_builder_end_object(c->mf);
    json_builder_end_object(c->mf);
    return media_manifest_write(c->mf, path, error);
}

static gboolean make_work_dir(Ctx *c, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(c->o->output);
    g_autofree char *outdir = g_canonicalize_filename(dir, NULL); /* libisofs adds absolute paths only */
    g_autofree char *base = g_path_get_basename(c->o->output);
    g_autofree char *tmpl = g_strdup_printf("%s/.%s.work-XXXXXX", outdir, base);
    GError *e = NULL;
    c->work = media_cleanup_mkdtemp(tmpl, &e);
    if (!c->work) {
        g_set_error(error, e->domain, e->code, "%s: cannot create a work folder next to it: %s", c->o->output,
                    e->message);
        g_error_free(e);
        return FALSE;
    }
    c->stage = work_path(c, "stage");
    return TRUE;
}

gboolean media_win7(const MediaWin7Options *o, GError **error)
{
    Ctx c = {.o = o, .p = o->progress};
    gboolean ok = FALSE;
    MediaWim *boot = NULL, *inst = NULL;
    MediaHashJob *in_hash = NULL;
    IsoWimSource boot_src, inst_src;
    MediaIsoWrite wr = {.label = o->output, .volid = o->volid, .progress = o->progress};
    g_autofree char *in_sha = NULL, *manifest_path = NULL, *manifest_tmp = NULL, *iso_tmp = NULL;
    g_autoptr(GArray) indexes = g_array_new(FALSE, FALSE, sizeof(int));
    const char *boot_stored, *inst_stored, *efi_bcd;

    c.changes = g_array_new(FALSE, TRUE, sizeof(MediaIsoChange));
    c.owned = g_ptr_array_new_with_free_func(g_free);
    c.mf = json_builder_new();

    if (!check_paths(o, error))
        goto out;
    if (o->cert) {
        if (!media_cert_load(o->cert, &c.cert, error))
            goto out;
        c.blob = media_cert_blob(&c.cert);
    }
    media_progress_note(c.p, "reading %s", o->iso);
    c.iso = media_iso_open(o->iso, error);
    if (!c.iso)
        goto out;
    in_hash = media_hash_job_start(o->iso); /* overlaps everything below */
    if (media_iso_from_udf(c.iso))
        media_progress_note(c.p, "  its files are read from its UDF file system (the ISO 9660 tree is a stub); "
                            "the output holds them in ISO 9660 + Joliet");
    boot_stored = iso_find(&c, WIN_MEDIA_BOOT_WIM);
    inst_stored = iso_find(&c, WIN_MEDIA_INSTALL_WIM);
    if (!boot_stored && media_iso_udf_problem(c.iso)) { /* the files may be in the unreadable UDF tree */
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s; sources/boot.wim is not in its ISO 9660 tree either",
                    media_iso_udf_problem(c.iso));
        goto out;
    }
    if (!boot_stored || !inst_stored) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no %s: not a Windows 7 install ISO",
                    o->iso, boot_stored ? "sources/install.wim" : "sources/boot.wim");
        goto out;
    }
    if (!make_work_dir(&c, error))
        goto out;

    /* install.wim first: it decides the architecture and the drivers to use */
    inst = open_wim(&c, &inst_src, inst_stored, "install.wim", error);
    boot = inst ? open_wim(&c, &boot_src, boot_stored, "boot.wim", error) : NULL;
    if (!inst || !boot)
        goto out;
    if (!parse_indexes(o->index_spec, media_wim_image_count(inst), indexes, media_wim_label(inst), error) ||
        !decide_arch(&c, inst, boot, indexes, error))
        goto out;
    media_progress_note(c.p, "media: %s, install.wim image(s) %u of %d%s", media_arch_name(c.arch), indexes->len,
                        media_wim_image_count(inst), media_wim_is_sparse(inst) ? "" : " (copied in full)");
    if (!load_drivers(&c, error))
        goto out;

    json_builder_begin_object(c.mf);
    media_json_member_str(c.mf, MF_TOOL, "aero-media " MEDIA_VERSION);
    media_json_member_str(c.mf, MF_ARCH, media_arch_name(c.arch));
    media_json_member_str(c.mf, MF_SIGNING, media_signing_name(o->signing));
    if (!stage_drivers(&c, error))
        goto out;
    {
        g_autofree char *sys_base = g_path_get_basename(c.blk->sys);
        g_autofree char *sys_dst = g_strdup_printf(WIN_IMAGE_DRIVER_FMT, sys_base);
        g_autofree char *staged = g_strdup_printf(WIN_MEDIA_DRIVERS "/%s/%s/%s", media_arch_name(c.arch), c.blk->name,
                                                  c.blk->sys);
        json_builder_set_member_name(c.mf, MF_STORAGE_DRIVER);
        json_builder_begin_object(c.mf);
        media_json_member_str(c.mf, MF_SERVICE, c.blk->service);
        media_json_member_str(c.mf, MF_PACKAGE, c.blk->name);
        media_json_member_str(c.mf, MF_SYS, sys_dst);
        media_json_member_str(c.mf, MF_STAGED, staged);
        json_builder_end_object(c.mf);
    }
    if (o->unattend == MEDIA_UNATTEND_FULL && !media_unattend_write_setup(c.stage, error))
        goto out;
    media_set_tree_times(c.stage);

    media_progress_note(c.p, "patching BCD stores (%s)", media_signing_name(o->signing));
    json_builder_set_member_name(c.mf, MF_BCD);
    json_builder_begin_array(c.mf);
    if (!iso_find(&c, WIN_MEDIA_BOOT_BCD)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no boot/BCD", o->iso);
        goto out;
    }
    efi_bcd = iso_find(&c, WIN_MEDIA_EFI_BCD);
    if (!patch_bcd_store(&c, iso_find(&c, WIN_MEDIA_BOOT_BCD), error) || (efi_bcd && !patch_bcd_store(&c, efi_bcd, error)))
        goto out;
    json_builder_end_array(c.mf);

    json_builder_set_member_name(c.mf, MF_BOOT_WIM);
    json_builder_begin_array(c.mf);
    for (int img = 1; img <= media_wim_image_count(boot); img++)
        if (!media_progress_check(c.p, o->output, error) || !patch_image(&c, boot, "boot.wim", img, FALSE, error))
            goto out;
    json_builder_end_array(c.mf);
    if (!commit_wim(&c, boot, boot_stored, error))
        goto out;

    json_builder_set_member_name(c.mf, MF_INSTALL_WIM);
    json_builder_begin_array(c.mf);
    for (guint i = 0; i < indexes->len; i++)
        if (!media_progress_check(c.p, o->output, error) ||
            !patch_image(&c, inst, "install.wim", g_array_index(indexes, int, i), TRUE, error))
            goto out;
    json_builder_end_array(c.mf);
    if (!commit_wim(&c, inst, inst_stored, error))
        goto out;
    {
        g_autofree char *aero = g_build_filename(c.stage, "AERO", NULL);
        add_change(&c, MEDIA_ISO_ADD, "/AERO", aero, NULL);
    }
    if (!unattend(&c, indexes, error))
        goto out;
    if (c.blob) {
        json_builder_set_member_name(c.mf, MF_CERTIFICATE);
        json_builder_begin_object(c.mf);
        media_json_member_str(c.mf, MF_THUMBPRINT, c.cert.thumbprint);
        media_json_member_str(c.mf, MF_SUBJECT, c.cert.subject);
        json_builder_end_object(c.mf);
    }
    mf_boot_entries(&c);
    media_json_member_str(c.mf, MF_VOLUME_ID, o->volid ? o->volid : media_iso_volume_id(c.iso));
    media_set_tree_times(c.stage);
    media_set_tree_times(c.work);

    /* the final names only appear when both the image and its manifest are complete */
    {
        g_autofree char *base = g_path_get_basename(o->output);
        iso_tmp = g_strdup_printf("%s/.%s.iso-partial", c.work, base);
    }
    if (!media_iso_rebuild(c.iso, (MediaIsoChange *)c.changes->data, c.changes->len, iso_tmp, &wr, error))
        goto out;
    in_sha = media_hash_job_finish(in_hash, c.p, "hashing the input", error);
    in_hash = NULL;
    if (!in_sha)
        goto out;
    manifest_path = g_strconcat(o->output, MF_BESIDE_SUFFIX, NULL);
    manifest_tmp = g_strdup_printf("%s/.manifest.partial", c.work);
    if (!write_manifest(&c, in_sha, wr.sha256, manifest_tmp, error))
        goto out;
    if (!media_fsync_path(iso_tmp, error) || !media_fsync_path(manifest_tmp, error))
        goto out;
    if (!media_progress_check(c.p, o->output, error)) /* the last moment a stop leaves nothing */
        goto out;
    /* never a manifest beside an ISO it does not describe: the old one goes first, the new one
     * only appears once the new ISO is in place */
    if (g_unlink(manifest_path) != 0 && errno != ENOENT) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot replace: %s", manifest_path,
                    g_strerror(errno));
        goto out;
    }
    if (g_rename(iso_tmp, o->output) != 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot move into place: %s",
                    o->output, g_strerror(errno));
        goto out;
    }
    if (g_rename(manifest_tmp, manifest_path) != 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot move into place: %s",
                    manifest_path, g_strerror(errno));
        g_unlink(o->output);
        goto out;
    }
    media_progress_note(c.p, "wrote %s and %s", o->output, manifest_path);
    ok = TRUE;
out:
    if (!ok)
        media_progress_check(c.p, o->output, error); /* a stop, not what failed on the way out */
    media_hash_job_cancel(in_hash);
    media_wim_close(boot);
    media_wim_close(inst);
    if (c.work) {
        media_rm_rf(c.work);
        media_cleanup_remove(c.work);
    }
    media_iso_close(c.iso);
    g_free(c.work);
    g_free(c.stage);
    g_free(wr.sha256);
    if (c.packages)
        g_ptr_array_unref(c.packages);
    media_cert_clear(&c.cert);
    if (c.blob)
        g_bytes_unref(c.blob);
    g_array_unref(c.changes);
    g_ptr_array_unref(c.owned);
    g_object_unref(c.mf);
    media_error_adopt(error); /* GLib and json-glib errors on the way, too */
    return ok;
}
