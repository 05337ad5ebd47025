/*  clock: the times fastpush uses.  The one place that reads the system
 *  clocks; everything else calls these helpers.  */
#ifndef FP_CLOCK_H
#define FP_CLOCK_H

#include <stdint.h>
#include <time.h>

/*  Monotonic milliseconds: timeouts, intervals, liveness.  */
static inline int64_t
fp_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  Monotonic nanoseconds: measuring short durations (request timings,
 *  round trips).  */
static inline int64_t
fp_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  Wall-clock milliseconds since 1970: event times, token expiry.  */
static inline int64_t
fp_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
