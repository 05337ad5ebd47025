/*  fcgi_accept: accept FastCGI requests, then hand the connection to an
 *  event loop.
 *
 *  No web server multiplexes FastCGI, so each open stream holds one
 *  connection.  A thread per stream costs ~24 KB; handing the connection
 *  to one epoll loop costs a few hundred bytes.  So: one thread accepts
 *  and waits until a connection's whole request has arrived
 *  (fcgi_gather.h: a slow peer holds no thread, and is closed when its
 *  time is up).  A plain responder request (what every web server sends)
 *  is then parsed on that thread (lib/fcgi_parse.h) and queued at once;
 *  anything else goes, in a memfd, to one of a few acceptor threads,
 *  which runs libfcgi's FCGX_Accept_r on it, copies the parameters, reads
 *  the request body (bounded), takes `ipcFd` away from libfcgi and queues
 *  the request (or closes what libfcgi refuses).  The loop thread takes
 *  requests with fp_fcgi_accept_take and from then on writes whole
 *  FastCGI records itself (fcgi_record.h), non-blocking.
 *
 *  Listening: an address ("127.0.0.1:9000", ":9000"), a unix socket path,
 *  or nothing, when the web server spawned the program with the listening
 *  socket on fd 0 (lighttpd bin-path, spawn-fcgi, mod_fcgid).
 */
#ifndef FP_FCGI_ACCEPT_H
#define FP_FCGI_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "fcgi_req.h"

typedef struct {
    const char *listen;         /*  address, socket path, or NULL/"" = fd 0  */
    int backlog;                /*  listen() backlog (default 1024)  */
    int threads;                /*  acceptor threads (default 2)  */
    size_t max_body;            /*  request body bytes read (default 64k)  */
    int socket_mode;            /*  chmod for a unix socket, 0 = leave  */
    int body_timeout_ms;        /*  a request's parameters and body must
                                    arrive within this of its first byte
                                    (5000)  */
} fp_fcgi_accept_conf_t;

typedef struct fp_fcgi_accept fp_fcgi_accept_t;

/*  Open the listening socket and start the acceptor threads.  Call after
 *  fp_sig_fd (threads inherit the blocked signals).  NULL with err.  */
fp_fcgi_accept_t *fp_fcgi_accept_new(const fp_fcgi_accept_conf_t *conf, char *err);

/*  Readable when requests are waiting (an eventfd).  */
int fp_fcgi_accept_fd(const fp_fcgi_accept_t *f);

/*  The next request, or NULL.  Caller owns it.  */
fp_fcgi_req_t *fp_fcgi_accept_take(fp_fcgi_accept_t *f);

/*  True while a connection accepted is being read (its request will be
 *  queued, or dropped if it turns out bad, silent or too slow) or a
 *  request waits in the queue.  */
bool fp_fcgi_accept_busy(fp_fcgi_accept_t *f);

/*  Stop accepting: wake the acceptor threads and remove a unix socket's
 *  path.  Requests that were being read when it was called still arrive
 *  (fp_fcgi_accept_fd), so they can be answered; queued ones can be taken.  */
void fp_fcgi_accept_stop(fp_fcgi_accept_t *f);

/*  Stop, join the threads (a request still arriving takes up to
 *  body_timeout_ms), close the listening socket, free queued requests
 *  (closing their connections), free.  */
void fp_fcgi_accept_destroy(fp_fcgi_accept_t **f_p);

#endif
