/*  fastpush-poll: private header.
 *
 *  A FastCGI responder for everything that is request/response:
 *
 *    GET  PREFIX/poll?channel=a&since=CURSOR[&limit=N][&wait=S][&presence=1]
 *    GET  PREFIX/state?channel=c
 *    POST PREFIX/publish                (JSON event; the secret, or
 *                                        publish rights with auth on)
 *    GET  PREFIX/stats                  (JSON)
 *    GET  PREFIX/metrics                (Prometheus text format)
 *    GET  PREFIX/health, PREFIX/health/ready   (liveness, readiness)
 *    POST PUSHER-PATH/apps/ID/events, .../batch_events    (the Pusher
 *    GET  PUSHER-PATH/apps/ID/channels[/NAME[/users]]      HTTP API,
 *                                        with pusher-apps: pusher_*.c)
 *
 *  Every request is handed over from libfcgi to the loop (runtime/fcgi_conn)
 *  and answered asynchronously: a broker request through the hub, or a
 *  parked long-poll (a hub member) that answers at its first event or
 *  when its wait ends.  No thread is held by a waiting request.
 */
#ifndef POLLD_H
#define POLLD_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "responder.h"
#include "access.h"
#include "buf.h"
#include "conf.h"
#include "cursor.h"
#include "pusher.h"
#include "fcgi_conn.h"

#define POLLD_VERSION "0.1.0"

/*  Listener and broker directives: fp_responder_opts_conf (responder.h).  */
/*  The routes (route.c).  */
enum { POLLD_R_POLL, POLLD_R_STATE, POLLD_R_PUBLISH, POLLD_R_STATS,
       POLLD_R_METRICS, POLLD_R_HEALTH, POLLD_R_READY, POLLD_R_PUSHER,
       POLLD_R_COUNT };

typedef struct {
    char *prefix;               /*  URL prefix of the routes  */
    int64_t max_channels;       /*  per poll  */
    int64_t default_limit;      /*  events per answer without ?limit  */
    int64_t max_limit;
    uint64_t max_wait;          /*  longest long-poll (ms)  */
    int64_t max_parked;         /*  long-polls waiting at once  */
    uint64_t max_body;          /*  publish body bytes  */
    int64_t max_query;          /*  query string bytes  */
    char *publish_secret;       /*  X-Fastpush-Secret for POST publish  */
    fp_strlist_t allow_origin;  /*  CORS origins ("*" = any)  */
    int64_t metrics_top;        /*  channels listed in /metrics  */
    char *stats_access;         /*  who reads /stats, /metrics (statsgate.h) */
    unsigned stats_ways;        /*  ... parsed: FP_STATSGATE_* bits  */
    char *stats_token;          /*  bearer token of stats-access token  */
    char *stats_right;          /*  channel of stats-access auth  */
    char *log_level;
    char *pusher_apps;          /*  apps file of the Pusher API ("" = off)  */
    char *pusher_path;          /*  URL path above /apps/ID/...  */
    int64_t pusher_max_batch;   /*  events per batch_events  */
    int64_t pusher_max_channels;/*  channels per event  */
    uint64_t pusher_max_data;   /*  bytes of one event's data  */
    uint64_t pusher_max_skew;   /*  auth_timestamp off by at most (ms)  */
    uint64_t presence_idle;     /*  a poll member leaves after (ms)  */
    int64_t max_presence;       /*  poll members (user, channel) kept  */
    int64_t max_presence_user;  /*  ... of one user  */
} polld_conf_t;

typedef struct {
    uint64_t requests[POLLD_R_COUNT];   /*  per route (POLLD_R_*)  */
    uint64_t status[6];         /*  1xx..5xx answers (index status/100)  */
    uint64_t not_modified;      /*  304s  */
    uint64_t parked;            /*  long-polls that waited  */
    uint64_t woken;             /*  ... answered by an event  */
    uint64_t timed_out;         /*  ... answered when the wait ended  */
    uint64_t events;            /*  events returned  */
    uint64_t resets;            /*  resets returned  */
    uint64_t published;         /*  HTTP publishes accepted  */
    uint64_t gone;              /*  clients that left while waiting  */
    uint64_t stats_refused;     /*  /stats, /metrics refused (403)  */
    uint64_t since_sent;        /*  SINCE requests sent for polls  */
    uint64_t since_shared;      /*  polls answered by another's SINCE  */
    uint64_t presence_joined;   /*  poll members joined (presence.c)  */
    uint64_t presence_idle;     /*  ... left after presence-idle  */
    uint64_t presence_refused;  /*  ... refused (full)  */
} polld_stats_t;

typedef struct polld polld_t;
typedef struct polld_batch polld_batch_t;
typedef struct polld_fan polld_fan_t;
typedef struct polld_pslot polld_pslot_t;

/*  One request being answered.  */
typedef struct polld_req {
    polld_t *d;
    fp_fcgi_conn_t *conn;
    fp_access_client_t *client;  /*  who asks (NULL with auth off)  */
    int route;                  /*  POLLD_R_*  */
    char *headers;              /*  extra header lines (CORS), owned  */
    char *if_none_match;        /*  owned or NULL  */
    fp_strlist_t channels;
    int64_t limit;
    int64_t wait_ms;            /*  0 = answer at once  */
    fp_hub_req_t *hreq;         /*  pending broker request  */
    polld_batch_t *batch;       /*  the shared SINCE it waits for (batch.c)  */
    struct polld_req *bnext;    /*  ... the batch's list  */
    fp_member_t *member;        /*  parked long-poll  */
    int64_t deadline;           /*  end of the wait (ms, monotonic)  */
    uint32_t slot;              /*  position in d->parked  */
    bool answer_due;            /*  answer at the end of this round  */
    bool cut;                   /*  events past `limit` were left out  */
    fp_buf_t events;            /*  JSON texts, comma-separated  */
    int64_t nevents;
    fp_buf_t resets;            /*  reset objects, comma-separated  */
    char cursor[FP_CURSOR_LEN]; /*  cursor to answer with  */
    struct polld_req *next_due;
    const fp_pusher_app_t *app; /*  Pusher API: the signed app (borrowed)  */
    polld_fan_t *fan;           /*  several broker requests (fan.c)  */
    bool pusher_one;            /*  ... channels/NAME, not the list  */
    bool pusher_users;          /*  ... channels/NAME/users  */
    bool pusher_count;          /*  ... info=user_count  */
    bool pusher_batch;          /*  ... batch_events (nevents of them)  */
    char *since;                /*  the poll's `since` (owned), or NULL  */
    polld_pslot_t *pslots;      /*  its presence channels (presence.c)  */
    size_t npslots;
    size_t ppending;            /*  ... joins or lists not answered yet  */
} polld_req_t;


struct polld {
    polld_conf_t conf;
    fp_responder_t *app;
    fp_access_t *authz;          /*  who may do what  */
    fp_fcgi_conns_t *conns;
    polld_req_t **parked;       /*  waiting long-polls  */
    uint32_t nparked, cap;
    polld_req_t *due;           /*  answers to send this round  */
    zhashx_t *batches;          /*  question -> polld_batch_t (batch.c)  */
    int64_t next_report;
    polld_stats_t stats;
    fp_pusher_apps_t *pusher;   /*  pusher-apps, or NULL (API off)  */
    zhashx_t *presence;         /*  "user\037channel" -> poll member
                                    (presence.c), made at the first  */
    int64_t presence_next;      /*  ... when to look for idle ones  */
    uint64_t presence_ids;      /*  the members' connection ids  */
    zhashx_t *presence_users;   /*  user -> its members (a uintptr_t)  */
};

/*  route.c: find the route of a request (which it takes) and run it.  */
void polld_route(polld_t *d, fp_fcgi_req_t *req);

/*  answer.c: every answer ends the request (polld_req_free: r is gone
 *  after it).  polld_answer: status, the request's CORS headers plus
 *  extra_headers, body (borrowed).  polld_error: an error body
 *  {"error":CODE,"message":TEXT}.  polld_broker_error: a refusal from the
 *  broker or the hub (its META, borrowed) with the HTTP status of its
 *  code.  polld_refuse: 401 (with a challenge), 403 or 429.
 *  polld_allow: 0, or -1 with the refusal answered.  */
void polld_answer(polld_req_t *r, int status, const char *extra_headers,
                  const char *body, size_t len);
void polld_error(polld_req_t *r, int status, const char *code,
                 const char *msg);
void polld_broker_error(polld_req_t *r, const json_t *meta);
void polld_refuse(polld_req_t *r, int status, const char *msg);
int polld_allow(polld_req_t *r, int action, const fp_strlist_t *channels);
void polld_req_free(polld_req_t *r);

/*  poll.c  */
void polld_poll(polld_req_t *r, fp_fcgi_req_t *req);
void polld_answer_due(polld_t *d);
void polld_expire(polld_t *d, int64_t now);
void polld_unpark(polld_req_t *r);

/*  The poll's broker request (PING, or SINCE from r->since), once its
 *  presence joins and lists are in (presence.c calls it).  */
void polld_poll_go(polld_req_t *r);

/*  The broker's answer to a poll's SINCE (meta, evs borrowed): answer r,
 *  or park it when it waits and nothing is new.  */
void polld_since_answer(polld_req_t *r, bool ok, json_t *meta,
                        fp_event_t **evs, size_t n);

/*  batch.c: ask SINCE from `since` for r's channels and limit, sharing
 *  the SINCE of polls with the same question (polld_since_answer answers
 *  each); polld_batch_leave takes r out (polld_req_free does);
 *  polld_batch_release frees d's table (made at the first poll).  */
void polld_batch_since(polld_req_t *r, const char *since);
void polld_batch_leave(polld_req_t *r);
void polld_batch_release(polld_t *d);

/*  presence.c: the presence channels of polls.  A user polling a
 *  presence channel is one member of it per process (connection id "p"
 *  and the hex MD5 of the user id), joined at its first poll and left
 *  after presence-idle without one.  polld_presence_poll: hold r's
 *  presence channels (refreshing them), join the new ones and ask the
 *  lists wanted (want_list: ?presence=1), then polld_poll_go(r); or
 *  answer r with the refusal (-1: r is gone).  polld_presence_release:
 *  let go of r's channels (polld_req_free calls it).
 *  polld_presence_append: ,"presence":[...] for the answer when r got
 *  lists (true then; b NULL: only say whether).  polld_presence_expire:
 *  leave the members idle since presence-idle.  polld_presence_free:
 *  forget the table (at the end; fp_presence_destroy drops the members
 *  at the broker).  */
int polld_presence_poll(polld_req_t *r, bool want_list);
void polld_presence_release(polld_req_t *r);
bool polld_presence_append(const polld_req_t *r, fp_buf_t *b);
void polld_presence_expire(polld_t *d, int64_t now);
void polld_presence_free(polld_t *d);

/*  state.c, publish.c, stats.c  */
void polld_state(polld_req_t *r, fp_fcgi_req_t *req);
void polld_publish(polld_req_t *r, fp_fcgi_req_t *req);
/*  stats.c: /stats or /metrics (by r->route), if stats-access admits
 *  the request (else 404 or 403); req borrowed.  polld_stats_check: the
 *  stats directives make sense (0, or -1 with err); it sets
 *  conf->stats_ways from conf->stats_access.  */
void polld_stats(polld_req_t *r, fp_fcgi_req_t *req);
int polld_stats_check(polld_conf_t *conf, const fp_access_t *authz,
                      char *err);
json_t *polld_self_stats(polld_t *d);
/*  health.c: /health (200 while serving) and /health/ready (200, or 503
 *  not_ready with the reason); req borrowed.  */
void polld_health(polld_req_t *r, fp_fcgi_req_t *req);
void polld_ready(polld_req_t *r, fp_fcgi_req_t *req);

/*  pusher_auth.c: a request below pusher-path: "/apps/ID/REST" with a
 *  valid Pusher signature of app ID.  polld_pusher_route finds its app
 *  (r->app), checks the signature and runs the handler of REST (events,
 *  batch_events, channels...); anything else is answered 401/404/405.
 *  polld_pusher_load reads conf->pusher_apps into d (0, or -1 with err)
 *  and makes max-body hold a full batch.  */
bool polld_pusher_below(const polld_t *d, const char *path);
void polld_pusher_route(polld_req_t *r, fp_fcgi_req_t *req);
int polld_pusher_load(polld_t *d, polld_conf_t *conf, char *err);
/*  pusher_events.c: POST events / batch_events (batch), everything
 *  validated before anything is published.  */
void polld_pusher_events(polld_req_t *r, fp_fcgi_req_t *req, bool batch);

/*  terminateUserConnections: POST .../users/UID/terminate_connections
 *  (user_id is len bytes of the path): publish FP_PUSHER_TERMINATE_TYPE on
 *  the user's channel; 200 {} once the broker has it.  */
void polld_pusher_terminate(polld_req_t *r, const char *user_id, size_t len);
/*  pusher_channels.c: GET channels, channels/NAME, channels/NAME/users
 *  (rest: what follows "channels", "" or "/NAME" or "/NAME/users").  */
void polld_pusher_channels(polld_req_t *r, fp_fcgi_req_t *req,
                           const char *rest);

/*  fan.c: send cmd once per body of the JSON array bodies (borrowed;
 *  each is copied) for r; when the last reply is in, done gets their
 *  META objects in the order of bodies (borrowed for the call) and the
 *  first refusal's META, or NULL.  done answers r (with no bodies it runs
 *  at once: r may be gone when polld_fan_send returns).
 *  polld_fan_free cancels what is pending (polld_req_free calls it).  */
typedef void (polld_fan_done_fn)(polld_req_t *r, json_t **metas, size_t n,
                                 const json_t *failed);
void polld_fan_send(polld_req_t *r, const char *cmd, const json_t *bodies,
                    polld_fan_done_fn *done);
void polld_fan_free(polld_req_t *r);

#endif
