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
#include "clock.h"
#include "err.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <string.h>

#define PROCESS_BUDGET 2000

/* ------------------------------------------------------------ channels */

static void
s_subscribe(fp_hub_t *hub, const char *name, bool on)
{
    zmq_setsockopt(zsock_resolve(hub->sub),
                   on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, name,
                   strlen(name) + 1);
}

hub_chan_t *
hub_chan_get(fp_hub_t *hub, const char *name)
{
    return zhashx_lookup(hub->chans, name);
}

hub_chan_t *
hub_chan_require(fp_hub_t *hub, const char *name)
{
    hub_chan_t *c = zhashx_lookup(hub->chans, name);
    if (c)
        return c;
    c = fp_calloc(1, sizeof *c);
    c->name = fp_strdup(name);
    c->state = CHAN_SUBSCRIBING;
    c->subscribed_at = fp_clock_ms();
    zhashx_insert(hub->chans, name, c);
    s_subscribe(hub, name, true);
    hub->stats.channels++;
    return c;
}

void
hub_chan_idle_check(fp_hub_t *hub, hub_chan_t *c)
{
    if (c->n == 0)
        c->idle_since = fp_clock_ms();
}

static void
s_chan_free(fp_hub_t *hub, hub_chan_t *c)
{
    s_subscribe(hub, c->name, false);
    zhashx_delete(hub->chans, c->name);
    free(c->members);
    free(c->name);
    free(c);
    hub->stats.channels--;
}

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

void
hub_backfill(fp_hub_t *hub, hub_chan_t *c, uint64_t from)
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
    fp_hub_req_t *r = hub_req_send(hub, REQ_BACKFILL, "SINCE", body);
    r->chan = c;
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
    hub_backfill(hub, c, c->last_seq);
    for (hub_chan_t *o = zhashx_first(hub->chans); o;
         o = zhashx_next(hub->chans))
        if (o != c && o->state == CHAN_LIVE && o->n > 0)
            hub_backfill(hub, o, o->last_seq);
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

void
hub_chan_apply_backfill(fp_hub_t *hub, hub_chan_t *c, bool ok, json_t *meta,
                        fp_event_t **evs, size_t n)
{
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    size_t nsnap = (size_t) json_integer_value(json_object_get(meta,
                                                               "snapshot"));
    json_t *resets = json_object_get(meta, "reset");

    c->backfilling = false;
    hub->backfills--;
    if (!ok) {
        fp_log_warnx("backfill of '%s' failed: %s", c->name,
                     json_string_value(json_object_get(meta, "error")));
        const char *code = json_string_value(json_object_get(meta, "code"));
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
            hub_backfill(hub, c, evs[n - 1]->seq);
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
            s_subscribe(hub, c->name, false);
            s_subscribe(hub, c->name, true);
            c->subscribed_at = now;
        }
    }
    for (size_t i = 0; i < ngone; i++)
        s_chan_free(hub, gone[i]);
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
        s_chan_free(hub, c);
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
