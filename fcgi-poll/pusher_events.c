/*  pusher_events: Pusher's trigger and triggerBatch (signed: pusher_auth.c).
 *
 *    POST .../apps/ID/events
 *        {"name": N, "data": "string", "channels": [C, ...] | "channel": C,
 *         "socket_id": "1.2"?, "info": "..."?}
 *    POST .../apps/ID/batch_events
 *        {"batch": [{"name", "data", "channel", "socket_id"?}, ...]}
 *    POST .../apps/ID/users/UID/terminate_connections
 *        {} (an event FP_PUSHER_TERMINATE_TYPE on the user's channel,
 *        which ends the user's signed-in fastpush-ws connections)
 *
 *  Each (event, channel) is published to the broker on the fastpush
 *  channel "ID:C" (fp_pusher_channel) with the type fp_pusher_type_encode(N)
 *  and the data string as a JSON string, so fastpush-ws hands Pusher
 *  clients exactly the string the server sent.  Everything is checked
 *  before anything is published (400, 413 past pusher-max-data): a refused
 *  request publishes nothing.  The publishes go out together and the
 *  answer, 200 {} (events) or {"batch": [{}, ...]}, waits for every
 *  acknowledgement; should the broker refuse one of them (it is down, its
 *  store failed), the answer is that error, and the others may have been
 *  published.  A socket_id goes into each publish: the broker's event
 *  carries it, and fastpush-ws does not hand the event to that
 *  connection (Laravel's toOthers()).
 */
#include "polld.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/*  Every publish acknowledged: 200, or the first refusal.  */
static void
s_done(polld_req_t *r, json_t **metas, size_t n, const json_t *failed)
{
    if (failed) {
        polld_broker_error(r, failed);
        return;
    }
    fp_buf_t b;
    fp_buf_init(&b);
    if (r->pusher_batch) {
        fp_buf_adds(&b, "{\"batch\":[");
        for (int64_t i = 0; i < r->nevents; i++)
            fp_buf_adds(&b, i ? ",{}" : "{}");
        fp_buf_adds(&b, "]}\n");
    } else {
        fp_buf_adds(&b, "{}\n");
    }
    r->d->stats.published += n;
    polld_answer(r, 200, "Content-Type: application/json\r\n"
                 "Cache-Control: no-store\r\n", b.data, b.len);
    fp_buf_free(&b);
}

/*  A string member of ev: borrowed, NULL when absent; -1 with err when it
 *  is there and not a string.  */
static int
s_str(const json_t *ev, const char *name, bool required, const char **out,
      size_t *len, char *err)
{
    if (fp_json_get_str(ev, name, required, out, err) < 0)
        return -1;
    *len = *out ? json_string_length(json_object_get(ev, name)) : 0;
    return 0;
}

/*  One checked channel of an event as a broker PUBLISH body, added to
 *  pubs unless the event (its publishes from index `from` on) already
 *  has it.  0, or -1 with err.  */
static int
s_add(polld_req_t *r, const char *chan, size_t clen, const char *type,
      const char *data, size_t dlen, json_t *pubs, size_t from, char *err)
{
    char fch[FP_CHANNEL_MAX + 1];
    if (fp_pusher_channel(r->app, chan, clen, fch, err) < 0)
        return -1;
    for (size_t i = from; i < json_array_size(pubs); i++)
        if (strcmp(json_string_value(json_object_get(
                json_array_get(pubs, i), "channel")), fch) == 0)
            return 0;
    json_array_append_new(pubs, json_pack("{s:s, s:s, s:s%}", "channel",
                                          fch, "event", type, "data", data,
                                          dlen));
    return 0;
}

/*  The fastpush type of a Pusher event name into type.  0, or -1 with
 *  err: invalid (fp_pusher_type_encode), or a name that belongs to the
 *  protocol (pusher:, pusher_internal:) or to the broker (member_added,
 *  member_removed, which it refuses from publishers).  */
static int
s_type(const char *name, size_t len, char *type, char *err)
{
    if (strncmp(name, "pusher:", 7) == 0 ||
        strncmp(name, "pusher_internal:", 16) == 0 ||
        strcmp(name, "member_added") == 0 ||
        strcmp(name, "member_removed") == 0) {
        snprintf(err, FP_ERR_LEN, "Invalid event name: pusher:, "
                 "pusher_internal:, member_added and member_removed are "
                 "the protocol's and the broker's own");
        return -1;
    }
    return fp_pusher_type_encode(name, len, type, err);
}

/*  The channels of an event: "channel" (one, the only way in a batch)
 *  or "channels" (1 to pusher-max-channels), each added to pubs with
 *  type and data.  0, or -1 with err.  */
static int
s_targets(polld_req_t *r, const json_t *ev, bool batch, const char *type,
          const char *data, size_t dlen, json_t *pubs, char *err)
{
    json_t *one = json_object_get(ev, "channel");
    json_t *many = json_object_get(ev, "channels");
    size_t n = json_array_size(many), from = json_array_size(pubs);
    int64_t max = r->d->conf.pusher_max_channels;

    if ((one != NULL) == (many != NULL) || (batch && many)) {
        snprintf(err, FP_ERR_LEN, batch ? "a batch event names one "
                 "\"channel\"" : "name the channels: \"channels\": [...] "
                 "or \"channel\"");
        return -1;
    }
    if (one)
        return s_add(r, json_string_value(one), json_string_length(one),
                     type, data, dlen, pubs, from, err);
    if (!json_is_array(many) || n == 0 || n > (size_t) max) {
        snprintf(err, FP_ERR_LEN, "\"channels\": an array of 1 to %lld "
                 "channel names", (long long) max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *ch = json_array_get(many, i);
        if (!json_is_string(ch)) {
            snprintf(err, FP_ERR_LEN, "\"channels\": names are strings");
            return -1;
        }
        if (s_add(r, json_string_value(ch), json_string_length(ch), type,
                  data, dlen, pubs, from, err) < 0)
            return -1;
    }
    return 0;
}

/*  One event of a trigger or a batch, checked, its publishes added to
 *  pubs.  0, or an HTTP status (400, 413) with err.  */
static int
s_event(polld_req_t *r, const json_t *ev, bool batch, json_t *pubs,
        char *err)
{
    uint64_t max = r->d->conf.pusher_max_data;
    const char *name, *data, *one, *sock;
    size_t nlen, dlen, olen, slen;
    char type[FP_TYPE_MAX + 1];

    if (!json_is_object(ev)) {
        snprintf(err, FP_ERR_LEN, "an event is a JSON object");
        return 400;
    }
    if (s_str(ev, "name", true, &name, &nlen, err) < 0 ||
        s_str(ev, "data", true, &data, &dlen, err) < 0 ||
        s_str(ev, "channel", false, &one, &olen, err) < 0 ||
        s_str(ev, "socket_id", false, &sock, &slen, err) < 0)
        return 400;
    if (dlen > max) {
        snprintf(err, FP_ERR_LEN, "Payload too large: the data of event "
                 "'%.64s' is %zu bytes, the limit %llu", name, dlen,
                 (unsigned long long) max);
        return 413;
    }
    if (s_type(name, nlen, type, err) < 0)
        return 400;
    if (sock && !fp_pusher_socket_id_valid(sock, slen)) {
        snprintf(err, FP_ERR_LEN, "Invalid socket_id '%.48s'", sock);
        return 400;
    }
    size_t from = json_array_size(pubs);
    if (s_targets(r, ev, batch, type, data, dlen, pubs, err) < 0)
        return 400;
    for (size_t i = from; sock && i < json_array_size(pubs); i++)
        json_object_set_new(json_array_get(pubs, i), "socket_id",
                            json_stringn(sock, slen));
    return 0;
}

/*  The body's events, every publish in pubs.  0, or a status with err.  */
static int
s_events(polld_req_t *r, const json_t *body, bool batch, json_t *pubs,
         char *err)
{
    if (!json_is_object(body)) {
        snprintf(err, FP_ERR_LEN, "the body is a JSON object");
        return 400;
    }
    if (!batch)
        return s_event(r, body, false, pubs, err);
    json_t *list = json_object_get(body, "batch");
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0) {
        snprintf(err, FP_ERR_LEN, "\"batch\": an array of events");
        return 400;
    }
    if (n > (size_t) r->d->conf.pusher_max_batch) {
        snprintf(err, FP_ERR_LEN, "Batch too large: %zu events, the limit "
                 "%lld", n, (long long) r->d->conf.pusher_max_batch);
        return 413;
    }
    for (size_t i = 0; i < n; i++) {
        int st = s_event(r, json_array_get(list, i), true, pubs, err);
        if (st)
            return st;
    }
    return 0;
}

void
polld_pusher_terminate(polld_req_t *r, const char *user_id, size_t len)
{
    char err[FP_ERR_LEN], chan[FP_CHANNEL_MAX + 1], uid[FP_CHANNEL_MAX + 1];
    if (len >= sizeof uid) {
        polld_error(r, 400, "bad_request", "Invalid user id: too long");
        return;
    }
    memcpy(uid, user_id, len);
    uid[len] = '\0';
    if (fp_pusher_user_channel(r->app, uid, chan, err) < 0) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    json_t *pubs = json_pack("[{s:s, s:s, s:{}}]", "channel", chan, "event",
                             FP_PUSHER_TERMINATE_TYPE, "data");
    r->pusher_batch = false;
    r->nevents = 1;
    polld_fan_send(r, "PUBLISH", pubs, s_done);
    json_decref(pubs);
}

void
polld_pusher_events(polld_req_t *r, fp_fcgi_req_t *req, bool batch)
{
    char err[FP_ERR_LEN];
    json_t *body = fp_json_parse(req->body ? req->body : "",
                                 req->body_len, err);
    json_t *pubs = json_array();
    int st = body ? s_events(r, body, batch, pubs, err) : 400;

    if (st)
        polld_error(r, st, st == 413 ? "too_large" : body ? "invalid_event"
                    : "invalid_json", err);
    else {
        r->pusher_batch = batch;
        r->nevents = batch ? (int64_t) json_array_size(
            json_object_get(body, "batch")) : 1;
        polld_fan_send(r, "PUBLISH", pubs, s_done);
    }
    json_decref(pubs);
    json_decref(body);
}
