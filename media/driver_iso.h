/* `aero-media driver-iso` (see driver_iso.c). */
#ifndef MEDIA_DRIVER_ISO_H
#define MEDIA_DRIVER_ISO_H

#include "progress.h"

#include <glib.h>

typedef struct {
    const char *drivers; /* folder or ISO */
    const char *output;
    guint archs;         /* MediaArch bits put on the ISO; blk and net are required for each */
    gboolean allow_unsigned;
    const char *volid;
    MediaProgress *progress; /* NULL: quiet */
} MediaDriverIsoOptions;

/* Write o->output; on failure leave nothing there and set one error line naming the file. */
gboolean media_driver_iso(const MediaDriverIsoOptions *o, GError **error);

#endif
