/*  hub: the broker connection and the per-channel feed (see hub.h).
 *
 *  Items from the fanout (events and sync marks) go through s_apply in
 *  arrival order, which is SEQ order.  When a channel shows a gap the hub
 *  pauses: later items wait in a queue, the missing events are fetched
 *  with SINCE and merged into the queue by SEQ, and the queue drains
 *  through s_apply again.  Members see each channel in SEQ order, and all
 *  their channels in SEQ order except when a gap shows late: a channel's
 *  feed only reveals a drop with its next event or beacon, and newer
 *  events of other channels may have been dispatched by then.
 */
#include "hub_int.h"
#include "error.h"
#include "clock.h"
#include "err.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <string.h>

#define PROCESS_BUDGET 2000

/* ------------------------------------------------------------ queue */

static void
s_item_free(hub_item_t *it)
{
    if (it->is_event)
        fp_event_unref(&it->ev);
    free(it->channel);
    it->channel = NULL;
}

static void
s_queue_grow(fp_hub_t *hub)
{
    size_t cap = hub->qcap ? hub->qcap * 2 : 64;
    hub_item_t *q = fp_malloc(cap * sizeof *q);
    for (size_t i = 0; i < hub->qlen; i++)
        q[i] = hub->queue[(hub->qhead + i) % hub->qcap];
    free(hub->queue);
    hub->queue = q;
    hub->qcap = cap;
    hub->qhead = 0;
}

static void
s_queue_push(fp_hub_t *hub, hub_item_t *it, bool front)
{
    if (hub->qlen == hub->qcap)
        s_queue_grow(hub);
    if (front) {
        hub->qhead = (hub->qhead + hub->qcap - 1) % hub->qcap;
        hub->queue[hub->qhead] = *it;
    } else {
        hub->queue[(hub->qhead + hub->qlen) % hub->qcap] = *it;
    }
    hub->qlen++;
}

static bool
s_queue_pop(fp_hub_t *hub, hub_item_t *it)
{
    if (hub->qlen == 0)
        return false;
    *it = hub->queue[hub->qhead];
    hub->qhead = (hub->qhead + 1) % hub->qcap;
    hub->qlen--;
    return true;
}

static void
s_queue_clear(fp_hub_t *hub)
{
    hub_item_t it;
    while (s_queue_pop(hub, &it))
        s_item_free(&it);
}

/*  Order key: an event's SEQ; a sync mark sorts with the events before
 *  it (it was sent after all of them).  */
static uint64_t
s_key(const hub_item_t *it, uint64_t prev_key)
{
    return it->is_event ? it->ev->seq : prev_key;
}

/*  Merge backfilled events (SEQ order, references taken) into the queue.  */
static void
s_queue_merge(fp_hub_t *hub, fp_event_t **evs, size_t n)
{
    size_t total = hub->qlen + n, i = 0, k = 0;
    hub_item_t *out = fp_malloc((total ? total : 1) * sizeof *out);
    hub_item_t it;
    uint64_t key = 0;

    while (hub->qlen > 0 || i < n) {
        hub_item_t *head = hub->qlen ? &hub->queue[hub->qhead] : NULL;
        if (head && (i == n || s_key(head, key) <= evs[i]->seq)) {
            key = s_key(head, key);
            s_queue_pop(hub, &it);
            out[k++] = it;
        } else {
            out[k++] = (hub_item_t) { .is_event = true,
                                      .ev = fp_event_ref(evs[i++]) };
        }
    }
    free(hub->queue);
    hub->queue = out;
    hub->qcap = total ? total : 1;
    hub->qhead = 0;
    hub->qlen = k;
}

/* ------------------------------------------------------------ feed */

static void
s_dispatch(fp_hub_t *hub, hub_chan_t *c, fp_event_t *ev)
{
    hub->depth++;
    for (uint32_t i = c->n; i-- > 0;)
        if (i < c->n)
            hub_member_event(c->members[i].member, c->members[i].slot,
                             ev);
    hub->depth--;
}

static void s_on_backfill(void *arg, bool ok, json_t *meta, fp_event_t **evs,
                          size_t n);

/*  A backfill request that was dropped unanswered (epoch change,
 *  shutdown): the channel may ask again.  */
static void
s_backfill_forget(void *arg)
{
    hub_chan_t *c = arg;
    c->backfilling = false;
}

/*  Ask the broker for c's events after `from`; dispatch pauses until the
 *  answer is merged.  */
static void
s_backfill(fp_hub_t *hub, hub_chan_t *c, uint64_t from)
{
    char cursor[FP_CURSOR_LEN];

    hub->paused = true;
    if (c->backfilling)
        return;
    c->backfilling = true;
    hub->backfills++;
    fp_cursor_format(hub->epoch, from, cursor);
    json_t *body = json_pack("{s:[s], s:s}", "channels", c->name, "cursor",
                             cursor);
    hub_req_send(hub, REQ_BACKFILL, "SINCE", body, s_on_backfill, c,
                 s_backfill_forget);
}

static void
s_chan_live(fp_hub_t *hub, hub_chan_t *c)
{
    hub->depth++;
    for (uint32_t i = c->n; i-- > 0;)
        if (i < c->n)
            hub_member_try_start(c->members[i].member);
    hub->depth--;
}

/*  A gap on c: the fanout dropped messages (a high-water mark), and the
 *  drop may have hit every channel, while the others show it only with
 *  their next event, after later events were dispatched.  So every live
 *  channel with members is backfilled now, before anything else is
 *  dispatched; what still comes too late reaches members flagged
 *  FP_EVENT_LATE (hub_member.c).  */
static void
s_gap(fp_hub_t *hub, hub_chan_t *c)
{
    hub->stats.gaps++;
    s_backfill(hub, c, c->last_seq);
    for (hub_chan_t *o = zhashx_first(hub->chans); o;
         o = zhashx_next(hub->chans))
        if (o != c && o->state == CHAN_LIVE && o->n > 0)
            s_backfill(hub, o, o->last_seq);
}

/*  Apply one item; on a gap the item goes back to the queue's front.  */
static void
s_apply(fp_hub_t *hub, hub_item_t *it)
{
    const char *name = it->is_event ? it->ev->channel : it->channel;
    hub_chan_t *c = hub_chan_get(hub, name);

    if (c && !it->is_event) {
        if (c->state == CHAN_SUBSCRIBING) {
            c->state = CHAN_LIVE;
            c->last_seq = it->last;
            s_chan_live(hub, c);
        } else if (it->last > c->last_seq) {
            s_gap(hub, c);
        }
    } else if (c && c->state == CHAN_LIVE && it->ev->seq > c->last_seq) {
        if (it->ev->prev > c->last_seq) {
            s_gap(hub, c);
            s_queue_push(hub, it, true);
            return;
        }
        c->last_seq = it->ev->seq;
        s_dispatch(hub, c, it->ev);
    }
    s_item_free(it);
}

static void
s_feed(fp_hub_t *hub, hub_item_t *it)
{
    if (hub->paused)
        s_queue_push(hub, it, false);
    else
        s_apply(hub, it);
}

/*  Drain the queue until it is empty or a new gap pauses it again.  */
static void
s_resume(fp_hub_t *hub)
{
    hub_item_t it;
    hub->paused = false;
    while (!hub->paused && s_queue_pop(hub, &it))
        s_apply(hub, &it);
    hub_members_reap(hub);
}

/*  Tell the members of c that history could not fill the gap.  */
static void
s_backfill_reset(fp_hub_t *hub, hub_chan_t *c, const char *reason,
                 fp_event_t **snap, size_t nsnap)
{
    hub->depth++;
    for (uint32_t i = c->n; i-- > 0;) {
        if (i >= c->n)
            continue;
        fp_member_t *m = c->members[i].member;
        if (m->state == MEMBER_JOINING)
            m->overflow = true;
        if (m->state != MEMBER_ACTIVE || m->dead)
            continue;
        hub->stats.resets++;
        m->links[c->members[i].slot].last = m->cursor;
        m->cbs->reset(m, c->name, reason, nsnap > 0, m->ctx);
        for (size_t k = 0; k < nsnap && !m->dead; k++)
            m->cbs->event(m, snap[k], FP_EVENT_SNAPSHOT, m->ctx);
    }
    hub->depth--;
}

/*  The broker's answer to a backfill: merge the missing events into the
 *  queue by SEQ (or reset the members when history cannot cover the
 *  gap), and resume dispatch once no backfill is pending.  */
static void
s_on_backfill(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    hub_chan_t *c = arg;
    fp_hub_t *hub = c->hub;
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    size_t nsnap = (size_t) json_integer_value(json_object_get(meta,
                                                               "snapshot"));
    json_t *resets = json_object_get(meta, "reset");

    c->backfilling = false;
    hub->backfills--;
    if (!ok) {
        fp_log_warnx("backfill of '%s' failed: %s", c->name,
                     fp_error_message(meta));
        const char *code = fp_error_code(meta);
        if (code && strcmp(code, "cursor_ahead") == 0)
            c->last_seq = 0;
    } else if (epoch && strcmp(epoch, hub->epoch) == 0 && nsnap <= n) {
        if (json_array_size(resets) > 0) {
            const char *why = json_string_value(json_object_get(
                json_array_get(resets, 0), "reason"));
            fp_log_warnx("gap on '%s' cannot be filled (%s): members reset",
                         c->name, why ? why : "?");
            s_backfill_reset(hub, c, why ? why : "trimmed", evs, nsnap);
            c->last_seq = n > nsnap ? evs[nsnap]->prev
                          : (uint64_t) json_integer_value(
                                json_object_get(meta, "head"));
        }
        hub->stats.backfilled += n - nsnap;
        s_queue_merge(hub, evs + nsnap, n - nsnap);
        if (json_is_true(json_object_get(meta, "more")) && n > nsnap)
            s_backfill(hub, c, evs[n - 1]->seq);
    }
    if (hub->backfills == 0)
        s_resume(hub);
}

/* ------------------------------------------------------------ epochs */

static void
s_epoch_change(fp_hub_t *hub, const char *epoch)
{
    fp_log_warnx("broker epoch changed from %s to %s: its history was lost; "
                 "members resume with resets", hub->epoch, epoch);
    hub->stats.epoch_changes++;
    snprintf(hub->epoch, sizeof hub->epoch, "%s", epoch);
    hub->head = 0;
    s_queue_clear(hub);
    hub->paused = false;
    hub->backfills = 0;
    hub_req_cancel_internal(hub);
    for (hub_chan_t *c = zhashx_first(hub->chans); c;
         c = zhashx_next(hub->chans)) {
        c->state = CHAN_SUBSCRIBING;
        c->last_seq = 0;
        c->backfilling = false;
        c->subscribed_at = fp_clock_ms();
        for (uint32_t i = 0; i < c->n; i++)
            hub_member_rejoin(c->members[i].member);
    }
}

static void
s_epoch(fp_hub_t *hub, const char *epoch)
{
    if (!epoch || !fp_epoch_valid(epoch))
        return;
    if (!hub->epoch[0])
        snprintf(hub->epoch, sizeof hub->epoch, "%s", epoch);
    else if (strcmp(epoch, hub->epoch) != 0)
        s_epoch_change(hub, epoch);
}

/* ------------------------------------------------------------ input */

static void
s_heard(fp_hub_t *hub)
{
    hub->last_heard = fp_clock_ms();
    if (hub->broker_up)
        return;
    hub->broker_up = true;
    fp_log_info("broker reachable (epoch %s)",
                hub->epoch[0] ? hub->epoch : "not known yet");
    hub_req_resend_all(hub);
}

static void
s_on_mark(fp_hub_t *hub, const char *name, const char *body, size_t len)
{
    char err[FP_ERR_LEN];
    json_t *j = fp_json_parse(body, len, err);
    json_t *head = json_object_get(j, "head");

    if (!json_is_object(j) || !json_is_integer(head)) {
        fp_log_warnx("malformed mark from the broker: %s", err);
        json_decref(j);
        return;
    }
    s_epoch(hub, json_string_value(json_object_get(j, "epoch")));
    if ((uint64_t) json_integer_value(head) > hub->head)
        hub->head = (uint64_t) json_integer_value(head);
    json_t *iv = json_object_get(j, "interval");
    if (json_is_integer(iv) && json_integer_value(iv) > 0)
        hub->hb_interval = json_integer_value(iv);
    /*  a heartbeat without "ready" is from a broker before health  */
    if (!name && !json_is_false(json_object_get(j, "ready")))
        hub->ready_heard = fp_clock_ms();
    json_t *last = json_object_get(j, "last");
    if (name && json_is_integer(last)) {
        hub_item_t it = { .is_event = false, .channel = fp_strdup(name),
                          .last = (uint64_t) json_integer_value(last) };
        s_feed(hub, &it);
    }
    json_decref(j);
}

static void
s_on_fanout(fp_hub_t *hub, const char *topic, size_t tlen, const char *body,
            size_t blen)
{
    char err[FP_ERR_LEN], name[FP_CHANNEL_MAX + 1];

    s_heard(hub);
    if (tlen == 1 && topic[0] == '\0') {
        s_on_mark(hub, NULL, body, blen);
        return;
    }
    if (tlen < 2 || tlen > FP_CHANNEL_MAX + 1 || topic[tlen - 1] != '\0' ||
        !fp_channel_valid(topic, tlen - 1))
        return;
    memcpy(name, topic, tlen);
    if (blen > 8 && memcmp(body, "{\"sync\":", 8) == 0) {
        s_on_mark(hub, name, body, blen);
        return;
    }
    fp_event_t *ev = fp_event_parse(body, blen, err);
    if (!ev || strcmp(ev->channel, name) != 0) {
        fp_log_warnx("malformed event from the broker: %s", err);
        fp_event_unref(&ev);
        return;
    }
    hub->stats.events++;
    s_epoch(hub, ev->epoch);
    if (ev->seq > hub->head)
        hub->head = ev->seq;
    hub_item_t it = { .is_event = true, .ev = ev };
    s_feed(hub, &it);
}

static bool
s_read_sub(fp_hub_t *hub)
{
    void *sock = zsock_resolve(hub->sub);
    zmq_msg_t topic, body;

    zmq_msg_init(&topic);
    if (zmq_msg_recv(&topic, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&topic);
        return false;
    }
    zmq_msg_init(&body);
    if (zmq_msg_more(&topic) && zmq_msg_recv(&body, sock, 0) >= 0)
        s_on_fanout(hub, zmq_msg_data(&topic), zmq_msg_size(&topic),
                    zmq_msg_data(&body), zmq_msg_size(&body));
    while (zmq_msg_more(&body) && zmq_msg_recv(&body, sock, 0) >= 0)
        ;
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return true;
}

static bool
s_read_dealer(fp_hub_t *hub)
{
    if (!(zsock_events(hub->dealer) & ZMQ_POLLIN))
        return false;
    zmsg_t *msg = zmsg_recv(hub->dealer);
    if (!msg)
        return false;
    hub_req_on_reply(hub, msg);
    zmsg_destroy(&msg);
    hub_members_reap(hub);
    return true;
}

bool
fp_hub_process(fp_hub_t *hub)
{
    int budget = PROCESS_BUDGET;
    bool progress = true;

    hub_members_start(hub);
    while (progress && budget-- > 0) {
        progress = s_read_sub(hub);
        progress |= s_read_dealer(hub);
    }
    hub_members_start(hub);
    hub_members_reap(hub);
    return budget < 0;
}

/* ------------------------------------------------------------ life */

static void
s_tick_chans(fp_hub_t *hub, int64_t now)
{
    hub_chan_t **gone = NULL;
    size_t ngone = 0;

    for (hub_chan_t *c = zhashx_first(hub->chans); c;
         c = zhashx_next(hub->chans)) {
        if (c->n == 0 && now - c->idle_since >= (int64_t) hub->conf.linger_ms
            && !c->backfilling) {
            gone = fp_realloc(gone, (ngone + 1) * sizeof *gone);
            gone[ngone++] = c;
        } else if (c->state == CHAN_SUBSCRIBING && hub->broker_up &&
                   now - c->subscribed_at > 2 * hub->hb_interval) {
            hub_chan_subscribe(hub, c->name, false);
            hub_chan_subscribe(hub, c->name, true);
            c->subscribed_at = now;
        }
    }
    for (size_t i = 0; i < ngone; i++)
        hub_chan_free(hub, gone[i]);
    free(gone);
}

void
fp_hub_tick(fp_hub_t *hub, int64_t now)
{
    hub->now = now;
    if (hub->broker_up && now - hub->last_heard > 3 * hub->hb_interval) {
        hub->broker_up = false;
        fp_log_warnx("broker silent for %lld ms: treating it as down",
                     (long long) (now - hub->last_heard));
    }
    hub_req_tick(hub);
    s_tick_chans(hub, now);
    hub_members_start(hub);
    hub_members_reap(hub);
}

static int
s_connect(zsock_t *sock, const char *endpoints, char *err)
{
    char *list = fp_strdup(endpoints), *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r(list, ",", &save); ep && rc == 0;
         ep = strtok_r(NULL, ",", &save)) {
        rc = zsock_connect(sock, "%s", ep);
        if (rc < 0)
            snprintf(err, FP_ERR_LEN, "cannot connect to %s: %s", ep,
                     zmq_strerror(zmq_errno()));
    }
    free(list);
    return rc;
}

fp_hub_t *
fp_hub_new(const fp_hub_conf_t *conf, char *err)
{
    fp_hub_t *hub = fp_calloc(1, sizeof *hub);
    hub->conf = *conf;
    hub->conf.fanout = fp_strdup(conf->fanout);
    hub->conf.control = fp_strdup(conf->control);
    if (!hub->conf.request_timeout_ms)
        hub->conf.request_timeout_ms = 3000;
    if (!hub->conf.join_buffer)
        hub->conf.join_buffer = 10000;
    hub->hb_interval = 1000;
    hub->chans = zhashx_new();
    hub->sub = zsock_new(ZMQ_SUB);
    hub->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(hub->sub, 200000);
    zsock_set_linger(hub->sub, 0);
    zsock_set_linger(hub->dealer, 0);
    zsock_set_immediate(hub->dealer, 1);
    zsock_set_rcvhwm(hub->dealer, 100000);
    zmq_setsockopt(zsock_resolve(hub->sub), ZMQ_SUBSCRIBE, "", 1);
    hub->conf.link = NULL;
    if (conf->link && fp_sockauth_token(conf->link))
        hub->token = fp_strdup(fp_sockauth_token(conf->link));
    if ((conf->link && (fp_sockauth_client(conf->link, hub->sub, err) < 0 ||
                        fp_sockauth_client(conf->link, hub->dealer, err) < 0)) ||
        s_connect(hub->sub, conf->fanout, err) < 0 ||
        s_connect(hub->dealer, conf->control, err) < 0) {
        fp_hub_destroy(&hub);
        return NULL;
    }
    return hub;
}

void
fp_hub_destroy(fp_hub_t **hub_p)
{
    fp_hub_t *hub = *hub_p;
    if (!hub)
        return;
    *hub_p = NULL;
    hub_req_free_all(hub);
    hub_members_start(hub);
    for (hub_chan_t *c = zhashx_first(hub->chans); c;
         c = zhashx_first(hub->chans)) {
        while (c->n > 0) {
            fp_member_t *m = c->members[0].member;
            fp_member_destroy(&m);
        }
        hub_chan_free(hub, c);
    }
    hub_members_reap(hub);
    s_queue_clear(hub);
    free(hub->queue);
    zhashx_destroy(&hub->chans);
    zsock_destroy(&hub->sub);
    zsock_destroy(&hub->dealer);
    free((char *) hub->conf.fanout);
    free((char *) hub->conf.control);
    free(hub->token);
    free(hub);
}

void
fp_hub_fds(fp_hub_t *hub, int fds[2])
{
    fds[0] = zsock_fd(hub->sub);
    fds[1] = zsock_fd(hub->dealer);
}

void
fp_hub_stats(fp_hub_t *hub, fp_hub_stats_t *st)
{
    *st = hub->stats;
    st->broker_up = hub->broker_up;
    st->head = hub->head;
    st->epoch = hub->epoch;
}

int
fp_hub_ready(fp_hub_t *hub, char *why)
{
    int64_t now = fp_clock_ms(), limit = 3 * hub->hb_interval;
    if (!hub->broker_up || now - hub->last_heard > limit) {
        if (hub->last_heard)
            snprintf(why, FP_ERR_LEN, "no heartbeat from the broker for %lld "
                     "ms (fanout %s)", (long long) (now - hub->last_heard),
                     hub->conf.fanout);
        else
            snprintf(why, FP_ERR_LEN, "no heartbeat from the broker yet "
                     "(fanout %s)", hub->conf.fanout);
        return -1;
    }
    if (now - hub->ready_heard > limit) {
        snprintf(why, FP_ERR_LEN, "the broker answers but cannot store events "
                 "now (`fastpush health` on it says why)");
        return -1;
    }
    return 0;
}

#ifdef FP_TEST
#include "buf.h"
#include "clock.h"
#include "test.h"

/*  The self-test drives a hub against a fake broker: a real XPUB and
 *  ROUTER bound on inproc:// endpoints, fed by hand.  Each case checks
 *  what one member saw, written as a log of words: "news/5" an event
 *  ("L" appended when flagged late, "S" when a snapshot), "reset:news:why",
 *  "ready:CURSOR", "failed:CODE".  */

#define T_EPOCH "hubtesta"
#define T_WAIT_MS 2000

typedef struct {
    zsock_t *xpub, *router;
    fp_hub_t *hub;
    zframe_t *peer;             /*  routing id of the last request  */
    char subs[256];             /*  topics subscribed, " NAME;" each  */
} s_broker_t;

typedef struct {
    char log[1024];
} s_seen_t;

typedef struct {
    const char *channel;
    uint64_t seq, prev;
} s_ev_t;

static void
s_log(void *ctx, const char *word)
{
    s_seen_t *s = ctx;
    size_t len = strlen(s->log);
    snprintf(s->log + len, sizeof s->log - len, "%s%s", len ? " " : "",
             word);
}

static void
s_cb_event(fp_member_t *m, fp_event_t *ev, unsigned flags, void *ctx)
{
    char w[FP_CHANNEL_MAX + 32];
    (void) m;
    snprintf(w, sizeof w, "%s/%llu%s%s", ev->channel,
             (unsigned long long) ev->seq, flags & FP_EVENT_LATE ? "L" : "",
             flags & FP_EVENT_SNAPSHOT ? "S" : "");
    s_log(ctx, w);
}

static void
s_cb_reset(fp_member_t *m, const char *channel, const char *reason,
           bool snapshot, void *ctx)
{
    char w[FP_CHANNEL_MAX + 64];
    (void) m;
    snprintf(w, sizeof w, "reset:%s:%s%s", channel, reason,
             snapshot ? ":snapshot" : "");
    s_log(ctx, w);
}

static void
s_cb_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    char w[FP_CURSOR_LEN + 8];
    (void) m;
    snprintf(w, sizeof w, "ready:%s", cursor);
    s_log(ctx, w);
}

static void
s_cb_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    char w[128];
    (void) m;
    (void) msg;
    snprintf(w, sizeof w, "failed:%s", code);
    s_log(ctx, w);
}

static const fp_member_cbs_t s_cbs = { s_cb_event, s_cb_reset, s_cb_ready,
                                       s_cb_failed };

static void
s_broker_start(s_broker_t *b)
{
    static int instance;
    char fanout[64], control[64], err[FP_ERR_LEN];

    instance++;
    snprintf(fanout, sizeof fanout, "inproc://hubtest-fanout-%d", instance);
    snprintf(control, sizeof control, "inproc://hubtest-control-%d",
             instance);
    b->xpub = zsock_new_xpub(NULL);
    b->router = zsock_new_router(NULL);
    zsock_set_linger(b->xpub, 0);
    zsock_set_linger(b->router, 0);
    FP_CHECK(zsock_bind(b->xpub, "%s", fanout) == 0 &&
             zsock_bind(b->router, "%s", control) == 0, "fake broker bound");
    fp_hub_conf_t conf = { .fanout = fanout, .control = control,
                           .linger_ms = 1000, .request_timeout_ms = 5000 };
    b->hub = fp_hub_new(&conf, err);
    FP_CHECK(b->hub != NULL, "hub connects to the fake broker");
    b->peer = NULL;
    b->subs[0] = '\0';
}

static void
s_broker_stop(s_broker_t *b)
{
    fp_hub_destroy(&b->hub);
    zframe_destroy(&b->peer);
    zsock_destroy(&b->xpub);
    zsock_destroy(&b->router);
}

/*  Let the hub work for up to wait_ms: poll its sockets, process, tick.  */
static void
s_pump(s_broker_t *b, int wait_ms)
{
    zmq_pollitem_t items[2] = {
        { zsock_resolve(b->hub->sub), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve(b->hub->dealer), 0, ZMQ_POLLIN, 0 },
    };
    zmq_poll(items, 2, wait_ms);
    while (fp_hub_process(b->hub))
        ;
    fp_hub_tick(b->hub, fp_clock_ms());
}

/*  Note the subscription the XPUB has waiting, if any, in b->subs.  */
static void
s_read_sub_msg(s_broker_t *b)
{
    if (!(zsock_events(b->xpub) & ZMQ_POLLIN))
        return;
    zframe_t *f = zframe_recv(b->xpub);
    size_t len = f ? zframe_size(f) : 0, used = strlen(b->subs);
    if (len >= 2 && zframe_data(f)[0] == 1 && zframe_data(f)[len - 1] == 0)
        snprintf(b->subs + used, sizeof b->subs - used, " %s;",
                 (char *) zframe_data(f) + 1);
    zframe_destroy(&f);
}

/*  Pump until the XPUB has read a subscription to CHANNEL\0 ("" for the
 *  heartbeat topic).  */
static bool
s_wait_sub(s_broker_t *b, const char *channel)
{
    char want[FP_CHANNEL_MAX + 3];
    int64_t until = fp_clock_ms() + T_WAIT_MS;

    snprintf(want, sizeof want, " %s;", channel);
    while (!strstr(b->subs, want) && fp_clock_ms() < until) {
        s_read_sub_msg(b);
        s_pump(b, 5);
    }
    return strstr(b->subs, want) != NULL;
}

static void
s_send(s_broker_t *b, const char *channel, const char *body)
{
    zsock_send(b->xpub, "bs", channel, strlen(channel) + 1, body);
}

static void
s_heartbeat(s_broker_t *b, const char *epoch, uint64_t head)
{
    char body[160];
    snprintf(body, sizeof body, "{\"heartbeat\":true,\"epoch\":\"%s\","
             "\"head\":%llu,\"ts\":1,\"interval\":1000}", epoch,
             (unsigned long long) head);
    s_send(b, "", body);
}

/*  A sync mark: kind "subscribe" or "beacon".  */
static void
s_mark(s_broker_t *b, const char *kind, const char *epoch,
       const char *channel, uint64_t last, uint64_t head)
{
    char body[320];
    snprintf(body, sizeof body, "{\"sync\":\"%s\",\"epoch\":\"%s\","
             "\"channel\":\"%s\",\"last\":%llu,\"head\":%llu,\"ts\":1}",
             kind, epoch, channel, (unsigned long long) last,
             (unsigned long long) head);
    s_send(b, channel, body);
}

static fp_event_t *
s_event(const char *epoch, const s_ev_t *e)
{
    return fp_event_new(epoch, e->seq, e->prev, 1, e->channel, "message",
                        NULL, NULL, "1", 1);
}

static void
s_publish(s_broker_t *b, const char *epoch, const s_ev_t *e)
{
    fp_event_t *ev = s_event(epoch, e);
    s_send(b, e->channel, ev->json);
    fp_event_unref(&ev);
}

/*  Pump until the ROUTER reads a SINCE; returns its body (caller
 *  decrefs) and keeps the peer for s_reply, or NULL after T_WAIT_MS.  */
static json_t *
s_wait_since(s_broker_t *b)
{
    int64_t until = fp_clock_ms() + T_WAIT_MS;

    while (fp_clock_ms() < until) {
        if (zsock_events(b->router) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv(b->router);
            zframe_destroy(&b->peer);
            b->peer = zmsg_pop(msg);
            char *cmd = zmsg_popstr(msg), *body = zmsg_popstr(msg);
            json_t *j = cmd && strcmp(cmd, "SINCE") == 0 && body
                        ? json_loads(body, 0, NULL) : NULL;
            free(cmd);
            free(body);
            zmsg_destroy(&msg);
            if (j)
                return j;
        }
        s_pump(b, 5);
    }
    return NULL;
}

/*  The first channel and the cursor a SINCE asks for, as "news@EPOCH-3".  */
static bool
s_since_is(json_t *req, const char *what)
{
    char got[FP_CHANNEL_MAX + FP_CURSOR_LEN + 2];
    snprintf(got, sizeof got, "%s@%s",
             json_string_value(json_array_get(json_object_get(req,
                                                              "channels"), 0)),
             json_string_value(json_object_get(req, "cursor")));
    return strcmp(got, what) == 0;
}

/*  Answer req (taken) with OK: META (its tag echoed, epoch, head,
 *  `resets`, taken, as the reset array) and the events, none of them
 *  snapshots.  */
static void
s_reply(s_broker_t *b, json_t *req, const char *epoch, uint64_t head,
        json_t *resets, const s_ev_t *evs, size_t n)
{
    if (!req) {                 /*  no request came: a check failed  */
        json_decref(resets);
        return;
    }
    json_t *meta = json_pack("{s:O, s:s, s:I, s:I, s:i, s:b, s:o}", "tag",
                             json_object_get(req, "tag"), "epoch", epoch,
                             "head", (json_int_t) head, "count",
                             (json_int_t) n, "snapshot", 0, "more", 0,
                             "reset", resets ? resets : json_array());
    zmsg_t *msg = zmsg_new();
    zframe_t *peer = zframe_dup(b->peer);
    zmsg_append(msg, &peer);
    zmsg_addstr(msg, "OK");
    char *text = json_dumps(meta, JSON_COMPACT);
    zmsg_addstr(msg, text);
    free(text);
    json_decref(meta);
    fp_buf_t lines = { 0 };
    for (size_t i = 0; i < n; i++) {
        fp_event_t *ev = s_event(epoch, &evs[i]);
        fp_buf_add(&lines, ev->json, ev->json_len);
        fp_buf_add(&lines, "\n", 1);
        fp_event_unref(&ev);
    }
    if (n > 0)
        zmsg_addmem(msg, lines.data, lines.len);
    fp_buf_free(&lines);
    zmsg_send(&msg, b->router);
    json_decref(req);
}

/*  Pump until the member's log reads `want`, then a little longer so a
 *  repeated callback would show; false (log printed) otherwise.  */
static bool
s_expect(s_broker_t *b, s_seen_t *seen, const char *want)
{
    int64_t until = fp_clock_ms() + T_WAIT_MS;
    while (strcmp(seen->log, want) != 0 && fp_clock_ms() < until)
        s_pump(b, 5);
    for (int i = 0; i < 4; i++)
        s_pump(b, 5);
    if (strcmp(seen->log, want) == 0)
        return true;
    printf("#   member saw '%s', expected '%s'\n", seen->log, want);
    return false;
}

static void
s_done(s_broker_t *b, fp_member_t **m_p)
{
    fp_member_destroy(m_p);
    s_broker_stop(b);
}

/*  A member of `channels` from `cursor`, once the hub's subscriptions
 *  reached the fake broker; then the broker's heartbeat and sync marks
 *  (every channel's last SEQ is `last[i]`, the head `head`).  */
static fp_member_t *
s_join(s_broker_t *b, s_seen_t *seen, const char *const *channels,
       const uint64_t *last, size_t n, uint64_t head, const char *cursor)
{
    char err[FP_ERR_LEN];
    fp_member_t *m = fp_member_new(b->hub, channels, n, cursor, &s_cbs,
                                   seen, err);
    FP_CHECK(m != NULL, "member created");
    FP_CHECK(s_wait_sub(b, ""), "hub subscribes to heartbeats");
    for (size_t i = 0; i < n; i++)
        FP_CHECK(s_wait_sub(b, channels[i]), "hub subscribes to a channel");
    s_heartbeat(b, T_EPOCH, head);
    for (size_t i = 0; i < n; i++)
        s_mark(b, "subscribe", T_EPOCH, channels[i], last[i], head);
    return m;
}

/*  1. A join with a cursor: SINCE from the cursor, the reply's events,
 *  ready at the reply's head, then live events; one that arrives while
 *  the join is pending is held and delivered after ready.  */
static void
s_test_join(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    const char *chans[] = { "news" };
    uint64_t last[] = { 4 };

    s_broker_start(&b);
    fp_member_t *m = s_join(&b, &seen, chans, last, 1, 4, T_EPOCH "-2");
    json_t *req = s_wait_since(&b);
    FP_CHECK(req && s_since_is(req, "news@" T_EPOCH "-2"),
             "join asks SINCE from the member's cursor");
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 5, 4 });
    s_pump(&b, 20);
    FP_CHECK(seen.log[0] == '\0', "nothing delivered before the reply");
    s_reply(&b, req, T_EPOCH, 4, NULL,
            (s_ev_t[]) { { "news", 3, 1 }, { "news", 4, 3 } }, 2);
    FP_CHECK(s_expect(&b, &seen, "news/3 news/4 ready:" T_EPOCH "-4 news/5"),
             "join: missed events, ready, then the held live event");
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 6, 5 });
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 6, 5 });
    FP_CHECK(s_expect(&b, &seen, "news/3 news/4 ready:" T_EPOCH "-4 news/5 "
                      "news/6"), "live event once, its repeat dropped");
    char cursor[FP_CURSOR_LEN];
    FP_CHECK(fp_member_live(m) && fp_member_cursor(m, cursor) &&
             strcmp(cursor, T_EPOCH "-6") == 0, "member cursor follows");
    s_done(&b, &m);
}

/*  A member of "news" from now (its last SEQ 3), live with news/4.  */
static fp_member_t *
s_live_news(s_broker_t *b, s_seen_t *seen)
{
    static const char *const chans[] = { "news" };
    static const uint64_t last[] = { 3 };

    s_broker_start(b);
    fp_member_t *m = s_join(b, seen, chans, last, 1, 3, NULL);
    s_publish(b, T_EPOCH, &(s_ev_t) { "news", 4, 3 });
    FP_CHECK(s_expect(b, seen, "ready:" T_EPOCH "-3 news/4"),
             "from now: ready at the head, then live");
    return m;
}

/*  A reset array of one entry, for s_reply.  */
static json_t *
s_resets(const char *channel, const char *reason)
{
    return json_pack("[{s:s, s:s, s:b}]", "channel", channel, "reason",
                     reason, "snapshot", 0);
}

/*  The backfill SINCE that a gap on news after news/4 causes (NULL,
 *  check failed, if none came).  */
static json_t *
s_gap_since(s_broker_t *b)
{
    json_t *req = s_wait_since(b);
    FP_CHECK(req && s_since_is(req, "news@" T_EPOCH "-4"),
             "gap: backfill SINCE from the channel's last SEQ");
    return req;
}

/*  2. A gap (prev above the channel's last SEQ): dispatch pauses, the
 *  hub asks SINCE from the last SEQ, and the missing event comes first;
 *  the reply's copy of a queued event is not delivered twice.  */
static void
s_test_gap(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    fp_hub_stats_t st;
    fp_member_t *m = s_live_news(&b, &seen);
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 7, 5 });
    json_t *req = s_gap_since(&b);
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 8, 7 });
    s_pump(&b, 20);
    FP_CHECK(strcmp(seen.log, "ready:" T_EPOCH "-3 news/4") == 0,
             "dispatch paused during the backfill");
    s_reply(&b, req, T_EPOCH, 8, NULL,
            (s_ev_t[]) { { "news", 5, 4 }, { "news", 7, 5 } }, 2);
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-3 news/4 news/5 news/7 "
                      "news/8"), "gap filled: SEQ order, once each");
    fp_hub_stats(b.hub, &st);
    FP_CHECK(st.gaps == 1 && st.backfilled == 2 && st.late == 0,
             "gap counted, backfill counted, nothing late");
    s_done(&b, &m);
}

/*  2b. A gap shown by a beacon (the channel's last SEQ above what the
 *  hub dispatched) is backfilled the same way.  */
static void
s_test_beacon(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    fp_hub_stats_t st;
    fp_member_t *m = s_live_news(&b, &seen);
    s_mark(&b, "beacon", T_EPOCH, "news", 6, 6);
    json_t *req = s_gap_since(&b);
    s_reply(&b, req, T_EPOCH, 6, NULL, (s_ev_t[]) { { "news", 6, 4 } }, 1);
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 7, 6 });
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-3 news/4 news/6 news/7"),
             "beacon gap filled, then live");
    fp_hub_stats(b.hub, &st);
    FP_CHECK(st.gaps == 1 && st.backfilled == 1, "beacon gap counted");
    s_done(&b, &m);
}

/*  3. A gap history cannot fill: the backfill's reply resets the channel
 *  ("trimmed"), and the feed resumes from what history still holds.  */
static void
s_test_trimmed(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    fp_hub_stats_t st;
    fp_member_t *m = s_live_news(&b, &seen);
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 9, 6 });
    json_t *req = s_gap_since(&b);
    s_reply(&b, req, T_EPOCH, 9, s_resets("news", "trimmed"),
            (s_ev_t[]) { { "news", 9, 6 } }, 1);
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-3 news/4 "
                      "reset:news:trimmed news/9"),
             "unfillable gap: reset, then the feed goes on");
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 10, 9 });
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-3 news/4 "
                      "reset:news:trimmed news/9 news/10"),
             "after the reset the channel is live again");
    fp_hub_stats(b.hub, &st);
    FP_CHECK(st.gaps == 1 && st.resets == 1, "one gap, one reset");
    s_done(&b, &m);
}

/*  4. A heartbeat of another epoch: the hub forgets the feed, and once the
 *  channel is in sync again the member rejoins from its cursor (the
 *  broker answers with an "epoch" reset) and follows the new epoch.  */
static void
s_test_epoch(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    fp_hub_stats_t st;
    fp_member_t *m = s_live_news(&b, &seen);
    s_heartbeat(&b, "hubtestb", 0);
    s_pump(&b, 20);
    s_publish(&b, "hubtestb", &(s_ev_t) { "news", 1, 0 });
    s_pump(&b, 20);
    FP_CHECK(!fp_member_live(m), "new epoch: the member is rejoining");
    s_mark(&b, "subscribe", "hubtestb", "news", 1, 1);
    json_t *req = s_wait_since(&b);
    FP_CHECK(req && s_since_is(req, "news@" T_EPOCH "-4"),
             "rejoin asks SINCE from the old cursor");
    s_reply(&b, req, "hubtestb", 1, s_resets("news", "epoch"),
            (s_ev_t[]) { { "news", 1, 0 } }, 1);
    s_publish(&b, "hubtestb", &(s_ev_t) { "news", 2, 1 });
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-3 news/4 "
                      "reset:news:epoch news/1 ready:hubtestb-1 news/2"),
             "epoch reset, the new epoch's events, ready, live");
    fp_hub_stats(b.hub, &st);
    FP_CHECK(st.epoch_changes == 1 && strcmp(st.epoch, "hubtestb") == 0,
             "epoch change counted");
    s_done(&b, &m);
}

/*  Answer the two backfills of a gap (any order) with one reply each.  */
static void
s_answer_two(s_broker_t *b, const char *a_since, const s_ev_t *a_evs,
             size_t a_n, const char *b_since, uint64_t head)
{
    for (int i = 0; i < 2; i++) {
        json_t *req = s_wait_since(b);
        bool is_a = req && s_since_is(req, a_since);
        FP_CHECK(is_a || (req && s_since_is(req, b_since)),
                 "a backfill for each live channel");
        s_reply(b, req, T_EPOCH, head, NULL, is_a ? a_evs : NULL,
                is_a ? a_n : 0);
    }
}

/*  5. A drop on news that shows only after a newer prices event went out:
 *  both live channels are backfilled, and the recovered news event comes
 *  flagged late, counted in stats.late, without moving the cursor back.  */
static void
s_test_late(void)
{
    s_broker_t b;
    s_seen_t seen = { "" };
    const char *chans[] = { "news", "prices" };
    uint64_t last[] = { 1, 2 };
    fp_hub_stats_t st;

    s_broker_start(&b);
    fp_member_t *m = s_join(&b, &seen, chans, last, 2, 2, NULL);
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 3, 1 });
    s_publish(&b, T_EPOCH, &(s_ev_t) { "prices", 4, 2 });
    /*  news 5 (prev 3) is lost  */
    s_publish(&b, T_EPOCH, &(s_ev_t) { "prices", 6, 4 });
    s_publish(&b, T_EPOCH, &(s_ev_t) { "news", 7, 5 });
    s_answer_two(&b, "news@" T_EPOCH "-3",
                 (s_ev_t[]) { { "news", 5, 3 }, { "news", 7, 5 } }, 2,
                 "prices@" T_EPOCH "-6", 7);
    FP_CHECK(s_expect(&b, &seen, "ready:" T_EPOCH "-2 news/3 prices/4 "
                      "prices/6 news/5L news/7"),
             "late event delivered once, flagged, then the feed goes on");
    fp_hub_stats(b.hub, &st);
    FP_CHECK(st.gaps == 1 && st.late == 1, "one gap, one late event");
    char cursor[FP_CURSOR_LEN];
    FP_CHECK(fp_member_cursor(m, cursor) &&
             strcmp(cursor, T_EPOCH "-7") == 0, "cursor never went back");
    s_done(&b, &m);
}

void
fp_hub_test(void)
{
    int level = fp_log_set_level(FP_LOG_ERROR);   /*  warnings expected  */
    s_test_join();
    s_test_gap();
    s_test_beacon();
    s_test_trimmed();
    s_test_epoch();
    s_test_late();
    fp_log_set_level(level);
}
#endif
