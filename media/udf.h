/* A strict, read-only UDF (ECMA-167 / OSTA UDF 1.02-2.01) reader for the file tree of a
 * UDF-bridge ISO image: Microsoft's install media keep their files in UDF only, with a stub
 * ISO 9660 tree. It yields the tree (names, sizes, times) and, for every file, the byte extents
 * of its data in the image, so file data is copied straight from the image like ISO 9660 data.
 *
 * Every on-disc value is treated as hostile: descriptor tags (checksum, CRC, location) are
 * checked, every extent is bounds-checked against its partition and the image, allocation
 * descriptor chains, directory sizes, depth and entry counts are bounded, and directory loops are
 * refused. libcdio's libudf was not used because it walks directory records without bounds,
 * reads only a directory's first extent, and handles neither Extended File Entries nor data
 * embedded in the file entry.
 */
#ifndef MEDIA_UDF_H
#define MEDIA_UDF_H

#include <glib.h>

/* Byte extent of file data in the image; off == MEDIA_EXTENT_ZERO for an extent recorded as
 * zeros (allocated but not written, or not allocated). */
#define MEDIA_EXTENT_ZERO G_MAXUINT64
typedef struct {
    guint64 off;
    guint64 len;
} MediaExtent;

typedef struct MediaUdfNode MediaUdfNode;
struct MediaUdfNode {
    char *name;          /* UTF-8, never empty, no '/' ("" only for the root) */
    gboolean dir;
    guint64 size;        /* files: bytes of data */
    gint64 mtime;        /* modification time, seconds since the epoch (UTC) */
    GArray *extents;     /* files: MediaExtent, in file order, summing to exactly size */
    GPtrArray *children; /* folders: MediaUdfNode *, in directory order */
};

typedef struct {
    MediaUdfNode *root;
    guint files, dirs;   /* dirs excludes the root */
} MediaUdf;

/* Whether the image has a UDF volume recognition sequence (ECMA-167 2/9.1: BEA01 then NSR02 or
 * NSR03) in its volume recognition area. */
gboolean media_udf_present(int fd);

/* Read the whole file tree of the UDF file system in the image open at fd (read with pread).
 * label names the image in errors ("IMAGE: UDF ...: what is wrong"). */
MediaUdf *media_udf_read(int fd, const char *label, GError **error);
void media_udf_free(MediaUdf *udf);

#endif
