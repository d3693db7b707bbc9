/* Test-signing certificate: load PEM or DER (GnuTLS), thumbprint, and the CryptoAPI serialized
 * store element that Windows keeps as the `Blob` value of a registry certificate store entry.
 */
#ifndef MEDIA_CERT_H
#define MEDIA_CERT_H

#include <glib.h>

typedef struct {
    GBytes *der;
    char thumbprint[41]; /* upper-case hex SHA-1 of the DER */
    char *subject;
} MediaCert;

gboolean media_cert_load(const char *path, MediaCert *out, GError **error);
void media_cert_clear(MediaCert *c);
/* Property records {u32 prop_id, u32 reserved = 1, u32 length, data}: SHA-1 hash (3), MD5 hash
 * (4), then the encoded certificate (CERT_CERT_PROP_ID, 0x20), as CertSerializeCertificate-
 * StoreElement writes them. */
GBytes *media_cert_blob(const MediaCert *c);
/* Parse a Blob back: returns the DER of property 0x20, or NULL if the records are malformed. */
GBytes *media_cert_blob_der(const guint8 *blob, gsize len);

#endif
