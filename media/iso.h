/* ISO 9660 images through libisofs, in process: open an image (its Rock Ridge names, else Joliet,
 * else ISO 9660; for a UDF bridge image whose ISO 9660 tree is a stub, its UDF tree: udf.h), find
 * and read files, report El Torito entries, and write images: a fresh one from a folder (driver
 * ISO), or the input image with changes (patched Windows media), keeping its boot catalog, system
 * area and volume ID. Written images are ISO 9660 level 3 (multi-extent files over 4 GiB) + Rock
 * Ridge + Joliet with long names; their SHA-256 is computed while they are written, and all-zero
 * blocks are left as holes.
 */
#ifndef MEDIA_ISO_H
#define MEDIA_ISO_H

#include "progress.h"
#include "util.h"

#include <glib.h>

typedef struct MediaIso MediaIso;

/* True when the file looks like an ISO 9660 image (primary volume descriptor at 32 KiB). */
gboolean media_iso_probe(const char *path);

/* Open read-only. Errors name the file ("not an ISO 9660 image"). */
MediaIso *media_iso_open(const char *path, GError **error);
void media_iso_close(MediaIso *iso);
const char *media_iso_path(MediaIso *iso);
const char *media_iso_volume_id(MediaIso *iso);

/* Every regular file: lower-case '/'-rooted path -> the path as stored. Owned by iso. */
GHashTable *media_iso_files(MediaIso *iso);
/* Stored path of a file given its lower-case path (Windows media are matched in any case). */
const char *media_iso_find(MediaIso *iso, const char *lower_path);
/* Whether the files are those of the image's UDF tree: a UDF bridge image (Microsoft's install
 * media) whose ISO 9660 tree holds fewer files, e.g. just README.TXT. */
gboolean media_iso_from_udf(MediaIso *iso);
/* Why the image's UDF tree could not be read while its ISO 9660 tree was used (NULL if it was
 * read or there is none): ask when an expected file is missing. */
const char *media_iso_udf_problem(MediaIso *iso);
/* Size of a file (stored path), -1 when absent. */
gint64 media_iso_file_size(MediaIso *iso, const char *path);

/* Copy bytes [offset, offset + length) of a file (stored path) into fd at the same offset;
 * dest_label names fd in errors (e.g. a full disk). */
gboolean media_iso_copy_range(MediaIso *iso, const char *path, guint64 offset, guint64 length, int fd,
                              const char *dest_label, GError **error);
/* Copy a file out (dest created); with p the copy is a progress step. */
gboolean media_iso_extract_file(MediaIso *iso, const char *path, const char *dest, MediaProgress *p,
                                GError **error);
/* Copy every file and folder out under dest (created). */
gboolean media_iso_extract_all(MediaIso *iso, const char *dest, MediaProgress *p, GError **error);
/* SHA-256 of a file in the image. */
char *media_iso_file_sha256(MediaIso *iso, const char *path, GError **error);

/* One El Torito boot entry. */
typedef struct {
    char *platform;  /* "BIOS", "UEFI" or "0xNN" */
    char *emulation; /* "none", "floppy", "hard_disk" */
    guint load_size; /* 512-byte sectors loaded */
    char *path;      /* the boot image file ('/'-rooted, as stored), NULL if it is in no directory */
    char *sha256;    /* of the whole boot image file; in no directory: of the load size, and for
                      * UEFI of the FAT image its boot sector describes */
} MediaBootEntry;
void media_boot_entry_free(MediaBootEntry *e);
/* The image's boot entries in catalog order (empty when not bootable), or NULL with error. */
GPtrArray *media_iso_boot_entries(MediaIso *iso, GError **error);

typedef enum {
    MEDIA_ISO_ADD,    /* disk_path (file or folder) becomes iso_path, replacing what is there */
    MEDIA_ISO_PATCH,  /* iso_path (an existing file) becomes disk_path's content where
                       * from_disk says so, the old content elsewhere */
    MEDIA_ISO_REMOVE, /* iso_path goes away */
} MediaIsoOp;

typedef struct {
    MediaIsoOp op;
    const char *iso_path;     /* '/'-rooted; for existing files the stored path */
    const char *disk_path;    /* ADD, PATCH */
    const GArray *from_disk;  /* PATCH: MediaRange list, sorted; past the old size all is disk */
} MediaIsoChange;

typedef struct {
    const char *label;      /* names the image in errors (default: the path written) */
    const char *volid;      /* NULL keeps the input's (rebuild) or "AERO" (folder) */
    MediaProgress *progress;
    char *sha256;           /* out: SHA-256 of the written image (g_free it) */
} MediaIsoWrite;

/* Write the input image with changes applied to `out` (created, replaced if it exists; the caller
 * renames it into place). Boot catalog entries keep their boot images and load sizes. */
gboolean media_iso_rebuild(MediaIso *in, const MediaIsoChange *changes, guint n, const char *out,
                           MediaIsoWrite *w, GError **error);
/* Write a fresh image of the folder `dir` to `out` through a temporary file beside it that is
 * renamed at the end (removed on failure). */
gboolean media_iso_write_dir(const char *dir, const char *out, MediaIsoWrite *w, GError **error);

#endif
