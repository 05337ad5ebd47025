/*  worker: one process's loop: the listening socket (SO_REUSEPORT, so
 *  several workers share the port), the hub (its own broker connection),
 *  signals and timers.
 *
 *  A round: wait for events (at most until the next tick), let the hub
 *  read what the broker sent (members queue frames), write every
 *  connection that got output, and every TICK_MS run the hub's timers and
 *  the connection sweep; every REPORT_MS send the broker a REPORT.
 *  SIGTERM closes every connection with 1001 and ends the loop once they
 *  are gone (or after close-timeout).
 */
#include "wsb.h"
#include "clock.h"
#include "listen.h"
#include "log.h"
#include "mem.h"
#include "sig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 100
#define REPORT_MS 5000            /*  REPORT to the broker this often  */

void
wsb_worker_stats(wsb_worker_t *w, const char *when)
{
    const wsb_stats_t *s = &w->stats;
    fp_log_info("%s: connections %u, accepted %llu, upgraded %llu, "
                "refused %llu, timeouts %llu, protocol_errors %llu, "
                "dead_peers %llu, slow_consumers %llu, messages_in %llu, "
                "frames_out %llu, published %llu, rate_limited %llu, "
                "deflated %llu (%llu bytes to %llu)", when,
                w->nconns,
                (unsigned long long) s->accepted,
                (unsigned long long) s->upgraded,
                (unsigned long long) s->refused,
                (unsigned long long) s->timeouts,
                (unsigned long long) s->protocol_errors,
                (unsigned long long) s->dead_peers,
                (unsigned long long) s->slow_consumers,
                (unsigned long long) s->messages_in,
                (unsigned long long) s->frames_out,
                (unsigned long long) s->published,
                (unsigned long long) s->rate_limited,
                (unsigned long long) s->deflated,
                (unsigned long long) s->deflate_in,
                (unsigned long long) s->deflate_out);
}

/*  Tell the broker how this worker is doing (STATS, /stats, /metrics).  */
static void
s_report(wsb_worker_t *w)
{
    const wsb_stats_t *s = &w->stats;
    fp_hub_stats_t hs;

    if (!w->hub)
        return;
    fp_hub_stats(w->hub, &hs);
    json_t *st = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:b}",
        "streams", (json_int_t) w->nconns,
        "accepted", (json_int_t) s->accepted,
        "upgraded", (json_int_t) s->upgraded,
        "refused", (json_int_t) s->refused,
        "events", (json_int_t) s->events,
        "slow_cut", (json_int_t) s->slow_consumers,
        "dead_peers", (json_int_t) s->dead_peers,
        "messages_in", (json_int_t) s->messages_in,
        "published", (json_int_t) s->published,
        "rate_limited", (json_int_t) s->rate_limited,
        "gaps", (json_int_t) hs.gaps,
        "backfilled", (json_int_t) hs.backfilled,
        "channels", (json_int_t) hs.channels,
        "broker_up", hs.broker_up);
    fp_access_report(w->conf->authz, st);
    fp_hub_request(w->hub, "REPORT", json_pack("{s:s, s:i, s:o}",
                   "transport", "ws", "pid", (int) getpid(), "stats", st),
                   NULL, NULL);
}

static void
s_on_listen(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    wsb_conn_accept(arg);
}

/*  Stop accepting and start closing every connection with 1001.  */
static void
s_stop(wsb_worker_t *w)
{
    wsb_conn_t *next;

    if (w->stopping)
        return;
    w->stopping = true;
    fp_log_info("worker %d: shutting down, closing %u connections", w->id,
                w->nconns);
    if (w->lfd >= 0) {
        fp_loop_del(w->loop, w->lfd);
        close(w->lfd);
        w->lfd = -1;
    }
    for (wsb_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        if (c->state == WSB_CS_HANDSHAKE)
            wsb_conn_close(c, "shutting down");
        else
            wsb_conn_shutdown(c, WSB_CLOSE_AWAY, "server shutting down");
    }
}

static void
s_on_signal(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    wsb_worker_t *w = arg;
    int sig;
    while ((sig = fp_sig_read(fd)) > 0) {
        if (sig == SIGTERM || sig == SIGINT)
            s_stop(w);
        else if (sig == SIGUSR1)
            wsb_worker_stats(w, "stats");
    }
}

/*  The hub's descriptors: the hub is processed every round anyway.  */
static void
s_on_hub(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
}

/*  Open everything; -1 with err.  */
static int
s_open(wsb_worker_t *w, char *err)
{
    const wsb_conf_t *conf = w->conf;

    w->sigfd = fp_sig_fd();
    w->loop = fp_loop_new(err);
    if (w->sigfd < 0 || !w->loop)
        return -1;
    w->lfd = fp_listen_open(conf->listen, (int) conf->backlog,
                            FP_LISTEN_NONBLOCK | FP_LISTEN_REUSEPORT, err);
    if (w->lfd < 0)
        return -1;
    fp_loop_add(w->loop, w->lfd, EPOLLIN, s_on_listen, w);
    fp_loop_add(w->loop, w->sigfd, EPOLLIN, s_on_signal, w);
    if (!conf->echo) {
        fp_hub_conf_t hc = { .fanout = conf->fanout,
                             .control = conf->control,
                             .linger_ms = 10000, .link = &fp_sockauth_conf };
        int fds[2];
        w->hub = fp_hub_new(&hc, err);
        if (!w->hub)
            return -1;
        fp_hub_fds(w->hub, fds);
        fp_loop_add(w->loop, fds[0], EPOLLIN, s_on_hub, w);
        fp_loop_add(w->loop, fds[1], EPOLLIN, s_on_hub, w);
        w->presence = fp_presence_new(w->hub, "ws",
                                      (int64_t) conf->presence_beat);
    }
    if (getrandom(&w->sid_base, sizeof w->sid_base, 0) !=
        (ssize_t) sizeof w->sid_base)
        w->sid_base = (uint32_t) getpid();
    w->sid_base %= 1000000000u;
    if (conf->deflate && !(w->z = wsb_deflate_new((int) conf->deflate_level,
                                                  err)))
        return -1;
    w->rbuf = fp_malloc(WSB_RBUF);
    uint8_t ping[2] = { 0x89, 0x00 };
    w->ping = fp_blob_new(ping, sizeof ping);
    return 0;
}

static void
s_close_all(wsb_worker_t *w)
{
    while (w->conns)
        wsb_conn_close(w->conns, "shutdown");
    if (w->lfd >= 0)
        close(w->lfd);
    fp_presence_destroy(&w->presence);
    fp_hub_destroy(&w->hub);
    fp_loop_destroy(&w->loop);
    if (w->sigfd >= 0)
        close(w->sigfd);
    fp_blob_unref(&w->ping);
    wsb_deflate_destroy(&w->z);
    free(w->rbuf);
}

int
wsb_worker_run(const wsb_conf_t *conf, int id, int ready_fd)
{
    wsb_worker_t w = { .conf = conf, .id = id, .lfd = -1, .sigfd = -1 };
    char err[FP_ERR_LEN];
    int64_t next_tick, stop_by = 0;
    bool more = false;

    w.now = fp_clock_ms();
    if (s_open(&w, err) < 0) {
        fp_log_error("worker %d: %s", id, err);
        s_close_all(&w);
        return 1;
    }
    fp_log_info("worker %d: listening on %s (%s)", id, conf->listen,
                conf->echo ? "echo test mode" : "JSON protocol");
    if (ready_fd >= 0) {
        if (write(ready_fd, "\n", 1) < 0)
            fp_log_warn("ready-fd %d", ready_fd);
        close(ready_fd);
    }
    next_tick = w.now + TICK_MS;
    w.next_report = w.now + 500;
    while (!w.stopping || (w.nconns > 0 && w.now < stop_by)) {
        int timeout = more ? 0 : (int) (next_tick - w.now);
        if (fp_loop_run(w.loop, timeout < 0 ? 0 : timeout) < 0 &&
            errno != EINTR) {
            fp_log_warn("epoll_wait");
            break;
        }
        w.now = fp_clock_ms();
        more = w.hub ? fp_hub_process(w.hub) : false;
        wsb_conn_flush_dirty(&w);
        if (w.now >= next_tick) {
            if (w.hub)
                fp_hub_tick(w.hub, w.now);
            if (w.presence)
                fp_presence_tick(w.presence, w.now);
            wsb_conn_sweep(&w);
            if (w.hub && w.now >= w.next_report) {
                s_report(&w);
                fp_access_tick(conf->authz, w.now);
                w.next_report = w.now + REPORT_MS;
            }
            wsb_conn_flush_dirty(&w);
            next_tick = w.now + TICK_MS;
        }
        if (w.stopping && !stop_by)
            stop_by = w.now + (int64_t) conf->close_timeout + 500;
    }
    wsb_worker_stats(&w, "exit");
    s_close_all(&w);
    return 0;
}
