/* `aero-media driver-iso` (see driver_iso.c). */
#ifndef MEDIA_DRIVER_ISO_H
#define MEDIA_DRIVER_ISO_H

#include <glib.h>

typedef struct {
    const char *drivers; /* folder or ISO */
    const char *output;
    guint archs;         /* MediaArch bits required and collected */
    gboolean allow_unsigned;
    const char *volid;
    gboolean quiet;
} MediaDriverIsoOptions;

gboolean media_driver_iso(const MediaDriverIsoOptions *o, GError **error);

#endif
