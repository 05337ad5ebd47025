/*  mercure_hub: fastpush-sse as a Mercure hub (the protocol of
 *  symfony/mercure and the MercureBundle; docs/mercure.md).
 *
 *      GET  MERCURE-PATH?topic=SELECTOR...   a subscription (SSE)
 *      POST MERCURE-PATH                     publish an update (form)
 *      GET  MERCURE-PATH/subscriptions...    active subscriptions (JSON-LD,
 *                                            mercure-subscriptions on)
 *
 *  Every update is one event on one fastpush channel (mercure-channel),
 *  so the hub-wide sequence Mercure asks for is that channel's cursor and
 *  an update's id is "#EPOCH-SEQ" (or the publisher's own).  Tokens are JWTs with a `mercure`
 *  claim {"publish": [selectors], "subscribe": [selectors], "payload"},
 *  from "Authorization: Bearer", the mercure-cookie cookie or (for
 *  subscribers) an `authorization` query parameter.  This file holds the
 *  keys, the routing and the token check; mercure_publish.c and
 *  mercure_stream.c hold the two halves, mercure_subs.c the
 *  subscriptions.
 */
#include "ssed.h"
#include "clock.h"
#include "cursor.h"
#include "http.h"
#include "mem.h"
#include "rights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ssed_mercure {
    fp_rights_t *publisher;     /*  checks publishers' tokens  */
    fp_rights_t *subscriber;    /*  checks subscribers' tokens  */
};

static fp_rights_t *
s_rights(const ssed_mercure_conf_t *mc, const char *file, char *err)
{
    fp_rights_conf_t rc = {
        .jwt_key_file = file, .jwt_alg = mc->jwt_alg,
        .jwt_claim = "mercure", .leeway_ms = 0, .acl_file = NULL
    };
    char why[FP_ERR_LEN];
    fp_rights_t *r = fp_rights_new(&rc, why);
    if (!r)
        snprintf(err, FP_ERR_LEN, "mercure key: %s", why);
    return r;
}

int
ssed_mercure_new(ssed_t *d, const ssed_conf_t *conf, char *err)
{
    const ssed_mercure_conf_t *mc = &conf->mercure;
    if (!mc->path || !*mc->path)
        return 0;
    if (mc->path[0] != '/' || strcmp(mc->path, conf->prefix) == 0) {
        snprintf(err, FP_ERR_LEN, "mercure-path must be a path of its own, "
                 "starting with / (not the prefix %s)", conf->prefix);
        return -1;
    }
    if (!fp_channel_valid(mc->channel, strlen(mc->channel))) {
        snprintf(err, FP_ERR_LEN, "mercure-channel: not a channel name");
        return -1;
    }
    if (!mc->publisher_key || !*mc->publisher_key) {
        snprintf(err, FP_ERR_LEN, "mercure-path needs mercure-publisher-key "
                 "(the file with the hub's JWT secret)");
        return -1;
    }
    ssed_mercure_t *m = fp_calloc(1, sizeof *m);
    const char *sub = mc->subscriber_key && *mc->subscriber_key
                    ? mc->subscriber_key : mc->publisher_key;
    m->publisher = s_rights(mc, mc->publisher_key, err);
    m->subscriber = m->publisher ? s_rights(mc, sub, err) : NULL;
    d->mercure = m;
    if (!m->subscriber) {
        ssed_mercure_destroy(d);
        return -1;
    }
    return 0;
}

void
ssed_mercure_destroy(ssed_t *d)
{
    ssed_mercure_t *m = d->mercure;
    if (!m)
        return;
    fp_rights_destroy(&m->publisher);
    fp_rights_destroy(&m->subscriber);
    free(m);
    d->mercure = NULL;
}

bool
ssed_mercure_wants(const ssed_t *d, const fp_fcgi_req_t *req)
{
    char err[FP_ERR_LEN];
    if (!d->mercure)
        return false;
    char *path = fp_http_path(req, err);
    bool yes = path && fp_http_below(path, d->conf.mercure.path) != NULL;
    free(path);
    return yes;
}

/* ------------------------------------------------------------ tokens */

/*  The claim's list `action` as selectors.  0, or -1 with err.  */
static int
s_selectors(json_t *claim, const char *action, fp_mtopics_t *sel, char *err)
{
    json_t *list = json_object_get(claim, action);
    size_t i;
    json_t *v;
    char why[FP_ERR_LEN];

    if (list && !json_is_array(list)) {
        snprintf(err, FP_ERR_LEN, "the token's mercure.%s is not a list",
                 action);
        return -1;
    }
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) ||
            fp_mtopics_add(sel, json_string_value(v), why) < 0) {
            snprintf(err, FP_ERR_LEN, "the token's mercure.%s[%zu]: %s",
                     action, i, json_is_string(v) ? why : "not a string");
            return -1;
        }
    }
    return 0;
}

int
ssed_mercure_auth(ssed_t *d, const fp_fcgi_req_t *req, const char *action,
                  bool cookie_ok, fp_mtopics_t *sel, int64_t *expires,
                  json_t **payload, char *err)
{
    bool publish = strcmp(action, "publish") == 0;
    fp_rights_t *r = publish ? d->mercure->publisher
                             : d->mercure->subscriber;
    char qerr[FP_ERR_LEN];
    fp_query_t q = { 0 };
    const char *qv = NULL;

    if (!publish && fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"),
                                   256, &q, qerr) == 0)
        qv = fp_query_get(&q, "authorization");
    /*  Mercure's order: the header, else the query, else the cookie  */
    char *token = fp_rights_token(
        fp_fcgi_req_param(req, "HTTP_AUTHORIZATION"), NULL, NULL, qv);
    if (!token && cookie_ok)
        token = fp_rights_token(NULL, fp_fcgi_req_param(req, "HTTP_COOKIE"),
                                d->conf.mercure.cookie, NULL);
    fp_query_free(&q);
    *expires = 0;
    if (payload)
        *payload = NULL;
    if (!token) {
        if (publish || !d->conf.mercure.anonymous) {
            snprintf(err, FP_ERR_LEN, "a JWT is required (Authorization: "
                     "Bearer, or the %s cookie)", d->conf.mercure.cookie);
            return 401;
        }
        return 0;
    }
    int64_t exp_ms = 0;
    json_t *claim = fp_rights_claim(r, token, fp_clock_wall_ms(), &exp_ms,
                                    err);
    free(token);
    if (!claim)
        return 401;
    int rc = s_selectors(claim, action, sel, err) < 0 ? 401 : 0;
    if (rc == 0 && publish && !json_is_array(json_object_get(claim,
                                                             "publish"))) {
        snprintf(err, FP_ERR_LEN, "the token has no mercure.publish claim");
        rc = 403;
    }
    if (rc == 0 && payload)
        *payload = json_incref(json_object_get(claim, "payload"));
    json_decref(claim);
    if (exp_ms)
        *expires = fp_clock_ms() + (exp_ms - fp_clock_wall_ms());
    return rc;
}

void
ssed_mercure_id(const char *epoch, uint64_t seq, char *out)
{
    out[0] = '#';
    fp_cursor_format(epoch, seq, out + 1);
}

/* ------------------------------------------------------------ routing */

void
ssed_mercure_refuse(ssed_t *d, fp_fcgi_req_t *req, const ssed_verdict_t *v,
                    const char *cors)
{
    fp_buf_t h;
    fp_buf_init(&h);
    fp_buf_adds(&h, cors);
    if (v->status == 401)
        fp_buf_adds(&h, "WWW-Authenticate: Bearer realm=\"mercure\"\r\n");
    if (v->status == 503)
        fp_buf_adds(&h, "Retry-After: 5\r\n");
    ssed_reply(d, req, v->status, h.data, v->code, v->msg);
    fp_buf_free(&h);
}

void
ssed_mercure_route(ssed_t *d, fp_fcgi_req_t *req)
{
    const char *m = fp_fcgi_req_param(req, "REQUEST_METHOD");
    char err[FP_ERR_LEN];
    char *path = fp_http_path(req, err);
    const char *rest = path ? fp_http_below(path, d->conf.mercure.path) : "";
    fp_buf_t cors;

    fp_buf_init(&cors);
    fp_http_cors(fp_fcgi_req_param(req, "HTTP_ORIGIN"), &d->conf.allow_origin,
                 true, false, &cors);
    fp_buf_adds(&cors, "");     /*  never NULL: the halves keep a copy  */
    if (!path) {
        ssed_reply(d, req, 400, cors.data, "bad_request", err);
    } else if (*rest && d->conf.mercure.subscriptions &&
               fp_http_below(rest, "/subscriptions")) {
        ssed_msubs_api(d, req, cors.data);
    } else if (*rest) {
        snprintf(err, FP_ERR_LEN, "%.100s: this hub serves %s%s only", path,
                 d->conf.mercure.path, d->conf.mercure.subscriptions
                 ? " and its /subscriptions" : " (mercure-subscriptions "
                 "is off)");
        ssed_reply(d, req, 404, cors.data, "not_found", err);
    } else if (m && strcmp(m, "GET") == 0) {
        ssed_mercure_subscribe(d, req, cors.data);
    } else if (m && strcmp(m, "POST") == 0) {
        ssed_mercure_publish(d, req, cors.data);
    } else {
        fp_buf_adds(&cors, "Allow: GET, POST\r\n");
        ssed_reply(d, req, 405, cors.data, "method_not_allowed", "a Mercure "
                   "hub answers GET (subscribe) and POST (publish)");
    }
    fp_buf_free(&cors);
    free(path);
}
