/*  mercure_stream: GET MERCURE-PATH, a Mercure subscription.
 *
 *      GET /.well-known/mercure?topic=SELECTOR&topic=...
 *          [&lastEventID=ID]  [Last-Event-ID: ID]  (the header wins)
 *
 *  A subscription is an SSE stream (stream.c) on mercure-channel that
 *  shows an update only when one of its selectors matches one of the
 *  update's topics, and a private update only when, besides, one of the
 *  token's mercure.subscribe selectors does.  Each update is sent as
 *
 *      id: #EPOCH-SEQ       (the event's cursor; or the publisher's id)
 *      event: TYPE          (when published with one)
 *      retry: MS            (when published with one)
 *      data: ...            (one line per line of the data)
 *
 *  encoded once per event and process (cached on the event, shared by
 *  every stream it is visible to).  A subscription that asked for an id
 *  gets a Last-Event-ID response header: the id it resumes after, or
 *  "earliest" when history no longer holds it (or it is not an id of
 *  this hub), Mercure's sign that updates were missed.  That is known
 *  only once the hub answers, so such a stream's head waits for its
 *  first update, its reset or its ready (or one heartbeat).
 */
#include "ssed.h"
#include "cursor.h"
#include "fcgi_record.h"
#include "http.h"
#include "mem.h"
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ssed_msub {
    fp_mtopics_t topics;        /*  what the subscriber asked for  */
    fp_strlist_t selectors;     /*  ... as given, each once  */
    json_t *payload;            /*  the token's mercure.payload, or NULL  */
    bool joined;                /*  its subscriptions are announced  */
    fp_mtopics_t allowed;       /*  the token's selectors (private)  */
    char *requested;            /*  the id asked for, or NULL  */
    char *seek;                 /*  a publisher's id to find in history:
                                    nothing is shown until it passed  */
    char *headers;              /*  CORS lines, until the head is out  */
    bool started;               /*  the head is written  */
};

/*  An update as this process shows it, cached on its event.  */
typedef struct {
    bool ok;                    /*  a Mercure update (else never shown)  */
    bool private;
    char *id;                   /*  the publisher's, or NULL (the cursor)  */
    char **topics;
    size_t ntopics;
    char *type;                 /*  SSE event type, NULL for "message"  */
    char *data;
    long long retry;            /*  -1: none  */
    fp_blob_t *rec;             /*  the SSE text as a record for id 1  */
    fp_buf_t sse;               /*  the SSE text with its id  */
} mupdate_t;

static void
s_update_free(void *arg)
{
    mupdate_t *u = arg;
    for (size_t i = 0; i < u->ntopics; i++)
        free(u->topics[i]);
    free(u->topics);
    free(u->id);
    free(u->type);
    free(u->data);
    fp_blob_unref(&u->rec);
    fp_buf_free(&u->sse);
    free(u);
}

/*  The SSE text of an update, with `id` or without (NULL).  */
static void
s_format(const mupdate_t *u, const char *id, fp_buf_t *b)
{
    if (u->retry >= 0)
        fp_buf_addf(b, "retry: %lld\n", u->retry);
    fp_sse_event(b, id, u->type, u->data, strlen(u->data));
}

/*  A subscription event (mercure_subs.c): private, one topic.  */
static bool
s_update_sub(mupdate_t *u, const ssed_t *d, const fp_event_t *ev)
{
    char *topic, *data;
    if (ssed_msubs_update(d, ev, &topic, &data) < 0)
        return false;
    u->topics = fp_calloc(1, sizeof *u->topics);
    u->topics[u->ntopics++] = topic;
    u->data = data;
    u->private = true;
    u->retry = -1;
    u->ok = true;
    return true;
}

/*  Read the event's data {"topics", "data", "private", "retry"}.  */
static void
s_update_read(mupdate_t *u, const ssed_t *d, const fp_event_t *ev)
{
    if (s_update_sub(u, d, ev))
        return;
    size_t len;
    const char *text = fp_event_data(ev, &len);
    json_t *o = json_loadb(text, len, 0, NULL);
    json_t *topics = json_object_get(o, "topics");
    json_t *data = json_object_get(o, "data");
    json_t *retry = json_object_get(o, "retry");
    json_t *id = json_object_get(o, "id");
    size_t i;
    json_t *t;

    if (!json_is_array(topics) || json_array_size(topics) == 0 ||
        !json_is_string(data) || (retry && !json_is_integer(retry)) ||
        (id && !json_is_string(id))) {
        json_decref(o);
        return;
    }
    u->topics = fp_calloc(json_array_size(topics), sizeof *u->topics);
    json_array_foreach(topics, i, t)
        if (json_is_string(t))
            u->topics[u->ntopics++] = fp_strdup(json_string_value(t));
    u->data = fp_strdup(json_string_value(data));
    u->id = id ? fp_strdup(json_string_value(id)) : NULL;
    u->private = json_is_true(json_object_get(o, "private"));
    u->retry = retry ? (long long) json_integer_value(retry) : -1;
    u->type = strcmp(ev->type, FP_DEFAULT_TYPE) == 0 ? NULL
                                                      : fp_strdup(ev->type);
    u->ok = u->ntopics > 0;
    json_decref(o);
}

/*  The event's update, read and encoded on first use.  */
static mupdate_t *
s_update(const ssed_t *d, fp_event_t *ev)
{
    if (ev->cache)
        return ev->cache;
    mupdate_t *u = fp_calloc(1, sizeof *u);
    char id[FP_CURSOR_LEN + 1];
    fp_buf_t rec;

    fp_buf_init(&u->sse);
    s_update_read(u, d, ev);
    if (u->ok) {
        ssed_mercure_id(ev->epoch, ev->seq, id);
        s_format(u, u->id ? u->id : id, &u->sse);
        fp_buf_init(&rec);
        fp_fcgi_record_stdout(&rec, 1, u->sse.data, u->sse.len);
        u->rec = fp_blob_new(rec.data, rec.len);
        fp_buf_free(&rec);
    }
    ev->cache = u;
    ev->cache_free = s_update_free;
    return u;
}

static bool
s_visible(const ssed_msub_t *m, const mupdate_t *u)
{
    const char *const *t = (const char *const *) u->topics;
    return fp_mtopics_match_some(&m->topics, t, u->ntopics) &&
           (!u->private ||
            fp_mtopics_match_some(&m->allowed, t, u->ntopics));
}

/*  A stream seeking a publisher's id skips history up to that update;
 *  true while it does.  */
static bool
s_seeking(ssed_stream_t *s, const mupdate_t *u)
{
    ssed_msub_t *m = s->mercure;
    if (!m->seek)
        return false;
    if (u->ok && u->id && strcmp(u->id, m->seek) == 0) {
        free(m->seek);
        m->seek = NULL;
        ssed_mercure_start(s, NULL);    /*  found: Last-Event-ID is it  */
    }
    return true;
}

void
ssed_mercure_event(ssed_stream_t *s, fp_event_t *ev, unsigned flags)
{
    mupdate_t *u = s_update(s->d, ev);
    if (s_seeking(s, u) || !u->ok || !s_visible(s->mercure, u))
        return;
    ssed_mercure_start(s, NULL);
    s->d->stats.events++;
    if (flags) {
        /*  late: no id, the browser's Last-Event-ID must not move back  */
        fp_buf_t b;
        fp_buf_init(&b);
        s_format(u, NULL, &b);
        ssed_stream_text(s, b.data, b.len);
        fp_buf_free(&b);
    } else if (s->conn->rid == 1) {
        ssed_stream_push(s, u->rec);
    } else {
        ssed_stream_text(s, u->sse.data, u->sse.len);
    }
}

void
ssed_mercure_reset(ssed_stream_t *s)
{
    ssed_mercure_start(s, "earliest");
}

/*  Live: announce the subscriptions now, so the stream sees its own.  */
void
ssed_mercure_ready(ssed_stream_t *s)
{
    ssed_msub_t *m = s->mercure;
    if (m->seek) {              /*  not in history: updates were missed  */
        free(m->seek);
        m->seek = NULL;
        ssed_mercure_start(s, "earliest");
    }
    ssed_mercure_start(s, NULL);
    if (!m->joined) {
        m->joined = true;
        ssed_msubs_join(s, &m->selectors, m->payload);
    }
}

void
ssed_mercure_start(ssed_stream_t *s, const char *last_event_id)
{
    ssed_msub_t *m = s->mercure;
    if (m->started)
        return;
    fp_buf_t h, head;
    /*  still seeking (the broker is slow): say updates may be missed  */
    const char *id = last_event_id ? last_event_id
                   : m->seek ? "earliest" : m->requested;
    fp_buf_init(&h);
    fp_buf_init(&head);
    fp_buf_adds(&h, m->headers);
    if (id)
        fp_buf_addf(&h, "Last-Event-ID: %s\r\n", id);
    ssed_stream_head(s->d, &head, h.data);
    fp_fcgi_conn_write(s->conn, head.data, head.len);
    fp_buf_free(&head);
    fp_buf_free(&h);
    m->started = true;
    free(m->headers);
    m->headers = NULL;
}

void
ssed_mercure_sub_free(ssed_msub_t **m_p)
{
    ssed_msub_t *m = *m_p;
    if (!m)
        return;
    *m_p = NULL;
    fp_mtopics_clear(&m->topics);
    fp_mtopics_clear(&m->allowed);
    fp_strlist_free(&m->selectors);
    json_decref(m->payload);
    free(m->requested);
    free(m->seek);
    free(m->headers);
    free(m);
}

/* ------------------------------------------------------------ request */

/*  Keep a selector as given, once (one subscription per selector).  */
static void
s_selector_once(fp_strlist_t *l, const char *sel)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->items[i], sel) == 0)
            return;
    fp_strlist_add(l, sel);
}

/*  The selectors of the `topic` parameters.  */
static void
s_topics(ssed_t *d, const fp_query_t *q, ssed_msub_t *m, ssed_verdict_t *v)
{
    char err[FP_ERR_LEN], msg[FP_ERR_LEN];
    for (int i = 0; i < q->count && !v->status; i++) {
        if (strcmp(q->items[i].name, "topic") != 0)
            continue;
        if ((int64_t) m->topics.count >= d->conf.mercure.max_topics) {
            ssed_refuse(v, 400, "too_many_topics", "more topic selectors "
                     "than mercure-max-topics");
        } else if (fp_mtopics_add(&m->topics, q->items[i].value, err) < 0) {
            snprintf(msg, sizeof msg, "topic selector %.200s: %s",
                     q->items[i].value, err);
            ssed_refuse(v, 400, "bad_topic", msg);
        } else {
            s_selector_once(&m->selectors, q->items[i].value);
        }
    }
    if (m->topics.count == 0)
        ssed_refuse(v, 400, "no_topic", "name at least one topic selector: "
                 "?topic=URI, a URI template, or *");
}

/*  The id to resume after: the Last-Event-ID header, else lastEventID
 *  (or draft-08's last_event_id).  The hub's own ids, "#EPOCH-SEQ" (or
 *  the bare cursor), resume by position; another id starting with '#'
 *  starts now and is answered "earliest"; any other id is a publisher's:
 *  the stream reads history from the start and shows what follows that
 *  update, or, when history does not hold it, starts live and is
 *  answered "earliest".  Returns the hub cursor (owned by m), NULL for
 *  now.  */
static const char *
s_resume(const fp_fcgi_req_t *req, const fp_query_t *q, ssed_msub_t *m)
{
    const char *c = fp_fcgi_req_param(req, "HTTP_LAST_EVENT_ID");
    char err[FP_ERR_LEN];
    fp_cursor_t cur;

    if (!c || !*c)
        c = fp_query_get(q, "lastEventID");
    if (!c || !*c)
        c = fp_query_get(q, "last_event_id");
    if (!c || !*c)
        return NULL;
    m->requested = fp_strdup(c);
    if (strcmp(c, "earliest") == 0)
        return m->requested;
    const char *cursor = c[0] == '#' ? m->requested + 1 : m->requested;
    if (fp_cursor_parse(cursor, &cur, err) == 0)
        return cursor;          /*  "#EPOCH-SEQ", or the bare cursor  */
    if (c[0] == '#') {          /*  no publisher's id starts so  */
        free(m->requested);
        m->requested = fp_strdup("earliest");
        return NULL;
    }
    m->seek = fp_strdup(c);
    return "earliest";
}

void
ssed_mercure_subscribe(ssed_t *d, fp_fcgi_req_t *req, const char *cors)
{
    ssed_verdict_t v = { 0 };
    fp_query_t q = { 0 };
    char err[FP_ERR_LEN];
    int64_t expires = 0;
    json_t *payload = NULL;
    const char *qs = fp_fcgi_req_param(req, "QUERY_STRING");
    ssed_msub_t *m = fp_calloc(1, sizeof *m);

    if (qs && strlen(qs) > (size_t) d->conf.max_query)
        ssed_refuse(&v, 414, "query_too_long", "the query string is longer "
                 "than max-query");
    if (!v.status && fp_query_parse(qs, (int) d->conf.mercure.max_topics
                                    + 8, &q, err) < 0)
        ssed_refuse(&v, 400, "bad_request", err);
    if (!v.status)
        s_topics(d, &q, m, &v);
    const char *cursor = v.status ? NULL : s_resume(req, &q, m);
    int st = v.status ? 0 : ssed_mercure_auth(d, req, "subscribe", true,
                                              &m->allowed, &expires,
                                              &payload, err);
    if (st)
        ssed_refuse(&v, st, "unauthorized", err);
    if (!v.status && !ssed_msubs_fit(d, &m->selectors, payload))
        ssed_refuse(&v, 400, "payload_too_large", "a subscription's record "
                    "(its selector and the token's mercure.payload) is over "
                    "16384 bytes");
    if (!v.status && d->nstreams >= (uint32_t) d->conf.max_streams)
        ssed_refuse(&v, 503, "too_many_streams", "this responder holds as many "
                 "streams as it may; retry later");
    fp_strlist_t chan = { .items = &d->conf.mercure.channel, .count = 1 };
    ssed_stream_t *s = v.status ? NULL
                     : ssed_stream_new(d, &req, &chan, cursor, expires, err);
    if (!v.status && !s)
        ssed_refuse(&v, 400, "bad_request", err);
    fp_query_free(&q);
    if (v.status) {
        ssed_mercure_refuse(d, req, &v, cors);
        ssed_mercure_sub_free(&m);
        json_decref(payload);
        return;
    }
    m->headers = fp_strdup(cors);
    m->payload = payload;       /*  the subscriptions join once live  */
    s->mercure = m;
    /*  with nothing asked for (or an id not of this hub) the head is
     *  known now  */
    if (!cursor)
        ssed_mercure_start(s, NULL);
    if (fp_responder_stopping(d->app))
        ssed_stream_end(s);     /*  shutting down: the browser comes back  */
}
