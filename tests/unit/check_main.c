/* Shared main() of the unit tests: run the file's suite with check's normal output; the exit
 * status says whether every test passed. CK_RUN_CASE / CK_RUN_SUITE select tests as usual. */
#include "check_main.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(test_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
