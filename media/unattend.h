/* autounattend.xml for the patched media: driver paths for WinPE and the installed system, and
 * optionally a fully automated install.
 */
#ifndef MEDIA_UNATTEND_H
#define MEDIA_UNATTEND_H

#include "inf.h"

typedef enum { MEDIA_UNATTEND_NONE, MEDIA_UNATTEND_DRIVERS, MEDIA_UNATTEND_FULL } MediaUnattend;

/* The driver folder on the output media, relative to its root, for arch. */
char *media_unattend_driver_dir(MediaArch arch);
/* --unattend full partitions disk 0 with this script (and MBR.TXT / GPT.TXT beside it). */
#define MEDIA_UNATTEND_DISK_SCRIPT "AERO/SETUP/DISK.CMD"
/* Write AERO/SETUP/{DISK.CMD,MBR.TXT,GPT.TXT} under root (the staged media root, existing). */
gboolean media_unattend_write_setup(const char *root, GError **error);
/* The XML text. image_index is the install.wim index a full install uses. */
char *media_unattend_xml(MediaUnattend mode, MediaArch arch, int image_index, const char *product_key);

#endif
