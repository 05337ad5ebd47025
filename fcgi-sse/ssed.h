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
#include "sendq.h"

#define SSED_VERSION "0.1.0"

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
    char *log_level;
} ssed_conf_t;

typedef struct ssed ssed_t;

/*  A presence channel of a stream, and its join while unanswered.  */
typedef struct ssed_stream ssed_stream_t;
typedef struct {
    ssed_stream_t *stream;      /*  the stream it belongs to  */
    char *channel;              /*  owned  */
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
    char conn_id[24];           /*  its presence connection id  */
    ssed_presence_t *presence;  /*  its presence channels  */
    size_t npresence;
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
    ssed_stats_t stats;
};

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

/*  presence.c  */
/*  Join the stream's user to its presence channels; each answer becomes
 *  an `event: presence` with the member list.  */
void ssed_presence_join(ssed_stream_t *s, const fp_strlist_t *channels);
/*  Leave them (and cancel unanswered joins): the stream is closing.  */
void ssed_presence_leave(ssed_stream_t *s);
/*  Queue SSE text for this stream only (stream.c).  */
void ssed_stream_sse(ssed_stream_t *s, const char *type, const char *data,
                     size_t len);
/*  The stream cannot go on: an error event, then the end (stream.c).  */
void ssed_stream_fail(ssed_stream_t *s, const char *code, const char *msg);

#endif
