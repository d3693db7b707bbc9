/* `aero-media win7` and `aero-media verify`: patch a Windows 7 install ISO for AERO-W7-VIRTIO
 * devices, and check such an ISO from the image itself.
 */
#ifndef MEDIA_WIN7_H
#define MEDIA_WIN7_H

#include "bcd.h"
#include "progress.h"
#include "unattend.h"

typedef struct {
    const char *iso, *drivers, *output, *cert;
    MediaSigning signing;
    const char *index_spec;  /* "all" (default) or "1,3" */
    MediaUnattend unattend;
    gboolean unattend_given; /* explicit --unattend replaces (or, with none, removes) an existing
                              * autounattend.xml */
    const char *product_key; /* only with MEDIA_UNATTEND_FULL */
    const char *volid;
    gboolean allow_unsigned;
    MediaProgress *progress; /* NULL: quiet */
} MediaWin7Options;

/* Write o->output and o->output.manifest.json; on failure leave neither (nor any temporary file)
 * and set one error line naming the offending file. */
gboolean media_win7(const MediaWin7Options *o, GError **error);

/* Check a patched ISO from the image itself: every boot.wim image and the patched install.wim
 * images (those the manifest lists, else those found patched; at least one), every BCD store
 * present, the storage driver, certificates, staged drivers, El Torito entries, autounattend.xml.
 * The manifest (manifest, else <iso>.manifest.json if present) adds what only the run knows:
 * hashes, the input's boot entries, the signing policy, the certificate. Prints a checklist
 * (failures only when quiet); FALSE with a summary error when anything fails. */
gboolean media_verify(const char *iso, const char *manifest, gboolean quiet, MediaProgress *p,
                      GError **error);

#endif
