/*  utf8: incremental UTF-8 validation (RFC 3629).
 *
 *  Rejects overlong forms, surrogates (U+D800..DFFF) and code points above
 *  U+10FFFF at the first byte that makes the input invalid, so a caller
 *  reading a stream can fail fast (WebSocket text frames, Autobahn 6.x).
 *  The state carries a partial sequence across calls (fragments).
 */
#ifndef FP_UTF8_H
#define FP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t need;               /*  continuation bytes still expected  */
    uint8_t lo, hi;             /*  allowed range of the next one  */
} fp_utf8_t;

/*  Start state (also: zero-initialised).  */
void fp_utf8_init(fp_utf8_t *st);

/*  Feed bytes.  Returns -1 at the first invalid byte (and *bad, if not
 *  NULL, gets its offset), 0 if everything so far is a valid prefix.  */
int fp_utf8_feed(fp_utf8_t *st, const uint8_t *p, size_t n, size_t *bad);

/*  True if the input ended on a character boundary.  */
bool fp_utf8_complete(const fp_utf8_t *st);

/*  Whole-buffer check.  */
bool fp_utf8_valid(const uint8_t *p, size_t n);

#endif
