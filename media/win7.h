/* `aero-media win7`: patch a Windows 7 install ISO for AERO-W7-VIRTIO devices (checked by
 * `aero-media verify`, verify.h).
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

#endif
