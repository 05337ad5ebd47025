/*  mercure_publish: POST MERCURE-PATH, one Mercure update.
 *
 *      Content-Type: application/x-www-form-urlencoded
 *      Authorization: Bearer JWT  (mercure.publish grants every topic)
 *      topic=T&topic=ALT&data=...&private=on&id=ID&type=T&retry=MS
 *
 *  The update becomes one event on mercure-channel whose data is
 *
 *      {"topics":[T, ALT...],"data":"...","private":true,"id":ID,
 *       "retry":MS}
 *
 *  (private, id and retry only when given) and whose type is `type` or
 *  "message".  The answer is 200 text/plain with the update's id once the
 *  broker stored it: the publisher's, else "#" and the event's cursor.
 *  A publisher's id may not start with '#', look like a cursor or be
 *  "earliest": those are the hub's and resume by position; other ids
 *  resume by finding the update in history (mercure_stream.c).  A publish
 *  with a cookie token is taken only without an Origin or from one that
 *  allow-origin lists by name (a cross-site form must not publish as the
 *  user).  A publish waits for the broker in mercure_wait.c.
 */
#include "ssed.h"
#include "cursor.h"
#include "error.h"
#include "event.h"
#include "http.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
s_on_published(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    ssed_mwait_t *w = arg;
    const char *id = json_string_value(json_object_get(meta, "id"));
    const char *own = w->ctx;   /*  the publisher's id, or NULL  */
    char hub_id[FP_CURSOR_LEN + 1];
    (void) evs;
    (void) n;
    w->hreq = NULL;
    if (!ok || !id) {
        const char *code = fp_error_code(meta);
        ssed_mwait_fail(w, ok ? 502 : fp_error_http_status(code),
                        code ? code : "broker_error", fp_error_message(meta));
        return;
    }
    snprintf(hub_id, sizeof hub_id, "#%s", id);     /*  the cursor  */
    w->d->stats.mercure_published++;
    ssed_mwait_finish(w, 200, "text/plain; charset=utf-8",
                      own ? own : hub_id);
}

/* ------------------------------------------------------------ the form */

/*  A topic as published: 1 to FP_MTOPIC_MAX bytes of UTF-8 without
 *  control characters.  */
static bool
s_topic_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > FP_MTOPIC_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) t[i] < 0x20 || t[i] == 0x7f)
            return false;
    return true;
}

/*  A publisher's id: 1 to 256 bytes of UTF-8 without control
 *  characters, not "earliest" and not of the form of the hub's own ids
 *  (a cursor), which resume by position.  */
static void
s_id(const char *val, json_t *data, ssed_verdict_t *v)
{
    char err[FP_ERR_LEN];
    fp_cursor_t c;
    size_t n = strlen(val);
    json_t *s = json_string(val);

    if (json_object_get(data, "id"))
        ssed_refuse(v, 400, "bad_id", "id given twice");
    else if (!s || n == 0 || n > 256 || !s_topic_valid(val))
        ssed_refuse(v, 400, "bad_id", "an id is 1 to 256 bytes of UTF-8 "
                 "without control characters");
    else if (val[0] == '#' || strcmp(val, "earliest") == 0 ||
             fp_cursor_parse(val, &c, err) == 0)
        ssed_refuse(v, 400, "bad_id", "an id may not start with '#', be "
                 "\"earliest\" or look like a cursor (EPOCH-SEQ): those "
                 "are the hub's");
    json_object_set_new(data, "id", s ? s : json_null());
}

/*  The update's fields into `data` (the event's data object) and *type.  */
static void
s_fields(ssed_t *d, const fp_query_t *q, json_t *data, const char **type,
         fp_strlist_t *topics, ssed_verdict_t *v)
{
    json_t *list = json_array();
    json_object_set_new(data, "topics", list);
    for (int i = 0; i < q->count && !v->status; i++) {
        const char *k = q->items[i].name, *val = q->items[i].value;
        if (strcmp(k, "topic") == 0) {
            if (!s_topic_valid(val))
                ssed_refuse(v, 400, "bad_topic", "a topic is 1 to 2048 bytes "
                         "without control characters");
            else if (topics->count >= d->conf.mercure.max_topics)
                ssed_refuse(v, 400, "too_many_topics", "more topics than "
                         "mercure-max-topics");
            else {
                fp_strlist_add(topics, val);
                json_array_append_new(list, json_string(val));
            }
        } else if (strcmp(k, "data") == 0) {
            json_t *s = json_string(val);
            if (!s)
                ssed_refuse(v, 400, "bad_data", "data is not UTF-8");
            else if (json_object_get(data, "data"))
                ssed_refuse(v, 400, "bad_data", "data given twice");
            json_object_set_new(data, "data", s ? s : json_null());
        } else if (strcmp(k, "private") == 0) {
            json_object_set_new(data, "private", json_true());
        } else if (strcmp(k, "id") == 0) {
            s_id(val, data, v);
        } else if (strcmp(k, "type") == 0) {
            if (!fp_type_valid(val) || strcmp(val, "mercure") == 0)
                ssed_refuse(v, 400, "bad_type", "type is 1-200 bytes of "
                         "[A-Za-z0-9_.:-], not a fastpush control name or "
                         "\"mercure\"");
            *type = val;
        } else if (strcmp(k, "retry") == 0) {
            char *end = NULL;
            long long ms = strtoll(val, &end, 10);
            if (!*val || *end || val[0] == '-' || val[0] == '+' ||
                ms > 86400000)
                ssed_refuse(v, 400, "bad_retry", "retry is a number of ms, "
                         "at most 86400000");
            json_object_set_new(data, "retry", json_integer(ms));
        }
    }
    if (!v->status && topics->count == 0)
        ssed_refuse(v, 400, "no_topic", "an update needs at least one topic");
    if (!json_object_get(data, "data"))
        json_object_set_new(data, "data", json_string(""));
}

/*  Is a cookie token acceptable here (no Origin, or one listed)?  */
static bool
s_cookie_ok(ssed_t *d, const fp_fcgi_req_t *req)
{
    const char *origin = fp_fcgi_req_param(req, "HTTP_ORIGIN");
    if (!origin)
        return true;
    for (int i = 0; i < d->conf.allow_origin.count; i++)
        if (strcmp(d->conf.allow_origin.items[i], origin) == 0)
            return true;
    return false;
}

/*  Check the request; on success *body is the broker's PUBLISH body.  */
static void
s_check(ssed_t *d, fp_fcgi_req_t *req, json_t **body, ssed_verdict_t *v)
{
    const char *ctype = fp_fcgi_req_param(req, "CONTENT_TYPE");
    fp_mtopics_t grant = { 0 };
    fp_strlist_t topics = { 0 };
    fp_query_t q = { 0 };
    char err[FP_ERR_LEN];
    int64_t expires;
    const char *type = FP_DEFAULT_TYPE;

    int st = ssed_mercure_auth(d, req, "publish", s_cookie_ok(d, req),
                               &grant, &expires, NULL, err);
    if (st)
        ssed_refuse(v, st, st == 401 ? "unauthorized" : "forbidden", err);
    if (req->body_too_large)
        ssed_refuse(v, 413, "too_large", "the update is larger than max-body");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded",
                              33) != 0)
        ssed_refuse(v, 415, "unsupported_media_type", "send the update as "
                 "application/x-www-form-urlencoded");
    if (!v->status && fp_query_parse(req->body, (int) d->conf.mercure
                                     .max_topics + 16, &q, err) < 0)
        ssed_refuse(v, 400, "bad_request", err);
    json_t *data = json_object();
    if (!v->status)
        s_fields(d, &q, data, &type, &topics, v);
    if (!v->status && !fp_mtopics_match_all(&grant,
            (const char *const *) topics.items, (size_t) topics.count))
        ssed_refuse(v, 403, "forbidden", "the token's mercure.publish does not "
                 "grant every topic of the update");
    if (!v->status)
        *body = json_pack("{s:s, s:s, s:O}", "channel",
                          d->conf.mercure.channel, "event", type, "data",
                          data);
    json_decref(data);
    fp_query_free(&q);
    fp_strlist_free(&topics);
    fp_mtopics_clear(&grant);
}

void
ssed_mercure_publish(ssed_t *d, fp_fcgi_req_t *req, const char *cors)
{
    ssed_verdict_t v = { 0 };
    json_t *body = NULL;

    s_check(d, req, &body, &v);
    if (v.status) {
        ssed_mercure_refuse(d, req, &v, cors);
        return;
    }
    ssed_mwait_t *w = ssed_mwait_new(d, &req, cors);
    const char *own = json_string_value(json_object_get(
        json_object_get(body, "data"), "id"));
    w->ctx = own ? fp_strdup(own) : NULL;
    w->ctx_free = free;
    w->hreq = fp_hub_request(fp_responder_hub(d->app), "PUBLISH", body,
                             s_on_published, w);
}
