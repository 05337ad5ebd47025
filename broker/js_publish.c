/*  js_publish: publishing to the stream and answering it (js.h).
 *
 *  A checked publish goes to PREFIX.e.<channel> with an asynchronous
 *  JetStream publish (many in flight at once) and the id
 *  "<process id>.<ticket>" in the header Fastpush-Id (not Nats-Msg-Id: a
 *  publish is never sent twice, so JetStream need not keep a duplicate
 *  window, which cost a third of the rate).  The publish waits in a FIFO of
 *  tickets; it is answered when JetStream has acknowledged it and this
 *  broker's feed has reached its SEQ (so the event was already fanned out
 *  here, as with the local engine), or at once when it is refused.  A
 *  PubAck that does not come within nats-ack-wait refuses the publish
 *  with `timeout`: the event may or may not be stored, as with any
 *  request whose answer was lost.  While NATS is unreachable a publish is
 *  refused before it is sent (`engine_unavailable`), so it is never
 *  buffered and stored later behind the publisher's back.
 *
 *  A keyed event this broker published is also copied to the keys stream
 *  (PREFIX.k.<channel>.<key>, one message per subject), from which a
 *  broker that starts reads keys whose event the events stream dropped.
 */
#include "js.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define JS_TOKEN_MAX (3 * FP_CHANNEL_MAX + 1)

const char js_id_header[] = "Fastpush-Id";

static fp_log_limit_t s_refuse_log;

/*  A channel or key as one subject token: bytes other than letters,
 *  digits and _:@=+- become ~XX (a '.' would split the token).  */
void
js_subject_token(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 4 < len; s++) {
        unsigned char c = (unsigned char) *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("_:@=+-", c)) {
            out[o++] = (char) c;
        } else {
            out[o++] = '~';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/*  ------------------------------------------------------- the FIFO  */

static js_pending_t *
s_at(broker_js_t *js, size_t i)
{
    return &js->pend[(js->pend_first + i) % js->pend_cap];
}

static js_pending_t *
s_push(broker_js_t *js)
{
    if (js->pend_len == js->pend_cap) {
        size_t cap = js->pend_cap ? js->pend_cap * 2 : 1024;
        js_pending_t *n = fp_malloc(cap * sizeof *n);
        for (size_t i = 0; i < js->pend_len; i++)
            n[i] = *s_at(js, i);
        free(js->pend);
        js->pend = n;
        js->pend_cap = cap;
        js->pend_first = 0;
    }
    js_pending_t *e = s_at(js, js->pend_len++);
    memset(e, 0, sizeof *e);
    return e;
}

/*  The waiting publish of `ticket`, or NULL (answered already).  */
static js_pending_t *
s_find(broker_js_t *js, uint64_t ticket)
{
    if (js->pend_len == 0)
        return NULL;
    uint64_t head = s_at(js, 0)->ticket;
    if (ticket < head || ticket - head >= js->pend_len)
        return NULL;
    return s_at(js, (size_t) (ticket - head));
}

/*  ------------------------------------------------------- publish  */

/*  One asynchronous publish of data to subject with id in js_id_header;
 *  the message is libnats's once sent.  */
static natsStatus
s_send(broker_js_t *js, const char *subject, const char *id,
       const char *data, size_t len, jsPubOptions *po)
{
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int) len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, js_id_header, id);
    if (s == NATS_OK)
        s = js_PublishMsgAsync(js->ctx, &m, po);
    natsMsg_Destroy(m);
    return s;
}

int
broker_js_publish(broker_t *b, const fp_publish_t *p,
                  struct broker_reply *held, char *code, char *err)
{
    broker_js_t *js = b->js;
    char token[JS_TOKEN_MAX], subject[JS_TOKEN_MAX + 64], id[64];
    jsPubOptions po;
    fp_buf_t body;

    if (!atomic_load(&js->connected)) {
        snprintf(err, FP_ERR_LEN, "NATS is not reachable (%s); nothing was "
                 "stored", b->conf.nats_url);
        return broker_fail(code, "engine_unavailable");
    }
    js_subject_token(p->channel, token, sizeof token);
    snprintf(subject, sizeof subject, "%s%s", js->subj_e, token);
    uint64_t ticket = js->next_ticket;
    snprintf(id, sizeof id, "%s.%llu", js->id, (unsigned long long) ticket);
    fp_buf_init(&body);
    fp_publish_append(&body, p);
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t) b->conf.nats_ack_wait;
    natsStatus s = s_send(js, subject, id, body.data, body.len, &po);
    fp_buf_free(&body);
    if (s != NATS_OK) {
        snprintf(err, FP_ERR_LEN, "NATS refused the publish: %s",
                 natsStatus_GetText(s));
        return broker_fail(code, "engine_unavailable");
    }
    js->next_ticket++;
    js_pending_t *e = s_push(js);
    e->ticket = ticket;
    e->held = held;
    e->since = fp_clock_ms();
    snprintf(e->channel, sizeof e->channel, "%s", p->channel);
    return 0;
}

/*  The PubAck callback (a libnats thread): post the outcome.  */
void
js_publish_on_ack(jsCtx *ctx, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                  void *closure)
{
    broker_js_t *js = closure;
    const char *id = NULL, *dot;
    js_item_t *it = js_item_new(JS_ITEM_ACK);

    if (natsMsgHeader_Get(msg, js_id_header, &id) == NATS_OK && id &&
        (dot = strrchr(id, '.')) && dot[1] != 'k')
        it->ticket = strtoull(dot + 1, NULL, 10);
    if (pa) {
        it->seq = pa->Sequence;
    } else {
        natsStatus st = pae ? pae->Err : NATS_ERR;
        snprintf(it->code, sizeof it->code, "%s",
                 st == NATS_TIMEOUT ? "timeout" : "engine_unavailable");
        snprintf(it->err, sizeof it->err, "JetStream %s: %s",
                 st == NATS_TIMEOUT ? "did not acknowledge in time (the "
                 "event may or may not be stored)" : "refused the event",
                 pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(st));
    }
    natsMsg_Destroy(msg);
    js_post(js, it);
}

void
js_publish_ack(broker_js_t *js, js_item_t *it)
{
    if (it->ticket == 0) {
        if (it->code[0] && fp_log_limit_ok(&s_refuse_log))
            fp_log_warnx("jetstream: key copy not stored: %s", it->err);
        js->copies += it->code[0] == '\0';
        return;
    }
    js_pending_t *e = s_find(js, it->ticket);
    if (!e || e->state != 0)
        return;
    e->state = it->code[0] ? -1 : 1;
    e->seq = it->seq;
    e->since = fp_clock_ms();
    snprintf(e->code, sizeof e->code, "%s", it->code);
    snprintf(e->err, sizeof e->err, "%s", it->err);
}

/*  Is the head publish due: refused, or stored and reached by the feed
 *  (or stored for longer than nats-ack-wait: the feed is behind, and the
 *  event is safe in the stream)?  A PubAck that never comes is a
 *  timeout once twice the wait has passed.  */
static bool
s_due(broker_js_t *js, js_pending_t *e, int64_t now)
{
    int64_t wait = (int64_t) js->b->conf.nats_ack_wait;
    if (e->state == 0 && now - e->since > 2 * wait) {
        e->state = -1;
        snprintf(e->code, sizeof e->code, "timeout");
        snprintf(e->err, sizeof e->err, "no answer from JetStream (the "
                 "event may or may not be stored)");
    }
    if (e->state == 0)
        return false;
    return e->state < 0 || e->seq <= js->b->seq || now - e->since > wait;
}

static void
s_answer(broker_js_t *js, js_pending_t *e)
{
    broker_t *b = js->b;
    if (e->state > 0) {
        js->acks++;
    } else {
        js->refused++;
        b->stats.rejected++;
        if (fp_log_limit_ok(&s_refuse_log))
            fp_log_warnx("%s: event refused (%s): %s", e->held ? "control" : "ingest",
                         e->code, e->err);
    }
    if (e->held)
        broker_control_answer(b, e->held, e->state > 0 ? 0 : -1, e->seq,
                              e->channel, e->code, e->err);
}

void
js_publish_release(broker_js_t *js)
{
    int64_t now = fp_clock_ms();
    while (js->pend_len > 0 && s_due(js, s_at(js, 0), now)) {
        s_answer(js, s_at(js, 0));
        js->pend_first = (js->pend_first + 1) % js->pend_cap;
        js->pend_len--;
    }
}

/*  Copy ev (keyed, published here) to the keys stream.  */
void
js_publish_key_copy(broker_js_t *js, const fp_event_t *ev)
{
    char ctok[JS_TOKEN_MAX], ktok[JS_TOKEN_MAX], id[64];
    char subject[2 * JS_TOKEN_MAX + 64];
    jsPubOptions po;

    js_subject_token(ev->channel, ctok, sizeof ctok);
    js_subject_token(ev->key, ktok, sizeof ktok);
    snprintf(subject, sizeof subject, "%s%s.%s", js->subj_k, ctok, ktok);
    snprintf(id, sizeof id, "%s.k%llu", js->id, (unsigned long long) ev->seq);
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t) js->b->conf.nats_ack_wait;
    if (s_send(js, subject, id, ev->json, ev->json_len, &po) != NATS_OK &&
        fp_log_limit_ok(&s_refuse_log))
        fp_log_warnx("jetstream: key copy of SEQ %llu not sent",
                     (unsigned long long) ev->seq);
}

/*  Shutdown: the publishes still waiting get no answer.  */
void
js_publish_free(broker_js_t *js)
{
    for (size_t i = 0; i < js->pend_len; i++)
        if (s_at(js, i)->held)
            broker_control_drop(s_at(js, i)->held);
    free(js->pend);
    js->pend = NULL;
    js->pend_len = js->pend_cap = 0;
}
