/*  hub_member: members (one client's subscription) and their joins.
 *
 *  WAIT     until every channel of the member is LIVE and the epoch known;
 *  JOINING  SINCE sent; live events are held in a buffer meanwhile;
 *  ACTIVE   live events with SEQ above the join's head are delivered.
 *
 *  A member joining "from now" needs no SINCE: its cursor is the newest SEQ
 *  the hub has seen on the fanout, and every later event of its channels
 *  is still to come through the feed.  Callbacks never run inside
 *  fp_member_new: new members are started by the next fp_hub_process.
 */
#include "hub_int.h"
#include "error.h"
#include "err.h"
#include "conf.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void
s_buf_clear(fp_member_t *m)
{
    for (uint32_t i = 0; i < m->nbuf; i++)
        fp_event_unref(&m->buf[i]);
    free(m->buf);
    m->buf = NULL;
    m->nbuf = 0;
}

static void s_on_join(void *arg, bool ok, json_t *meta, fp_event_t **evs,
                      size_t n);

/*  A join dropped unanswered (epoch change): rejoin sends a new one.  */
static void
s_join_forget(void *arg)
{
    fp_member_t *m = arg;
    m->req = NULL;
}

static void
s_send_join(fp_member_t *m)
{
    fp_hub_t *hub = m->hub;
    char cursor[FP_CURSOR_LEN];
    json_t *chans = json_array();

    for (uint32_t i = 0; i < m->nlinks; i++)
        json_array_append_new(chans, json_string(m->links[i].chan->name));
    if (m->epoch)
        fp_cursor_format(m->epoch, m->cursor, cursor);
    else
        snprintf(cursor, sizeof cursor, "earliest");
    json_t *body = json_pack("{s:o, s:s}", "channels", chans, "cursor",
                             cursor);
    m->req = hub_req_send(hub, REQ_JOIN, "SINCE", body, s_on_join, m,
                          s_join_forget);
    m->state = MEMBER_JOINING;
}

static void
s_set_epoch(fp_member_t *m, const char *epoch)
{
    if (m->epoch && strcmp(m->epoch, epoch) == 0)
        return;
    free(m->epoch);
    m->epoch = fp_strdup(epoch);
    m->cursor = 0;
}

static void
s_ready(fp_member_t *m)
{
    char cursor[FP_CURSOR_LEN];
    for (uint32_t i = 0; i < m->nlinks; i++)
        m->links[i].last = m->cursor;
    m->state = MEMBER_ACTIVE;
    m->has_cursor = true;
    m->hub->stats.joins++;
    fp_cursor_format(m->epoch, m->cursor, cursor);
    m->cbs->ready(m, cursor, m->ctx);
}

void
hub_member_try_start(fp_member_t *m)
{
    fp_hub_t *hub = m->hub;

    if (m->dead || m->state != MEMBER_WAIT || !hub->epoch[0])
        return;
    for (uint32_t i = 0; i < m->nlinks; i++)
        if (m->links[i].chan->state != CHAN_LIVE)
            return;
    if (m->has_cursor) {
        s_send_join(m);
        return;
    }
    s_set_epoch(m, hub->epoch);
    m->cursor = hub->head;
    s_ready(m);
}

/*  An event for an active member.  One its channel already accounted for
 *  is a duplicate (the join's SINCE covered it, or it came twice).  One
 *  behind the cursor but new on its channel came late: the fanout dropped
 *  it and the hub recovered it after the member had moved past it on
 *  another channel.  It is delivered all the same, flagged
 *  FP_EVENT_LATE, and the cursor does not move back: nothing is lost, and
 *  a resume from the cursor repeats nothing.  */
static void
s_deliver(fp_member_t *m, member_link_t *l, fp_event_t *ev)
{
    if (ev->seq <= l->last)
        return;
    l->last = ev->seq;
    if (ev->seq <= m->cursor) {
        m->hub->stats.late++;
        m->cbs->event(m, ev, FP_EVENT_LATE, m->ctx);
        return;
    }
    m->cursor = ev->seq;
    m->cbs->event(m, ev, 0, m->ctx);
}

static member_link_t *
s_link(fp_member_t *m, const char *channel)
{
    for (uint32_t i = 0; i < m->nlinks; i++)
        if (strcmp(m->links[i].chan->name, channel) == 0)
            return &m->links[i];
    return NULL;
}

void
hub_member_event(fp_member_t *m, uint32_t slot, fp_event_t *ev)
{
    if (m->dead)
        return;
    if (m->state == MEMBER_ACTIVE) {
        s_deliver(m, &m->links[slot], ev);
    } else if (m->state == MEMBER_JOINING) {
        if (m->nbuf >= m->hub->conf.join_buffer) {
            m->overflow = true;
            return;
        }
        if ((m->nbuf & (m->nbuf - 1)) == 0)
            m->buf = fp_realloc(m->buf, (m->nbuf ? m->nbuf * 2 : 4) *
                                sizeof *m->buf);
        m->buf[m->nbuf++] = fp_event_ref(ev);
    }
}

/*  The join failed with cursor_ahead: reset everything, start from now.  */
static void
s_ahead(fp_member_t *m)
{
    for (uint32_t i = 0; i < m->nlinks && !m->dead; i++) {
        m->hub->stats.resets++;
        m->cbs->reset(m, m->links[i].chan->name, "ahead", false, m->ctx);
    }
    free(m->epoch);
    m->epoch = NULL;
    m->has_cursor = false;
    m->state = MEMBER_WAIT;
    s_buf_clear(m);
    hub_member_try_start(m);
}

static void
s_resets(fp_member_t *m, json_t *resets)
{
    size_t i;
    json_t *r;
    json_array_foreach(resets, i, r) {
        if (m->dead)
            return;
        const char *ch = json_string_value(json_object_get(r, "channel"));
        const char *why = json_string_value(json_object_get(r, "reason"));
        m->hub->stats.resets++;
        m->cbs->reset(m, ch ? ch : "", why ? why : "trimmed",
                      json_is_true(json_object_get(r, "snapshot")), m->ctx);
    }
}

/*  After the reply: held live events the join did not cover, then free
 *  them.  */
static void
s_flush_buffer(fp_member_t *m)
{
    for (uint32_t i = 0; i < m->nbuf && !m->dead; i++) {
        member_link_t *l = s_link(m, m->buf[i]->channel);
        if (l)
            s_deliver(m, l, m->buf[i]);
    }
    if (!m->dead)
        s_buf_clear(m);
}

/*  The broker's answer to a join (SINCE with the member's cursor).  */
static void
s_on_join(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    fp_member_t *m = arg;

    m->req = NULL;
    const char *code = fp_error_code(meta);
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    size_t nsnap = (size_t) json_integer_value(json_object_get(meta,
                                                               "snapshot"));

    if (m->dead)
        return;
    if (!ok && code && strcmp(code, "cursor_ahead") == 0) {
        s_ahead(m);
        return;
    }
    if (!ok || !epoch || nsnap > n) {
        m->state = MEMBER_FAILED;
        m->cbs->failed(m, code ? code : "bad_reply",
                       fp_error_message(meta),
                       m->ctx);
        return;
    }
    if (strcmp(epoch, m->hub->epoch) != 0) {
        m->state = MEMBER_WAIT;
        hub_member_try_start(m);
        return;
    }
    s_resets(m, json_object_get(meta, "reset"));
    for (size_t i = 0; i < nsnap && !m->dead; i++)
        m->cbs->event(m, evs[i], FP_EVENT_SNAPSHOT, m->ctx);
    if (m->dead)
        return;
    s_set_epoch(m, epoch);
    for (size_t i = nsnap; i < n && !m->dead; i++) {
        if (evs[i]->seq <= m->cursor)
            continue;
        m->cursor = evs[i]->seq;
        m->cbs->event(m, evs[i], 0, m->ctx);
    }
    if (m->dead)
        return;
    uint64_t head = (uint64_t) json_integer_value(json_object_get(meta,
                                                                  "head"));
    if (json_is_true(json_object_get(meta, "more")) || m->overflow) {
        if (!json_is_true(json_object_get(meta, "more")) && head > m->cursor)
            m->cursor = head;
        m->overflow = false;
        s_buf_clear(m);
        s_send_join(m);
        return;
    }
    if (head > m->cursor)
        m->cursor = head;
    s_ready(m);
    if (!m->dead)
        s_flush_buffer(m);
}

void
hub_member_rejoin(fp_member_t *m)
{
    if (m->dead || m->state == MEMBER_WAIT)
        return;
    m->req = NULL;
    s_buf_clear(m);
    m->overflow = false;
    if (m->state == MEMBER_ACTIVE)
        m->has_cursor = true;
    m->state = MEMBER_WAIT;
}

void
hub_member_free(fp_member_t *m)
{
    s_buf_clear(m);
    free(m->links);
    free(m->epoch);
    free(m);
}

void
hub_members_reap(fp_hub_t *hub)
{
    if (hub->depth > 0)
        return;
    fp_member_t *keep = NULL, *next;
    for (fp_member_t *m = hub->graveyard; m; m = next) {
        next = m->next_dead;
        if (m->in_start) {
            m->next_dead = keep;
            keep = m;
        } else {
            hub_member_free(m);
        }
    }
    hub->graveyard = keep;
}

void
hub_members_start(fp_hub_t *hub)
{
    while (hub->starting) {
        fp_member_t *m = hub->starting;
        hub->starting = m->next_start;
        m->in_start = false;
        hub->depth++;
        hub_member_try_start(m);
        hub->depth--;
    }
}

static int
s_check(const char *const *channels, size_t n, char *err)
{
    if (n == 0 || n > 65536) {
        snprintf(err, FP_ERR_LEN, "between 1 and 65536 channels expected");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fp_channel_valid(channels[i], strlen(channels[i]))) {
            snprintf(err, FP_ERR_LEN, "invalid channel name '%.64s'",
                     channels[i]);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(channels[i], channels[j]) == 0) {
                snprintf(err, FP_ERR_LEN, "channel '%s' named twice",
                         channels[i]);
                return -1;
            }
    }
    return 0;
}

fp_member_t *
fp_member_new(fp_hub_t *hub, const char *const *channels, size_t n,
              const char *cursor, const fp_member_cbs_t *cbs, void *ctx,
              char *err)
{
    fp_cursor_t cur;

    if (s_check(channels, n, err) < 0)
        return NULL;
    if (cursor && strcmp(cursor, "earliest") != 0 &&
        fp_cursor_parse(cursor, &cur, err) < 0)
        return NULL;
    fp_member_t *m = fp_calloc(1, sizeof *m);
    m->hub = hub;
    m->cbs = cbs;
    m->ctx = ctx;
    m->has_cursor = cursor != NULL;
    if (cursor && strcmp(cursor, "earliest") != 0) {
        m->epoch = fp_strdup(cur.epoch);
        m->cursor = cur.seq;
    }
    m->links = fp_calloc(n, sizeof *m->links);
    for (size_t j = 0; j < n; j++) {
        hub_chan_t *c = hub_chan_require(hub, channels[j]);
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4;
            c->members = fp_realloc(c->members, c->cap * sizeof *c->members);
        }
        c->members[c->n] = (chan_link_t) { m, (uint32_t) j };
        m->links[j] = (member_link_t) { c, c->n++ };
        c->idle_since = 0;
    }
    m->nlinks = (uint32_t) n;
    m->in_start = true;
    m->next_start = hub->starting;
    hub->starting = m;
    hub->stats.members++;
    return m;
}

void
fp_member_destroy(fp_member_t **m_p)
{
    fp_member_t *m = *m_p;
    if (!m)
        return;
    *m_p = NULL;
    if (m->dead)
        return;
    fp_hub_t *hub = m->hub;
    for (uint32_t j = 0; j < m->nlinks; j++) {
        hub_chan_t *c = m->links[j].chan;
        uint32_t pos = m->links[j].pos;
        c->members[pos] = c->members[--c->n];
        if (pos < c->n)
            c->members[pos].member->links[c->members[pos].slot].pos = pos;
        hub_chan_idle_check(hub, c);
    }
    if (m->req)
        hub_req_orphan(m->req);
    m->dead = true;
    hub->stats.members--;
    if (hub->depth > 0 || m->in_start) {
        m->next_dead = hub->graveyard;
        hub->graveyard = m;
    } else {
        hub_member_free(m);
    }
}

bool
fp_member_cursor(const fp_member_t *m, char *out)
{
    if (!m->epoch)
        return false;
    fp_cursor_format(m->epoch, m->cursor, out);
    return true;
}

bool
fp_member_live(const fp_member_t *m)
{
    return m->state == MEMBER_ACTIVE;
}

void *
fp_member_ctx(const fp_member_t *m)
{
    return m->ctx;
}

void
fp_member_set_ctx(fp_member_t *m, void *ctx)
{
    m->ctx = ctx;
}
