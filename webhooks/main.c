/*  fastpush-webhooks: the application's webhooks, from the broker's
 *  webhook feed (see whd.h).  One loop: read the feed, queue per target,
 *  start due POSTs, let libcurl run them, until SIGTERM.
 */
#include "whd.h"
#include "args.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "responder_main.h"
#include "sig.h"
#include "sockauth.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

static whd_conf_t s_conf;

static const fp_conf_opt_t s_opts[] = {
    { "feed", FP_CONF_STR, &s_conf.feed, 0, 0, NULL,
      "the broker's webhook-feed endpoint (tcp://127.0.0.1:7404)" },
    { "pusher-apps", FP_CONF_STR, &s_conf.pusher_apps, 0, 0, NULL,
      "apps file: a Pusher channel ID:NAME goes to its app's webhook=URL, "
      "signed with its key and secret" },
    { "url", FP_CONF_STR, &s_conf.url, 0, 0, NULL,
      "webhook URL for channels of no app (off)" },
    { "key", FP_CONF_STR, &s_conf.key, 0, 0, NULL,
      "X-Pusher-Key sent to url (fastpush)" },
    { "secret", FP_CONF_STR, &s_conf.secret, 0, 0, NULL,
      "signs what goes to url (needed with url, at least 16 bytes)" },
    { "batch-wait", FP_CONF_MS, &s_conf.batch_wait, 0, 60000, NULL,
      "gather events this long into one POST (250ms)" },
    { "max-batch", FP_CONF_INT, &s_conf.max_batch, 1, 10000, NULL,
      "events per POST (100)" },
    { "max-queue", FP_CONF_INT, &s_conf.max_queue, 1, 10000000, NULL,
      "events waiting per URL; past it the oldest are dropped (100000)" },
    { "timeout", FP_CONF_MS, &s_conf.timeout, 100, 600000, NULL,
      "for one POST (5s)" },
    { "retry-max", FP_CONF_MS, &s_conf.retry_max, 100, 3600000, NULL,
      "longest wait between attempts; waits double from 1s (60s)" },
    { "attempts", FP_CONF_INT, &s_conf.attempts, 1, 1000, NULL,
      "tries of one batch before it is dropped (10)" },
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
    { "", FP_CONF_NEST, (void *) fp_sockauth_opts, 0, 0, NULL,
      "credentials for a broker that requires them (CURVE)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void
s_defaults(void)
{
    s_conf.feed = fp_strdup("tcp://127.0.0.1:7404");
    s_conf.key = fp_strdup("fastpush");
    s_conf.batch_wait = 250;
    s_conf.max_batch = 100;
    s_conf.max_queue = 100000;
    s_conf.timeout = 5000;
    s_conf.retry_max = 60000;
    s_conf.attempts = 10;
    s_conf.log_level = fp_strdup("info");
}

static void
s_usage(FILE *out)
{
    fp_responder_usage(out, "fastpush-webhooks",
        "Pusher-style webhooks (channel_occupied, channel_vacated, "
        "member_added,\nmember_removed, client_event) from the broker's "
        "webhook-feed, batched,\nsigned (X-Pusher-Key, X-Pusher-Signature) "
        "and retried with backoff:\nsee docs/pusher.md, section 8.\n",
        s_opts);
}

static void
s_add_target(whd_t *w, const char *url, const char *key, const char *secret,
             const fp_pusher_app_t *app)
{
    w->targets = fp_realloc(w->targets, (w->ntargets + 1) *
                            sizeof *w->targets);
    whd_target_t *t = &w->targets[w->ntargets++];
    memset(t, 0, sizeof *t);
    t->url = fp_strdup(url);
    t->key = fp_strdup(key);
    t->secret = fp_strdup(secret);
    t->app = app;
    t->queue = json_array();
}

/*  The targets from the apps file and `url`: 0, or -1 with err.  */
static int
s_targets(whd_t *w, char *err)
{
    if (w->conf.pusher_apps && *w->conf.pusher_apps &&
        !(w->apps = fp_pusher_apps_load(w->conf.pusher_apps, err)))
        return -1;
    for (size_t i = 0; w->apps && i < w->apps->count; i++) {
        const fp_pusher_app_t *a = &w->apps->apps[i];
        if (a->webhook)
            s_add_target(w, a->webhook, a->key, a->secret, a);
    }
    if (w->conf.url && *w->conf.url) {
        if (strncmp(w->conf.url, "http://", 7) != 0 &&
            strncmp(w->conf.url, "https://", 8) != 0) {
            snprintf(err, FP_ERR_LEN, "url: an http:// or https:// URL");
            return -1;
        }
        if (!w->conf.secret || strlen(w->conf.secret) < 16) {
            snprintf(err, FP_ERR_LEN, "url needs a secret of at least 16 "
                     "bytes");
            return -1;
        }
        if (!fp_id_valid(w->conf.key, 64)) {
            snprintf(err, FP_ERR_LEN, "key: 1 to 64 of A-Z a-z 0-9 . _ -");
            return -1;
        }
        s_add_target(w, w->conf.url, w->conf.key, w->conf.secret, NULL);
    }
    if (w->ntargets == 0) {
        snprintf(err, FP_ERR_LEN, "no webhook: give url, or apps with "
                 "webhook=URL in pusher-apps");
        return -1;
    }
    return 0;
}

/*  Every waiting feed message, into the queues.  */
static void
s_read_feed(whd_t *w, zsock_t *pull, int64_t now)
{
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait(pull))) {
        w->stats.received++;
        zframe_t *kind = zmsg_first(msg), *body = zmsg_next(msg);
        json_t *ev = NULL;
        whd_target_t *t = NULL;
        if (kind && body && zframe_size(kind) < 16) {
            char k[16];
            memcpy(k, zframe_data(kind), zframe_size(kind));
            k[zframe_size(kind)] = '\0';
            t = whd_translate(w, k, (const char *) zframe_data(body),
                              zframe_size(body), &ev);
        }
        if (t)
            whd_target_queue(w, t, ev, now);
        else
            w->stats.ignored++;
        zmsg_destroy(&msg);
    }
}

/*  Finished POSTs.  */
static void
s_reap(whd_t *w, int64_t now)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        whd_target_t *t = NULL;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &t);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        whd_target_done(w, t, m->data.result, status, now);
    }
}

static void
s_run(whd_t *w, zsock_t *pull, int sig_fd)
{
    struct curl_waitfd fds[2] = {
        { .fd = (curl_socket_t) zsock_fd(pull), .events = CURL_WAIT_POLLIN },
        { .fd = sig_fd, .events = CURL_WAIT_POLLIN },
    };
    for (;;) {
        int64_t now = fp_clock_ms(), wait = 1000;
        if (fp_sig_read(sig_fd) > 0)
            return;
        s_read_feed(w, pull, now);
        for (size_t i = 0; i < w->ntargets; i++) {
            whd_target_work(w, &w->targets[i], now);
            int64_t d = whd_target_due(w, &w->targets[i], now);
            if (d >= 0 && d < wait)
                wait = d;
        }
        int running;
        curl_multi_perform(w->multi, &running);
        s_reap(w, fp_clock_ms());
        if (zsock_events(pull) & ZMQ_POLLIN)
            wait = 0;           /*  ZMQ_FD is edge-triggered  */
        curl_multi_poll(w->multi, fds, 2, (int) (wait > 100 ? 100 : wait),
                        NULL);
    }
}

/*  Free the targets and the apps; returns the events not sent.  */
static size_t
s_free(whd_t *w)
{
    size_t waiting = 0;
    for (size_t i = 0; i < w->ntargets; i++) {
        waiting += json_array_size(w->targets[i].queue) +
                   json_array_size(w->targets[i].batch);
        whd_target_free(w, &w->targets[i]);
    }
    free(w->targets);
    fp_pusher_apps_destroy(&w->apps);
    fp_conf_free(s_opts);
    return waiting;
}

int
main(int argc, char **argv)
{
    static const fp_args_spec_t spec = {
        s_opts, NULL, "fastpush-webhooks", WHD_VERSION, s_defaults, s_usage
    };
    whd_t w = { 0 };
    fp_args_t args;
    char err[FP_ERR_LEN];

    int start = fp_args_start(&spec, argc, argv, &args, err);
    if (start < 0)
        fp_fatalx("%s", err);
    if (start > 0)
        return 0;
    w.conf = s_conf;
    if (s_targets(&w, err) < 0)
        fp_fatalx("%s", err);
    if (fp_args_checked(&args, "fastpush-webhooks")) {
        s_free(&w);
        return 0;
    }
    int sig_fd = fp_sig_fd();
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_logstream(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    w.multi = curl_multi_init();
    zsock_t *pull = zsock_new(ZMQ_PULL);
    if (sig_fd < 0 || !w.multi || !pull)
        fp_fatalx("cannot set up signals, libcurl or ZeroMQ");
    zsock_set_rcvhwm(pull, 100000);
    if (fp_sockauth_client(&fp_sockauth_conf, pull, err) < 0 ||
        zsock_attach(pull, w.conf.feed, false) < 0)
        fp_fatalx("feed %s: %s", w.conf.feed, *err ? err : "bad endpoint");
    fp_log_info("ready: feed %s, %zu webhook URLs", w.conf.feed, w.ntargets);
    fp_args_ready(&args);
    s_run(&w, pull, sig_fd);
    size_t waiting = s_free(&w);
    fp_log_info("stopped: %llu events posted, %llu failed, %llu dropped, "
                "%zu not sent", (unsigned long long) w.stats.posted,
                (unsigned long long) w.stats.failed,
                (unsigned long long) w.stats.dropped, waiting);
    zsock_destroy(&pull);
    curl_multi_cleanup(w.multi);
    curl_global_cleanup();
    return 0;
}
