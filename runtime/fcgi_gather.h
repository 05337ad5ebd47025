/*  fcgi_gather: accept FastCGI connections and wait, in one epoll
 *  thread, until each one's whole request is in its socket buffer.
 *
 *  libfcgi reads a request with blocking reads, so a thread that runs it
 *  on a connection whose peer sends a byte a second (slowloris) is held
 *  for as long as the peer likes, and a few such peers hold every
 *  acceptor thread.  So connections are first gathered here: each is
 *  read, non-blocking, until its records reach the empty FCGI_STDIN
 *  record that ends the request; then the connection is handed on with
 *  its bytes to `take` (a plain responder request is parsed there, lib/
 *  fcgi_parse), or else with a copy of the request in a memfd, which
 *  libfcgi reads without ever waiting.  A connection holds a descriptor and its bytes meanwhile, no
 *  thread; the first byte must come within first_byte_ms of the accept,
 *  the whole request within request_ms of the first byte, else it is
 *  closed.  Of a request longer than `cap` bytes only the first `cap`
 *  are kept (the reader reads no further: its body is too large); the
 *  rest is read and dropped, so the web server can send it all and read
 *  the answer.  The listener is paused for a second on EMFILE/ENFILE,
 *  and before the last 16 descriptors are taken (slowcgi's
 *  accept_reserve: the memfds need some), so a full descriptor table
 *  neither spins nor drops requests that came in whole.
 */
#ifndef FP_FCGI_GATHER_H
#define FP_FCGI_GATHER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct {
    int listen_fd;              /*  borrowed: the caller closes it  */
    int first_byte_ms;          /*  accept to first byte  */
    int request_ms;             /*  first byte to the end of the request  */
    size_t cap;                 /*  bytes of a request kept at most  */
    /*  Called on the gathering thread with a connection whose request is
     *  in (fd, blocking, close-on-exec) and a memfd holding its bytes,
     *  read from the start (request_fd); it takes both descriptors.  */
    void (*ready)(void *arg, int fd, int request_fd);
    /*  Tried first, on the gathering thread, when the whole request was
     *  kept: its bytes (borrowed) and its connection (non-blocking,
     *  close-on-exec); true when it took fd, false to have `ready` (a
     *  memfd for libfcgi) do it.  May be NULL.  */
    bool (*take)(void *arg, int fd, const void *data, size_t len);
    void *arg;
} fp_fcgi_gather_conf_t;

typedef struct fp_fcgi_gather fp_fcgi_gather_t;

/*  Start the gathering thread.  NULL with err.  */
fp_fcgi_gather_t *fp_fcgi_gather_new(const fp_fcgi_gather_conf_t *conf,
                                     char *err);

/*  Connections accepted and not yet handed on or closed (any thread).  */
int fp_fcgi_gather_count(fp_fcgi_gather_t *g);

/*  Stop accepting; connections being gathered go on until their
 *  request is in or their time is up (any thread).  */
void fp_fcgi_gather_stop(fp_fcgi_gather_t *g);

/*  Stop, wait for the connections being gathered (request_ms at most),
 *  join the thread, free.  NULL is fine.  */
void fp_fcgi_gather_destroy(fp_fcgi_gather_t **g_p);

#endif
