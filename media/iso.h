/* ISO 9660 access through xorriso (libisoburn's front end): extract an input image, write a new
 * one from a staging folder, list files. Writes go to a temporary file that is renamed into place
 * only when complete.
 */
#ifndef MEDIA_ISO_H
#define MEDIA_ISO_H

#include <glib.h>

/* Extract the whole image into dest (created). Error names the ISO when it is not one. */
gboolean media_iso_extract(const char *iso, const char *dest, GError **error);
/* Extract one file (path inside the ISO, case as stored) to dest_file. */
gboolean media_iso_extract_file(const char *iso, const char *path, const char *dest_file,
                                GError **error);
/* True when the file looks like an ISO 9660 image (primary volume descriptor at 32 KiB). */
gboolean media_iso_probe(const char *path);

typedef struct {
    const char *volid;
    gboolean quiet;
} MediaIsoWriteOptions;

/* Write staging as ISO 9660 level 3 + Rock Ridge + Joliet (long names) to out: written to
 * out.tmp-XXXXXX in the same folder, renamed at the end, removed on failure. */
gboolean media_iso_write_data(const char *staging, const char *out, const MediaIsoWriteOptions *o,
                              GError **error);

/* Every file path in the image (as stored, '/'-rooted) -> keyed by lower-case path. */
GHashTable *media_iso_list(const char *iso, GError **error);

typedef struct {
    const char *disk_path; /* file or folder on disk */
    const char *iso_path;  /* where it goes in the image */
} MediaIsoMap;

/* Write a new image at out (temp + rename) that is the input image with maps applied: unchanged
 * files are copied from the input, El Torito boot entries are kept exactly (load sizes too), volume ID
 * kept unless volid. */
gboolean media_iso_rebuild(const char *in, const char *out, const MediaIsoMap *maps, guint n,
                           const char *volid, gboolean quiet, GError **error);
/* xorriso's -report_el_torito plain for an image (for verify), or NULL. */
char *media_iso_el_torito(const char *iso, GError **error);

#endif
