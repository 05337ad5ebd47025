/*  responder: the FastCGI responder skeleton (see responder.h).  */
#include "responder.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
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
    int64_t next_tick = fp_clock_ms();
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
            if (app->cbs.tick)
                app->cbs.tick(app, now, app->arg);
            next_tick = now + app->conf.tick_ms;
            more = true;    /*  the tick may have used the hub's sockets  */
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
    fp_hub_destroy(&app->hub);
    if (app->conns)
        fp_fcgi_conns_flush(app->conns);
    fp_fcgi_conns_destroy(&app->conns);
    fp_loop_destroy(&app->loop);
    if (app->sig_fd >= 0)
        close(app->sig_fd);
    free(app);
}
