/* autounattend.xml for the patched media: driver paths for WinPE and the installed system, and
 * optionally a fully automated install.
 */
#ifndef MEDIA_UNATTEND_H
#define MEDIA_UNATTEND_H

#include "inf.h"

typedef enum { MEDIA_UNATTEND_NONE, MEDIA_UNATTEND_DRIVERS, MEDIA_UNATTEND_FULL } MediaUnattend;

/* "none", "drivers", "full": the --unattend values and what the manifest records. */
const char *media_unattend_name(MediaUnattend mode);
/* The mode a name spells; FALSE for anything else. */
gboolean media_unattend_parse(const char *name, MediaUnattend *out);

/* The driver folder on the output media, relative to its root, for arch. */
char *media_unattend_driver_dir(MediaArch arch);
/* --unattend full partitions disk 0 with DISK.CMD (and MBR.TXT / GPT.TXT beside it), the
 * setup files, in this folder of the media. */
#define MEDIA_UNATTEND_SETUP_DIR "AERO/SETUP"
#define MEDIA_UNATTEND_DISK_SCRIPT MEDIA_UNATTEND_SETUP_DIR "/DISK.CMD"
#define MEDIA_UNATTEND_SETUP_FILES 3
extern const char *const media_unattend_setup_files[MEDIA_UNATTEND_SETUP_FILES]; /* DISK.CMD first */
/* Write the setup files under root (the staged media root, existing). */
gboolean media_unattend_write_setup(const char *root, GError **error);
/* The XML text. image_index is the install.wim index a full install uses. */
char *media_unattend_xml(MediaUnattend mode, MediaArch arch, int image_index, const char *product_key);

#endif
