/*  since: SINCE (what did I miss?) and STATE (what is the keyed state?).
 *
 *  SINCE {"channels":[...], "cursor":"EPOCH-SEQ"|"earliest", "limit":N}
 *  answers, for the current epoch's cursor S and head H:
 *
 *  - every event with S < SEQ <= H on those channels, in SEQ order, at
 *    most `limit` of them (then "more":true and the cursor is the last
 *    event's, so the next SINCE continues exactly there);
 *  - a reset for each channel whose history no longer reaches back to S
 *    (an event after S was dropped: reason "trimmed"), and for every
 *    channel when the cursor belongs to another epoch (reason "epoch").
 *    The reply then carries what is still there: for a keyed channel its
 *    snapshot (the latest event per key, sent first and counted in
 *    "snapshot"), for any other channel every event still in history.
 *
 *  A cursor of this epoch beyond H is refused (cursor_ahead, with the
 *  current cursor in the error so the client can start over from it):
 *  nobody can have seen events the broker has not assigned yet.
 *  "earliest" means S = 0 of the current epoch.
 *
 *  STATE {"channel": c} answers the keyed state of c and "last", the
 *  channel's newest SEQ (a version of the state, for ETags).
 */
#include "broker.h"
#include "conf.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    chan_t *chan;               /*  NULL if the channel is unknown  */
    size_t pos;                 /*  next ring index to merge  */
    bool snapshot;              /*  reset answered with the keyed state  */
} since_src_t;

/*  Validate "channels": 1..max distinct valid names.  Fills names.  */
static int
s_channels(broker_t *b, json_t *req, const char ***names, size_t *n,
           char *err)
{
    json_t *arr = json_object_get(req, "channels");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        snprintf(err, FP_ERR_LEN, "'channels' must be a non-empty array of "
                 "channel names");
        return -1;
    }
    if (json_array_size(arr) > (size_t) b->conf.max_since_channels) {
        snprintf(err, FP_ERR_LEN, "at most %lld channels per request",
                 (long long) b->conf.max_since_channels);
        return -1;
    }
    *names = fp_calloc(json_array_size(arr), sizeof **names);
    *n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        if (!s || strlen(s) != json_string_length(v) ||
            !fp_channel_valid(s, strlen(s))) {
            snprintf(err, FP_ERR_LEN, "channels[%zu] is not a valid channel "
                     "name", i);
            free(*names);
            *names = NULL;
            return -1;
        }
        bool dup = false;
        for (size_t j = 0; j < *n && !dup; j++)
            dup = strcmp((*names)[j], s) == 0;
        if (!dup)
            (*names)[(*n)++] = s;
    }
    return 0;
}

/*  Parse the cursor; *other_epoch is set when it is from another epoch.  */
static int
s_cursor(broker_t *b, json_t *req, uint64_t *seq, bool *other_epoch,
         json_t **meta, char *code, char *err)
{
    const char *s;
    fp_cursor_t c;

    if (fp_json_get_str(req, "cursor", true, &s, err) < 0)
        return broker_fail(code, "bad_request");
    *other_epoch = false;
    if (strcmp(s, "earliest") == 0) {
        *seq = 0;
        return 0;
    }
    if (fp_cursor_parse(s, &c, err) < 0)
        return broker_fail(code, "bad_cursor");
    if (strcmp(c.epoch, b->epoch) != 0) {
        *other_epoch = true;
        *seq = 0;
        return 0;
    }
    if (c.seq > b->seq) {
        char head[FP_CURSOR_LEN];
        fp_cursor_format(b->epoch, b->seq, head);
        snprintf(err, FP_ERR_LEN, "cursor %s is ahead of this broker's "
                 "newest event %s", s, head);
        *meta = json_pack("{s:s, s:s, s:I}", "cursor", head, "epoch",
                          b->epoch, "head", (json_int_t) b->seq);
        return broker_fail(code, "cursor_ahead");
    }
    *seq = c.seq;
    return 0;
}

/*  One event per line: event JSON never holds a raw newline.  */
static void
s_add(fp_buf_t *events, const fp_event_t *ev)
{
    fp_buf_reserve(events, ev->json_len + 1);
    fp_buf_add(events, ev->json, ev->json_len);
    fp_buf_addc(events, '\n');
}

static int
s_by_seq(const void *x, const void *y)
{
    const fp_event_t *a = *(fp_event_t *const *) x;
    const fp_event_t *c = *(fp_event_t *const *) y;
    return a->seq < c->seq ? -1 : a->seq > c->seq;
}

/*  Append the keyed state of c (latest event per key, SEQ order).  */
static size_t
s_add_snapshot(chan_t *c, fp_buf_t *events)
{
    size_t n = broker_chan_key_count(c);
    if (n == 0)
        return 0;
    fp_event_t **all = fp_malloc(n * sizeof *all);
    size_t k = 0;
    for (fp_event_t *ev = zhashx_first(c->keys); ev && k < n;
         ev = zhashx_next(c->keys))
        all[k++] = ev;
    qsort(all, k, sizeof *all, s_by_seq);
    for (size_t i = 0; i < k; i++)
        s_add(events, all[i]);
    free(all);
    return k;
}

static json_t *
s_reset_entry(const char *channel, const char *reason, bool snapshot)
{
    return json_pack("{s:s, s:s, s:b}", "channel", channel, "reason", reason,
                     "snapshot", snapshot);
}

/*  Merge the sources' ring tails in SEQ order, up to limit events.
 *  Returns the SEQ of the last event added (0 if none); *more is set when
 *  events were left out.  */
static uint64_t
s_merge(since_src_t *src, size_t n, size_t limit, fp_buf_t *events,
        size_t *count, bool *more)
{
    uint64_t last = 0;
    *count = 0;
    *more = false;
    for (;;) {
        fp_event_t *best = NULL;
        size_t bi = 0;
        for (size_t i = 0; i < n; i++) {
            if (src[i].snapshot || !src[i].chan)
                continue;
            fp_event_t *ev = fp_ring_at(&src[i].chan->ring, src[i].pos);
            if (ev && (!best || ev->seq < best->seq)) {
                best = ev;
                bi = i;
            }
        }
        if (!best)
            return last;
        if (*count == limit) {
            *more = true;
            return last;
        }
        s_add(events, best);
        src[bi].pos++;
        (*count)++;
        last = best->seq;
    }
}

int
broker_since(broker_t *b, json_t *req, json_t **meta, fp_buf_t *events,
             char *code, char *err)
{
    static const char *const allowed[] = { "channels", "cursor", "limit",
                                           NULL };
    const char **names = NULL;
    size_t n = 0, count = 0, snap = 0;
    uint64_t seq = 0;
    bool other_epoch, more;
    json_int_t limit = b->conf.max_reply_events;

    if (fp_json_only_fields(req, allowed, err) < 0)
        return broker_fail(code, "bad_request");
    json_t *jl = json_object_get(req, "limit");
    if (jl && (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
               json_integer_value(jl) > b->conf.max_reply_events)) {
        snprintf(err, FP_ERR_LEN, "'limit' must be an integer from 1 to %lld",
                 (long long) b->conf.max_reply_events);
        return broker_fail(code, "bad_request");
    }
    if (jl)
        limit = json_integer_value(jl);
    if (s_channels(b, req, &names, &n, err) < 0)
        return broker_fail(code, "bad_request");
    if (s_cursor(b, req, &seq, &other_epoch, meta, code, err) < 0) {
        free(names);
        return -1;
    }
    since_src_t *src = fp_calloc(n, sizeof *src);
    json_t *resets = json_array();
    for (size_t i = 0; i < n; i++) {
        chan_t *c = src[i].chan = broker_chan_get(b, names[i]);
        uint64_t dropped = c ? c->dropped_upto : b->evicted_upto;
        if (!other_epoch && seq >= dropped) {
            src[i].pos = c ? fp_ring_after(&c->ring, seq) : 0;
            continue;
        }
        size_t k = c ? s_add_snapshot(c, events) : 0;
        src[i].snapshot = k > 0;
        snap += k;
        json_array_append_new(resets, s_reset_entry(names[i],
                              other_epoch ? "epoch" : "trimmed", k > 0));
        b->stats.resets++;
        b->stats.snapshots += k > 0;
    }
    uint64_t last = s_merge(src, n, (size_t) limit, events, &count, &more);
    char cursor[FP_CURSOR_LEN];
    fp_cursor_format(b->epoch, more ? last : b->seq, cursor);
    *meta = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:o}", "cursor", cursor,
                      "epoch", b->epoch, "head", (json_int_t) b->seq,
                      "count", (json_int_t) (count + snap),
                      "snapshot", (json_int_t) snap, "more", more,
                      "reset", resets);
    b->stats.since_requests++;
    b->stats.since_events += count;
    free(src);
    free(names);
    return 0;
}

int
broker_state(broker_t *b, json_t *req, json_t **meta, fp_buf_t *events,
             char *code, char *err)
{
    static const char *const allowed[] = { "channel", NULL };
    const char *name;
    char cursor[FP_CURSOR_LEN];

    if (fp_json_only_fields(req, allowed, err) < 0 ||
        fp_json_get_str(req, "channel", true, &name, err) < 0)
        return broker_fail(code, "bad_request");
    if (!fp_channel_valid(name, strlen(name))) {
        snprintf(err, FP_ERR_LEN, "'channel' is not a valid channel name");
        return broker_fail(code, "bad_request");
    }
    chan_t *c = broker_chan_get(b, name);
    size_t k = c ? s_add_snapshot(c, events) : 0;
    fp_cursor_format(b->epoch, b->seq, cursor);
    *meta = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "cursor", cursor,
                      "epoch", b->epoch, "channel", name,
                      "head", (json_int_t) b->seq,
                      "last", (json_int_t) (c ? c->last_seq : 0),
                      "count", (json_int_t) k);
    return 0;
}
