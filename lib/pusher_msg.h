/*  pusher_msg: the messages a Pusher Channels client (pusher-js, Laravel
 *  Echo) receives, protocol 7, as every transport that speaks Pusher
 *  writes them (fastpush-ws today; the HTTP transports later).
 *
 *  Every message is one JSON object {"event":E,"channel":C,"data":D}
 *  (channel only when it is about one); D is a string holding JSON for
 *  the messages Pusher itself sends that way, an object for errors.
 */
#ifndef FP_PUSHER_MSG_H
#define FP_PUSHER_MSG_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "event.h"
#include "pusher.h"

/*  Append ev as app's clients get it:
 *  {"event":NAME,"channel":PNAME,"data":"DATA","id":"EPOCH-SEQ"}.  NAME
 *  is the Pusher name of the type (fp_pusher_type_decode); the broker's
 *  member_added / member_removed become pusher_internal:member_added /
 *  pusher_internal:member_removed.  DATA is the event's data as Pusher
 *  sends it, a string: a string's own value, any other JSON as its text.
 *  "id" is our cursor (pusher-js ignores it).  Returns false, appending
 *  nothing, when the channel is not one of app's.  */
bool fp_pusher_event_append(fp_buf_t *b, const fp_pusher_app_t *app,
                            const fp_event_t *ev);

/*  A message's text (caller frees; *len its length): event, channel (NULL
 *  for none), data (stolen; NULL for {}) sent as a JSON string of its
 *  text when as_string, else as it is.  */
char *fp_pusher_message(const char *event, const char *channel,
                        json_t *data, bool as_string, size_t *len);

/*  The data of a presence channel's pusher_internal:subscription_succeeded
 *  from the broker's member list ([{"user_id","user_info"}...], borrowed):
 *  {"presence":{"ids":[...],"hash":{ID:INFO...},"count":N}} (stolen by
 *  fp_pusher_message).  */
json_t *fp_pusher_presence_data(const json_t *members);

/*  A pusher:error message: code (0 for null, as Pusher sends for errors
 *  that do not close) and message.  Caller frees.  */
char *fp_pusher_error(int code, const char *message, size_t *len);

/*  A pusher:subscription_error for a Pusher channel name: type (e.g.
 *  "AuthError"), the error text and an HTTP-like status.  Caller frees.  */
char *fp_pusher_subscription_error(const char *channel, const char *type,
                                   const char *error, int status,
                                   size_t *len);

#endif
