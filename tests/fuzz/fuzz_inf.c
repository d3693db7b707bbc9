/* libFuzzer target: the INF reader (media/inf.c) on a hostile INF file, loaded and queried the
 * way the driver scan (media/drivers.c) does for both architectures.
 *
 * Beyond "no crash": a refusal is one line naming the file; every string the queries return is
 * valid UTF-8 (it goes into messages and the JSON manifest); hardware IDs are upper case and,
 * like service names, unique regardless of case; source files are relative paths with '/'
 * separators and no empty or "." parts; the architectures are x86 and/or amd64 only.
 */
#include "fuzz_media.h"

#include "inf.h"

#include <string.h>

static void check_string(const char *what, const char *s)
{
    if (s && !g_utf8_validate(s, -1, NULL))
        fm_violated("%s is not UTF-8", what);
}

static void check_list(const char *what, GPtrArray *a, gboolean upper, gboolean relative)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < a->len; i++) {
        const char *s = g_ptr_array_index(a, i);
        check_string(what, s);
        if (!*s && !relative)
            fm_violated("%s: an empty entry", what);
        if (!g_hash_table_add(seen, g_ascii_strdown(s, -1)))
            fm_violated("%s: \"%s\" twice", what, s);
        for (const char *p = s; upper && *p; p++)
            if (g_ascii_islower(*p))
                fm_violated("%s: \"%s\" is not upper case", what, s);
        if (!relative || !*s) /* "" (a file named "."): the scan finds no such file */
            continue;
        if (*s == '/' || strchr(s, '\\'))
            fm_violated("%s: \"%s\" is not a relative '/' path", what, s);
        g_auto(GStrv) parts = g_strsplit(s, "/", -1);
        for (guint k = 0; parts[k]; k++)
            if (!*parts[k] || !strcmp(parts[k], "."))
                fm_violated("%s: \"%s\" has an empty or \".\" part", what, s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *path = fm_write("in.inf", data, size);
    GError *e = NULL;
    MediaInf *inf = media_inf_load(path, &e);
    if (!inf) {
        fm_check_error(e, path);
        g_error_free(e);
        return 0;
    }
    const char *keys[] = {"Signature", "Class", "ClassGUID", "Provider", "DriverVer", "CatalogFile"};
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
        check_string(keys[i], media_inf_version(inf, keys[i]));
    guint archs = media_inf_archs(inf);
    if (archs & ~(guint)(MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64))
        fm_violated("architectures 0x%x", archs);
    for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
        check_string("catalog", media_inf_catalog(inf, a));
        check_string("service group", media_inf_service_group(inf, a));
        g_autoptr(GPtrArray) ids = media_inf_hardware_ids(inf, a);
        check_list("hardware IDs", ids, TRUE, FALSE);
        g_autoptr(GPtrArray) svcs = media_inf_services(inf, a);
        check_list("services", svcs, FALSE, FALSE);
        g_autoptr(GPtrArray) files = media_inf_source_files(inf, a);
        check_list("source files", files, FALSE, TRUE);
    }
    media_inf_free(inf);
    const char *const left[] = {"in.inf", NULL};
    fm_check_dir(left);
    return 0;
}
