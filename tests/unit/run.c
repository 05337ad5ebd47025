/*  The unit test runner: runs each common/ module's self-test (compiled
 *  with -DFP_TEST) and prints TAP.  `fp-unit -t NAME` runs one module.  */
#include <stdio.h>
#include <string.h>

#include "test.h"

int fp_test_checks;
int fp_test_failures;


static const struct {
    const char *name;
    void (*fn)(void);
} s_tests[] = {
    { "mem", fp_mem_test },
    { "log", fp_log_test },
    { "buf", fp_buf_test },
    { "conf", fp_conf_test },
    { "json", fp_json_test },
    { "cursor", fp_cursor_test },
    { "event", fp_event_test },
    { "ring", fp_ring_test },
    { "sse", fp_sse_test },
    { "utf8", fp_utf8_test },
    { "jscan", fp_jscan_test },
    { "loop", fp_loop_test },
    { "sendq", fp_sendq_test },
    { "fcgi_record", fp_fcgi_record_test },
    { "http", fp_http_test },
    { "rights", fp_rights_test },
    { "access", fp_access_test },
    { "error", fp_error_test },
    { "rate", fp_rate_test },
    { "wal", fp_wal_test },
    { "args", fp_args_test },
    { "lg_parse", fp_lg_parse_test },
};

int
main(int argc, char **argv)
{
    const char *only = argc == 3 && strcmp(argv[1], "-t") == 0 ? argv[2]
                                                                : NULL;
    int n = (int) (sizeof s_tests / sizeof s_tests[0]);
    int passed = 0, failed = 0, checks = 0;

    printf("1..%d\n", only ? 1 : n);
    for (int i = 0; i < n; i++) {
        if (only && strcmp(only, s_tests[i].name) != 0)
            continue;
        fp_test_checks = fp_test_failures = 0;
        s_tests[i].fn();
        checks += fp_test_checks;
        if (fp_test_failures == 0 && fp_test_checks > 0) {
            printf("ok %d - %s (%d checks)\n", i + 1, s_tests[i].name,
                   fp_test_checks);
            passed++;
        } else {
            printf("not ok %d - %s (%d of %d checks failed)\n", i + 1,
                   s_tests[i].name, fp_test_failures, fp_test_checks);
            failed++;
        }
    }
    printf("# %d checks\n%d passed, %d failed\n", checks, passed, failed);
    return failed ? 1 : 0;
}
