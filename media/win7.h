/* `aero-media win7` and `aero-media verify`: patch a Windows 7 install ISO for AERO-W7-VIRTIO
 * devices, and check such an ISO independently of the run that made it.
 */
#ifndef MEDIA_WIN7_H
#define MEDIA_WIN7_H

#include "bcd.h"
#include "unattend.h"

typedef struct {
    const char *iso, *drivers, *output, *cert;
    MediaSigning signing;
    const char *index_spec;  /* "all" (default) or "1,3" */
    MediaUnattend unattend;
    gboolean unattend_given; /* explicit --unattend replaces an existing autounattend.xml */
    const char *product_key;
    const char *volid;
    gboolean allow_unsigned;
    gboolean quiet;
} MediaWin7Options;

gboolean media_win7(const MediaWin7Options *o, GError **error);

/* Check an output ISO; prints a checklist; FALSE (with a summary error) when anything fails.
 * manifest may be NULL (then <iso>.manifest.json is used if present). */
gboolean media_verify(const char *iso, const char *manifest, gboolean quiet, GError **error);

#endif
