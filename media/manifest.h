/* The manifest schema, in one place: every JSON key that `aero-media driver-iso` (manifest.json on
 * the driver ISO) and `aero-media win7` (OUT.iso.manifest.json) write and `aero-media verify`
 * reads, the values with fixed spellings, and the helpers that write and read the parts both
 * sides share (file lists, El Torito entries). A key is spelled here and nowhere else.
 */
#ifndef MEDIA_MANIFEST_H
#define MEDIA_MANIFEST_H

#include "iso.h"

#include <json-glib/json-glib.h>

/* ---- both manifests --------------------------------------------------------------------------- */
#define MF_TOOL "tool"     /* "aero-media <version>" */
#define MF_ARCH "arch"     /* "x86" / "amd64" */
#define MF_DEVICE "device" /* "blk", "net", "input", "snd" */
#define MF_NAME "name"
#define MF_SERVICE "service"
#define MF_INF "inf"
#define MF_SYS "sys"
#define MF_HARDWARE_IDS "hardware_ids" /* the contract hardware IDs the INF names */
#define MF_REV01_GATED "rev01_gated"
#define MF_FILES "files" /* [{path, sha256[, size]}] */
#define MF_PATH "path"
#define MF_SHA256 "sha256"
#define MF_SIZE "size"

/* ---- driver-iso: manifest.json ---------------------------------------------------------------- */
#define MF_ON_MEDIA_NAME "manifest.json" /* at the root of the driver ISO */
#define MF_CONTRACT "contract"
#define MF_CONTRACT_NAME "AERO-W7-VIRTIO v1"
#define MF_SOURCE "source"
#define MF_PACKAGES "packages"
#define MF_LOAD_ORDER_GROUP "load_order_group"
#define MF_CLASS "class"
#define MF_CLASS_GUID "class_guid"
#define MF_DRIVER_VER "driver_ver"
#define MF_CATALOG "catalog"

/* ---- win7: OUT.iso.manifest.json --------------------------------------------------------------- */
#define MF_BESIDE_SUFFIX ".manifest.json" /* the manifest of OUT.iso is OUT.iso.manifest.json */
#define MF_SIGNING "signing"              /* media_signing_name() */
#define MF_DRIVERS "drivers"              /* the staged packages (MF_FILES without sizes) */
#define MF_STORAGE_DRIVER                                                                          \
    "storage_driver" /* {service, package, sys, staged}; in images: the path */
#define MF_PACKAGE "package"
#define MF_STAGED "staged"
#define MF_BCD "bcd" /* [{store, default, loaders, patched}] */
#define MF_STORE "store"
#define MF_DEFAULT "default"
#define MF_LOADERS "loaders"
#define MF_PATCHED "patched"
#define MF_BOOT_WIM "boot_wim"       /* [{index, name, storage_driver, control_sets}] */
#define MF_INSTALL_WIM "install_wim" /* the same, plus bcd_template_patched */
#define MF_INDEX "index"
#define MF_CONTROL_SETS "control_sets" /* the current one first */
#define MF_BCD_TEMPLATE_PATCHED "bcd_template_patched"
#define MF_UNATTEND "unattend"        /* media_unattend_name(), or: */
#define MF_UNATTEND_KEPT "kept"       /*   the input's own, kept */
#define MF_UNATTEND_REMOVED "removed" /*   the input's own, removed (--unattend none) */
#define MF_CERTIFICATE "certificate"  /* {thumbprint, subject} */
#define MF_THUMBPRINT "thumbprint"
#define MF_SUBJECT "subject"
#define MF_EL_TORITO "el_torito" /* the input's boot entries (media_manifest_add_boot_entries) */
#define MF_PLATFORM "platform"
#define MF_EMULATION "emulation"
#define MF_LOAD_SIZE "load_size"
#define MF_VOLUME_ID "volume_id"
#define MF_INPUT "input"   /* {file, sha256, file_tree} */
#define MF_OUTPUT "output" /* {file, sha256} */
#define MF_FILE "file"
#define MF_FILE_TREE "file_tree"
#define MF_FILE_TREE_UDF "udf" /* a bridge image whose ISO 9660 tree is a stub */
#define MF_FILE_TREE_ISO9660 "iso9660"

/* ---- writing ---------------------------------------------------------------------------------- */

/* Members: a string (JSON null when value is NULL), an array of strings (empty when values is
 * NULL). */
void media_json_member_str(JsonBuilder *b, const char *name, const char *value);
void media_json_member_strv(JsonBuilder *b, const char *name, GPtrArray *values);
/* One element of MF_FILES; size < 0 leaves the size out. */
void media_manifest_add_file(JsonBuilder *b, const char *path, const char *sha256, gint64 size);
/* MF_EL_TORITO with the entries (media_iso_boot_entries; NULL: none). */
void media_manifest_add_boot_entries(JsonBuilder *b, GPtrArray *entries);
/* The built document, pretty-printed, to path. */
gboolean media_manifest_write(JsonBuilder *b, const char *path, GError **error);

/* ---- reading (verify) ------------------------------------------------------------------------- */

/* A member of o (o may be NULL) if it is there with the right type, else NULL. */
const char *media_manifest_str(JsonObject *o, const char *key);
JsonObject *media_manifest_obj(JsonObject *o, const char *key);
JsonArray *media_manifest_arr(JsonObject *o, const char *key);
/* Load path into p; its root object, or NULL with "<path>: not a readable manifest". */
JsonObject *media_manifest_load(JsonParser *p, const char *path, GError **error);
/* Whether the recorded MF_EL_TORITO entries are `got`: same count, and each the same platform,
 * emulation, load size, path and boot image SHA-256. */
gboolean media_manifest_boot_entries_match(JsonArray *want, GPtrArray *got);

#endif
