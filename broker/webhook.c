/*  webhook: the broker's side of the application's webhooks.
 *
 *  The broker knows three things the application may want to hear
 *  about, and says them on the webhook-feed PUSH socket to
 *  fastpush-webhooks (which batches, signs, posts and retries, so the
 *  broker never waits for an HTTP server):
 *
 *      ["occupied", {"channel":C,"ts":T}]   first subscriber (a responder
 *      ["vacated",  {"channel":C,"ts":T}]   process) / last one left
 *      ["event", EVENT]                     member_added, member_removed,
 *                                           and client-* events, as the
 *                                           event's JSON
 *
 *  A subscriber here is a responder process's subscription: a responder
 *  keeps a channel subscribed for its `linger` after its last client
 *  left, so vacated comes that much later.  A full feed (the webhook
 *  process is gone or slow) drops messages, counted in STATS.
 */
#include "broker.h"
#include "clock.h"

#include <stdio.h>
#include <string.h>

static void
s_send(broker_t *b, const char *kind, const char *json, size_t len)
{
    if (zmq_send(zsock_resolve(b->webhook), kind, strlen(kind),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        b->stats.webhook_dropped++;
        return;
    }
    zmq_send(zsock_resolve(b->webhook), json, len, ZMQ_DONTWAIT);
    b->stats.webhook_sent++;
}

void
broker_webhook_channel(broker_t *b, const chan_t *c, bool occupied)
{
    char body[FP_CHANNEL_MAX + 64];
    if (!b->webhook)
        return;
    int n = snprintf(body, sizeof body, "{\"channel\":\"%s\",\"ts\":%lld}",
                     c->name, (long long) fp_clock_wall_ms());
    s_send(b, occupied ? "occupied" : "vacated", body, (size_t) n);
}

void
broker_webhook_event(broker_t *b, const fp_event_t *ev)
{
    if (broker_presence_type(ev->type) ||
        strncmp(ev->type, "client-", 7) == 0)
        s_send(b, "event", ev->json, ev->json_len);
}
