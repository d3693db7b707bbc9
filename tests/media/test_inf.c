/* The INF reader (media/inf.c) on INFs written here: what driver validation relies on (sections,
 * fields, quoting, continuations, %strings%, per-architecture models, services and source files,
 * UTF-16LE / UTF-8 / CP1252), and hostile files: truncated, huge, malformed lines, bad encodings.
 */
#include "unit.h"

#include "error.h"
#include "inf.h"

#include <stdlib.h>
#include <string.h>

static const char viostor[] =
    "; a comment line\r\n"
    "[Version]\r\n"
    "Signature=\"$WINDOWS NT$\"\r\n"
    "Class = SCSIAdapter ; trailing comment\r\n"
    "ClassGUID={4D36E97B-E325-11CE-BFC1-08002BE10318}\r\n"
    "Provider=%Aero%\r\n"
    "DriverVer=01/02/2026,1.2.3.4\r\n"
    "CatalogFile=generic.cat\r\n"
    "CatalogFile.NTamd64=aero64.cat\r\n"
    "\r\n"
    "[Manufacturer]\r\n"
    "%Aero% = Aero, NTx86, NTamd64\r\n"
    "\r\n"
    "[Aero.NTx86]\r\n"
    "%Disk.Desc% = AeroBlk_Inst, PCI\\VEN_1AF4&DEV_1042&REV_01\r\n"
    "\r\n"
    "[Aero.NTamd64]\r\n"
    "%Disk.Desc% = AeroBlk_Inst, pci\\ven_1af4&dev_1042&subsys_00021af4&rev_01, \\\r\n"
    "    PCI\\VEN_1AF4&DEV_1042&REV_01\r\n"
    "\"quoted; not a comment\" = AeroBlk_Inst, PCI\\VEN_1AF4&DEV_1042&REV_01\r\n"
    "\r\n"
    "[AeroBlk_Inst.NTamd64.Services]\r\n"
    "AddService = aerostor, 0x00000002, AeroBlk_Service\r\n"
    "\r\n"
    "[AeroBlk_Inst.Services]\r\n"
    "AddService = aerostor32, 2, AeroBlk_Service32\r\n"
    "\r\n"
    "[AeroBlk_Service]\r\n"
    "LoadOrderGroup = \"SCSI miniport\"\r\n"
    "\r\n"
    "[SourceDisksNames]\r\n"
    "1 = %Disk.Desc%,,,\\x86\r\n"
    "\r\n"
    "[SourceDisksNames.amd64]\r\n"
    "1 = %Disk.Desc%,,,.\\amd64\\\r\n"
    "\r\n"
    "[SourceDisksFiles]\r\n"
    "aerostor.sys = 1\r\n"
    "\r\n"
    "[SourceDisksFiles.amd64]\r\n"
    "coinst.dll = 1, sub\\dir\r\n"
    "\r\n"
    "[Strings]\r\n"
    "Aero = \"Aero \"\"Project\"\"\"\r\n"
    "Disk.Desc = \"Aero block device\"\r\n";

static MediaInf *load_text(const char *text, gssize len)
{
    g_autofree char *path = unit_write("t.inf", text, len);
    GError *e = NULL;
    MediaInf *inf = media_inf_load(path, &e);
    ck_assert_msg(inf != NULL, "%s", e ? e->message : "?");
    return inf;
}

static gboolean has(GPtrArray *a, const char *v)
{
    for (guint i = 0; i < a->len; i++)
        if (!strcmp(g_ptr_array_index(a, i), v))
            return TRUE;
    return FALSE;
}

START_TEST(test_inf_version_values_are_substituted_and_uncommented)
{
    MediaInf *inf = load_text(viostor, -1);
    ck_assert_str_eq(media_inf_version(inf, "class"), "SCSIAdapter");
    ck_assert_str_eq(media_inf_version(inf, "CLASSGUID"), "{4D36E97B-E325-11CE-BFC1-08002BE10318}");
    ck_assert_str_eq(media_inf_version(inf, "DriverVer"), "01/02/2026,1.2.3.4");
    ck_assert_str_eq(media_inf_version(inf, "Provider"), "Aero \"Project\"");
    ck_assert_ptr_null(media_inf_version(inf, "Missing"));
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_catalog_decorated_key_wins_for_its_arch)
{
    MediaInf *inf = load_text(viostor, -1);
    ck_assert_str_eq(media_inf_catalog(inf, MEDIA_ARCH_AMD64), "aero64.cat");
    ck_assert_str_eq(media_inf_catalog(inf, MEDIA_ARCH_X86), "generic.cat");
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_models_give_archs_hwids_upper_and_unique)
{
    MediaInf *inf = load_text(viostor, -1);
    ck_assert_uint_eq(media_inf_archs(inf), MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64);
    g_autoptr(GPtrArray) ids = media_inf_hardware_ids(inf, MEDIA_ARCH_AMD64);
    ck_assert_uint_eq(ids->len, 2); /* the continued line and the quoted key, REV_01 once */
    ck_assert(has(ids, "PCI\\VEN_1AF4&DEV_1042&SUBSYS_00021AF4&REV_01"));
    ck_assert(has(ids, "PCI\\VEN_1AF4&DEV_1042&REV_01"));
    g_autoptr(GPtrArray) x86 = media_inf_hardware_ids(inf, MEDIA_ARCH_X86);
    ck_assert_uint_eq(x86->len, 1);
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_services_follow_the_arch_decoration)
{
    MediaInf *inf = load_text(viostor, -1);
    g_autoptr(GPtrArray) s64 = media_inf_services(inf, MEDIA_ARCH_AMD64);
    ck_assert(has(s64, "aerostor"));
    ck_assert_str_eq(media_inf_service_group(inf, MEDIA_ARCH_AMD64), "SCSI miniport");
    g_autoptr(GPtrArray) s32 = media_inf_services(inf, MEDIA_ARCH_X86);
    ck_assert(has(s32, "aerostor32"));
    ck_assert(!has(s32, "aerostor"));
    ck_assert_ptr_null(media_inf_service_group(inf, MEDIA_ARCH_X86)); /* its section is missing */
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_source_files_resolve_disk_folders)
{
    MediaInf *inf = load_text(viostor, -1);
    g_autoptr(GPtrArray) f64 = media_inf_source_files(inf, MEDIA_ARCH_AMD64);
    ck_assert_uint_eq(f64->len, 2);
    ck_assert_str_eq(g_ptr_array_index(f64, 0), "amd64/aerostor.sys");
    ck_assert_str_eq(g_ptr_array_index(f64, 1), "amd64/sub/dir/coinst.dll");
    g_autoptr(GPtrArray) f32 = media_inf_source_files(inf, MEDIA_ARCH_X86);
    ck_assert_uint_eq(f32->len, 1);
    ck_assert_str_eq(g_ptr_array_index(f32, 0), "x86/aerostor.sys");
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_undecorated_models_are_x86_only)
{
    MediaInf *inf =
        load_text("[Manufacturer]\nA=Models\n[Models]\nd=Inst,PCI\\VEN_1AF4&DEV_1041\n", -1);
    ck_assert_uint_eq(media_inf_archs(inf), MEDIA_ARCH_X86);
    media_inf_free(inf);
    inf = load_text("[Manufacturer]\nA=M,NT,NTia64\n[M.NT]\nd=I,PCI\\X\n[M.NTia64]\nd=I,PCI\\Y\n",
                    -1);
    ck_assert_uint_eq(media_inf_archs(inf), MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64);
    g_autoptr(GPtrArray) ids = media_inf_hardware_ids(inf, MEDIA_ARCH_AMD64);
    ck_assert_uint_eq(ids->len, 1);
    ck_assert_str_eq(g_ptr_array_index(ids, 0), "PCI\\X");
    media_inf_free(inf);
}
END_TEST

/* UTF-16LE with a BOM, as most INFs ship */
START_TEST(test_inf_utf16le_with_bom)
{
    glong n = 0;
    g_autofree gunichar2 *u = g_utf8_to_utf16(viostor, -1, NULL, &n, NULL);
    g_autofree guint8 *raw = g_malloc((gsize)n * 2 + 2);
    raw[0] = 0xff;
    raw[1] = 0xfe;
    for (glong i = 0; i < n; i++) {
        raw[2 + 2 * i] = (guint8)u[i];
        raw[3 + 2 * i] = (guint8)(u[i] >> 8);
    }
    MediaInf *inf = load_text((const char *)raw, (gssize)n * 2 + 2);
    ck_assert_str_eq(media_inf_version(inf, "Class"), "SCSIAdapter");
    ck_assert_uint_eq(media_inf_archs(inf), MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64);
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_utf8_bom_and_cp1252_fallback)
{
    MediaInf *inf = load_text("\xef\xbb\xbf[Version]\nClass=Net\n", -1);
    ck_assert_str_eq(media_inf_version(inf, "Class"), "Net");
    media_inf_free(inf);
    inf = load_text("[Version]\nProvider=Soci\xe9t\xe9\n", -1); /* not UTF-8: read as CP1252 */
    ck_assert_str_eq(media_inf_version(inf, "Provider"), "Soci\xc3\xa9t\xc3\xa9");
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_missing_file_is_not_found_naming_it)
{
    g_autofree char *path = g_build_filename(unit_dir, "absent.inf", NULL);
    GError *e = NULL;
    ck_assert_ptr_null(media_inf_load(path, &e));
    unit_assert_error(e, MEDIA_ERROR_NOT_FOUND, "absent.inf");
    g_error_free(e);
}
END_TEST

/* ---- hostile files -------------------------------------------------------------------------- */

/* A hostile INF: what it is, its bytes (len < 0: a string). */
typedef struct {
    const char *name;
    const char *data;
    gssize len;
} InfCase;

static const InfCase refused[] = {
    {"truncated UTF-16 (odd length)", "\xff\xfe[\0V\0e", 7},
    {"UTF-16 with a lone surrogate", "\xff\xfe[\0\x00\xd8]\0", 8},
    /* found by fuzz_inf: the text after a UTF-8 mark was taken as it was */
    {"UTF-8 mark, then a value that is not UTF-8", "\xef\xbb\xbf[Version]\nCatalogFile=a\xff.cat\n", -1},
    {"UTF-8 mark, then a section name cut inside a character", "\xef\xbb\xbf[\xf0]\n", -1},
};

START_TEST(test_inf_hostile_bad_encoding_is_one_line_naming_the_file)
{
    g_autofree char *path = unit_write("bad.inf", refused[_i].data, refused[_i].len);
    GError *e = NULL;
    MediaInf *inf = media_inf_load(path, &e);
    ck_assert_msg(inf == NULL, "%s accepted", refused[_i].name);
    unit_assert_error(e, MEDIA_ERROR_INVALID, "bad.inf");
    ck_assert_ptr_nonnull(strstr(e->message, "not a readable INF"));
    g_error_free(e);
}
END_TEST

/* Malformed but readable text: parsed without a crash, what makes sense is kept. */
static const InfCase odd[] = {
    {"empty file", "", 0},
    {"only a BOM", "\xff\xfe", 2},
    {"unclosed section name", "[Version\nClass=Net\n", -1},
    {"lines before any section", "Class=Net\n=\n==\n", -1},
    {"unterminated quote", "[Version]\nClass=\"Net\n[Other]\nx=\"a,b\n", -1},
    {"continuation at end of file", "[Version]\nClass=Net \\", -1},
    {"percent signs everywhere", "[Version]\nClass=%%%a%%%%b%\n%c%=%\n[Strings]\na=%b%\nb=%a%\n",
     -1},
    {"empty keys and fields", "[Manufacturer]\n=\n,,,\n\"\"=,\n[ ]\n[]\n", -1},
    {"NUL bytes", "[Version]\nCl\0ass=Net\n", 22},
    {"CR only line ends", "[Version]\rClass=Net\r", -1},
    {"a model line naming no install section", "[Manufacturer]\nA=M,NTamd64\n[M.NTamd64]\nd\n", -1},
};

START_TEST(test_inf_hostile_malformed_lines_parse_without_harm)
{
    MediaInf *inf = load_text(odd[_i].data, odd[_i].len);
    /* every query on whatever came out */
    for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
        g_autoptr(GPtrArray) h = media_inf_hardware_ids(inf, a);
        g_autoptr(GPtrArray) s = media_inf_services(inf, a);
        g_autoptr(GPtrArray) f = media_inf_source_files(inf, a);
        (void)media_inf_catalog(inf, a);
        (void)media_inf_service_group(inf, a);
    }
    (void)media_inf_archs(inf);
    (void)media_inf_version(inf, "Class");
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_hostile_strings_are_not_expanded_recursively)
{
    MediaInf *inf = load_text("[Version]\nProvider=%a%\n[Strings]\na=\"%b%\"\nb=\"%a%\"\n", -1);
    ck_assert_str_eq(media_inf_version(inf, "Provider"), "%b%");
    media_inf_free(inf);
}
END_TEST

START_TEST(test_inf_hostile_huge_line_and_many_sections)
{
    GString *s = g_string_new("[Version]\nClass=");
    for (int i = 0; i < (4 << 20); i++) /* one 4 MiB value */
        g_string_append_c(s, 'A' + i % 26);
    g_string_append(s, "\n[Manufacturer]\n");
    for (int i = 0; i < 20000; i++)
        g_string_append_printf(
            s, "m%d=M%d,NTamd64\n[M%d.NTamd64]\nd=I,PCI\\VEN_%d\n[Manufacturer]\n", i, i, i, i);
    MediaInf *inf = load_text(s->str, (gssize)s->len);
    ck_assert_uint_eq(strlen(media_inf_version(inf, "Class")), 4u << 20);
    g_autoptr(GPtrArray) ids = media_inf_hardware_ids(inf, MEDIA_ARCH_AMD64);
    ck_assert_uint_eq(ids->len, 20000);
    media_inf_free(inf);
    g_string_free(s, TRUE);
}
END_TEST

START_TEST(test_inf_hostile_long_continuation_chain)
{
    GString *s = g_string_new("[M.NTamd64]\nd=I");
    for (int i = 0; i < 50000; i++)
        g_string_append_printf(s, ",PCI\\VEN_1AF4&DEV_%04X \\\n", i);
    g_string_append(s, "\n[Manufacturer]\nA=M,NTamd64\n");
    MediaInf *inf = load_text(s->str, (gssize)s->len);
    g_autoptr(GPtrArray) ids = media_inf_hardware_ids(inf, MEDIA_ARCH_AMD64);
    ck_assert_uint_eq(ids->len, 50000);
    media_inf_free(inf);
    g_string_free(s, TRUE);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("inf");
    TCase *t = tcase_create("reader");
    tcase_add_checked_fixture(t, unit_setup, unit_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_inf_version_values_are_substituted_and_uncommented);
    tcase_add_test(t, test_inf_catalog_decorated_key_wins_for_its_arch);
    tcase_add_test(t, test_inf_models_give_archs_hwids_upper_and_unique);
    tcase_add_test(t, test_inf_services_follow_the_arch_decoration);
    tcase_add_test(t, test_inf_source_files_resolve_disk_folders);
    tcase_add_test(t, test_inf_undecorated_models_are_x86_only);
    tcase_add_test(t, test_inf_utf16le_with_bom);
    tcase_add_test(t, test_inf_utf8_bom_and_cp1252_fallback);
    tcase_add_test(t, test_inf_missing_file_is_not_found_naming_it);
    tcase_add_loop_test(t, test_inf_hostile_bad_encoding_is_one_line_naming_the_file, 0,
                        G_N_ELEMENTS(refused));
    tcase_add_loop_test(t, test_inf_hostile_malformed_lines_parse_without_harm, 0,
                        G_N_ELEMENTS(odd));
    tcase_add_test(t, test_inf_hostile_strings_are_not_expanded_recursively);
    tcase_add_test(t, test_inf_hostile_huge_line_and_many_sections);
    tcase_add_test(t, test_inf_hostile_long_continuation_chain);
    suite_add_tcase(s, t);
    return s;
}
