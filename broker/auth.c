/*  auth: who may publish, and how fast.
 *
 *  publish-token: every PUBLISH on the control socket and every ingest
 *  message must end with a frame holding the token (docs/protocol.md);
 *  a request that carries a token frame must carry the right one.
 *  publish-rate: a token bucket per publisher connection (the ROUTER's
 *  routing id, the PULL connection's descriptor), rate events a second
 *  with the same burst.  CURVE is applied to the sockets in main.c.
 */
#include "broker.h"
#include "clock.h"
#include "mem.h"
#include "rate.h"

#include <stdio.h>
#include <stdlib.h>

bool
broker_auth_token(broker_t *b, zframe_t *token, bool publish)
{
    const char *want = b->conf.publish_token;
    if (!want || !*want)
        return true;
    if (!token)
        return !publish;
    return fp_sockauth_token_ok(want, zframe_data(token), zframe_size(token));
}

bool
broker_auth_rate(broker_t *b, const char *key)
{
    if (b->conf.publish_rate <= 0)
        return true;
    if (!b->rates) {
        b->rates = zhashx_new();
        zhashx_set_destructor(b->rates, (zhashx_destructor_fn *) zstr_free);
    }
    fp_rate_t *k = zhashx_lookup(b->rates, key);
    if (!k) {
        k = fp_calloc(1, sizeof *k);
        zhashx_insert(b->rates, key, k);
    }
    return fp_rate_take(k, b->conf.publish_rate, fp_clock_ms());
}

/*  Forget publishers whose budget is full again.  */
void
broker_auth_tick(broker_t *b)
{
    if (!b->rates)
        return;
    int64_t now = fp_clock_ms();
    zlistx_t *keys = zhashx_keys(b->rates);
    for (const char *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        fp_rate_t *k = zhashx_lookup(b->rates, key);
        if (k && fp_rate_full(k, b->conf.publish_rate, now))
            zhashx_delete(b->rates, key);
    }
    zlistx_destroy(&keys);
}
