/* The error domain (media/error.c) and progress that can stop a run (media/progress.c): what the
 * CLI's SIGINT handling and every command's unwinding rely on.
 */
#include "unit.h"

#include "error.h"
#include "progress.h"

#include <errno.h>
#include <string.h>

typedef struct {
    guint calls, bytes_msgs;
    guint abort_after; /* answer ABORT from this call on (0: never) */
} Seen;

static MediaProgressStatus record(const MediaProgressInfo *info, void *user)
{
    Seen *s = user;
    s->calls++;
    s->bytes_msgs += info->msg == MEDIA_PROGRESS_BYTES;
    return s->abort_after && s->calls >= s->abort_after ? MEDIA_PROGRESS_ABORT
                                                        : MEDIA_PROGRESS_CONTINUE;
}

START_TEST(test_progress_continue_never_cancels)
{
    Seen s = {0};
    MediaProgress *p = media_progress_new(record, &s);
    media_progress_note(p, "note %d", 1);
    media_progress_begin(p, 100, "step");
    ck_assert(media_progress_update(p, 100));
    media_progress_end(p);
    ck_assert(!media_progress_cancelled(p));
    GError *e = NULL;
    ck_assert(media_progress_check(p, "OUT.iso", &e));
    ck_assert_ptr_null(e);
    media_progress_free(p);
    ck_assert_uint_ge(s.calls, 4); /* note, begin, the 100 % bytes, end */
}
END_TEST

START_TEST(test_progress_abort_is_sticky_and_stops_updates)
{
    Seen s = {.abort_after = 2}; /* the note is fine, the step's BEGIN says stop */
    MediaProgress *p = media_progress_new(record, &s);
    media_progress_note(p, "reading");
    ck_assert(!media_progress_cancelled(p));
    media_progress_begin(p, 1000, "copying");
    ck_assert(media_progress_cancelled(p));
    ck_assert(!media_progress_update(p, 1)); /* rate-limited, still FALSE */
    ck_assert(!media_progress_update(p, 1000));
    media_progress_end(p);
    ck_assert(media_progress_cancelled(p));
    media_progress_free(p);
}
END_TEST

START_TEST(test_progress_check_replaces_the_unwinding_error)
{
    Seen s = {.abort_after = 1};
    MediaProgress *p = media_progress_new(record, &s);
    media_progress_note(p, "x");
    GError *e = g_error_new_literal(MEDIA_ERROR, MEDIA_ERROR_IO,
                                    "OUT.iso: cannot write: Operation canceled");
    ck_assert(!media_progress_check(p, "OUT.iso", &e));
    unit_assert_error(e, MEDIA_ERROR_CANCELLED, "OUT.iso");
    ck_assert_str_eq(e->message, "OUT.iso: cancelled");
    g_error_free(e);
    ck_assert(!media_progress_check(p, "OUT.iso", NULL)); /* no error wanted: still FALSE */
    media_progress_free(p);
}
END_TEST

START_TEST(test_progress_null_reports_nothing_and_never_cancels)
{
    media_progress_note(NULL, "x");
    media_progress_begin(NULL, 1, "y");
    ck_assert(media_progress_update(NULL, 1));
    media_progress_end(NULL);
    ck_assert(!media_progress_cancelled(NULL));
    ck_assert(media_progress_check(NULL, "z", NULL));
}
END_TEST

START_TEST(test_progress_bytes_are_rate_limited)
{
    Seen s = {0};
    MediaProgress *p = media_progress_new(record, &s);
    media_progress_begin(p, 1000000, "big");
    for (guint64 i = 1; i < 1000000; i += 10)
        media_progress_update(p, i);
    ck_assert_uint_le(s.bytes_msgs, 20); /* a tight loop: a few, not 100,000 */
    media_progress_update(p, 1000000);
    ck_assert_uint_ge(s.bytes_msgs, 1); /* the 100 % one always */
    media_progress_free(p);
}
END_TEST

/* ---- the error domain -------------------------------------------------------------------------- */

START_TEST(test_error_every_code_has_a_string)
{
    for (int c = MEDIA_ERROR_FAILED; c <= MEDIA_ERROR_CANCELLED; c++) {
        const char *s = media_error_string(c);
        ck_assert(s && *s && strcmp(s, "unknown error") != 0);
    }
    ck_assert_str_eq(media_error_string(0), "unknown error");
    ck_assert_str_eq(media_error_string(9999), "unknown error");
}
END_TEST

START_TEST(test_error_from_errno)
{
    ck_assert_int_eq(media_error_from_errno(ENOENT), MEDIA_ERROR_NOT_FOUND);
    ck_assert_int_eq(media_error_from_errno(EIO), MEDIA_ERROR_IO);
    ck_assert_int_eq(media_error_from_errno(ENOSPC), MEDIA_ERROR_NO_SPACE);
    ck_assert_int_eq(media_error_from_errno(EDQUOT), MEDIA_ERROR_NO_SPACE);
    ck_assert_int_eq(media_error_from_errno(EACCES), MEDIA_ERROR_ACCESS);
    ck_assert_int_eq(media_error_from_errno(EROFS), MEDIA_ERROR_ACCESS);
    ck_assert_int_eq(media_error_from_errno(EISDIR), MEDIA_ERROR_BAD_PATH);
    ck_assert_int_eq(media_error_from_errno(ECANCELED), MEDIA_ERROR_CANCELLED);
    ck_assert_int_eq(media_error_from_errno(EINVAL), MEDIA_ERROR_FAILED);
}
END_TEST

START_TEST(test_error_adopt_keeps_the_message)
{
    GError *e = NULL;
    g_autofree char *data = NULL;
    ck_assert(!g_file_get_contents("/nonexistent/aero-media-unit", &data, NULL, &e));
    g_autofree char *msg = g_strdup(e->message);
    media_error_adopt(&e);
    unit_assert_error(e, MEDIA_ERROR_NOT_FOUND, "/nonexistent/aero-media-unit");
    ck_assert_str_eq(e->message, msg);
    media_error_adopt(&e); /* already ours: unchanged */
    ck_assert_int_eq(e->code, MEDIA_ERROR_NOT_FOUND);
    g_clear_error(&e);
    e = g_error_new_literal(G_MARKUP_ERROR, G_MARKUP_ERROR_PARSE, "x.xml: bad");
    media_error_adopt(&e);
    unit_assert_error(e, MEDIA_ERROR_INVALID, "x.xml");
    g_clear_error(&e);
    media_error_adopt(NULL);
    media_error_adopt(&e); /* no error: nothing */
    ck_assert_ptr_null(e);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *t = tcase_create("progress");
    tcase_add_checked_fixture(t, unit_setup, unit_teardown);
    tcase_add_test(t, test_progress_continue_never_cancels);
    tcase_add_test(t, test_progress_abort_is_sticky_and_stops_updates);
    tcase_add_test(t, test_progress_check_replaces_the_unwinding_error);
    tcase_add_test(t, test_progress_null_reports_nothing_and_never_cancels);
    tcase_add_test(t, test_progress_bytes_are_rate_limited);
    tcase_add_test(t, test_error_every_code_has_a_string);
    tcase_add_test(t, test_error_from_errno);
    tcase_add_test(t, test_error_adopt_keeps_the_message);
    suite_add_tcase(s, t);
    return s;
}
