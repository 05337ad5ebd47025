/*  fastpush-broker: private header shared by the broker's files.
 *
 *  One thread, one czmq reactor (zloop), one broker_t: sequence numbers,
 *  history, keyed state and snapshots are all taken on the thread that
 *  assigns them, so they always agree (ZeroMQ Guide, Clone pattern).
 *
 *  Sockets: PULL (fire-and-forget publish), ROUTER (acknowledged PUBLISH,
 *  SINCE, STATE, STATS, PING), XPUB (fanout: frame 0 is "channel\0",
 *  frame 1 the event JSON).  docs/protocol.md describes every frame.
 */
#ifndef BROKER_H
#define BROKER_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cursor.h"
#include "event.h"
#include "sockauth.h"
#include "ring.h"
#include "wal.h"

#define BROKER_VERSION "0.1.0"

/*  store-fsync: when the durable log is flushed to disk.  */
enum {
    BROKER_FSYNC_ALWAYS,        /*  before every batch is acknowledged  */
    BROKER_FSYNC_EVERYSEC,      /*  once a second  */
    BROKER_FSYNC_NO             /*  when the kernel decides  */
};

typedef struct {
    char *ingest;               /*  PULL endpoint(s)  */
    char *control;              /*  ROUTER endpoint(s)  */
    char *fanout;               /*  XPUB endpoint(s)  */
    int64_t history_count;      /*  events kept per channel  */
    uint64_t history_bytes;     /*  JSON bytes kept per channel  */
    uint64_t history_age;       /*  ms an event is kept  */
    uint64_t history_memory;    /*  JSON bytes kept over all channels  */
    uint64_t max_event_bytes;   /*  data + names of one event  */
    int64_t max_keys;           /*  keys per keyed channel  */
    int64_t max_channels;       /*  channels known at once  */
    int64_t max_since_channels; /*  channels in one SINCE  */
    int64_t max_reply_events;   /*  events in one SINCE reply  */
    uint64_t heartbeat;         /*  ms between fanout heartbeats  */
    int64_t fanout_hwm;         /*  XPUB send high-water mark  */
    char *log_level;            /*  error, warn, info, debug  */
    char *store;                /*  durable log directory, NULL: memory  */
    int store_fsync;            /*  BROKER_FSYNC_*  */
    uint64_t store_segment_bytes; /*  new data per segment file  */
    char *curve_secret_key;     /*  CURVE: the broker's secret certificate  */
    char *curve_clients;        /*  CURVE: directory of allowed clients  */
    char *publish_token;        /*  required with every publish, or NULL  */
    int64_t publish_rate;       /*  events/s per publisher connection  */
    int stats_access;           /*  BROKER_STATS_*: who may ask STATS  */
    bool stats_channels;        /*  STATS names channels ("top")  */
    int engine;                 /*  BROKER_ENGINE_*  */
    char *nats_url;             /*  jetstream: NATS servers, comma-separated */
    char *nats_stream;          /*  jetstream: the events stream's name  */
    char *nats_subject;         /*  jetstream: the subjects' first token  */
    int64_t nats_replicas;      /*  jetstream: copies of each event  */
    char *nats_credentials;     /*  jetstream: a .creds file, or NULL  */
    int64_t nats_max_msgs;      /*  jetstream: events the stream keeps  */
    uint64_t nats_max_bytes;    /*  jetstream: bytes the stream keeps  */
    uint64_t nats_ack_wait;     /*  jetstream: ms to wait for a PubAck  */
    uint64_t presence_timeout;  /*  ms a responder may stay silent before
                                    its members leave  */
    int64_t presence_max_members; /*  members of one presence channel  */
    int64_t presence_max;       /*  presence connections of the broker  */
    char *webhook_feed;         /*  PUSH endpoint for fastpush-webhooks,
                                    NULL: no webhooks  */
} broker_conf_t;

/*  stats-access: who may ask STATS on the control socket.  */
enum {
    BROKER_STATS_OPEN,          /*  every peer of the control socket  */
    BROKER_STATS_TOKEN,         /*  requests carrying the publish-token  */
    BROKER_STATS_OFF            /*  nobody: ERROR forbidden  */
};

/*  engine: where history and numbering live.  */
enum {
    BROKER_ENGINE_LOCAL,        /*  this process (memory, or `store`)  */
    BROKER_ENGINE_JETSTREAM     /*  a NATS JetStream stream (js.h)  */
};

/*  One channel: its history, keyed state and subscriber count.  */
typedef struct chan {
    char *name;                 /*  owned; also the hash key  */
    fp_ring_t ring;             /*  history, oldest first  */
    uint64_t last_seq;          /*  newest SEQ published here (next prev)  */
    uint64_t dropped_upto;      /*  newest SEQ dropped from the ring  */
    zhashx_t *keys;             /*  key -> fp_event_t *, NULL if never keyed */
    int64_t subscribers;        /*  XPUB subscriptions to "name\0"  */
    int64_t last_ts;            /*  time of the newest event (ms)  */
    int64_t active_until;       /*  send beacons until this time (ms)  */
    size_t heap_pos;            /*  index in the oldest-event heap, or -1  */
    bool in_active;             /*  listed in broker_t.active  */
    uint64_t published;         /*  events published here  */
    uint32_t staged;            /*  events of the open batch (not kept yet) */
    uint32_t staged_keys;       /*  ... of them with a key not held yet  */
} chan_t;

/*  An accepted event waiting for the end of its batch (publish.c).  */
typedef struct {
    chan_t *chan;
    fp_event_t *ev;             /*  owned reference  */
    bool pull;                  /*  came through PULL  */
    bool new_key;               /*  counted in chan->staged_keys  */
} broker_staged_t;

/*  One segment file of the durable log (store.c, segment.c).  */
typedef struct {
    uint64_t no;                /*  segment number: file NNN...N.seg  */
    uint64_t prior_seq;         /*  newest SEQ assigned before it began  */
    uint64_t max_seq;           /*  newest event SEQ in it, 0 if none  */
    uint64_t top_seq;           /*  newest SEQ of any event or copy  */
    uint64_t keyed;             /*  keyed event and copy records  */
    uint64_t bytes;             /*  file size  */
    uint64_t copy_bytes;        /*  ... of it compaction copies  */
    bool bad;                   /*  unreadable header: not replayed  */
} broker_seg_t;

/*  Called for each valid record of a segment, and with rec NULL where
 *  damaged bytes were skipped.  Returns 0, or -1 to report the record as
 *  invalid (it is then treated as damage).  */
typedef int broker_scan_fn(void *arg, const fp_wal_rec_t *rec);

typedef struct broker_store broker_store_t;     /*  store.c  */
struct broker_reply;                             /*  control.c  */
struct broker_parked;                            /*  control.c  */

typedef struct {
    uint64_t published;         /*  events accepted  */
    uint64_t published_pull;    /*  ... of which through PULL  */
    uint64_t rejected;          /*  publishes refused  */
    uint64_t bad_requests;      /*  malformed ROUTER requests  */
    uint64_t since_requests;    /*  SINCE handled  */
    uint64_t since_events;      /*  events returned by SINCE  */
    uint64_t since_ns;          /*  time spent answering SINCE  */
    uint64_t since_max_ns;      /*  the longest of them  */
    uint64_t resets;            /*  channel resets returned  */
    uint64_t snapshots;         /*  keyed snapshots returned  */
    uint64_t trimmed;           /*  events dropped from history  */
    uint64_t evicted;           /*  idle channels forgotten  */
    uint64_t subscribes;        /*  XPUB subscribe messages  */
    uint64_t unsubscribes;      /*  XPUB unsubscribe messages  */
    uint64_t unauthorized;      /*  publishes without the right token  */
    uint64_t rate_limited;      /*  publishes over publish-rate  */
    uint64_t replay_records;    /*  log records read at start  */
    uint64_t replay_ms;         /*  time the replay took  */
    uint64_t webhook_sent;      /*  webhook feed messages handed over  */
    uint64_t webhook_dropped;   /*  ... dropped (the feed was full)  */
} broker_stats_t;

typedef struct broker {
    broker_conf_t conf;
    zloop_t *loop;
    zsock_t *pull;              /*  fire-and-forget publishes  */
    zsock_t *router;            /*  requests  */
    zsock_t *xpub;              /*  fanout  */
    zsock_t *webhook;           /*  webhook feed (PUSH), or NULL  */
    char epoch[FP_EPOCH_MAX + 1];
    uint64_t seq;               /*  newest SEQ assigned  */
    int64_t last_ts;            /*  newest event time (kept monotonic)  */
    int64_t started;            /*  ms, for uptime  */
    zhashx_t *chans;            /*  name -> chan_t *  */
    chan_t **heap;              /*  channels with history, oldest first  */
    size_t heap_len, heap_cap;
    uint64_t hist_bytes;        /*  sum of every channel's ring bytes  */
    uint64_t hist_events;       /*  sum of every channel's ring count  */
    uint64_t keyed_events;      /*  events held only as keyed state  */
    uint64_t evicted_upto;      /*  newest SEQ of any forgotten channel  */
    int64_t other_subscribers;  /*  subscriptions not of the form "c\0"  */
    json_t *reports;            /*  "transport/pid" -> latest REPORT  */
    chan_t **active;            /*  channels that get beacons  */
    size_t active_len, active_cap;
    broker_store_t *store;      /*  durable log, NULL without `store`  */
    struct broker_js *js;       /*  engine jetstream (js.h), else NULL  */
    fp_sockauth_server_t *link;     /*  CURVE (zauth), NULL without it  */
    zhashx_t *rates;            /*  publisher -> budget (publish-rate)  */
    broker_staged_t *staged;    /*  the open batch, in SEQ order  */
    size_t staged_len, staged_cap;
    struct broker_reply *replies; /*  ROUTER replies held for the batch  */
    struct broker_parked *parked; /*  SINCEs waiting for the feed (js)  */
    size_t parked_len, parked_cap;
    size_t replies_len, replies_cap;
    struct broker_presence *presence; /*  presence.c, NULL until used  */
    broker_stats_t stats;
} broker_t;

/*  chan.c: the channel table.  */
chan_t *broker_chan_get(broker_t *b, const char *name);
chan_t *broker_chan_require(broker_t *b, const char *name, char *err);
void broker_chan_table_init(broker_t *b);
void broker_chan_table_free(broker_t *b);
void broker_chan_evict_idle(broker_t *b);
/*  Forget every channel's history, keys and SEQs (a new epoch); the
 *  channels and their subscriber counts stay.  */
void broker_chan_reset_all(broker_t *b);
int broker_chan_set_key(broker_t *b, chan_t *c, fp_event_t *ev, char *err);
bool broker_chan_key_allowed(broker_t *b, chan_t *c, const char *key);
size_t broker_chan_key_count(const chan_t *c);

/*  history.c: rings, the oldest-event heap, trimming.  */
void broker_history_push(broker_t *b, chan_t *c, fp_event_t *ev);
void broker_history_trim(broker_t *b, chan_t *c);
void broker_history_trim_global(broker_t *b, int64_t now);

/*  auth.c: publisher credentials and rates.  broker_auth_token: is the
 *  token frame (NULL if none) acceptable for a publish (required) or
 *  another request (checked only when given)?  broker_auth_rate: take
 *  one event from the publisher `key`'s budget; false when spent.  */
bool broker_auth_token(broker_t *b, zframe_t *token, bool publish);
bool broker_auth_rate(broker_t *b, const char *key);
void broker_auth_tick(broker_t *b);

/*  publish.c: the one path every accepted event takes.  An accepted
 *  event is staged (SEQ assigned, appended to the store's buffer); the
 *  batch is then settled by broker_publish_flush: written (and fsynced as
 *  store-fsync says), then kept in history and fanned out -- or, when the
 *  store fails, refused as a whole.  */
int broker_publish(broker_t *b, const fp_publish_t *p, fp_event_t **out,
                   struct broker_reply *held, char *code, char *err);
int broker_publish_flush(broker_t *b, char *err);
void broker_publish_keep(broker_t *b, chan_t *c, fp_event_t *ev);
int broker_on_pull(zloop_t *loop, zsock_t *sock, void *arg);
/*  Publish one of the broker's own events (presence.c): no reply waits
 *  for it, and the types kept from publishers are allowed.  */
int broker_publish_own(broker_t *b, const fp_publish_t *p, char *code,
                       char *err);

/*  presence.c: members of presence channels (PRESENCE).
 *  broker_presence answers a request (fills *meta, caller owns it) or
 *  -1 with code and err; broker_presence_expire makes the members of
 *  responders silent for presence-timeout leave (each tick);
 *  broker_presence_type: member_added / member_removed, which only the
 *  broker publishes; broker_presence_json: the counts for STATS.  */
int broker_presence(broker_t *b, json_t *req, json_t **meta, char *code,
                    char *err);
void broker_presence_expire(broker_t *b, int64_t now);
bool broker_presence_type(const char *type);
json_t *broker_presence_json(const broker_t *b);
void broker_presence_free(broker_t *b);

/*  store.c: the durable log (segments, fsync policy, SEQ reservation).  */
broker_store_t *broker_store_open(const broker_conf_t *conf, char *epoch,
                                  char *err);
int broker_store_replay(broker_store_t *st, broker_scan_fn *fn, void *arg,
                        char *err);
uint64_t broker_store_base(const broker_store_t *st);
int broker_store_start(broker_store_t *st, uint64_t seq, uint64_t lost_upto,
                       char *err);
void broker_store_add(broker_store_t *st, const fp_event_t *ev, bool copy);
int broker_store_flush(broker_store_t *st, bool sync, char *err);
const broker_seg_t *broker_store_oldest(const broker_store_t *st);
int broker_store_scan_oldest(broker_store_t *st, broker_scan_fn *fn,
                             void *arg);
int broker_store_drop_oldest(broker_store_t *st);
int broker_store_on_timer(zloop_t *loop, int timer_id, void *arg);
json_t *broker_store_json(const broker_store_t *st);
/*  health.c: 0 when ready, else how many reasons, the first in why.  */
int broker_health_check(const broker_t *b, char *why);
const char *broker_store_problem(const broker_store_t *st);
void broker_store_close(broker_store_t **st_p, uint64_t seq);

/*  segment.c: one segment file.  */
void broker_seg_path(const char *dir, uint64_t no, const char *suffix,
                     char *out, size_t len);
/*  write() all of data to fd, resuming after short writes and EINTR.
 *  Returns 0, or -1 with errno.  */
int broker_seg_write(int fd, const void *data, size_t len);
int broker_seg_create(const char *dir, const fp_wal_header_t *h,
                      const fp_buf_t *records, char *err);
int broker_seg_header(const char *dir, uint64_t no, fp_wal_header_t *h,
                      uint64_t *size, char *err);
int broker_seg_scan(const char *dir, broker_seg_t *seg, bool tail,
                    broker_scan_fn *fn, void *arg, char *err);

/*  js_link.c, js_publish.c: engine jetstream (js.h).  broker_js_open
 *  connects, makes the streams if missing, takes the epoch from the
 *  stream and replays it into memory (history, keyed state, SEQ) before
 *  the broker serves; -1 with err if NATS cannot be reached.
 *  broker_js_publish sends one checked publish to the stream: 0, and the
 *  answer comes later through broker_control_answer (held, owned by the
 *  engine from then on; NULL for PULL), or -1 with code and err at once.
 *  broker_js_on_wake is the loop's reader of the engine's notices.  */
int broker_js_open(broker_t *b, char *err);
int broker_js_fd(const broker_t *b);
int broker_js_on_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg);
int broker_js_publish(broker_t *b, const fp_publish_t *p,
                      struct broker_reply *held, char *code, char *err);
json_t *broker_js_json(const broker_t *b);
bool broker_js_connected(const broker_t *b);
uint64_t broker_js_stalled(const broker_t *b);
void broker_js_close(broker_t *b);

/*  replay.c: rebuild history, keyed state and SEQ from the store.  */
void broker_replay(broker_t *b);

/*  retain.c: delete old segments no channel needs (with compaction).  */
void broker_retain(broker_t *b);

/*  control.c: the ROUTER socket.  */
int broker_on_router(zloop_t *loop, zsock_t *sock, void *arg);
void broker_control_free(broker_t *b);

/*  Answer a PUBLISH held by the engine (js_publish.c) and free h: rc 0
 *  with the event's SEQ and channel, or -1 with code and err.  */
void broker_control_answer(broker_t *b, struct broker_reply *h, int rc,
                           uint64_t seq, const char *channel,
                           const char *code, const char *err);
/*  Run the SINCEs that wait for this broker's feed again (the feed moved
 *  or their wait is over: engine jetstream).  */
void broker_control_retry(broker_t *b);
/*  A PUBLISH reply the engine holds but will not answer (shutdown).  */
void broker_control_drop(struct broker_reply *h);

/*  The size of a reply's error code ("bad_request"), the `code` buffer
 *  every request handler fills.  */
#define BROKER_CODE_LEN 32

/*  Copy the error code `what` into code (BROKER_CODE_LEN bytes, the
 *  caller's); returns -1, for `return broker_fail(code, "...")`.  */
int broker_fail(char *code, const char *what);

/*  since.c: SINCE and STATE.  Each fills *meta (caller owns) and appends
 *  the events to `events`, one JSON text per line; -1 with code and err
 *  on bad input.  */
int broker_since(broker_t *b, json_t *req, json_t **meta, fp_buf_t *events,
                 char *code, char *err);
int broker_state(broker_t *b, json_t *req, json_t **meta, fp_buf_t *events,
                 char *code, char *err);

/*  fanout.c: the XPUB socket.  */
void broker_fanout_event(broker_t *b, chan_t *c, fp_event_t *ev);
int broker_on_xpub(zloop_t *loop, zsock_t *sock, void *arg);
int broker_on_tick(zloop_t *loop, int timer_id, void *arg);
void broker_fanout_heartbeat(broker_t *b);

/*  webhook.c: what fastpush-webhooks turns into the application's
 *  webhooks, on the webhook-feed PUSH socket (main.c binds it); never
 *  blocks (a full feed drops, counted).  */
#define BROKER_WEBHOOK_HWM 100000
/*  c got its first subscriber (occupied) or lost its last (vacated).  */
void broker_webhook_channel(broker_t *b, const chan_t *c, bool occupied);
/*  A live event: member_added/removed and client-* events go out.  */
void broker_webhook_event(broker_t *b, const fp_event_t *ev);

/*  stats.c  */
json_t *broker_stats_json(broker_t *b, json_t *req);

/*  reports.c: the responders' REPORTs.  */
int broker_report(broker_t *b, json_t *req, json_t **meta, char *code,
                  char *err);
json_t *broker_reports_json(broker_t *b);

#endif
