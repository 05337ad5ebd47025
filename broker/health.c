/*  health: is this broker ready to take events (PING, heartbeats,
 *  `fastpush health`)?
 *
 *  A broker that answers is live.  It is ready when an event published
 *  now can be stored: the local engine's store took its last write and
 *  fsync (or there is no store), and under engine jetstream the NATS
 *  connection is up and its feed is not stuck behind the stream (lag).
 *  Otherwise each reason is one line for people.
 */
#include "broker.h"

#include <stdio.h>

/*  The first reason this broker is not ready into why (FP_ERR_LEN bytes,
 *  the caller's); returns the number of reasons, 0 when ready.  */
int
broker_health_check(const broker_t *b, char *why)
{
    int n = 0;
    const char *p = b->store ? broker_store_problem(b->store) : NULL;

    why[0] = '\0';
    if (p) {
        snprintf(why, FP_ERR_LEN, "%s", p);
        n++;
    }
    if (b->js && !broker_js_connected(b)) {
        if (n == 0)
            snprintf(why, FP_ERR_LEN, "NATS is not reachable (%s)",
                     b->conf.nats_url);
        n++;
    }
    uint64_t lag = b->js ? broker_js_stalled(b) : 0;
    if (lag > 0) {
        if (n == 0)
            snprintf(why, FP_ERR_LEN, "the stream's feed has stood still for "
                     "2 s or more, %llu events behind the stream",
                     (unsigned long long) lag);
        n++;
    }
    return n;
}
