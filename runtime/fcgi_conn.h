/*  fcgi_conn: a FastCGI connection owned by the event loop.
 *
 *  After the hand-over (fcgi_accept.h) a responder writes whole FastCGI records
 *  itself.  An fconn holds the connection's output queue; writes queued
 *  during a loop round are flushed together at its end (fp_fcgi_conns_flush,
 *  one writev per connection), EPOLLOUT is watched only while the socket
 *  is full, and the client going away (the web server closing the
 *  connection, or a write error) is reported once to the owner through
 *  `gone`.  fp_fcgi_conn_close is the one way a connection ends.
 */
#ifndef FP_FCGI_CONN_H
#define FP_FCGI_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcgi_accept.h"
#include "loop.h"
#include "sendq.h"

typedef struct fp_fcgi_conn fp_fcgi_conn_t;
typedef struct fp_fcgi_conns fp_fcgi_conns_t;

/*  The client went away (or a write failed).  The connection closes right
 *  after this returns: drop every reference to it.  */
typedef void (fp_fcgi_conn_gone_fn)(fp_fcgi_conn_t *c, void *ctx);

struct fp_fcgi_conn {
    fp_fcgi_conns_t *set;
    int fd;                     /*  -1 once closed  */
    int rid;                    /*  FastCGI request id  */
    fp_sendq_t out;              /*  records waiting to be written  */
    int64_t last_write;         /*  ms (monotonic) of the last queueing  */
    bool dirty;                 /*  listed for the end-of-round flush  */
    bool want_out;              /*  EPOLLOUT watched  */
    bool closing;               /*  close once the queue is written  */
    int64_t closing_since;      /*  ms (monotonic) the end was queued  */
    fp_fcgi_conn_t *next_dirty;
    size_t index;               /*  position in the set  */
    fp_fcgi_conn_gone_fn *gone;
    void *ctx;                  /*  the owner's  */
};

/*  The connections of one loop.  */
fp_fcgi_conns_t *fp_fcgi_conns_new(fp_loop_t *loop);

/*  Close every connection still open (without calling `gone`) and free.  */
void fp_fcgi_conns_destroy(fp_fcgi_conns_t **set_p);

/*  Write what this round queued; close connections that are done.  Call
 *  once per loop round.  */
void fp_fcgi_conns_flush(fp_fcgi_conns_t *set);

/*  Connections open.  */
size_t fp_fcgi_conns_count(const fp_fcgi_conns_t *set);

/*  Take over req's connection (req->fd becomes -1; the caller still
 *  frees req).  */
fp_fcgi_conn_t *fp_fcgi_conn_new(fp_fcgi_conns_t *set, fp_fcgi_req_t *req,
                         fp_fcgi_conn_gone_fn *gone, void *ctx);

/*  Queue a pre-encoded record blob.  */
void fp_fcgi_conn_push(fp_fcgi_conn_t *c, fp_blob_t *b);

/*  Queue data as FCGI_STDOUT records.  */
void fp_fcgi_conn_write(fp_fcgi_conn_t *c, const void *data, size_t len);

/*  Queue the end of the response; the connection closes once written.  */
void fp_fcgi_conn_end(fp_fcgi_conn_t *c);

/*  Queue a whole response (status, header lines "Name: v\r\n", body) and
 *  the end.  */
void fp_fcgi_conn_respond(fp_fcgi_conn_t *c, int status, const char *headers,
                      const char *body, size_t len);

/*  Bytes waiting to be written.  */
size_t fp_fcgi_conn_queued(const fp_fcgi_conn_t *c);

/*  Write what the socket takes now instead of at the end of the round.
 *  Returns false if the connection ended (the client went away: `gone`
 *  was called).  */
bool fp_fcgi_conn_flush_now(fp_fcgi_conn_t *c);

/*  Close connections whose response ended more than max_ms ago but could
 *  not be written (a client that stopped reading).  */
void fp_fcgi_conns_reap(fp_fcgi_conns_t *set, int64_t now, int64_t max_ms);

/*  Close now, dropping what is queued.  `gone` is not called.  */
void fp_fcgi_conn_close(fp_fcgi_conn_t *c);

#ifdef FP_TEST
#include "buf.h"

/*  The web server's side, for self-tests (fcgi_conn, fcgi_accept,
 *  responder).  Read FastCGI records from fd for at most timeout_ms (0:
 *  what fd holds now), keeping bytes of unfinished records in `in` for
 *  the next call and appending request rid's FCGI_STDOUT content to out.
 *  1 at its FCGI_END_REQUEST, 0 once out holds `until` (if not NULL), -1
 *  on EOF, a timeout, a malformed record or one for another request.  */
int fp_fcgi_conn_test_read(int fd, fp_buf_t *in, int rid, fp_buf_t *out,
                           const char *until, int timeout_ms);

/*  True if the peer of fd closes it within timeout_ms, before sending
 *  anything more.  */
bool fp_fcgi_conn_test_eof(int fd, int timeout_ms);

/*  A blocking connection to the unix socket at path, or -1 with errno.  */
int fp_fcgi_conn_test_dial(const char *path);
#endif

#endif
