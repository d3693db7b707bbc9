/* BCD stores (registry hives) — set the driver-signing policy on the Windows loaders and the
 * inherited settings objects, and read it back for verify.
 */
#ifndef MEDIA_BCD_H
#define MEDIA_BCD_H

#include <glib.h>

typedef enum {
    MEDIA_SIGNING_NONE,
    MEDIA_SIGNING_TESTSIGNING,       /* element 0x16000049 AllowPrereleaseSignatures */
    MEDIA_SIGNING_NOINTEGRITYCHECKS, /* element 0x16000048 DisableIntegrityChecks */
} MediaSigning;

/* "none", "testsigning", "nointegritychecks": the --signing values and what the manifest records. */
const char *media_signing_name(MediaSigning s);
/* The policy a name spells; FALSE for anything else. */
gboolean media_signing_parse(const char *name, MediaSigning *out);
guint32 media_signing_element(MediaSigning s);

typedef struct {
    char *default_loader;   /* GUID {bootmgr} names, or NULL (OEM media, BCD-Template) */
    GPtrArray *loaders;     /* every Windows OS loader object (GUID strings) */
    GPtrArray *patched;     /* objects that now carry the flag */
} MediaBcdReport;

void media_bcd_report_clear(MediaBcdReport *r);

/* Patch `path` (label names it in messages). With need_loader a store without any Windows
 * loader is an error (boot media); BCD-Template passes FALSE. */
gboolean media_bcd_patch(const char *path, const char *label, MediaSigning s, gboolean need_loader,
                         MediaBcdReport *report, GError **error);
/* Objects of the store that have the element set to 1 (verify). */
gboolean media_bcd_check(const char *path, const char *label, MediaSigning s, MediaBcdReport *report,
                         GError **error);

#endif
