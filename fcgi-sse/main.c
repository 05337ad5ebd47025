/*  fastpush-sse: a FastCGI responder that streams broker events to
 *  browsers' EventSource, behind Apache, lighttpd or nginx.
 *
 *  main.c: directives, start-up, the loop callbacks, statistics.
 */
#include "ssed.h"
#include "clock.h"
#include "fcgi_record.h"
#include "args.h"
#include "log.h"
#include "mem.h"

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
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
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
    fp_responder_opts_defaults();
    s_conf.prefix = fp_strdup("/events");
    s_conf.heartbeat = 15000;
    s_conf.retry = 2000;
    s_conf.max_channels = 32;
    s_conf.max_buffer = 256 * 1024;
    s_conf.max_query = 4096;
    s_conf.max_streams = 19000;
    s_conf.log_level = fp_strdup("info");
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: fastpush-sse [-f FILE] [-n] [-v] [--ready-fd N] "
        "[--DIRECTIVE VALUE ...]\n\n"
        "FastCGI responder streaming fastpush events as Server-Sent Events.\n"
        "Run it behind Apache (mod_proxy_fcgi with flushpackets=on), "
        "lighttpd\n(server.stream-response-body = 2) or nginx "
        "(fastcgi_buffering off):\n"
        "see docs/deploy.md.  Streams: GET PREFIX/chan1,chan2 or "
        "PREFIX?channel=a&channel=b,\nresuming from Last-Event-ID or "
        "?last_event_id=EPOCH-SEQ.\n\n"
        "  -f FILE          read directives from FILE\n"
        "  -n               check the configuration and the key and ACL files it\n"
        "                   names, then exit\n"
        "  -v               log debug messages\n"
        "  --ready-fd N     write a newline to fd N once listening\n"
        "  -h, --help       this text;  --version\n\n"
        "Directives (in FILE, or as --name value):\n");
    fp_conf_usage(s_opts, out);
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
        " s:I, s:I, s:I, s:I, s:b}}",
        "transport", "sse", "pid", (int) getpid(), "stats",
        "streams", (json_int_t) d->nstreams,
        "opened", (json_int_t) d->stats.opened,
        "closed", (json_int_t) d->stats.closed,
        "refused", (json_int_t) d->stats.refused,
        "events", (json_int_t) d->stats.events,
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

int
main(int argc, char **argv)
{
    ssed_t d = { 0 };
    fp_args_t args;
    char err[FP_ERR_LEN];

    fp_log_init("fastpush-sse", FP_LOG_INFO);
    s_defaults();
    fp_args_spec_t spec = { s_opts, NULL };
    int start = fp_args_start(&spec, argc, argv, "fastpush-sse", SSED_VERSION,
                              s_usage, &args, err);
    if (start < 0)
        fp_fatalx("%s", err);
    if (start > 0)
        return 0;
    d.conf = s_conf;
    d.authz = fp_access_new(&fp_access_conf, err);
    if (!d.authz)
        fp_fatalx("%s", err);
    if (fp_args_checked(&args, "fastpush-sse")) {
        fp_access_destroy(&d.authz);
        return 0;
    }
    fp_responder_conf_t ac = { 0 };
    fp_responder_opts_apply(&ac);
    d.app = fp_responder_new(&ac, &s_cbs, &d, err);
    if (!d.app)
        fp_fatalx("%s", err);
    d.conns = fp_responder_conns(d.app);
    fp_buf_t hb;
    fp_buf_init(&hb);
    fp_fcgi_record_stdout(&hb, 1, ": hb\n\n", 6);
    d.heartbeat = fp_blob_new(hb.data, hb.len);
    fp_buf_free(&hb);
    fp_log_info("ready: FastCGI on %s, streams under %s, broker %s, auth %s",
                *ac.fcgi.listen ? ac.fcgi.listen : "fd 0", s_conf.prefix,
                ac.hub.control, fp_access_on(d.authz) ? "on" : "off");
    fp_args_ready(&args);
    int rc = fp_responder_run(d.app);
    ssed_stop_all(&d);
    fp_log_info("stopped: %llu streams served, %llu slow cuts",
                (unsigned long long) d.stats.opened,
                (unsigned long long) d.stats.slow_cut);
    fp_responder_destroy(&d.app);
    fp_access_destroy(&d.authz);
    fp_blob_unref(&d.heartbeat);
    free(d.streams);
    fp_conf_free(s_opts);
    return rc;
}
