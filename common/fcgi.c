/*  fcgi: libfcgi acceptor threads and the hand-over queue (see fcgi.h).  */
#include "fcgi.h"
#include "mem.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct qitem {
    fp_fcgi_req_t *req;
    struct qitem *next;
} qitem_t;

struct fp_fcgi {
    fp_fcgi_conf_t conf;
    int listen_fd;
    int event_fd;               /*  counts queued requests  */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t accept_lock;/*  one FCGX_Accept_r at a time  */
    pthread_mutex_t queue_lock;
    qitem_t *head, *tail;
    volatile int stopping;
};

static void
s_push(fp_fcgi_t *f, fp_fcgi_req_t *req)
{
    qitem_t *it = fp_calloc(1, sizeof *it);
    uint64_t one = 1;
    it->req = req;
    pthread_mutex_lock(&f->queue_lock);
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    pthread_mutex_unlock(&f->queue_lock);
    if (write(f->event_fd, &one, sizeof one) < 0)
        return;
}

/*  Read the body: bounded by max_body and by a receive timeout.  */
static void
s_body(fp_fcgi_t *f, FCGX_Request *r, fp_fcgi_req_t *q)
{
    struct timeval tv = { f->conf.body_timeout_ms / 1000,
                          (f->conf.body_timeout_ms % 1000) * 1000 };
    size_t cap = 1024;
    q->body = fp_malloc(cap + 1);
    setsockopt(r->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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
    tv.tv_sec = tv.tv_usec = 0;
    setsockopt(r->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/*  Copy what the loop needs and take the connection away from libfcgi.  */
static fp_fcgi_req_t *
s_take_over(fp_fcgi_t *f, FCGX_Request *r)
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

static void *
s_acceptor(void *arg)
{
    fp_fcgi_t *f = arg;
    FCGX_Request r;

    FCGX_InitRequest(&r, f->listen_fd, 0);
    while (!f->stopping) {
        pthread_mutex_lock(&f->accept_lock);
        int rc = f->stopping ? -1 : FCGX_Accept_r(&r);
        pthread_mutex_unlock(&f->accept_lock);
        if (rc < 0) {
            if (!f->stopping)
                usleep(20000);      /*  e.g. EMFILE: back off, retry  */
            continue;
        }
        s_push(f, s_take_over(f, &r));
    }
    FCGX_Free(&r, 1);
    return NULL;
}

static int
s_listen(fp_fcgi_t *f, char *err)
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

fp_fcgi_t *
fp_fcgi_new(const fp_fcgi_conf_t *conf, char *err)
{
    fp_fcgi_t *f = fp_calloc(1, sizeof *f);
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
        fp_fcgi_destroy(&f);
        return NULL;
    }
    f->threads = fp_calloc((size_t) f->conf.threads, sizeof *f->threads);
    for (int i = 0; i < f->conf.threads; i++)
        if (pthread_create(&f->threads[f->nthreads], NULL, s_acceptor, f) == 0)
            f->nthreads++;
    return f;
}

int
fp_fcgi_fd(const fp_fcgi_t *f)
{
    return f->event_fd;
}

fp_fcgi_req_t *
fp_fcgi_take(fp_fcgi_t *f)
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
fp_fcgi_stop(fp_fcgi_t *f)
{
    if (f->stopping)
        return;
    f->stopping = 1;
    if (f->listen_fd >= 0)
        shutdown(f->listen_fd, SHUT_RDWR);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    f->nthreads = 0;
    if (f->listen_fd > 0)
        close(f->listen_fd);
    if (f->listen_fd >= 0 && f->conf.listen && f->conf.listen[0] == '/')
        unlink(f->conf.listen);
    f->listen_fd = -1;
}

void
fp_fcgi_destroy(fp_fcgi_t **f_p)
{
    fp_fcgi_t *f = *f_p;
    if (!f)
        return;
    *f_p = NULL;
    fp_fcgi_stop(f);
    fp_fcgi_req_t *r;
    while ((r = fp_fcgi_take(f)))
        fp_fcgi_req_free(&r);
    if (f->event_fd >= 0)
        close(f->event_fd);
    pthread_mutex_destroy(&f->accept_lock);
    pthread_mutex_destroy(&f->queue_lock);
    free(f->threads);
    free(f);
}

const char *
fp_fcgi_param(const fp_fcgi_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nenv; i++)
        if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=')
            return r->env[i] + n + 1;
    return NULL;
}

void
fp_fcgi_req_free(fp_fcgi_req_t **r_p)
{
    fp_fcgi_req_t *r = *r_p;
    if (!r)
        return;
    *r_p = NULL;
    if (r->fd >= 0)
        close(r->fd);
    for (int i = 0; i < r->nenv; i++)
        free(r->env[i]);
    free(r->env);
    free(r->body);
    free(r);
}
