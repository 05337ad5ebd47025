/*  responder: the FastCGI responder skeleton (see responder.h).  */
#include "responder.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "sdnotify.h"
#include "sig.h"

#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct fp_responder {
    fp_responder_conf_t conf;
    fp_responder_cbs_t cbs;
    void *arg;
    fp_loop_t *loop;
    fp_hub_t *hub;
    fp_presence_t *presence;
    fp_fcgi_accept_t *fcgi;
    fp_fcgi_conns_t *conns;
    int sig_fd;
    int stopping;               /*  SIGTERM seen  */
    int quit;                   /*  leave the loop  */
    int64_t stop_deadline;
};

/*  Hand every queued request to the program.  */
static void
s_dispatch(fp_responder_t *app)
{
    fp_fcgi_req_t *req;
    while ((req = fp_fcgi_accept_take(app->fcgi)))
        app->cbs.request(app, req, app->arg);
}

static void
s_on_requests(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    s_dispatch(arg);
}

static void
s_begin_stop(fp_responder_t *app, int sig)
{
    if (app->stopping)
        return;
    fp_log_info("signal %d: stopping (no new requests, ending streams)", sig);
    fp_sd_stopping();
    app->stopping = 1;
    app->stop_deadline = fp_clock_ms() + app->conf.grace_ms;
    fp_fcgi_accept_stop(app->fcgi);
    if (app->cbs.stopping)
        app->cbs.stopping(app, app->arg);
    s_dispatch(app);                /*  accepted before the stop  */
}

static void
s_on_signal(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    fp_responder_t *app = arg;
    int sig;
    while ((sig = fp_sig_read(fd)) > 0) {
        if (sig == SIGTERM || sig == SIGINT)
            s_begin_stop(app, sig);
        else
            fp_log_info("signal %d ignored", sig);
    }
}

/*  The hub's descriptors only wake the loop; the work happens in
 *  fp_hub_process after every round.  */
static void
s_on_hub(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
}

fp_responder_t *
fp_responder_new(const fp_responder_conf_t *conf, const fp_responder_cbs_t *cbs, void *arg,
           char *err)
{
    fp_responder_t *app = fp_calloc(1, sizeof *app);
    app->conf = *conf;
    app->cbs = *cbs;
    app->arg = arg;
    if (app->conf.tick_ms <= 0)
        app->conf.tick_ms = 100;
    if (app->conf.grace_ms <= 0)
        app->conf.grace_ms = 3000;
    app->sig_fd = fp_sig_fd();
    zsys_handler_set(NULL);         /*  signals come through sig_fd  */
    zsys_init();
    zsys_set_logstream(NULL);
    int fds[2];
    if (app->sig_fd < 0 || !(app->loop = fp_loop_new(err)) ||
        !(app->hub = fp_hub_new(&conf->hub, err)) ||
        !(app->fcgi = fp_fcgi_accept_new(&conf->fcgi, err))) {
        if (app->sig_fd < 0)
            snprintf(err, FP_ERR_LEN, "cannot set up signal handling");
        fp_responder_destroy(&app);
        return NULL;
    }
    app->conns = fp_fcgi_conns_new(app->loop);
    app->presence = fp_presence_new(app->hub, conf->transport ?
                                    conf->transport : "fcgi",
                                    conf->presence_beat_ms);
    fp_hub_fds(app->hub, fds);
    fp_loop_add(app->loop, app->sig_fd, EPOLLIN, s_on_signal, app);
    fp_loop_add(app->loop, fp_fcgi_accept_fd(app->fcgi), EPOLLIN, s_on_requests,
                app);
    fp_loop_add(app->loop, fds[0], EPOLLIN, s_on_hub, app);
    fp_loop_add(app->loop, fds[1], EPOLLIN, s_on_hub, app);
    return app;
}

int
fp_responder_run(fp_responder_t *app)
{
    int64_t next_tick = fp_clock_ms(), watchdog = fp_sd_watchdog_ms();
    int64_t next_ping = next_tick;
    bool more = true;

    while (!app->quit) {
        int64_t now = fp_clock_ms();
        int timeout = more ? 0 : (int) (next_tick > now ? next_tick - now : 0);
        if (fp_loop_run(app->loop, timeout) < 0) {
            fp_log_warn("epoll_wait");
            return 1;
        }
        more = fp_hub_process(app->hub);
        if (app->cbs.round)
            app->cbs.round(app, app->arg);
        fp_fcgi_conns_flush(app->conns);
        if (app->stopping && fp_fcgi_conns_count(app->conns) == 0 &&
            !fp_fcgi_accept_busy(app->fcgi))
            app->quit = 1;
        now = fp_clock_ms();
        if (now >= next_tick) {
            fp_hub_tick(app->hub, now);
            fp_presence_tick(app->presence, now);
            if (app->cbs.tick)
                app->cbs.tick(app, now, app->arg);
            next_tick = now + app->conf.tick_ms;
            more = true;    /*  the tick may have used the hub's sockets  */
        }
        if (watchdog > 0 && now >= next_ping) {
            fp_sd_watchdog();       /*  from the loop: a hang stops it  */
            next_ping = now + watchdog;
        }
        if (app->stopping && now >= app->stop_deadline)
            app->quit = 1;
    }
    return 0;
}

void
fp_responder_quit(fp_responder_t *app)
{
    app->quit = 1;
}

int
fp_responder_stopping(const fp_responder_t *app)
{
    return app->stopping;
}

fp_loop_t *
fp_responder_loop(fp_responder_t *app)
{
    return app->loop;
}

fp_hub_t *
fp_responder_hub(fp_responder_t *app)
{
    return app->hub;
}

fp_presence_t *
fp_responder_presence(fp_responder_t *app)
{
    return app->presence;
}

fp_fcgi_conns_t *
fp_responder_conns(fp_responder_t *app)
{
    return app->conns;
}

void
fp_responder_destroy(fp_responder_t **app_p)
{
    fp_responder_t *app = *app_p;
    if (!app)
        return;
    *app_p = NULL;
    fp_fcgi_accept_destroy(&app->fcgi);
    fp_presence_destroy(&app->presence);
    fp_hub_destroy(&app->hub);
    if (app->conns)
        fp_fcgi_conns_flush(app->conns);
    fp_fcgi_conns_destroy(&app->conns);
    fp_loop_destroy(&app->loop);
    if (app->sig_fd >= 0)
        close(app->sig_fd);
    free(app);
}

#ifdef FP_TEST
#include "buf.h"
#include "fcgi_record.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#define T_WAIT_MS 2000

/*  The self-test runs a responder on a unix socket in a temp dir (its hub
 *  connects to inproc:// endpoints nobody binds: no broker is needed to
 *  serve requests) and a web server in a thread:
 *
 *  A  "q=a"     answered at once through the queue and the handler;
 *  B  "stream"  gets "first" and stays open, a stream;
 *  C            half a request; once an acceptor reads it, the tick raises
 *               SIGTERM: stopping ends B with "bye", the path goes, and C,
 *               finished after that, still reaches the handler, which
 *               answers 503 because the responder is stopping;
 *  then run returns 0, as there is nothing left open or being read.  */
typedef struct {
    const char *path;
    atomic_int half_sent;       /*  C's first half is out  */
    fp_fcgi_conn_t *stream;     /*  B, while open  */
    int requests, stopped_requests, stopping_calls, rounds, raised;
    /*  what the web server thread saw  */
    int a_ok, b_first, b_bye, refused_after_stop, c_503;
} s_test_t;

static void
s_t_gone(fp_fcgi_conn_t *c, void *ctx)
{
    ((s_test_t *) ctx)->stream = NULL;
}

static void
s_t_request(fp_responder_t *app, fp_fcgi_req_t *req, void *arg)
{
    s_test_t *t = arg;
    const char *q = fp_fcgi_req_param(req, "QUERY_STRING");
    fp_fcgi_conn_t *c = fp_fcgi_conn_new(app->conns, req, s_t_gone, t);
    char body[64];
    t->requests++;
    if (fp_responder_stopping(app)) {
        t->stopped_requests++;
        fp_fcgi_conn_respond(c, 503, NULL, "stopping", 8);
    } else if (q && strcmp(q, "stream") == 0) {
        fp_fcgi_conn_write(c, "first", 5);
        t->stream = c;
    } else {
        snprintf(body, sizeof body, "hello %s", q ? q : "?");
        fp_fcgi_conn_respond(c, 200, NULL, body, strlen(body));
    }
    fp_fcgi_req_free(&req);
}

static void
s_t_round(fp_responder_t *app, void *arg)
{
    ((s_test_t *) arg)->rounds++;
}

static void
s_t_tick(fp_responder_t *app, int64_t now, void *arg)
{
    s_test_t *t = arg;
    if (atomic_load(&t->half_sent) && !t->raised &&
        fp_fcgi_accept_busy(app->fcgi)) {
        t->raised = 1;
        raise(SIGTERM);         /*  this thread's: read by its signalfd  */
    }
}

static void
s_t_stopping(fp_responder_t *app, void *arg)
{
    s_test_t *t = arg;
    t->stopping_calls++;
    if (t->stream) {
        fp_fcgi_conn_write(t->stream, "bye", 3);
        fp_fcgi_conn_end(t->stream);
        t->stream = NULL;
    }
}

/*  Send request rid with QUERY_STRING=query: all of it, or the bytes
 *  [from, to) of it.  */
static bool
s_t_send(int fd, int rid, const char *query, size_t from, size_t to)
{
    char q[64];
    snprintf(q, sizeof q, "QUERY_STRING=%s", query);
    const char *env[] = { "REQUEST_METHOD=GET", q, NULL };
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_request(&b, rid, env, NULL, 0);
    if (to == 0 || to > b.len)
        to = b.len;
    bool ok = fd >= 0 && write(fd, b.data + from, to - from) ==
              (ssize_t) (to - from);
    fp_buf_free(&b);
    return ok;
}

static void *
s_t_web_server(void *arg)
{
    s_test_t *t = arg;
    fp_buf_t in, out;
    fp_buf_init(&in);
    fp_buf_init(&out);

    int a = fp_fcgi_conn_test_dial(t->path);
    t->a_ok = s_t_send(a, 1, "q=a", 0, 0) &&
              fp_fcgi_conn_test_read(a, &in, 1, &out, NULL, T_WAIT_MS) == 1 &&
              strstr(out.data, "Status: 200") && strstr(out.data, "hello q=a");

    int b = fp_fcgi_conn_test_dial(t->path);
    fp_buf_reset(&in);
    fp_buf_reset(&out);
    t->b_first = s_t_send(b, 2, "stream", 0, 0) &&
                 fp_fcgi_conn_test_read(b, &in, 2, &out, "first",
                                        T_WAIT_MS) == 0;

    int c = fp_fcgi_conn_test_dial(t->path);
    bool half = s_t_send(c, 3, "late", 0, 24);
    atomic_store(&t->half_sent, half);
    t->b_bye = half && fp_fcgi_conn_test_read(b, &in, 2, &out, NULL,
                                              T_WAIT_MS) == 1 &&
               strcmp(out.data, "firstbye") == 0;
    int d = fp_fcgi_conn_test_dial(t->path);
    t->refused_after_stop = d < 0;
    fp_buf_reset(&in);
    fp_buf_reset(&out);
    t->c_503 = t->b_bye && s_t_send(c, 3, "late", 24, 0) &&
               fp_fcgi_conn_test_read(c, &in, 3, &out, NULL, T_WAIT_MS) == 1 &&
               strstr(out.data, "Status: 503") != NULL;
    int fds[] = { a, b, c, d };
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    fp_buf_free(&in);
    fp_buf_free(&out);
    return NULL;
}

/*  The shared directives: defaults, a config text, the app conf.  */
static void
s_test_opts(void)
{
    char err[FP_ERR_LEN];
    const fp_conf_opt_t table[] = {
        { "", FP_CONF_NEST, (void *) fp_responder_opts, 0, 0, NULL, NULL },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    fp_responder_conf_t ac = { 0 };
    fp_responder_opts_defaults();
    FP_CHECK(fp_conf_load_string(table, "listen /run/x.sock\n"
                                 "socket-mode 0660\nthreads 4\nlinger 5s\n",
                                 "test", err) == 0, "the shared directives "
             "parse in a program's table");
    fp_responder_opts_apply(&ac);
    FP_CHECK(strcmp(ac.fcgi.listen, "/run/x.sock") == 0 &&
             ac.fcgi.socket_mode == 0660 && ac.fcgi.threads == 4 &&
             ac.hub.linger_ms == 5000 &&
             strcmp(ac.hub.control, "tcp://127.0.0.1:7401") == 0 &&
             ac.hub.link == &fp_sockauth_conf, "applied, defaults kept");
    FP_CHECK(fp_conf_load_string(table, "threads 65\n", "test", err) < 0 &&
             strstr(err, "test:1"), "threads out of range refused");
    fp_conf_free(table);
}

void
fp_responder_test(void)
{
    char dir[] = "/tmp/fp-unit-XXXXXX", path[256], err[FP_ERR_LEN];
    sigset_t mask;
    struct sigaction pipe_act;
    s_test_t t = { .path = path };
    pthread_t web;

    s_test_opts();
    FP_CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/fcgi.sock", dir);
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    sigaction(SIGPIPE, NULL, &pipe_act);
    fp_responder_conf_t conf = {
        .fcgi = { .listen = path, .threads = 2, .body_timeout_ms = 1000 },
        .hub = { .fanout = "inproc://respondertest-fanout",
                 .control = "inproc://respondertest-control",
                 .linger_ms = 1000, .request_timeout_ms = 5000 },
        .tick_ms = 5, .grace_ms = 3000
    };
    fp_responder_cbs_t cbs = { s_t_request, s_t_round, s_t_tick,
                               s_t_stopping };
    int level = fp_log_set_level(FP_LOG_WARN);
    fp_responder_t *app = fp_responder_new(&conf, &cbs, &t, err);
    FP_CHECK(app != NULL, "responder up");
    if (app && pthread_create(&web, NULL, s_t_web_server, &t) == 0) {
        int64_t t0 = fp_clock_ms();
        FP_CHECK(fp_responder_run(app) == 0, "run returns 0 after SIGTERM");
        FP_CHECK(fp_clock_ms() - t0 < conf.grace_ms, "left before the grace "
                 "period: nothing open, nothing being read");
        pthread_join(web, NULL);
    }
    FP_CHECK(t.a_ok, "a request goes through the queue to the handler and "
             "is answered");
    FP_CHECK(t.b_first && t.b_bye && t.stopping_calls == 1,
             "stopping is called once and ends the open stream");
    FP_CHECK(t.refused_after_stop, "no new connections after the stop");
    FP_CHECK(t.c_503 && t.stopped_requests == 1 && t.requests == 3,
             "a request read during the stop reaches the handler, "
             "stopping true");
    FP_CHECK(t.rounds > 0 && app && fp_fcgi_conns_count(app->conns) == 0,
             "rounds called; every connection closed");
    fp_responder_destroy(&app);
    FP_CHECK(app == NULL, "destroyed");
    fp_log_set_level(level);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    sigaction(SIGPIPE, &pipe_act, NULL);
    rmdir(dir);
}
#endif
