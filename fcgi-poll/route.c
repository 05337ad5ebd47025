/*  route: dispatch a request to its route, and the answers they share.
 *
 *  Every answer goes through polld_answer (status, CORS headers, body,
 *  end of request) so counting and caching headers are in one place.
 */
#include "polld.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_routes[] = { "/poll", "/state", "/publish",
                                        "/stats", "/metrics", NULL };

/*  The client went away before its answer: drop the request.  */
static void
s_gone(fp_fcgi_conn_t *c, void *ctx)
{
    polld_req_t *r = ctx;
    r->d->stats.gone++;
    r->conn = NULL;
    polld_req_free(r);
}

void
polld_req_free(polld_req_t *r)
{
    fp_hub_cancel(fp_responder_hub(r->d->app), &r->hreq);
    polld_unpark(r);
    fp_access_client_free(r->d->authz, &r->client);
    if (r->conn) {
        r->conn->gone = NULL;
        r->conn->ctx = NULL;
        r->conn = NULL;
    }
    if (r->answer_due)
        return;                 /*  freed by polld_answer_due  */
    free(r->headers);
    free(r->if_none_match);
    fp_strlist_free(&r->channels);
    fp_buf_free(&r->events);
    fp_buf_free(&r->resets);
    free(r);
}

void
polld_answer(polld_req_t *r, int status, const char *extra_headers,
             const char *body, size_t len)
{
    fp_buf_t h;
    fp_buf_init(&h);
    fp_buf_adds(&h, r->headers ? r->headers : "");
    fp_buf_adds(&h, extra_headers ? extra_headers : "");
    if (r->conn)
        fp_fcgi_conn_respond(r->conn, status, h.data, body, len);
    if (status >= 100 && status < 600)
        r->d->stats.status[status / 100]++;
    if (status == 304)
        r->d->stats.not_modified++;
    fp_buf_free(&h);
    polld_req_free(r);
}

void
polld_error(polld_req_t *r, int status, const char *code, const char *msg)
{
    fp_buf_t body;
    fp_buf_init(&body);
    fp_buf_adds(&body, "{\"error\":");
    fp_json_append_str(&body, code);
    fp_buf_adds(&body, ",\"message\":");
    fp_json_append_str(&body, msg ? msg : "");
    fp_buf_adds(&body, "}\n");
    const char *extra = status == 503
        ? "Content-Type: application/json\r\nCache-Control: no-store\r\n"
          "Retry-After: 2\r\n"
        : "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    polld_answer(r, status, extra, body.data, body.len);
    fp_buf_free(&body);
}

int
polld_status_of(const char *code)
{
    static const struct { const char *code; int status; } map[] = {
        { "invalid_json", 400 }, { "invalid_event", 400 },
        { "bad_request", 400 }, { "bad_cursor", 400 },
        { "too_large", 413 }, { "channel_limit", 409 }, { "key_limit", 409 },
        { "timeout", 503 }, { "broker_unavailable", 503 },
        { "shutdown", 503 }, { "store_failed", 503 },
    };
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].status;
    return 502;
}

/*  An authorization or limit refusal: 401 (with a challenge), 403, 429.  */
void
polld_refuse(polld_req_t *r, int status, const char *msg)
{
    if (status == 401 || status == 429) {
        fp_buf_t h;
        fp_buf_init(&h);
        fp_buf_adds(&h, r->headers);
        fp_buf_adds(&h, status == 401 ? FP_ACCESS_CHALLENGE
                                      : "Retry-After: 1\r\n");
        free(r->headers);
        r->headers = fp_buf_detach(&h, NULL);
    }
    polld_error(r, status, status == 401 ? "unauthorized" : status == 403
                ? "forbidden" : status == 429 ? "rate_limited" : "error", msg);
}

/*  May the request's client do action on these channels?  0, or -1 with
 *  the refusal answered.  */
int
polld_allow(polld_req_t *r, int action, const fp_strlist_t *channels)
{
    char err[FP_ERR_LEN];
    int st = fp_access_allow(r->d->authz, r->client, action,
                            (const char *const *) channels->items,
                            (size_t) channels->count, err);
    if (st == 0)
        return 0;
    polld_refuse(r, st, err);
    return -1;
}

static void
s_preflight(polld_req_t *r)
{
    polld_answer(r, 204, "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Content-Type, If-None-Match, "
                 "X-Fastpush-Secret, Authorization, Last-Event-ID\r\n"
                 "Access-Control-Max-Age: 600\r\n", NULL, 0);
}

/*  Which route, or -1 (404).  */
static int
s_which(polld_t *d, fp_fcgi_req_t *req, char *err)
{
    char *path = fp_http_path(req, err);
    const char *rest = path ? fp_http_below(path, d->conf.prefix) : NULL;
    int route = -1;
    size_t n = rest ? strlen(rest) : 0;
    while (n > 1 && rest[n - 1] == '/')
        n--;
    for (int i = 0; rest && s_routes[i]; i++)
        if (strlen(s_routes[i]) == n && strncmp(rest, s_routes[i], n) == 0)
            route = i;
    if (path && route < 0)
        snprintf(err, FP_ERR_LEN, "nothing at %.100s (routes: %s/poll, "
                 "/state, /publish, /stats, /metrics)", path, d->conf.prefix);
    free(path);
    return route;
}

static void
s_dispatch(polld_req_t *r, fp_fcgi_req_t *req, const char *method)
{
    bool post = r->route == POLLD_R_PUBLISH;
    const char *qs = fp_fcgi_req_param(req, "QUERY_STRING");

    if (strcmp(method, post ? "POST" : "GET") != 0) {
        fp_buf_t h;
        fp_buf_init(&h);
        fp_buf_adds(&h, r->headers);
        fp_buf_adds(&h, post ? "Allow: POST, OPTIONS\r\n"
                             : "Allow: GET, OPTIONS\r\n");
        free(r->headers);
        r->headers = fp_buf_detach(&h, NULL);
        polld_error(r, 405, "method_not_allowed", post
                    ? "publish with POST" : "this route answers GET");
        return;
    }
    if (qs && strlen(qs) > (size_t) r->d->conf.max_query) {
        polld_error(r, 414, "query_too_long", "the query string is too long");
        return;
    }
    r->d->stats.requests[r->route]++;
    /*  a publish with the shared secret is judged by it alone  */
    bool secret = r->route == POLLD_R_PUBLISH &&
                  fp_fcgi_req_param(req, "HTTP_X_FASTPUSH_SECRET");
    if (r->route <= POLLD_R_PUBLISH && !secret) {
        char err[FP_ERR_LEN];
        int st = fp_access_identify_fcgi(r->d->authz, req, &r->client, err);
        if (st) {
            polld_refuse(r, st, err);
            return;
        }
    }
    switch (r->route) {
    case POLLD_R_POLL: polld_poll(r, req); break;
    case POLLD_R_STATE: polld_state(r, req); break;
    case POLLD_R_PUBLISH: polld_publish(r, req); break;
    case POLLD_R_STATS: polld_stats(r, false); break;
    default: polld_stats(r, true); break;
    }
}

void
polld_route(polld_t *d, fp_fcgi_req_t *req)
{
    char err[FP_ERR_LEN];
    fp_buf_t h;
    const char *method = fp_fcgi_req_param(req, "REQUEST_METHOD");
    polld_req_t *r = fp_calloc(1, sizeof *r);

    r->d = d;
    r->conn = fp_fcgi_conn_new(d->conns, req, s_gone, r);
    fp_buf_init(&h);
    if (fp_http_cors(fp_fcgi_req_param(req, "HTTP_ORIGIN"), &d->conf.allow_origin,
                     true, !fp_access_on(d->authz), &h))
        fp_buf_adds(&h, "Access-Control-Expose-Headers: ETag\r\n");
    r->headers = fp_buf_detach(&h, NULL);
    r->route = s_which(d, req, err);
    if (method && strcmp(method, "OPTIONS") == 0)
        s_preflight(r);
    else if (r->route < 0)
        polld_error(r, 404, "not_found", err);
    else
        s_dispatch(r, req, method ? method : "");
    fp_fcgi_req_free(&req);
}
