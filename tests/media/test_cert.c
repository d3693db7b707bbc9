/* The test-signing certificate (media/cert.c): PEM and DER load, the thumbprint, the CryptoAPI
 * serialized element written as Windows keeps it, and that element read back; hostile files and
 * blobs (truncated, lengths past the end or wrapping, wrong reserved field) are refused.
 * The certificate is made here with GnuTLS, never a checked-in file.
 */
#include "unit.h"

#include "cert.h"
#include "error.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

static gnutls_datum_t der, pem;

/* A self-signed ECDSA P-256 certificate with the common name cn: a string, or with raw the DER
 * of the attribute value (any string type, any bytes). */
static void make_cert_named(const char *cn, gsize len, gboolean raw, gnutls_datum_t *out_der, gnutls_datum_t *out_pem)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    ck_assert_int_eq(gnutls_x509_privkey_init(&key), 0);
    ck_assert_int_eq(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    const unsigned char serial[] = {1, 2, 3};
    gnutls_x509_crt_set_version(crt, 3);
    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
    gnutls_x509_crt_set_activation_time(crt, 1700000000);
    gnutls_x509_crt_set_expiration_time(crt, 1900000000);
    ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, raw, cn, (unsigned)len), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_key(crt, key), 0);
    ck_assert_int_eq(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, out_der), 0);
    if (out_pem)
        ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, out_pem), 0);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

/* "CN=Aero Test Signing" */
static void make_cert(void)
{
    const char *cn = "Aero Test Signing";
    make_cert_named(cn, strlen(cn), FALSE, &der, &pem);
}

static void setup(void)
{
    unit_setup();
    make_cert();
}

static void teardown(void)
{
    gnutls_free(der.data);
    gnutls_free(pem.data);
    der.data = pem.data = NULL;
    unit_teardown();
}

static void load_ok(const char *name, const void *data, gsize len, MediaCert *c)
{
    g_autofree char *path = unit_write(name, data, (gssize)len);
    GError *e = NULL;
    ck_assert_msg(media_cert_load(path, c, &e), "%s", e ? e->message : "?");
}

START_TEST(test_cert_pem_and_der_give_the_same_der_and_thumbprint)
{
    MediaCert a, b;
    load_ok("c.pem", pem.data, pem.size, &a);
    load_ok("c.der", der.data, der.size, &b);
    ck_assert(g_bytes_equal(a.der, b.der));
    g_autofree char *sha1 = g_compute_checksum_for_data(G_CHECKSUM_SHA1, der.data, der.size);
    g_autofree char *up = g_ascii_strup(sha1, -1);
    ck_assert_str_eq(a.thumbprint, up); /* upper-case hex SHA-1 of the DER */
    ck_assert_str_eq(b.thumbprint, up);
    ck_assert_ptr_nonnull(strstr(a.subject, "CN=Aero Test Signing"));
    media_cert_clear(&a);
    media_cert_clear(&b);
}
END_TEST

static guint32 le32(const guint8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (guint32)p[3] << 24; }

START_TEST(test_cert_blob_is_sha1_md5_then_the_certificate)
{
    MediaCert c;
    load_ok("c.der", der.data, der.size, &c);
    g_autoptr(GBytes) blob = media_cert_blob(&c);
    gsize n;
    const guint8 *b = g_bytes_get_data(blob, &n);
    ck_assert_uint_eq(n, 12 + 20 + 12 + 16 + 12 + der.size);
    /* {prop_id, reserved = 1, length, data}: SHA-1 (3), MD5 (4), the encoded certificate (0x20) */
    ck_assert_uint_eq(le32(b), 3);
    ck_assert_uint_eq(le32(b + 4), 1);
    ck_assert_uint_eq(le32(b + 8), 20);
    ck_assert_uint_eq(le32(b + 32), 4);
    ck_assert_uint_eq(le32(b + 40), 16);
    ck_assert_uint_eq(le32(b + 60), 0x20);
    ck_assert_uint_eq(le32(b + 68), der.size);
    ck_assert_mem_eq(b + 72, der.data, der.size);
    guint8 digest[20];
    gsize dl = sizeof(digest);
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(ck, der.data, der.size);
    g_checksum_get_digest(ck, digest, &dl);
    g_checksum_free(ck);
    ck_assert_mem_eq(b + 12, digest, 20);
    g_autoptr(GBytes) back = media_cert_blob_der(b, n);
    ck_assert(back && g_bytes_equal(back, c.der));
    media_cert_clear(&c);
}
END_TEST

START_TEST(test_cert_missing_file_is_not_found_naming_it)
{
    g_autofree char *path = g_build_filename(unit_dir, "absent.pem", NULL);
    MediaCert c;
    GError *e = NULL;
    ck_assert(!media_cert_load(path, &c, &e));
    unit_assert_error(e, MEDIA_ERROR_NOT_FOUND, "absent.pem");
    g_error_free(e);
}
END_TEST

/* Found by fuzz_cert: GnuTLS gives the subject's bytes as the certificate has them, and a
 * subject that is not UTF-8 went into the JSON manifest. It is made UTF-8 (U+FFFD for what is
 * not); the certificate itself is used as it is. */
START_TEST(test_cert_subject_that_is_not_utf8_is_made_utf8)
{
    static const char cn[] = "\x0c\x0b" "Aero \xff\xfe\xc3 CA"; /* a UTF8String holding bytes that are not */
    gnutls_datum_t bad = {NULL, 0};
    make_cert_named(cn, sizeof(cn) - 1, TRUE, &bad, NULL);
    MediaCert c;
    load_ok("bad-subject.der", bad.data, bad.size, &c);
    ck_assert_ptr_nonnull(c.subject);
    ck_assert_msg(g_utf8_validate(c.subject, -1, NULL), "subject is not UTF-8");
    ck_assert_ptr_nonnull(strstr(c.subject, "CN=Aero "));
    ck_assert_ptr_nonnull(strstr(c.subject, " CA"));
    ck_assert_uint_eq(g_bytes_get_size(c.der), bad.size);
    media_cert_clear(&c);
    gnutls_free(bad.data);
}
END_TEST

/* ---- hostile certificate files ----------------------------------------------------------------- */

enum { EMPTY, GARBAGE, HALF_DER, HALF_PEM, PEM_BAD_BASE64, DER_FLIPPED_TAG, N_BAD_FILES };

START_TEST(test_cert_hostile_file_is_one_line_naming_it)
{
    g_autoptr(GByteArray) d = g_byte_array_new();
    switch (_i) {
    case EMPTY:
        break;
    case GARBAGE:
        g_byte_array_append(d, (const guint8 *)"\x00\x01hello\xff", 8);
        break;
    case HALF_DER:
        g_byte_array_append(d, der.data, der.size / 2);
        break;
    case HALF_PEM:
        g_byte_array_append(d, pem.data, pem.size / 2);
        break;
    case PEM_BAD_BASE64: {
        const char *t =
            "-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n";
        g_byte_array_append(d, (const guint8 *)t, (guint)strlen(t));
        break;
    }
    case DER_FLIPPED_TAG:
        g_byte_array_append(d, der.data, der.size);
        d->data[0] ^= 0x20;
        break;
    }
    g_autofree char *path = unit_write("bad.crt", d->data, (gssize)d->len);
    MediaCert c;
    GError *e = NULL;
    ck_assert_msg(!media_cert_load(path, &c, &e), "case %d accepted", _i);
    unit_assert_error(e, MEDIA_ERROR_INVALID, "bad.crt");
    g_error_free(e);
}
END_TEST

/* ---- hostile blobs --------------------------------------------------------------------------- */

static GByteArray *record(GByteArray *b, guint32 id, guint32 reserved, guint32 cb, const void *data,
                          gsize len)
{
    guint8 h[12];
    guint32 v[3] = {id, reserved, cb};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            h[4 * i + k] = (guint8)(v[i] >> (8 * k));
    g_byte_array_append(b, h, 12);
    if (len)
        g_byte_array_append(b, data, (guint)len);
    return b;
}

START_TEST(test_cert_blob_hostile_records_are_refused)
{
    const guint8 x[4] = {1, 2, 3, 4};
    g_autoptr(GByteArray) b = g_byte_array_new();
    /* nothing */
    ck_assert_ptr_null(media_cert_blob_der(b->data, 0));
    /* a header cut short */
    record(b, 0x20, 1, 4, x, 4);
    for (gsize n = 0; n < 12; n++)
        ck_assert_ptr_null(media_cert_blob_der(b->data, n));
    /* data cut short */
    ck_assert_ptr_null(media_cert_blob_der(b->data, 15));
    /* a length past the end, and one that wraps a 32-bit sum */
    g_byte_array_set_size(b, 0);
    record(b, 3, 1, 0xffffffffu, x, 4);
    ck_assert_ptr_null(media_cert_blob_der(b->data, b->len));
    g_byte_array_set_size(b, 0);
    record(b, 3, 1, 0xfffffff4u, x, 4);
    record(b, 0x20, 1, 4, x, 4);
    ck_assert_ptr_null(media_cert_blob_der(b->data, b->len));
    /* reserved must be 1 */
    g_byte_array_set_size(b, 0);
    record(b, 0x20, 0, 4, x, 4);
    ck_assert_ptr_null(media_cert_blob_der(b->data, b->len));
    /* no certificate property */
    g_byte_array_set_size(b, 0);
    record(b, 3, 1, 4, x, 4);
    record(b, 4, 1, 0, NULL, 0);
    ck_assert_ptr_null(media_cert_blob_der(b->data, b->len));
}
END_TEST

START_TEST(test_cert_blob_certificate_after_other_records_and_trailing_bytes)
{
    const guint8 x[4] = {1, 2, 3, 4};
    g_autoptr(GByteArray) b = g_byte_array_new();
    record(b, 3, 1, 0, NULL, 0);
    record(b, 0x19, 1, 4, x, 4);
    record(b, 0x20, 1, 3, x, 3);
    g_byte_array_append(b, x, 4); /* fewer than a header's bytes after the last record */
    g_autoptr(GBytes) got = media_cert_blob_der(b->data, b->len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 3);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), x, 3);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("cert");
    TCase *t = tcase_create("cert");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_cert_pem_and_der_give_the_same_der_and_thumbprint);
    tcase_add_test(t, test_cert_blob_is_sha1_md5_then_the_certificate);
    tcase_add_test(t, test_cert_missing_file_is_not_found_naming_it);
    tcase_add_test(t, test_cert_subject_that_is_not_utf8_is_made_utf8);
    tcase_add_loop_test(t, test_cert_hostile_file_is_one_line_naming_it, 0, N_BAD_FILES);
    tcase_add_test(t, test_cert_blob_hostile_records_are_refused);
    tcase_add_test(t, test_cert_blob_certificate_after_other_records_and_trailing_bytes);
    suite_add_tcase(s, t);
    return s;
}
