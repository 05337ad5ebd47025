/*  wsb: fastpush-ws, the WebSocket bridge (RFC 6455 over epoll).
 *
 *  Files: main.c (command line, directives, master and workers), worker.c
 *  (one worker's loop: listener, hub, timers, shutdown), conn.c (one
 *  connection: handshake, frames, close handshake, output), frame.c (the
 *  frame parser and encoder, no I/O), handshake.c (the HTTP upgrade),
 *  proto.c (the JSON protocol of client messages), sub.c (subscriptions:
 *  hub members and the shared event frames), out.c (what is queued for a
 *  client), deflate.c (permessage-deflate), pusher.c (the Pusher
 *  protocol), presence.c (a connection's presence channels).  Calls go
 *  one way: worker -> conn -> pusher -> proto -> sub -> presence, each
 *  of them -> out; out calls back only wsb_conn_end
 *  (docs/architecture.md).  docs/protocol.md describes what
 *  clients see.
 */
#ifndef WSB_H
#define WSB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "buf.h"
#include "conf.h"
#include "hub.h"
#include "loop.h"
#include "presence.h"
#include "pusher.h"
#include "rate.h"
#include "sendq.h"
#include "utf8.h"

#define WSB_VERSION "0.1.0"

/* ------------------------------------------------------------ config */

typedef struct {
    char *listen;               /*  HOST:PORT  */
    int64_t workers;            /*  processes sharing the port  */
    int64_t backlog;
    int64_t max_connections;    /*  per worker; 503 past it  */
    fp_strlist_t paths;         /*  request paths served  */
    char *health_path;          /*  liveness here, readiness at /ready;
                                    "" = off  */
    fp_strlist_t subprotocols;  /*  ours, in order of preference  */
    fp_strlist_t origins;       /*  allowed Origin values; empty = any  */
    bool allow_no_origin;       /*  requests without Origin  */
    uint64_t max_header;        /*  bytes of the upgrade request  */
    uint64_t handshake_timeout;
    uint64_t max_message;       /*  bytes of one client message  */
    uint64_t max_queue;         /*  output bytes a client may stay above
                                    for slow_timeout before it is cut  */
    uint64_t slow_timeout;
    uint64_t max_queue_hard;    /*  output bytes that cut at once  */
    uint64_t heartbeat;         /*  ping after this much silence  */
    int64_t heartbeat_misses;   /*  silent intervals before closing  */
    uint64_t close_timeout;     /*  wait for the peer's close / EOF  */
    int64_t max_subscriptions;  /*  per connection  */
    int64_t max_channels;       /*  per connection, all subscriptions  */
    int64_t max_pending;        /*  publishes in flight per connection  */
    int64_t message_rate;       /*  client messages per second (burst the
                                    same); 0 = no limit  */
    bool publish;               /*  clients may publish  */
    bool echo;                  /*  echo test mode instead of JSON  */
    bool deflate;               /*  accept permessage-deflate offers  */
    int64_t deflate_level;      /*  zlib level for events, 1-9  */
    char *fanout;               /*  broker endpoints  */
    char *control;
    char *log_level;
    fp_access_t *authz;          /*  built from the auth directives  */
    uint64_t presence_beat;     /*  ms between the worker's presence beats  */
    char *pusher_apps_file;     /*  Pusher apps (lib/pusher), "" = off  */
    fp_pusher_apps_t *pusher;   /*  loaded from it, or NULL  */
    char *pusher_path;          /*  Pusher clients connect to PATH/KEY  */
    uint64_t pusher_activity;   /*  activity_timeout told to them (ms)  */
} wsb_conf_t;

/* ------------------------------------------------------------ frames */

enum {
    WSB_OP_CONT = 0, WSB_OP_TEXT = 1, WSB_OP_BINARY = 2,
    WSB_OP_CLOSE = 8, WSB_OP_PING = 9, WSB_OP_PONG = 10
};

enum {
    WSB_CLOSE_NORMAL = 1000, WSB_CLOSE_AWAY = 1001,
    WSB_CLOSE_PROTOCOL = 1002, WSB_CLOSE_UNSUPPORTED = 1003,
    WSB_CLOSE_NO_STATUS = 1005, WSB_CLOSE_BAD_DATA = 1007,
    WSB_CLOSE_POLICY = 1008, WSB_CLOSE_TOO_BIG = 1009,
    WSB_CLOSE_ERROR = 1011, WSB_CLOSE_TRY_LATER = 1013,
    WSB_CLOSE_AUTH_EXPIRED = 4001
};

/*  Or'ed into an opcode for wsb_frame_head: the frame's RSV1 bit, a
 *  compressed message (permessage-deflate).  */
#define WSB_FRAME_RSV1 0x40

/*  Parser states: the bytes of a frame may arrive one at a time.  */
typedef enum {
    WSB_PS_HEAD,                /*  first two header bytes  */
    WSB_PS_LEN,                 /*  16- or 64-bit extended length  */
    WSB_PS_MASK,                /*  masking key  */
    WSB_PS_DATA,                /*  payload  */
    WSB_PS_FAILED               /*  protocol error; nothing more parsed  */
} wsb_pstate_t;

typedef enum {
    WSB_EV_NONE,                /*  all input consumed, need more  */
    WSB_EV_DATA,                /*  a piece of a text/binary message  */
    WSB_EV_CONTROL,             /*  a whole close, ping or pong frame  */
    WSB_EV_ERROR                /*  fail the connection with `code`  */
} wsb_evtype_t;

typedef struct {
    wsb_evtype_t type;
    uint8_t opcode;             /*  DATA: the message's (1 or 2);
                                    CONTROL: 8, 9 or 10  */
    bool fin;                   /*  DATA: last piece of the message  */
    bool compressed;            /*  DATA: the message is deflated (RSV1);
                                    its UTF-8 is not checked here  */
    uint16_t code;              /*  ERROR: close code to send;
                                    CONTROL close: received code or 1005  */
    const uint8_t *data;        /*  unmasked payload (borrowed: the input
                                    buffer or the parser)  */
    size_t len;
    const char *why;            /*  ERROR: reason for the close frame  */
} wsb_ev_t;

typedef struct {
    uint64_t max_message;       /*  message size limit (0: none)  */
    uint64_t len;               /*  payload length of the current frame  */
    uint64_t got;               /*  payload bytes of it consumed  */
    uint64_t msg_len;           /*  bytes of the open data message  */
    fp_utf8_t utf8;             /*  validation of the open text message  */
    uint8_t state;              /*  wsb_pstate_t  */
    uint8_t op, fin;            /*  current frame  */
    uint8_t msg_op;             /*  opcode of the open message, 0 if none  */
    bool rsv1_ok;               /*  permessage-deflate was negotiated  */
    bool msg_z;                 /*  the open message is compressed  */
    bool rsv1;                  /*  current frame  */
    uint8_t need, have;         /*  header bytes wanted / collected  */
    uint8_t hdr[8];
    uint8_t mask[4];
    uint8_t ctl[125];           /*  control frame payload  */
    uint16_t fail_code;
    const char *fail_why;
} wsb_parser_t;

/*  Reset a parser for a new connection with a message size limit.  */
void wsb_parser_init(wsb_parser_t *p, uint64_t max_message);

/*  Parse client frames from in[0..n), unmasking in place.  Returns the
 *  bytes consumed and fills ev; call again with the rest while ev->type is
 *  not WSB_EV_NONE.  After WSB_EV_ERROR the parser stays failed.  */
size_t wsb_parse(wsb_parser_t *p, uint8_t *in, size_t n, wsb_ev_t *ev);

/*  Check a close frame's payload.  Returns 0 (code in *code, 1005 when
 *  empty) or the close code to fail with (1002, or 1007 for a reason that
 *  is not UTF-8).  */
int wsb_close_check(const uint8_t *p, size_t n, uint16_t *code);

/*  True for codes a peer may send (1000-1003, 1007-1014, 3000-4999).  */
bool wsb_close_code_valid(unsigned code);

/*  Write an unmasked frame header with FIN for a payload of len bytes
 *  (opcode may carry WSB_FRAME_RSV1); returns its size (2, 4 or 10; out
 *  needs 10).  */
size_t wsb_frame_head(uint8_t *out, int opcode, uint64_t len);

/*  A whole frame in a blob with one reference (the caller's).  */
fp_blob_t *wsb_frame_blob(int opcode, const void *data, size_t len);

/*  A close frame: code (0 for none) and a reason cut to fit 123 bytes at
 *  a character boundary.  */
fp_blob_t *wsb_close_blob(unsigned code, const char *reason);

/* ------------------------------------------------------------ deflate */

typedef struct wsb_deflate wsb_deflate_t;

/*  True if a Sec-WebSocket-Extensions value holds a permessage-deflate
 *  offer we accept (any context takeover and client window; a server
 *  window of 15 or none; no unknown or repeated parameter).  */
bool wsb_deflate_offer(const char *value);

/*  The response header line (CRLF-ended) for an accepted offer: no
 *  context takeover either way.  */
#define WSB_DEFLATE_RESPONSE "Sec-WebSocket-Extensions: permessage-deflate; " \
    "server_no_context_takeover; client_no_context_takeover\r\n"

/*  A worker's streams (compression at level 1-9); NULL with err.  */
wsb_deflate_t *wsb_deflate_new(int level, char *err);

/*  Free the streams; NULL the pointer.  */
void wsb_deflate_destroy(wsb_deflate_t **z_p);

/*  A whole compressed frame (RSV1) of data, one reference (the
 *  caller's); NULL when compressing does not make it smaller.  */
fp_blob_t *wsb_deflate_frame(wsb_deflate_t *z, int opcode, const void *data,
                             size_t len);

/*  Inflate one compressed client message.  0 with *out (valid until the
 *  next call on z) and *outlen; or the close code: 1009 past max bytes
 *  (0: no limit), 1007 for data that is not a deflate stream.  */
int wsb_deflate_inflate(wsb_deflate_t *z, const uint8_t *in, size_t n,
                        uint64_t max, const uint8_t **out, size_t *outlen);

/* ------------------------------------------------------------ handshake */

#define WSB_ACCEPT_LEN 29       /*  base64 of SHA-1, with the NUL  */
#define WSB_HS_HEADERS 48       /*  header lines kept for authorization  */

typedef struct {
    int status;                 /*  101, or the HTTP status of a refusal  */
    const char *why;            /*  refusal text for the body  */
    bool bad_version;           /*  426: add Sec-WebSocket-Version  */
    bool need_upgrade;          /*  426: add Upgrade: websocket  */
    bool challenge;             /*  401: add WWW-Authenticate  */
    char accept[WSB_ACCEPT_LEN];
    char protocol[64];          /*  chosen subprotocol or ""  */
    bool deflate;               /*  permessage-deflate accepted  */
    /*  For authorization, borrowed from the request buffer: the header
     *  lines (the first WSB_HS_HEADERS), the query string ("" if none)
     *  and the token of an offered "bearer.<token>" subprotocol (never
     *  echoed), or NULL.  */
    struct { const char *name, *value; } hdr[WSB_HS_HEADERS];
    int nhdr;
    const char *query;
    const char *bearer;
    bool pusher;                /*  a Pusher client: pusher-path/KEY  */
    char pusher_key[FP_PUSHER_ID_MAX + 1];  /*  "" when too long  */
} wsb_hs_t;

/*  Check a complete upgrade request (the bytes up to and including the
 *  blank line, NUL-terminated, modified in place) against the
 *  configuration.  Fills hs; hs->status is 101 when accepted.  */
void wsb_hs_check(const wsb_conf_t *conf, char *req, size_t len,
                  wsb_hs_t *hs);

/*  Append the response for hs (101 or a refusal with a text body).  */
void wsb_hs_response(const wsb_hs_t *hs, fp_buf_t *out);

/*  A plain refusal (e.g. 503 when full) with a text body.  */
void wsb_hs_refusal(int status, const char *why, fp_buf_t *out);

/*  Append a whole HTTP/1.1 answer that closes the connection: status,
 *  Content-Type ctype, extra header lines ("" or CRLF-ended), body.  */
void wsb_hs_answer(int status, const char *ctype, const char *extra,
                   const char *body, size_t len, fp_buf_t *out);

/*  The value of header `name` (case-insensitive) from a checked request,
 *  or NULL.  */
const char *wsb_hs_header(const wsb_hs_t *hs, const char *name);

/*  Sec-WebSocket-Accept for a key (RFC 6455 section 4.2.2).  */
void wsb_hs_accept(const char *key, size_t len, char out[WSB_ACCEPT_LEN]);

/* ------------------------------------------------------------ worker */

#define WSB_RBUF 65536          /*  read buffer shared by connections  */

typedef struct wsb_worker wsb_worker_t;
typedef struct wsb_conn wsb_conn_t;
typedef struct wsb_sub wsb_sub_t;
typedef struct wsb_pub wsb_pub_t;
typedef struct wsb_pres wsb_pres_t;

typedef struct {
    uint64_t accepted;          /*  TCP connections accepted  */
    uint64_t upgraded;          /*  handshakes completed  */
    uint64_t refused;           /*  handshakes refused  */
    uint64_t timeouts;          /*  handshake or close timeouts  */
    uint64_t protocol_errors;   /*  connections failed by the parser  */
    uint64_t dead_peers;        /*  closed after missed heartbeats  */
    uint64_t slow_consumers;    /*  cut for not reading  */
    uint64_t messages_in;       /*  client messages  */
    uint64_t frames_out;        /*  frames queued  */
    uint64_t published;         /*  client publishes accepted  */
    uint64_t rate_limited;      /*  client messages refused by the rate  */
    uint64_t events;            /*  events queued to clients  */
    uint64_t deflated;          /*  event frames sent compressed  */
    uint64_t deflate_in;        /*  their bytes before / after  */
    uint64_t deflate_out;
} wsb_stats_t;

struct wsb_worker {
    const wsb_conf_t *conf;
    int id;                     /*  worker number, from 0  */
    fp_loop_t *loop;
    fp_hub_t *hub;              /*  NULL in echo mode  */
    int lfd;                    /*  listening socket, -1 once closed  */
    int sigfd;
    int64_t now;                /*  ms, monotonic, updated every round  */
    bool stopping;
    int64_t accept_resume;      /*  listener paused (EMFILE) until  */
    wsb_conn_t *conns;          /*  every connection  */
    uint32_t nconns;
    wsb_conn_t *dirty;          /*  connections with output to flush  */
    uint8_t *rbuf;              /*  read buffer shared by connections  */
    fp_blob_t *ping;            /*  the heartbeat ping frame  */
    wsb_deflate_t *z;           /*  permessage-deflate streams, or NULL  */
    fp_presence_t *presence;    /*  the worker's presence (NULL in echo)  */
    uint32_t sid_base;          /*  first part of Pusher socket ids  */
    uint64_t next_id;           /*  connection ids  */
    int64_t next_report;        /*  REPORT to the broker  */
    wsb_stats_t stats;
};

/*  health.c: if the request head req (NUL-terminated) is a GET of
 *  health-path or health-path/ready, append the whole answer to out and
 *  return true (the caller sends it and closes); else false.  */
bool wsb_health_answer(const wsb_worker_t *w, const char *req,
                       fp_buf_t *out);

/*  Why a connection is ended with its subscriptions' cursors.  */
enum {
    WSB_END_SLOW,               /*  slow consumer: close 1008  */
    WSB_END_EXPIRED,            /*  the token ran out: close 4001  */
    WSB_END_TERMINATED          /*  Pusher terminateUserConnections: 4009  */
};

/*  Connection states.  */
enum {
    WSB_CS_HANDSHAKE,           /*  reading the upgrade request  */
    WSB_CS_OPEN,                /*  frames flow both ways  */
    WSB_CS_CLOSING,             /*  our close frame is queued or sent:
                                    input is discarded but a close  */
    WSB_CS_DRAIN                /*  FIN sent; waiting for the peer's EOF  */
};

struct wsb_conn {
    wsb_worker_t *w;
    wsb_conn_t *prev, *next;    /*  worker's list  */
    wsb_conn_t *dprev, *dnext;  /*  worker's dirty list  */
    int fd;
    uint8_t state;              /*  WSB_CS_*  */
    bool dirty;                 /*  in the dirty list  */
    bool writing;               /*  EPOLLOUT armed  */
    bool shut_after_flush;      /*  FIN once the queue is written  */
    bool close_got;             /*  the peer's close frame arrived  */
    bool cut;                   /*  cut as a slow consumer  */
    bool deflate;               /*  permessage-deflate negotiated  */
    uint16_t nsubs;             /*  subscriptions  */
    uint16_t nchans;            /*  channels over all subscriptions  */
    uint16_t npubs;             /*  publishes in flight  */
    int64_t deadline;           /*  handshake or close timer, 0 if none  */
    int64_t last_rx;            /*  when bytes last arrived  */
    int64_t last_ping;          /*  when we last sent a heartbeat ping  */
    int64_t over_since;         /*  queue above max-queue since, or 0  */
    fp_rate_t rate;             /*  message budget (message-rate)  */
    int64_t expires;            /*  the token runs out (ms), 0 = never  */
    fp_access_client_t *client;  /*  who (NULL with auth off)  */
    uint64_t id;                /*  the worker's number for it  */
    const fp_pusher_app_t *papp;    /*  a Pusher client's app, or NULL  */
    char socket_id[32];         /*  a Pusher client's socket_id  */
    char *user_channel;         /*  ... its user's channel ("ID:~user-UID")
                                    after pusher:signin, or NULL  */
    fp_buf_t in;                /*  upgrade request, then the message
                                    being assembled; empty when idle  */
    wsb_parser_t p;
    fp_sendq_t out;
    wsb_sub_t *subs;            /*  subscriptions (sub.c)  */
    wsb_pub_t *pubs;            /*  publishes in flight (proto.c)  */
    wsb_pres_t *pres;           /*  presence channels (presence.c)  */
};

/*  worker.c: run one worker until SIGTERM; returns the exit status.
 *  ready_fd (-1: none) gets a newline once the worker listens.  */
int wsb_worker_run(const wsb_conf_t *conf, int id, int ready_fd);

/*  Log the worker's counters.  */
void wsb_worker_stats(wsb_worker_t *w, const char *when);

/*  conn.c: accept what the listener has.  */
void wsb_conn_accept(wsb_worker_t *w);

/*  Start the closing handshake: queue a close frame (once), stop the
 *  subscriptions, start the close timer.  */
void wsb_conn_shutdown(wsb_conn_t *c, unsigned code, const char *reason);

/*  The one place a connection ends: unregister, drop subscriptions and
 *  requests, close the socket, free.  c is invalid afterwards.  */
void wsb_conn_close(wsb_conn_t *c, const char *why);

/*  End an open connection after what is queued, with an error carrying
 *  its subscriptions' cursors and a close frame: WSB_END_SLOW
 *  (slow_consumer, 1008), WSB_END_TERMINATED (a Pusher client: pusher:error
 *  and close 4009) or WSB_END_EXPIRED (auth_expired, 4001; the
 *  client gets a new token and resumes).  Called by out.c; safe inside
 *  hub callbacks (c stays valid).  */
void wsb_conn_end(wsb_conn_t *c, int why);

/*  Write the queues of the connections that got output this round.  */
void wsb_conn_flush_dirty(wsb_worker_t *w);

/*  Timers: handshake and close timeouts, heartbeat pings, dead peers.  */
void wsb_conn_sweep(wsb_worker_t *w);

/*  proto.c: one complete client message (JSON protocol or echo).  */
void wsb_proto_message(wsb_conn_t *c, int opcode, const uint8_t *data,
                       size_t len);

/*  Cancel the connection's publishes in flight (close path).  */
void wsb_proto_drop(wsb_conn_t *c);

/*  Send a PUBLISH body (stolen) for c; the broker's answer becomes a
 *  "published" reply (with ref, raw JSON or NULL) or an error; a Pusher
 *  client hears only of a refusal (pusher:error).  */
void wsb_proto_publish(wsb_conn_t *c, json_t *body, const char *ref);

/*  pusher.c: the Pusher Channels protocol 7 (docs/pusher.md).  Before
 *  the upgrade answer: find the app of hs's key and check the protocol
 *  version; returns 0 (c->papp set) or the Pusher close code to end the
 *  connection with once it is open (4001 unknown app, 4007 version).  */
int wsb_pusher_accept(wsb_conn_t *c, const wsb_hs_t *hs);

/*  Once open: pusher:connection_established with the socket_id, or for
 *  code (from wsb_pusher_accept) a pusher:error and the close.  */
void wsb_pusher_open(wsb_conn_t *c, int code);

/*  One text message of a Pusher client.  */
void wsb_pusher_message(wsb_conn_t *c, const char *text, size_t len);

/*  presence.c: a connection's presence channels (the worker's
 *  runtime/presence talks to the broker).  The broker's answer to a
 *  join goes to cb with the tag given to wsb_presence_join (borrowed).  */
typedef void (wsb_presence_fn)(wsb_conn_t *c, const char *channel, bool ok,
                               json_t *meta, const char *tag);

/*  Join c's user user_id (user_info: compact JSON or NULL) to channel,
 *  max_members (0: the broker's) bounding it; tag (copied, may be NULL)
 *  comes back to cb.  A refused join is left before cb (cb may leave or
 *  drop anything).  */
void wsb_presence_join(wsb_conn_t *c, const char *channel,
                       const char *user_id, const char *user_info,
                       int64_t max_members, wsb_presence_fn *cb,
                       const char *tag);

/*  Joins of c the broker has not answered yet.  */
int wsb_presence_pending(const wsb_conn_t *c);

/*  True if c joined (or is joining) channel.  */
bool wsb_presence_has(const wsb_conn_t *c, const char *channel);

/*  Leave channel (an unanswered join is forgotten); no-op if not joined. */
void wsb_presence_leave(wsb_conn_t *c, const char *channel);

/*  Leave every channel (close path).  */
void wsb_presence_drop_all(wsb_conn_t *c);

/*  sub.c: subscribe c to channels from a cursor (NULL: now); errors go
 *  to the client.  ref is raw JSON text or NULL.  */
void wsb_sub_add(wsb_conn_t *c, const char *const *chans, size_t n,
                 const char *since, const char *ref);

/*  Subscribe a Pusher client to one channel (the fastpush name) from a
 *  cursor (NULL: now).  presence (stolen, NULL for none) is the data of
 *  its pusher_internal:subscription_succeeded; a refusal goes out as
 *  pusher:subscription_error (false).  */
bool wsb_sub_add_pusher(wsb_conn_t *c, const char *chan, const char *since,
                        json_t *presence);

/*  True if c is subscribed to chan.  */
bool wsb_sub_has(const wsb_conn_t *c, const char *chan);

/*  Unsubscribe one channel without a reply; false if it was not.  */
bool wsb_sub_drop(wsb_conn_t *c, const char *chan);

/*  Unsubscribe channels; replies "unsubscribed" or an error.  */
void wsb_sub_remove(wsb_conn_t *c, const char *const *chans, size_t n,
                    const char *ref);

/*  Drop every subscription (close path, slow-consumer cut).  */
void wsb_sub_drop_all(wsb_conn_t *c);

/*  Append [{"ref":..,"channels":[..],"cursor":".."},...] for the
 *  connection's subscriptions (the slow-consumer message).  */
void wsb_sub_cursors(wsb_conn_t *c, fp_buf_t *out);

/*  out.c: put c on the worker's dirty list (flushed by conn.c at the
 *  end of the round) / take it off.  */
void wsb_out_mark(wsb_conn_t *c);
void wsb_out_unmark(wsb_conn_t *c);

/*  Queue bytes whatever the state (handshake answers, close frames,
 *  pings); a reference to b is taken.  */
void wsb_out_push(wsb_conn_t *c, fp_blob_t *b);

/*  Queue a frame (a reference is taken) and schedule a flush.  Frames
 *  queued after our close frame are dropped.  A client whose queue stays
 *  above max-queue for slow-timeout (a catch-up burst may pass it
 *  briefly), or grows past max-queue-hard, is cut as a slow consumer
 *  (wsb_conn_end, WSB_END_SLOW).  */
void wsb_out_send(wsb_conn_t *c, fp_blob_t *frame);

/*  Queue a text frame holding a copy of text (borrowed).  */
void wsb_out_text(wsb_conn_t *c, const char *text, size_t len);

/*  Append ,"ref":REF to b when ref (raw JSON text, borrowed) is set.  */
void wsb_out_add_ref(fp_buf_t *b, const char *ref);

/*  Queue {"type":"error",...}; ref is raw JSON text or NULL.  A Pusher
 *  client gets the pusher:error (code null) with msg instead.  */
void wsb_out_error(wsb_conn_t *c, const char *code, const char *msg,
                   const char *ref);

/*  Queue text (malloc'ed, freed here) as one text frame; NULL is
 *  ignored.  */
void wsb_out_take(wsb_conn_t *c, char *text, size_t len);

/*  For a subscription's channel chan (fastpush name): the native error,
 *  or a Pusher client's pusher:subscription_error (type code, status).  */
void wsb_out_sub_error(wsb_conn_t *c, const char *chan, const char *code,
                       const char *msg, int status, const char *ref);

/*  A Pusher client's application ended its user's connections: end c
 *  (wsb_conn_end, WSB_END_TERMINATED).  */
void wsb_out_terminate(wsb_conn_t *c);

/*  True (after ending it with wsb_conn_end, WSB_END_EXPIRED) if c's
 *  token ran out.  */
bool wsb_out_expired(wsb_conn_t *c);

#endif
