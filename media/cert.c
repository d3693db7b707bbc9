/* Test-signing certificate handling (see cert.h). The serialized-element format is small and
 * has no Debian library, so it is written here; record layout per CryptoAPI
 * (CertSerializeCertificateStoreElement): little-endian {prop_id, 1, cb, data[cb]}.
 */
#include "cert.h"

#include "error.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#define CERT_SHA1_HASH_PROP_ID 3
#define CERT_MD5_HASH_PROP_ID 4
#define CERT_CERT_PROP_ID 0x20

gboolean media_cert_load(const char *path, MediaCert *out, GError **error)
{
    g_autofree char *raw = NULL;
    gsize len;
    memset(out, 0, sizeof(*out));
    if (!g_file_get_contents(path, &raw, &len, error)) {
        media_error_adopt(error);
        return FALSE;
    }
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    gnutls_datum_t in = {(unsigned char *)raw, (unsigned int)len};
    int rc = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        rc = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        gnutls_x509_crt_deinit(crt);
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                    "%s: not an X.509 certificate (PEM or DER expected)", path);
        return FALSE;
    }
    gnutls_datum_t der = {NULL, 0}, dn = {NULL, 0};
    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
        /* GnuTLS passes a string attribute's bytes on as the certificate has them; the subject
         * goes into messages and the JSON manifest, so what is not UTF-8 becomes U+FFFD */
        out->subject = g_utf8_make_valid((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
    out->der = g_bytes_new(der.data, der.size);
    gnutls_free(der.data);
    g_autofree char *sha1 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA1, out->der);
    for (int i = 0; i < 40; i++)
        out->thumbprint[i] = g_ascii_toupper(sha1[i]);
    out->thumbprint[40] = '\0';
    return TRUE;
}

void media_cert_clear(MediaCert *c)
{
    if (c->der)
        g_bytes_unref(c->der);
    g_free(c->subject);
    memset(c, 0, sizeof(*c));
}

static void put32(GByteArray *b, guint32 v)
{
    guint8 le[4] = {(guint8)v, (guint8)(v >> 8), (guint8)(v >> 16), (guint8)(v >> 24)};
    g_byte_array_append(b, le, 4);
}

static void add_prop(GByteArray *b, guint32 id, const guint8 *data, gsize len)
{
    put32(b, id);
    put32(b, 1);
    put32(b, (guint32)len);
    g_byte_array_append(b, data, (guint)len);
}

static void digest(GChecksumType t, GBytes *in, guint8 *out, gsize *len)
{
    GChecksum *c = g_checksum_new(t);
    gsize n;
    const guint8 *d = g_bytes_get_data(in, &n);
    g_checksum_update(c, d, (gssize)n);
    g_checksum_get_digest(c, out, len);
    g_checksum_free(c);
}

GBytes *media_cert_blob(const MediaCert *c)
{
    GByteArray *b = g_byte_array_new();
    guint8 h[32];
    gsize hl = sizeof(h);
    digest(G_CHECKSUM_SHA1, c->der, h, &hl);
    add_prop(b, CERT_SHA1_HASH_PROP_ID, h, hl);
    hl = sizeof(h);
    digest(G_CHECKSUM_MD5, c->der, h, &hl);
    add_prop(b, CERT_MD5_HASH_PROP_ID, h, hl);
    gsize n;
    const guint8 *der = g_bytes_get_data(c->der, &n);
    add_prop(b, CERT_CERT_PROP_ID, der, n);
    return g_byte_array_free_to_bytes(b);
}

static guint32 get32(const guint8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (guint32)p[3] << 24; }

GBytes *media_cert_blob_der(const guint8 *blob, gsize len)
{
    gsize off = 0;
    while (off + 12 <= len) {
        guint32 id = get32(blob + off), reserved = get32(blob + off + 4), cb = get32(blob + off + 8);
        if (reserved != 1 || cb > len - off - 12)
            return NULL;
        if (id == CERT_CERT_PROP_ID)
            return g_bytes_new(blob + off + 12, cb);
        off += 12 + cb;
    }
    return NULL;
}
