/*  presence: a responder process's side of the broker's presence (the
 *  PRESENCE request, docs/protocol.md).
 *
 *  One per process, beside its hub.  It names the process (an instance
 *  id: transport, pid and random bytes), sends the joins and leaves of its
 *  connections, beats for the process so the broker keeps its members,
 *  joins every connection again when a beat finds the broker does not
 *  know the process (it restarted), and says goodbye (drop) at the end.
 *
 *  Which channels are presence channels: fp_channel_presence (lib/event),
 *  the same rule on every transport, so a Pusher client on presence-room
 *  of app 1 and an SSE stream on 1:presence-room share one member list.
 */
#ifndef FP_PRESENCE_H
#define FP_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"

typedef struct fp_presence fp_presence_t;

#define FP_PRESENCE_CONN_MAX 64     /*  bytes of a connection id  */
/*  max_members of a join into a roster, not a Pusher member list (the
 *  broker's "roster":true: no per-channel bound, user_info up to 16 kB,
 *  member_removed with the user_info): the Mercure hub's subscriptions.  */
#define FP_PRESENCE_ROSTER (-1)

/*  Start the process's presence on hub (borrowed; it must outlive the
 *  result); transport ("sse", "poll", "ws") goes into the instance id;
 *  beat_ms: how often to beat (a third of the broker's presence-timeout).
 *  Caller owns the result.  */
fp_presence_t *fp_presence_new(fp_hub_t *hub, const char *transport,
                               int64_t beat_ms);

/*  Drop the process's members at the broker (best effort: the broker
 *  expires them anyway) and free; NULLs *p_p.  */
void fp_presence_destroy(fp_presence_t **p_p);

/*  The connection conn (1 to 64 of A-Z a-z 0-9 . _ -) of user_id joins
 *  channel; user_info is compact JSON or NULL; max_members (0: none)
 *  lowers the broker's presence-max-members for this join (a Pusher
 *  app's max-presence-members), FP_PRESENCE_ROSTER joins a roster.  The broker's reply goes to
 *  cb (META {"members","count","added","seq"}, or the error); the handle
 *  is fp_hub_request's (fp_hub_cancel it if the connection goes first).
 *  The join is remembered, and sent again after a broker restart, until
 *  fp_presence_leave; a refused join must be left too.  */
fp_hub_req_t *fp_presence_join(fp_presence_t *p, const char *conn,
                               const char *channel, const char *user_id,
                               const char *user_info, int64_t max_members,
                               fp_hub_reply_fn *cb, void *arg);

/*  The connection leaves channel (no reply wanted); unknown pairs are
 *  ignored.  */
void fp_presence_leave(fp_presence_t *p, const char *conn,
                       const char *channel);

/*  Ask for the member list of channel (META as a join's, without
 *  "added").  */
fp_hub_req_t *fp_presence_members(fp_presence_t *p, const char *channel,
                                  fp_hub_reply_fn *cb, void *arg);

/*  Time: beat when due.  now: monotonic ms.  */
void fp_presence_tick(fp_presence_t *p, int64_t now);

#endif
