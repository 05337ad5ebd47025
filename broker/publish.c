/*  publish: the one path every accepted event takes, from PULL or ROUTER.
 *
 *  Validate, assign SEQ and time, keep in history and keyed state, fan
 *  out.  Everything that can refuse an event is checked before a SEQ is
 *  assigned, so a refused publish leaves no hole in the sequence.
 */
#include "broker.h"
#include "conf.h"
#include "jscan.h"
#include "log.h"

#include <string.h>

#define PULL_BATCH 1024

static fp_log_limit_t s_reject_log;

static int
s_fail(char *code, const char *what)
{
    snprintf(code, 32, "%s", what);
    return -1;
}

static int
s_accept(broker_t *b, const fp_publish_t *p, fp_event_t **out, char *code,
         char *err)
{
    size_t size = p->data_len + strlen(p->channel) + strlen(p->type) +
                  (p->key ? strlen(p->key) : 0);
    if (size > b->conf.max_event_bytes) {
        snprintf(err, FP_ERR_LEN, "event is %zu bytes, the limit is %llu",
                 size, (unsigned long long) b->conf.max_event_bytes);
        return s_fail(code, "too_large");
    }
    chan_t *c = broker_chan_require(b, p->channel, err);
    if (!c)
        return s_fail(code, "channel_limit");
    if (p->key && !broker_chan_key_allowed(b, c, p->key)) {
        snprintf(err, FP_ERR_LEN, "channel '%s' already holds %lld keys",
                 c->name, (long long) b->conf.max_keys);
        return s_fail(code, "key_limit");
    }
    int64_t ts = broker_now_ms();
    if (ts < b->last_ts)
        ts = b->last_ts;
    b->last_ts = ts;
    fp_event_t *ev = fp_event_new(b->epoch, ++b->seq, c->last_seq, ts,
                                  p->channel, p->type, p->key, p->data,
                                  p->data_len);
    c->last_seq = ev->seq;
    c->last_ts = ts;
    c->published++;
    broker_history_push(b, c, ev);
    broker_history_trim(b, c);
    broker_history_trim_global(b, ts);
    if (ev->key)
        broker_chan_set_key(b, c, ev, err);
    broker_fanout_event(b, c, ev);
    b->stats.published++;
    if (out)
        *out = ev;
    else
        fp_event_unref(&ev);
    return 0;
}

int
broker_publish(broker_t *b, const fp_publish_t *p, fp_event_t **out,
               char *code, char *err)
{
    return s_accept(b, p, out, code, err);
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
s_ingest_one(broker_t *b, fp_jscan_t *s)
{
    fp_publish_t p;
    char code[32];
    const char *start = s->p;

    int rc = fp_publish_scan(s, &p, false, s->err);
    if (rc == 0 && s_accept(b, &p, NULL, code, s->err) == 0)
        b->stats.published_pull++;
    else
        s_reject(b, rc == FP_PUBLISH_EJSON ? "invalid_json" :
                 rc ? "invalid_event" : code, s->err);
    fp_publish_clear(&p);
    if (rc == FP_PUBLISH_EEVENT) {
        s->p = start;
        return fp_jscan_value(s, NULL, 0) == 0;
    }
    return rc != FP_PUBLISH_EJSON;
}

/*  One message: an event object, or an array of them (a batch).  */
static void
s_ingest(broker_t *b, const char *text, size_t len)
{
    char err[FP_ERR_LEN];
    fp_jscan_t s;

    fp_jscan_init(&s, text, len, err);
    if (!fp_jscan_accept(&s, '[')) {
        if (s_ingest_one(b, &s) && fp_jscan_end(&s) < 0)
            s_reject(b, "invalid_json", err);
        return;
    }
    if (fp_jscan_accept(&s, ']'))
        return;
    while (s_ingest_one(b, &s)) {
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

/*  Read one PULL message; returns false when none is waiting.  */
static bool
s_pull_one(broker_t *b, void *sock)
{
    zmq_msg_t msg;

    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return false;
    }
    bool more = zmq_msg_more(&msg);
    if (more) {
        s_reject(b, "multipart", "ingest messages must be one frame");
        while (more && zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0)
            more = zmq_msg_more(&msg);
    } else {
        s_ingest(b, zmq_msg_data(&msg), zmq_msg_size(&msg));
    }
    zmq_msg_close(&msg);
    return true;
}

int
broker_on_pull(zloop_t *loop, zsock_t *sock, void *arg)
{
    broker_t *b = arg;
    void *raw = zsock_resolve(sock);
    for (int i = 0; i < PULL_BATCH && s_pull_one(b, raw); i++)
        ;
    return 0;
}
