/*  fastpush-poll: delta-sync polls, long-polls, HTTP publish, stats and
 *  Prometheus metrics, as a FastCGI responder.
 *
 *  main.c: directives, start-up, the loop callbacks, reports.
 */
#include "polld.h"
#include "fcgi_record.h"
#include "log.h"
#include "mem.h"
#include "responder_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static polld_conf_t s_conf;

static const fp_conf_opt_t s_opts[] = {
    { "", FP_CONF_NEST, (void *) fp_responder_opts, 0, 0, NULL,
      "FastCGI listener and broker, as in every fastpush responder" },
    { "prefix", FP_CONF_STR, &s_conf.prefix, 0, 0, NULL,
      "URL prefix of the routes /poll /state /publish /stats /metrics "
      "(/push)" },
    { "max-channels", FP_CONF_INT, &s_conf.max_channels, 1, 1000, NULL,
      "channels per poll (32)" },
    { "default-limit", FP_CONF_INT, &s_conf.default_limit, 1, 100000, NULL,
      "events per answer when the poll gives no limit (100)" },
    { "max-limit", FP_CONF_INT, &s_conf.max_limit, 1, 100000, NULL,
      "largest ?limit (1000)" },
    { "max-wait", FP_CONF_MS, &s_conf.max_wait, 1000, 3600000, NULL,
      "longest ?wait; keep it below the web server's timeout (30s)" },
    { "max-parked", FP_CONF_INT, &s_conf.max_parked, 1, 1000000, NULL,
      "long-polls waiting at once (15000)" },
    { "max-body", FP_CONF_SIZE, &s_conf.max_body, 64, 64 << 20, NULL,
      "largest publish body (64k)" },
    { "max-query", FP_CONF_INT, &s_conf.max_query, 16, 65536, NULL,
      "longest query string in bytes (4096)" },
    { "publish-secret", FP_CONF_STR, &s_conf.publish_secret, 0, 0, NULL,
      "shared secret for POST /publish (X-Fastpush-Secret); empty = "
      "publishing off" },
    { "allow-origin", FP_CONF_LIST, &s_conf.allow_origin, 0, 0, NULL,
      "origins allowed to call cross-origin (CORS); * = any" },
    { "metrics-top", FP_CONF_INT, &s_conf.metrics_top, 0, 1000, NULL,
      "channels listed in /stats and /metrics (20)" },
    { "stats-access", FP_CONF_STR, &s_conf.stats_access, 0, 0, NULL,
      "who may read /stats and /metrics: off, open, or local, token, "
      "auth joined by commas (local: loopback REMOTE_ADDR only)" },
    { "stats-token", FP_CONF_STR, &s_conf.stats_token, 0, 0, NULL,
      "stats-access token: the secret (16+ bytes) sent as "
      "Authorization: Bearer (none)" },
    { "stats-right", FP_CONF_STR, &s_conf.stats_right, 0, 0, NULL,
      "stats-access auth: the channel a client must be allowed to "
      "subscribe to (fastpush.stats)" },
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
    { "pusher-apps", FP_CONF_STR, &s_conf.pusher_apps, 0, 0, NULL,
      "apps file (ID KEY SECRET [options] per line) of the Pusher HTTP "
      "API under PUSHER-PATH/apps/ID/; empty = off (off)" },
    { "pusher-path", FP_CONF_STR, &s_conf.pusher_path, 0, 0, NULL,
      "URL path above /apps/ID/ (the pusher library's `path`; \"\" = "
      "/apps at the root) (\"\")" },
    { "pusher-max-batch", FP_CONF_INT, &s_conf.pusher_max_batch, 1, 1000,
      NULL, "events in one batch_events (10)" },
    { "pusher-max-channels", FP_CONF_INT, &s_conf.pusher_max_channels, 1,
      1000, NULL, "channels of one event (100)" },
    { "pusher-max-data", FP_CONF_SIZE, &s_conf.pusher_max_data, 16,
      1 << 20, NULL, "bytes of one event's data (10k)" },
    { "pusher-max-skew", FP_CONF_MS, &s_conf.pusher_max_skew, 1000,
      86400000, NULL, "how far auth_timestamp may be from our clock "
      "(600s)" },
    { "presence-idle", FP_CONF_MS, &s_conf.presence_idle, 1000, 3600000,
      NULL, "a user that polls a presence channel stays a member this long "
      "after its last poll ended (30s)" },
    { "max-presence", FP_CONF_INT, &s_conf.max_presence, 1, 10000000, NULL,
      "presence members (user and channel) of polls kept at once; a new "
      "one past it gets 503 (100000)" },
    { "max-presence-user", FP_CONF_INT, &s_conf.max_presence_user, 1,
      100000, NULL, "presence channels one user may be a member of through "
      "this process's polls; a new one past it gets 429 (64)" },
    { "", FP_CONF_NEST, (void *) fp_access_opts, 0, 0, NULL,
      "authorization, shared with fastpush-sse and fastpush-ws: "
      "docs/security.md" },
    { "", FP_CONF_NEST, (void *) fp_sockauth_opts, 0, 0, NULL,
      "credentials for a broker that requires them (CURVE, token)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void
s_defaults(void)
{
    s_conf.prefix = fp_strdup("/push");
    s_conf.max_channels = 32;
    s_conf.default_limit = 100;
    s_conf.max_limit = 1000;
    s_conf.max_wait = 30000;
    s_conf.max_parked = 15000;
    s_conf.max_body = 64 * 1024;
    s_conf.max_query = 4096;
    s_conf.publish_secret = fp_strdup("");
    s_conf.metrics_top = 20;
    s_conf.stats_access = fp_strdup("local");
    s_conf.stats_token = fp_strdup("");
    s_conf.stats_right = fp_strdup("fastpush.stats");
    s_conf.log_level = fp_strdup("info");
    s_conf.pusher_apps = fp_strdup("");
    s_conf.pusher_path = fp_strdup("");
    s_conf.pusher_max_batch = 10;
    s_conf.pusher_max_channels = 100;
    s_conf.pusher_max_data = 10 * 1024;
    s_conf.pusher_max_skew = 600000;
    s_conf.presence_idle = 30000;
    s_conf.max_presence = 100000;
    s_conf.max_presence_user = 64;
}

static void
s_usage(FILE *out)
{
    fp_responder_usage(out, "fastpush-poll",
        "FastCGI responder for fastpush polls and HTTP publishing:\n"
        "  GET  PREFIX/poll?channel=a&since=CURSOR[&limit=N][&wait=S]\n"
        "       (and &presence=1: the presence channels' member lists)\n"
        "  GET  PREFIX/state?channel=c\n"
        "  POST PREFIX/publish        (X-Fastpush-Secret, or publish "
        "rights with auth on)\n"
        "  GET  PREFIX/stats, PREFIX/metrics\n"
        "  GET  PREFIX/health         (200 while serving)\n"
        "  GET  PREFIX/health/ready   (200 when the broker can take events, "
        "else 503)\n"
        "With pusher-apps, the Pusher HTTP API (docs/pusher.md):\n"
        "  POST PUSHER-PATH/apps/ID/events, .../batch_events\n"
        "  GET  PUSHER-PATH/apps/ID/channels, .../channels/NAME, "
        ".../channels/NAME/users\n"
        "Works behind lighttpd, Apache (mod_proxy_fcgi or mod_fcgid) and "
        "nginx;\nsee docs/deploy.md and docs/protocol.md.\n", s_opts);
}

static void
s_report(polld_t *d)
{
    json_t *body = json_pack("{s:s, s:i, s:o}", "transport", "poll",
                             "pid", (int) getpid(), "stats",
                             polld_self_stats(d));
    fp_hub_request(fp_responder_hub(d->app), "REPORT", body, NULL, NULL);
}

static void
s_on_request(fp_responder_t *app, fp_fcgi_req_t *req, void *arg)
{
    polld_route(arg, req);
}

static void
s_on_round(fp_responder_t *app, void *arg)
{
    polld_t *d = arg;
    polld_answer_due(d);
}

static void
s_on_tick(fp_responder_t *app, int64_t now, void *arg)
{
    polld_t *d = arg;
    polld_expire(d, now);
    polld_presence_expire(d, now);
    if (now >= d->next_report) {
        fp_access_tick(d->authz, now);
        s_report(d);
        d->next_report = now + 5000;
    }
}

/*  SIGTERM: answer every waiting long-poll now (empty), so clients poll
 *  again elsewhere; requests waiting on the broker finish normally.  */
static void
s_on_stopping(fp_responder_t *app, void *arg)
{
    polld_expire(arg, INT64_MAX);
}

static const fp_responder_cbs_t s_cbs = { s_on_request, s_on_round, s_on_tick,
                                    s_on_stopping };

/*  The responder is set up: take the configuration, say so.  */
static void
s_ready(void *arg)
{
    polld_t *d = arg;
    d->conf = s_conf;
    fp_log_info("ready: FastCGI on %s, routes under %s, broker %s, auth %s, "
                "HTTP publish %s, stats-access %s, Pusher API %s%s%s",
                fp_responder_listen_name(), s_conf.prefix,
                fp_responder_opts_conf.control,
                fp_access_on(d->authz) ? "on" : "off",
                *s_conf.publish_secret ? "with the secret" : "without secret",
                s_conf.stats_access, d->pusher ? "under " : "off",
                d->pusher ? s_conf.pusher_path : "",
                d->pusher ? "/apps" : "");
}

/*  The loop ended: answer every poll still waiting.  */
static void
s_stopped(void *arg)
{
    polld_expire(arg, INT64_MAX);
    polld_answer_due(arg);
}

static int
s_check(void *arg, char *err)
{
    polld_t *d = arg;
    if (polld_stats_check(&s_conf, d->authz, err) < 0)
        return -1;
    return polld_pusher_load(d, &s_conf, err);
}

static void
s_release(void *arg)
{
    polld_t *d = arg;
    free(d->parked);
    polld_batch_release(d);
    polld_presence_free(d);
    fp_pusher_apps_destroy(&d->pusher);
}

int
main(int argc, char **argv)
{
    polld_t d = { 0 };
    const fp_responder_prog_t prog = {
        "fastpush-poll", POLLD_VERSION, s_opts, s_defaults, s_usage,
        &s_conf.max_body, &s_cbs, &d, &d.app, &d.authz, &d.conns,
        s_ready, s_stopped, s_release, s_check
    };
    return fp_responder_main(&prog, argc, argv);
}
