/*  fastpush-broker: receives events from applications, keeps a bounded
 *  history per channel and fans events out to the responders.
 *
 *  main.c: command line, configuration, sockets, the reactor, shutdown.
 */
#include "broker.h"
#include "args.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "sdnotify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static broker_conf_t s_conf;
static const char *const s_fsync_choices[] = { "always", "everysec", "no",
                                               NULL };
static const char *const s_engine_choices[] = { "local", "jetstream", NULL };
static const char *const s_stats_choices[] = { "open", "token", "off", NULL };

static const fp_conf_opt_t s_opts[] = {
    { "ingest", FP_CONF_STR, &s_conf.ingest, 0, 0, NULL,
      "PULL endpoint(s) for fire-and-forget publishes (comma-separated)" },
    { "control", FP_CONF_STR, &s_conf.control, 0, 0, NULL,
      "ROUTER endpoint(s) for PUBLISH, SINCE, STATE, STATS, PING" },
    { "fanout", FP_CONF_STR, &s_conf.fanout, 0, 0, NULL,
      "XPUB endpoint(s) the responders subscribe to" },
    { "history-count", FP_CONF_INT, &s_conf.history_count, 1, 100000000,
      NULL, "events kept per channel (1000)" },
    { "history-bytes", FP_CONF_SIZE, &s_conf.history_bytes, 1, 0, NULL,
      "bytes of event JSON kept per channel (1m)" },
    { "history-age", FP_CONF_MS, &s_conf.history_age, 0, 0, NULL,
      "how long an event is kept, 0 = no limit (1h)" },
    { "history-memory", FP_CONF_SIZE, &s_conf.history_memory, 1, 0, NULL,
      "bytes of event JSON kept over all channels (256m)" },
    { "max-event-bytes", FP_CONF_SIZE, &s_conf.max_event_bytes, 16,
      64 << 20, NULL, "largest event: data plus names (64k)" },
    { "max-keys", FP_CONF_INT, &s_conf.max_keys, 1, 100000000, NULL,
      "keys per keyed channel (10000)" },
    { "max-channels", FP_CONF_INT, &s_conf.max_channels, 1, 100000000, NULL,
      "channels known at once; idle ones are forgotten past it (100000)" },
    { "max-since-channels", FP_CONF_INT, &s_conf.max_since_channels, 1,
      100000, NULL, "channels in one SINCE request (1000)" },
    { "max-reply-events", FP_CONF_INT, &s_conf.max_reply_events, 1, 1000000,
      NULL, "events in one SINCE reply (10000)" },
    { "heartbeat", FP_CONF_MS, &s_conf.heartbeat, 50, 60000, NULL,
      "interval of fanout heartbeats and housekeeping (1s)" },
    { "fanout-hwm", FP_CONF_INT, &s_conf.fanout_hwm, 0, 100000000, NULL,
      "messages queued per subscriber before drops (100000)" },
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
    { "store", FP_CONF_STR, &s_conf.store, 0, 0, NULL,
      "durable log directory (none: memory only, new epoch per start)" },
    { "store-fsync", FP_CONF_ENUM, &s_conf.store_fsync, 0, 0,
      s_fsync_choices, "always, everysec or no (everysec)" },
    { "store-segment-bytes", FP_CONF_SIZE, &s_conf.store_segment_bytes,
      4096, 0, NULL, "new data per segment file of the store (64m)" },
    { "curve-secret-key", FP_CONF_STR, &s_conf.curve_secret_key, 0, 0, NULL,
      "CURVE: the broker's secret certificate (fastpush keygen); every "
      "socket then needs a client key from curve-clients (none)" },
    { "curve-clients", FP_CONF_STR, &s_conf.curve_clients, 0, 0, NULL,
      "CURVE: directory of the public certificates of allowed clients" },
    { "publish-token", FP_CONF_STR, &s_conf.publish_token, 0, 0, NULL,
      "shared secret (16+ bytes) every publish must carry as its last "
      "frame (none)" },
    { "publish-rate", FP_CONF_INT, &s_conf.publish_rate, 0, 100000000, NULL,
      "events a second per publisher connection, 0 = no limit (0)" },
    { "stats-access", FP_CONF_ENUM, &s_conf.stats_access, 0, 0,
      s_stats_choices, "who may ask STATS: open (every peer of the control "
      "socket), token (requests carrying publish-token) or off (open)" },
    { "stats-channels", FP_CONF_BOOL, &s_conf.stats_channels, 0, 0, NULL,
      "STATS lists the busiest channels by name (\"top\"); off: counts "
      "only (on)" },
    { "engine", FP_CONF_ENUM, &s_conf.engine, 0, 0, s_engine_choices,
      "where history and numbering live: local (this process: memory or "
      "`store`) or jetstream (a NATS JetStream stream; docs/operations.md, "
      "\"More than one broker\") (local)" },
    { "nats-url", FP_CONF_STR, &s_conf.nats_url, 0, 0, NULL,
      "jetstream: the NATS servers, comma-separated "
      "(nats://127.0.0.1:4222)" },
    { "nats-stream", FP_CONF_STR, &s_conf.nats_stream, 0, 0, NULL,
      "jetstream: the events stream; NAME_KEYS holds the keys (FASTPUSH)" },
    { "nats-subject", FP_CONF_STR, &s_conf.nats_subject, 0, 0, NULL,
      "jetstream: the subjects' first token: PREFIX.e.CHANNEL, "
      "PREFIX.k.CHANNEL.KEY (fastpush)" },
    { "nats-replicas", FP_CONF_INT, &s_conf.nats_replicas, 1, 5, NULL,
      "jetstream: copies of the streams; a publish is acknowledged once a "
      "majority stored it (1)" },
    { "nats-credentials", FP_CONF_STR, &s_conf.nats_credentials, 0, 0, NULL,
      "jetstream: a NATS .creds file (none)" },
    { "nats-max-msgs", FP_CONF_INT, &s_conf.nats_max_msgs, 1, INT64_MAX / 2,
      NULL, "jetstream: events the stream keeps; history-age is its age "
      "limit (1000000)" },
    { "nats-max-bytes", FP_CONF_SIZE, &s_conf.nats_max_bytes, 0, 0,
      NULL, "jetstream: bytes the stream keeps; each replica's server "
      "reserves them (0: no limit but the servers' max_file_store) (0)" },
    { "nats-ack-wait", FP_CONF_MS, &s_conf.nats_ack_wait, 100, 600000, NULL,
      "jetstream: how long a publish waits for JetStream's answer (5s)" },
    { "presence-timeout", FP_CONF_MS, &s_conf.presence_timeout, 1000,
      3600000, NULL, "a responder silent this long has died: its presence "
      "members leave (30s)" },
    { "presence-max-members", FP_CONF_INT, &s_conf.presence_max_members, 1,
      1000000, NULL, "members of one presence channel; a request may ask "
      "for fewer (100, as Pusher)" },
    { "webhook-feed", FP_CONF_STR, &s_conf.webhook_feed, 0, 0, NULL,
      "bind a PUSH socket here for fastpush-webhooks: channel occupied and "
      "vacated, member and client events (off)" },
    { "presence-max", FP_CONF_INT, &s_conf.presence_max, 1, 100000000, NULL,
      "presence connections the broker keeps over all channels (1000000)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void
s_defaults(void)
{
    s_conf.ingest = fp_strdup("tcp://127.0.0.1:7400");
    s_conf.control = fp_strdup("tcp://127.0.0.1:7401");
    s_conf.fanout = fp_strdup("tcp://127.0.0.1:7402");
    s_conf.history_count = 1000;
    s_conf.history_bytes = 1 << 20;
    s_conf.history_age = 3600 * 1000;
    s_conf.history_memory = 256u << 20;
    s_conf.max_event_bytes = 64 << 10;
    s_conf.max_keys = 10000;
    s_conf.max_channels = 100000;
    s_conf.max_since_channels = 1000;
    s_conf.max_reply_events = 10000;
    s_conf.heartbeat = 1000;
    s_conf.fanout_hwm = 100000;
    s_conf.log_level = fp_strdup("info");
    s_conf.store_fsync = BROKER_FSYNC_EVERYSEC;
    s_conf.store_segment_bytes = 64u << 20;
    s_conf.engine = BROKER_ENGINE_LOCAL;
    s_conf.stats_access = BROKER_STATS_OPEN;
    s_conf.stats_channels = true;
    s_conf.nats_url = fp_strdup("nats://127.0.0.1:4222");
    s_conf.nats_stream = fp_strdup("FASTPUSH");
    s_conf.nats_subject = fp_strdup("fastpush");
    s_conf.nats_replicas = 1;
    s_conf.nats_max_msgs = 1000000;
    s_conf.nats_ack_wait = 5000;
    s_conf.presence_timeout = 30000;
    s_conf.presence_max_members = 100;
    s_conf.presence_max = 1000000;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: fastpush-broker [-f FILE] [-n] [-v] [--ready-fd N] "
        "[--DIRECTIVE VALUE ...]\n\n"
        "The fastpush broker: applications publish events to it over ZeroMQ;\n"
        "it numbers them, keeps a bounded history per channel and fans them\n"
        "out to fastpush-sse, fastpush-poll and fastpush-ws.\n\n"
        "  -f FILE          read directives from FILE (one per line)\n"
        "  -n               check the configuration and the key and ACL files it\n"
        "                   names, then exit\n"
        "  -v               log debug messages\n"
        "  --ready-fd N     write a newline to fd N once the sockets are "
        "bound\n"
        "  -h, --help       this text\n  --version        print the version\n"
        "\nDirectives (in FILE, or as --name value; later ones win):\n");
    fp_conf_usage(s_opts, out);
    fprintf(out, "\nEndpoints are ZeroMQ addresses: tcp://HOST:PORT or "
            "ipc:///path.\nSee docs/protocol.md for the wire format.\n");
}

static void
s_bind(zsock_t *sock, const char *endpoints, const char *what)
{
    char *list = fp_strdup(endpoints), *save = NULL;
    for (char *ep = strtok_r(list, ",", &save); ep;
         ep = strtok_r(NULL, ",", &save)) {
        if (zsock_bind(sock, "%s", ep) < 0)
            fp_fatalx("cannot bind the %s socket to %s: %s", what, ep,
                      zmq_strerror(zmq_errno()));
    }
    free(list);
}

/*  The largest frame a peer may send on the control and fanout sockets:
 *  four times max-event-bytes plus 64k, at least 1m (a SINCE of
 *  max-since-channels names fits).  ZeroMQ drops the connection of a
 *  peer that sends more, before it is held in memory.  The ingest socket
 *  is not capped: a batch (a JSON array of events) may be of any size.  */
static void
s_cap_messages(broker_t *b)
{
    int64_t cap = (int64_t) b->conf.max_event_bytes * 4 + 65536;
    if (cap < (1 << 20))
        cap = 1 << 20;
    /*  max-event-bytes is at most 64m: cap fits an int  */
    zsock_set_maxmsgsize(b->router, (int) cap);
    zsock_set_maxmsgsize(b->xpub, (int) cap);
}

static void
s_open(broker_t *b)
{
    b->pull = zsock_new(ZMQ_PULL);
    b->router = zsock_new(ZMQ_ROUTER);
    b->xpub = zsock_new(ZMQ_XPUB);
    if (!b->pull || !b->router || !b->xpub)
        fp_fatalx("cannot create ZeroMQ sockets");
    zsock_set_rcvhwm(b->pull, 100000);
    zsock_set_linger(b->router, 1000);
    zsock_set_sndhwm(b->router, 100000);
    zsock_set_rcvhwm(b->router, 100000);
    zsock_set_xpub_verboser(b->xpub, 1);
    zsock_set_sndhwm(b->xpub, (int) b->conf.fanout_hwm);
    zsock_set_linger(b->xpub, 0);
    s_cap_messages(b);
    if (b->link) {
        fp_sockauth_server_apply(b->link, b->pull);
        fp_sockauth_server_apply(b->link, b->router);
        fp_sockauth_server_apply(b->link, b->xpub);
    }
    s_bind(b->pull, b->conf.ingest, "ingest");
    s_bind(b->router, b->conf.control, "control");
    s_bind(b->xpub, b->conf.fanout, "fanout");
    if (b->conf.webhook_feed && *b->conf.webhook_feed) {
        b->webhook = zsock_new(ZMQ_PUSH);
        if (!b->webhook)
            fp_fatalx("cannot create ZeroMQ sockets");
        zsock_set_sndhwm(b->webhook, BROKER_WEBHOOK_HWM);
        zsock_set_linger(b->webhook, 1000);
        if (b->link)
            fp_sockauth_server_apply(b->link, b->webhook);
        s_bind(b->webhook, b->conf.webhook_feed, "webhook-feed");
    }
}

/*  Publisher authentication: CURVE and/or the publish token.  */
static void
s_auth(broker_t *b)
{
    char err[FP_ERR_LEN];
    const char *key = b->conf.curve_secret_key, *tok = b->conf.publish_token;

    if (key && *key) {
        b->link = fp_sockauth_server_new(key, b->conf.curve_clients, err);
        if (!b->link)
            fp_fatalx("%s", err);
    } else if (b->conf.curve_clients && *b->conf.curve_clients) {
        fp_fatalx("curve-clients needs curve-secret-key");
    }
    if (tok && *tok && strlen(tok) < 16)
        fp_fatalx("publish-token: at least 16 bytes");
    if (b->conf.stats_access == BROKER_STATS_TOKEN && !(tok && *tok))
        fp_fatalx("stats-access token needs a publish-token");
    if (b->conf.engine == BROKER_ENGINE_JETSTREAM && b->conf.store)
        fp_fatalx("engine jetstream keeps history in the stream: remove "
                  "`store`");
    if (!b->link && !(tok && *tok))
        fp_log_info("no curve-secret-key, no publish-token: whoever reaches "
                    "the sockets may publish (docs/security.md)");
}

/*  Open the store and replay it, or start a new epoch in memory.  */
static void
s_history(broker_t *b)
{
    char err[FP_ERR_LEN];

    if (b->conf.engine == BROKER_ENGINE_JETSTREAM) {
        if (broker_js_open(b, err) < 0)
            fp_fatalx("engine jetstream: %s", err);
        return;
    }
    if (!b->conf.store) {
        fp_epoch_generate(b->epoch);
        fp_log_info("no store: history is kept in memory only, epoch %s is "
                    "new", b->epoch);
        return;
    }
    b->store = broker_store_open(&b->conf, b->epoch, err);
    if (!b->store)
        fp_fatalx("%s", err);
    broker_replay(b);
}

/*  The loop turns: ping systemd's watchdog (WatchdogSec=).  */
static int
s_on_watchdog(zloop_t *loop, int timer_id, void *arg)
{
    fp_sd_watchdog();
    return 0;
}

static void
s_run(broker_t *b)
{
    int64_t watchdog = fp_sd_watchdog_ms();
    b->loop = zloop_new();
    zloop_reader(b->loop, b->pull, broker_on_pull, b);
    zloop_reader(b->loop, b->router, broker_on_router, b);
    zloop_reader(b->loop, b->xpub, broker_on_xpub, b);
    zloop_reader_set_tolerant(b->loop, b->pull);
    zloop_reader_set_tolerant(b->loop, b->router);
    zloop_reader_set_tolerant(b->loop, b->xpub);
    zloop_timer(b->loop, b->conf.heartbeat, 0, broker_on_tick, b);
    if (b->store)
        zloop_timer(b->loop, 1000, 0, broker_store_on_timer, b);
    if (watchdog > 0)
        zloop_timer(b->loop, (size_t) watchdog, 0, s_on_watchdog, b);
    if (b->js) {
        zmq_pollitem_t wake = { NULL, broker_js_fd(b), ZMQ_POLLIN, 0 };
        zloop_poller(b->loop, &wake, broker_js_on_wake, b);
    }
    zloop_start(b->loop);
    zloop_destroy(&b->loop);
}

int
main(int argc, char **argv)
{
    static const fp_args_spec_t spec = {
        s_opts, NULL, "fastpush-broker", BROKER_VERSION, s_defaults, s_usage
    };
    broker_t b = { 0 };
    fp_args_t args;
    char err[FP_ERR_LEN];

    int start = fp_args_start(&spec, argc, argv, &args, err);
    if (start < 0)
        fp_fatalx("%s", err);
    if (start > 0)
        return 0;
    zsys_init();
    zsys_set_logstream(NULL);
    b.conf = s_conf;
    b.started = fp_clock_wall_ms();
    broker_chan_table_init(&b);
    s_auth(&b);
    if (fp_args_checked(&args, "fastpush-broker")) {
        fp_sockauth_server_destroy(&b.link);
        broker_chan_table_free(&b);
        fp_conf_free(s_opts);
        return 0;
    }
    s_history(&b);
    s_open(&b);
    fp_log_info("ready: epoch %s, ingest %s, control %s, fanout %s%s%s",
                b.epoch, b.conf.ingest, b.conf.control, b.conf.fanout,
                b.link ? ", CURVE" : "", b.conf.publish_token &&
                *b.conf.publish_token ? ", publish token" : "");
    fp_args_ready(&args);
    s_run(&b);
    fp_sd_stopping();
    fp_log_info("shutting down: %llu events published, head %s-%llu",
                (unsigned long long) b.stats.published, b.epoch,
                (unsigned long long) b.seq);
    broker_store_close(&b.store, b.seq);
    broker_js_close(&b);
    zsock_destroy(&b.pull);
    zsock_destroy(&b.router);
    zsock_destroy(&b.xpub);
    zsock_destroy(&b.webhook);
    fp_sockauth_server_destroy(&b.link);
    zhashx_destroy(&b.rates);
    broker_control_free(&b);
    broker_presence_free(&b);
    free(b.staged);
    broker_chan_table_free(&b);
    json_decref(b.reports);
    fp_conf_free(s_opts);
    return 0;
}
