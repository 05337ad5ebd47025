/*  sub: a connection's subscriptions, one hub member each.
 *
 *  The hub delivers each member's events once, in SEQ order, after
 *  resets, snapshots and backfills (hub.h).  An event goes out as the
 *  canonical JSON the broker made, in a text frame encoded once per
 *  process: the first subscriber to see the event stores the frame in
 *  ev->cache, every other subscriber's queue takes a reference to the
 *  same blob.  With permessage-deflate the event is also compressed once
 *  (deflate.c), on first need, and kept beside the plain frame: each
 *  subscriber takes the one its connection negotiated (the plain one
 *  when compressing did not make it smaller).  Snapshot events carry
 *  "snapshot":true, so they are encoded per delivery (they are rare).
 *
 *  A partial unsubscribe re-joins the channels that remain from the
 *  subscription's cursor, so nothing is lost or repeated on them.
 *
 *  A Pusher client's subscription is one channel.  Its events go out as
 *  Pusher messages (lib/pusher_msg), also made once per event and
 *  shared; its ready is pusher_internal:subscription_succeeded.  On a
 *  presence channel (joined before: pusher.c) that comes at once, with the
 *  member list, and the member starts from the list's seq, so every
 *  member_added / member_removed pusher-js gets comes after the list it
 *  applies them to.  Resets are not told (Pusher has none); an event
 *  whose socket_id is the connection's own is not sent to it (Pusher's
 *  exclusion of the sender).  Leaving a presence channel here leaves its
 *  membership too.
 */
#include "wsb.h"
#include "cursor.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "pusher_msg.h"

#include <stdlib.h>
#include <string.h>

struct wsb_sub {
    wsb_sub_t *next;            /*  the connection's subscriptions  */
    wsb_conn_t *c;
    fp_member_t *m;             /*  owned (fp_member_destroy)  */
    char *ref;                  /*  raw JSON or NULL (owned)  */
    char **chans;               /*  owned  */
    uint16_t n;
    char pos[FP_CURSOR_LEN];    /*  the last cursor the client was given
                                    (ready or an event's id), "" if none  */
    json_t *presence;           /*  Pusher: subscription_succeeded data
                                    until sent (owned)  */
    bool announced;             /*  Pusher: subscription_succeeded sent  */
};

static void s_event(fp_member_t *m, fp_event_t *ev, unsigned flags,
                    void *ctx);
static void s_reset(fp_member_t *m, const char *channel, const char *reason,
                    bool snapshot, void *ctx);
static void s_ready(fp_member_t *m, const char *cursor, void *ctx);
static void s_failed(fp_member_t *m, const char *code, const char *msg,
                     void *ctx);

static const fp_member_cbs_t s_cbs = { s_event, s_reset, s_ready, s_failed };

/*  Append ,"ref":REF when there is one, then the closing brace.  */
static void
s_close_obj(fp_buf_t *b, const char *ref)
{
    wsb_out_add_ref(b, ref);
    fp_buf_addc(b, '}');
}

/*  Append the channel names as a JSON array.  */
static void
s_add_chans(fp_buf_t *b, char *const *chans, size_t n)
{
    fp_buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            fp_buf_addc(b, ',');
        fp_json_append_str(b, chans[i]);
    }
    fp_buf_addc(b, ']');
}

/*  An event's frames, made once per worker (ev->cache): [0] the native
 *  protocol's, [1] the Pusher message.  */
typedef struct {
    fp_blob_t *plain[2];
    fp_blob_t *z[2];            /*  compressed, NULL if none (yet)  */
    bool z_tried[2];
} s_frames_t;

static void
s_frames_free(void *p)
{
    s_frames_t *f = p;
    for (int i = 0; i < 2; i++) {
        fp_blob_unref(&f->plain[i]);
        fp_blob_unref(&f->z[i]);
    }
    free(f);
}

/*  The plain frame of variant v (0 native, 1 Pusher for c's app).  */
static fp_blob_t *
s_plain(wsb_conn_t *c, fp_event_t *ev, s_frames_t *f, int v)
{
    if (f->plain[v])
        return f->plain[v];
    if (v == 0) {
        f->plain[0] = wsb_frame_blob(WSB_OP_TEXT, ev->json, ev->json_len);
    } else {
        fp_buf_t b;
        fp_buf_init(&b);
        fp_pusher_event_append(&b, c->papp, ev);
        f->plain[1] = wsb_frame_blob(WSB_OP_TEXT, b.data, b.len);
        fp_buf_free(&b);
    }
    return f->plain[v];
}

/*  The frame of ev for connection c (borrowed: the event holds it).  */
static fp_blob_t *
s_frame(wsb_conn_t *c, fp_event_t *ev)
{
    s_frames_t *f = ev->cache;
    int v = c->papp != NULL;
    if (!f) {
        f = fp_calloc(1, sizeof *f);
        ev->cache = f;
        ev->cache_free = s_frames_free;
    }
    fp_blob_t *plain = s_plain(c, ev, f, v);
    if (!c->deflate)
        return plain;
    if (!f->z_tried[v]) {
        wsb_stats_t *st = &c->w->stats;
        uint8_t l7 = (uint8_t) plain->data[1] & 0x7f;     /*  no mask  */
        size_t hl = l7 < 126 ? 2 : l7 == 126 ? 4 : 10;
        f->z_tried[v] = true;
        f->z[v] = wsb_deflate_frame(c->w->z, WSB_OP_TEXT, plain->data + hl,
                                    plain->len - hl);
        if (f->z[v]) {
            st->deflated++;
            st->deflate_in += plain->len;
            st->deflate_out += f->z[v]->len;
        }
    }
    return f->z[v] ? f->z[v] : plain;
}

/*  Snapshot events say so in their JSON; late events (FP_EVENT_LATE) go
 *  out as they are: clients de-duplicate by (channel, seq).  */
static void
s_event(fp_member_t *m, fp_event_t *ev, unsigned flags, void *ctx)
{
    wsb_sub_t *s = ctx;

    if (wsb_out_expired(s->c))
        return;
    if (ev->socket_id && s->c->papp &&
        strcmp(ev->socket_id, s->c->socket_id) == 0) {
        fp_cursor_format(ev->epoch, ev->seq, s->pos);
        return;                 /*  its sender  */
    }
    if (s->c->papp && strcmp(ev->type, FP_PUSHER_TERMINATE_TYPE) == 0) {
        if (s->c->user_channel && strcmp(s->c->user_channel,
                                         ev->channel) == 0)
            wsb_out_terminate(s->c);    /*  on its user's channel only  */
        return;
    }
    s->c->w->stats.events++;
    if (!(flags & (FP_EVENT_SNAPSHOT | FP_EVENT_LATE)))
        fp_cursor_format(ev->epoch, ev->seq, s->pos);
    if ((flags & FP_EVENT_SNAPSHOT) && !s->c->papp) {
        size_t len;
        char *json = fp_event_snapshot_json(ev, &len);
        wsb_out_text(s->c, json, len);
        free(json);
        return;
    }
    wsb_out_send(s->c, s_frame(s->c, ev));
}

static void
s_reset(fp_member_t *m, const char *channel, const char *reason,
        bool snapshot, void *ctx)
{
    wsb_sub_t *s = ctx;
    fp_buf_t b;

    if (s->c->papp)
        return;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"reset\",");
    fp_event_reset_append(&b, channel, reason, snapshot);
    s_close_obj(&b, s->ref);
    wsb_out_text(s->c, b.data, b.len);
    fp_buf_free(&b);
}

/*  pusher_internal:subscription_succeeded, once.  */
static void
s_pusher_ready(wsb_sub_t *s)
{
    char nbuf[FP_PUSHER_NAME_MAX + 1];
    size_t len;
    if (s->announced)
        return;
    s->announced = true;
    char *text = fp_pusher_message("pusher_internal:subscription_succeeded",
                                   fp_pusher_name(s->c->papp, s->chans[0],
                                                  nbuf), s->presence, true,
                                   &len);
    s->presence = NULL;
    wsb_out_take(s->c, text, len);
}

static void
s_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    wsb_sub_t *s = ctx;
    fp_buf_t b;

    snprintf(s->pos, sizeof s->pos, "%s", cursor);
    if (s->c->papp) {
        s_pusher_ready(s);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"ready\",\"channels\":");
    s_add_chans(&b, s->chans, s->n);
    fp_buf_adds(&b, ",\"cursor\":");
    fp_json_append_str(&b, cursor);
    s_close_obj(&b, s->ref);
    wsb_out_text(s->c, b.data, b.len);
    fp_buf_free(&b);
}

/*  Unlink and free a subscription, leaving its hub member.  */
static void
s_free(wsb_sub_t *s)
{
    wsb_conn_t *c = s->c;
    for (wsb_sub_t **pp = &c->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    c->nsubs--;
    c->nchans = (uint16_t) (c->nchans - s->n);
    fp_member_destroy(&s->m);
    for (uint16_t i = 0; i < s->n; i++) {
        wsb_presence_leave(c, s->chans[i]);
        free(s->chans[i]);
    }
    free(s->chans);
    free(s->ref);
    json_decref(s->presence);
    free(s);
}

static void
s_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    wsb_sub_t *s = ctx;
    wsb_out_sub_error(s->c, s->chans[0], code, msg ? msg : "the broker "
                      "refused the subscription", 503, s->ref);
    s_free(s);
}

/*  True if the connection already has channel ch.  */
static bool
s_has(const wsb_conn_t *c, const char *ch)
{
    for (wsb_sub_t *s = c->subs; s; s = s->next)
        for (uint16_t i = 0; i < s->n; i++)
            if (strcmp(s->chans[i], ch) == 0)
                return true;
    return false;
}

/*  A new subscription, or NULL with the refusal sent.  A Pusher client's
 *  subscriptions count against max-channels only (each is one).  */
static wsb_sub_t *
s_add(wsb_conn_t *c, const char *const *chans, size_t n, const char *since,
      const char *ref)
{
    const wsb_conf_t *conf = c->w->conf;
    char err[FP_ERR_LEN];

    if (!c->papp && c->nsubs >= conf->max_subscriptions) {
        wsb_out_error(c, "limit_exceeded", "too many subscriptions on "
                      "this connection", ref);
        return NULL;
    }
    if (c->nchans + n > (size_t) conf->max_channels) {
        wsb_out_sub_error(c, chans[0], "limit_exceeded", "too many channels "
                          "on this connection (max-channels)", 400, ref);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (s_has(c, chans[i])) {
            snprintf(err, sizeof err, "already subscribed to '%s'",
                     chans[i]);
            wsb_out_sub_error(c, chans[i], "already_subscribed", err, 400,
                              ref);
            return NULL;
        }
    wsb_sub_t *s = fp_calloc(1, sizeof *s);
    s->m = fp_member_new(c->w->hub, chans, n, since, &s_cbs, s, err);
    if (!s->m) {
        wsb_out_sub_error(c, chans[0], "bad_request", err, 400, ref);
        free(s);
        return NULL;
    }
    s->c = c;
    s->ref = ref ? fp_strdup(ref) : NULL;
    s->chans = fp_calloc(n, sizeof *s->chans);
    for (size_t i = 0; i < n; i++)
        s->chans[i] = fp_strdup(chans[i]);
    s->n = (uint16_t) n;
    s->next = c->subs;
    c->subs = s;
    c->nsubs++;
    c->nchans = (uint16_t) (c->nchans + n);
    return s;
}

void
wsb_sub_add(wsb_conn_t *c, const char *const *chans, size_t n,
            const char *since, const char *ref)
{
    s_add(c, chans, n, since, ref);
}

bool
wsb_sub_add_pusher(wsb_conn_t *c, const char *chan, const char *since,
                   json_t *presence)
{
    wsb_sub_t *s = s_add(c, &chan, 1, since, NULL);
    if (!s) {
        json_decref(presence);
        return false;
    }
    s->presence = presence;
    if (presence)
        s_pusher_ready(s);      /*  from the list's seq: nothing is lost  */
    return true;
}

bool
wsb_sub_has(const wsb_conn_t *c, const char *chan)
{
    return s_has(c, chan);
}

/*  True if ch is one of list[0..n).  */
static bool
s_listed(const char *const *list, size_t n, const char *ch)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], ch) == 0)
            return true;
    return false;
}

/*  Keep only the channels of s not in list: re-join them from the
 *  subscription's cursor.  */
static void
s_narrow(wsb_sub_t *s, const char *const *list, size_t n)
{
    char cursor[FP_CURSOR_LEN], err[FP_ERR_LEN];
    bool known = fp_member_cursor(s->m, cursor);
    uint16_t k = 0;

    for (uint16_t i = 0; i < s->n; i++) {
        if (s_listed(list, n, s->chans[i])) {
            wsb_presence_leave(s->c, s->chans[i]);
            free(s->chans[i]);
        } else
            s->chans[k++] = s->chans[i];
    }
    s->c->nchans = (uint16_t) (s->c->nchans - (s->n - k));
    s->n = k;
    fp_member_destroy(&s->m);
    s->m = fp_member_new(s->c->w->hub, (const char *const *) s->chans, k,
                         known ? cursor : NULL, &s_cbs, s, err);
    if (!s->m) {
        fp_log_warnx("re-join after unsubscribe failed: %s", err);
        s_free(s);
    }
}

void
wsb_sub_remove(wsb_conn_t *c, const char *const *chans, size_t n,
               const char *ref)
{
    fp_buf_t b;
    size_t removed = 0;
    wsb_sub_t *next;

    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"unsubscribed\",\"channels\":[");
    for (wsb_sub_t *s = c->subs; s; s = next) {
        size_t hits = 0;
        next = s->next;
        for (uint16_t i = 0; i < s->n; i++) {
            if (!s_listed(chans, n, s->chans[i]))
                continue;
            fp_buf_adds(&b, removed++ ? "," : "");
            fp_json_append_str(&b, s->chans[i]);
            hits++;
        }
        if (hits == s->n)
            s_free(s);
        else if (hits)
            s_narrow(s, chans, n);
    }
    fp_buf_addc(&b, ']');
    s_close_obj(&b, ref);
    if (removed)
        wsb_out_text(c, b.data, b.len);
    else
        wsb_out_error(c, "not_subscribed", "none of these channels is "
                      "subscribed", ref);
    fp_buf_free(&b);
}

bool
wsb_sub_drop(wsb_conn_t *c, const char *chan)
{
    for (wsb_sub_t *s = c->subs; s; s = s->next) {
        if (!s_listed((const char *const *) s->chans, s->n, chan))
            continue;
        if (s->n == 1)
            s_free(s);
        else
            s_narrow(s, &chan, 1);
        return true;
    }
    return false;
}

void
wsb_sub_drop_all(wsb_conn_t *c)
{
    while (c->subs)
        s_free(c->subs);
}

/*  Where the client stands on s: what it was last given (the member may
 *  be ahead by an event that was refused, at a token's expiry).  */
static bool
s_position(const wsb_sub_t *s, char *cursor)
{
    if (!s->pos[0])
        return fp_member_cursor(s->m, cursor);
    memcpy(cursor, s->pos, sizeof s->pos);
    return true;
}

void
wsb_sub_cursors(wsb_conn_t *c, fp_buf_t *out)
{
    char cursor[FP_CURSOR_LEN];
    int k = 0;

    if (c->nsubs == 1 && s_position(c->subs, cursor)) {
        fp_buf_adds(out, ",\"cursor\":");
        fp_json_append_str(out, cursor);
    }
    fp_buf_adds(out, ",\"subscriptions\":[");
    for (wsb_sub_t *s = c->subs; s; s = s->next) {
        fp_buf_adds(out, k++ ? ",{\"channels\":" : "{\"channels\":");
        s_add_chans(out, s->chans, s->n);
        if (s_position(s, cursor)) {
            fp_buf_adds(out, ",\"cursor\":");
            fp_json_append_str(out, cursor);
        }
        s_close_obj(out, s->ref);
    }
    fp_buf_addc(out, ']');
}
