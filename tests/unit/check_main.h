/* The one main() of the unit tests (check_main.c): each test file defines test_suite(). */
#ifndef AERO_TEST_CHECK_MAIN_H
#define AERO_TEST_CHECK_MAIN_H

#include <check.h>

Suite *test_suite(void);

#endif
