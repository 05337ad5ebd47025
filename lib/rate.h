/*  rate: a token bucket, the one rate limit every program uses
 *  (per-connection message rates, per-user and per-publisher publish
 *  rates).  `rate` tokens a second, a burst of the same; time is
 *  monotonic milliseconds.  A zeroed bucket is full.  */
#ifndef FP_RATE_H
#define FP_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t tokens;             /*  x1000  */
    int64_t at;                 /*  last refill (ms), 0 = never used  */
} fp_rate_t;

/*  Take one token; false (nothing taken) when the bucket is empty.  A
 *  rate of 0 or less never limits.  */
bool fp_rate_take(fp_rate_t *r, int64_t rate, int64_t now);

/*  True if the bucket is full again at `now` (it may be forgotten).  */
bool fp_rate_full(const fp_rate_t *r, int64_t rate, int64_t now);

#endif
