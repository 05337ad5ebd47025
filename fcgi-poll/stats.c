/*  stats: GET PREFIX/stats (JSON) and GET PREFIX/metrics (Prometheus).
 *
 *  Both ask the broker for STATS, which includes the latest REPORT of
 *  every responder (SSE, poll, WebSocket), so one scrape covers the
 *  whole system: connections per transport, subscribers per channel,
 *  events in and out, resets, gaps backfilled, slow clients cut, store
 *  figures.
 *
 *  Who may ask is `stats-access` (lib/statsgate.h): off (404), open, or
 *  any of local (REMOTE_ADDR, as the web server saw the peer, is a
 *  loopback address; never a forwarded header), token (Authorization:
 *  Bearer stats-token) and auth (the auth directives' client may
 *  subscribe to `stats-right`).  Refusals are 403 `forbidden`.
 */
#include "polld.h"
#include "json.h"
#include "mem.h"
#include "statsgate.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const s_route_names[POLLD_R_COUNT] = {
    "poll", "state", "publish", "stats", "metrics", "health", "ready",
    "pusher" };

json_t *
polld_self_stats(polld_t *d)
{
    polld_stats_t *s = &d->stats;
    fp_hub_stats_t hs;
    json_t *routes = json_object(), *codes = json_object();

    fp_hub_stats(fp_responder_hub(d->app), &hs);
    for (int i = 0; i < POLLD_R_COUNT; i++)
        json_object_set_new(routes, s_route_names[i],
                            json_integer((json_int_t) s->requests[i]));
    for (int i = 1; i < 6; i++) {
        char k[8];
        snprintf(k, sizeof k, "%dxx", i);
        json_object_set_new(codes, k, json_integer((json_int_t) s->status[i]));
    }
    json_t *st = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:I, s:I, s:b}",
                     "requests", routes, "responses", codes,
                     "not_modified", (json_int_t) s->not_modified,
                     "waiting", (json_int_t) d->nparked,
                     "parked", (json_int_t) s->parked,
                     "woken", (json_int_t) s->woken,
                     "timed_out", (json_int_t) s->timed_out,
                     "events", (json_int_t) s->events,
                     "resets", (json_int_t) s->resets,
                     "published", (json_int_t) s->published,
                     "gone", (json_int_t) s->gone,
                     "gaps", (json_int_t) hs.gaps,
                     "backfilled", (json_int_t) hs.backfilled,
                     "broker_up", hs.broker_up);
    json_object_set_new(st, "stats_refused",
                        json_integer((json_int_t) s->stats_refused));
    json_object_set_new(st, "since_sent",
                        json_integer((json_int_t) s->since_sent));
    json_object_set_new(st, "since_shared",
                        json_integer((json_int_t) s->since_shared));
    json_object_set_new(st, "presence", json_pack("{s:I, s:I, s:I, s:I}",
        "members", (json_int_t) (d->presence ? zhashx_size(d->presence) : 0),
        "joined", (json_int_t) s->presence_joined,
        "idle", (json_int_t) s->presence_idle,
        "refused", (json_int_t) s->presence_refused));
    fp_access_report(d->authz, st);
    return st;
}

/* ------------------------------------------------------------ Prometheus */

static void
s_label(fp_buf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fp_buf_addc(b, '\\');
        if (*v == '\n')
            fp_buf_adds(b, "\\n");
        else
            fp_buf_addc(b, *v);
    }
}

static void
s_help(fp_buf_t *b, const char *name, const char *type, const char *help)
{
    fp_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_metric(fp_buf_t *b, const char *name, const char *type, const char *help,
         json_t *v)
{
    s_help(b, name, type, help);
    fp_buf_addf(b, "%s %lld\n", name, (long long) json_integer_value(v));
}

static long long
s_get(json_t *o, const char *a, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(o, a), k));
}

static void
s_broker_metrics(fp_buf_t *b, json_t *st)
{
    static const struct {
        const char *name, *type, *group, *key, *help;
    } m[] = {
        { "fastpush_events_published_total", "counter", "events",
          "published", "Events accepted by the broker." },
        { "fastpush_events_rejected_total", "counter", "events", "rejected",
          "Publishes the broker refused." },
        { "fastpush_events_unauthorized_total", "counter", "events",
          "unauthorized", "Publishes refused for a missing or wrong "
          "publish token." },
        { "fastpush_events_rate_limited_total", "counter", "events",
          "rate_limited", "Publishes refused by the broker's publish-rate." },
        { "fastpush_history_events", "gauge", "history", "events",
          "Events held in history." },
        { "fastpush_history_bytes", "gauge", "history", "bytes",
          "Bytes of event JSON held in history." },
        { "fastpush_history_trimmed_total", "counter", "history", "trimmed",
          "Events dropped from history by its limits." },
        { "fastpush_keys", "gauge", "history", "keys",
          "Keys held in keyed (compacted) channels." },
        { "fastpush_since_requests_total", "counter", "requests", "since",
          "SINCE (resume) requests answered by the broker." },
        { "fastpush_resets_total", "counter", "requests", "resets",
          "Channel resets answered by the broker." },
        { "fastpush_snapshots_total", "counter", "requests", "snapshots",
          "Keyed snapshots answered by the broker." },
        { "fastpush_channels", "gauge", "channels", "count",
          "Channels the broker knows." },
        { "fastpush_subscriptions", "gauge", "channels", "subscribers",
          "Responder subscriptions to channels." },
    };
    fp_buf_adds(b, "# HELP fastpush_up Whether the broker answered.\n"
                "# TYPE fastpush_up gauge\nfastpush_up 1\n");
    s_metric(b, "fastpush_head_seq", "gauge", "Newest sequence number.",
             json_object_get(st, "head"));
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        s_help(b, m[i].name, m[i].type, m[i].help);
        fp_buf_addf(b, "%s %lld\n", m[i].name, s_get(st, m[i].group,
                                                      m[i].key));
    }
}

/*  One metric family over the busiest channels' counter `key`.  */
static void
s_channel_metric(fp_buf_t *b, json_t *st, const char *name,
                 const char *type, const char *key, const char *help)
{
    size_t i;
    json_t *c;
    s_help(b, name, type, help);
    json_array_foreach(json_object_get(st, "top"), i, c) {
        fp_buf_addf(b, "%s{channel=\"", name);
        s_label(b, json_string_value(json_object_get(c, "channel")));
        fp_buf_addf(b, "\"} %lld\n", (long long) json_integer_value(
                        json_object_get(c, key)));
    }
}

static void
s_channel_metrics(fp_buf_t *b, json_t *st)
{
    s_channel_metric(b, st, "fastpush_channel_subscribers", "gauge",
                     "subscribers",
                     "Responder subscriptions per channel (busiest "
                     "channels).");
    s_channel_metric(b, st, "fastpush_channel_published_total", "counter",
                     "published",
                     "Events published per channel (busiest channels).");
}

/*  One metric family over every responder's reported counter `key`.  */
static void
s_responder_metric(fp_buf_t *b, json_t *resp, const char *name,
                   const char *type, const char *key, const char *help)
{
    size_t i;
    json_t *r;
    s_help(b, name, type, help);
    json_array_foreach(resp, i, r) {
        json_t *v = json_object_get(json_object_get(r, "stats"), key);
        if (!json_is_integer(v))
            continue;
        fp_buf_addf(b, "%s{transport=\"", name);
        s_label(b, json_string_value(json_object_get(r, "transport")));
        fp_buf_addf(b, "\",pid=\"%lld\"} %lld\n",
                    (long long) json_integer_value(json_object_get(r, "pid")),
                    (long long) json_integer_value(v));
    }
}

static void
s_responder_metrics(fp_buf_t *b, json_t *st)
{
    static const struct { const char *name, *type, *key, *help; } m[] = {
        { "fastpush_connections", "gauge", "streams",
          "Open client connections (SSE streams, WebSocket connections)." },
        { "fastpush_waiting_polls", "gauge", "waiting",
          "Long-polls waiting for events." },
        { "fastpush_delivered_events_total", "counter", "events",
          "Events written to clients." },
        { "fastpush_client_resets_total", "counter", "resets",
          "Resets told to clients." },
        { "fastpush_gaps_total", "counter", "gaps",
          "Gaps detected in a responder's feed." },
        { "fastpush_gaps_backfilled_events_total", "counter", "backfilled",
          "Events fetched to fill gaps." },
        { "fastpush_slow_clients_cut_total", "counter", "slow_cut",
          "Clients cut for not reading." },
        { "fastpush_clients_gone_total", "counter", "gone",
          "Clients that went away." },
        { "fastpush_auth_unauthorized_total", "counter", "auth_unauthorized",
          "Requests and messages refused with 401: no or an invalid token." },
        { "fastpush_auth_forbidden_total", "counter", "auth_forbidden",
          "Requests and messages refused with 403: no right to the "
          "channel." },
        { "fastpush_auth_expired_total", "counter", "auth_expired",
          "Streams and connections ended because their token expired." },
        { "fastpush_user_connections_limited_total", "counter",
          "user_connections_limited",
          "Connections refused by max-user-connections." },
        { "fastpush_publish_rate_limited_total", "counter",
          "publish_rate_limited", "Publishes refused by publish-rate." },
    };
    json_t *resp = json_object_get(st, "responders");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        s_responder_metric(b, resp, m[i].name, m[i].type, m[i].key,
                           m[i].help);
}

/*  Every integer member of the broker's "store" object, if it has one.  */
static void
s_store_metrics(fp_buf_t *b, json_t *st)
{
    json_t *store = json_object_get(st, "store"), *v;
    const char *k;
    json_object_foreach(store, k, v) {
        if (!json_is_integer(v) && !json_is_real(v))
            continue;
        fp_buf_addf(b, "# HELP fastpush_store_%s Durable store: %s.\n"
                    "# TYPE fastpush_store_%s gauge\nfastpush_store_%s %g\n",
                    k, k, k, k, json_number_value(v));
    }
}

static void
s_on_stats(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    bool prom = r->route == POLLD_R_METRICS;
    fp_buf_t b;

    r->hreq = NULL;
    if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    json_object_del(meta, "tag");
    fp_buf_init(&b);
    if (prom) {
        s_broker_metrics(&b, meta);
        s_channel_metrics(&b, meta);
        s_responder_metrics(&b, meta);
        s_store_metrics(&b, meta);
    } else {
        json_t *all = json_pack("{s:O, s:o}", "broker", meta, "self",
                                polld_self_stats(r->d));
        fp_json_append(&b, all);
        fp_buf_addc(&b, '\n');
        json_decref(all);
    }
    polld_answer(r, 200, prom ? "Content-Type: text/plain; version=0.0.4\r\n"
                                "Cache-Control: no-store\r\n"
                              : "Content-Type: application/json\r\n"
                                "Cache-Control: no-store\r\n",
                 b.data, b.len);
    fp_buf_free(&b);
}

/* ------------------------------------------------------------ access */

int
polld_stats_check(polld_conf_t *conf, const fp_access_t *authz, char *err)
{
    if (fp_statsgate_parse(conf->stats_access, &conf->stats_ways, err) < 0)
        return -1;
    if ((conf->stats_ways & FP_STATSGATE_TOKEN) &&
        strlen(conf->stats_token) < 16) {
        snprintf(err, FP_ERR_LEN, "stats-access token needs a stats-token "
                 "of at least 16 bytes");
        return -1;
    }
    if ((conf->stats_ways & FP_STATSGATE_AUTH) && !fp_access_on(authz)) {
        snprintf(err, FP_ERR_LEN, "stats-access auth needs `auth on` "
                 "(docs/security.md)");
        return -1;
    }
    return 0;
}

/*  stats-access auth: may the client the auth directives find subscribe
 *  to stats-right?  The client is kept in r (freed with it).  */
static bool
s_auth_ok(polld_req_t *r, fp_fcgi_req_t *req)
{
    char err[FP_ERR_LEN];
    const char *right = r->d->conf.stats_right;
    if (fp_access_identify_fcgi(r->d->authz, req, &r->client, err) != 0)
        return false;
    return fp_access_allow(r->d->authz, r->client, FP_RIGHTS_SUBSCRIBE,
                           &right, 1, err) == 0;
}

/*  Does stats-access admit the request?  0, or -1 with the refusal
 *  answered (404 when off, else 403 saying what was missing).  */
static int
s_admit(polld_req_t *r, fp_fcgi_req_t *req)
{
    const polld_conf_t *c = &r->d->conf;
    unsigned ways = c->stats_ways;
    const char *addr = fp_fcgi_req_param(req, "REMOTE_ADDR");
    const char *route = r->route == POLLD_R_METRICS ? "metrics" : "stats";
    char msg[FP_ERR_LEN];

    if (ways == 0) {
        snprintf(msg, sizeof msg, "%s/%s is off (stats-access off)",
                 c->prefix, route);
        polld_error(r, 404, "not_found", msg);
        return -1;
    }
    if ((ways & FP_STATSGATE_OPEN) ||
        ((ways & FP_STATSGATE_LOCAL) && fp_statsgate_loopback(addr)) ||
        ((ways & FP_STATSGATE_TOKEN) &&
         fp_statsgate_bearer(c->stats_token, fp_fcgi_req_param(
                                 req, "HTTP_AUTHORIZATION"))) ||
        ((ways & FP_STATSGATE_AUTH) && s_auth_ok(r, req)))
        return 0;
    r->d->stats.stats_refused++;
    snprintf(msg, sizeof msg, "%s/%s refused by stats-access %s:%s%.64s%s%s%s",
             c->prefix, route, c->stats_access,
             ways & FP_STATSGATE_LOCAL ? " the peer " : "",
             ways & FP_STATSGATE_LOCAL ? (addr ? addr : "(unknown)") : "",
             ways & FP_STATSGATE_LOCAL ? " is not a loopback address;" : "",
             ways & FP_STATSGATE_TOKEN ? " no valid Authorization: Bearer "
                                         "stats token;" : "",
             ways & FP_STATSGATE_AUTH ? " the client may not subscribe to "
                                        "stats-right;" : "");
    msg[strlen(msg) - 1] = '\0';
    polld_error(r, 403, "forbidden", msg);
    return -1;
}

void
polld_stats(polld_req_t *r, fp_fcgi_req_t *req)
{
    if (s_admit(r, req) < 0)
        return;
    r->hreq = fp_hub_request(fp_responder_hub(r->d->app), "STATS",
                             json_pack("{s:I}", "top",
                                       (json_int_t) r->d->conf.metrics_top),
                             s_on_stats, r);
}
