/*  test: the tiny assertion helper used by the FP_TEST self-tests.
 *
 *  Each lib/ and runtime/ module ends with `#ifdef FP_TEST ... void fp_x_test(void)`.
 *  FP_CHECK records one TAP-style check; the runner (tests/unit/run.c)
 *  prints one `ok`/`not ok` line per module and the totals.
 */
#ifndef FP_TEST_H
#define FP_TEST_H

#include <stdio.h>

extern int fp_test_checks;      /*  checks run in the current module  */
extern int fp_test_failures;    /*  checks failed in the current module  */

#define FP_CHECK(cond, what) do {                                       \
        fp_test_checks++;                                               \
        if (!(cond)) {                                                  \
            fp_test_failures++;                                         \
            printf("#   FAILED %s:%d: %s (%s)\n",                       \
                   __FILE__, __LINE__, what, #cond);                    \
        }                                                               \
    } while (0)

/*  The self-tests, one per module, run by tests/unit/run.c.  */
void fp_mem_test(void);
void fp_log_test(void);
void fp_buf_test(void);
void fp_conf_test(void);
void fp_json_test(void);
void fp_cursor_test(void);
void fp_event_test(void);
void fp_ring_test(void);
void fp_sse_test(void);
void fp_utf8_test(void);
void fp_jscan_test(void);
void fp_loop_test(void);
void fp_sendq_test(void);
void fp_fcgi_record_test(void);
void fp_fcgi_parse_test(void);
void fp_fcgi_conn_test(void);
void fp_fcgi_accept_test(void);
void fp_fcgi_gather_test(void);
void fp_responder_test(void);
void fp_sockauth_test(void);
void fp_sig_test(void);
void fp_listen_test(void);
void fp_blob_test(void);
void fp_fcgi_req_test(void);
void fp_http_test(void);
void fp_rights_test(void);
void fp_mercure_topic_test(void);
void fp_access_test(void);
void fp_error_test(void);
void fp_rate_test(void);
void fp_pusher_test(void);
void fp_pusher_msg_test(void);
void fp_statsgate_test(void);
void fp_wal_test(void);
void fp_args_test(void);
void fp_hub_test(void);
void fp_lg_parse_test(void);    /*  bench/lg_parse.c (loadgen)  */

#endif
