/*  publish: events over HTTP, for applications without a ZeroMQ binding
 *  (PHP without php-zmq, a shell with curl).
 *
 *    POST PREFIX/publish   X-Fastpush-Secret: SECRET
 *    {"channel": "c", "event": "t", "key": "k", "data": ...}
 *
 *  answers 202 {"id", "seq", "channel"} once the broker accepted the
 *  event.  Two ways to be allowed: the shared secret `publish-secret`
 *  (server-side publishers), or, with `auth on`, the client's own publish
 *  right on the channel (a token or a login; limited by publish-rate).
 *  Without either publishing is off.  The body is checked here (400/413)
 *  before it reaches the broker.  Any content type
 *  whose body is JSON is accepted (`curl -d` sends form-urlencoded), but
 *  not multipart uploads (415).
 */
#include "polld.h"
#include "clock.h"
#include "event.h"
#include "json.h"
#include "mem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
s_on_published(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    r->hreq = NULL;
    if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    json_object_del(meta, "tag");
    char *body = fp_json_dump(meta, NULL);
    r->d->stats.published++;
    polld_answer(r, 202, "Content-Type: application/json\r\n"
                 "Cache-Control: no-store\r\n", body, strlen(body));
    free(body);
}

/*  The shared secret, compared in constant time.  Returns 1 when the
 *  request carries the right one, 0 when it carries none and auth on may
 *  still allow it, -1 when it was refused (answered).  */
static int
s_secret(polld_req_t *r, fp_fcgi_req_t *req)
{
    const char *want = r->d->conf.publish_secret;
    const char *got = fp_fcgi_req_param(req, "HTTP_X_FASTPUSH_SECRET");
    bool auth = fp_access_on(r->d->authz);

    if (!got && auth)
        return 0;
    if (!want || !*want) {
        polld_error(r, 403, "publish_disabled", got ? "no publish-secret is "
                    "set: X-Fastpush-Secret is not accepted" : "publishing "
                    "over HTTP is off (set publish-secret, or auth on)");
        return -1;
    }
    if (!got) {
        polld_refuse(r, 401, "X-Fastpush-Secret is required");
        return -1;
    }
    if (strlen(got) != strlen(want) ||
        CRYPTO_memcmp(got, want, strlen(want)) != 0) {
        polld_error(r, 403, "forbidden", "wrong X-Fastpush-Secret");
        return -1;
    }
    return 1;
}

/*  Auth on, no secret: the client's own right to publish on the channel,
 *  JSON only when the credential is ambient (a cookie, the web server's
 *  login: a cross-site form must not publish as the user), and the
 *  user's publish rate.  0, or -1 answered.  */
static int
s_rights(polld_req_t *r, fp_fcgi_req_t *req, const fp_publish_t *p)
{
    const char *ctype = fp_fcgi_req_param(req, "CONTENT_TYPE");
    char *chan = p->channel;
    fp_strlist_t one = { .items = &chan, .count = 1 };
    char err[FP_ERR_LEN];

    if (polld_allow(r, FP_RIGHTS_PUBLISH, &one) < 0)
        return -1;
    if (r->client->ambient &&
        (!ctype || strncasecmp(ctype, "application/json", 16) != 0)) {
        polld_error(r, 415, "unsupported_media_type", "publishing with a "
                    "cookie or a web server login needs Content-Type: "
                    "application/json (cross-site request protection)");
        return -1;
    }
    int st = fp_access_publish(r->d->authz, r->client, fp_clock_ms(), err);
    if (st) {
        polld_refuse(r, st, err);
        return -1;
    }
    return 0;
}

/*  The validated event as a broker PUBLISH body, or NULL with err when
 *  its data is JSON the broker's own parser refuses (a repeated key, a
 *  NUL in a key): refused here as the broker would, never sent as null.  */
static json_t *
s_body(const fp_publish_t *p, char *err)
{
    json_t *data = fp_json_parse(p->data, p->data_len, err);
    if (!data)
        return NULL;
    json_t *body = json_pack("{s:s, s:s, s:o}", "channel", p->channel,
                             "event", p->type, "data", data);
    if (p->key)
        json_object_set_new(body, "key", json_string(p->key));
    return body;
}

void
polld_publish(polld_req_t *r, fp_fcgi_req_t *req)
{
    const char *ctype = fp_fcgi_req_param(req, "CONTENT_TYPE");
    fp_publish_t p;
    char err[FP_ERR_LEN];

    int secret = s_secret(r, req);
    if (secret < 0)
        return;
    if (req->body_too_large) {
        snprintf(err, sizeof err, "the body is larger than %llu bytes",
                 (unsigned long long) r->d->conf.max_body);
        polld_error(r, 413, "too_large", err);
        return;
    }
    if (ctype && strncmp(ctype, "multipart/", 10) == 0) {
        polld_error(r, 415, "unsupported_media_type", "send the event as a "
                    "JSON body (application/json)");
        return;
    }
    int rc = fp_publish_parse(req->body, req->body_len, &p, false, err);
    json_t *body = NULL;
    if (rc < 0) {
        polld_error(r, 400, rc == FP_PUBLISH_EJSON ? "invalid_json"
                                                    : "invalid_event", err);
    } else if (secret == 0 && s_rights(r, req, &p) < 0) {
        /*  refused  */
    } else if (!(body = s_body(&p, err))) {
        polld_error(r, 400, "invalid_json", err);
    } else {
        r->hreq = fp_hub_request(fp_responder_hub(r->d->app), "PUBLISH", body,
                                 s_on_published, r);
    }
    fp_publish_clear(&p);
}
