/*  sig: signals as file descriptor events (see sig.h).  */
#include "sig.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
fp_sig_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
fp_sig_read(int fd)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != (ssize_t) sizeof si)
        return 0;
    return (int) si.ssi_signo;
}

#ifdef FP_TEST
#include "test.h"

#include <fcntl.h>

static void *
s_blocked_in_thread(void *arg)
{
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    *(int *) arg = sigismember(&now, SIGTERM) && sigismember(&now, SIGINT);
    return NULL;
}

void
fp_sig_test(void)
{
    sigset_t mask, now;
    struct sigaction pipe_act, act;
    pthread_t t;
    int inherited = 0;

    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    sigaction(SIGPIPE, NULL, &pipe_act);
    int fd = fp_sig_fd();
    FP_CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "a non-blocking "
             "signalfd");
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    FP_CHECK(sigismember(&now, SIGINT) && sigismember(&now, SIGTERM) &&
             sigismember(&now, SIGHUP) && sigismember(&now, SIGUSR1),
             "INT, TERM, HUP, USR1 blocked");
    sigaction(SIGPIPE, NULL, &act);
    FP_CHECK(act.sa_handler == SIG_IGN, "SIGPIPE ignored");
    FP_CHECK(pthread_create(&t, NULL, s_blocked_in_thread, &inherited) == 0 &&
             pthread_join(t, NULL) == 0 && inherited, "a thread started "
             "later has them blocked too");
    FP_CHECK(fp_sig_read(fd) == 0, "nothing waiting: 0");
    raise(SIGUSR1);
    FP_CHECK(fp_sig_read(fd) == SIGUSR1, "a raised signal is read, not "
             "delivered");
    raise(SIGTERM);
    raise(SIGHUP);
    int a = fp_sig_read(fd), b = fp_sig_read(fd);
    FP_CHECK(((a == SIGHUP && b == SIGTERM) || (a == SIGTERM && b == SIGHUP))
             && fp_sig_read(fd) == 0, "two pending signals, each read once");
    FP_CHECK(fp_sig_read(-1) == 0, "a bad descriptor reads as none");
    close(fd);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    sigaction(SIGPIPE, &pipe_act, NULL);
}
#endif
