/*  fcgi_accept: libfcgi acceptor threads and the hand-over queue
 *  (see fcgi_accept.h).  */
#include "fcgi_accept.h"
#include "mem.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIRST_BYTE_MS 2000     /*  wait for a new connection's first bytes  */

typedef struct qitem {
    fp_fcgi_req_t *req;
    struct qitem *next;
} qitem_t;

struct fp_fcgi_accept {
    fp_fcgi_accept_conf_t conf;
    int listen_fd;
    int event_fd;               /*  counts queued requests  */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t accept_lock;/*  one thread in accept4 at a time  */
    pthread_mutex_t queue_lock;
    qitem_t *head, *tail;
    int reading;                /*  connections accepted, not yet queued
                                    (under queue_lock)  */
    volatile int stopping;
};

static void
s_reading(fp_fcgi_accept_t *f, int delta)
{
    pthread_mutex_lock(&f->queue_lock);
    f->reading += delta;
    pthread_mutex_unlock(&f->queue_lock);
}

/*  Queue a request and count its connection as read, under one lock so
 *  that fp_fcgi_accept_busy never sees it in neither place.  */
static void
s_push(fp_fcgi_accept_t *f, fp_fcgi_req_t *req)
{
    qitem_t *it = fp_calloc(1, sizeof *it);
    uint64_t one = 1;
    it->req = req;
    pthread_mutex_lock(&f->queue_lock);
    f->reading--;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    pthread_mutex_unlock(&f->queue_lock);
    if (write(f->event_fd, &one, sizeof one) < 0)
        return;
}

/*  Read the body: bounded by max_body and by the receive timeout that
 *  s_accept set.  */
static void
s_body(fp_fcgi_accept_t *f, FCGX_Request *r, fp_fcgi_req_t *q)
{
    size_t cap = 1024;
    q->body = fp_malloc(cap + 1);
    for (;;) {
        if (q->body_len == cap) {
            if (cap >= f->conf.max_body) {
                char c;
                q->body_too_large = FCGX_GetStr(&c, 1, r->in) > 0;
                break;
            }
            cap = cap * 2 > f->conf.max_body ? f->conf.max_body : cap * 2;
            q->body = fp_realloc(q->body, cap + 1);
        }
        int n = FCGX_GetStr(q->body + q->body_len, (int) (cap - q->body_len),
                            r->in);
        if (n <= 0)
            break;
        q->body_len += (size_t) n;
    }
    q->body[q->body_len] = '\0';
}

/*  Copy what the loop needs and take the connection away from libfcgi.  */
static fp_fcgi_req_t *
s_take_over(fp_fcgi_accept_t *f, FCGX_Request *r)
{
    fp_fcgi_req_t *q = fp_calloc(1, sizeof *q);
    int n = 0;
    while (r->envp && r->envp[n])
        n++;
    q->env = fp_calloc((size_t) n + 1, sizeof *q->env);
    for (int i = 0; i < n; i++)
        q->env[i] = fp_strdup(r->envp[i]);
    q->nenv = n;
    s_body(f, r, q);
    q->fd = r->ipcFd;
    q->rid = r->requestId;
    r->ipcFd = -1;
    FCGX_Free(r, 0);
    fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK);
    return q;
}

/*  Accept one connection ourselves, so it gets a receive timeout before
 *  libfcgi reads its parameters: a peer that stops half-way through its
 *  request holds an acceptor thread for body_timeout_ms, not for ever,
 *  and cannot keep SIGTERM waiting.  A peer that sends nothing at all is closed
 *  after FIRST_BYTE_MS, as Debian's libfcgi does in its own accept.
 *  -1 on error, or with errno EAGAIN for a silent peer.  */
static int
s_accept(fp_fcgi_accept_t *f)
{
    struct timeval tv = { f->conf.body_timeout_ms / 1000,
                          (f->conf.body_timeout_ms % 1000) * 1000 };
    pthread_mutex_lock(&f->accept_lock);
    int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    pthread_mutex_unlock(&f->accept_lock);
    if (fd < 0)
        return -1;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, FIRST_BYTE_MS) <= 0) {
        close(fd);
        errno = EAGAIN;
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/*  Hand FCGX_Accept_r a connection that is already open: with ipcFd set
 *  and keepConnection on, it reads the request from fd instead of
 *  accepting (and closes fd itself when the request is bad or the
 *  timeout hits: its listen_sock of -1 then makes it return at once).  */
static int
s_read_request(FCGX_Request *r, int fd)
{
    FCGX_InitRequest(r, -1, 0);
    r->ipcFd = fd;
    r->keepConnection = 1;
    return FCGX_Accept_r(r);
}

static void *
s_acceptor(void *arg)
{
    fp_fcgi_accept_t *f = arg;
    FCGX_Request r;

    while (!f->stopping) {
        int fd = s_accept(f);
        if (fd < 0) {
            if (!f->stopping && errno != EINTR && errno != ECONNABORTED &&
                errno != EAGAIN)
                usleep(20000);      /*  e.g. EMFILE: back off, retry  */
            continue;
        }
        s_reading(f, 1);
        if (s_read_request(&r, fd) < 0 || FCGX_GetError(r.in) != 0) {
            /*  Bad, or cut short: libfcgi takes a read that failed half-way
             *  through the parameters for their end, so check the stream.  */
            if (r.ipcFd >= 0)
                close(r.ipcFd);
            r.ipcFd = -1;
            FCGX_Free(&r, 0);
            s_reading(f, -1);
            continue;
        }
        s_push(f, s_take_over(f, &r));
    }
    return NULL;
}

static int
s_listen(fp_fcgi_accept_t *f, char *err)
{
    const char *l = f->conf.listen;
    if (!l || !*l) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
            snprintf(err, FP_ERR_LEN, "no listen address given and fd 0 is "
                     "not a socket (the web server did not spawn us)");
            return -1;
        }
        f->listen_fd = 0;
        return 0;
    }
    if (l[0] == '/')
        unlink(l);
    f->listen_fd = FCGX_OpenSocket(l, f->conf.backlog);
    if (f->listen_fd < 0) {
        snprintf(err, FP_ERR_LEN, "cannot listen on %s: %s", l,
                 strerror(errno));
        return -1;
    }
    if (l[0] == '/' && f->conf.socket_mode &&
        chmod(l, (mode_t) f->conf.socket_mode) < 0) {
        snprintf(err, FP_ERR_LEN, "chmod %s: %s", l, strerror(errno));
        return -1;
    }
    return 0;
}

fp_fcgi_accept_t *
fp_fcgi_accept_new(const fp_fcgi_accept_conf_t *conf, char *err)
{
    fp_fcgi_accept_t *f = fp_calloc(1, sizeof *f);
    f->conf = *conf;
    if (f->conf.backlog <= 0)
        f->conf.backlog = 1024;
    if (f->conf.threads <= 0)
        f->conf.threads = 2;
    if (f->conf.max_body == 0)
        f->conf.max_body = 64 * 1024;
    if (f->conf.body_timeout_ms <= 0)
        f->conf.body_timeout_ms = 5000;
    f->listen_fd = -1;
    pthread_mutex_init(&f->accept_lock, NULL);
    pthread_mutex_init(&f->queue_lock, NULL);
    f->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (FCGX_Init() != 0 || f->event_fd < 0 || s_listen(f, err) < 0) {
        if (f->event_fd < 0)
            snprintf(err, FP_ERR_LEN, "eventfd: %s", strerror(errno));
        fp_fcgi_accept_destroy(&f);
        return NULL;
    }
    f->threads = fp_calloc((size_t) f->conf.threads, sizeof *f->threads);
    for (int i = 0; i < f->conf.threads; i++)
        if (pthread_create(&f->threads[f->nthreads], NULL, s_acceptor, f) == 0)
            f->nthreads++;
    return f;
}

int
fp_fcgi_accept_fd(const fp_fcgi_accept_t *f)
{
    return f->event_fd;
}

bool
fp_fcgi_accept_busy(fp_fcgi_accept_t *f)
{
    pthread_mutex_lock(&f->queue_lock);
    bool busy = f->reading > 0 || f->head != NULL;
    pthread_mutex_unlock(&f->queue_lock);
    return busy;
}

fp_fcgi_req_t *
fp_fcgi_accept_take(fp_fcgi_accept_t *f)
{
    uint64_t n;
    pthread_mutex_lock(&f->queue_lock);
    qitem_t *it = f->head;
    if (it) {
        f->head = it->next;
        if (!f->head)
            f->tail = NULL;
    } else if (read(f->event_fd, &n, sizeof n) < 0) {
        n = 0;                      /*  nothing pending: counter drained  */
    }
    pthread_mutex_unlock(&f->queue_lock);
    if (!it)
        return NULL;
    fp_fcgi_req_t *req = it->req;
    free(it);
    return req;
}

void
fp_fcgi_accept_stop(fp_fcgi_accept_t *f)
{
    if (f->stopping)
        return;
    f->stopping = 1;
    if (f->listen_fd < 0)
        return;
    shutdown(f->listen_fd, SHUT_RDWR);  /*  wakes the threads in accept  */
    if (f->conf.listen && f->conf.listen[0] == '/')
        unlink(f->conf.listen);
}

void
fp_fcgi_accept_destroy(fp_fcgi_accept_t **f_p)
{
    fp_fcgi_accept_t *f = *f_p;
    if (!f)
        return;
    *f_p = NULL;
    fp_fcgi_accept_stop(f);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    if (f->listen_fd > 0)
        close(f->listen_fd);
    fp_fcgi_req_t *r;
    while ((r = fp_fcgi_accept_take(f)))
        fp_fcgi_req_free(&r);
    if (f->event_fd >= 0)
        close(f->event_fd);
    pthread_mutex_destroy(&f->accept_lock);
    pthread_mutex_destroy(&f->queue_lock);
    free(f->threads);
    free(f);
}
