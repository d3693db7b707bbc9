/* Progress reporting for aero-media: the commands emit typed messages through one callback (as
 * wimlib's progress function does); the CLI turns them into a bar on a terminal, periodic lines
 * otherwise, or nothing with --quiet. Library code never prints progress itself. The callback can
 * stop a run (as wimlib's WIMLIB_PROGRESS_STATUS_ABORT): the command then unwinds, removes what
 * it wrote and fails with MEDIA_ERROR_CANCELLED; nothing appears at the output path.
 */
#ifndef MEDIA_PROGRESS_H
#define MEDIA_PROGRESS_H

#include <glib.h>

typedef enum {
    MEDIA_PROGRESS_NOTE,  /* one line of information (text) */
    MEDIA_PROGRESS_BEGIN, /* a long step starts: text names it, total = bytes to do (0: unknown) */
    MEDIA_PROGRESS_BYTES, /* the current step has done `done` of `total` bytes */
    MEDIA_PROGRESS_END,   /* the current step finished (done == total) */
} MediaProgressMsg;

typedef struct {
    MediaProgressMsg msg;
    const char *text; /* NOTE: the line; BEGIN/BYTES/END: the step's name */
    guint64 done, total;
} MediaProgressInfo;

typedef enum {
    MEDIA_PROGRESS_CONTINUE,
    MEDIA_PROGRESS_ABORT, /* stop the run as soon as it can (asking again changes nothing) */
} MediaProgressStatus;

/* Called on the thread that runs the command, never concurrently. A long step calls it at least
 * every 100 ms while bytes move; steps without bytes (hive edits) only at their start. */
typedef MediaProgressStatus (*MediaProgressFunc)(const MediaProgressInfo *info, void *user);

/* The reporting path. A NULL MediaProgress* is valid everywhere and reports nothing (--quiet).
 * BYTES messages are rate-limited here (at most ~10 per second and on every percent), so callers
 * may update as often as they like. */
typedef struct MediaProgress MediaProgress;

/* fn is called for every message; user is passed through. Free with media_progress_free. */
MediaProgress *media_progress_new(MediaProgressFunc fn, void *user);
void media_progress_free(MediaProgress *p);

void media_progress_note(MediaProgress *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Start a step of `total` bytes; steps do not nest (a new BEGIN ends the previous step). */
void media_progress_begin(MediaProgress *p, guint64 total, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* FALSE once the callback asked to stop (then the caller unwinds). */
gboolean media_progress_update(MediaProgress *p, guint64 done);
/* The step's size became known (or changed). */
void media_progress_total(MediaProgress *p, guint64 total);
void media_progress_end(MediaProgress *p);

/* Whether the callback asked to stop, at any message so far (never for a NULL p). */
gboolean media_progress_cancelled(MediaProgress *p);
/* FALSE with MEDIA_ERROR_CANCELLED "<subject>: cancelled" once the callback asked to stop,
 * replacing whatever error the unwinding produced; TRUE otherwise. Commands call it between
 * steps, before anything is renamed into place, and on their way out. */
gboolean media_progress_check(MediaProgress *p, const char *subject, GError **error);

#endif
