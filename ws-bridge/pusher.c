/*  pusher: the Pusher Channels protocol 7 for pusher-js and Laravel Echo
 *  (docs/pusher.md, section 4).
 *
 *  A client connects to pusher-path/KEY?protocol=7; the key names an app
 *  of the apps file (lib/pusher).  An unknown key gets pusher:error 4001
 *  and the close 4001, a protocol other than 7 the same with 4007 (both
 *  tell pusher-js not to retry).  Otherwise the first message is
 *
 *      {"event":"pusher:connection_established",
 *       "data":"{\"socket_id\":\"N.N\",\"activity_timeout\":120}"}
 *
 *  and then every message is one JSON object {"event","channel","data"}:
 *  pusher:subscribe (public, private-, private-encrypted- and presence-
 *  channels; the last three with the auth KEY:HMAC-SHA256(secret,
 *  socket_id:channel[:channel_data]) of the app's auth endpoint),
 *  pusher:unsubscribe, pusher:ping (pusher:pong back), and client-*
 *  events on private and presence channels the client is subscribed to,
 *  when the app has client-events (published with the sender's socket_id,
 *  so the sender does not get its own event back).  A Pusher channel NAME
 *  of app ID is the fastpush channel ID:NAME.
 *
 *  pusher:signin (user authentication: the auth KEY:HMAC-SHA256(secret,
 *  socket_id::user::user_data)) makes the connection its user's, answered
 *  pusher:signin_success; then it may subscribe to its own
 *  #server-to-user-ID (sendToUser), where an event FP_PUSHER_TERMINATE_TYPE
 *  ends it (terminateUserConnections).  A bad signin is pusher:error 4009
 *  and the close 4009.
 *
 *  Pusher clients do not use fastpush's tokens (the app's signatures
 *  authorize them).  A presence subscription joins the user of its
 *  channel_data first and subscribes from the channel's head at the join,
 *  so the member list it is sent and the member_added / member_removed
 *  after it never overlap.  Refusals are pusher:subscription_error (with
 *  a type and a status) or pusher:error (code null); the connection stays
 *  open.
 */
#include "wsb.h"
#include "cursor.h"
#include "json.h"
#include "mem.h"
#include "pusher_msg.h"
#include "rate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The value of query parameter name, copied into out (size n), or
 *  false.  */
static bool
s_param(const char *query, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&')
         + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        size_t vl = strcspn(p + nl + 1, "&");
        if (vl >= n)
            return false;
        memcpy(out, p + nl + 1, vl);
        out[vl] = '\0';
        return true;
    }
    return false;
}

int
wsb_pusher_accept(wsb_conn_t *c, const wsb_hs_t *hs)
{
    const fp_pusher_apps_t *apps = c->w->conf->pusher;
    char proto[8];

    c->papp = apps ? fp_pusher_app_by_key(apps, hs->pusher_key,
                                          strlen(hs->pusher_key)) : NULL;
    if (!c->papp)
        return 4001;
    if (!s_param(hs->query, "protocol", proto, sizeof proto) ||
        strcmp(proto, "7") != 0) {
        c->papp = NULL;
        return 4007;
    }
    snprintf(c->socket_id, sizeof c->socket_id, "%u.%llu", c->w->sid_base,
             (unsigned long long) c->id);
    return 0;
}

void
wsb_pusher_open(wsb_conn_t *c, int code)
{
    size_t len;

    if (code) {
        const char *why = code == 4001 ? "App key not known here"
                          : "Unsupported protocol version: this server "
                            "speaks protocol 7";
        char *text = fp_pusher_error(code, why, &len);
        wsb_out_take(c, text, len);
        wsb_conn_shutdown(c, (unsigned) code, why);
        return;
    }
    json_t *d = json_pack("{s:s, s:I}", "socket_id", c->socket_id,
                          "activity_timeout",
                          (json_int_t) (c->w->conf->pusher_activity / 1000));
    char *text = fp_pusher_message("pusher:connection_established", NULL, d,
                                   true, &len);
    wsb_out_take(c, text, len);
}

static void
s_pong(wsb_conn_t *c)
{
    size_t len;
    char *text = fp_pusher_message("pusher:pong", NULL, NULL, true, &len);
    wsb_out_take(c, text, len);
}

/*  Is auth ("KEY:SIGNATURE") the app's signature of
 *  socket_id:name[:channel_data] (sep ":"), or of
 *  socket_id::user::user_data (sep "::user::", name "")?  */
static bool
s_signed(wsb_conn_t *c, const char *name, const char *auth, const char *sep,
         const char *data)
{
    const fp_pusher_app_t *app = c->papp;
    size_t kl = strlen(app->key);
    if (!auth || strncmp(auth, app->key, kl) != 0 || auth[kl] != ':')
        return false;
    fp_buf_t msg;
    fp_buf_init(&msg);
    fp_buf_addf(&msg, "%s%s%s", c->socket_id, *name ? ":" : "", name);
    if (data)
        fp_buf_addf(&msg, "%s%s", sep, data);
    bool ok = fp_pusher_hmac_ok(app->secret, msg.data, msg.len, auth + kl + 1,
                                strlen(auth + kl + 1));
    fp_buf_free(&msg);
    return ok;
}

static bool
s_auth_ok(wsb_conn_t *c, const char *name, const char *auth,
          const char *channel_data)
{
    return s_signed(c, name, auth, ":", channel_data);
}

/*  pusher:signin {auth, user_data}: the user_data's "id" becomes the
 *  connection's user; anything wrong ends the connection (4009).  */
static void
s_signin(wsb_conn_t *c, json_t *data)
{
    const char *auth = json_string_value(json_object_get(data, "auth"));
    const char *ud = json_string_value(json_object_get(data, "user_data"));
    char err[FP_ERR_LEN], chan[FP_CHANNEL_MAX + 1];
    json_t *u = ud ? fp_json_parse(ud, strlen(ud), err) : NULL;
    const char *id = json_string_value(json_object_get(u, "id"));
    size_t len;

    if (c->user_channel || !ud || !s_signed(c, "", auth, "::user::", ud) ||
        !id || fp_pusher_user_channel(c->papp, id, chan, err) < 0) {
        const char *why = c->user_channel ? "already signed in"
                          : "Invalid signin: bad signature or user_data";
        char *text = fp_pusher_error(4009, why, &len);
        wsb_out_take(c, text, len);
        wsb_conn_shutdown(c, 4009, why);
        json_decref(u);
        return;
    }
    c->user_channel = fp_strdup(chan);
    char *text = fp_pusher_message("pusher:signin_success", NULL,
                                   json_pack("{s:s}", "user_data", ud), true,
                                   &len);
    wsb_out_take(c, text, len);
    json_decref(u);
}

/*  May c subscribe to the user channel chan (fastpush name)?  Only its
 *  signed-in user's own.  */
static bool
s_user_ok(const wsb_conn_t *c, const char *chan)
{
    return c->user_channel && strcmp(c->user_channel, chan) == 0;
}

/*  The broker's answer to a presence subscription's join: subscribe from
 *  the channel's head at the join, with the member list.  */
static void
s_joined(wsb_conn_t *c, const char *channel, bool ok, json_t *meta,
         const char *tag)
{
    (void) tag;
    if (!ok) {
        const char *code = json_string_value(json_object_get(meta, "error"));
        const char *msg = json_string_value(json_object_get(meta,
                                                            "message"));
        wsb_out_sub_error(c, channel, code ? code : "presence_failed", msg ?
                          msg : "the broker refused the presence join", 403,
                          NULL);
        return;
    }
    fp_hub_stats_t hs;
    char cursor[FP_CURSOR_LEN];
    json_t *seq = json_object_get(meta, "seq");
    fp_hub_stats(c->w->hub, &hs);
    bool at = json_is_integer(seq) && hs.epoch && hs.epoch[0];
    if (at)
        fp_cursor_format(hs.epoch, (uint64_t) json_integer_value(seq),
                         cursor);
    if (!wsb_sub_add_pusher(c, channel, at ? cursor : NULL,
                            fp_pusher_presence_data(json_object_get(
                                meta, "members"))))
        wsb_presence_leave(c, channel);     /*  refused: no ghost member  */
}

/*  A presence channel's member from channel_data {"user_id","user_info"}
 *  (the id a string or an integer) joins, or the refusal is sent.  */
static void
s_presence(wsb_conn_t *c, const char *chan, const char *channel_data)
{
    char err[FP_ERR_LEN], id[32];
    json_t *d = channel_data ? fp_json_parse(channel_data,
                                             strlen(channel_data), err) : NULL;
    json_t *uid = json_object_get(d, "user_id");
    const char *user = json_string_value(uid);
    if (json_is_integer(uid)) {
        snprintf(id, sizeof id, "%lld", (long long) json_integer_value(uid));
        user = id;
    }
    if (!json_is_object(d) || !user || !*user) {
        wsb_out_sub_error(c, chan, "InvalidChannelData", "channel_data must "
                          "be a JSON object with a user_id", 400, NULL);
        json_decref(d);
        return;
    }
    if (c->nchans + wsb_presence_pending(c) >= c->w->conf->max_channels) {
        wsb_out_sub_error(c, chan, "limit_exceeded", "too many channels on "
                          "this connection (max-channels)", 400, NULL);
        json_decref(d);
        return;
    }
    json_t *info = json_object_get(d, "user_info");
    char *itext = info ? fp_json_dump(info, NULL) : NULL;
    wsb_presence_join(c, chan, user, itext, c->papp->max_presence_members,
                      s_joined, NULL);
    free(itext);
    json_decref(d);
}

/*  The optional "since" of a subscribe (a fastpush extension: resume from
 *  a cursor given in the events' "id"): NULL, or the cursor; *bad when
 *  it is not one.  */
static const char *
s_since(json_t *data, bool *bad)
{
    char err[FP_ERR_LEN];
    fp_cursor_t cur;
    json_t *v = json_object_get(data, "since");
    const char *s = json_string_value(v);
    *bad = v && !json_is_null(v) && (!s || (strcmp(s, "earliest") != 0 &&
                                            fp_cursor_parse(s, &cur, err)));
    return *bad ? NULL : s;
}

static void
s_subscribe(wsb_conn_t *c, json_t *data)
{
    const char *name = json_string_value(json_object_get(data, "channel"));
    const char *auth = json_string_value(json_object_get(data, "auth"));
    const char *cdata = json_string_value(json_object_get(data,
                                                          "channel_data"));
    char chan[FP_CHANNEL_MAX + 1], err[FP_ERR_LEN];
    bool bad;

    if (!name || fp_pusher_channel(c->papp, name, strlen(name), chan, err)) {
        wsb_out_error(c, "bad_channel", name ? err : "pusher:subscribe needs "
                      "data.channel", NULL);
        return;
    }
    if (wsb_sub_has(c, chan) || wsb_presence_has(c, chan)) {
        wsb_out_sub_error(c, chan, "AlreadySubscribed", "already subscribed "
                          "to this channel", 400, NULL);
        return;
    }
    const char *since = s_since(data, &bad);
    if (bad) {
        wsb_out_sub_error(c, chan, "InvalidCursor", "since must be a cursor "
                          "EPOCH-SEQ or \"earliest\"", 400, NULL);
        return;
    }
    fp_pusher_kind_t kind = fp_pusher_kind(name);
    if (kind == FP_PUSHER_USER) {
        if (s_user_ok(c, chan))
            wsb_sub_add_pusher(c, chan, since, NULL);
        else
            wsb_out_sub_error(c, chan, "AuthError", "a user's channel is "
                              "its signed-in connections' only", 403, NULL);
        return;
    }
    if (kind != FP_PUSHER_PUBLIC &&
        !s_auth_ok(c, name, auth, kind == FP_PUSHER_PRESENCE ? cdata
                   : NULL)) {
        wsb_out_sub_error(c, chan, "AuthError", "Invalid signature: "
                          "expected HMAC SHA256 hex digest of "
                          "socket_id:channel[:channel_data] with the app's "
                          "secret", 401, NULL);
        return;
    }
    if (kind == FP_PUSHER_PRESENCE)
        s_presence(c, chan, cdata);
    else
        wsb_sub_add_pusher(c, chan, since, NULL);
}

static void
s_unsubscribe(wsb_conn_t *c, json_t *data)
{
    const char *name = json_string_value(json_object_get(data, "channel"));
    char chan[FP_CHANNEL_MAX + 1], err[FP_ERR_LEN];

    if (!name || fp_pusher_channel(c->papp, name, strlen(name), chan, err))
        return;
    wsb_presence_leave(c, chan);
    wsb_sub_drop(c, chan);
}

/*  A client event: on a private or presence channel the client is
 *  subscribed to, when the app allows them; published as the fastpush
 *  type of its name (lib/pusher).  */
static void
s_client_event(wsb_conn_t *c, const char *event, json_t *msg)
{
    const char *name = json_string_value(json_object_get(msg, "channel"));
    char chan[FP_CHANNEL_MAX + 1], type[FP_TYPE_MAX + 1], err[FP_ERR_LEN];

    if (!c->papp->client_events) {
        wsb_out_error(c, "forbidden", "client events are not enabled for "
                      "this app (client-events in the apps file)", NULL);
        return;
    }
    if (!name || fp_pusher_channel(c->papp, name, strlen(name), chan, err) ||
        (fp_pusher_kind(name) != FP_PUSHER_PRIVATE &&
         fp_pusher_kind(name) != FP_PUSHER_PRESENCE)) {
        wsb_out_error(c, "forbidden", "client events go to private- or "
                      "presence- channels", NULL);
        return;
    }
    if (!wsb_sub_has(c, chan)) {
        wsb_out_error(c, "forbidden", "client events go to a channel the "
                      "client is subscribed to", NULL);
        return;
    }
    if (fp_pusher_type_encode(event, strlen(event), type, err)) {
        wsb_out_error(c, "bad_event", err, NULL);
        return;
    }
    json_t *data = json_object_get(msg, "data");
    wsb_proto_publish(c, json_pack("{s:s, s:s, s:s, s:O}", "channel", chan,
                                   "event", type, "socket_id", c->socket_id,
                                   "data", data ? data : json_null()),
                      NULL);
}

/*  data of a client message: an object, or a string holding one.  The
 *  result is a new reference (an empty object when there is none).  */
static json_t *
s_data(json_t *msg)
{
    json_t *d = json_object_get(msg, "data");
    char err[FP_ERR_LEN];
    if (json_is_string(d)) {
        json_t *p = fp_json_parse(json_string_value(d), json_string_length(d),
                                  err);
        if (json_is_object(p))
            return p;
        json_decref(p);
    }
    return json_is_object(d) ? json_incref(d) : json_object();
}

static void
s_dispatch(wsb_conn_t *c, const char *event, json_t *msg)
{
    if (strncmp(event, "client-", 7) == 0) {
        s_client_event(c, event, msg);
        return;
    }
    json_t *data = s_data(msg);
    if (strcmp(event, "pusher:ping") == 0)
        s_pong(c);
    else if (strcmp(event, "pusher:pong") == 0)
        ;
    else if (strcmp(event, "pusher:subscribe") == 0)
        s_subscribe(c, data);
    else if (strcmp(event, "pusher:unsubscribe") == 0)
        s_unsubscribe(c, data);
    else if (strcmp(event, "pusher:signin") == 0)
        s_signin(c, data);
    else
        wsb_out_error(c, "unknown_event", "not a Pusher client event this "
                      "server knows (pusher:subscribe, pusher:unsubscribe, "
                      "pusher:signin, pusher:ping, client-*)", NULL);
    json_decref(data);
}

void
wsb_pusher_message(wsb_conn_t *c, const char *text, size_t len)
{
    char err[FP_ERR_LEN];

    c->w->stats.messages_in++;
    if (!fp_rate_take(&c->rate, c->w->conf->message_rate, c->w->now)) {
        c->w->stats.rate_limited++;
        wsb_out_error(c, "rate_limited", "too many messages; slow down",
                      NULL);
        return;
    }
    json_t *msg = fp_json_parse(text, len, err);
    const char *event = json_string_value(json_object_get(msg, "event"));
    if (!json_is_object(msg) || !event)
        wsb_out_error(c, "bad_request", "a message is a JSON object with an "
                      "\"event\"", NULL);
    else
        s_dispatch(c, event, msg);
    json_decref(msg);
}
