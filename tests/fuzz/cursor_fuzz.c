/*  libFuzzer target for cursors (lib/cursor.c): fp_cursor_parse,
 *  fp_seq_parse and fp_epoch_valid, as every transport reads them
 *  (Last-Event-ID, ?since=, a WebSocket "since", the broker's SINCE).
 *
 *  Input: the text of a cursor.  Checks: a cursor that parses has a valid
 *  epoch and a SEQ of at most FP_SEQ_MAX, and formatting it gives back
 *  the very same text (one spelling per cursor); fp_seq_parse agrees with
 *  strtoull on what it accepts.
 */
#include "cursor.h"
#include "err.h"
#include "fuzz.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char err[FP_ERR_LEN], out[FP_CURSOR_LEN];
    fp_cursor_t c;
    uint64_t seq;

    if (fp_cursor_parse(s, &c, err) == 0) {
        FUZZ_CHECK(fp_epoch_valid(c.epoch), "epoch of a parsed cursor");
        FUZZ_CHECK(c.seq <= FP_SEQ_MAX, "seq range");
        fp_cursor_format(c.epoch, c.seq, out);
        FUZZ_CHECK(strcmp(out, s) == 0, "format(parse(s)) != s");
    } else {
        FUZZ_CHECK(err[0] != '\0', "refusal without a reason");
    }
    if (fp_seq_parse(s, size, &seq) == 0) {
        FUZZ_CHECK(strlen(s) == size, "seq with a NUL inside");
        FUZZ_CHECK(strtoull(s, NULL, 10) == seq, "seq value");
    }
    (void) fp_epoch_valid(s);
    free(s);
    return 0;
}
