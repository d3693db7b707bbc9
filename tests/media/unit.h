/* Support for the media parser unit tests: a scratch folder per test for fixtures written from
 * code (never checked-in blobs). Each test file defines test_suite() for the shared main
 * (tests/unit/check_main.c).
 */
#ifndef TESTS_MEDIA_UNIT_H
#define TESTS_MEDIA_UNIT_H

#include "check_main.h"

#include <check.h>
#include <glib.h>

/* The running test's scratch folder (created by unit_setup, removed by unit_teardown). */
extern char *unit_dir;
void unit_setup(void);
void unit_teardown(void);

/* Write len bytes (len < 0: a string) to name in the scratch folder; returns the path (g_free). */
char *unit_write(const char *name, const void *data, gssize len);

/* Assert that error is set, in MEDIA_ERROR with code, and that its one line names `names`. */
#define unit_assert_error(e, want, names)                                                          \
    do {                                                                                           \
        ck_assert_ptr_nonnull(e);                                                                  \
        ck_assert_msg((e)->domain == MEDIA_ERROR && (e)->code == (want),                           \
                      "error %s/%d '%s', wanted code %d", g_quark_to_string((e)->domain),          \
                      (e)->code, (e)->message, (want));                                            \
        ck_assert_msg(strstr((e)->message, (names)) != NULL, "'%s' does not name %s",              \
                      (e)->message, (names));                                                      \
        ck_assert_ptr_null(strchr((e)->message, '\n'));                                            \
    } while (0)

#endif
