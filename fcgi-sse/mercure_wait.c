/*  mercure_wait: a hub request that waits for the broker's answer (a
 *  Mercure publish, a read of the subscriptions API).
 *
 *  A waiting request owns its connection (runtime/fcgi_conn) and is on
 *  d->mwaits until it is answered; one whose web server goes away is
 *  forgotten, its broker request cancelled.  At stop every one still
 *  waiting is answered 503.  ssed_mwait_finish is the one way it ends.
 */
#include "ssed.h"
#include "error.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void
s_gone(fp_fcgi_conn_t *c, void *ctx)
{
    ssed_mwait_t *w = ctx;
    (void) c;
    w->conn = NULL;
    ssed_mwait_finish(w, 0, "", "");
}

ssed_mwait_t *
ssed_mwait_new(ssed_t *d, fp_fcgi_req_t **req_p, const char *headers)
{
    ssed_mwait_t *w = fp_calloc(1, sizeof *w);
    w->d = d;
    w->headers = fp_strdup(headers);
    w->conn = fp_fcgi_conn_new(d->conns, *req_p, s_gone, w);
    fp_fcgi_req_free(req_p);
    w->next = d->mwaits;
    if (w->next)
        w->next->prevp = &w->next;
    w->prevp = &d->mwaits;
    d->mwaits = w;
    return w;
}

void
ssed_mwait_finish(ssed_mwait_t *w, int status, const char *ctype,
                  const char *body)
{
    if (w->hreq)
        fp_hub_cancel(fp_responder_hub(w->d->app), &w->hreq);
    if (w->conn) {
        fp_buf_t h;
        fp_buf_init(&h);
        fp_buf_addf(&h, "%sContent-Type: %s\r\nCache-Control: no-store\r\n",
                    w->headers, ctype);
        w->conn->gone = NULL;
        w->conn->ctx = NULL;
        fp_fcgi_conn_respond(w->conn, status, h.data, body, strlen(body));
        fp_buf_free(&h);
    }
    *w->prevp = w->next;
    if (w->next)
        w->next->prevp = w->prevp;
    if (w->ctx_free)
        w->ctx_free(w->ctx);
    free(w->headers);
    free(w);
}

void
ssed_mwait_fail(ssed_mwait_t *w, int status, const char *code,
                const char *msg)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_error_object(&b, code, msg);
    fp_buf_addc(&b, '\n');
    w->d->stats.refused++;
    ssed_mwait_finish(w, status, "application/json", b.data);
    fp_buf_free(&b);
}

void
ssed_mwait_stop_all(ssed_t *d)
{
    while (d->mwaits)
        ssed_mwait_fail(d->mwaits, 503, "stopping", "the hub is stopping: "
                        "try again");
}
