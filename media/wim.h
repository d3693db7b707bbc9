/* WIM images through wimlib: open and describe, extract single files, and add files to an image
 * with an in-place append (wimlib_overwrite), which costs only the new data.
 */
#ifndef MEDIA_WIM_H
#define MEDIA_WIM_H

#include <glib.h>

typedef struct MediaWim MediaWim;

MediaWim *media_wim_open(const char *path, const char *label, GError **error);
void media_wim_close(MediaWim *w);
int media_wim_image_count(MediaWim *w);
/* Architecture of an image from its metadata ("WINDOWS/ARCH": 0 x86, 9 x64): MediaArch bit or
 * 0 when unknown. */
guint media_wim_image_arch(MediaWim *w, int image);
const char *media_wim_image_name(MediaWim *w, int image);
/* Extract one file of `image` (absolute WIM path, any case) to dest_file. FALSE with error when
 * it does not exist or cannot be read. */
gboolean media_wim_extract_file(MediaWim *w, int image, const char *wim_path, const char *dest_file,
                                GError **error);

typedef struct {
    char *source; /* file or folder on disk */
    char *target; /* absolute path inside the image */
} MediaWimAdd;

/* Queue additions for image; media_wim_commit applies all queued changes and appends. */
void media_wim_queue_add(MediaWim *w, int image, const char *source, const char *target);
gboolean media_wim_commit(MediaWim *w, gboolean quiet, GError **error);

#endif
