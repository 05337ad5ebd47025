/*  fastpush-sse: a FastCGI responder that streams broker events to
 *  browsers' EventSource, behind Apache, lighttpd or nginx.
 *
 *  main.c: directives, start-up, the loop callbacks, statistics.
 */
#include "ssed.h"
#include "clock.h"
#include "fcgi_record.h"
#include "log.h"
#include "mem.h"
#include "responder_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssed_conf_t s_conf;

static const fp_conf_opt_t s_opts[] = {
    { "", FP_CONF_NEST, (void *) fp_responder_opts, 0, 0, NULL,
      "FastCGI listener and broker, as in every fastpush responder" },
    { "prefix", FP_CONF_STR, &s_conf.prefix, 0, 0, NULL,
      "URL prefix of the streams; channels may follow it (/events)" },
    { "heartbeat", FP_CONF_MS, &s_conf.heartbeat, 100, 3600000, NULL,
      "silence before a heartbeat comment; keep it below every proxy "
      "timeout (15s)" },
    { "retry", FP_CONF_MS, &s_conf.retry, 0, 3600000, NULL,
      "reconnect delay sent to browsers (2s)" },
    { "max-channels", FP_CONF_INT, &s_conf.max_channels, 1, 1000, NULL,
      "channels per stream (32)" },
    { "max-buffer", FP_CONF_SIZE, &s_conf.max_buffer, 1024, 0, NULL,
      "bytes queued for a stream before it is cut as slow (256k)" },
    { "max-query", FP_CONF_INT, &s_conf.max_query, 16, 65536, NULL,
      "longest query string in bytes (4096)" },
    { "max-streams", FP_CONF_INT, &s_conf.max_streams, 1, 1000000, NULL,
      "open streams in this process (19000; the fd limit is 20000)" },
    { "allow-origin", FP_CONF_LIST, &s_conf.allow_origin, 0, 0, NULL,
      "origins allowed to read streams cross-origin (CORS); * = any" },
    { "max-body", FP_CONF_SIZE, &s_conf.max_body, 64, 64 << 20, NULL,
      "request body bytes: a Mercure publish (64k)" },
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
    { "mercure-path", FP_CONF_STR, &s_conf.mercure.path, 0, 0, NULL,
      "where the Mercure hub answers, e.g. /.well-known/mercure; \"\" = "
      "no hub (\"\"; docs/mercure.md)" },
    { "mercure-channel", FP_CONF_STR, &s_conf.mercure.channel, 0, 0, NULL,
      "the fastpush channel holding every Mercure update (mercure)" },
    { "mercure-publisher-key", FP_CONF_STR, &s_conf.mercure.publisher_key,
      0, 0, NULL, "file with the publishers' JWT key: an HS256 secret of "
      "32 bytes or more, or an RS256 PEM public key" },
    { "mercure-subscriber-key", FP_CONF_STR, &s_conf.mercure.subscriber_key,
      0, 0, NULL, "file with the subscribers' JWT key (the publisher key)" },
    { "mercure-jwt-alg", FP_CONF_STR, &s_conf.mercure.jwt_alg, 0, 0, NULL,
      "HS256 or RS256 (HS256)" },
    { "mercure-anonymous", FP_CONF_BOOL, &s_conf.mercure.anonymous, 0, 0,
      NULL, "subscribers without a token get public updates (off)" },
    { "mercure-max-topics", FP_CONF_INT, &s_conf.mercure.max_topics, 1,
      1000, NULL, "topics of an update, selectors of a subscription (64)" },
    { "mercure-cookie", FP_CONF_STR, &s_conf.mercure.cookie, 0, 0, NULL,
      "the cookie that may carry a token (mercureAuthorization)" },
    { "mercure-subscriptions", FP_CONF_BOOL, &s_conf.mercure.subscriptions,
      0, 0, NULL, "subscription events and the subscriptions API, kept by "
      "the broker's presence (off)" },
    { "", FP_CONF_NEST, (void *) fp_access_opts, 0, 0, NULL,
      "authorization, shared with fastpush-poll and fastpush-ws: "
      "docs/security.md" },
    { "", FP_CONF_NEST, (void *) fp_sockauth_opts, 0, 0, NULL,
      "credentials for a broker that requires them (CURVE, token)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void
s_defaults(void)
{
    s_conf.prefix = fp_strdup("/events");
    s_conf.heartbeat = 15000;
    s_conf.retry = 2000;
    s_conf.max_channels = 32;
    s_conf.max_buffer = 256 * 1024;
    s_conf.max_query = 4096;
    s_conf.max_streams = 19000;
    s_conf.max_body = 64 * 1024;
    s_conf.log_level = fp_strdup("info");
    s_conf.mercure.path = fp_strdup("");
    s_conf.mercure.channel = fp_strdup("mercure");
    s_conf.mercure.jwt_alg = fp_strdup("HS256");
    s_conf.mercure.max_topics = 64;
    s_conf.mercure.cookie = fp_strdup("mercureAuthorization");
}

static void
s_usage(FILE *out)
{
    fp_responder_usage(out, "fastpush-sse",
        "FastCGI responder streaming fastpush events as Server-Sent Events.\n"
        "Run it behind Apache (mod_proxy_fcgi with flushpackets=on), "
        "lighttpd\n(server.stream-response-body = 2) or nginx "
        "(fastcgi_buffering off):\n"
        "see docs/deploy.md.  Streams: GET PREFIX/chan1,chan2 or "
        "PREFIX?channel=a&channel=b,\nresuming from Last-Event-ID or "
        "?last_event_id=EPOCH-SEQ.\n"
        "With mercure-path it is also a Mercure hub (symfony/mercure): "
        "docs/mercure.md.\n", s_opts);
}

/*  Tell the broker how this responder is doing (shown by STATS, the
 *  /stats page and /metrics).  */
static void
s_report(ssed_t *d)
{
    fp_hub_stats_t hs;
    fp_hub_stats(fp_responder_hub(d->app), &hs);
    json_t *body = json_pack(
        "{s:s, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I, s:I, s:I, s:b}}",
        "transport", "sse", "pid", (int) getpid(), "stats",
        "streams", (json_int_t) d->nstreams,
        "opened", (json_int_t) d->stats.opened,
        "closed", (json_int_t) d->stats.closed,
        "refused", (json_int_t) d->stats.refused,
        "events", (json_int_t) d->stats.events,
        "mercure_published", (json_int_t) d->stats.mercure_published,
        "resets", (json_int_t) d->stats.resets,
        "slow_cut", (json_int_t) d->stats.slow_cut,
        "late", (json_int_t) d->stats.late,
        "gone", (json_int_t) d->stats.gone,
        "bytes", (json_int_t) d->stats.bytes,
        "gaps", (json_int_t) hs.gaps,
        "backfilled", (json_int_t) hs.backfilled,
        "channels", (json_int_t) hs.channels,
        "broker_up", hs.broker_up);
    fp_access_report(d->authz, json_object_get(body, "stats"));
    fp_hub_request(fp_responder_hub(d->app), "REPORT", body, NULL, NULL);
}

static void
s_on_request(fp_responder_t *app, fp_fcgi_req_t *req, void *arg)
{
    if (ssed_mercure_wants(arg, req))
        ssed_mercure_route(arg, req);
    else
        ssed_route(arg, req);
}

static void
s_on_tick(fp_responder_t *app, int64_t now, void *arg)
{
    ssed_t *d = arg;
    if (now >= d->next_sweep) {
        ssed_sweep(d, now);
        fp_fcgi_conns_reap(d->conns, now, (int64_t) d->conf.heartbeat);
        fp_access_tick(d->authz, now);
        d->next_sweep = now + 1000;
    }
    if (now >= d->next_report) {
        s_report(d);
        d->next_report = now + 5000;
    }
}

static void
s_on_stopping(fp_responder_t *app, void *arg)
{
    ssed_stop_all(arg);
}

static const fp_responder_cbs_t s_cbs = { s_on_request, NULL, s_on_tick,
                                    s_on_stopping };

/*  The responder is set up: take the configuration, make the heartbeat
 *  record every stream shares, say so.  */
static void
s_ready(void *arg)
{
    ssed_t *d = arg;
    fp_buf_t hb;

    d->conf = s_conf;
    fp_buf_init(&hb);
    fp_fcgi_record_stdout(&hb, 1, ": hb\n\n", 6);
    d->heartbeat = fp_blob_new(hb.data, hb.len);
    fp_buf_free(&hb);
    fp_log_info("ready: FastCGI on %s, streams under %s, broker %s, auth "
                "%s%s%s", fp_responder_listen_name(), s_conf.prefix,
                fp_responder_opts_conf.control,
                fp_access_on(d->authz) ? "on" : "off",
                d->mercure ? ", Mercure hub at " : "",
                d->mercure ? s_conf.mercure.path : "");
}

/*  The loop ended: end every stream, log the totals.  */
static void
s_stopped(void *arg)
{
    ssed_t *d = arg;
    ssed_stop_all(d);
    ssed_mwait_stop_all(d);
    fp_log_info("stopped: %llu streams served, %llu slow cuts",
                (unsigned long long) d->stats.opened,
                (unsigned long long) d->stats.slow_cut);
}

static void
s_release(void *arg)
{
    ssed_t *d = arg;
    fp_blob_unref(&d->heartbeat);
    free(d->streams);
    ssed_mercure_destroy(d);
}

/*  Directives only fastpush-sse knows: the Mercure hub's keys.  */
static int
s_check(void *arg, char *err)
{
    return ssed_mercure_new(arg, &s_conf, err);
}

int
main(int argc, char **argv)
{
    ssed_t d = { 0 };
    const fp_responder_prog_t prog = {
        "fastpush-sse", SSED_VERSION, s_opts, s_defaults, s_usage,
        &s_conf.max_body, &s_cbs, &d, &d.app, &d.authz, &d.conns, s_ready,
        s_stopped, s_release, s_check
    };
    return fp_responder_main(&prog, argc, argv);
}
