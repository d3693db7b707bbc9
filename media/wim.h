/* WIM images through wimlib: open a WIM that lives inside an ISO through a sparse local work copy
 * (only the header, blob table, XML, image metadata and the files actually read are copied),
 * describe images, extract files, and add files with an in-place append (wimlib_overwrite), which
 * writes only the new data. The result is described as the byte ranges that differ from the
 * original, so the ISO writer can take everything else from the input image.
 */
#ifndef MEDIA_WIM_H
#define MEDIA_WIM_H

#include "progress.h"
#include "util.h"

#include <glib.h>

typedef struct MediaWim MediaWim;

/* Where the original WIM's bytes come from (e.g. a file inside the input ISO). */
typedef struct {
    guint64 size;
    /* Copy bytes [offset, offset+length) of the original into fd at the same offset. */
    gboolean (*copy_range)(void *user, guint64 offset, guint64 length, int fd, GError **error);
    void *user;
} MediaWimSource;

/* Open the WIM `src` through a work copy at work_path (created; the caller removes it). label
 * names the WIM in errors ("IN.iso:/sources/install.wim"). A WIM whose layout an in-place append
 * could not keep (split, integrity table, resources after the XML, solid) is copied in full
 * instead (a progress step). Errors: "not a usable WIM (...)". */
MediaWim *media_wim_open(const MediaWimSource *src, const char *work_path, const char *label,
                         MediaProgress *p, GError **error);
void media_wim_close(MediaWim *w);
int media_wim_image_count(MediaWim *w);
/* The image's WINDOWS/ARCH property as wimlib reports it (NULL when absent). */
const char *media_wim_image_arch_text(MediaWim *w, int image);
/* Architecture from WINDOWS/ARCH (0 x86, 9 x64): MediaArch bit, or 0 when absent or unknown. */
guint media_wim_image_arch(MediaWim *w, int image);
const char *media_wim_image_name(MediaWim *w, int image);
const char *media_wim_label(MediaWim *w);
/* Extract one file of `image` (absolute WIM path, any case) to dest_file. FALSE with an error
 * ("<label> image N: <path>: missing from the image") when it does not exist or cannot be read. */
gboolean media_wim_extract_file(MediaWim *w, int image, const char *wim_path, const char *dest_file,
                                GError **error);
/* Extract a folder (recursively) of `image` to dest_dir (created). */
gboolean media_wim_extract_dir(MediaWim *w, int image, const char *wim_path, const char *dest_dir,
                               GError **error);
/* Whether a path exists in the image. */
gboolean media_wim_exists(MediaWim *w, int image, const char *wim_path);

/* Queue additions for image; media_wim_commit applies all queued changes and appends. */
void media_wim_queue_add(MediaWim *w, int image, const char *source, const char *target);
/* Apply and append in place (never a rebuild: that is an error here). With SOURCE_DATE_EPOCH the
 * images' modification times are set from it. */
gboolean media_wim_commit(MediaWim *w, MediaProgress *p, GError **error);
/* After media_wim_commit: the work copy's path and the ranges where it differs from (or extends)
 * the original; everything outside them is the original's bytes. The array belongs to w. */
const char *media_wim_work_path(MediaWim *w);
const GArray *media_wim_changed_ranges(MediaWim *w);
/* Whether the work copy is sparse (FALSE: it was copied in full). */
gboolean media_wim_is_sparse(MediaWim *w);

#endif
