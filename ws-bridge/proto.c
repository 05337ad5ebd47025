/*  proto: what a client says, in the JSON protocol (docs/protocol.md,
 *  "WebSocket (fastpush-ws)"), or echoed back in echo test mode.
 *
 *  Every message is one JSON object with a "type": subscribe,
 *  unsubscribe, publish or ping.  A message that is not understood gets a
 *  {"type":"error"} reply and the connection stays open; "ref", any JSON
 *  value of at most WSB_REF_MAX bytes, is copied into every reply the
 *  message causes.  Publishes go to the broker with fp_hub_request and
 *  are answered "published" (with the event's id) or "error" when the
 *  broker refuses; they are allowed only with the `publish` directive.
 *  With auth on, every subscribe and publish needs the client's right to
 *  its channels (a "forbidden" error otherwise, the connection stays),
 *  and publishes count against the user's publish-rate.
 *  Each connection has a budget of message-rate messages a second (a
 *  token bucket); past it a message gets a rate_limited error.
 *
 *  A subscription that names presence channels (lib/access lets only a
 *  user have them) joins the user to each (presence.c); the broker's
 *  member list comes as {"type":"presence","channel","members","count",
 *  "seq"} with the subscription's ref, and member_added / member_removed
 *  as events; those at or below "seq" are in the list already.  A
 *  refused join (the channel is full) is an error and the channel is
 *  dropped from the subscription.
 */
#include "wsb.h"
#include "error.h"
#include "cursor.h"
#include "event.h"
#include "json.h"
#include "mem.h"
#include "rate.h"

#include <stdlib.h>
#include <string.h>

#define WSB_REF_MAX 256

struct wsb_pub {
    wsb_pub_t *next;            /*  the connection's publishes in flight  */
    wsb_conn_t *c;
    fp_hub_req_t *req;
    char *ref;                  /*  raw JSON or NULL (owned)  */
};

/*  The channels member as borrowed strings; NULL with a reply sent.  */
static const char **
s_channels(wsb_conn_t *c, json_t *msg, size_t *n, const char *ref)
{
    json_t *arr = json_object_get(msg, "channels"), *v;
    size_t i, max = (size_t) c->w->conf->max_channels;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        wsb_out_error(c, "bad_request", "\"channels\" must be a non-empty "
                      "array of channel names", ref);
        return NULL;
    }
    if (json_array_size(arr) > max) {
        wsb_out_error(c, "limit_exceeded", "too many channels", ref);
        return NULL;
    }
    const char **out = fp_calloc(json_array_size(arr), sizeof *out);
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        if (!s || !fp_channel_valid(s, json_string_length(v))) {
            char err[FP_ERR_LEN];
            snprintf(err, sizeof err, "invalid channel name at index %zu",
                     i);
            wsb_out_error(c, "bad_channel", err, ref);
            free(out);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(out[j], s) == 0) {
                wsb_out_error(c, "bad_channel", "a channel is named twice",
                              ref);
                free(out);
                return NULL;
            }
        out[i] = s;
    }
    *n = json_array_size(arr);
    return out;
}

/*  The broker's answer to a join: the member list, or the refusal.  */
static void
s_joined(wsb_conn_t *c, const char *channel, bool ok, json_t *meta,
         const char *ref)
{
    if (!ok) {
        const char *code = json_string_value(json_object_get(meta, "error"));
        const char *msg = json_string_value(json_object_get(meta,
                                                            "message"));
        wsb_out_error(c, code ? code : "presence_failed", msg ? msg
                      : "the broker refused the presence join", ref);
        wsb_sub_drop(c, channel);
        return;
    }
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"presence\",\"channel\":");
    fp_json_append_str(&b, channel);
    static const char *const keys[] = { "members", "count", "seq", NULL };
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(meta, keys[i]);
        fp_buf_addf(&b, ",\"%s\":", keys[i]);
        fp_json_append(&b, v ? v : json_null());
    }
    wsb_out_add_ref(&b, ref);
    fp_buf_addc(&b, '}');
    wsb_out_text(c, b.data, b.len);
    fp_buf_free(&b);
}

/*  Join the client's user to the presence channels of a new
 *  subscription.  */
static void
s_presence_join(wsb_conn_t *c, const char *const *chans, size_t n,
                const char *ref)
{
    const fp_principal_t *p = c->client ? &c->client->p : NULL;
    for (size_t i = 0; i < n; i++)
        if (fp_channel_presence(chans[i]) && p && p->user)
            wsb_presence_join(c, chans[i], p->user, p->user_info, 0,
                              s_joined, ref);
}

static void
s_subscribe(wsb_conn_t *c, json_t *msg, const char *ref)
{
    json_t *since = json_object_get(msg, "since");
    const char *cursor = NULL;
    char err[FP_ERR_LEN];
    size_t n;

    if (since && !json_is_null(since)) {
        fp_cursor_t cur;
        cursor = json_string_value(since);
        if (!cursor || (strcmp(cursor, "earliest") != 0 &&
                        fp_cursor_parse(cursor, &cur, err) < 0)) {
            wsb_out_error(c, "bad_cursor", "\"since\" must be a cursor "
                          "EPOCH-SEQ or \"earliest\"", ref);
            return;
        }
    }
    const char **chans = s_channels(c, msg, &n, ref);
    if (!chans)
        return;
    if (fp_access_allow(c->w->conf->authz, c->client, FP_RIGHTS_SUBSCRIBE,
                       chans, n, err) == 0) {
        unsigned before = c->nsubs;
        wsb_sub_add(c, chans, n, cursor, ref);
        if (c->nsubs > before)
            s_presence_join(c, chans, n, ref);
    } else {
        wsb_out_error(c, "forbidden", err, ref);
    }
    free(chans);
}

/*  With auth on: may the client publish this?  Its publish right on the
 *  channel, then its user's publish-rate.  false with the reply sent.  */
static bool
s_may_publish(wsb_conn_t *c, json_t *msg, const char *ref)
{
    fp_access_t *a = c->w->conf->authz;
    const char *ch = json_string_value(json_object_get(msg, "channel"));
    char err[FP_ERR_LEN];

    if (!fp_access_on(a))
        return true;
    if (!ch || !fp_channel_valid(ch, strlen(ch))) {
        wsb_out_error(c, "invalid_event", "\"channel\" must be a valid "
                      "channel name", ref);
        return false;
    }
    if (fp_access_allow(a, c->client, FP_RIGHTS_PUBLISH, &ch, 1, err)) {
        wsb_out_error(c, "forbidden", err, ref);
        return false;
    }
    if (fp_access_publish(a, c->client, c->w->now, err)) {
        wsb_out_error(c, "rate_limited", err, ref);
        return false;
    }
    return true;
}

static void
s_unsubscribe(wsb_conn_t *c, json_t *msg, const char *ref)
{
    size_t n;
    const char **chans = s_channels(c, msg, &n, ref);
    if (!chans)
        return;
    wsb_sub_remove(c, chans, n, ref);
    free(chans);
}

static void
s_pub_free(wsb_pub_t *p)
{
    free(p->ref);
    free(p);
}

/*  Unlink p from its connection's list.  */
static void
s_pub_unlink(wsb_pub_t *p)
{
    wsb_conn_t *c = p->c;
    for (wsb_pub_t **pp = &c->pubs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            c->npubs--;
            return;
        }
}

/*  The broker's answer to a publish.  */
static void
s_published(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    wsb_pub_t *p = arg;
    wsb_conn_t *c = p->c;

    s_pub_unlink(p);
    if (ok && c->papp) {
        c->w->stats.published++;
    } else if (ok) {
        fp_buf_t b;
        const char *id = json_string_value(json_object_get(meta, "id"));
        c->w->stats.published++;
        fp_buf_init(&b);
        fp_buf_adds(&b, "{\"type\":\"published\",\"id\":");
        fp_json_append_str(&b, id ? id : "");
        wsb_out_add_ref(&b, p->ref);
        fp_buf_addc(&b, '}');
        wsb_out_text(c, b.data, b.len);
        fp_buf_free(&b);
    } else {
        const char *code = fp_error_code(meta);
        const char *err = fp_error_message(meta);
        wsb_out_error(c, code ? code : "error", err, p->ref);
    }
    s_pub_free(p);
}

static void
s_publish(wsb_conn_t *c, json_t *msg, const char *ref)
{
    static const char *const fields[] = { "channel", "event", "key", "data",
                                          NULL };
    if (!c->w->conf->publish) {
        wsb_out_error(c, "forbidden", "publishing is not enabled on this "
                      "server", ref);
        return;
    }
    if (!s_may_publish(c, msg, ref))
        return;
    json_t *body = json_object();
    for (int i = 0; fields[i]; i++) {
        json_t *v = json_object_get(msg, fields[i]);
        if (v)
            json_object_set(body, fields[i], v);
    }
    wsb_proto_publish(c, body, ref);
}

void
wsb_proto_publish(wsb_conn_t *c, json_t *body, const char *ref)
{
    if (c->npubs >= c->w->conf->max_pending) {
        wsb_out_error(c, "too_many_requests", "too many publishes waiting "
                      "for the broker", ref);
        json_decref(body);
        return;
    }
    wsb_pub_t *p = fp_calloc(1, sizeof *p);
    p->c = c;
    p->ref = ref ? fp_strdup(ref) : NULL;
    p->next = c->pubs;
    c->pubs = p;
    c->npubs++;
    p->req = fp_hub_request(c->w->hub, "PUBLISH", body, s_published, p);
}

static void
s_ping(wsb_conn_t *c, const char *ref)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"pong\"");
    wsb_out_add_ref(&b, ref);
    fp_buf_addc(&b, '}');
    wsb_out_text(c, b.data, b.len);
    fp_buf_free(&b);
}

/*  A JSON protocol message.  */
static void
s_json(wsb_conn_t *c, const char *text, size_t len)
{
    char err[FP_ERR_LEN], *ref = NULL;
    json_t *msg = fp_json_parse(text, len, err);

    if (!msg) {
        wsb_out_error(c, "invalid_json", err, NULL);
        return;
    }
    json_t *jref = json_object_get(msg, "ref");
    if (!json_is_object(msg)) {
        wsb_out_error(c, "bad_request", "a message is a JSON object",
                      NULL);
        goto done;
    }
    if (jref) {
        size_t rl;
        ref = fp_json_dump(jref, &rl);
        if (rl > WSB_REF_MAX) {
            free(ref);
            ref = NULL;
            wsb_out_error(c, "bad_request", "\"ref\" is too long", NULL);
            goto done;
        }
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type)
        wsb_out_error(c, "bad_request", "\"type\" is missing", ref);
    else if (strcmp(type, "subscribe") == 0)
        s_subscribe(c, msg, ref);
    else if (strcmp(type, "unsubscribe") == 0)
        s_unsubscribe(c, msg, ref);
    else if (strcmp(type, "publish") == 0)
        s_publish(c, msg, ref);
    else if (strcmp(type, "ping") == 0)
        s_ping(c, ref);
    else
        wsb_out_error(c, "unknown_type", "type is not subscribe, "
                      "unsubscribe, publish or ping", ref);
done:
    free(ref);
    json_decref(msg);
}

/*  Take one message from the connection's budget (a token bucket of
 *  message-rate per second); false when it is spent.  */
static bool
s_rate_ok(wsb_conn_t *c)
{
    return fp_rate_take(&c->rate, c->w->conf->message_rate, c->w->now);
}

void
wsb_proto_message(wsb_conn_t *c, int opcode, const uint8_t *data,
                  size_t len)
{
    c->w->stats.messages_in++;
    if (wsb_out_expired(c))
        return;
    if (c->w->conf->echo) {
        fp_blob_t *b = wsb_frame_blob(opcode, data, len);
        wsb_out_send(c, b);
        fp_blob_unref(&b);
    } else if (!s_rate_ok(c)) {
        c->w->stats.rate_limited++;
        wsb_out_error(c, "rate_limited", "too many messages; slow down",
                      NULL);
    } else if (opcode != WSB_OP_TEXT) {
        wsb_out_error(c, "bad_request", "binary messages are not part of "
                      "the protocol", NULL);
    } else {
        s_json(c, (const char *) data, len);
    }
}

void
wsb_proto_drop(wsb_conn_t *c)
{
    while (c->pubs) {
        wsb_pub_t *p = c->pubs;
        c->pubs = p->next;
        fp_hub_cancel(c->w->hub, &p->req);
        s_pub_free(p);
    }
    c->npubs = 0;
}
