/*  route: check a request and turn it into a stream or an HTTP error.
 *
 *      GET PREFIX/a,b?channel=c&last_event_id=EPOCH-SEQ
 *
 *  Channels come from the path below the prefix and from `channel`
 *  parameters; the resume cursor from the Last-Event-ID header (what the
 *  browser sends when it reconnects), else `last_event_id` or `since`;
 *  without one the stream starts now.  "earliest" replays all history.
 */
#include "ssed.h"
#include "cursor.h"
#include "http.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_method(ssed_t *d, fp_fcgi_req_t *req, ssed_verdict_t *v)
{
    const char *m = fp_fcgi_req_param(req, "REQUEST_METHOD");
    if (!m || strcmp(m, "GET") != 0)
        ssed_refuse(v, 405, "method_not_allowed", "only GET opens an event "
                 "stream");
}

static void
s_channels(ssed_t *d, fp_fcgi_req_t *req, fp_query_t *q, fp_strlist_t *chans,
           ssed_verdict_t *v)
{
    char err[FP_ERR_LEN];
    char *path = fp_http_path(req, err);
    const char *rest = path ? fp_http_below(path, d->conf.prefix) : NULL;
    int max = (int) d->conf.max_channels;

    if (!path) {
        ssed_refuse(v, 400, "bad_request", err);
    } else if (!rest) {
        snprintf(err, sizeof err, "no event stream at %.100s (streams are "
                 "under %s)", path, d->conf.prefix);
        ssed_refuse(v, 404, "not_found", err);
    } else if (fp_http_channels(rest[0] == '/' ? rest + 1 : rest, chans, max,
                                err) < 0) {
        ssed_refuse(v, 400, "bad_channel", err);
    }
    for (int i = 0; v->status == 0 && i < q->count; i++)
        if (strcmp(q->items[i].name, "channel") == 0 &&
            fp_http_channels(q->items[i].value, chans, max, err) < 0)
            ssed_refuse(v, 400, "bad_channel", err);
    if (v->status == 0 && chans->count == 0)
        ssed_refuse(v, 400, "no_channel", "name at least one channel: "
                 "PREFIX/a,b or ?channel=a&channel=b");
    for (int i = 0; v->status == 0 && d->mercure && i < chans->count; i++)
        if (strcmp(chans->items[i], d->conf.mercure.channel) == 0)
            ssed_refuse(v, 403, "forbidden", "that channel holds the Mercure "
                     "hub's updates: subscribe at mercure-path");
    free(path);
}

static const char *
s_cursor(fp_fcgi_req_t *req, fp_query_t *q, ssed_verdict_t *v)
{
    const char *c = fp_fcgi_req_param(req, "HTTP_LAST_EVENT_ID");
    fp_cursor_t cur;
    char err[FP_ERR_LEN];

    if (!c || !*c)
        c = fp_query_get(q, "last_event_id");
    if (!c || !*c)
        c = fp_query_get(q, "since");
    if (!c || !*c)
        return NULL;
    if (strcmp(c, "earliest") != 0 && fp_cursor_parse(c, &cur, err) < 0) {
        char msg[FP_ERR_LEN];
        snprintf(msg, sizeof msg, "bad Last-Event-ID: %s", err);
        ssed_refuse(v, 400, "bad_cursor", msg);
        return NULL;
    }
    return c;
}

/*  Who asks, may they subscribe to every channel, and may they open one
 *  more stream (max-user-connections)?  */
static void
s_authorize(ssed_t *d, fp_fcgi_req_t *req, const fp_strlist_t *chans,
            fp_access_client_t **client, ssed_verdict_t *v)
{
    char err[FP_ERR_LEN];
    int st = fp_access_identify_fcgi(d->authz, req, client, err);
    if (!st)
        st = fp_access_allow(d->authz, *client, FP_RIGHTS_SUBSCRIBE,
                            (const char *const *) chans->items,
                            (size_t) chans->count, err);
    if (!st && *client)
        st = fp_access_connect(d->authz, *client, err);
    if (st)
        ssed_refuse(v, st, st == 401 ? "unauthorized" : st == 403
                 ? "forbidden" : "too_many_connections", err);
}

void
ssed_route(ssed_t *d, fp_fcgi_req_t *req)
{
    ssed_verdict_t v = { 0 };
    fp_access_client_t *client = NULL;
    fp_query_t q = { 0 };
    fp_strlist_t chans = { 0 };
    fp_buf_t headers;
    char err[FP_ERR_LEN];
    const char *qs = fp_fcgi_req_param(req, "QUERY_STRING");

    fp_buf_init(&headers);
    fp_http_cors(fp_fcgi_req_param(req, "HTTP_ORIGIN"), &d->conf.allow_origin,
                 true, !fp_access_on(d->authz), &headers);
    s_method(d, req, &v);
    if (!v.status && qs && strlen(qs) > (size_t) d->conf.max_query)
        ssed_refuse(&v, 414, "query_too_long", "the query string is too long");
    if (!v.status && fp_query_parse(qs, 64, &q, err) < 0)
        ssed_refuse(&v, 400, "bad_request", err);
    if (!v.status)
        s_channels(d, req, &q, &chans, &v);
    const char *cursor = v.status ? NULL : s_cursor(req, &q, &v);
    if (!v.status)
        s_authorize(d, req, &chans, &client, &v);
    if (!v.status && d->nstreams >= (uint32_t) d->conf.max_streams)
        ssed_refuse(&v, 503, "too_many_streams", "this responder holds as many "
                 "streams as it may; retry later");
    if (v.status) {
        if (v.status == 405)
            fp_buf_adds(&headers, "Allow: GET\r\n");
        if (v.status == 503 || v.status == 429)
            fp_buf_adds(&headers, "Retry-After: 5\r\n");
        if (v.status == 401)
            fp_buf_adds(&headers, FP_ACCESS_CHALLENGE);
        fp_access_client_free(d->authz, &client);
        ssed_reply(d, req, v.status, headers.data, v.code, v.msg);
    } else {
        ssed_stream_open(d, req, &chans, cursor, headers.data, &client);
    }
    fp_buf_free(&headers);
    fp_strlist_free(&chans);
    fp_query_free(&q);
}
