/* Driver package discovery and validation (see drivers.h). */
#include "drivers.h"

#include "error.h"

#include <string.h>

static const struct {
    const char *name, *hwid;
    gboolean required;
} devices[MEDIA_DEV_COUNT] = {
    [MEDIA_DEV_BLK] = {"blk", "PCI\\VEN_1AF4&DEV_1042", TRUE},
    [MEDIA_DEV_NET] = {"net", "PCI\\VEN_1AF4&DEV_1041", TRUE},
    [MEDIA_DEV_INPUT] = {"input", "PCI\\VEN_1AF4&DEV_1052", FALSE},
    [MEDIA_DEV_SND] = {"snd", "PCI\\VEN_1AF4&DEV_1059", FALSE},
};

const char *media_device_name(MediaDevice d) { return devices[d].name; }
const char *media_device_hwid(MediaDevice d) { return devices[d].hwid; }
gboolean media_device_required(MediaDevice d) { return devices[d].required; }

void media_package_free(MediaPackage *p)
{
    if (!p)
        return;
    g_free(p->dir);
    g_free(p->inf);
    g_free(p->name);
    if (p->hwids)
        g_ptr_array_unref(p->hwids);
    if (p->contract_hwids)
        g_ptr_array_unref(p->contract_hwids);
    g_free(p->service);
    g_free(p->group);
    g_free(p->klass);
    g_free(p->class_guid);
    g_free(p->driver_ver);
    g_free(p->catalog);
    g_free(p->sys);
    if (p->files)
        g_ptr_array_unref(p->files);
    g_free(p);
}

/* Case-insensitive lookup of a relative path below dir (INFs name files in any case). Returns
 * the path as it exists on disk (relative), or NULL. */
static char *find_ci(const char *dir, const char *rel)
{
    g_auto(GStrv) parts = g_strsplit(rel, "/", -1);
    g_autofree char *cur = g_strdup(dir);
    GString *out = g_string_new(NULL);
    for (guint i = 0; parts[i]; i++) {
        g_autoptr(GDir) d = g_dir_open(cur, 0, NULL);
        const char *e, *hit = NULL;
        while (d && (e = g_dir_read_name(d))) {
            if (g_ascii_strcasecmp(e, parts[i]) == 0) {
                hit = e;
                break;
            }
        }
        if (!hit) {
            g_string_free(out, TRUE);
            return NULL;
        }
        if (out->len)
            g_string_append_c(out, '/');
        g_string_append(out, hit);
        char *next = g_build_filename(cur, hit, NULL);
        g_free(cur);
        cur = next;
    }
    if (!g_file_test(cur, G_FILE_TEST_IS_REGULAR)) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

static void collect_infs(const char *dir, GPtrArray *out, guint depth)
{
    if (depth > 16)
        return;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            continue;
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            collect_infs(p, out, depth + 1);
        else if (strlen(e) > 4 && g_ascii_strcasecmp(e + strlen(e) - 4, ".inf") == 0)
            g_ptr_array_add(out, g_steal_pointer(&p));
    }
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static guint folder_archs(const char *root, const char *inf_path, gboolean *prefer);

/* Scan order: INFs under a w7/win7 folder first (they win), then path order; so a package that
 * loses to a preferred one is never validated (an older-OS copy may well be incomplete). */
static gint cmp_preferred_first(gconstpointer a, gconstpointer b, gpointer root)
{
    gboolean pa, pb;
    folder_archs(root, *(char *const *)a, &pa);
    folder_archs(root, *(char *const *)b, &pb);
    if (pa != pb)
        return pa ? -1 : 1;
    return cmp_str(a, b);
}

/* Architecture hints from folder names between root and the INF. */
static guint folder_archs(const char *root, const char *inf_path, gboolean *prefer)
{
    const char *rel = inf_path + strlen(root);
    g_auto(GStrv) parts = g_strsplit(rel, G_DIR_SEPARATOR_S, -1);
    guint hint = 0;
    *prefer = FALSE;
    for (guint i = 0; parts[i] && parts[i + 1]; i++) {
        g_autofree char *p = g_ascii_strdown(parts[i], -1);
        if (!strcmp(p, "amd64") || !strcmp(p, "x64"))
            hint |= MEDIA_ARCH_AMD64;
        else if (!strcmp(p, "x86") || !strcmp(p, "i386"))
            hint |= MEDIA_ARCH_X86;
        else if (!strcmp(p, "w7") || !strcmp(p, "win7"))
            *prefer = TRUE; /* virtio-win keeps one folder per Windows release */
    }
    return hint;
}

/* Folders that name an architecture or a Windows release rather than a package. */
static gboolean layout_folder(const char *name)
{
    g_autofree char *l = g_ascii_strdown(name, -1);
    static const char *const fixed[] = {"amd64", "x64", "x86", "i386", "xp", "vista", "2k3", "2k8", "2k8r2"};
    for (guint i = 0; i < G_N_ELEMENTS(fixed); i++)
        if (!strcmp(l, fixed[i]))
            return TRUE;
    /* w7, win7, w10, win8.1, 2k12, 2k12r2, 2k16 ... */
    const char *d = g_str_has_prefix(l, "win") ? l + 3 : g_str_has_prefix(l, "w") ? l + 1
                    : g_str_has_prefix(l, "2k") ? l + 2 : NULL;
    if (!d || !g_ascii_isdigit(*d))
        return FALSE;
    while (g_ascii_isdigit(*d) || *d == '.')
        d++;
    return !*d || !strcmp(d, "r2");
}

/* The package's name on the output media: its folder's, unless the folder is a layout folder or
 * holds several INFs (then every INF is its own package, named after the INF). */
static char *package_name(const char *dir, const char *inf, guint infs_in_dir)
{
    g_autofree char *base = g_path_get_basename(dir);
    if (infs_in_dir > 1 || layout_folder(base))
        return g_ascii_strdown(inf, (gssize)strlen(inf) - 4);
    return g_ascii_strdown(base, -1);
}

static guint count_infs_in_dir(GPtrArray *infs, const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    guint n = 0;
    for (guint i = 0; i < infs->len; i++) {
        g_autofree char *d = g_path_get_dirname(g_ptr_array_index(infs, i));
        n += !strcmp(d, dir);
    }
    return n;
}

/* What an INF without a contract hardware ID was probably meant to drive, from its Class. */
static int device_by_class(MediaInf *inf)
{
    const char *cls = media_inf_version(inf, "Class");
    if (!cls)
        return -1;
    if (!g_ascii_strcasecmp(cls, "SCSIAdapter") || !g_ascii_strcasecmp(cls, "HDC"))
        return MEDIA_DEV_BLK;
    if (!g_ascii_strcasecmp(cls, "Net"))
        return MEDIA_DEV_NET;
    if (!g_ascii_strcasecmp(cls, "HIDClass") || !g_ascii_strcasecmp(cls, "Keyboard") || !g_ascii_strcasecmp(cls, "Mouse"))
        return MEDIA_DEV_INPUT;
    if (!g_ascii_strcasecmp(cls, "MEDIA"))
        return MEDIA_DEV_SND;
    return -1;
}

static gboolean hwid_is(const char *hwid, const char *prefix)
{
    gsize n = strlen(prefix);
    return g_ascii_strncasecmp(hwid, prefix, n) == 0 && (hwid[n] == '\0' || hwid[n] == '&');
}

/* Validate one INF for one arch; NULL + error when the package is broken. */
static MediaPackage *build_package(const char *inf_path, MediaInf *inf, guint infs_in_dir,
                                   MediaArch arch, MediaDevice dev, GPtrArray *hwids,
                                   const MediaScanOptions *opt, GPtrArray *notes, GError **error)
{
    MediaPackage *p = g_new0(MediaPackage, 1);
    p->dir = g_path_get_dirname(inf_path);
    p->inf = g_path_get_basename(inf_path);
    p->arch = arch;
    p->device = dev;
    p->hwids = g_ptr_array_ref(hwids);
    p->contract_hwids = g_ptr_array_new_with_free_func(g_free);
    p->files = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(p->files, g_strdup(p->inf));
    gboolean all_rev01 = TRUE;
    for (guint i = 0; i < hwids->len; i++) {
        const char *h = g_ptr_array_index(hwids, i);
        if (!hwid_is(h, devices[dev].hwid))
            continue;
        g_ptr_array_add(p->contract_hwids, g_strdup(h));
        if (!strstr(h, "&REV_01"))
            all_rev01 = FALSE;
    }
    p->rev01_gated = all_rev01;
    p->name = package_name(p->dir, p->inf, infs_in_dir);

    const char *cls = media_inf_version(inf, "Class");
    const char *guid = media_inf_version(inf, "ClassGUID");
    const char *ver = media_inf_version(inf, "DriverVer");
    if (!cls || !guid || !ver) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                    "%s: [Version] lacks %s", inf_path, !cls ? "Class" : !guid ? "ClassGUID" : "DriverVer");
        media_package_free(p);
        return NULL;
    }
    p->klass = g_strdup(cls);
    p->class_guid = g_strdup(guid);
    p->driver_ver = g_strdup(ver);

    g_autoptr(GPtrArray) svcs = media_inf_services(inf, arch);
    if (svcs->len == 0) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: no AddService for %s", inf_path,
                    media_arch_name(arch));
        media_package_free(p);
        return NULL;
    }
    p->service = g_strdup(g_ptr_array_index(svcs, 0));
    p->group = g_strdup(media_inf_service_group(inf, arch));

    const char *cat = media_inf_catalog(inf, arch);
    if (cat) {
        char *found = find_ci(p->dir, cat);
        if (found) {
            p->catalog = found;
            g_ptr_array_add(p->files, g_strdup(found));
        }
    }
    if (!p->catalog && !opt->allow_unsigned) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND,
                    cat ? "%s: catalog %s is missing (use --allow-unsigned to accept)"
                        : "%s: no CatalogFile in [Version]%s (use --allow-unsigned to accept)",
                    inf_path, cat ? cat : "");
        media_package_free(p);
        return NULL;
    }
    if (!p->catalog)
        g_ptr_array_add(notes, g_strdup_printf("%s: unsigned (no catalog), accepted", inf_path));

    g_autoptr(GPtrArray) src = media_inf_source_files(inf, arch);
    g_autofree char *svc_sys = g_strdup_printf("%s.sys", p->service);
    for (guint i = 0; i < src->len; i++) {
        const char *rel = g_ptr_array_index(src, i);
        char *found = find_ci(p->dir, rel);
        if (!found) {
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: %s names %s, which is missing",
                        inf_path, media_arch_name(arch), rel);
            media_package_free(p);
            return NULL;
        }
        g_autofree char *bn = g_path_get_basename(found);
        if (g_str_has_suffix(bn, ".sys") || g_str_has_suffix(bn, ".SYS")) {
            if (!p->sys || g_ascii_strcasecmp(bn, svc_sys) == 0) {
                g_free(p->sys);
                p->sys = g_strdup(found);
            }
        }
        g_ptr_array_add(p->files, found);
    }
    if (!p->sys) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no .sys in SourceDisksFiles for %s",
                    inf_path, media_arch_name(arch));
        media_package_free(p);
        return NULL;
    }
    return p;
}

static void free_skipped(GPtrArray *lists[MEDIA_DEV_COUNT][2])
{
    for (int d = 0; d < MEDIA_DEV_COUNT; d++)
        for (int a = 0; a < 2; a++)
            g_ptr_array_unref(lists[d][a]);
}

GPtrArray *media_drivers_scan(const char *root_in, const MediaScanOptions *opt, GPtrArray *notes,
                              GError **error)
{
    g_autofree char *root = g_canonicalize_filename(root_in, NULL);
    if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_BAD_PATH, "%s: not a folder", root_in);
        return NULL;
    }
    g_autoptr(GPtrArray) infs = g_ptr_array_new_with_free_func(g_free);
    collect_infs(root, infs, 0);
    g_ptr_array_sort_with_data(infs, cmp_preferred_first, root);
    if (infs->len == 0) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND, "%s: no INF files found", root_in);
        return NULL;
    }

    /* best[device][arch-1]: the first candidate in scan order (preferred folders first) */
    MediaPackage *best[MEDIA_DEV_COUNT][2] = {{NULL}};
    gboolean best_pref[MEDIA_DEV_COUNT][2] = {{FALSE}};
    /* INFs skipped for lacking a contract hardware ID, by the device their Class suggests */
    GPtrArray *no_hwid[MEDIA_DEV_COUNT][2];
    for (int d = 0; d < MEDIA_DEV_COUNT; d++)
        for (int a = 0; a < 2; a++)
            no_hwid[d][a] = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *out;
    for (guint i = 0; i < infs->len; i++) {
        const char *path = g_ptr_array_index(infs, i);
        g_autoptr(GError) e = NULL;
        MediaInf *inf = media_inf_load(path, &e);
        if (!inf) {
            g_propagate_error(error, g_steal_pointer(&e));
            goto fail;
        }
        gboolean prefer;
        guint hint = folder_archs(root, path, &prefer);
        guint archs = media_inf_archs(inf);
        guint use = (hint ? (archs & hint) : archs) & opt->archs;
        if (hint && !(archs & hint))
            g_ptr_array_add(notes, g_strdup_printf("%s: folder says %s but the INF has no such models; skipped",
                                                   path, hint & MEDIA_ARCH_AMD64 ? "amd64" : "x86"));
        for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
            if (!(use & a))
                continue;
            GPtrArray *hw = media_inf_hardware_ids(inf, a);
            int dev = -1;
            for (guint h = 0; h < hw->len && dev < 0; h++)
                for (int d = 0; d < MEDIA_DEV_COUNT; d++)
                    if (hwid_is(g_ptr_array_index(hw, h), devices[d].hwid))
                        dev = d;
            if (dev < 0) {
                g_ptr_array_add(notes, g_strdup_printf("%s: no contract hardware ID for %s; skipped",
                                                       path, media_arch_name(a)));
                int guess = device_by_class(inf);
                if (guess >= 0)
                    g_ptr_array_add(no_hwid[guess][a == MEDIA_ARCH_AMD64],
                                    g_strdup_printf("%s (it names %s)", path,
                                                    hw->len ? (char *)g_ptr_array_index(hw, 0) : "no hardware ID"));
                g_ptr_array_unref(hw);
                continue;
            }
            int ai = a == MEDIA_ARCH_AMD64;
            if (best[dev][ai] && (best_pref[dev][ai] || !prefer)) {
                g_ptr_array_add(notes, g_strdup_printf("%s: another %s package for %s already chosen; skipped",
                                                       path, devices[dev].name, media_arch_name(a)));
                g_ptr_array_unref(hw);
                continue;
            }
            MediaPackage *p = build_package(path, inf, count_infs_in_dir(infs, path), a, dev, hw, opt, notes, &e);
            g_ptr_array_unref(hw);
            if (!p) {
                media_inf_free(inf);
                g_propagate_error(error, g_steal_pointer(&e));
                goto fail;
            }
            media_package_free(best[dev][ai]);
            best[dev][ai] = p;
            best_pref[dev][ai] = prefer;
        }
        media_inf_free(inf);
    }

    for (int d = 0; d < MEDIA_DEV_COUNT; d++) {
        for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
            if (devices[d].required && (opt->required_archs & a) && !best[d][a == MEDIA_ARCH_AMD64]) {
                GPtrArray *skipped = no_hwid[d][a == MEDIA_ARCH_AMD64];
                g_autofree char *why = NULL;
                if (skipped->len) {
                    g_ptr_array_add(skipped, NULL);
                    g_autofree char *list = g_strjoinv(", ", (char **)skipped->pdata);
                    why = g_strdup_printf("; not used for lack of the contract hardware ID: %s", list);
                }
                g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_NOT_FOUND,
                            "%s: no driver package for %s (%s) on %s%s", root_in, devices[d].name,
                            devices[d].hwid, media_arch_name(a), why ? why : "");
                goto fail;
            }
        }
    }
    out = g_ptr_array_new_with_free_func((GDestroyNotify)media_package_free);
    for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
        for (int d = 0; d < MEDIA_DEV_COUNT; d++) {
            MediaPackage *p = best[d][a == MEDIA_ARCH_AMD64];
            if (!p)
                continue;
            /* two packages of one architecture never share a folder on the media */
            for (int d2 = 0; d2 < d; d2++) {
                MediaPackage *q = best[d2][a == MEDIA_ARCH_AMD64];
                if (q && !strcmp(q->name, p->name)) {
                    char *n = g_strdup_printf("%s-%s", p->name, devices[d].name);
                    g_free(p->name);
                    p->name = n;
                }
            }
            g_ptr_array_add(out, p);
        }
    }
    free_skipped(no_hwid);
    return out;

fail:
    for (int d = 0; d < MEDIA_DEV_COUNT; d++)
        for (int a = 0; a < 2; a++)
            media_package_free(best[d][a]);
    free_skipped(no_hwid);
    return NULL;
}
