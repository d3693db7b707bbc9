/* `aero-media driver-iso`: validate driver packages and write them as an ISO 9660 + Joliet image
 * with win7/<arch>/<package>/..., manifest.json and INSTALL.txt.
 */
#include "driver_iso.h"

#include "error.h"
#include "drivers.h"
#include "iso.h"
#include "manifest.h"
#include "util.h"

#include <json-glib/json-glib.h>
#include <string.h>

static gboolean copy_package(const MediaPackage *p, const char *staging, const char *dest, JsonBuilder *files,
                             const char *iso_prefix, GError **error)
{
    for (guint i = 0; i < p->files->len; i++) {
        const char *rel = g_ptr_array_index(p->files, i);
        g_autofree char *src = g_build_filename(p->dir, rel, NULL);
        g_autofree char *dst = g_build_filename(dest, rel, NULL);
        g_autofree char *dstdir = g_path_get_dirname(dst);
        if (!media_mkdir_below(staging, dstdir, error) || !media_copy_file(src, dst, error))
            return FALSE;
        g_autofree char *sha = media_sha256_file(dst, NULL, error);
        if (!sha)
            return FALSE;
        g_autofree char *isopath = g_strdup_printf("%s/%s", iso_prefix, rel);
        media_manifest_add_file(files, isopath, sha, media_file_size(dst));
    }
    return TRUE;
}

static const char install_txt[] =
    "AERO-W7-VIRTIO driver media\r\n"
    "===========================\r\n\r\n"
    "win7\\x86\\<package>\\    drivers for 32-bit Windows 7\r\n"
    "win7\\amd64\\<package>\\  drivers for 64-bit Windows 7\r\n\r\n"
    "During Windows Setup: \"Load driver\" -> Browse -> win7\\<arch>\\<blk package>.\r\n"
    "After installation: Device Manager -> Update driver -> Browse -> this disc (subfolders).\r\n"
    "manifest.json lists every file with its SHA-256, and which device each package drives.\r\n";

gboolean media_driver_iso(const MediaDriverIsoOptions *o, GError **error)
{
    gboolean ok = FALSE;
    g_autofree char *extracted = NULL, *staging = NULL, *manifest = NULL, *install = NULL;
    g_autofree char *srcname = g_path_get_basename(o->drivers);
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(GError) scan_err = NULL; /* declared before the first goto (cleanup attribute) */
    MediaScanOptions so;
    MediaIsoWrite wo = {.progress = o->progress};
    g_autoptr(GPtrArray) packages = NULL;
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    const char *root = o->drivers;
    MediaProgress *p = o->progress;

    if (media_same_file(o->drivers, o->output)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_BAD_PATH, "%s: output would overwrite the input",
                    o->output);
        return FALSE;
    }
    if (g_file_test(o->output, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_BAD_PATH, "%s: is a folder", o->output);
        return FALSE;
    }
    if (g_file_test(o->drivers, G_FILE_TEST_IS_REGULAR)) {
        MediaIso *iso = media_iso_open(o->drivers, error);
        if (!iso)
            return FALSE;
        extracted = media_cleanup_tmp_dir("aero-media-drivers-XXXXXX", error);
        if (!extracted)
            g_prefix_error(error, "%s: cannot create a temporary folder: ", g_get_tmp_dir());
        gboolean got = extracted && media_iso_extract_all(iso, extracted, p, error);
        media_iso_close(iso);
        if (!got)
            goto out;
        root = extracted;
    } else if (!g_file_test(o->drivers, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no such file or folder", o->drivers);
        return FALSE;
    }

    media_progress_note(p, "scanning %s for driver packages", o->drivers);
    so.archs = so.required_archs = o->archs;
    so.allow_unsigned = o->allow_unsigned;
    packages = media_drivers_scan(root, &so, notes, &scan_err);
    if (!packages) {
        /* name the user's path, not our extraction folder */
        g_autofree char *msg = extracted ? media_replace_prefix(scan_err->message, extracted, o->drivers)
                                         : g_strdup(scan_err->message);
        g_set_error_literal(error, scan_err->domain, scan_err->code, msg);
        goto out;
    }
    for (guint i = 0; i < notes->len; i++) {
        g_autofree char *n = extracted ? media_replace_prefix(g_ptr_array_index(notes, i), extracted, o->drivers)
                                       : g_strdup(g_ptr_array_index(notes, i));
        media_progress_note(p, "  note: %s", n);
    }

    staging = media_cleanup_tmp_dir("aero-media-staging-XXXXXX", error);
    if (!staging) {
        g_prefix_error(error, "%s: cannot create a temporary folder: ", g_get_tmp_dir());
        goto out;
    }
    json_builder_begin_object(b);
    media_json_member_str(b, MF_TOOL, "aero-media " MEDIA_VERSION);
    media_json_member_str(b, MF_CONTRACT, MF_CONTRACT_NAME);
    media_json_member_str(b, MF_SOURCE, srcname);
    json_builder_set_member_name(b, MF_PACKAGES);
    json_builder_begin_array(b);
    for (guint i = 0; i < packages->len; i++) {
        const MediaPackage *pk = g_ptr_array_index(packages, i);
        g_autofree char *prefix = g_strdup_printf("win7/%s/%s", media_arch_name(pk->arch), pk->name);
        g_autofree char *dest = g_build_filename(staging, "win7", media_arch_name(pk->arch), pk->name, NULL);
        media_progress_note(p, "  %-5s %-5s %-12s service %-16s %s%s", media_device_name(pk->device),
                            media_arch_name(pk->arch), pk->name, pk->service,
                            pk->rev01_gated ? "REV_01-gated" : "not REV_01-gated", pk->catalog ? "" : ", unsigned");
        json_builder_begin_object(b);
        media_json_member_str(b, MF_DEVICE, media_device_name(pk->device));
        media_json_member_str(b, MF_ARCH, media_arch_name(pk->arch));
        media_json_member_str(b, MF_NAME, pk->name);
        g_autofree char *infpath = g_strdup_printf("%s/%s", prefix, pk->inf);
        media_json_member_str(b, MF_INF, infpath);
        media_json_member_str(b, MF_SERVICE, pk->service);
        media_json_member_str(b, MF_LOAD_ORDER_GROUP, pk->group);
        media_json_member_str(b, MF_CLASS, pk->klass);
        media_json_member_str(b, MF_CLASS_GUID, pk->class_guid);
        media_json_member_str(b, MF_DRIVER_VER, pk->driver_ver);
        g_autofree char *cat = pk->catalog ? g_strdup_printf("%s/%s", prefix, pk->catalog) : NULL;
        media_json_member_str(b, MF_CATALOG, cat);
        g_autofree char *sys = g_strdup_printf("%s/%s", prefix, pk->sys);
        media_json_member_str(b, MF_SYS, sys);
        media_json_member_strv(b, MF_HARDWARE_IDS, pk->contract_hwids);
        json_builder_set_member_name(b, MF_REV01_GATED);
        json_builder_add_boolean_value(b, pk->rev01_gated);
        json_builder_set_member_name(b, MF_FILES);
        json_builder_begin_array(b);
        if (!copy_package(pk, staging, dest, b, prefix, error))
            goto out;
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);

    manifest = g_build_filename(staging, MF_ON_MEDIA_NAME, NULL);
    install = g_build_filename(staging, "INSTALL.txt", NULL);
    if (!media_manifest_write(b, manifest, error) ||
        !g_file_set_contents(install, install_txt, -1, error))
        goto out;
    media_set_tree_times(staging);

    wo.volid = o->volid ? o->volid : "AERO_DRIVERS";
    if (!media_iso_write_dir(staging, o->output, &wo, error))
        goto out;
    media_progress_note(p, "wrote %s: %u package(s), SHA-256 %s", o->output, packages->len, wo.sha256);
    ok = TRUE;
out:
    if (!ok)
        media_progress_check(p, o->output, error); /* a stop, not what failed on the way out */
    g_free(wo.sha256);
    if (extracted) {
        media_rm_rf(extracted);
        media_cleanup_remove(extracted);
    }
    if (staging) {
        media_rm_rf(staging);
        media_cleanup_remove(staging);
    }
    media_error_adopt(error); /* GLib and json-glib errors on the way, too */
    return ok;
}
