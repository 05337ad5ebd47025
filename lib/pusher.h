/*  pusher: what every program needs of the Pusher Channels protocol (v7):
 *  the apps (id, key, secret), the HMAC-SHA256 signatures of channel auth
 *  and of the HTTP API, and how a Pusher channel name maps onto a fastpush
 *  channel.
 *
 *  The apps file, one app per line (`pusher-apps` directive of
 *  fastpush-ws and fastpush-poll; keep it mode 0600, it holds secrets):
 *
 *      # id    key                  secret                options
 *      1001    app-key-1001         s3cr3t-of-at-least-8  client-events
 *
 *  Options: `client-events` (clients may send client-* events on private
 *  and presence channels), `max-presence-members=N` (default 100).
 *
 *  A Pusher channel NAME of app ID is the fastpush channel "ID:NAME".
 *  ':' is not a Pusher name character, so the map is one to one and apps
 *  never share a channel; native fastpush clients and publishers reach
 *  the same channel by that name.  A user's channel "#server-to-user-UID"
 *  (sendToUser) is "ID:~user-UID": '~' is not a Pusher name character
 *  either, so no Pusher channel reaches it.  Names with ',' or ';' (legal in
 *  Pusher, not in fastpush) are refused, as are names longer than
 *  FP_CHANNEL_MAX once prefixed.
 */
#ifndef FP_PUSHER_H
#define FP_PUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define FP_PUSHER_PROTOCOL 7
#define FP_PUSHER_ID_MAX 64         /*  bytes of an app id or key  */
#define FP_PUSHER_NAME_MAX 164      /*  Pusher's own channel name limit  */
#define FP_PUSHER_HMAC_HEX 65       /*  hex SHA-256 with the NUL  */
#define FP_PUSHER_MD5_HEX 33        /*  hex MD5 with the NUL  */
#define FP_PUSHER_SOCKET_ID_MAX 48  /*  "N.N" with the NUL  */

typedef enum {
    FP_PUSHER_PUBLIC,
    FP_PUSHER_PRIVATE,          /*  private-  */
    FP_PUSHER_ENCRYPTED,        /*  private-encrypted- (passed through)  */
    FP_PUSHER_PRESENCE,         /*  presence-  */
    FP_PUSHER_USER              /*  #server-to-user-UID (user auth)  */
} fp_pusher_kind_t;

/*  A signed-in user's channel, as Pusher names it.  */
#define FP_PUSHER_USER_PREFIX "#server-to-user-"

/*  The fastpush type of the event on a user's channel that ends the
 *  user's Pusher connections (terminateUserConnections): the encoding of
 *  "pusher_internal:terminate", a name no Pusher client or library may
 *  publish.  */
#define FP_PUSHER_TERMINATE_TYPE "pusher_internal:3aterminate"

typedef struct {
    char *id;
    char *key;
    char *secret;
    bool client_events;
    int64_t max_presence_members;
    char *webhook;              /*  URL for fastpush-webhooks, or NULL  */
} fp_pusher_app_t;

typedef struct {
    fp_pusher_app_t *apps;      /*  owned  */
    size_t count;
} fp_pusher_apps_t;

/*  Read the apps file.  Returns the apps (caller owns them; free with
 *  fp_pusher_apps_destroy) or NULL with "PATH:LINE: message" in err for
 *  a missing file, a bad line, a repeated id or key, or no app at all.  */
fp_pusher_apps_t *fp_pusher_apps_load(const char *path, char *err);

/*  Free; NULLs *apps_p.  */
void fp_pusher_apps_destroy(fp_pusher_apps_t **apps_p);

/*  The app with this key / id, borrowed, or NULL.  */
const fp_pusher_app_t *fp_pusher_app_by_key(const fp_pusher_apps_t *apps,
                                            const char *key, size_t len);
const fp_pusher_app_t *fp_pusher_app_by_id(const fp_pusher_apps_t *apps,
                                           const char *id, size_t len);

/*  The kind of a Pusher channel by its prefix.  */
fp_pusher_kind_t fp_pusher_kind(const char *name);

/*  Map a Pusher channel name of app to its fastpush channel "ID:NAME"
 *  into out (FP_CHANNEL_MAX + 1 bytes).  0, or -1 with a message in err
 *  (a Pusher error message: empty, too long, bad characters).  */
int fp_pusher_channel(const fp_pusher_app_t *app, const char *name,
                      size_t len, char *out, char *err);

/*  The fastpush channel of user_id's channel of app into out
 *  (FP_CHANNEL_MAX + 1 bytes).  0, or -1 with a Pusher error message.  */
int fp_pusher_user_channel(const fp_pusher_app_t *app, const char *user_id,
                           char *out, char *err);

/*  The Pusher name of a fastpush channel of app (borrowed from channel,
 *  or written into buf for a user's channel), or NULL when the channel is
 *  not one of app's.  */
const char *fp_pusher_name(const fp_pusher_app_t *app, const char *channel,
                           char buf[FP_PUSHER_NAME_MAX + 1]);

/*  True for a fastpush channel that maps a Pusher private, encrypted,
 *  presence or user channel ("ID:private-...", "ID:presence-...",
 *  "ID:~user-..."): the native transports must not hand it out without
 *  authorization (lib/access).  */
bool fp_pusher_reserved(const char *channel);

/*  Pusher event names (up to 200 bytes of anything but control
 *  characters: Laravel's are class names like App\Events\OrderShipped)
 *  as fastpush event types: bytes other than A-Z a-z 0-9 _ . - become
 *  ":XX" (two lowercase hex digits), so App\Events\X is the type
 *  "App:5cEvents:5cX".  The first byte must be a letter or digit and the
 *  name not one of fastpush's control names.  fp_pusher_type_encode
 *  writes into out (FP_TYPE_MAX + 1 bytes) and returns 0, or -1 with a
 *  Pusher error message in err.  */
int fp_pusher_type_encode(const char *name, size_t len, char *out,
                          char *err);

/*  The Pusher name of a fastpush type (the reverse; a type without ':'
 *  is its own name) into out (FP_TYPE_MAX + 1 bytes).  */
void fp_pusher_type_decode(const char *type, char *out);

/*  True for a socket id as fastpush-ws makes them: "DIGITS.DIGITS".  */
bool fp_pusher_socket_id_valid(const char *s, size_t len);

/*  Lowercase hex HMAC-SHA256 of msg with the secret into hex.  */
void fp_pusher_hmac_hex(const char *secret, const void *msg, size_t len,
                        char hex[FP_PUSHER_HMAC_HEX]);

/*  True when sig (len bytes) is the hex HMAC-SHA256 of msg; the compare
 *  takes the same time wherever the two differ.  */
bool fp_pusher_hmac_ok(const char *secret, const void *msg, size_t len,
                       const char *sig, size_t sig_len);

/*  Lowercase hex MD5 of body (the HTTP API's body_md5).  */
void fp_pusher_md5_hex(const void *body, size_t len,
                       char hex[FP_PUSHER_MD5_HEX]);

#endif
