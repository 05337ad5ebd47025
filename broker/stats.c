/*  stats: the STATS reply.
 *
 *  Body (optional): {"top": N} lists the N busiest channels (by
 *  subscribers, then events published; default 20, at most 1000), or
 *  {"channel": "name"} just that one.  With `stats-channels off` the
 *  list is always empty: the totals stay, no channel is named.
 */
#include "broker.h"
#include "clock.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static json_t *
s_chan_json(const chan_t *c)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "channel", c->name,
                     "subscribers", (json_int_t) c->subscribers,
                     "history", (json_int_t) c->ring.count,
                     "bytes", (json_int_t) c->ring.bytes,
                     "keys", (json_int_t) broker_chan_key_count(c),
                     "last_seq", (json_int_t) c->last_seq,
                     "published", (json_int_t) c->published);
}

static int
s_busier(const void *x, const void *y)
{
    const chan_t *a = *(chan_t *const *) x, *c = *(chan_t *const *) y;
    if (a->subscribers != c->subscribers)
        return a->subscribers > c->subscribers ? -1 : 1;
    if (a->published != c->published)
        return a->published > c->published ? -1 : 1;
    return strcmp(a->name, c->name);
}

static json_t *
s_top(broker_t *b, json_t *req, int64_t *subs, uint64_t *keys)
{
    json_t *jt = json_object_get(req, "top");
    const char *one = json_string_value(json_object_get(req, "channel"));
    size_t top = json_is_integer(jt) ? (size_t) json_integer_value(jt) : 20;
    size_t n = zhashx_size(b->chans), k = 0;
    chan_t **all = fp_malloc((n ? n : 1) * sizeof *all);

    if (top > 1000)
        top = 1000;
    if (!b->conf.stats_channels)
        top = 0;
    *subs = 0;
    *keys = 0;
    for (chan_t *c = zhashx_first(b->chans); c; c = zhashx_next(b->chans)) {
        *subs += c->subscribers;
        *keys += broker_chan_key_count(c);
        if (!one || strcmp(one, c->name) == 0)
            all[k++] = c;
    }
    qsort(all, k, sizeof *all, s_busier);
    json_t *list = json_array();
    for (size_t i = 0; i < k && i < top; i++)
        json_array_append_new(list, s_chan_json(all[i]));
    free(all);
    return list;
}

json_t *
broker_stats_json(broker_t *b, json_t *req)
{
    int64_t subs;
    uint64_t keys;
    json_t *top = s_top(b, req, &subs, &keys);
    broker_stats_t *s = &b->stats;

    json_t *st = json_pack(
        "{s:s, s:s, s:I, s:I,"
        " s:{s:I, s:I, s:I, s:I, s:I},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:f, s:f},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I},"
        " s:o}",
        "version", BROKER_VERSION, "epoch", b->epoch,
        "head", (json_int_t) b->seq,
        "uptime_ms", (json_int_t) (fp_clock_wall_ms() - b->started),
        "events",
        "published", (json_int_t) s->published,
        "published_pull", (json_int_t) s->published_pull,
        "rejected", (json_int_t) s->rejected,
        "unauthorized", (json_int_t) s->unauthorized,
        "rate_limited", (json_int_t) s->rate_limited,
        "requests",
        "bad", (json_int_t) s->bad_requests,
        "since", (json_int_t) s->since_requests,
        "since_events", (json_int_t) s->since_events,
        "resets", (json_int_t) s->resets,
        "snapshots", (json_int_t) s->snapshots,
        "since_avg_us", s->since_requests ? (double) s->since_ns / 1000.0 /
                        (double) s->since_requests : 0.0,
        "since_max_us", (double) s->since_max_ns / 1000.0,
        "history",
        "events", (json_int_t) b->hist_events,
        "bytes", (json_int_t) b->hist_bytes,
        "memory_limit", (json_int_t) b->conf.history_memory,
        "count_limit", (json_int_t) b->conf.history_count,
        "bytes_limit", (json_int_t) b->conf.history_bytes,
        "age_limit_ms", (json_int_t) b->conf.history_age,
        "trimmed", (json_int_t) s->trimmed,
        "keys", (json_int_t) keys,
        "channels",
        "count", (json_int_t) zhashx_size(b->chans),
        "limit", (json_int_t) b->conf.max_channels,
        "evicted", (json_int_t) s->evicted,
        "subscribers", (json_int_t) subs,
        "other_subscribers", (json_int_t) b->other_subscribers,
        "subscribes", (json_int_t) s->subscribes,
        "top", top);
    json_object_set_new(st, "responders", broker_reports_json(b));
    json_object_set_new(st, "presence", broker_presence_json(b));
    if (b->webhook)
        json_object_set_new(st, "webhooks", json_pack("{s:I, s:I}", "sent",
                            (json_int_t) b->stats.webhook_sent, "dropped",
                            (json_int_t) b->stats.webhook_dropped));
    if (b->store) {
        json_t *store = broker_store_json(b->store);
        json_object_set_new(store, "replay_ms",
                            json_integer((json_int_t) s->replay_ms));
        json_object_set_new(store, "records_replayed",
                            json_integer((json_int_t) s->replay_records));
        json_object_set_new(st, "store", store);
    }
    if (b->js)
        json_object_set_new(st, "engine", broker_js_json(b));
    return st;
}
