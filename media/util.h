/* Small file helpers shared by the aero-media commands: hashing (GnuTLS, which uses the CPU's
 * SHA instructions), a background hash of a big file, copies, and the list of temporary paths a
 * signal handler removes.
 */
#ifndef MEDIA_UTIL_H
#define MEDIA_UTIL_H

#include "progress.h"

#include <glib.h>
#include <sys/types.h>

#define MEDIA_VERSION "0.1.0"

gboolean media_copy_file(const char *src, const char *dst, GError **error);

/* A byte range of a file. */
typedef struct {
    guint64 offset, length;
} MediaRange;
/* Add [offset, offset+length) to a sorted list of disjoint ranges, merging neighbours. */
void media_ranges_add(GArray *ranges, guint64 offset, guint64 length);
/* Whether [offset, offset+length) lies inside the list. */
gboolean media_ranges_cover(const GArray *ranges, guint64 offset, guint64 length);

/* Streaming SHA-256. */
typedef struct MediaSha256 MediaSha256;
MediaSha256 *media_sha256_new(void);
void media_sha256_update(MediaSha256 *h, const void *data, gsize len);
/* Lower-case hex digest; frees h. */
char *media_sha256_finish(MediaSha256 *h);

/* Lower-case hex SHA-256 of a file, or NULL with an error naming it. With p, the hashing is a
 * progress step named after the file. */
char *media_sha256_file(const char *path, MediaProgress *p, GError **error);

/* SHA-256 of a big file on a second thread, so it overlaps other work. */
typedef struct MediaHashJob MediaHashJob;
MediaHashJob *media_hash_job_start(const char *path);
/* Wait for the result (a progress step `what` while waiting); NULL with an error naming the file.
 * Frees job. */
char *media_hash_job_finish(MediaHashJob *job, MediaProgress *p, const char *what, GError **error);
/* Stop early and free (error paths). NULL is fine. */
void media_hash_job_cancel(MediaHashJob *job);

gint64 media_file_size(const char *path);
/* Whether a and b name the same existing file (or the same path when b does not exist yet). */
gboolean media_same_file(const char *a, const char *b);
/* Replace every `prefix` in s with `with` (for messages about extracted copies). */
char *media_replace_prefix(const char *s, const char *prefix, const char *with);
/* Set every mtime under dir to SOURCE_DATE_EPOCH (if set) for reproducible images. */
void media_set_tree_times(const char *dir);
/* SOURCE_DATE_EPOCH when set and valid, else -1. */
gint64 media_source_date_epoch(void);
void media_rm_rf(const char *path);

/* Temporary files and folders that must not outlive the process. A signal handler (the CLI's)
 * calls media_cleanup_run(); normal paths remove their own and unregister. Thread-safe. */
void media_cleanup_add(const char *path);
void media_cleanup_remove(const char *path);
void media_cleanup_run(void);
/* Create and register in one step (no signal can fall between): a folder from a template ending
 * in XXXXXX (g_mkdtemp) or in the temporary directory (NULL with the system's reason as the error
 * message: the caller says what failed), a file beside `out` (the error names out). */
char *media_cleanup_mkdtemp(const char *tmpl, GError **error);
char *media_cleanup_tmp_dir(const char *name_tmpl, GError **error);
char *media_cleanup_temp_beside(const char *out, GError **error);
/* The mode a new output file gets: 0666 less the process umask (read once, at first use). */
mode_t media_output_mode(void);
/* fsync(2) a file by path (before it is renamed into place). */
gboolean media_fsync_path(const char *path, GError **error);
/* Create the folders of `path` below `base`, which must exist: a temporary root that a signal
 * removed is never created again by a thread still at work. */
gboolean media_mkdir_below(const char *base, const char *path, GError **error);

#endif
