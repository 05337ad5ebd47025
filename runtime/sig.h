/*  sig: signals as file descriptor events.
 *
 *  The responders run libfcgi acceptor threads beside their event loop.
 *  libfcgi installs a SIGTERM handler that only sets a flag (and leaves
 *  threads blocked in accept); fastpush instead blocks the signals in
 *  every thread and reads them from a signalfd in the loop, so shutdown
 *  is one orderly path.  Call before starting any thread.
 */
#ifndef FP_SIG_H
#define FP_SIG_H

/*  Block SIGINT, SIGTERM, SIGHUP and SIGUSR1 in this thread (and the
 *  threads it starts later), ignore SIGPIPE, and return a non-blocking
 *  signalfd for the blocked ones (-1 on error).  */
int fp_sig_fd(void);

/*  Read one signal number from the signalfd; 0 if none is waiting.  */
int fp_sig_read(int fd);

#endif
