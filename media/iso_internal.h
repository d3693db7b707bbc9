/* What the parts of the ISO module share (iso.c reading, iso_stream.c the patch stream,
 * iso_udf.c the UDF bridge, iso_boot.c El Torito, iso_write.c writing). Private: only iso*.c
 * include it; everyone else uses iso.h.
 */
#ifndef MEDIA_ISO_INTERNAL_H
#define MEDIA_ISO_INTERNAL_H

#define LIBISOFS_WITHOUT_LIBBURN 1 /* struct burn_source from libisofs.h: no libburn needed */
#include "iso.h"

#include "udf.h"

#include <stdint.h>
#include <sys/types.h>

#include <libisofs/libisofs.h>

#define ISO_BLOCK 2048u

struct MediaIso {
    char *path;
    int fd;
    IsoDataSource *src;
    IsoImage *image;
    GHashTable *files; /* lower-case path -> stored path */
    gboolean from_udf; /* the tree is the image's UDF tree (a UDF bridge image) */
    char *udf_problem; /* why the image's UDF tree was not read, when it was not */
};

/* ---- libisofs and errors (iso.c) ---- */

/* Initialise libisofs once: its messages are queued, not printed; MISHAP aborts a write. */
void iso_lib_init(void);
/* Empty libisofs' message queue; the first message at MISHAP or worse, else the last SORRY,
 * else NULL. *serious (may be NULL) says whether it was MISHAP or worse. */
char *iso_lib_drain(gboolean *serious);
/* "subject: what (libisofs' reason)" as MEDIA_ERROR_FAILED. */
void iso_set_lib_error(GError **error, int code, const char *subject, const char *what);
/* "subject: what: strerror(err)" with the errno's code. */
void iso_set_errno_error(GError **error, int err, const char *subject, const char *what);

/* ---- the tree (iso.c) ---- */

/* A regular file that a directory lists (not a boot image kept in no directory). */
gboolean iso_listed_file(IsoNode *n);
/* Add every listed file below dir to files (lower-case path -> stored path). A file or folder
 * whose name is empty, "." or "..", not UTF-8 or holds control characters is left out (a folder
 * with all below it), and the first such path is put in *bad (g_free; bad may be NULL). */
void iso_collect_files(IsoDir *dir, GHashTable *files, char **bad);
/* The file node at a stored path, or NULL. */
IsoFile *iso_file_node(MediaIso *iso, const char *path);

/* ---- file data through its extents (iso.c) ---- */

/* Where a file's bytes are in the image: ISO 9660 file sections or UDF extents. */
typedef struct {
    GArray *x; /* MediaExtent */
    guint64 size;
} Extents;

/* The extents of a file (stored path); errors name IMAGE:PATH. Clear with iso_extents_clear. */
gboolean iso_extents_of(MediaIso *iso, const char *path, Extents *x, GError **error);
void iso_extents_clear(Extents *x);
/* Read file bytes [off, off+len) into buf (errno set on failure). */
gboolean iso_read_file_range(MediaIso *iso, const Extents *x, guint64 off, void *buf, gsize len);
/* SHA-256 of the bytes the extents name; errors name label. */
char *iso_extents_sha256(MediaIso *iso, const Extents *x, const char *label, GError **error);
/* pread/pwrite until done (EINTR retried; a short read is EIO). */
gboolean iso_pread_all(int fd, void *buf, gsize len, guint64 off);
gboolean iso_pwrite_all(int fd, const void *buf, gsize len, guint64 off);

/* ---- the patch stream (iso_stream.c) ---- */

/* A libisofs stream of `size` bytes: [ranges] from disk_path, the rest from the input through
 * old (taken). With disk_path and ranges NULL it is a file of the input read through its extents. */
IsoStream *iso_patch_stream_new(MediaIso *iso, const Extents *old, const char *disk_path,
                                const GArray *ranges, guint64 size);
/* The extents of a file that is such a stream of the input alone (UDF tree, kept boot image),
 * else NULL. */
const Extents *iso_input_extents(IsoFile *f);

/* ---- the UDF bridge (iso_udf.c) ---- */

/* When the ISO 9660 tree is a stub and the image has a UDF tree, read the UDF tree instead
 * (iso->from_udf); when the UDF tree cannot be read but the ISO 9660 tree may do, say why in
 * iso->udf_problem. FALSE with an error when neither tree can be used. */
gboolean iso_use_udf_tree(MediaIso *iso, GError **error);

/* ---- El Torito (iso_boot.c) ---- */

/* Keep boot images that no file holds whole through a rebuild: move each such entry onto the
 * file of udf_starts (UDF tree files by first data byte; may be NULL) that starts at its block,
 * else onto a file in no directory holding the whole image, and rebuild the catalog on them. */
gboolean iso_keep_boot_images(MediaIso *iso, GHashTable *udf_starts, GError **error);

#endif
