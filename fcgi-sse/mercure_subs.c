/*  mercure_subs: the Mercure hub's active subscriptions (mercure-
 *  subscriptions on): subscription events and the subscriptions API.
 *
 *  They are kept by the broker's presence (PRESENCE, docs/protocol.md),
 *  as a member list on mercure-channel itself: each selector of a
 *  subscription is one member, user_id "SUBSCRIBER/i" and user_info
 *
 *      {"topic":SELECTOR,"subscriber":"urn:uuid:...","payload":P?}
 *
 *  (payload: the token's mercure.payload).  So every responder process
 *  sees them, a process that dies has its subscriptions end (the broker
 *  expires them), and the broker's own member_added / member_removed on
 *  the channel are the subscription events: ordinary updates of the
 *  hub's sequence, with ids, history and resume.  A stream shows such an
 *  event as the private update
 *
 *      topic: MERCURE-PATH/subscriptions/{topic}/{subscriber}
 *      data:  {"@context":"https://mercure.rocks/","id":TOPIC,
 *              "type":"Subscription","topic","subscriber","active",
 *              "payload"}
 *
 *  The API, GET MERCURE-PATH/subscriptions[/{topic}[/{subscriber}]],
 *  answers the same documents from the broker's member list, with
 *  lastEventID: the position the list is valid at (resume the events
 *  from there).  Its URL (as sent, percent-encoded) must match one of
 *  the token's mercure.subscribe selectors (else 403; no token or a bad
 *  one: 401), and it lists only the
 *  subscriptions whose topic one of them matches.
 */
#include "ssed.h"
#include "cursor.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define CONTEXT "https://mercure.rocks/"

/*  MERCURE-PATH/subscriptions[/{topic}[/{subscriber}]] into b.  */
static void
s_id(const ssed_t *d, const char *topic, const char *subscriber,
     fp_buf_t *b)
{
    fp_buf_adds(b, d->conf.mercure.path);
    fp_buf_adds(b, "/subscriptions");
    if (topic) {
        fp_buf_addc(b, '/');
        fp_url_encode(topic, strlen(topic), b);
    }
    if (subscriber) {
        fp_buf_addc(b, '/');
        fp_url_encode(subscriber, strlen(subscriber), b);
    }
}

/*  The Subscription document of a member's user_info, NULL if it is not
 *  one of ours.  *id_out (optional) gets its id (caller frees).  */
static json_t *
s_doc(const ssed_t *d, json_t *info, bool active, char **id_out)
{
    const char *topic = json_string_value(json_object_get(info, "topic"));
    const char *sub = json_string_value(json_object_get(info,
                                                        "subscriber"));
    json_t *payload = json_object_get(info, "payload");
    if (!topic || !sub)
        return NULL;
    fp_buf_t id;
    fp_buf_init(&id);
    s_id(d, topic, sub, &id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "@context",
                          CONTEXT, "id", id.data, "type", "Subscription",
                          "topic", topic, "subscriber", sub, "active",
                          active);
    if (o && payload)
        json_object_set(o, "payload", payload);
    if (id_out)
        *id_out = fp_buf_detach(&id, NULL);
    else
        fp_buf_free(&id);
    return o;
}

int
ssed_msubs_update(const ssed_t *d, const fp_event_t *ev, char **topic,
                  char **data)
{
    bool added = strcmp(ev->type, "member_added") == 0;
    if (!d->conf.mercure.subscriptions ||
        (!added && strcmp(ev->type, "member_removed") != 0))
        return -1;
    size_t len;
    const char *text = fp_event_data(ev, &len);
    json_t *o = json_loadb(text, len, 0, NULL);
    json_t *doc = s_doc(d, json_object_get(o, "user_info"), added, topic);
    json_decref(o);
    if (!doc)
        return -1;
    *data = fp_json_dump(doc, &len);
    json_decref(doc);
    return 0;
}

/* ------------------------------------------------------------ joining */

/*  A random "urn:uuid:" (version 4) into out (46 bytes).  */
static void
s_subscriber(char *out)
{
    unsigned char r[16] = { 0 };
    if (getrandom(r, sizeof r, 0) != (ssize_t) sizeof r) {
        /*  no entropy: still unique in this process  */
        static unsigned long long n;
        unsigned long long v = ++n ^ (unsigned long long) getpid() << 40;
        memcpy(r, &v, sizeof v);
    }
    r[6] = (unsigned char) ((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char) ((r[8] & 0x3f) | 0x80);
    snprintf(out, 46, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

/*  A subscription's user_info as compact JSON (caller frees), *len its
 *  length (when not NULL).  */
static char *
s_info(const char *selector, const char *sub, json_t *payload, size_t *len)
{
    json_t *info = json_pack("{s:s, s:s}", "topic", selector, "subscriber",
                             sub);
    if (payload)
        json_object_set(info, "payload", payload);
    char *text = fp_json_dump(info, len);
    json_decref(info);
    return text;
}

bool
ssed_msubs_fit(const ssed_t *d, const fp_strlist_t *selectors,
               json_t *payload)
{
    char sub[46];
    bool fit = true;
    if (!d->conf.mercure.subscriptions)
        return true;
    s_subscriber(sub);
    for (int i = 0; i < selectors->count && fit; i++) {
        size_t len;
        free(s_info(selectors->items[i], sub, payload, &len));
        fit = len <= SSED_MSUB_INFO_MAX;
    }
    return fit;
}

void
ssed_msubs_join(ssed_stream_t *s, const fp_strlist_t *selectors,
                json_t *payload)
{
    if (!s->d->conf.mercure.subscriptions || selectors->count == 0)
        return;
    char sub[46], uid[64];
    size_t n = (size_t) selectors->count;
    char **ids = fp_calloc(n, sizeof *ids);
    char **infos = fp_calloc(n, sizeof *infos);

    s_subscriber(sub);
    for (size_t i = 0; i < n; i++) {
        snprintf(uid, sizeof uid, "%s/%zu", sub, i);
        ids[i] = fp_strdup(uid);
        infos[i] = s_info(selectors->items[i], sub, payload, NULL);
    }
    ssed_presence_join_each(s, s->d->conf.mercure.channel, n, ids, infos);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(infos[i]);
    }
    free(ids);
    free(infos);
}

/* ------------------------------------------------------------ the API */

/*  What a read of the API asks for.  */
typedef struct {
    char *topic;                /*  NULL: every subscription  */
    char *subscriber;           /*  NULL: every one of topic  */
    char *url;                  /*  the request's path as sent  */
    fp_mtopics_t allowed;       /*  the token's selectors  */
} mread_t;

static void
s_read_free(void *arg)
{
    mread_t *r = arg;
    free(r->topic);
    free(r->subscriber);
    free(r->url);
    fp_mtopics_clear(&r->allowed);
    free(r);
}

/*  One percent-encoded segment of the path, decoded; NULL if malformed
 *  or empty.  */
static char *
s_segment(const char *p, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    if (len == 0 || fp_url_decode(p, len, false, &b) < 0) {
        fp_buf_free(&b);
        return NULL;
    }
    return fp_buf_detach(&b, NULL);
}

/*  Parse the path as sent (REQUEST_URI: "%2F" must not split a
 *  segment).  0 with r's topic and subscriber; 404 with err.  */
static int
s_parse(const ssed_t *d, const fp_fcgi_req_t *req, mread_t *r, char *err)
{
    const char *uri = fp_fcgi_req_param(req, "REQUEST_URI");
    fp_buf_t base;
    fp_buf_init(&base);
    s_id(d, NULL, NULL, &base);
    size_t n = uri ? strcspn(uri, "?#") : 0;
    int rc = 404;

    r->url = uri ? fp_strndup(uri, n) : NULL;
    if (!r->url || strncmp(r->url, base.data, base.len) != 0 ||
        (r->url[base.len] && r->url[base.len] != '/')) {
        snprintf(err, FP_ERR_LEN, "the subscriptions API is at %s "
                 "(the path must come as sent: REQUEST_URI)", base.data);
        goto out;
    }
    const char *p = r->url + base.len;
    rc = 0;
    if (*p == '/' && p[1]) {
        const char *t = p + 1, *slash = strchr(t, '/');
        r->topic = s_segment(t, slash ? (size_t) (slash - t) : strlen(t));
        if (slash && !strchr(slash + 1, '/'))
            r->subscriber = s_segment(slash + 1, strlen(slash + 1));
        if (!r->topic || (slash && !r->subscriber))
            rc = 404;
    } else if (*p == '/') {
        rc = 404;
    }
    if (rc)
        snprintf(err, FP_ERR_LEN, "not a subscriptions URL: %s/{topic}"
                 "[/{subscriber}], each percent-encoded", base.data);
out:
    fp_buf_free(&base);
    return rc;
}

/*  Is this member one the read asks for and may see?  */
static bool
s_wanted(const mread_t *r, json_t *info, const char *id)
{
    const char *topic = json_string_value(json_object_get(info, "topic"));
    const char *sub = json_string_value(json_object_get(info,
                                                        "subscriber"));
    return topic && sub && (!r->topic || strcmp(r->topic, topic) == 0) &&
           (!r->subscriber || strcmp(r->subscriber, sub) == 0) &&
           fp_mtopics_match(&r->allowed, id, strlen(id));
}

static void
s_on_members(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    ssed_mwait_t *w = arg;
    mread_t *r = w->ctx;
    const ssed_t *d = w->d;
    json_t *members = json_object_get(meta, "members");
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    json_int_t seq = json_integer_value(json_object_get(meta, "seq"));
    char last[FP_CURSOR_LEN + 1];
    size_t i, len;
    json_t *m;

    (void) evs;
    (void) n;
    w->hreq = NULL;
    if (!ok || !json_is_array(members) || !epoch || !fp_epoch_valid(epoch)) {
        ssed_mwait_fail(w, 503, "broker_unavailable", "the broker did not "
                        "give the subscription list; retry");
        return;
    }
    if (seq > 0)
        ssed_mercure_id(epoch, (uint64_t) seq, last);
    else
        snprintf(last, sizeof last, "earliest");
    json_t *list = json_array();
    json_array_foreach(members, i, m) {
        char *id = NULL;
        json_t *doc = s_doc(d, json_object_get(m, "user_info"), true, &id);
        if (doc && s_wanted(r, json_object_get(m, "user_info"), id)) {
            json_object_del(doc, "@context");
            json_array_append(list, doc);
        }
        json_decref(doc);
        free(id);
    }
    json_t *out;
    if (r->subscriber) {
        if (json_array_size(list) == 0) {
            json_decref(list);
            ssed_mwait_fail(w, 404, "not_found", "no such active "
                            "subscription");
            return;
        }
        out = json_incref(json_array_get(list, 0));
        json_object_set_new(out, "@context", json_string(CONTEXT));
    } else {
        out = json_pack("{s:s, s:s, s:s, s:O}", "@context", CONTEXT, "id",
                        r->url, "type", "Subscriptions", "subscriptions",
                        list);
    }
    json_object_set_new(out, "lastEventID", json_string(last));
    json_decref(list);
    char *body = fp_json_dump(out, &len);
    json_decref(out);
    ssed_mwait_finish(w, 200, "application/ld+json", body);
    free(body);
}

void
ssed_msubs_api(ssed_t *d, fp_fcgi_req_t *req, const char *cors)
{
    const char *method = fp_fcgi_req_param(req, "REQUEST_METHOD");
    ssed_verdict_t v = { 0 };
    char err[FP_ERR_LEN];
    int64_t expires;
    mread_t *r = fp_calloc(1, sizeof *r);

    if (!method || strcmp(method, "GET") != 0)
        ssed_refuse(&v, 405, "method_not_allowed", "the subscriptions API "
                    "answers GET");
    int st = v.status ? 0 : s_parse(d, req, r, err);
    if (st)
        ssed_refuse(&v, st, "not_found", err);
    st = v.status ? 0 : ssed_mercure_auth(d, req, "subscribe", true,
                                          &r->allowed, &expires, NULL, err);
    if (st)
        ssed_refuse(&v, st, "unauthorized", err);
    if (!v.status && !fp_mtopics_match(&r->allowed, r->url, strlen(r->url)))
        ssed_refuse(&v, 403, "forbidden", "the token's mercure.subscribe "
                    "does not match this URL");
    if (v.status) {
        fp_buf_t h;
        fp_buf_init(&h);
        fp_buf_adds(&h, cors);
        if (v.status == 405)
            fp_buf_adds(&h, "Allow: GET\r\n");
        ssed_mercure_refuse(d, req, &v, h.data);
        fp_buf_free(&h);
        s_read_free(r);
        return;
    }
    ssed_mwait_t *w = ssed_mwait_new(d, &req, cors);
    w->ctx = r;
    w->ctx_free = s_read_free;
    w->hreq = fp_presence_members(fp_responder_presence(d->app),
                                  d->conf.mercure.channel, s_on_members, w);
}
