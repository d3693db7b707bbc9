/* libFuzzer target: the certificate handling (media/cert.c) on hostile bytes, both ways
 * aero-media meets them: as a --cert file (PEM or DER, through GnuTLS) that becomes the
 * CryptoAPI Blob written into the SOFTWARE hive, and as a Blob value read back from a hive
 * (verify), whose records are parsed by hand.
 *
 * Beyond "no crash": a refusal is one line naming the file; a loaded certificate has a DER
 * encoding whose SHA-1 is the thumbprint (upper-case hex) and a UTF-8 subject, and its Blob parses
 * back to that DER; a Blob parsed from the input yields bytes that lie in the input after a whole
 * record header, and if those load as a certificate, it round-trips too.
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz_media.h"

#include "cert.h"

#include <string.h>

static void check_cert(const MediaCert *c)
{
    g_autofree char *sha1 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA1, c->der);
    g_autofree char *up = g_ascii_strup(sha1, -1);
    if (strcmp(up, c->thumbprint) != 0)
        fm_violated("thumbprint %s is not the SHA-1 of the DER (%s)", c->thumbprint, up);
    if (c->subject && !g_utf8_validate(c->subject, -1, NULL))
        fm_violated("subject is not UTF-8");
    g_autoptr(GBytes) blob = media_cert_blob(c);
    gsize bn = 0;
    const guint8 *b = g_bytes_get_data(blob, &bn);
    g_autoptr(GBytes) back = media_cert_blob_der(b, bn);
    if (!back || !g_bytes_equal(back, c->der))
        fm_violated("the Blob of a %zu-byte certificate does not parse back to it", g_bytes_get_size(c->der));
}

static void load(const char *name, const void *data, size_t size)
{
    g_autofree char *path = fm_write(name, data, size);
    MediaCert c;
    GError *e = NULL;
    if (media_cert_load(path, &c, &e)) {
        check_cert(&c);
        media_cert_clear(&c);
    } else {
        fm_check_error(e, path);
        g_error_free(e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load("in.cer", data, size);
    g_autoptr(GBytes) der = media_cert_blob_der(data, size);
    if (der) {
        gsize n = 0;
        const guint8 *d = g_bytes_get_data(der, &n);
        if (n + 12 > size || (n && !memmem(data + 12, size - 12, d, n)))
            fm_violated("the DER parsed from a %zu-byte Blob (%zu bytes) is not in it", size, (size_t)n);
        load("blob.der", d, n);
    }
    const char *const left[] = {"in.cer", "blob.der", NULL};
    fm_check_dir(left);
    return 0;
}
