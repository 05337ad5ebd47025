/*  js_feed: the stream's messages become the broker's events (js.h).
 *
 *  The feed is an ordered consumer on PREFIX.e.>: libnats delivers the
 *  stream in sequence order, with flow control and idle heartbeats, and
 *  recreates the consumer after a gap.  Each message is a publish object
 *  (fp_publish_append); its stream sequence is the event's SEQ, its
 *  stream time the event's time, and `prev` is the channel's previous
 *  SEQ as this broker saw it.  The event is then kept and fanned out as
 *  in the local engine (broker_publish_keep, broker_fanout_event), so the
 *  responders and the hub see no difference.
 *
 *  A broker that starts reads the keys stream first (the latest value of
 *  every key, also of those whose event the events stream has dropped),
 *  then replays the events stream from its first SEQ.  A stream that was
 *  deleted and made again has another creation time: a new epoch, and
 *  every channel starts over (subscribers get a reset).
 */
#include "js.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define JS_STALL_INFOS 3            /*  stream ahead this many reads: refeed */

static fp_log_limit_t s_bad_log;

static void
s_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
         void *closure)
{
    js_feed_t *f = closure;
    js_item_t *it = js_item_new(JS_ITEM_MSG);
    it->gen = f->gen;
    it->msg = msg;
    js_post(f->js, it);
}

/*  Subscribe the feed from SEQ `from` on, replacing the current one;
 *  messages of the old one still queued are dropped (their generation).  */
int
js_feed_start(broker_js_t *js, uint64_t from, char *err)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    char subject[80];

    if (js->feed) {
        natsSubscription_Unsubscribe(js->feed);
        natsSubscription_Destroy(js->feed);
        js->feed = NULL;
    }
    js_feed_t *f = fp_calloc(1, sizeof *f);
    f->js = js;
    f->gen = atomic_fetch_add(&js->gen, 1) + 1;
    f->next = js->feeds;
    js->feeds = f;
    jsSubOptions_Init(&so);
    so.Stream = js->b->conf.nats_stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from ? from : 1;
    snprintf(subject, sizeof subject, "%s>", js->subj_e);
    natsStatus s = js_Subscribe(&js->feed, js->ctx, subject, s_on_msg, f,
                                NULL, &so, &jerr);
    if (s != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        snprintf(err, FP_ERR_LEN, "cannot subscribe to the stream: %s%s%s "
                 "(jetstream error %d)", natsStatus_GetText(s),
                 last ? ": " : "", last ? last : "", (int) jerr);
        js->feed = NULL;
        return -1;
    }
    return 0;
}

/*  Did this process publish msg (its js_id_header starts with our id)?  */
static bool
s_ours(const broker_js_t *js, natsMsg *msg)
{
    const char *id = NULL;
    size_t n = strlen(js->id);
    return natsMsgHeader_Get(msg, js_id_header, &id) == NATS_OK && id &&
           strncmp(id, js->id, n) == 0 && id[n] == '.';
}

static void
s_bad(broker_js_t *js, uint64_t seq, const char *why)
{
    js->bad_msgs++;
    if (fp_log_limit_ok(&s_bad_log))
        fp_log_warnx("jetstream: stream message %llu skipped: %s",
                     (unsigned long long) seq, why);
}

/*  One stream message, at SEQ seq, stored at ts (ms): an event.  */
static void
s_event(broker_js_t *js, natsMsg *msg, uint64_t seq, int64_t ts)
{
    broker_t *b = js->b;
    char err[FP_ERR_LEN];
    fp_publish_t p;

    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    if (fp_publish_parse(data ? data : "", data ? (size_t) len : 0, &p, false,
                         err) != 0) {
        s_bad(js, seq, err);
        fp_publish_clear(&p);
        return;
    }
    chan_t *c = broker_chan_require(b, p.channel, err);
    if (!c) {
        s_bad(js, seq, err);
        fp_publish_clear(&p);
        return;
    }
    if (ts < b->last_ts)
        ts = b->last_ts;
    b->last_ts = ts;
    fp_event_t *ev = fp_event_new(b->epoch, seq, c->last_seq, ts, p.channel,
                                  p.type, p.key, p.socket_id, p.data,
                                  p.data_len);
    fp_publish_clear(&p);
    c->last_seq = seq;
    broker_publish_keep(b, c, ev);
    broker_fanout_event(b, c, ev);
    c->published++;
    b->stats.published++;
    if (ev->key && s_ours(js, msg))
        js_publish_key_copy(js, ev);
    fp_event_unref(&ev);
}

void
js_feed_msg(broker_js_t *js, js_item_t *it)
{
    broker_t *b = js->b;
    jsMsgMetaData *meta = NULL;

    if (it->gen != atomic_load(&js->gen))
        return;
    if (natsMsg_GetMetaData(&meta, it->msg) != NATS_OK) {
        s_bad(js, 0, "no JetStream metadata");
        return;
    }
    uint64_t seq = meta->Sequence.Stream;
    int64_t ts = meta->Timestamp / 1000000;
    jsMsgMetaData_Destroy(meta);
    js->feed_msgs++;
    if (seq <= b->seq)
        return;
    if (seq > (uint64_t) FP_SEQ_MAX) {
        s_bad(js, seq, "SEQ past 2^63-1");
        return;
    }
    s_event(js, it->msg, seq, ts);
    b->seq = seq;
}

/*  One message of the keys stream: the latest event of a key, kept if it
 *  belongs to this epoch and the events stream no longer holds it.  */
static void
s_key(broker_js_t *js, natsMsg *msg, uint64_t first)
{
    broker_t *b = js->b;
    char err[FP_ERR_LEN];
    const char *data = natsMsg_GetData(msg);
    fp_event_t *ev = data ? fp_event_parse(data,
                                           (size_t) natsMsg_GetDataLength(msg),
                                           err) : NULL;
    if (!ev || !ev->key || strcmp(ev->epoch, b->epoch) != 0 ||
        ev->seq >= first) {
        fp_event_unref(&ev);
        return;
    }
    chan_t *c = broker_chan_require(b, ev->channel, err);
    if (c && broker_chan_set_key(b, c, ev, err) == 0 && ev->seq > c->last_seq)
        c->last_seq = ev->seq;
    fp_event_unref(&ev);
}

/*  Read the whole keys stream (one message per key) before the replay of
 *  the events stream from `first` on.  */
int
js_feed_load_keys(broker_js_t *js, uint64_t first, char *err)
{
    natsSubscription *sub = NULL;
    jsStreamInfo *si = NULL;
    jsSubOptions so;
    char subject[80];
    uint64_t n = 0;

    natsStatus s = js_GetStreamInfo(&si, js->ctx, js->kstream, NULL, NULL);
    uint64_t msgs = s == NATS_OK ? si->State.Msgs : 0;
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
        snprintf(err, FP_ERR_LEN, "cannot read the keys stream %s: %s",
                 js->kstream, natsStatus_GetText(s));
        return -1;
    }
    if (msgs == 0)
        return 0;
    jsSubOptions_Init(&so);
    so.Stream = js->kstream;
    so.Ordered = true;
    snprintf(subject, sizeof subject, "%s>", js->subj_k);
    s = js_SubscribeSync(&sub, js->ctx, subject, NULL, &so, NULL);
    for (bool more = s == NATS_OK; more;) {
        natsMsg *msg = NULL;
        jsMsgMetaData *meta = NULL;
        s = natsSubscription_NextMsg(&msg, sub, 1000);
        if (s != NATS_OK)
            break;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
            more = meta->NumPending > 0;
            jsMsgMetaData_Destroy(meta);
        }
        s_key(js, msg, first);
        natsMsg_Destroy(msg);
        n++;
    }
    if (sub) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    /*  keys trimmed since the count was read end in a timeout  */
    if (s != NATS_OK && s != NATS_TIMEOUT) {
        snprintf(err, FP_ERR_LEN, "cannot read the keys stream %s: %s",
                 js->kstream, natsStatus_GetText(s));
        return -1;
    }
    if (n > 0)
        fp_log_info("jetstream: %llu keys read from %s",
                    (unsigned long long) n, js->kstream);
    return 0;
}

/*  The stream was made again: a new epoch, every channel starts over.  */
static void
s_new_epoch(broker_js_t *js, js_item_t *it)
{
    broker_t *b = js->b;
    char err[FP_ERR_LEN], old[FP_EPOCH_MAX + 1];

    snprintf(old, sizeof old, "%s", b->epoch);
    js->created = it->created;
    js_epoch_of(it->created, b->epoch);
    js->resets++;
    broker_chan_reset_all(b);
    b->seq = it->first > 0 ? it->first - 1 : 0;
    b->evicted_upto = b->seq;
    fp_log_warnx("jetstream: stream %s was made again: epoch %s follows %s, "
                 "subscribers get a reset", b->conf.nats_stream, b->epoch,
                 old);
    if (js_feed_load_keys(js, it->first, err) < 0 ||
        js_feed_start(js, b->seq + 1, err) < 0)
        fp_log_warnx("jetstream: %s (retried at the next read)", err);
}

void
js_feed_info(broker_js_t *js, js_item_t *it)
{
    static fp_log_limit_t limit;
    broker_t *b = js->b;
    char err[FP_ERR_LEN];

    if (it->created == 0) {
        if (fp_log_limit_ok(&limit))
            fp_log_warnx("jetstream: %s", it->err);
        return;
    }
    if (it->created != js->created) {
        s_new_epoch(js, it);
        js->stalled = 0;
        return;
    }
    if (it->first > 0 && it->first - 1 > b->evicted_upto)
        b->evicted_upto = it->first - 1;
    /*  the stream is ahead and the feed has not moved on several reads in
     *  a row, or the feed is gone: subscribe again from where we are  */
    js->stalled = it->seq > b->seq && b->seq == js->seen ? js->stalled + 1 : 0;
    js->behind = it->seq > b->seq ? it->seq - b->seq : 0;
    js->seen = b->seq;
    if (js->feed && js->stalled < JS_STALL_INFOS)
        return;
    js->stalled = 0;
    if (js_feed_start(js, b->seq + 1, err) < 0)
        fp_log_warnx("jetstream: %s (retried at the next read)", err);
    else
        fp_log_info("jetstream: feed subscribed again from SEQ %llu",
                    (unsigned long long) (b->seq + 1));
}
