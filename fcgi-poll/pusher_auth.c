/*  pusher_auth: the door of the Pusher HTTP API (docs/pusher.md).
 *
 *    POST PUSHER-PATH/apps/ID/events           (pusher_events.c)
 *    POST PUSHER-PATH/apps/ID/batch_events
 *    GET  PUSHER-PATH/apps/ID/channels[/NAME[/users]]  (pusher_channels.c)
 *    POST PUSHER-PATH/apps/ID/users/UID/terminate_connections
 *
 *  every one signed as Pusher signs them: the query carries auth_key,
 *  auth_timestamp, auth_version=1.0, body_md5 (hex MD5 of the body, when
 *  there is one) and auth_signature, the hex HMAC-SHA256 with the app's
 *  secret of
 *
 *      METHOD "\n" /apps/ID/REST "\n" the other parameters, sorted by
 *      name, as name=value joined by "&" (values decoded)
 *
 *  The path signed is the one below pusher-path (the pusher libraries
 *  sign /apps/ID/... whatever their `path` option puts in front).  An
 *  unknown key, a key of another app, a wrong signature, a timestamp
 *  further than pusher-max-skew (600 s) from our clock or a body_md5 that
 *  is not the body's: 401, nothing done.  The signature is compared in
 *  constant time (fp_pusher_hmac_ok).
 */
#include "polld.h"
#include "buf.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_PARAMS 32

/*  The handler of REST ("events", "channels/x"...), or -1 (404); *post
 *  says which method it answers.  */
enum { S_EVENTS, S_BATCH, S_CHANNELS, S_TERMINATE };

static int
s_which(const char *rest, bool *post)
{
    *post = true;
    if (strcmp(rest, "events") == 0)
        return S_EVENTS;
    if (strcmp(rest, "batch_events") == 0)
        return S_BATCH;
    const char *t = "/terminate_connections";
    size_t rl = strlen(rest), tl = strlen(t);
    if (strncmp(rest, "users/", 6) == 0 && rl > 6 + tl &&
        strcmp(rest + rl - tl, t) == 0 && !memchr(rest + 6, '/', rl - 6 - tl))
        return S_TERMINATE;
    *post = false;
    if (strncmp(rest, "channels", 8) == 0 &&
        (rest[8] == '\0' || rest[8] == '/'))
        return S_CHANNELS;
    return -1;
}

bool
polld_pusher_below(const polld_t *d, const char *path)
{
    const char *rest = d->pusher ? fp_http_below(path, d->conf.pusher_path)
                                 : NULL;
    return rest && strncmp(rest, "/apps/", 6) == 0;
}

int
polld_pusher_load(polld_t *d, polld_conf_t *conf, char *err)
{
    if (!conf->pusher_apps || !*conf->pusher_apps)
        return 0;
    d->pusher = fp_pusher_apps_load(conf->pusher_apps, err);
    if (!d->pusher)
        return -1;
    /*  a full batch of full events, JSON-escaped at worst twice over  */
    uint64_t need = (uint64_t) conf->pusher_max_batch *
                    (conf->pusher_max_data * 2 + 512) + 1024;
    if (conf->max_body < need) {
        fp_log_info("max-body raised from %llu to %llu bytes: a Pusher "
                    "batch of %lld events of %llu bytes must fit",
                    (unsigned long long) conf->max_body,
                    (unsigned long long) need,
                    (long long) conf->pusher_max_batch,
                    (unsigned long long) conf->pusher_max_data);
        conf->max_body = need;
    }
    return 0;
}

static int
s_kv_cmp(const void *x, const void *y)
{
    const fp_kv_t *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value, b->value);
}

/*  The string Pusher signs, into s (a fresh buffer).  */
static void
s_to_sign(const char *method, const char *path, fp_query_t *q, fp_buf_t *s)
{
    fp_buf_init(s);
    fp_buf_adds(s, method);
    fp_buf_addc(s, '\n');
    fp_buf_adds(s, path);
    fp_buf_addc(s, '\n');
    for (int i = 0; i < q->count; i++)
        for (char *c = q->items[i].name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char) (*c - 'A' + 'a');
    qsort(q->items, (size_t) q->count, sizeof *q->items, s_kv_cmp);
    bool first = true;
    for (int i = 0; i < q->count; i++) {
        if (strcmp(q->items[i].name, "auth_signature") == 0)
            continue;
        if (!first)
            fp_buf_addc(s, '&');
        first = false;
        fp_buf_adds(s, q->items[i].name);
        fp_buf_addc(s, '=');
        fp_buf_adds(s, q->items[i].value);
    }
}

/*  auth_timestamp within pusher-max-skew of our clock: 0, or -1 with a
 *  message.  */
static int
s_timestamp(polld_t *d, const char *ts, char *err)
{
    char *end;
    errno = 0;
    long long t = strtoll(ts, &end, 10);
    long long now = (long long) (fp_clock_wall_ms() / 1000);
    long long skew = (long long) (d->conf.pusher_max_skew / 1000);
    if (errno || end == ts || *end) {
        snprintf(err, FP_ERR_LEN, "auth_timestamp is not a number of "
                 "seconds");
        return -1;
    }
    if (t < now - skew || t > now + skew) {
        snprintf(err, FP_ERR_LEN, "Timestamp expired: Given timestamp (%lld)"
                 " not within %llds of server time (%lld)", t, skew, now);
        return -1;
    }
    return 0;
}

/*  body_md5: required with a body, and the body's.  */
static int
s_body_md5(fp_fcgi_req_t *req, const char *md5, char *err)
{
    char want[FP_PUSHER_MD5_HEX];
    if (!md5 && req->body_len == 0)
        return 0;
    if (!md5) {
        snprintf(err, FP_ERR_LEN, "body_md5 is required with a body");
        return -1;
    }
    fp_pusher_md5_hex(req->body, req->body_len, want);
    if (strcasecmp(md5, want) != 0) {
        snprintf(err, FP_ERR_LEN, "body_md5 is not the MD5 of the body");
        return -1;
    }
    return 0;
}

/*  Check the signature of a request to app: 0, or -1 with the 401's
 *  message in err.  path is the signed path (/apps/ID/REST).  */
static int
s_check(polld_req_t *r, fp_fcgi_req_t *req, const char *path,
        const fp_pusher_app_t *app, char *err)
{
    const char *method = fp_fcgi_req_param(req, "REQUEST_METHOD");
    fp_query_t q;
    int rc = -1;

    if (fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"), S_MAX_PARAMS,
                       &q, err) < 0)
        return -1;
    const char *key = fp_query_get(&q, "auth_key");
    const char *ts = fp_query_get(&q, "auth_timestamp");
    const char *ver = fp_query_get(&q, "auth_version");
    const char *sig = fp_query_get(&q, "auth_signature");
    const fp_pusher_app_t *by_key = key ? fp_pusher_app_by_key(
        r->d->pusher, key, strlen(key)) : NULL;

    if (!key || !ts || !ver || !sig)
        snprintf(err, FP_ERR_LEN, "auth_key, auth_timestamp, auth_version "
                 "and auth_signature are required");
    else if (!app || !by_key || by_key != app)
        snprintf(err, FP_ERR_LEN, "Unknown auth_key, or not the key of "
                 "app %.64s", app ? app->id : "(unknown)");
    else if (strcmp(ver, "1.0") != 0)
        snprintf(err, FP_ERR_LEN, "auth_version must be 1.0");
    else if (s_timestamp(r->d, ts, err) == 0 &&
             s_body_md5(req, fp_query_get(&q, "body_md5"), err) == 0) {
        fp_buf_t s;
        s_to_sign(method, path, &q, &s);    /*  sig stays valid  */
        if (fp_pusher_hmac_ok(app->secret, s.data, s.len, sig, strlen(sig)))
            rc = 0;
        else
            snprintf(err, FP_ERR_LEN, "Invalid signature: you should have "
                     "sent HmacSHA256Hex(\"%.300s\", your_secret)",
                     s.data);
        fp_buf_free(&s);
    }
    fp_query_free(&q);
    return rc;
}

void
polld_pusher_route(polld_req_t *r, fp_fcgi_req_t *req)
{
    char err[FP_ERR_LEN];
    const char *method = fp_fcgi_req_param(req, "REQUEST_METHOD");
    char *path = fp_http_path(req, err);
    const char *apps = path ? fp_http_below(path, r->d->conf.pusher_path)
                            : NULL;
    bool post = false;

    r->d->stats.requests[POLLD_R_PUSHER]++;
    if (!apps) {
        polld_error(r, 400, "bad_request", err);
        free(path);
        return;
    }
    const char *id = apps + 6, *slash = strchr(id, '/');
    int h = slash ? s_which(slash + 1, &post) : -1;
    const fp_pusher_app_t *app = slash ? fp_pusher_app_by_id(
        r->d->pusher, id, (size_t) (slash - id)) : NULL;

    if (h < 0)
        polld_error(r, 404, "not_found", "the Pusher API has /apps/ID/"
                    "events, batch_events, channels, channels/NAME, "
                    "channels/NAME/users and users/ID/terminate_connections");
    else if (strcmp(method ? method : "", post ? "POST" : "GET") != 0)
        polld_error(r, 405, "method_not_allowed", post ? "POST it"
                    : "this route answers GET");
    else if (req->body_too_large) {
        snprintf(err, sizeof err, "the body is larger than %llu bytes",
                 (unsigned long long) r->d->conf.max_body);
        polld_error(r, 413, "too_large", err);
    } else if (s_check(r, req, apps, app, err) < 0)
        polld_error(r, 401, "unauthorized", err);
    else {
        r->app = app;
        if (h == S_CHANNELS)
            polld_pusher_channels(r, req, slash + 1 + 8);
        else if (h == S_TERMINATE)
            polld_pusher_terminate(r, slash + 1 + 6, strlen(slash + 1 + 6) -
                                   strlen("/terminate_connections"));
        else
            polld_pusher_events(r, req, h == S_BATCH);
    }
    free(path);
}
