/*  fanout: the XPUB socket.
 *
 *  Every event goes out as two frames, "channel\0" and the event JSON, so
 *  a SUB subscribed to "news\0" never receives "newsletter".  Besides
 *  events the broker sends three kinds of marks, told apart by their first
 *  JSON member:
 *
 *  - heartbeat, on topic "\0", every `heartbeat` ms: epoch and head SEQ,
 *    so subscribers can tell a dead broker from a quiet one;
 *  - sync, on "channel\0", as soon as a subscription to it arrives: the
 *    channel's newest SEQ.  XPUB applies the subscription before the
 *    broker reads it, so everything after the sync reaches the new
 *    subscriber: its feed is complete from `last` on;
 *  - beacon, like sync, each tick for channels active in the last three
 *    heartbeats: a subscriber whose last SEQ on the channel is lower lost
 *    the tail to a high-water mark and backfills with SINCE.
 *
 *  XPUB_VERBOSER passes every subscribe and unsubscribe (also those libzmq
 *  makes for a subscriber that goes away), so the counts per channel hold.
 */
#include "broker.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "mem.h"

#include <string.h>

static void
s_send(broker_t *b, const char *channel, const char *body, size_t len)
{
    char topic[FP_CHANNEL_MAX + 1];
    size_t tlen = strlen(channel);
    void *sock = zsock_resolve(b->xpub);

    memcpy(topic, channel, tlen);
    topic[tlen] = '\0';
    if (zmq_send(sock, topic, tlen + 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(sock, body, len, ZMQ_DONTWAIT);
}

static void
s_mark_active(broker_t *b, chan_t *c, int64_t now)
{
    c->active_until = now + 3 * (int64_t) b->conf.heartbeat;
    if (c->in_active)
        return;
    if (b->active_len == b->active_cap) {
        b->active_cap = b->active_cap ? b->active_cap * 2 : 64;
        b->active = fp_realloc(b->active, b->active_cap * sizeof *b->active);
    }
    b->active[b->active_len++] = c;
    c->in_active = true;
}

void
broker_fanout_event(broker_t *b, chan_t *c, fp_event_t *ev)
{
    if (c->subscribers > 0 || b->other_subscribers > 0)
        s_send(b, c->name, ev->json, ev->json_len);
    if (c->subscribers > 0)
        s_mark_active(b, c, ev->ts);
    if (b->webhook)
        broker_webhook_event(b, ev);
}

/*  A sync or beacon mark for one channel.  */
static void
s_mark(broker_t *b, chan_t *c, const char *kind)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"sync\":\"%s\",\"epoch\":\"%s\","
                     "\"channel\":\"%s\",\"last\":%llu,\"head\":%llu,"
                     "\"ts\":%lld}", kind, b->epoch, c->name,
                     (unsigned long long) c->last_seq,
                     (unsigned long long) b->seq,
                     (long long) fp_clock_wall_ms());
    s_send(b, c->name, body, (size_t) n);
}

void
broker_fanout_heartbeat(broker_t *b)
{
    char body[256], why[FP_ERR_LEN];
    bool ready = broker_health_check(b, why) == 0;
    int n = snprintf(body, sizeof body, "{\"heartbeat\":true,\"epoch\":\"%s\","
                     "\"head\":%llu,\"ts\":%lld,\"interval\":%llu,"
                     "\"ready\":%s}", b->epoch,
                     (unsigned long long) b->seq, (long long) fp_clock_wall_ms(),
                     (unsigned long long) b->conf.heartbeat,
                     ready ? "true" : "false");
    s_send(b, "", body, (size_t) n);
}

static void
s_subscription(broker_t *b, const char *topic, size_t len, bool on)
{
    char name[FP_CHANNEL_MAX + 1], err[FP_ERR_LEN];

    if (len == 1 && topic[0] == '\0') {
        if (on)
            broker_fanout_heartbeat(b);
        return;
    }
    if (len < 2 || len > FP_CHANNEL_MAX + 1 || topic[len - 1] != '\0' ||
        !fp_channel_valid(topic, len - 1)) {
        b->other_subscribers += on ? 1 : -1;
        if (b->other_subscribers < 0)
            b->other_subscribers = 0;
        return;
    }
    memcpy(name, topic, len);
    chan_t *c = on ? broker_chan_require(b, name, err)
                   : broker_chan_get(b, name);
    if (!c) {
        if (on)
            fp_log_warnx("subscription to '%s' not counted: %s", name, err);
        return;
    }
    if (on) {
        if (c->subscribers++ == 0)
            broker_webhook_channel(b, c, true);
        s_mark(b, c, "subscribe");
    } else if (c->subscribers > 0) {
        if (--c->subscribers == 0)
            broker_webhook_channel(b, c, false);
    }
}

int
broker_on_xpub(zloop_t *loop, zsock_t *sock, void *arg)
{
    broker_t *b = arg;
    void *raw = zsock_resolve(sock);
    zmq_msg_t msg;

    zmq_msg_init(&msg);
    for (int i = 0; i < 1024; i++) {
        if (zmq_msg_recv(&msg, raw, ZMQ_DONTWAIT) < 0)
            break;
        const char *d = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg);
        if (len >= 1 && (d[0] == 0 || d[0] == 1)) {
            s_subscription(b, d + 1, len - 1, d[0] == 1);
            if (d[0] == 1)
                b->stats.subscribes++;
            else
                b->stats.unsubscribes++;
        }
    }
    zmq_msg_close(&msg);
    return 0;
}

/*  Beacons for recently active channels; drop the ones gone quiet.  */
static void
s_beacons(broker_t *b, int64_t now)
{
    for (size_t i = 0; i < b->active_len;) {
        chan_t *c = b->active[i];
        if (now >= c->active_until || c->subscribers == 0) {
            c->in_active = false;
            b->active[i] = b->active[--b->active_len];
            continue;
        }
        s_mark(b, c, "beacon");
        i++;
    }
}

int
broker_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    broker_t *b = arg;
    int64_t now = fp_clock_wall_ms();

    broker_fanout_heartbeat(b);
    s_beacons(b, now);
    broker_history_trim_global(b, now);
    broker_chan_evict_idle(b);
    broker_auth_tick(b);
    broker_control_retry(b);
    broker_presence_expire(b, fp_clock_ms());
    return 0;
}
