/*  poll: delta-sync polls and long-polls.
 *
 *    GET PREFIX/poll?channel=a&channel=b&since=CURSOR&limit=N&wait=S
 *
 *  answers {"cursor", "events", "reset", "more"} in the same event shape
 *  as every other transport.  Without `since` the answer is just the
 *  current cursor (the place to start from).  The cursor is also the
 *  ETag: a poll that finds nothing new and sends If-None-Match with the
 *  current cursor gets 304.  With `wait` and nothing new, the request is
 *  parked as a hub member (no thread held) and answered at the end of the
 *  loop round in which its first events arrive, or when the wait ends.
 *  A presence channel's member list ("presence", presence.c) comes with
 *  the user's first poll of it and with ?presence=1.
 */
#include "polld.h"
#include "error.h"
#include "clock.h"
#include "conf.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ answer */

/*  Add an event to the answer; only an event in order moves the cursor
 *  (not a snapshot event, not a late one: see FP_EVENT_LATE).  */
static void
s_add_event(polld_req_t *r, fp_event_t *ev, unsigned flags)
{
    if (r->nevents++ > 0)
        fp_buf_addc(&r->events, ',');
    if (flags & FP_EVENT_SNAPSHOT) {
        size_t len;
        char *json = fp_event_snapshot_json(ev, &len);
        fp_buf_add(&r->events, json, len);
        free(json);
    } else {
        fp_buf_add(&r->events, ev->json, ev->json_len);
        if (!(flags & FP_EVENT_LATE))
            fp_cursor_format(ev->epoch, ev->seq, r->cursor);
    }
}

static void
s_add_reset(polld_req_t *r, const char *channel, const char *reason,
            bool snapshot)
{
    if (r->resets.len > 0)
        fp_buf_addc(&r->resets, ',');
    fp_buf_addc(&r->resets, '{');
    fp_event_reset_append(&r->resets, channel, reason, snapshot);
    fp_buf_addc(&r->resets, '}');
    r->d->stats.resets++;
}

/*  The answer carries a member list (presence.c): never 304, never
 *  parked.  */
static bool
s_has_list(const polld_req_t *r)
{
    return polld_presence_append(r, NULL);
}

static void
s_answer(polld_req_t *r, bool more)
{
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Content-Type: application/json\r\n"
             "Cache-Control: no-cache\r\nETag: \"%s\"\r\n", r->cursor);
    r->d->stats.events += (uint64_t) r->nevents;
    if (r->nevents == 0 && r->resets.len == 0 && !s_has_list(r) &&
        fp_http_etag_match(r->if_none_match, r->cursor)) {
        polld_answer(r, 304, hdr, NULL, 0);
        return;
    }
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"cursor\":");
    fp_json_append_str(&b, r->cursor);
    fp_buf_adds(&b, ",\"events\":[");
    fp_buf_add(&b, r->events.data, r->events.len);
    fp_buf_adds(&b, "],\"reset\":[");
    fp_buf_add(&b, r->resets.data, r->resets.len);
    fp_buf_addf(&b, "],\"more\":%s", more ? "true" : "false");
    polld_presence_append(r, &b);
    fp_buf_adds(&b, "}\n");
    polld_answer(r, 200, hdr, b.data, b.len);
    fp_buf_free(&b);
}

/* ------------------------------------------------------------ parking */

static void
s_due(polld_req_t *r)
{
    if (r->answer_due)
        return;
    r->answer_due = true;
    r->next_due = r->d->due;
    r->d->due = r;
}

static void
s_event(fp_member_t *m, fp_event_t *ev, unsigned flags, void *ctx)
{
    polld_req_t *r = ctx;
    bool expired = r->client && r->client->expires &&
                   fp_clock_ms() >= r->client->expires;
    if (r->nevents < r->limit && !expired)
        s_add_event(r, ev, flags);
    else
        r->cut = true;
    s_due(r);
}

static void
s_reset(fp_member_t *m, const char *channel, const char *reason,
        bool snapshot, void *ctx)
{
    polld_req_t *r = ctx;
    s_add_reset(r, channel, reason, snapshot);
    s_due(r);
}

static void
s_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    polld_req_t *r = ctx;
    if (r->nevents < r->limit)
        snprintf(r->cursor, sizeof r->cursor, "%s", cursor);
    if (r->nevents > 0 || r->resets.len > 0)
        s_due(r);
}

static void
s_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    polld_req_t *r = ctx;
    polld_unpark(r);
    polld_error(r, fp_error_http_status(code), code, msg);
}

static const fp_member_cbs_t s_cbs = { s_event, s_reset, s_ready, s_failed };

static void
s_park(polld_req_t *r)
{
    polld_t *d = r->d;
    char err[FP_ERR_LEN];

    if (fp_responder_stopping(d->app)) {
        s_answer(r, false);     /*  SIGTERM came while the broker answered  */
        return;
    }
    if (d->nparked >= (uint32_t) d->conf.max_parked) {
        polld_error(r, 503, "too_many_waiting", "too many long-polls are "
                    "waiting; poll again later");
        return;
    }
    if (r->client && fp_access_connect(d->authz, r->client, err)) {
        polld_refuse(r, 429, err);
        return;
    }
    r->member = fp_member_new(fp_responder_hub(d->app),
                              (const char *const *) r->channels.items,
                              (size_t) r->channels.count, r->cursor, &s_cbs,
                              r, err);
    if (!r->member) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    if (d->nparked == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->parked = fp_realloc(d->parked, d->cap * sizeof *d->parked);
    }
    r->slot = d->nparked;
    d->parked[d->nparked++] = r;
    r->deadline = fp_clock_ms() + r->wait_ms;
    if (r->client && r->client->expires && r->client->expires < r->deadline)
        r->deadline = r->client->expires;   /*  no event after the token  */
    d->stats.parked++;
}

void
polld_unpark(polld_req_t *r)
{
    polld_t *d = r->d;
    if (!r->member)
        return;
    fp_member_destroy(&r->member);
    d->parked[r->slot] = d->parked[--d->nparked];
    d->parked[r->slot]->slot = r->slot;
}

void
polld_answer_due(polld_t *d)
{
    while (d->due) {
        polld_req_t *r = d->due;
        d->due = r->next_due;
        r->answer_due = false;
        if (!r->conn) {
            polld_req_free(r);
            continue;
        }
        polld_unpark(r);
        d->stats.woken++;
        s_answer(r, r->cut);
    }
}

void
polld_expire(polld_t *d, int64_t now)
{
    for (uint32_t i = d->nparked; i-- > 0;) {
        if (i >= d->nparked || d->parked[i]->deadline > now ||
            d->parked[i]->answer_due)
            continue;
        polld_req_t *r = d->parked[i];
        polld_unpark(r);
        d->stats.timed_out++;
        s_answer(r, false);
    }
}

/* ------------------------------------------------------------ replies */

void
polld_since_answer(polld_req_t *r, bool ok, json_t *meta, fp_event_t **evs,
                   size_t n)
{
    const char *code = fp_error_code(meta);
    const char *cursor = json_string_value(json_object_get(meta, "cursor"));
    size_t nsnap = (size_t) json_integer_value(json_object_get(meta,
                                                               "snapshot"));
    r->hreq = NULL;
    if (!ok && code && strcmp(code, "cursor_ahead") == 0 && cursor) {
        for (int i = 0; i < r->channels.count; i++)
            s_add_reset(r, r->channels.items[i], "ahead", false);
    } else if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    snprintf(r->cursor, sizeof r->cursor, "%s", cursor ? cursor : "");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(meta, "reset"), i, x)
        s_add_reset(r, json_string_value(json_object_get(x, "channel")),
                    json_string_value(json_object_get(x, "reason")),
                    json_is_true(json_object_get(x, "snapshot")));
    for (i = 0; i < n; i++)
        s_add_event(r, evs[i], i < nsnap ? FP_EVENT_SNAPSHOT : 0);
    if (n > nsnap)
        snprintf(r->cursor, sizeof r->cursor, "%s", cursor);
    if (r->nevents > 0 || r->resets.len > 0 || r->wait_ms == 0 ||
        s_has_list(r))
        s_answer(r, json_is_true(json_object_get(meta, "more")));
    else
        s_park(r);
}

/*  No `since`: the answer is where "now" is.  */
static void
s_on_ping(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    r->hreq = NULL;
    if (!ok || !epoch) {
        polld_broker_error(r, meta);
        return;
    }
    fp_cursor_format(epoch, (uint64_t) json_integer_value(
                         json_object_get(meta, "head")), r->cursor);
    if (r->wait_ms == 0 || s_has_list(r))
        s_answer(r, false);
    else
        s_park(r);
}

/* ------------------------------------------------------------ request */

static int
s_params(polld_req_t *r, fp_query_t *q, const char **since, bool *want_list,
         char *err)
{
    polld_conf_t *c = &r->d->conf;
    int64_t v;

    for (int i = 0; i < q->count; i++)
        if (strcmp(q->items[i].name, "channel") == 0 &&
            fp_http_channels(q->items[i].value, &r->channels,
                             (int) c->max_channels, err) < 0)
            return -1;
    if (r->channels.count == 0) {
        snprintf(err, FP_ERR_LEN, "name at least one channel: "
                 "?channel=a&channel=b");
        return -1;
    }
    const char *lim = fp_query_get(q, "limit");
    r->limit = c->default_limit;
    if (lim && fp_conf_parse_int(lim, 1, c->max_limit, &r->limit, err) < 0)
        return -1;
    const char *wait = fp_query_get(q, "wait");
    if (wait) {
        char sub[FP_ERR_LEN];
        if (fp_conf_parse_int(wait, 0, (int64_t) c->max_wait / 1000, &v,
                              sub) < 0) {
            snprintf(err, FP_ERR_LEN, "wait: %s (seconds)", sub);
            return -1;
        }
        r->wait_ms = v * 1000;
    }
    const char *pres = fp_query_get(q, "presence");
    if (pres && strcmp(pres, "1") != 0 && strcmp(pres, "0") != 0 &&
        strcmp(pres, "true") != 0 && strcmp(pres, "false") != 0) {
        snprintf(err, FP_ERR_LEN, "presence: 1 (send the member lists) or "
                 "0");
        return -1;
    }
    *want_list = pres && (pres[0] == '1' || pres[0] == 't');
    *since = fp_query_get(q, "since");
    fp_cursor_t cur;
    if (*since && **since && strcmp(*since, "earliest") != 0 &&
        fp_cursor_parse(*since, &cur, err) < 0)
        return -2;
    return 0;
}

void
polld_poll(polld_req_t *r, fp_fcgi_req_t *req)
{
    fp_query_t q;
    char err[FP_ERR_LEN];
    const char *since = NULL;
    bool want_list = false;

    if (fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"), 64, &q, err) < 0) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    int rc = s_params(r, &q, &since, &want_list, err);
    if (rc < 0) {
        polld_error(r, 400, rc == -2 ? "bad_cursor" : "bad_request", err);
        fp_query_free(&q);
        return;
    }
    if (polld_allow(r, FP_RIGHTS_SUBSCRIBE, &r->channels) < 0) {
        fp_query_free(&q);
        return;
    }
    if (fp_responder_stopping(r->d->app))
        r->wait_ms = 0;         /*  shutting down: answer now, do not park  */
    const char *inm = fp_fcgi_req_param(req, "HTTP_IF_NONE_MATCH");
    r->if_none_match = inm ? fp_strdup(inm) : NULL;
    r->since = since && *since ? fp_strdup(since) : NULL;
    fp_query_free(&q);
    polld_presence_poll(r, want_list);
}

void
polld_poll_go(polld_req_t *r)
{
    if (!r->since)
        r->hreq = fp_hub_request(fp_responder_hub(r->d->app), "PING", NULL,
                                 s_on_ping, r);
    else
        polld_batch_since(r, r->since);
}
