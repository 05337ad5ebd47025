/*  js: the cluster engine's private parts (engine jetstream).
 *
 *  The broker becomes a gateway to a NATS JetStream stream: a publish is
 *  sent to the stream and acknowledged once JetStream has stored it (on a
 *  quorum of `nats-replicas`) and the event has come back through this
 *  broker's own ordered consumer (the feed) and been fanned out on XPUB.
 *  Every broker of a cluster consumes the whole stream in its order, so
 *  each keeps the same history, keyed state and SEQs in memory and
 *  answers SINCE and STATE for any cursor of the stream: SEQ is the
 *  stream sequence, the epoch is derived from the stream's creation time.
 *
 *  Files: js_link.c (the NATS connection, the streams, the thread that
 *  watches the stream, the queue from libnats's threads to the broker's
 *  loop), js_feed.c (the feed: stream messages become events; the keys
 *  stream; a recreated stream), js_publish.c (publishing, the pending
 *  acknowledgements, key copies).  libnats calls back on its own threads;
 *  those callbacks only post a js_item_t to the queue, and everything
 *  else runs on the broker's one thread.
 */
#ifndef BROKER_JS_H
#define BROKER_JS_H

#include "broker.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>

enum {
    JS_ITEM_ACK,                /*  a publish's PubAck or its failure  */
    JS_ITEM_MSG,                /*  a message of the feed  */
    JS_ITEM_INFO                /*  the watcher read the stream's state  */
};

/*  One notice from a libnats thread to the broker's loop.  */
typedef struct js_item {
    struct js_item *next;
    int kind;                   /*  JS_ITEM_*  */
    uint64_t ticket;            /*  ACK: the publish; 0 for a key copy  */
    uint64_t seq;               /*  ACK: stream SEQ; INFO: last SEQ  */
    uint64_t first;             /*  INFO: first SEQ still in the stream  */
    int64_t created;            /*  INFO: creation (ns), 0 if unreadable  */
    uint64_t gen;               /*  MSG: the feed it came from  */
    natsMsg *msg;               /*  MSG: owned  */
    char code[BROKER_CODE_LEN]; /*  ACK: "" or the refusal's code  */
    char err[FP_ERR_LEN];       /*  ACK, INFO: what went wrong  */
} js_item_t;

/*  A publish waiting for its PubAck and for the feed to reach it.  */
typedef struct {
    uint64_t ticket;
    struct broker_reply *held;  /*  the PUBLISH's reply, NULL from PULL  */
    int state;                  /*  0 waiting, 1 stored, -1 refused  */
    uint64_t seq;               /*  stream SEQ once stored  */
    int64_t since;              /*  ms: sent, then stored  */
    char channel[FP_CHANNEL_MAX + 1];
    char code[BROKER_CODE_LEN];
    char err[FP_ERR_LEN];
} js_pending_t;

/*  A feed's closure: which subscription a message came from.  */
typedef struct js_feed {
    struct js_feed *next;       /*  every one made, freed at close  */
    struct broker_js *js;
    uint64_t gen;
} js_feed_t;

typedef struct broker_js {
    broker_t *b;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *ctx;
    natsSubscription *feed;     /*  the ordered consumer on the events  */
    js_feed_t *feeds;           /*  closures of every feed made  */
    atomic_uint_fast64_t gen;   /*  the current feed's generation  */
    atomic_bool connected;
    atomic_bool stopping;
    char id[24];                /*  this process in js_id_header  */
    char subj_e[64];            /*  "PREFIX.e."  */
    char subj_k[64];            /*  "PREFIX.k."  */
    char kstream[80];           /*  NAME_KEYS  */
    int64_t created;            /*  creation (ns) of the stream of b->epoch */
    jsErrCode api_err;          /*  the last stream API call's refusal, 0 */
    int stalled;                /*  stream reads in a row the feed stood
                                 *  still behind the stream (health.c)  */
    uint64_t behind;            /*  ... by this many events  */
    uint64_t seen;              /*  the feed's SEQ at the last read  */
    /*  the queue from libnats's threads  */
    pthread_mutex_t lock;
    js_item_t *head, *tail;
    int pipe[2];                /*  a byte when the queue turns non-empty  */
    bool signalled;
    pthread_t watcher;
    bool watching;
    /*  publishes, in ticket order  */
    js_pending_t *pend;
    size_t pend_first, pend_len, pend_cap;
    uint64_t next_ticket;
    /*  counters (STATS "engine")  */
    uint64_t acks, refused, copies, feed_msgs, bad_msgs, resets;
} broker_js_t;

/*  js_link.c  */
void js_post(broker_js_t *js, js_item_t *it);
js_item_t *js_item_new(int kind);
int js_stream_ensure(broker_js_t *js, jsStreamInfo **si, char *err);
void js_epoch_of(int64_t created, char *epoch);

/*  js_feed.c: subscribe the feed from `from` (a new generation), load
 *  the keys stream, and handle one feed message or stream state.  */
int js_feed_start(broker_js_t *js, uint64_t from, char *err);
int js_feed_load_keys(broker_js_t *js, uint64_t first, char *err);
void js_feed_msg(broker_js_t *js, js_item_t *it);
void js_feed_info(broker_js_t *js, js_item_t *it);

/*  js_publish.c: a PubAck arrived; the feed moved: answer what is due.  */
void js_publish_on_ack(jsCtx *ctx, natsMsg *msg, jsPubAck *pa,
                       jsPubAckErr *pae, void *closure);
void js_publish_ack(broker_js_t *js, js_item_t *it);
void js_publish_release(broker_js_t *js);
void js_publish_key_copy(broker_js_t *js, const fp_event_t *ev);
void js_publish_free(broker_js_t *js);
void js_subject_token(const char *s, char *out, size_t len);
extern const char js_id_header[];   /*  "Fastpush-Id": who published  */

#endif
