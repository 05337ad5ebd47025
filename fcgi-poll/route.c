/*  route: find a request's route in the table, check its method, size
 *  and identity, and hand it to the route's handler.  The answers every
 *  route shares are in answer.c.
 */
#include "polld.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/*  The routes, in POLLD_R_* order: path below the prefix, the method it
 *  answers, and whether the client's identity matters (authorization).  */
typedef struct {
    const char *path;
    bool post;
    bool identify;
    void (*handle)(polld_req_t *r, fp_fcgi_req_t *req);
} s_route_t;

static const s_route_t s_routes[] = {
    [POLLD_R_POLL] = { "/poll", false, true, polld_poll },
    [POLLD_R_STATE] = { "/state", false, true, polld_state },
    [POLLD_R_PUBLISH] = { "/publish", true, true, polld_publish },
    [POLLD_R_STATS] = { "/stats", false, false, polld_stats },
    [POLLD_R_METRICS] = { "/metrics", false, false, polld_stats },
    [POLLD_R_HEALTH] = { "/health", false, false, polld_health },
    [POLLD_R_READY] = { "/health/ready", false, false, polld_ready },
};
#define S_NROUTES (sizeof s_routes / sizeof s_routes[0])

/*  The client went away before its answer: drop the request.  */
static void
s_gone(fp_fcgi_conn_t *c, void *ctx)
{
    polld_req_t *r = ctx;
    r->d->stats.gone++;
    r->conn = NULL;
    polld_req_free(r);
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
    if (path && polld_pusher_below(d, path)) {
        free(path);
        return POLLD_R_PUSHER;
    }
    while (n > 1 && rest[n - 1] == '/')
        n--;
    for (size_t i = 0; rest && i < S_NROUTES; i++)
        if (strlen(s_routes[i].path) == n &&
            strncmp(rest, s_routes[i].path, n) == 0)
            route = (int) i;
    if (path && route < 0)
        snprintf(err, FP_ERR_LEN, "nothing at %.100s (routes: %s/poll, "
                 "/state, /publish, /stats, /metrics, /health, /health/ready)",
                 path, d->conf.prefix);
    free(path);
    return route;
}

static void
s_dispatch(polld_req_t *r, fp_fcgi_req_t *req, const char *method)
{
    const s_route_t *route = &s_routes[r->route];
    bool post = route->post;
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
    if (route->identify && !secret) {
        char err[FP_ERR_LEN];
        int st = fp_access_identify_fcgi(r->d->authz, req, &r->client, err);
        if (st) {
            polld_refuse(r, st, err);
            return;
        }
    }
    route->handle(r, req);
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
    else if (r->route == POLLD_R_PUSHER)
        polld_pusher_route(r, req);
    else
        s_dispatch(r, req, method ? method : "");
    fp_fcgi_req_free(&req);
}
