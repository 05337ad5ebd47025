/*  The unit test runner: runs each common/ module's self-test (compiled
 *  with -DFP_TEST) and prints TAP.  `fp-unit -t NAME` runs one module (plan 1..1, test
 *  number 1); an unknown NAME or argument is an error (status 2).  The
 *  last line, not TAP, is "N passed, N failed".  */
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
    { "sig", fp_sig_test },
    { "listen", fp_listen_test },
    { "loop", fp_loop_test },
    { "sendq", fp_sendq_test },
    { "blob", fp_blob_test },
    { "fcgi_record", fp_fcgi_record_test },
    { "fcgi_parse", fp_fcgi_parse_test },
    { "fcgi_req", fp_fcgi_req_test },
    { "fcgi_conn", fp_fcgi_conn_test },
    { "fcgi_accept", fp_fcgi_accept_test },
    { "fcgi_gather", fp_fcgi_gather_test },
    { "http", fp_http_test },
    { "rights", fp_rights_test },
    { "mercure_topic", fp_mercure_topic_test },
    { "access", fp_access_test },
    { "error", fp_error_test },
    { "rate", fp_rate_test },
    { "pusher", fp_pusher_test },
    { "pusher_msg", fp_pusher_msg_test },
    { "statsgate", fp_statsgate_test },
    { "wal", fp_wal_test },
    { "args", fp_args_test },
    { "hub", fp_hub_test },
    { "responder", fp_responder_test },
    { "sockauth", fp_sockauth_test },
    { "lg_parse", fp_lg_parse_test },
};

static void
s_usage(FILE *f)
{
    fprintf(f, "usage: fp-unit [-t NAME]\n"
            "Runs every module's self-test (or only NAME's) and prints TAP.\n"
            "NAME is one of:");
    for (size_t i = 0; i < sizeof s_tests / sizeof s_tests[0]; i++)
        fprintf(f, " %s", s_tests[i].name);
    fprintf(f, "\n");
}

int
main(int argc, char **argv)
{
    int n = (int) (sizeof s_tests / sizeof s_tests[0]);
    int first = 0, last = n;            /*  the tests to run: [first, last)  */

    if (argc == 2 && (strcmp(argv[1], "-h") == 0
                      || strcmp(argv[1], "--help") == 0)) {
        s_usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "-t") == 0) {
        for (first = 0; first < n; first++)
            if (strcmp(argv[2], s_tests[first].name) == 0)
                break;
        if (first == n) {
            fprintf(stderr, "fp-unit: no test named '%s'\n", argv[2]);
            s_usage(stderr);
            return 2;
        }
        last = first + 1;
    } else if (argc != 1) {
        s_usage(stderr);
        return 2;
    }

    int passed = 0, failed = 0, checks = 0;
    printf("1..%d\n", last - first);
    for (int i = first; i < last; i++) {
        int num = i - first + 1;        /*  TAP numbers follow the plan  */
        fp_test_checks = fp_test_failures = 0;
        s_tests[i].fn();
        checks += fp_test_checks;
        if (fp_test_failures == 0 && fp_test_checks > 0) {
            printf("ok %d - %s (%d checks)\n", num, s_tests[i].name,
                   fp_test_checks);
            passed++;
        } else if (fp_test_checks == 0) {
            printf("not ok %d - %s (ran no checks)\n", num, s_tests[i].name);
            failed++;
        } else {
            printf("not ok %d - %s (%d of %d checks failed)\n", num,
                   s_tests[i].name, fp_test_failures, fp_test_checks);
            failed++;
        }
        fflush(stdout);
    }
    printf("# %d checks\n%d passed, %d failed\n", checks, passed, failed);
    return failed ? 1 : 0;
}
