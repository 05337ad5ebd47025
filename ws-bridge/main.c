/*  fastpush-ws: the WebSocket bridge.  Browsers connect with RFC 6455,
 *  subscribe to channels from a cursor and receive the same events as
 *  the SSE and poll transports (docs/protocol.md).
 *
 *  main.c: command line, directives, and with `workers N` (N > 1) a small
 *  master that forks the workers (each binds the port with SO_REUSEPORT
 *  and holds its own hub), reports ready once all are, restarts one that
 *  dies and forwards SIGTERM.  With one worker the process is the worker.
 */
#include "wsb.h"
#include "args.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "sig.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64

static wsb_conf_t s_conf;

static const fp_conf_opt_t s_opts[] = {
    { "listen", FP_CONF_STR, &s_conf.listen, 0, 0, NULL,
      "HOST:PORT to accept WebSocket clients on (127.0.0.1:7410)" },
    { "workers", FP_CONF_INT, &s_conf.workers, 1, MAX_WORKERS, NULL,
      "worker processes sharing the port with SO_REUSEPORT (1)" },
    { "backlog", FP_CONF_INT, &s_conf.backlog, 1, 65535, NULL,
      "listen() backlog (4096)" },
    { "max-connections", FP_CONF_INT, &s_conf.max_connections, 1, 1000000,
      NULL, "connections per worker; 503 past it (19000)" },
    { "path", FP_CONF_LIST, &s_conf.paths, 0, 0, NULL,
      "request path(s) served, exact match before '?' (/ws)" },
    { "health-path", FP_CONF_STR, &s_conf.health_path, 0, 0, NULL,
      "plain GET here: 200 while serving; here/ready: 200 when the broker "
      "can take events, else 503; off: none (/push/health)" },
    { "subprotocol", FP_CONF_LIST, &s_conf.subprotocols, 0, 0, NULL,
      "subprotocol(s) echoed when offered, in preference order "
      "(fastpush.v1)" },
    { "origin", FP_CONF_LIST, &s_conf.origins, 0, 0, NULL,
      "allowed Origin values, exact scheme://host[:port]; none = any" },
    { "allow-no-origin", FP_CONF_BOOL, &s_conf.allow_no_origin, 0, 0, NULL,
      "accept handshakes without Origin (non-browser clients) (on)" },
    { "max-header", FP_CONF_SIZE, &s_conf.max_header, 256, 1 << 20, NULL,
      "bytes of the upgrade request; 431 past it (8k)" },
    { "handshake-timeout", FP_CONF_MS, &s_conf.handshake_timeout, 100, 0,
      NULL, "time to send the whole upgrade request (10s)" },
    { "max-message", FP_CONF_SIZE, &s_conf.max_message, 16, 1 << 30, NULL,
      "bytes of one client message; close 1009 past it (64k)" },
    { "max-queue", FP_CONF_SIZE, &s_conf.max_queue, 1024, 0, NULL,
      "output bytes a client may keep queued past slow-timeout (256k)" },
    { "slow-timeout", FP_CONF_MS, &s_conf.slow_timeout, 0, 0, NULL,
      "how long a queue may stay above max-queue before the client is cut "
      "with 1008 and its cursor (5s)" },
    { "max-queue-hard", FP_CONF_SIZE, &s_conf.max_queue_hard, 1024, 0, NULL,
      "output bytes that cut a client at once (16m)" },
    { "heartbeat", FP_CONF_MS, &s_conf.heartbeat, 0, 0, NULL,
      "ping a client silent this long; 0 = never (25s)" },
    { "heartbeat-misses", FP_CONF_INT, &s_conf.heartbeat_misses, 2, 100,
      NULL, "silent heartbeat intervals before closing (3)" },
    { "close-timeout", FP_CONF_MS, &s_conf.close_timeout, 50, 0, NULL,
      "wait for the client's close frame and EOF (2s)" },
    { "max-subscriptions", FP_CONF_INT, &s_conf.max_subscriptions, 1,
      10000, NULL, "subscriptions per connection (16)" },
    { "max-channels", FP_CONF_INT, &s_conf.max_channels, 1, 10000, NULL,
      "channels per connection over all subscriptions (64)" },
    { "max-pending", FP_CONF_INT, &s_conf.max_pending, 1, 10000, NULL,
      "publishes per connection waiting for the broker (16)" },
    { "message-rate", FP_CONF_INT, &s_conf.message_rate, 0, 1000000, NULL,
      "client messages per second and connection, 0 = no limit (100)" },
    { "publish", FP_CONF_BOOL, &s_conf.publish, 0, 0, NULL,
      "let clients publish (off)" },
    { "deflate", FP_CONF_BOOL, &s_conf.deflate, 0, 0, NULL,
      "accept permessage-deflate (RFC 7692) offers, without context "
      "takeover: each event is compressed once for every client that "
      "took it (on)" },
    { "deflate-level", FP_CONF_INT, &s_conf.deflate_level, 1, 9, NULL,
      "zlib compression level of events, 1 (fast) to 9 (small) (1)" },
    { "echo", FP_CONF_BOOL, &s_conf.echo, 0, 0, NULL,
      "echo test mode: echo messages instead of the JSON protocol (off)" },
    { "fanout", FP_CONF_STR, &s_conf.fanout, 0, 0, NULL,
      "broker XPUB endpoint(s) (tcp://127.0.0.1:7402)" },
    { "control", FP_CONF_STR, &s_conf.control, 0, 0, NULL,
      "broker ROUTER endpoint(s) (tcp://127.0.0.1:7401)" },
    { "log-level", FP_CONF_STR, &s_conf.log_level, 0, 0, NULL,
      "error, warn, info or debug (info)" },
    { "presence-beat", FP_CONF_MS, &s_conf.presence_beat, 100, 3600000,
      NULL, "tell the broker this worker's presence members are alive this "
      "often; under a third of its presence-timeout (10s)" },
    { "pusher-apps", FP_CONF_STR, &s_conf.pusher_apps_file, 0, 0, NULL,
      "the Pusher apps file (id, key, secret; docs/pusher.md): Pusher "
      "clients (pusher-js, Laravel Echo) connect to pusher-path/KEY; "
      "\"\" = off (\"\")" },
    { "pusher-path", FP_CONF_STR, &s_conf.pusher_path, 0, 0, NULL,
      "path in front of a Pusher client's /KEY (/app)" },
    { "pusher-activity-timeout", FP_CONF_MS, &s_conf.pusher_activity, 1000,
      3600000, NULL, "the activity_timeout told to Pusher clients: they "
      "ping after this much silence (120s)" },
    { "", FP_CONF_NEST, (void *) fp_access_opts, 0, 0, NULL,
      "authorization, shared with fastpush-sse and fastpush-poll: "
      "docs/security.md" },
    { "", FP_CONF_NEST, (void *) fp_sockauth_opts, 0, 0, NULL,
      "credentials for a broker that requires them (CURVE, token)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void
s_defaults(void)
{
    s_conf.listen = fp_strdup("127.0.0.1:7410");
    s_conf.workers = 1;
    s_conf.backlog = 4096;
    s_conf.max_connections = 19000;
    s_conf.allow_no_origin = true;
    s_conf.max_header = 8192;
    s_conf.handshake_timeout = 10000;
    s_conf.max_message = 64 << 10;
    s_conf.max_queue = 256 << 10;
    s_conf.slow_timeout = 5000;
    s_conf.max_queue_hard = 16 << 20;
    s_conf.heartbeat = 25000;
    s_conf.heartbeat_misses = 3;
    s_conf.close_timeout = 2000;
    s_conf.max_subscriptions = 16;
    s_conf.max_channels = 64;
    s_conf.max_pending = 16;
    s_conf.message_rate = 100;
    s_conf.deflate = true;
    s_conf.deflate_level = 1;
    s_conf.fanout = fp_strdup("tcp://127.0.0.1:7402");
    s_conf.control = fp_strdup("tcp://127.0.0.1:7401");
    s_conf.log_level = fp_strdup("info");
    s_conf.health_path = fp_strdup("/push/health");
    s_conf.presence_beat = 10000;
    s_conf.pusher_apps_file = fp_strdup("");
    s_conf.pusher_path = fp_strdup("/app");
    s_conf.pusher_activity = 120000;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: fastpush-ws [-f FILE] [-n] [-v] [--echo] [--ready-fd N] "
        "[--DIRECTIVE VALUE ...]\n\n"
        "The fastpush WebSocket bridge (RFC 6455): clients subscribe to\n"
        "channels from a cursor and receive the broker's events as JSON\n"
        "text messages; see docs/protocol.md.\n\n"
        "  -f FILE          read directives from FILE (one per line)\n"
        "  -n               check the configuration and the key and ACL files it\n"
        "                   names, then exit\n"
        "  -v               log debug messages\n"
        "  --echo           echo test mode (same as --echo on)\n"
        "  --publish        let clients publish (same as --publish on)\n"
        "  --ready-fd N     write a newline to fd N once every worker "
        "listens\n"
        "  -h, --help       this text\n  --version        print the version\n"
        "\nDirectives (in FILE, or as --name value; later ones win, lists "
        "add up):\n");
    fp_conf_usage(s_opts, out);
    fprintf(out, "\nOrigin policy: with no `origin` directive any Origin is "
            "accepted; with\nsome, a browser handshake from any other origin "
            "gets 403.  A handshake\nwithout Origin comes from a non-browser "
            "client (which can send any\nheader it likes); it is accepted "
            "unless allow-no-origin is off.\n");
}

/*  Check and complete the configuration.  */
static void
s_finish_conf(void)
{
    if (s_conf.paths.count == 0)
        fp_strlist_add(&s_conf.paths, "/ws");
    if (s_conf.subprotocols.count == 0)
        fp_strlist_add(&s_conf.subprotocols, "fastpush.v1");
    for (int i = 0; i < s_conf.paths.count; i++)
        if (s_conf.paths.items[i][0] != '/')
            fp_fatalx("path: '%s' does not start with '/'",
                      s_conf.paths.items[i]);
    if (strcmp(s_conf.health_path, "off") == 0)
        s_conf.health_path[0] = '\0';
    else if (s_conf.health_path[0] != '/')
        fp_fatalx("health-path: '%s' does not start with '/' (or is off)",
                  s_conf.health_path);
    for (int i = 0; i < s_conf.paths.count; i++)
        if (s_conf.health_path[0] &&
            strcmp(s_conf.paths.items[i], s_conf.health_path) == 0)
            fp_fatalx("health-path: '%s' is also a WebSocket path",
                      s_conf.health_path);
    for (int i = 0; i < s_conf.origins.count; i++) {
        const char *o = s_conf.origins.items[i];
        if ((strncmp(o, "http://", 7) != 0 && strncmp(o, "https://", 8) != 0)
            || o[strlen(o) - 1] == '/')
            fp_fatalx("origin: '%s' is not scheme://host[:port]", o);
    }
    if (s_conf.max_queue_hard < s_conf.max_queue)
        fp_fatalx("max-queue-hard is below max-queue");
    if (s_conf.heartbeat && s_conf.heartbeat < 100)
        fp_fatalx("heartbeat: at least 100ms (or 0 for none)");
    char err[FP_ERR_LEN];
    if (s_conf.pusher_apps_file[0] &&
        !(s_conf.pusher = fp_pusher_apps_load(s_conf.pusher_apps_file, err)))
        fp_fatalx("pusher-apps: %s", err);
    if (s_conf.pusher && s_conf.echo)
        fp_fatalx("pusher-apps: not in echo test mode (there is no broker)");
    if (s_conf.pusher_path[0] != '/' ||
        s_conf.pusher_path[strlen(s_conf.pusher_path) - 1] == '/')
        fp_fatalx("pusher-path: '%s' must start with '/' and not end with "
                  "one", s_conf.pusher_path);
    s_conf.authz = fp_access_new(&fp_access_conf, err);
    if (!s_conf.authz)
        fp_fatalx("%s", err);
    /*  A cookie or a proxy login rides along with any page's handshake
     *  (cross-site WebSocket hijacking): only an Origin list stops that.  */
    if (fp_access_on(s_conf.authz) && s_conf.origins.count == 0 &&
        ((fp_access_conf.token_cookie && *fp_access_conf.token_cookie) ||
         (fp_access_conf.user_header && *fp_access_conf.user_header)))
        fp_fatalx("auth with token-cookie or user-header needs `origin`: "
                  "browsers send those credentials with any page's "
                  "handshake (cross-site WebSocket hijacking)");
}

/* ------------------------------------------------------------ master */

typedef struct {
    pid_t pid;
    int ready;                  /*  read end of its ready pipe, -1 after  */
    int64_t started;            /*  ms, for the restart back-off  */
} s_worker_t;

/*  Fork worker i of wk[n]; the child never returns.  The child closes
 *  the master's descriptors: the signalfd, the read ends of the ready
 *  pipes of the workers started before it (still open until they are
 *  ready) and the master's own --ready-fd (-1 once it is closed).  */
static void
s_spawn(s_worker_t *wk, int n, int i, int sigfd, int ready_fd)
{
    int p[2];
    if (pipe(p) < 0)
        fp_fatal("pipe");
    pid_t pid = fork();
    if (pid < 0)
        fp_fatal("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        close(sigfd);
        close(p[0]);
        for (int j = 0; j < n; j++)
            if (j != i && wk[j].ready >= 0)
                close(wk[j].ready);
        if (ready_fd >= 0)
            close(ready_fd);
        exit(wsb_worker_run(&s_conf, i, p[1]));
    }
    close(p[1]);
    wk[i].pid = pid;
    wk[i].ready = p[0];
    wk[i].started = fp_clock_ms();
}

/*  Wait until every worker wrote its ready line; false if one died.  */
static bool
s_wait_ready(s_worker_t *wk, int n)
{
    int64_t end = fp_clock_ms() + 30000;
    int left = n;
    while (left > 0 && fp_clock_ms() < end) {
        struct pollfd pf[MAX_WORKERS];
        int idx[MAX_WORKERS], k = 0;
        for (int i = 0; i < n; i++)
            if (wk[i].ready >= 0) {
                pf[k] = (struct pollfd) { wk[i].ready, POLLIN, 0 };
                idx[k++] = i;
            }
        if (poll(pf, (nfds_t) k, 200) < 0 && errno != EINTR)
            return false;
        for (int j = 0; j < k; j++) {
            if (!pf[j].revents)
                continue;
            char c;
            bool ok = read(pf[j].fd, &c, 1) == 1;
            close(pf[j].fd);
            wk[idx[j]].ready = -1;
            if (!ok)
                return false;
            left--;
        }
    }
    return left == 0;
}

/*  Forward a signal to every worker.  */
static void
s_signal_all(s_worker_t *wk, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (wk[i].pid > 0)
            kill(wk[i].pid, sig);
}

/*  Stop the workers (SIGTERM, then SIGKILL after a while); returns 0 if
 *  they all exited 0.  */
static int
s_stop_all(s_worker_t *wk, int n)
{
    int rc = 0, left = 0;
    s_signal_all(wk, n, SIGTERM);
    for (int i = 0; i < n; i++)
        left += wk[i].pid > 0;
    int64_t end = fp_clock_ms() + (int64_t) s_conf.close_timeout + 5000;
    while (left > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) {
            if (fp_clock_ms() > end) {
                s_signal_all(wk, n, SIGKILL);
                end = INT64_MAX;
            }
            usleep(20000);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (wk[i].pid == pid) {
                wk[i].pid = 0;
                left--;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    rc = 1;
            }
    }
    return rc;
}

static int
s_master(int ready_fd)
{
    s_worker_t wk[MAX_WORKERS] = { 0 };
    int n = (int) s_conf.workers;
    int sigfd = fp_sig_fd();

    if (sigfd < 0)
        fp_fatal("signalfd");
    for (int i = 0; i < n; i++)
        wk[i].ready = -1;
    for (int i = 0; i < n; i++)
        s_spawn(wk, n, i, sigfd, ready_fd);
    if (!s_wait_ready(wk, n)) {
        fp_log_error("a worker did not start; stopping");
        s_stop_all(wk, n);
        return 1;
    }
    fp_log_info("ready: %d workers on %s", n, s_conf.listen);
    if (ready_fd >= 0) {
        if (write(ready_fd, "\n", 1) < 0)
            fp_log_warn("ready-fd %d", ready_fd);
        close(ready_fd);
        ready_fd = -1;
    }
    for (;;) {
        struct pollfd pf = { sigfd, POLLIN, 0 };
        poll(&pf, 1, 200);
        int sig;
        while ((sig = fp_sig_read(sigfd)) > 0) {
            if (sig == SIGTERM || sig == SIGINT) {
                fp_log_info("stopping %d workers", n);
                int rc = s_stop_all(wk, n);
                close(sigfd);
                return rc;
            }
            if (sig == SIGUSR1)
                s_signal_all(wk, n, SIGUSR1);
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (wk[i].pid != pid)
                    continue;
                fp_log_warnx("worker %d (pid %d) ended (status %d); "
                             "restarting it", i, (int) pid, st);
                if (fp_clock_ms() - wk[i].started < 1000)
                    sleep(1);
                s_spawn(wk, n, i, sigfd, ready_fd);
                close(wk[i].ready);
                wk[i].ready = -1;
            }
        }
    }
}

int
main(int argc, char **argv)
{
    static const char *const flags[] = { "echo", "publish", NULL };
    static const fp_args_spec_t spec = {
        s_opts, flags, "fastpush-ws", WSB_VERSION, s_defaults, s_usage
    };
    fp_args_t args;
    char err[FP_ERR_LEN];

    int start = fp_args_start(&spec, argc, argv, &args, err);
    if (start < 0)
        fp_fatalx("%s", err);
    if (start > 0)
        return 0;
    s_finish_conf();
    if (fp_args_checked(&args, "fastpush-ws")) {
        fp_access_destroy(&s_conf.authz);
        return 0;
    }
    if (s_conf.origins.count == 0)
        fp_log_info("no origin directive: handshakes from any web page are "
                    "accepted");
    int rc = s_conf.workers > 1 ? s_master(args.ready_fd)
                                : wsb_worker_run(&s_conf, 0, args.ready_fd);
    fp_access_destroy(&s_conf.authz);
    fp_conf_free(s_opts);
    return rc;
}
