/* Progress reporting (see progress.h): step bookkeeping and rate limiting in one place, so every
 * long step of every command reports the same way. */
#include "progress.h"

#include "error.h"

struct MediaProgress {
    MediaProgressFunc fn;
    void *user;
    char *step;       /* name of the running step, NULL when none */
    guint64 total, done;
    gint64 last_us;   /* monotonic time of the last BYTES message */
    int last_permille;  /* of the last BYTES message */
    gboolean cancelled; /* the callback said MEDIA_PROGRESS_ABORT */
};

MediaProgress *media_progress_new(MediaProgressFunc fn, void *user)
{
    MediaProgress *p = g_new0(MediaProgress, 1);
    p->fn = fn;
    p->user = user;
    return p;
}

void media_progress_free(MediaProgress *p)
{
    if (!p)
        return;
    media_progress_end(p);
    g_free(p);
}

static void emit(MediaProgress *p, MediaProgressMsg msg, const char *text)
{
    MediaProgressInfo info = {msg, text, p->done, p->total};
    if (p->fn(&info, p->user) == MEDIA_PROGRESS_ABORT)
        p->cancelled = TRUE;
}

void media_progress_note(MediaProgress *p, const char *fmt, ...)
{
    if (!p)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    media_progress_end(p);
    emit(p, MEDIA_PROGRESS_NOTE, msg);
}

void media_progress_begin(MediaProgress *p, guint64 total, const char *fmt, ...)
{
    if (!p)
        return;
    media_progress_end(p);
    va_list ap;
    va_start(ap, fmt);
    p->step = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p->total = total;
    p->done = 0;
    p->last_us = g_get_monotonic_time();
    p->last_permille = 0;
    emit(p, MEDIA_PROGRESS_BEGIN, p->step);
}

gboolean media_progress_update(MediaProgress *p, guint64 done)
{
    if (!p || !p->step)
        return !media_progress_cancelled(p);
    p->done = p->total && done > p->total ? p->total : done;
    gint64 now = g_get_monotonic_time();
    int permille = p->total ? (int)(p->done * 1000 / p->total) : 0;
    /* at most one message per 100 ms (plus the one at 100%): cheap for callers in tight loops */
    gboolean finished = permille == 1000 && p->last_permille != 1000;
    if (now - p->last_us < 100000 && !finished)
        return !p->cancelled;
    p->last_us = now;
    p->last_permille = permille;
    emit(p, MEDIA_PROGRESS_BYTES, p->step);
    return !p->cancelled;
}

void media_progress_total(MediaProgress *p, guint64 total)
{
    if (p && p->step)
        p->total = total;
}

void media_progress_end(MediaProgress *p)
{
    if (!p || !p->step)
        return;
    if (p->total && !p->cancelled) /* a stopped step ends where it stopped */
        p->done = p->total;
    emit(p, MEDIA_PROGRESS_END, p->step);
    g_clear_pointer(&p->step, g_free);
}

gboolean media_progress_cancelled(MediaProgress *p)
{
    return p && p->cancelled;
}

gboolean media_progress_check(MediaProgress *p, const char *subject, GError **error)
{
    if (!media_progress_cancelled(p))
        return TRUE;
    g_clear_error(error);
    g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_CANCELLED, "%s: cancelled", subject);
    return FALSE;
}
