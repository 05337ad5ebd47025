/*  libFuzzer target for the strict JSON scanner (lib/jscan.c,
 *  fp_jscan_compact), which checks and compacts the "data" of every
 *  publish and the "ref" of WebSocket messages.
 *
 *  Input: any bytes.  Checks: what the scanner accepts jansson accepts
 *  too (numbers past jansson's range aside), with the same value before
 *  and after compacting, and compacting it again changes nothing.
 */
#include "buf.h"
#include "err.h"
#include "jscan.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FP_ERR_LEN];
    fp_buf_t out, again;
    fp_buf_init(&out);
    fp_buf_init(&again);

    if (fp_jscan_compact((const char *) data, size, &out, err) == 0) {
        bool range_a, range_b;
        json_t *a = fuzz_json(out.data, out.len, &range_a);
        json_t *b = fuzz_json((const char *) data, size, &range_b);
        FUZZ_CHECK(a || range_a, "compact output is not JSON");
        FUZZ_CHECK(b || range_b, "scanner accepted what jansson refuses");
        FUZZ_CHECK(!a == !b && (!a || json_equal(a, b)),
                   "compacting changed the value");
        json_decref(a);
        json_decref(b);
        FUZZ_CHECK(fp_jscan_compact(out.data, out.len, &again, err) == 0 &&
                   again.len == out.len &&
                   memcmp(again.data, out.data, out.len) == 0,
                   "compact is not idempotent");
    }
    fp_buf_free(&out);
    fp_buf_free(&again);
    return 0;
}
