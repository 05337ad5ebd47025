/*  hub_int: the hub's private structures, shared by hub.c (the feed),
 *  hub_member.c (members and joins), hub_chan.c (channels) and hub_req.c
 *  (requests to the broker).  Nothing outside those files includes this.
 */
#ifndef FP_HUB_INT_H
#define FP_HUB_INT_H

#include <czmq.h>

#include "hub.h"

enum { CHAN_SUBSCRIBING, CHAN_LIVE };
enum { MEMBER_WAIT, MEMBER_JOINING, MEMBER_ACTIVE, MEMBER_FAILED };
enum { REQ_JOIN, REQ_BACKFILL, REQ_USER };

typedef struct hub_chan hub_chan_t;

typedef struct {
    fp_member_t *member;        /*  a member of this channel  */
    uint32_t slot;              /*  index in member->links  */
} chan_link_t;

typedef struct {
    hub_chan_t *chan;           /*  a channel of this member  */
    uint32_t pos;               /*  index in chan->members  */
    uint64_t last;              /*  the member got every event of the
                                    channel up to this SEQ, or was told
                                    with a reset that it did not  */
} member_link_t;

struct hub_chan {
    fp_hub_t *hub;              /*  the hub whose table holds it  */
    char *name;                 /*  owned; also the hash key  */
    int state;                  /*  CHAN_SUBSCRIBING or CHAN_LIVE  */
    uint64_t last_seq;          /*  newest SEQ dispatched (feed complete
                                    from the sync on)  */
    int64_t subscribed_at;      /*  when the subscription was (re)sent  */
    int64_t idle_since;         /*  when the last member left, or 0  */
    bool backfilling;           /*  a BACKFILL request is pending  */
    chan_link_t *members;       /*  members of this channel  */
    uint32_t n, cap;
};

struct fp_member {
    fp_hub_t *hub;
    const fp_member_cbs_t *cbs;
    void *ctx;                  /*  the caller's  */
    member_link_t *links;       /*  its channels  */
    uint32_t nlinks;
    uint8_t state;              /*  MEMBER_*  */
    bool has_cursor;            /*  resumes (else starts from now)  */
    bool dead;                  /*  destroyed inside a callback  */
    bool overflow;              /*  join buffer overflowed  */
    bool in_start;              /*  listed in hub->starting  */
    uint64_t cursor;            /*  newest SEQ delivered  */
    char *epoch;                /*  epoch of cursor (owned) or NULL  */
    fp_event_t **buf;           /*  live events held while joining  */
    uint32_t nbuf;
    fp_hub_req_t *req;          /*  pending JOIN or NULL  */
    fp_member_t *next_dead;     /*  graveyard list  */
    fp_member_t *next_start;    /*  starting list  */
};

struct fp_hub_req {
    uint64_t tag;
    int kind;                   /*  REQ_*: how it is resent and timed out  */
    fp_hub_reply_fn *cb;        /*  the answer goes here; NULL once
                                    cancelled or orphaned  */
    void *arg;
    void (*forget)(void *arg);  /*  internal requests: told when the
                                    request is dropped unanswered  */
    char cmd[16];
    char *body;                 /*  JSON text (owned), for resends  */
    size_t body_len;
    int64_t sent_at;            /*  0 while not sent  */
    int64_t created;
    fp_hub_req_t *prev, *next;  /*  pending list, oldest first  */
};

typedef struct {
    bool is_event;
    fp_event_t *ev;             /*  owned when is_event  */
    char *channel;              /*  sync mark: owned  */
    uint64_t last;              /*  sync mark: channel's newest SEQ  */
} hub_item_t;

struct fp_hub {
    fp_hub_conf_t conf;         /*  strings owned  */
    zsock_t *sub;               /*  fanout  */
    zsock_t *dealer;            /*  requests  */
    char *token;                /*  publish token frame, or NULL  */
    zhashx_t *chans;            /*  name -> hub_chan_t *  */
    char epoch[FP_EPOCH_MAX + 1];/*  "" until known  */
    uint64_t head;              /*  newest SEQ seen on the fanout  */
    int64_t now;                /*  last tick's time (ms, monotonic)  */
    int64_t last_heard;         /*  last fanout message  */
    int64_t hb_interval;        /*  broker's heartbeat interval  */
    bool broker_up;
    int64_t ready_heard;        /*  last heartbeat of a ready broker  */
    bool paused;                /*  dispatch held for backfills  */
    int backfills;              /*  BACKFILL requests pending  */
    hub_item_t *queue;          /*  items held while paused (deque)  */
    size_t qhead, qlen, qcap;
    fp_hub_req_t *reqs, *reqs_tail;
    uint64_t next_tag;
    int depth;                  /*  callbacks running  */
    fp_member_t *graveyard;     /*  members to free after callbacks  */
    fp_member_t *starting;      /*  new members, started by process()  */
    fp_hub_stats_t stats;
};

/*  The layers, each calling only those below it:
 *
 *      hub.c         the feed: fanout, gaps, backfills, epochs, life
 *      hub_member.c  members and their joins
 *      hub_chan.c    the channel table and SUB subscriptions
 *      hub_req.c     requests to the broker; answers go to the
 *                    request's own callback
 */

/*  hub_chan.c: find, create (subscribing) or free a channel; note when
 *  its last member left; (un)subscribe its fanout topic.  */
hub_chan_t *hub_chan_get(fp_hub_t *hub, const char *name);
hub_chan_t *hub_chan_require(fp_hub_t *hub, const char *name);
void hub_chan_idle_check(fp_hub_t *hub, hub_chan_t *c);
void hub_chan_free(fp_hub_t *hub, hub_chan_t *c);
void hub_chan_subscribe(fp_hub_t *hub, const char *name, bool on);

/*  hub_member.c  */
void hub_member_event(fp_member_t *m, uint32_t slot, fp_event_t *ev);
void hub_member_try_start(fp_member_t *m);
void hub_member_rejoin(fp_member_t *m);
void hub_member_free(fp_member_t *m);
void hub_members_reap(fp_hub_t *hub);
void hub_members_start(fp_hub_t *hub);

/*  hub_req.c.  hub_req_send: queue cmd with body (taken), sent when the
 *  broker is up; the answer (or a failure) goes to cb(arg, ...); forget
 *  (may be NULL) is called instead when the request is dropped
 *  unanswered.  hub_req_orphan: the asker is gone, nobody is called.  */
fp_hub_req_t *hub_req_send(fp_hub_t *hub, int kind, const char *cmd,
                           json_t *body, fp_hub_reply_fn *cb, void *arg,
                           void (*forget)(void *arg));
void hub_req_orphan(fp_hub_req_t *r);
void hub_req_on_reply(fp_hub_t *hub, zmsg_t *msg);
void hub_req_tick(fp_hub_t *hub);
void hub_req_resend_all(fp_hub_t *hub);
void hub_req_drop(fp_hub_t *hub, fp_hub_req_t *r);
void hub_req_cancel_internal(fp_hub_t *hub);
void hub_req_free_all(fp_hub_t *hub);

#endif
