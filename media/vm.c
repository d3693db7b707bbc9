/* `aero-media vm` (see vm.h). The cache key of each built ISO is a SHA-256 over the tool version,
 * the options that shape it and the SHA-256 of every input file (a driver folder: each file's
 * relative path and hash, in path order), so a changed input or option builds a new ISO and an
 * unchanged one is reused as it is.
 */
#include "vm.h"

#include "driver_iso.h"
#include "inf.h"
#include "util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b); /* g_ptr_array_sort passes element addresses */
}

/* Hash of a driver folder: relative path and SHA-256 of every file, in path order. */
static gboolean hash_tree(const char *root, const char *rel, GChecksum *sum, GError **error)
{
    g_autofree char *dir = rel ? g_build_filename(root, rel, NULL) : g_strdup(root);
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    if (!d)
        return FALSE;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *r = rel ? g_build_filename(rel, name, NULL) : g_strdup(name);
        g_autofree char *full = g_build_filename(root, r, NULL);
        if (g_file_test(full, G_FILE_TEST_IS_DIR)) {
            if (!g_file_test(full, G_FILE_TEST_IS_SYMLINK) && !hash_tree(root, r, sum, error))
                return FALSE;
            continue;
        }
        g_autofree char *h = media_sha256_file(full, NULL, error);
        if (!h)
            return FALSE;
        g_checksum_update(sum, (const guchar *)r, -1);
        g_checksum_update(sum, (const guchar *)"\n", 1);
        g_checksum_update(sum, (const guchar *)h, -1);
        g_checksum_update(sum, (const guchar *)"\n", 1);
    }
    return TRUE;
}

/* SHA-256 of an input: a file's content, or a folder's tree. */
static char *hash_input(const char *path, MediaProgress *p, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        if (!hash_tree(path, NULL, sum, error))
            return NULL;
        return g_strdup(g_checksum_get_string(sum));
    }
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file or folder", path);
        return NULL;
    }
    return media_sha256_file(path, p, error);
}

/* Short key for file names: the first 16 hex digits of SHA-256 over the parts. */
static char *cache_key(const char *const *parts)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    for (guint i = 0; parts[i]; i++) {
        g_checksum_update(sum, (const guchar *)parts[i], -1);
        g_checksum_update(sum, (const guchar *)"\0", 1);
    }
    return g_strndup(g_checksum_get_string(sum), 16);
}

gboolean media_vm(MediaVmOptions *o, GError **error)
{
    MediaProgress *p = o->domain.progress;
    g_autofree char *disk_dir = g_path_get_dirname(o->domain.disk);
    const char *cache = o->cache_dir ? o->cache_dir : disk_dir;
    if (!g_file_test(cache, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such folder (the ISOs are kept there)", cache);
        return FALSE;
    }
    if (!g_file_test(o->iso, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file (--iso)", o->iso);
        return FALSE;
    }
    if (o->cert && !g_file_test(o->cert, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file (--cert)", o->cert);
        return FALSE;
    }

    media_progress_note(p, "hashing the inputs (the built ISOs are cached under their hashes)");
    g_autofree char *drivers_sha = hash_input(o->drivers, NULL, error);
    if (!drivers_sha)
        return FALSE;
    g_autofree char *iso_sha = media_sha256_file(o->iso, p, error);
    if (!iso_sha)
        return FALSE;
    g_autofree char *cert_sha = o->cert ? media_sha256_file(o->cert, NULL, error) : g_strdup("-");
    if (!cert_sha)
        return FALSE;

    /* both architectures: the same driver ISO serves x86 and x64 installs */
    const char *drv_parts[] = {"aero-media " MEDIA_VERSION, "driver-iso", drivers_sha,
                               o->allow_unsigned ? "unsigned-ok" : "signed", NULL};
    g_autofree char *drv_key = cache_key(drv_parts);
    char unattend[2] = {(char)('0' + o->unattend), 0}, signing[2] = {(char)('0' + o->signing), 0};
    const char *w7_parts[] = {"aero-media " MEDIA_VERSION, "win7", iso_sha, drivers_sha, cert_sha, unattend, signing,
                              o->product_key ? o->product_key : "-", o->allow_unsigned ? "unsigned-ok" : "signed", NULL};
    g_autofree char *w7_key = cache_key(w7_parts);
    g_autofree char *drv_name = g_strdup_printf("aero-drivers-%s.iso", drv_key);
    g_autofree char *w7_name = g_strdup_printf("win7-aero-%s.iso", w7_key);
    g_autofree char *drv_iso = g_build_filename(cache, drv_name, NULL);
    g_autofree char *w7_iso = g_build_filename(cache, w7_name, NULL);
    g_autofree char *w7_manifest = g_strdup_printf("%s.manifest.json", w7_iso);

    if (g_file_test(drv_iso, G_FILE_TEST_IS_REGULAR)) {
        media_progress_note(p, "reusing %s (same drivers)", drv_iso);
    } else {
        MediaDriverIsoOptions d = {.drivers = o->drivers, .output = drv_iso, .archs = MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64,
                                   .allow_unsigned = o->allow_unsigned, .progress = p};
        media_progress_note(p, "== driver ISO");
        if (!media_driver_iso(&d, error))
            return FALSE;
    }
    /* win7 writes the manifest last: an ISO without one was never finished */
    if (g_file_test(w7_iso, G_FILE_TEST_IS_REGULAR) && g_file_test(w7_manifest, G_FILE_TEST_IS_REGULAR)) {
        media_progress_note(p, "reusing %s (same ISO, drivers and options)", w7_iso);
    } else {
        MediaWin7Options w = {.iso = o->iso, .drivers = o->drivers, .output = w7_iso, .cert = o->cert,
                              .signing = o->signing, .unattend = o->unattend, .unattend_given = TRUE,
                              .product_key = o->product_key, .allow_unsigned = o->allow_unsigned, .progress = p};
        media_progress_note(p, "== Windows 7 install ISO");
        if (!media_win7(&w, error))
            return FALSE;
    }

    media_progress_note(p, "== libvirt domain");
    o->domain.iso = w7_iso;
    o->domain.drivers_iso = drv_iso;
    if (o->xml_only) {
        o->domain.define = o->domain.start = FALSE;
    } else {
        o->domain.define = TRUE;
        o->domain.start = TRUE;
    }
    return media_domain(&o->domain, error);
}
