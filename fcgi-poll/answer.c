/*  answer: how every fastpush-poll route answers: a response with the
 *  request's CORS headers, an error in the one error shape (lib/error.h),
 *  a broker refusal mapped to its HTTP status, an authorization refusal;
 *  and the end of a request (polld_req_free).  Counting and caching
 *  headers are in one place.  The routes (poll.c, state.c, publish.c,
 *  stats.c) and the dispatcher (route.c) use these; nothing here calls
 *  back into them.
 */
#include "polld.h"
#include "error.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

void
polld_req_free(polld_req_t *r)
{
    fp_hub_cancel(fp_responder_hub(r->d->app), &r->hreq);
    polld_fan_free(r);
    polld_batch_leave(r);
    polld_unpark(r);
    polld_presence_release(r);
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
    free(r->since);
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
    fp_error_object(&body, code, msg);
    fp_buf_addc(&body, '\n');
    const char *extra = status == 503
        ? "Content-Type: application/json\r\nCache-Control: no-store\r\n"
          "Retry-After: 2\r\n"
        : "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    polld_answer(r, status, extra, body.data, body.len);
    fp_buf_free(&body);
}

void
polld_broker_error(polld_req_t *r, const json_t *meta)
{
    const char *code = fp_error_code(meta);
    polld_error(r, fp_error_http_status(code), code ? code : "broker_error",
                fp_error_message(meta));
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
