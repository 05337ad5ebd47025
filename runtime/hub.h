/*  hub: one process's connection to the broker, shared by all its clients.
 *
 *  Every responder (fastpush-sse, -poll, -ws) and `fastpush tail` holds one
 *  hub.  The hub keeps one SUB subscription per channel for the whole
 *  process, however many clients want it, and turns the broker's fanout
 *  into a complete, ordered feed per channel:
 *
 *  - a channel is LIVE once the broker's sync mark for it arrived; from
 *    then on every event is checked against the previous one (`prev`), and
 *    a gap (a high-water-mark drop, a broker restart) pauses dispatch
 *    while the missing events of every live channel are fetched with
 *    SINCE (a drop may have hit them all), then dispatch resumes in SEQ
 *    order;
 *  - a member (one SSE stream, one WebSocket subscription, one long-poll)
 *    joins with a cursor: once its channels are LIVE it sends SINCE, gets
 *    resets, snapshots and missed events, then live events with SEQ above
 *    the reply's head (Clone pattern: subscribe first, then SINCE, then
 *    drop what SINCE already covered).  Each member sees every event of
 *    its channels once, in SEQ order on each channel and across them.
 *    One exception: a drop that shows only later (a channel's gap is
 *    seen with its next event or beacon) can be recovered after newer
 *    events of the member's other channels were delivered; such an event
 *    is still delivered, flagged FP_EVENT_LATE, and does not move the
 *    cursor back, so nothing is lost and a resume repeats nothing;
 *  - a new epoch (the broker lost its history) rejoins every member from
 *    its cursor, which yields explicit resets.
 *
 *  The hub never blocks: it exposes two file descriptors for the caller's
 *  poll loop, fp_hub_process() reads what is ready, fp_hub_tick() handles
 *  time (request retries, liveness, idle channels).
 */
#ifndef FP_HUB_H
#define FP_HUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "err.h"
#include "event.h"
#include "sockauth.h"

typedef struct fp_hub fp_hub_t;
typedef struct fp_member fp_member_t;
typedef struct fp_hub_req fp_hub_req_t;

/*  Flags of an event given to a member.  Neither kind moves the cursor:
 *  a transport must not present it as the stream's position (SSE: no
 *  `id:` field; a poll keeps its cursor).  */
#define FP_EVENT_SNAPSHOT 1     /*  part of a keyed snapshot after a reset  */
#define FP_EVENT_LATE 2         /*  recovered after a fanout gap, older than
                                    events already delivered  */

/*  What a member is told.  All pointers are borrowed for the call.  A
 *  callback may destroy its own member.  */
typedef struct {
    /*  An event, once, in SEQ order (see above for gaps), with flags
     *  FP_EVENT_SNAPSHOT / FP_EVENT_LATE.  */
    void (*event)(fp_member_t *m, fp_event_t *ev, unsigned flags,
                  void *ctx);
    /*  History could not cover the member's cursor for this channel
     *  (reason "epoch", "trimmed" or "ahead").  When `snapshot`, the keyed
     *  state of the channel follows as snapshot events.  */
    void (*reset)(fp_member_t *m, const char *channel, const char *reason,
                  bool snapshot, void *ctx);
    /*  Caught up to `cursor`; live events follow.  Once per join.  */
    void (*ready)(fp_member_t *m, const char *cursor, void *ctx);
    /*  The broker refused the join (code, message).  The member receives
     *  nothing more; destroy it.  */
    void (*failed)(fp_member_t *m, const char *code, const char *msg,
                   void *ctx);
} fp_member_cbs_t;

typedef struct {
    const char *fanout;         /*  broker XPUB endpoint(s) to connect  */
    const char *control;        /*  broker ROUTER endpoint(s) to connect  */
    uint64_t linger_ms;         /*  keep an unused channel subscribed  */
    uint64_t request_timeout_ms;/*  retry or fail a request after this  */
    size_t join_buffer;         /*  live events held per joining member  */
    const fp_sockauth_conf_t *link; /*  CURVE keys and token, or NULL  */
} fp_hub_conf_t;

typedef struct {
    uint64_t events;            /*  events received from the fanout  */
    uint64_t gaps;              /*  gaps detected (prev or beacon)  */
    uint64_t backfilled;        /*  events fetched to fill gaps  */
    uint64_t late;              /*  ... delivered after newer events  */
    uint64_t resets;            /*  resets told to members  */
    uint64_t joins;             /*  member joins completed  */
    uint64_t epoch_changes;     /*  broker history lost  */
    uint64_t timeouts;          /*  requests that timed out  */
    uint64_t members;           /*  members now  */
    uint64_t channels;          /*  channels subscribed now  */
    bool broker_up;             /*  heartbeats arriving  */
    uint64_t head;              /*  newest SEQ known  */
    const char *epoch;          /*  current epoch or ""  */
} fp_hub_stats_t;

/*  Called with the broker's reply to fp_hub_request: ok, the META object
 *  (borrowed; on failure it has "error" (the code) and "message", code "timeout" when the
 *  broker did not answer), and the events of the reply (borrowed).  */
typedef void (fp_hub_reply_fn)(void *arg, bool ok, json_t *meta,
                               fp_event_t **events, size_t n);

/*  Connect to the broker (non-blocking: works while it is down).  Caller
 *  owns the hub.  NULL with err on bad endpoints.  */
fp_hub_t *fp_hub_new(const fp_hub_conf_t *conf, char *err);

/*  Destroy the hub and every member still in it; NULLs *hub_p.  */
void fp_hub_destroy(fp_hub_t **hub_p);

/*  The two descriptors to watch for input (ZMQ_FD of SUB and DEALER).
 *  They signal edges: after they fire, and after every loop iteration in
 *  which the hub was used, call fp_hub_process.  */
void fp_hub_fds(fp_hub_t *hub, int fds[2]);

/*  Read and act on everything waiting.  Returns true if it stopped early
 *  (budget) and should be called again without waiting.  */
bool fp_hub_process(fp_hub_t *hub);

/*  Time-driven work; call every 100-250 ms with the current time in ms
 *  (CLOCK_MONOTONIC).  */
void fp_hub_tick(fp_hub_t *hub, int64_t now_ms);

/*  Counters and state.  */
void fp_hub_stats(fp_hub_t *hub, fp_hub_stats_t *st);

/*  Readiness: 0 when the broker is heard and one says it can store
 *  events; else -1 with why (FP_ERR_LEN bytes, the caller's).  */
int fp_hub_ready(fp_hub_t *hub, char *why);

/*  Send a request (PUBLISH, SINCE, STATE, STATS, PING) with a JSON object
 *  body (stolen).  The callback runs once, from fp_hub_process or
 *  fp_hub_tick.  The handle is valid until then; fp_hub_cancel drops the
 *  callback (use it when the requester goes away).  */
fp_hub_req_t *fp_hub_request(fp_hub_t *hub, const char *cmd, json_t *body,
                             fp_hub_reply_fn *cb, void *arg);

/*  Forget the callback of a pending request; NULLs *req_p.  */
void fp_hub_cancel(fp_hub_t *hub, fp_hub_req_t **req_p);

/*  Join: deliver the channels' events after `cursor` ("EPOCH-SEQ",
 *  "earliest", or NULL for "from now") to cbs.  Channel names must be
 *  valid and distinct (checked; NULL with err otherwise).  The hub owns
 *  the member; the caller keeps the pointer until fp_member_destroy.  */
fp_member_t *fp_member_new(fp_hub_t *hub, const char *const *channels,
                           size_t n, const char *cursor,
                           const fp_member_cbs_t *cbs, void *ctx, char *err);

/*  Leave and free (safe inside the member's own callbacks); NULLs *m_p.  */
void fp_member_destroy(fp_member_t **m_p);

/*  The member's cursor "EPOCH-SEQ" into out (FP_CURSOR_LEN); false while
 *  no position is known yet (joining from now with the broker down).  */
bool fp_member_cursor(const fp_member_t *m, char *out);

/*  True once ready() was called and live events flow.  */
bool fp_member_live(const fp_member_t *m);

/*  The caller's context pointer, and how to set it after creation.  */
void *fp_member_ctx(const fp_member_t *m);
void fp_member_set_ctx(fp_member_t *m, void *ctx);

#endif
