/*  loop: a level-triggered epoll reactor for the responders and the bridge.
 *
 *  One handler per file descriptor.  Each registration has a generation,
 *  so an event that was already collected for a descriptor that a handler
 *  closed (and that the kernel may already have handed out again) in the
 *  same round is dropped instead of reaching the wrong owner.  Timers are
 *  the caller's: fp_loop_run waits at most `timeout_ms`.
 */
#ifndef FP_LOOP_H
#define FP_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "err.h"

typedef struct fp_loop fp_loop_t;

/*  Called with the ready events (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP,
 *  EPOLLERR).  */
typedef void (fp_loop_fn)(fp_loop_t *loop, int fd, uint32_t events,
                          void *arg);

/*  Create a loop; NULL with err.  Caller owns it.  */
fp_loop_t *fp_loop_new(char *err);

/*  Destroy; the caller closes its descriptors.  NULLs *loop_p.  */
void fp_loop_destroy(fp_loop_t **loop_p);

/*  Watch fd for events with fn(arg).  0, or -1 with errno.  */
int fp_loop_add(fp_loop_t *loop, int fd, uint32_t events, fp_loop_fn *fn,
                void *arg);

/*  Change the events watched for fd.  */
int fp_loop_mod(fp_loop_t *loop, int fd, uint32_t events);

/*  Stop watching fd (call before closing it).  */
void fp_loop_del(fp_loop_t *loop, int fd);

/*  Wait up to timeout_ms (-1: forever, 0: poll) and run the handlers.
 *  Returns the number of events handled, -1 on error (not EINTR).  */
int fp_loop_run(fp_loop_t *loop, int timeout_ms);

/*  Number of descriptors watched.  */
int fp_loop_count(const fp_loop_t *loop);

#endif
