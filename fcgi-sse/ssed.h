/*  fastpush-sse: private header.
 *
 *  One FastCGI request = one Server-Sent Events stream.  libfcgi accepts
 *  and parses the request (runtime/fcgi_accept), route.c checks it, stream.c
 *  writes the headers and then every event as whole FCGI_STDOUT records,
 *  non-blocking, from one epoll loop.  Each stream is a member of the
 *  process's hub, which keeps one broker subscription per channel and
 *  gives every stream its events once, in order, after a resume.
 */
#ifndef SSED_H
#define SSED_H

#include <stdbool.h>
#include <stdint.h>

#include "responder.h"
#include "access.h"
#include "conf.h"
#include "fcgi_conn.h"
#include "mercure_topic.h"
#include "sendq.h"

#define SSED_VERSION "0.1.0"

/*  The Mercure hub's directives (mercure_hub.c; docs/mercure.md).  */
typedef struct {
    char *path;                 /*  where the hub answers; "" = no hub  */
    char *channel;              /*  the fastpush channel of every update  */
    char *publisher_key;        /*  file: HS256 secret or RS256 PEM key  */
    char *subscriber_key;       /*  file; "" = the publisher key  */
    char *jwt_alg;              /*  HS256 or RS256  */
    bool anonymous;             /*  subscribers without a token  */
    int64_t max_topics;         /*  per update and per subscription  */
    char *cookie;               /*  cookie carrying a token  */
    bool subscriptions;         /*  subscription events and the API  */
} ssed_mercure_conf_t;

/*  Listener and broker directives: fp_responder_opts_conf (responder.h).  */
typedef struct {
    char *prefix;               /*  URL prefix, channels may follow it  */
    uint64_t heartbeat;         /*  ms of silence before a comment  */
    uint64_t retry;             /*  ms the browser waits to reconnect  */
    int64_t max_channels;       /*  per stream  */
    uint64_t max_buffer;        /*  queued bytes before a slow cut  */
    int64_t max_query;          /*  bytes of query string  */
    int64_t max_streams;        /*  open streams in this process  */
    fp_strlist_t allow_origin;  /*  CORS origins ("*" = any)  */
    uint64_t max_body;          /*  request body bytes (Mercure publishes)  */
    char *log_level;
    ssed_mercure_conf_t mercure;
} ssed_conf_t;

typedef struct ssed ssed_t;
typedef struct ssed_msub ssed_msub_t;
typedef struct ssed_mwait ssed_mwait_t;
typedef struct ssed_mercure ssed_mercure_t;

/*  A presence channel of a stream, and its join while unanswered.  */
typedef struct ssed_stream ssed_stream_t;
typedef struct {
    ssed_stream_t *stream;      /*  the stream it belongs to  */
    char *channel;              /*  owned  */
    char conn[32];              /*  its presence connection id  */
    bool quiet;                 /*  no `event: presence` (Mercure's)  */
    fp_hub_req_t *join;         /*  pending PRESENCE join, or NULL  */
} ssed_presence_t;

/*  One SSE stream: a connection and a hub member.  */
struct ssed_stream {
    ssed_t *d;
    fp_fcgi_conn_t *conn;
    fp_member_t *member;
    fp_access_client_t *client;  /*  who (NULL with auth off)  */
    int64_t expires;            /*  monotonic ms the token runs out, 0  */
    uint32_t index;             /*  position in d->streams  */
    char conn_id[24];           /*  its presence connections' stem  */
    ssed_presence_t *presence;  /*  its presence channels  */
    size_t npresence;
    ssed_msub_t *mercure;       /*  a Mercure subscription, or NULL  */
};

typedef struct {
    uint64_t opened, closed;    /*  streams  */
    uint64_t refused;           /*  requests answered with 4xx/5xx  */
    uint64_t events, resets;    /*  written to streams  */
    uint64_t slow_cut;          /*  streams ended for not reading  */
    uint64_t late;              /*  events delivered late (no id)  */
    uint64_t gone;              /*  clients that went away  */
    uint64_t heartbeats;
    uint64_t bytes;             /*  queued for writing  */
    uint64_t mercure_published; /*  Mercure updates accepted  */
} ssed_stats_t;

struct ssed {
    ssed_conf_t conf;
    fp_responder_t *app;
    fp_access_t *authz;          /*  who may subscribe to what  */
    fp_fcgi_conns_t *conns;         /*  every handed-over connection  */
    ssed_stream_t **streams;    /*  the open streams  */
    uint32_t nstreams, cap;
    fp_blob_t *heartbeat;       /*  the comment record for request id 1  */
    int64_t next_sweep;
    int64_t next_report;
    uint64_t next_conn_id;      /*  presence connection ids  */
    ssed_mercure_t *mercure;    /*  the Mercure hub, or NULL  */
    ssed_mwait_t *mwaits;       /*  Mercure requests waiting for the
                                    broker (mercure_wait.c)  */
    ssed_stats_t stats;
};

/*  Why a request is refused: the first refusal wins (verdict.c).  */
typedef struct {
    int status;                 /*  0 = fine  */
    const char *code;
    char msg[FP_ERR_LEN];
} ssed_verdict_t;
void ssed_refuse(ssed_verdict_t *v, int status, const char *code,
                 const char *msg);

/*  route.c  */
void ssed_route(ssed_t *d, fp_fcgi_req_t *req);

/*  stream.c  */
void ssed_stream_open(ssed_t *d, fp_fcgi_req_t *req,
                      const fp_strlist_t *channels, const char *cursor,
                      const char *headers, fp_access_client_t **client);
void ssed_reply(ssed_t *d, fp_fcgi_req_t *req, int status,
                const char *headers, const char *code, const char *msg);
void ssed_sweep(ssed_t *d, int64_t now);
void ssed_stop_all(ssed_t *d);

/*  A stream that is a member of the hub and a connection, with nothing
 *  written yet: takes *req_p (freed, NULLed).  NULL with err when the
 *  hub refuses the channels or the cursor; req stays the caller's.
 *  `expires`: monotonic ms the stream ends, 0 none (stream.c).  */
ssed_stream_t *ssed_stream_new(ssed_t *d, fp_fcgi_req_t **req_p,
                               const fp_strlist_t *channels,
                               const char *cursor, int64_t expires,
                               char *err);
/*  The response head of a 200 stream with extra header lines, and the
 *  retry field (stream.c).  */
void ssed_stream_head(ssed_t *d, fp_buf_t *b, const char *headers);
/*  Queue a record blob (a reference is taken); false if the stream ended
 *  (it was too slow, or its client went away) (stream.c).  */
bool ssed_stream_push(ssed_stream_t *s, fp_blob_t *b);
/*  End the response (the browser reconnects) and forget the stream
 *  (stream.c).  */
void ssed_stream_end(ssed_stream_t *s);
/*  Queue SSE text as this stream's FCGI_STDOUT records (stream.c).  */
void ssed_stream_text(ssed_stream_t *s, const char *text, size_t len);

/*  mercure_hub.c: the hub's keys and requests.  */
/*  Load the keys when mercure-path is set (d->mercure; NULL otherwise).
 *  0, or -1 with err (a startup error).  */
int ssed_mercure_new(ssed_t *d, const ssed_conf_t *conf, char *err);
/*  Free the hub's keys (s_stopped answered its publishes); NULLs.  */
void ssed_mercure_destroy(ssed_t *d);
/*  True when the request is for the hub (its path, or below it).  */
bool ssed_mercure_wants(const ssed_t *d, const fp_fcgi_req_t *req);
/*  Answer a request for the hub (GET subscribe, POST publish, OPTIONS
 *  preflight); takes req.  */
void ssed_mercure_route(ssed_t *d, fp_fcgi_req_t *req);
/*  The selectors a subscriber's token grants (its mercure.subscribe
 *  claim) and until when, from the token of the request: 0; 401 with
 *  err (a bad token, or none with mercure-anonymous off).  `action` is
 *  "subscribe" or "publish"; *sel is filled (caller clears); *payload
 *  (when not NULL) gets the claim's mercure.payload or NULL (caller
 *  owns it).  */
int ssed_mercure_auth(ssed_t *d, const fp_fcgi_req_t *req,
                      const char *action, bool cookie_ok,
                      fp_mtopics_t *sel, int64_t *expires, json_t **payload,
                      char *err);

/*  The hub's id of an event: "#EPOCH-SEQ", a fragment IRI as the
 *  protocol allows hubs (publishers' ids may not start with '#').  out:
 *  FP_CURSOR_LEN + 1 bytes.  */
void ssed_mercure_id(const char *epoch, uint64_t seq, char *out);

/*  Answer a refused hub request (a Bearer challenge with 401, a
 *  Retry-After with 503); takes req.  */
void ssed_mercure_refuse(ssed_t *d, fp_fcgi_req_t *req,
                         const ssed_verdict_t *v, const char *cors);

/*  mercure_publish.c: POST: one update, published on mercure-channel,
 *  answered with its id once the broker has it.  Takes req.  */
void ssed_mercure_publish(ssed_t *d, fp_fcgi_req_t *req, const char *cors);

/*  mercure_wait.c: a request waiting for the broker's answer.  */
struct ssed_mwait {
    ssed_t *d;
    fp_fcgi_conn_t *conn;       /*  NULL once the web server went away  */
    fp_hub_req_t *hreq;         /*  the broker request (set by the caller)  */
    char *headers;              /*  CORS lines of the answer  */
    void *ctx;                  /*  the caller's, freed with ctx_free  */
    void (*ctx_free)(void *ctx);
    ssed_mwait_t *next, **prevp; /*  d->mwaits  */
};
/*  Take *req_p (freed, NULLed) as a waiting request answered with
 *  `headers` (copied) and more.  */
ssed_mwait_t *ssed_mwait_new(ssed_t *d, fp_fcgi_req_t **req_p,
                             const char *headers);
/*  Answer (unless the client went away), cancel the broker request and
 *  free w: the one way a waiting request ends.  */
void ssed_mwait_finish(ssed_mwait_t *w, int status, const char *ctype,
                       const char *body);
/*  Answer with a JSON error object.  */
void ssed_mwait_fail(ssed_mwait_t *w, int status, const char *code,
                     const char *msg);
/*  Answer every request still waiting with 503 (stop).  */
void ssed_mwait_stop_all(ssed_t *d);

/*  mercure_stream.c: GET: a subscription.  Takes req.  */
void ssed_mercure_subscribe(ssed_t *d, fp_fcgi_req_t *req, const char *cors);
/*  What a Mercure stream does with an event, a reset and ready.  */
void ssed_mercure_event(ssed_stream_t *s, fp_event_t *ev, unsigned flags);
void ssed_mercure_reset(ssed_stream_t *s);
void ssed_mercure_ready(ssed_stream_t *s);
/*  The response head, if not written yet (the sweep: a stream that waits
 *  for the broker longer than a heartbeat gets it without an id).  */
void ssed_mercure_start(ssed_stream_t *s, const char *last_event_id);
/*  Free a stream's subscription; NULLs.  */
void ssed_mercure_sub_free(ssed_msub_t **m_p);

/*  mercure_subs.c: active subscriptions (mercure-subscriptions on).  */
/*  The stream's subscription joins: one presence member per selector on
 *  mercure-channel, with the token's payload (borrowed, or NULL).  */
void ssed_msubs_join(ssed_stream_t *s, const fp_strlist_t *selectors,
                     json_t *payload);
/*  Bytes of a subscription's record (selector, subscriber, payload as
 *  JSON): the broker's bound on a roster member's user_info.  */
#define SSED_MSUB_INFO_MAX 16384
/*  True when every selector's record fits (always with subscriptions
 *  off): a subscription that would not is refused (400) before it opens.  */
bool ssed_msubs_fit(const ssed_t *d, const fp_strlist_t *selectors,
                    json_t *payload);
/*  A member_added / member_removed of mercure-channel as a subscription
 *  update: 0 with its topic and JSON-LD data (caller frees both), -1 if
 *  ev is not one.  */
int ssed_msubs_update(const ssed_t *d, const fp_event_t *ev, char **topic,
                      char **data);
/*  GET MERCURE-PATH/subscriptions[/{topic}[/{subscriber}]].  Takes req.  */
void ssed_msubs_api(ssed_t *d, fp_fcgi_req_t *req, const char *cors);

/*  presence.c  */
/*  Join the stream's user to its presence channels; each answer becomes
 *  an `event: presence` with the member list.  */
void ssed_presence_join(ssed_stream_t *s, const fp_strlist_t *channels);
/*  Join n connections of the stream ("CONN_ID.i") to one channel's
 *  roster as the users ids[i] with infos[i] (compact JSON): the Mercure
 *  hub's subscriptions.  Answers are not shown; a refusal ends the stream.  */
void ssed_presence_join_each(ssed_stream_t *s, const char *channel,
                             size_t n, char *const *ids,
                             char *const *infos);
/*  Leave them (and cancel unanswered joins): the stream is closing.  */
void ssed_presence_leave(ssed_stream_t *s);
/*  Queue SSE text for this stream only (stream.c).  */
void ssed_stream_sse(ssed_stream_t *s, const char *type, const char *data,
                     size_t len);
/*  The stream cannot go on: an error event, then the end (stream.c).  */
void ssed_stream_fail(ssed_stream_t *s, const char *code, const char *msg);

#endif
