/*  cursor: the position "EPOCH-SEQ" shared by every transport.
 *
 *  SEQ is the broker-wide, strictly increasing event number (decimal, no
 *  leading zeros, at most 2^63-1).  EPOCH names the history SEQ belongs to:
 *  1 to 32 characters of [0-9a-z]; it changes when history is lost.  The
 *  cursor of an event is its SSE `id:`, the poll `cursor` and the WebSocket
 *  `since`.  "EPOCH-0" is the start of an epoch.
 */
#ifndef FP_CURSOR_H
#define FP_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_EPOCH_MAX 32
#define FP_CURSOR_LEN (FP_EPOCH_MAX + 1 + 20 + 1)   /*  with the NUL  */
#define FP_SEQ_MAX INT64_MAX

typedef struct {
    char epoch[FP_EPOCH_MAX + 1];
    uint64_t seq;
} fp_cursor_t;

/*  Parse "EPOCH-SEQ".  Returns 0, or -1 with a reason in err (FP_ERR_LEN
 *  bytes) for anything else: empty parts, other characters, leading zeros,
 *  overflow, trailing bytes.  */
int fp_cursor_parse(const char *s, fp_cursor_t *c, char *err);

/*  Write "EPOCH-SEQ" into out (FP_CURSOR_LEN bytes).  */
void fp_cursor_format(const char *epoch, uint64_t seq, char *out);

/*  True if s is a valid epoch name.  */
bool fp_epoch_valid(const char *s);

/*  Make a new epoch name (12 characters: time in base 36 then random), so
 *  later epochs usually sort after earlier ones.  out: FP_EPOCH_MAX+1.  */
void fp_epoch_generate(char *out);

/*  Parse a non-negative decimal SEQ (no sign, no leading zeros, at most
 *  FP_SEQ_MAX) of exactly `len` bytes.  0 on success.  */
int fp_seq_parse(const char *s, size_t len, uint64_t *out);

#endif
