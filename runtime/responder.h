/*  responder: the skeleton of a FastCGI responder (fastpush-sse, -poll).
 *
 *  One loop thread owns everything: the epoll loop, the hub (broker
 *  connection), and every handed-over FastCGI connection.  libfcgi
 *  acceptor threads (fcgi_accept.h) feed it requests.  The app calls the
 *  program back for each request, after each loop round (to flush
 *  writes in batches), on a periodic tick, and once at shutdown.
 *
 *  SIGTERM/SIGINT: stop accepting, call `stopping` (end streams so
 *  browsers reconnect), then leave the loop once the program calls
 *  fp_responder_quit or the grace period ends; run returns 0.  Requests that
 *  libfcgi accepted before the stop still reach `request`, with
 *  fp_responder_stopping true: answer them at once (no new stream, no parking)
 *  rather than leave the web server a closed connection (a 502).
 */
#ifndef FP_RESPONDER_H
#define FP_RESPONDER_H

#include <stdint.h>

#include "err.h"
#include "fcgi_accept.h"
#include "fcgi_conn.h"
#include "hub.h"
#include "conf.h"
#include "loop.h"
#include "presence.h"

typedef struct fp_responder fp_responder_t;

typedef struct {
    /*  A request taken over from libfcgi; the callee owns req.  */
    void (*request)(fp_responder_t *app, fp_fcgi_req_t *req, void *arg);
    /*  After every loop round (flush what the round produced).  */
    void (*round)(fp_responder_t *app, void *arg);
    /*  Every tick_ms, with the monotonic time.  */
    void (*tick)(fp_responder_t *app, int64_t now, void *arg);
    /*  Shutdown began: end open streams cleanly.  */
    void (*stopping)(fp_responder_t *app, void *arg);
} fp_responder_cbs_t;

typedef struct {
    fp_fcgi_accept_conf_t fcgi;        /*  where to accept requests  */
    fp_hub_conf_t hub;          /*  the broker  */
    int tick_ms;                /*  default 100  */
    int grace_ms;               /*  shutdown grace (default 3000)  */
    int64_t presence_beat_ms;   /*  presence beats (default 10000)  */
    const char *transport;      /*  "sse" or "poll": the presence instance  */
} fp_responder_conf_t;

/*  The directives every FastCGI responder shares: listen, socket-mode,
 *  threads, fanout, control, linger.  A program nests fp_responder_opts in its
 *  table (values land in fp_responder_opts_conf; fp_conf_free frees them with
 *  the rest), calls fp_responder_opts_defaults before parsing and
 *  fp_responder_opts_apply to fill the listener and hub parts of its app
 *  conf (the strings stay owned by fp_responder_opts_conf).  */
typedef struct {
    char *listen;               /*  FastCGI address / socket, "" = fd 0  */
    int64_t socket_mode;        /*  chmod of a unix socket (octal), 0 = no  */
    int64_t threads;            /*  libfcgi acceptor threads  */
    char *fanout, *control;     /*  broker endpoints  */
    uint64_t linger;            /*  keep unused subscriptions (ms)  */
    uint64_t presence_beat;     /*  ms between presence beats  */
} fp_responder_opts_conf_t;

extern fp_responder_opts_conf_t fp_responder_opts_conf;
extern const fp_conf_opt_t fp_responder_opts[];
void fp_responder_opts_defaults(void);
void fp_responder_opts_apply(fp_responder_conf_t *ac);

/*  Block signals, connect the hub, open the listener, start acceptors.
 *  NULL with err.  Caller owns the app.  */
fp_responder_t *fp_responder_new(const fp_responder_conf_t *conf, const fp_responder_cbs_t *cbs,
                     void *arg, char *err);

/*  Run until shutdown; returns the exit status (0 after SIGTERM).  */
int fp_responder_run(fp_responder_t *app);

/*  Leave the loop at the end of this round (e.g. all streams ended).  */
void fp_responder_quit(fp_responder_t *app);

/*  True once shutdown began.  */
int fp_responder_stopping(const fp_responder_t *app);

/*  The loop, the hub and the handed-over connections (borrowed).  */
fp_loop_t *fp_responder_loop(fp_responder_t *app);
fp_hub_t *fp_responder_hub(fp_responder_t *app);
/*  The process's presence (runtime/presence), borrowed; beaten by the
 *  loop, dropped before the hub goes.  */
fp_presence_t *fp_responder_presence(fp_responder_t *app);
fp_fcgi_conns_t *fp_responder_conns(fp_responder_t *app);

/*  Stop everything and free, in the order that keeps callbacks safe:
 *  acceptors, hub (pending requests are failed with "shutdown" while
 *  connections still exist), connections, loop.  NULLs *app_p.  */
void fp_responder_destroy(fp_responder_t **app_p);

#endif
