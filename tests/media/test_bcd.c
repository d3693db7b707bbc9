/* BCD signing policy edits (media/bcd.c over media/hive.c and hivex) on stores built here: an
 * empty regf hive written byte by byte, then filled through hivex like Windows' BCD (Objects\
 * {GUID}\Description\Type, Elements\<id>\Element). What gets the flag, what the report says, and
 * hostile stores: not a hive, truncated, no Objects key, odd objects and element types.
 */
#include "unit.h"

#include "bcd.h"
#include "error.h"

#include <hivex.h>
#include <string.h>

#define BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define GLOBALSETTINGS "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
#define BOOTLOADERSETTINGS "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}"
#define SETUP_LOADER "{7619dcc9-fafe-11d9-b411-000476eba25f}"
#define OTHER_LOADER "{11111111-2222-3333-4444-555555555555}"
#define RAMDISK "{ae5534e0-a924-466c-b836-758539a3ee3a}"

/* ---- fixtures -------------------------------------------------------------------------------- */

static void put16(guint8 *p, guint16 v)
{
    p[0] = (guint8)v;
    p[1] = (guint8)(v >> 8);
}
static void put32(guint8 *p, guint32 v)
{
    put16(p, (guint16)v);
    put16(p + 2, (guint16)(v >> 16));
}

/* An empty hive: base block, one 4 KiB hbin with the root nk, an sk and a free cell. */
static GByteArray *empty_hive(const char *root)
{
    guint8 *h = g_malloc0(0x2000);
    guint8 *base = h, *bin = h + 0x1000;
    guint32 len = (guint32)strlen(root);
    guint32 nk_off = 0x20, nk_size = (4 + 0x4c + len + 7) & ~7u;
    guint32 sk_off = nk_off + nk_size, sk_size = (4 + 0x14 + 20 + 7) & ~7u;
    guint32 free_off = sk_off + sk_size;
    memcpy(bin, "hbin", 4);
    put32(bin + 8, 0x1000);
    guint8 *nk = bin + nk_off;
    put32(nk, (guint32) - (gint32)nk_size);
    memcpy(nk + 4, "nk", 2);
    put16(nk + 6, 0x2c); /* root key, compressed name */
    const guint32 f[15] = {0,          0xffffffff, 0,          0,      0xffffffff,
                           0xffffffff, 0,          0xffffffff, sk_off, 0xffffffff};
    for (int i = 0; i < 15; i++)
        put32(nk + 16 + 4 * i, f[i]);
    put16(nk + 4 + 0x48, (guint16)len);
    memcpy(nk + 4 + 0x4c, root, len);
    guint8 *sk = bin + sk_off;
    put32(sk, (guint32) - (gint32)sk_size);
    memcpy(sk + 4, "sk", 2);
    put32(sk + 8, sk_off);
    put32(sk + 12, sk_off);
    put32(sk + 16, 1);
    put32(sk + 20, 20);
    sk[24] = 1; /* an empty self-relative security descriptor */
    put16(sk + 26, 0x8000);
    put32(bin + free_off, 0x1000 - free_off);
    memcpy(base, "regf", 4);
    const guint32 b[] = {1, 1, 0, 0, 1, 3, 0, 1, nk_off, 0x1000, 1};
    for (int i = 0; i < 11; i++)
        put32(base + 4 + 4 * i, b[i]);
    guint32 sum = 0;
    for (int i = 0; i < 0x1fc; i += 4)
        sum ^= base[i] | base[i + 1] << 8 | base[i + 2] << 16 | (guint32)base[i + 3] << 24;
    put32(base + 0x1fc, sum);
    GByteArray *a = g_byte_array_new_take(h, 0x2000);
    return a;
}

static hive_node_h key(hive_h *h, const char *path)
{
    hive_node_h n = hivex_root(h);
    g_auto(GStrv) parts = g_strsplit(path, "\\", -1);
    for (guint i = 0; parts[i]; i++) {
        hive_node_h c = hivex_node_get_child(h, n, parts[i]);
        n = c ? c : hivex_node_add_child(h, n, parts[i]);
        ck_assert_msg(n != 0, "adding %s", path);
    }
    return n;
}

static void set(hive_h *h, const char *path, const char *name, hive_type t, const void *data,
                size_t len)
{
    hive_set_value v = {.key = (char *)name, .t = t, .len = len, .value = (char *)data};
    ck_assert_int_eq(hivex_node_set_value(h, key(h, path), &v, 0), 0);
}

static void set_sz(hive_h *h, const char *path, const char *name, const char *s)
{
    glong n = 0;
    g_autofree gunichar2 *u = g_utf8_to_utf16(s, -1, NULL, &n, NULL);
    set(h, path, name, hive_t_REG_SZ, u, (size_t)(n + 1) * 2); /* little-endian host */
}

static void add_object(hive_h *h, const char *guid, guint32 type)
{
    g_autofree char *d = g_strdup_printf("Objects\\%s\\Description", guid);
    guint8 le[4];
    put32(le, type);
    set(h, d, "Type", hive_t_REG_DWORD, le, 4);
    g_autofree char *el = g_strdup_printf("Objects\\%s\\Elements\\12000004", guid);
    set_sz(h, el, "Element", guid);
}

enum { WITH_DEFAULT = 1, WITH_LOADERS = 2, TEMPLATE = 4 };

/* A BCD store like Windows' boot/BCD (flags: default entry, loaders) or BCD-Template. */
static char *make_bcd(const char *name, int flags)
{
    g_autoptr(GByteArray) empty = empty_hive("BCD00000000");
    char *path = unit_write(name, empty->data, (gssize)empty->len);
    hive_h *h = hivex_open(path, HIVEX_OPEN_WRITE);
    ck_assert_msg(h != NULL, "hivex_open of our empty hive");
    key(h, "Description");
    add_object(h, GLOBALSETTINGS, 0x20100000);
    add_object(h, BOOTLOADERSETTINGS, 0x20200003);
    if (!(flags & TEMPLATE)) {
        add_object(h, BOOTMGR, 0x10100002);
        add_object(h, RAMDISK, 0x30000000);
    }
    if (flags & WITH_LOADERS) {
        add_object(h, SETUP_LOADER, 0x10200003);
        add_object(h, OTHER_LOADER, 0x10200003);
    }
    if (flags & WITH_DEFAULT)
        set_sz(h, "Objects\\" BOOTMGR "\\Elements\\23000003", "Element", SETUP_LOADER);
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    return path;
}

static gboolean has(GPtrArray *a, const char *v)
{
    for (guint i = 0; a && i < a->len; i++)
        if (!strcmp(g_ptr_array_index(a, i), v))
            return TRUE;
    return FALSE;
}

/* The element's data, or NULL. */
static GBytes *element(const char *path, const char *guid, guint32 id, hive_type *t)
{
    hive_h *h = hivex_open(path, 0);
    ck_assert_ptr_nonnull(h);
    g_autofree char *p = g_strdup_printf("Objects\\%s\\Elements\\%08X", guid, id);
    hive_node_h n = hivex_root(h);
    g_auto(GStrv) parts = g_strsplit(p, "\\", -1);
    for (guint i = 0; n && parts[i]; i++)
        n = hivex_node_get_child(h, n, parts[i]);
    hive_value_h v = n ? hivex_node_get_value(h, n, "Element") : 0;
    size_t len = 0;
    char *d = v ? hivex_value_value(h, v, t, &len) : NULL;
    hivex_close(h);
    return d ? g_bytes_new_take(d, len) : NULL;
}

/* ---- the policy --------------------------------------------------------------------------------- */

START_TEST(test_bcd_signing_names_and_elements)
{
    ck_assert_str_eq(media_signing_name(MEDIA_SIGNING_TESTSIGNING), "testsigning");
    ck_assert_str_eq(media_signing_name(MEDIA_SIGNING_NOINTEGRITYCHECKS), "nointegritychecks");
    ck_assert_str_eq(media_signing_name(MEDIA_SIGNING_NONE), "none");
    ck_assert_uint_eq(media_signing_element(MEDIA_SIGNING_TESTSIGNING), 0x16000049);
    ck_assert_uint_eq(media_signing_element(MEDIA_SIGNING_NOINTEGRITYCHECKS), 0x16000048);
    ck_assert_uint_eq(media_signing_element(MEDIA_SIGNING_NONE), 0);
}
END_TEST

START_TEST(test_bcd_testsigning_on_every_loader_and_both_settings_objects)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert_msg(media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e), "%s",
                  e ? e->message : "");
    ck_assert_str_eq(r.default_loader, SETUP_LOADER);
    ck_assert_uint_eq(r.loaders->len, 2);
    ck_assert_uint_eq(r.patched->len, 4);
    ck_assert(has(r.patched, SETUP_LOADER) && has(r.patched, OTHER_LOADER) &&
              has(r.patched, GLOBALSETTINGS) && has(r.patched, BOOTLOADERSETTINGS));
    ck_assert(!has(r.patched, BOOTMGR) && !has(r.patched, RAMDISK));
    media_bcd_report_clear(&r);
    /* a one-byte REG_BINARY 1, as bcdedit writes a boolean */
    hive_type t = 0;
    g_autoptr(GBytes) d = element(p, OTHER_LOADER, 0x16000049, &t);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(t, hive_t_REG_BINARY);
    ck_assert_uint_eq(g_bytes_get_size(d), 1);
    ck_assert_uint_eq(((const guint8 *)g_bytes_get_data(d, NULL))[0], 1);
    /* and read back */
    ck_assert(media_bcd_check(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, &r, NULL));
    ck_assert_uint_eq(r.patched->len, 4);
    media_bcd_report_clear(&r);
    ck_assert(media_bcd_check(p, "boot/BCD", MEDIA_SIGNING_NOINTEGRITYCHECKS, &r, NULL));
    ck_assert_uint_eq(r.patched->len, 0);
    media_bcd_report_clear(&r);
}
END_TEST

START_TEST(test_bcd_nointegritychecks_sets_its_own_element)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    MediaBcdReport r;
    ck_assert(media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_NOINTEGRITYCHECKS, TRUE, &r, NULL));
    media_bcd_report_clear(&r);
    hive_type t;
    g_autoptr(GBytes) on = element(p, SETUP_LOADER, 0x16000048, &t);
    g_autoptr(GBytes) off = element(p, SETUP_LOADER, 0x16000049, &t);
    ck_assert_ptr_nonnull(on);
    ck_assert_ptr_null(off);
}
END_TEST

START_TEST(test_bcd_none_leaves_the_store_unchanged)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    g_autofree char *before = NULL, *after = NULL;
    gsize nb, na;
    ck_assert(g_file_get_contents(p, &before, &nb, NULL));
    MediaBcdReport r;
    ck_assert(media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_NONE, TRUE, &r, NULL));
    ck_assert_uint_eq(r.patched->len, 0);
    ck_assert_uint_eq(r.loaders->len, 2);
    media_bcd_report_clear(&r);
    ck_assert(g_file_get_contents(p, &after, &na, NULL));
    ck_assert(nb == na && memcmp(before, after, nb) == 0);
}
END_TEST

START_TEST(test_bcd_template_without_loaders_patches_the_settings_objects)
{
    g_autofree char *p = make_bcd("BCD-Template", TEMPLATE);
    MediaBcdReport r;
    ck_assert(media_bcd_patch(p, "BCD-Template", MEDIA_SIGNING_TESTSIGNING, FALSE, &r, NULL));
    ck_assert_ptr_null(r.default_loader);
    ck_assert_uint_eq(r.loaders->len, 0);
    ck_assert_uint_eq(r.patched->len, 2);
    media_bcd_report_clear(&r);
}
END_TEST

START_TEST(test_bcd_boot_store_without_loader_is_refused)
{
    g_autofree char *p = make_bcd("BCD", 0);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert(!media_bcd_patch(p, "IN.iso:/boot/BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "IN.iso:/boot/BCD");
    ck_assert_ptr_nonnull(strstr(e->message, "no Windows loader"));
    g_error_free(e);
    media_bcd_report_clear(&r);
}
END_TEST

START_TEST(test_bcd_default_naming_no_loader_is_refused)
{
    g_autofree char *p = make_bcd("BCD", WITH_LOADERS);
    hive_h *h = hivex_open(p, HIVEX_OPEN_WRITE);
    set_sz(h, "Objects\\" BOOTMGR "\\Elements\\23000003", "Element", RAMDISK);
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert(!media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "boot/BCD");
    ck_assert_ptr_nonnull(strstr(e->message, RAMDISK));
    g_error_free(e);
    media_bcd_report_clear(&r);
}
END_TEST

START_TEST(test_bcd_upper_case_guids_are_reported_lower_case)
{
    g_autoptr(GByteArray) empty = empty_hive("BCD00000000");
    g_autofree char *p = unit_write("BCD", empty->data, (gssize)empty->len);
    hive_h *h = hivex_open(p, HIVEX_OPEN_WRITE);
    add_object(h, "{AAAAAAAA-2222-3333-4444-555555555555}", 0x10200003);
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    MediaBcdReport r;
    ck_assert(media_bcd_patch(p, "BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, NULL));
    ck_assert(has(r.loaders, "{aaaaaaaa-2222-3333-4444-555555555555}"));
    ck_assert(has(r.patched, "{aaaaaaaa-2222-3333-4444-555555555555}"));
    media_bcd_report_clear(&r);
}
END_TEST

/* ---- hostile stores ----------------------------------------------------------------------------- */

enum { NOT_A_HIVE, EMPTY_FILE, TRUNCATED_HIVE, BAD_CHECKSUM, N_UNREADABLE };

START_TEST(test_bcd_hostile_unreadable_store_is_one_line_naming_it)
{
    g_autoptr(GByteArray) h = empty_hive("BCD00000000");
    switch (_i) {
    case NOT_A_HIVE:
        memset(h->data, 'x', h->len);
        break;
    case EMPTY_FILE:
        g_byte_array_set_size(h, 0);
        break;
    case TRUNCATED_HIVE:
        g_byte_array_set_size(h, 0x1000 + 100);
        break;
    case BAD_CHECKSUM:
        h->data[0x1fc] ^= 0xff;
        break;
    }
    g_autofree char *p = unit_write("BCD", h->data, (gssize)h->len);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert_msg(!media_bcd_patch(p, "IN.iso:/efi/microsoft/boot/BCD", MEDIA_SIGNING_TESTSIGNING,
                                   TRUE, &r, &e),
                  "case %d accepted", _i);
    unit_assert_error(e, MEDIA_ERROR_INVALID, "IN.iso:/efi/microsoft/boot/BCD");
    g_clear_error(&e);
    media_bcd_report_clear(&r);
    ck_assert(!media_bcd_check(p, "verify BCD", MEDIA_SIGNING_TESTSIGNING, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "verify BCD");
    g_error_free(e);
    media_bcd_report_clear(&r);
}
END_TEST

START_TEST(test_bcd_hostile_hive_without_objects_is_not_a_bcd_store)
{
    g_autoptr(GByteArray) empty = empty_hive("SYSTEM");
    g_autofree char *p = unit_write("SYSTEM", empty->data, (gssize)empty->len);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert(!media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, FALSE, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "boot/BCD");
    ck_assert_ptr_nonnull(strstr(e->message, "not a BCD store"));
    g_error_free(e);
    media_bcd_report_clear(&r);
}
END_TEST

/* Objects without a Description, a Type of the wrong kind, a default of the wrong type, and
 * elements that are not one-byte REG_BINARY 1: nothing counts that is not what Windows reads. */
START_TEST(test_bcd_hostile_odd_objects_and_elements_do_not_count)
{
    g_autofree char *p = make_bcd("BCD", WITH_LOADERS);
    hive_h *h = hivex_open(p, HIVEX_OPEN_WRITE);
    key(h, "Objects\\{no-description}");
    set(h, "Objects\\{sz-type}\\Description", "Type", hive_t_REG_SZ, "3\0\0\0", 4);
    set(h, "Objects\\" BOOTMGR "\\Elements\\23000003", "Element", hive_t_REG_BINARY, "\1", 1);
    set_sz(h, "Objects\\" SETUP_LOADER "\\Elements\\16000049", "Element", "1");
    set(h, "Objects\\" OTHER_LOADER "\\Elements\\16000049", "Element", hive_t_REG_BINARY, "", 0);
    set(h, "Objects\\" GLOBALSETTINGS "\\Elements\\16000049", "Element", hive_t_REG_BINARY, "\2",
        1);
    set(h, "Objects\\" BOOTLOADERSETTINGS "\\Elements\\16000049", "Element", hive_t_REG_BINARY,
        "\1\0", 2);
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert_msg(media_bcd_check(p, "BCD", MEDIA_SIGNING_TESTSIGNING, &r, &e), "%s",
                  e ? e->message : "");
    ck_assert_ptr_null(r.default_loader);
    ck_assert_uint_eq(r.loaders->len, 2);
    ck_assert_uint_eq(r.patched->len, 1); /* only the 2-byte binary starting with 1 */
    ck_assert(has(r.patched, BOOTLOADERSETTINGS));
    media_bcd_report_clear(&r);
    /* patching rewrites every target to one-byte 1 */
    ck_assert(media_bcd_patch(p, "BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, NULL));
    media_bcd_report_clear(&r);
    ck_assert(media_bcd_check(p, "BCD", MEDIA_SIGNING_TESTSIGNING, &r, NULL));
    ck_assert_uint_eq(r.patched->len, 4);
    media_bcd_report_clear(&r);
}
END_TEST

/* Rename an object key in the file itself (hivex refuses a second key of the same name; the
 * names are the same length, the record keeps its size). */
static void rename_in_file(const char *path, const char *from, const char *to)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    ck_assert(g_file_get_contents(path, &data, &len, NULL));
    gsize n = strlen(from);
    ck_assert_uint_eq(n, strlen(to));
    gboolean done = FALSE;
    for (gsize i = 0; i + n <= len && !done; i++) {
        if (memcmp(data + i, from, n) == 0) {
            memcpy(data + i, to, n);
            done = TRUE;
        }
    }
    ck_assert_msg(done, "%s is not in %s", from, path);
    ck_assert(g_file_set_contents(path, data, (gssize)len, NULL));
}

/* Give a key a name length that runs past its record (the length field sits just before the
 * name in the nk record): hivex opens the hive, but cannot read that name. */
static void damage_name_length(const char *path, const char *name)
{
    g_autofree char *data = NULL;
    gsize len = 0, n = strlen(name);
    ck_assert(g_file_get_contents(path, &data, &len, NULL));
    gsize at = 0;
    for (gsize i = 4; i + n <= len && !at; i++)
        if (memcmp(data + i, name, n) == 0)
            at = i;
    ck_assert_msg(at, "%s is not in %s", name, path);
    data[at - 4] = (char)0xff;
    data[at - 3] = (char)0x7f;
    ck_assert(g_file_set_contents(path, data, (gssize)len, NULL));
}

/* Found by fuzz_hive: an object key whose name cannot be read was taken as a NULL GUID
 * (g_ascii_strdown(NULL), then strcmp on it). A damaged store is refused with one line, and a
 * refused patch leaves it as it was. */
START_TEST(test_bcd_hostile_unreadable_object_name_is_refused)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    damage_name_length(p, RAMDISK);
    g_autofree char *before = NULL;
    gsize n_before = 0;
    ck_assert(g_file_get_contents(p, &before, &n_before, NULL));
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert(!media_bcd_check(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "boot/BCD: damaged BCD store");
    g_clear_error(&e);
    media_bcd_report_clear(&r);
    ck_assert(!media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "boot/BCD: damaged BCD store");
    g_clear_error(&e);
    media_bcd_report_clear(&r);
    g_autofree char *after = NULL;
    gsize n_after = 0;
    ck_assert(g_file_get_contents(p, &after, &n_after, NULL));
    ck_assert(n_after == n_before && memcmp(before, after, n_after) == 0);
}
END_TEST

/* Found by fuzz_hive: a store with two {bootmgr} keys (RAMDISK renamed in the file) read the
 * default twice and leaked the first copy. One report, the first {bootmgr}'s default. */
START_TEST(test_bcd_hostile_two_bootmgr_objects_read_the_default_once)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    rename_in_file(p, RAMDISK, BOOTMGR);
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert_msg(media_bcd_check(p, "BCD", MEDIA_SIGNING_TESTSIGNING, &r, &e), "%s", e ? e->message : "");
    ck_assert_str_eq(r.default_loader, SETUP_LOADER);
    media_bcd_report_clear(&r);
    ck_assert_msg(media_bcd_patch(p, "BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e), "%s",
                  e ? e->message : "");
    ck_assert_str_eq(r.default_loader, SETUP_LOADER);
    ck_assert_uint_eq(r.patched->len, 4);
    media_bcd_report_clear(&r);
}
END_TEST

/* Found by fuzz_hive: two object keys with one GUID, the first not a loader. The patch set the
 * flag on the loader's own key, the check looked the GUID up by path, found the other key, and
 * said the flag was not there: verify would contradict win7. Both now read the keys they list. */
START_TEST(test_bcd_hostile_two_objects_with_one_guid_check_reads_what_patch_wrote)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    hive_h *h = hivex_open(p, HIVEX_OPEN_WRITE);
    add_object(h, "{00000000-2222-3333-4444-555555555555}", 0x30000000); /* lists first */
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    rename_in_file(p, "{00000000-2222-3333-4444-555555555555}", OTHER_LOADER);
    MediaBcdReport r, c;
    GError *e = NULL;
    ck_assert_msg(media_bcd_patch(p, "BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e), "%s", e ? e->message : "");
    ck_assert(has(r.patched, OTHER_LOADER));
    ck_assert(media_bcd_check(p, "BCD", MEDIA_SIGNING_TESTSIGNING, &c, NULL));
    for (guint i = 0; i < r.patched->len; i++)
        ck_assert_msg(has(c.patched, g_ptr_array_index(r.patched, i)), "%s patched, check does not see it",
                      (char *)g_ptr_array_index(r.patched, i));
    media_bcd_report_clear(&r);
    media_bcd_report_clear(&c);
}
END_TEST

/* Found by fuzz_hive: hivex answers 0 both for "no Elements key" and for "a key before it has a
 * name that cannot be read"; the patch took the second for the first, added another Elements key
 * and put the flag there, where no lookup finds it. A key that cannot be read now refuses the
 * patch, and the store is left as it was. */
START_TEST(test_bcd_hostile_unreadable_key_before_elements_is_refused)
{
    g_autofree char *p = make_bcd("BCD", WITH_DEFAULT | WITH_LOADERS);
    hive_h *h = hivex_open(p, HIVEX_OPEN_WRITE);
    key(h, "Objects\\" GLOBALSETTINGS "\\AAAAAAAAAAAAAAAAAAAAAA"); /* lists before Description and Elements */
    ck_assert_int_eq(hivex_commit(h, NULL, 0), 0);
    hivex_close(h);
    damage_name_length(p, "AAAAAAAAAAAAAAAAAAAAAA");
    g_autofree char *before = NULL;
    gsize n_before = 0;
    ck_assert(g_file_get_contents(p, &before, &n_before, NULL));
    MediaBcdReport r;
    GError *e = NULL;
    ck_assert(!media_bcd_patch(p, "boot/BCD", MEDIA_SIGNING_TESTSIGNING, TRUE, &r, &e));
    unit_assert_error(e, MEDIA_ERROR_INVALID, "boot/BCD: damaged hive (cannot read the keys on the way to Objects\\" GLOBALSETTINGS);
    g_clear_error(&e);
    media_bcd_report_clear(&r);
    g_autofree char *after = NULL;
    gsize n_after = 0;
    ck_assert(g_file_get_contents(p, &after, &n_after, NULL));
    ck_assert(n_after == n_before && memcmp(before, after, n_after) == 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("bcd");
    TCase *t = tcase_create("bcd");
    tcase_add_checked_fixture(t, unit_setup, unit_teardown);
    tcase_add_test(t, test_bcd_signing_names_and_elements);
    tcase_add_test(t, test_bcd_testsigning_on_every_loader_and_both_settings_objects);
    tcase_add_test(t, test_bcd_nointegritychecks_sets_its_own_element);
    tcase_add_test(t, test_bcd_none_leaves_the_store_unchanged);
    tcase_add_test(t, test_bcd_template_without_loaders_patches_the_settings_objects);
    tcase_add_test(t, test_bcd_boot_store_without_loader_is_refused);
    tcase_add_test(t, test_bcd_default_naming_no_loader_is_refused);
    tcase_add_test(t, test_bcd_upper_case_guids_are_reported_lower_case);
    tcase_add_loop_test(t, test_bcd_hostile_unreadable_store_is_one_line_naming_it, 0,
                        N_UNREADABLE);
    tcase_add_test(t, test_bcd_hostile_hive_without_objects_is_not_a_bcd_store);
    tcase_add_test(t, test_bcd_hostile_odd_objects_and_elements_do_not_count);
    tcase_add_test(t, test_bcd_hostile_two_bootmgr_objects_read_the_default_once);
    tcase_add_test(t, test_bcd_hostile_unreadable_object_name_is_refused);
    tcase_add_test(t, test_bcd_hostile_two_objects_with_one_guid_check_reads_what_patch_wrote);
    tcase_add_test(t, test_bcd_hostile_unreadable_key_before_elements_is_refused);
    suite_add_tcase(s, t);
    return s;
}
