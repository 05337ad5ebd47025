/*  publish: the one path every accepted event takes, from PULL or ROUTER.
 *
 *  Validate, assign SEQ and time, then stage: the event goes to the
 *  store's batch buffer (when there is a store) and to b->staged.  At the
 *  end of each reader callback -- and before any other ROUTER request is
 *  answered -- broker_publish_flush settles the batch: the store writes
 *  it (and fsyncs it under store-fsync always: group commit), and only
 *  then is each event kept in history and keyed state and fanned out; the
 *  ROUTER acknowledgements follow (control.c).  If the store fails, the
 *  whole batch is refused (store_failed) and its SEQs are taken back.
 *
 *  Everything else that can refuse an event is checked before a SEQ is
 *  assigned, so a refused publish leaves no hole in the sequence.
 *
 *  With engine jetstream the checked publish goes to the stream instead
 *  (js_publish.c), which assigns the SEQ; it comes back through the feed
 *  (js_feed.c), which keeps and fans it out with broker_publish_keep and
 *  broker_fanout_event as s_commit does here.
 */
#include "broker.h"
#include "clock.h"
#include "conf.h"
#include "jscan.h"
#include "log.h"
#include "mem.h"

#include <string.h>

#define PULL_BATCH 1024

static fp_log_limit_t s_reject_log;

/*  Add ev (the caller's reference) to the open batch.  */
static void
s_stage(broker_t *b, chan_t *c, fp_event_t *ev, bool pull)
{
    if (b->staged_len == b->staged_cap) {
        b->staged_cap = b->staged_cap ? b->staged_cap * 2 : 256;
        b->staged = fp_realloc(b->staged, b->staged_cap * sizeof *b->staged);
    }
    bool new_key = ev->key && !(c->keys && zhashx_lookup(c->keys, ev->key));
    b->staged[b->staged_len++] = (broker_staged_t) { c, ev, pull, new_key };
    c->staged++;
    c->staged_keys += new_key;
    if (b->store)
        broker_store_add(b->store, ev, false);
}

/*  Check p, assign its SEQ and stage it.  *out (if given) gets a
 *  reference to the staged event.  Any type: the broker's own events
 *  come this way (broker_publish_own); publishers' go through s_accept.  */
static int
s_accept_any(broker_t *b, const fp_publish_t *p, bool pull,
             fp_event_t **out, struct broker_reply *held, char *code,
             char *err)
{
    size_t size = p->data_len + strlen(p->channel) + strlen(p->type) +
                  (p->key ? strlen(p->key) : 0);
    if (size > b->conf.max_event_bytes) {
        snprintf(err, FP_ERR_LEN, "event is %zu bytes, the limit is %llu",
                 size, (unsigned long long) b->conf.max_event_bytes);
        return broker_fail(code, "too_large");
    }
    chan_t *c = broker_chan_require(b, p->channel, err);
    if (!c)
        return broker_fail(code, "channel_limit");
    if (p->key && !broker_chan_key_allowed(b, c, p->key)) {
        snprintf(err, FP_ERR_LEN, "channel '%s' already holds %lld keys",
                 c->name, (long long) b->conf.max_keys);
        return broker_fail(code, "key_limit");
    }
    if (b->js)
        return broker_js_publish(b, p, held, code, err);
    int64_t ts = fp_clock_wall_ms();
    if (ts < b->last_ts)
        ts = b->last_ts;
    b->last_ts = ts;
    fp_event_t *ev = fp_event_new(b->epoch, ++b->seq, c->last_seq, ts,
                                  p->channel, p->type, p->key, p->socket_id,
                                  p->data, p->data_len);
    c->last_seq = ev->seq;
    if (out)
        *out = fp_event_ref(ev);
    s_stage(b, c, ev, pull);
    return 0;
}

/*  A publisher's event, from either socket: s_accept_any, except that
 *  publishers may not send the broker's own presence events.  */
static int
s_accept(broker_t *b, const fp_publish_t *p, bool pull, fp_event_t **out,
         struct broker_reply *held, char *code, char *err)
{
    if (broker_presence_type(p->type)) {
        snprintf(err, FP_ERR_LEN, "event type '%s' is the broker's own "
                 "(presence): publishers may not send it", p->type);
        return broker_fail(code, "invalid_event");
    }
    return s_accept_any(b, p, pull, out, held, code, err);
}

/*  An acknowledged publish (ROUTER); see s_accept.  */
int
broker_publish(broker_t *b, const fp_publish_t *p, fp_event_t **out,
               struct broker_reply *held, char *code, char *err)
{
    return s_accept(b, p, false, out, held, code, err);
}

int
broker_publish_own(broker_t *b, const fp_publish_t *p, char *code, char *err)
{
    return s_accept_any(b, p, false, NULL, NULL, code, err);
}

/*  Keep ev in c's history and keyed state (the limits apply).  Shared by
 *  the live path and the replay of the store.  */
void
broker_publish_keep(broker_t *b, chan_t *c, fp_event_t *ev)
{
    char err[FP_ERR_LEN];

    c->last_ts = ev->ts;
    broker_history_push(b, c, ev);
    broker_history_trim(b, c);
    broker_history_trim_global(b, ev->ts);
    if (ev->key)
        broker_chan_set_key(b, c, ev, err);
}

/*  The staged event leaves its channel's batch counters.  */
static void
s_unstage(broker_staged_t *s)
{
    s->chan->staged--;
    s->chan->staged_keys -= s->new_key;
}

/*  The batch is durable: keep and fan out every event.  */
static void
s_commit(broker_t *b)
{
    for (size_t i = 0; i < b->staged_len; i++) {
        broker_staged_t *s = &b->staged[i];
        s_unstage(s);
        broker_publish_keep(b, s->chan, s->ev);
        broker_fanout_event(b, s->chan, s->ev);
        s->chan->published++;
        b->stats.published++;
        b->stats.published_pull += s->pull;
        fp_event_unref(&s->ev);
    }
}

/*  The store failed: refuse the batch and take its SEQs back.  */
static void
s_refuse(broker_t *b, const char *err)
{
    size_t n = b->staged_len;
    for (size_t i = n; i-- > 0;) {
        broker_staged_t *s = &b->staged[i];
        s_unstage(s);
        s->chan->last_seq = s->ev->prev;
        b->seq = s->ev->seq - 1;
        fp_event_unref(&s->ev);
    }
    b->stats.rejected += n;
    if (fp_log_limit_ok(&s_reject_log))
        fp_log_warnx("ingest: %zu events refused (store_failed): %s", n,
                     err);
}

/*  Settle the open batch: store, then keep and fan out; or refuse it.
 *  0, or -1 with err when the store failed.  */
int
broker_publish_flush(broker_t *b, char *err)
{
    if (b->staged_len == 0)
        return 0;
    int rc = b->store ? broker_store_flush(b->store, false, err) : 0;
    if (rc == 0)
        s_commit(b);
    else
        s_refuse(b, err);
    b->staged_len = 0;
    return rc;
}

static void
s_reject(broker_t *b, const char *code, const char *err)
{
    b->stats.rejected++;
    if (fp_log_limit_ok(&s_reject_log))
        fp_log_warnx("ingest: event refused (%s): %s", code, err);
}

/*  Validate and accept the object at the scanner; false when the rest of
 *  the text cannot be read any more (invalid JSON).  Errors go to the
 *  scanner's buffer, which outlives this call.  A refused event can stop
 *  the scan inside its object: the scanner then skips the whole value, so
 *  that the next event of a batch is read from its start.  */
static bool
s_ingest_one(broker_t *b, fp_jscan_t *s, const char *rate_key)
{
    fp_publish_t p;
    char code[BROKER_CODE_LEN];
    const char *start = s->p;

    int rc = fp_publish_scan(s, &p, false, s->err);
    if (rc == 0 && !broker_auth_rate(b, rate_key)) {
        b->stats.rate_limited++;
        snprintf(s->err, FP_ERR_LEN, "more than %lld events a second from "
                 "this publisher (publish-rate)",
                 (long long) b->conf.publish_rate);
        s_reject(b, "rate_limited", s->err);
    } else if (rc != 0 || s_accept(b, &p, true, NULL, NULL, code, s->err) < 0) {
        s_reject(b, rc == FP_PUBLISH_EJSON ? "invalid_json" :
                 rc ? "invalid_event" : code, s->err);
    }
    fp_publish_clear(&p);
    if (rc == FP_PUBLISH_EEVENT) {
        s->p = start;
        return fp_jscan_value(s, NULL, 0) == 0;
    }
    return rc != FP_PUBLISH_EJSON;
}

/*  One message: an event object, or an array of them (a batch).  */
static void
s_ingest(broker_t *b, const char *text, size_t len, const char *key)
{
    char err[FP_ERR_LEN];
    fp_jscan_t s;

    fp_jscan_init(&s, text, len, err);
    if (!fp_jscan_accept(&s, '[')) {
        if (s_ingest_one(b, &s, key) && fp_jscan_end(&s) < 0)
            s_reject(b, "invalid_json", err);
        return;
    }
    if (fp_jscan_accept(&s, ']'))
        return;
    while (s_ingest_one(b, &s, key)) {
        if (fp_jscan_accept(&s, ']')) {
            if (fp_jscan_end(&s) < 0)
                s_reject(b, "invalid_json", err);
            return;
        }
        if (fp_jscan_expect(&s, ',') < 0) {
            s_reject(b, "invalid_json", err);
            return;
        }
    }
}

/*  Read one PULL message: BODY, or BODY TOKEN; returns false when none
 *  is waiting.  The publisher's key for publish-rate is its connection
 *  (the descriptor the message came in on).  */
static bool
s_pull_one(broker_t *b, void *sock)
{
    zmq_msg_t msg, tok;
    char key[32];

    zmq_msg_init(&msg);
    zmq_msg_init(&tok);
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        zmq_msg_close(&tok);
        return false;
    }
    key[0] = '\0';
    if (b->conf.publish_rate > 0)
        snprintf(key, sizeof key, "p:%d", zmq_msg_get(&msg, ZMQ_SRCFD));
    bool has_tok = zmq_msg_more(&msg) &&
                   zmq_msg_recv(&tok, sock, ZMQ_DONTWAIT) >= 0;
    bool more = has_tok && zmq_msg_more(&tok);
    if (more) {
        s_reject(b, "multipart", "ingest messages are one frame, or a body "
                 "and a token");
        while (more && zmq_msg_recv(&tok, sock, ZMQ_DONTWAIT) >= 0)
            more = zmq_msg_more(&tok);
    } else if (b->conf.publish_token && *b->conf.publish_token &&
               !(has_tok && fp_sockauth_token_ok(b->conf.publish_token,
                                             zmq_msg_data(&tok),
                                             zmq_msg_size(&tok)))) {
        b->stats.unauthorized++;
        s_reject(b, "unauthorized", has_tok ? "wrong publish token"
                 : "this broker needs its publish token as a second frame");
    } else {
        s_ingest(b, zmq_msg_data(&msg), zmq_msg_size(&msg), key);
    }
    zmq_msg_close(&msg);
    zmq_msg_close(&tok);
    return true;
}

int
broker_on_pull(zloop_t *loop, zsock_t *sock, void *arg)
{
    broker_t *b = arg;
    char err[FP_ERR_LEN];
    void *raw = zsock_resolve(sock);
    for (int i = 0; i < PULL_BATCH && s_pull_one(b, raw); i++)
        ;
    broker_publish_flush(b, err);
    return 0;
}
