/*  listen: a listening socket from an address as a config file gives it.
 *
 *  "HOST:PORT", "[V6]:PORT" or ":PORT" (every address) is TCP; with
 *  FP_LISTEN_UNIX, a path starting with '/' is a unix socket (a stale
 *  socket file there is removed first).  Shared by the FastCGI acceptor
 *  (blocking, threads wait in accept) and the WebSocket workers
 *  (non-blocking, SO_REUSEPORT).
 */
#ifndef FP_LISTEN_H
#define FP_LISTEN_H

#include "err.h"

#define FP_LISTEN_NONBLOCK  1   /*  O_NONBLOCK, for an event loop  */
#define FP_LISTEN_REUSEPORT 2   /*  several processes share the port  */
#define FP_LISTEN_UNIX      4   /*  accept a unix socket path  */

/*  Open, bind and listen (close-on-exec).  The descriptor, or -1 with
 *  err ("listen ADDR: why").  */
int fp_listen_open(const char *addr, int backlog, int flags, char *err);

#endif
