/* Small file and progress helpers shared by the aero-media commands. */
#ifndef MEDIA_UTIL_H
#define MEDIA_UTIL_H

#include <glib.h>

#define MEDIA_VERSION "0.1.0"

/* One progress line on stderr unless quiet. */
void media_progress(gboolean quiet, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
gboolean media_copy_file(const char *src, const char *dst, GError **error);
/* Lower-case hex SHA-256 of a file, or NULL with error naming it. */
char *media_sha256_file(const char *path, GError **error);
gint64 media_file_size(const char *path);
/* Whether a and b name the same existing file (or the same path when b does not exist yet). */
gboolean media_same_file(const char *a, const char *b);
/* Replace a leading `prefix` in s with `with` (for messages about extracted copies). */
char *media_replace_prefix(const char *s, const char *prefix, const char *with);
/* Set every mtime under dir to SOURCE_DATE_EPOCH (if set) for reproducible images. */
void media_set_tree_times(const char *dir);
void media_rm_rf(const char *path);
/* Undo xorriso's shell-style quoting inside '...': the sequence '"'"' is one quote. */
char *media_unquote_xorriso(const char *s);

#endif
