/*  fcgi_accept: libfcgi acceptor threads and the hand-over queue
 *  (see fcgi_accept.h).  */
#include "fcgi_accept.h"
#include "fcgi_gather.h"
#include "fcgi_parse.h"
#include "listen.h"
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
#define GATHER_PARAMS (64 * 1024)  /*  room for the parameters in the bytes
                                       of a request kept  */

static int s_first_byte_ms = FIRST_BYTE_MS;     /*  the self-test's is short  */

typedef struct qitem {
    fp_fcgi_req_t *req;
    struct qitem *next;
} qitem_t;

typedef struct fditem {
    int fd;                     /*  the connection  */
    int request_fd;             /*  a memfd of its request's bytes  */
    struct fditem *next;
} fditem_t;

struct fp_fcgi_accept {
    fp_fcgi_accept_conf_t conf;
    int listen_fd;
    int event_fd;               /*  counts queued requests  */
    fp_fcgi_gather_t *gather;   /*  accepts, waits for whole requests  */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t queue_lock;
    pthread_cond_t gathered_cond;
    fditem_t *gathered, *gathered_tail;   /*  whole, for an acceptor  */
    qitem_t *head, *tail;
    int reading;                /*  gathered connections not yet queued
                                    (under queue_lock)  */
    int closing;                /*  acceptors end once `gathered` is empty  */
    volatile int stopping;
};

static void
s_reading(fp_fcgi_accept_t *f, int delta)
{
    pthread_mutex_lock(&f->queue_lock);
    f->reading += delta;
    pthread_mutex_unlock(&f->queue_lock);
}

/*  fcgi_gather's callback: a connection's request is in; an acceptor
 *  thread reads it.  Counted as reading from here on.  */
static void
s_gathered(void *arg, int fd, int request_fd)
{
    fp_fcgi_accept_t *f = arg;
    fditem_t *it = fp_calloc(1, sizeof *it);
    it->fd = fd;
    it->request_fd = request_fd;
    pthread_mutex_lock(&f->queue_lock);
    f->reading++;
    if (f->gathered_tail)
        f->gathered_tail->next = it;
    else
        f->gathered = it;
    f->gathered_tail = it;
    pthread_cond_signal(&f->gathered_cond);
    pthread_mutex_unlock(&f->queue_lock);
}

/*  The next gathered connection and its request's memfd, waiting for
 *  one; -1 once closing and none is left.  */
static int
s_next_gathered(fp_fcgi_accept_t *f, int *request_fd)
{
    int fd = -1;
    pthread_mutex_lock(&f->queue_lock);
    while (!f->gathered && !f->closing)
        pthread_cond_wait(&f->gathered_cond, &f->queue_lock);
    fditem_t *it = f->gathered;
    if (it) {
        f->gathered = it->next;
        if (!f->gathered)
            f->gathered_tail = NULL;
        fd = it->fd;
        *request_fd = it->request_fd;
        free(it);
    }
    pthread_mutex_unlock(&f->queue_lock);
    return fd;
}

/*  Queue a request and count its connection as read (`reading`: it was
 *  counted as such), under one lock so that fp_fcgi_accept_busy never
 *  sees it in neither place.  */
static void
s_push(fp_fcgi_accept_t *f, fp_fcgi_req_t *req, bool reading)
{
    qitem_t *it = fp_calloc(1, sizeof *it);
    uint64_t one = 1;
    it->req = req;
    pthread_mutex_lock(&f->queue_lock);
    if (reading)
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

/*  fcgi_gather's first try: a plain responder request is parsed here,
 *  on the gathering thread, and queued with its connection.  */
static bool
s_take(void *arg, int fd, const void *data, size_t len)
{
    fp_fcgi_accept_t *f = arg;
    fp_fcgi_req_t *q = fp_calloc(1, sizeof *q);
    if (fp_fcgi_parse(data, len, f->conf.max_body, q) < 0) {
        free(q);
        return false;           /*  libfcgi reads it (and refuses it)  */
    }
    q->fd = fd;
    s_push(f, q, false);
    return true;
}

/*  Read the body (from the memfd: it never waits), bounded by max_body.  */
static void
s_body(fp_fcgi_accept_t *f, FCGX_Request *r, fp_fcgi_req_t *q)
{
    size_t cap = f->conf.max_body < 1024 ? f->conf.max_body : 1024;
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

/*  Copy what the loop needs; the request's connection is fd (libfcgi
 *  read the request from the memfd in r, which is closed here).  NULL,
 *  leaving r to the caller, when the body was cut short.  */
static fp_fcgi_req_t *
s_take_over(fp_fcgi_accept_t *f, FCGX_Request *r, int fd)
{
    fp_fcgi_req_t *q = fp_calloc(1, sizeof *q);
    int n = 0;
    q->fd = -1;
    while (r->envp && r->envp[n])
        n++;
    q->env = fp_calloc((size_t) n + 1, sizeof *q->env);
    for (int i = 0; i < n; i++)
        q->env[i] = fp_strdup(r->envp[i]);
    q->nenv = n;
    s_body(f, r, q);
    if (FCGX_GetError(r->in) != 0) {
        fp_fcgi_req_free(&q);
        return NULL;
    }
    q->fd = fd;
    q->rid = r->requestId;
    close(r->ipcFd);
    r->ipcFd = -1;
    FCGX_Free(r, 0);
    fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK);
    return q;
}

/*  Hand FCGX_Accept_r a request that is already in: with ipcFd set (the
 *  memfd) and keepConnection on, it reads the request from fd instead of
 *  accepting (and closes fd itself when the request is bad: its
 *  listen_sock of -1 then makes it return at once).  */
static int
s_read_request(FCGX_Request *r, int fd)
{
    FCGX_InitRequest(r, -1, 0);
    r->ipcFd = fd;
    r->keepConnection = 1;
    return FCGX_Accept_r(r);
}

/*  An acceptor thread: libfcgi reads each gathered request from its
 *  memfd (all of it is there: no read waits), then it is queued with its
 *  connection.  */
static void *
s_acceptor(void *arg)
{
    fp_fcgi_accept_t *f = arg;
    FCGX_Request r;
    fp_fcgi_req_t *q;
    int fd, request_fd;

    while ((fd = s_next_gathered(f, &request_fd)) >= 0) {
        if (s_read_request(&r, request_fd) < 0 || FCGX_GetError(r.in) != 0 ||
            !(q = s_take_over(f, &r, fd))) {
            /*  Bad, or cut short: libfcgi takes a read that failed half-way
             *  through the parameters (or the body) for their end, so check
             *  the stream.  */
            if (r.ipcFd >= 0)
                close(r.ipcFd);
            r.ipcFd = -1;
            FCGX_Free(&r, 0);
            close(fd);
            s_reading(f, -1);
            continue;
        }
        s_push(f, q, true);
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
    f->listen_fd = fp_listen_open(l, f->conf.backlog, FP_LISTEN_UNIX, err);
    if (f->listen_fd < 0)
        return -1;
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
    pthread_mutex_init(&f->queue_lock, NULL);
    pthread_cond_init(&f->gathered_cond, NULL);
    f->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (FCGX_Init() != 0 || f->event_fd < 0 || s_listen(f, err) < 0) {
        if (f->event_fd < 0)
            snprintf(err, FP_ERR_LEN, "eventfd: %s", strerror(errno));
        fp_fcgi_accept_destroy(&f);
        return NULL;
    }
    fp_fcgi_gather_conf_t gc = {
        .listen_fd = f->listen_fd, .first_byte_ms = s_first_byte_ms,
        .request_ms = f->conf.body_timeout_ms,
        .cap = f->conf.max_body + GATHER_PARAMS, .ready = s_gathered, .take = s_take, .arg = f
    };
    if (!(f->gather = fp_fcgi_gather_new(&gc, err))) {
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
    bool busy = f->gather && fp_fcgi_gather_count(f->gather) > 0;
    pthread_mutex_lock(&f->queue_lock);
    busy = busy || f->reading > 0 || f->head != NULL;
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
    if (f->gather)
        fp_fcgi_gather_stop(f->gather);
    if (f->listen_fd < 0)
        return;
    shutdown(f->listen_fd, SHUT_RDWR);  /*  new peers are refused  */
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
    fp_fcgi_gather_destroy(&f->gather);     /*  no more gathered after it  */
    pthread_mutex_lock(&f->queue_lock);
    f->closing = 1;
    pthread_cond_broadcast(&f->gathered_cond);
    pthread_mutex_unlock(&f->queue_lock);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    if (f->listen_fd > 0)
        close(f->listen_fd);
    fp_fcgi_req_t *r;
    while ((r = fp_fcgi_accept_take(f)))
        fp_fcgi_req_free(&r);
    if (f->event_fd >= 0)
        close(f->event_fd);
    pthread_cond_destroy(&f->gathered_cond);
    pthread_mutex_destroy(&f->queue_lock);
    free(f->threads);
    free(f);
}

#ifdef FP_TEST
#include "buf.h"
#include "clock.h"
#include "fcgi_conn.h"
#include "fcgi_record.h"
#include "test.h"

#include <netinet/in.h>
#include <sys/un.h>

#define T_WAIT_MS 2000

static const fp_fcgi_accept_conf_t s_conf = {
    .threads = 2, .max_body = 16, .socket_mode = 0600,
    .body_timeout_ms = 200
};

/*  The next request, waiting for it up to ms.  */
static fp_fcgi_req_t *
s_wait(fp_fcgi_accept_t *f, int ms)
{
    int64_t deadline = fp_clock_ms() + ms;
    for (;;) {
        fp_fcgi_req_t *req = fp_fcgi_accept_take(f);
        int left = (int) (deadline - fp_clock_ms());
        struct pollfd p = { .fd = fp_fcgi_accept_fd(f), .events = POLLIN };
        if (req || left <= 0 || poll(&p, 1, left) <= 0)
            return req;
    }
}

/*  Until no acceptor thread reads a connection and `queued` requests
 *  wait (up to ms); false if that does not happen.  */
static bool
s_settled(fp_fcgi_accept_t *f, int queued, int ms)
{
    int64_t deadline = fp_clock_ms() + ms;
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&f->queue_lock);
        for (qitem_t *it = f->head; it; it = it->next)
            n++;
        bool done = f->reading == 0 && n == queued;
        pthread_mutex_unlock(&f->queue_lock);
        if (done || fp_clock_ms() >= deadline)
            return done;
        usleep(1000);
    }
}

/*  Connect to path and send the first `cut` bytes (all if 0) of request
 *  rid with QUERY_STRING=query and body.  The peer's fd, or -1.  */
static int
s_send(const char *path, int rid, const char *query, const char *body,
       size_t cut)
{
    char q[64];
    snprintf(q, sizeof q, "QUERY_STRING=%s", query);
    const char *env[] = { "REQUEST_METHOD=POST", q, NULL };
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_request(&b, rid, env, body, strlen(body));
    int fd = fp_fcgi_conn_test_dial(path);
    size_t n = cut ? cut : b.len;
    if (fd >= 0 && write(fd, b.data, n) != (ssize_t) n) {
        close(fd);
        fd = -1;
    }
    fp_buf_free(&b);
    return fd;
}

/*  The request's connection is handed over: answer on it, read it back.  */
static bool
s_answer(fp_fcgi_req_t *req, int peer)
{
    fp_buf_t b, in, out;
    fp_buf_init(&b);
    fp_buf_init(&in);
    fp_buf_init(&out);
    fp_fcgi_record_response(&b, req->rid, 200, NULL, "ok", 2);
    bool ok = write(req->fd, b.data, b.len) == (ssize_t) b.len &&
              fp_fcgi_conn_test_read(peer, &in, req->rid, &out, NULL,
                                     T_WAIT_MS) == 1 &&
              strstr(out.data, "\r\n\r\nok") != NULL;
    fp_buf_free(&b);
    fp_buf_free(&in);
    fp_buf_free(&out);
    return ok;
}

/*  Whole requests: parameters, body, the connection handed over;
 *  several at once; a body longer than max_body.  */
static void
s_test_requests(fp_fcgi_accept_t *f, const char *path)
{
    struct stat st;
    FP_CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
             (st.st_mode & 0777) == 0600, "unix socket with socket_mode");
    int peer = s_send(path, 5, "a=1", "{}", 0);
    fp_fcgi_req_t *req = s_wait(f, T_WAIT_MS);
    FP_CHECK(req && req->rid == 5 && req->fd >= 0, "a whole request is "
             "queued with its id and connection");
    if (!req)
        return;
    const char *method = fp_fcgi_req_param(req, "REQUEST_METHOD");
    const char *query = fp_fcgi_req_param(req, "QUERY_STRING");
    FP_CHECK(method && strcmp(method, "POST") == 0 && query &&
             strcmp(query, "a=1") == 0 &&
             fp_fcgi_req_param(req, "FCGI_ROLE") != NULL, "its parameters");
    FP_CHECK(req->body_len == 2 && strcmp(req->body, "{}") == 0 &&
             !req->body_too_large, "its body");
    FP_CHECK(fcntl(req->fd, F_GETFL) & O_NONBLOCK, "non-blocking");
    FP_CHECK(s_answer(req, peer), "answered on the handed-over connection");
    fp_fcgi_req_free(&req);
    FP_CHECK(fp_fcgi_conn_test_eof(peer, T_WAIT_MS), "freeing the request "
             "closes it");
    close(peer);
    FP_CHECK(fp_fcgi_accept_take(f) == NULL && s_settled(f, 0, T_WAIT_MS),
             "nothing more queued, not busy");

    int peers[4], seen = 0;
    for (int i = 0; i < 4; i++) {
        char qs[16];
        snprintf(qs, sizeof qs, "n=%d", i);
        peers[i] = s_send(path, 1, qs, "", 0);
    }
    for (int i = 0; i < 4 && (req = s_wait(f, T_WAIT_MS)); i++) {
        query = fp_fcgi_req_param(req, "QUERY_STRING");
        if (query && strncmp(query, "n=", 2) == 0)
            seen |= 1 << (query[2] - '0');
        fp_fcgi_req_free(&req);
    }
    FP_CHECK(seen == 15 && fp_fcgi_accept_take(f) == NULL,
             "four peers at once: each request queued once");
    for (int i = 0; i < 4; i++)
        close(peers[i]);

    peer = s_send(path, 1, "", "0123456789abcdefTOO LONG", 0);
    req = s_wait(f, T_WAIT_MS);
    FP_CHECK(req && req->body_too_large && req->body_len == 16 &&
             strcmp(req->body, "0123456789abcdef") == 0,
             "a body over max_body: cut at max_body and flagged");
    fp_fcgi_req_free(&req);
    close(peer);
}

/*  Slowloris: more peers than acceptor threads, each sending the next
 *  byte of request b every 40 ms.  A real request behind them is
 *  answered at once, and each is closed body_timeout_ms after its first
 *  byte, whatever its pace.  */
static void
s_test_slow(fp_fcgi_accept_t *f, const char *path, const fp_buf_t *b)
{
    enum { N = 5 };
    int slow[N];
    size_t sent = 0;
    int64_t t0 = fp_clock_ms();
    for (int i = 0; i < N; i++)
        slow[i] = fp_fcgi_conn_test_dial(path);
    int peer = s_send(path, 4, "", "", 0);
    fp_fcgi_req_t *req = s_wait(f, 100);
    FP_CHECK(req && req->rid == 4, "a request behind more slowloris peers "
             "than acceptor threads is queued at once");
    fp_fcgi_req_free(&req);
    close(peer);
    bool cut = false;
    while (!cut && sent < b->len - 1 && fp_clock_ms() - t0 < T_WAIT_MS) {
        for (int i = 0; i < N; i++)
            cut |= send(slow[i], b->data + sent, 1, MSG_NOSIGNAL) != 1 ||
                   fp_fcgi_conn_test_eof(slow[i], 0);
        sent++;
        usleep(40000);
    }
    int64_t took = fp_clock_ms() - t0;
    bool all = true;
    for (int i = 0; i < N; i++) {
        all &= fp_fcgi_conn_test_eof(slow[i], T_WAIT_MS);
        close(slow[i]);
    }
    FP_CHECK(cut && all && took >= f->conf.body_timeout_ms &&
             took < f->conf.body_timeout_ms + 400 && s_settled(f, 0, T_WAIT_MS),
             "slowloris peers are closed body_timeout_ms after their first "
             "byte, none queued");
}

/*  Peers that are not served: silent, stopped or gone half-way, or not
 *  speaking FastCGI.  Each is closed and nothing is queued.  */
static void
s_test_dropped(fp_fcgi_accept_t *f, const char *path)
{
    fp_buf_t b;
    fp_buf_init(&b);
    const char *env[] = { "REQUEST_METHOD=GET", "QUERY_STRING=x=1", NULL };
    fp_fcgi_record_request(&b, 1, env, NULL, 0);
    size_t half = 8 + 8 + 12;           /*  BEGIN_REQUEST, part of PARAMS  */

    int64_t t0 = fp_clock_ms();
    int silent = fp_fcgi_conn_test_dial(path);
    int peer = s_send(path, 2, "", "", 0);
    fp_fcgi_req_t *req = s_wait(f, T_WAIT_MS);
    FP_CHECK(req && req->rid == 2 && !fp_fcgi_conn_test_eof(silent, 0),
             "a silent peer does not hold up the request behind it");
    fp_fcgi_req_free(&req);
    close(peer);
    FP_CHECK(fp_fcgi_conn_test_eof(silent, T_WAIT_MS) &&
             fp_clock_ms() - t0 >= s_first_byte_ms,
             "a peer that sends nothing is closed after the first-byte wait");
    close(silent);

    peer = fp_fcgi_conn_test_dial(path);
    t0 = fp_clock_ms();
    FP_CHECK(write(peer, b.data, half) == (ssize_t) half &&
             fp_fcgi_conn_test_eof(peer, T_WAIT_MS) &&
             fp_clock_ms() - t0 >= f->conf.body_timeout_ms,
             "a peer that stops in its parameters is closed after "
             "body_timeout_ms");
    close(peer);

    fp_buf_reset(&b);
    fp_fcgi_record_request(&b, 1, env, "{\"a\":1}", 7);
    size_t in_body = b.len - 8 - 8;     /*  all but the end of STDIN...  */
    in_body -= 4;                       /*  ...and of the body  */
    peer = fp_fcgi_conn_test_dial(path);
    FP_CHECK(write(peer, b.data, in_body) == (ssize_t) in_body &&
             fp_fcgi_conn_test_eof(peer, T_WAIT_MS) &&
             s_settled(f, 0, T_WAIT_MS), "a peer that stops in its body is "
             "closed, not queued with part of it");
    close(peer);

    peer = fp_fcgi_conn_test_dial(path);
    FP_CHECK(write(peer, b.data, half) == (ssize_t) half &&
             shutdown(peer, SHUT_WR) == 0 &&
             fp_fcgi_conn_test_eof(peer, T_WAIT_MS), "a peer that hangs up "
             "in its parameters is closed");
    close(peer);

    s_test_slow(f, path, &b);

    peer = fp_fcgi_conn_test_dial(path);
    const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    FP_CHECK(write(peer, http, sizeof http - 1) == sizeof http - 1 &&
             fp_fcgi_conn_test_eof(peer, T_WAIT_MS), "a peer that does not "
             "speak FastCGI is closed");
    close(peer);
    FP_CHECK(s_settled(f, 0, T_WAIT_MS) && fp_fcgi_accept_take(f) == NULL,
             "none of them queued");
    fp_buf_free(&b);
}

/*  Stop: the path goes, new peers are refused, queued requests can still
 *  be taken; destroy closes what nobody took.  */
static void
s_test_stop(fp_fcgi_accept_t **f_p, const char *path)
{
    fp_fcgi_accept_t *f = *f_p;
    int taken = s_send(path, 1, "", "", 0);
    fp_fcgi_req_t *req = s_wait(f, T_WAIT_MS);
    int left = s_send(path, 2, "", "", 0);
    FP_CHECK(s_settled(f, 1, T_WAIT_MS) && fp_fcgi_accept_busy(f),
             "busy while a request waits in the queue");
    fp_fcgi_accept_stop(f);
    FP_CHECK(access(path, F_OK) != 0 && fp_fcgi_conn_test_dial(path) < 0,
             "stop removes the socket's path");
    FP_CHECK(req && s_answer(req, taken), "a request taken before the stop "
             "is answered");
    fp_fcgi_req_free(&req);
    fp_fcgi_accept_destroy(f_p);
    FP_CHECK(*f_p == NULL && fp_fcgi_conn_test_eof(left, T_WAIT_MS),
             "destroy closes the connection of a request nobody took");
    close(taken);
    close(left);
}

/*  The other listeners: loopback TCP, the socket on fd 0 (spawned by the
 *  web server), and bad ones.  */
static void
s_test_listen(const char *dir)
{
    char err[FP_ERR_LEN], addr[64], path[256];
    fp_fcgi_accept_conf_t conf = s_conf;

    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    FP_CHECK(bind(probe, (struct sockaddr *) &sa, sizeof sa) == 0 &&
             getsockname(probe, (struct sockaddr *) &sa, &len) == 0,
             "a free port");
    close(probe);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    conf.listen = addr;
    fp_fcgi_accept_t *f = fp_fcgi_accept_new(&conf, err);
    int peer = socket(AF_INET, SOCK_STREAM, 0);
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_request(&b, 9, NULL, NULL, 0);
    FP_CHECK(f && connect(peer, (struct sockaddr *) &sa, sizeof sa) == 0 &&
             write(peer, b.data, b.len) == (ssize_t) b.len, "TCP listener");
    fp_fcgi_req_t *req = f ? s_wait(f, T_WAIT_MS) : NULL;
    FP_CHECK(req && req->rid == 9 && s_answer(req, peer), "a request over "
             "TCP is served");
    fp_fcgi_req_free(&req);
    fp_fcgi_accept_destroy(&f);
    close(peer);

    snprintf(path, sizeof path, "%s/fd0.sock", dir);
    struct sockaddr_un su = { .sun_family = AF_UNIX };
    snprintf(su.sun_path, sizeof su.sun_path, "%s", path);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    int saved = dup(0);
    FP_CHECK(bind(lfd, (struct sockaddr *) &su, sizeof su) == 0 &&
             listen(lfd, 8) == 0 && dup2(lfd, 0) == 0, "a socket on fd 0");
    conf.listen = NULL;
    f = fp_fcgi_accept_new(&conf, err);
    peer = f ? s_send(path, 3, "fd0", "", 0) : -1;
    req = f ? s_wait(f, T_WAIT_MS) : NULL;
    FP_CHECK(req && strcmp(fp_fcgi_req_param(req, "QUERY_STRING"), "fd0")
             == 0, "no address: the listening socket on fd 0");
    fp_fcgi_req_free(&req);
    fp_fcgi_accept_destroy(&f);
    FP_CHECK(fcntl(0, F_GETFD) >= 0, "fd 0 is left open");
    close(peer);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    f = fp_fcgi_accept_new(&conf, err);
    FP_CHECK(!f && strstr(err, "fd 0 is not a socket"), "no address and "
             "fd 0 not a socket: refused");
    dup2(saved, 0);
    close(saved);
    close(null);
    close(lfd);
    unlink(path);

    snprintf(path, sizeof path, "%s/missing/x.sock", dir);
    conf.listen = path;
    f = fp_fcgi_accept_new(&conf, err);
    FP_CHECK(!f && strstr(err, "listen") && strstr(err, "No such file"),
             "a path that cannot be bound: NULL with err");
    conf.listen = addr;                 /*  the port is free again  */
    fp_fcgi_accept_t *g = fp_fcgi_accept_new(&conf, err);
    f = fp_fcgi_accept_new(&conf, err);
    FP_CHECK(g && !f && strstr(err, "Address already in use"),
             "a port in use: NULL with err");
    fp_fcgi_accept_destroy(&g);

    fp_buf_free(&b);
}

void
fp_fcgi_accept_test(void)
{
    char dir[] = "/tmp/fp-unit-XXXXXX", path[256], err[FP_ERR_LEN];
    FP_CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/fcgi.sock", dir);
    fp_fcgi_accept_conf_t conf = s_conf;
    conf.listen = path;
    int first_byte = s_first_byte_ms;
    s_first_byte_ms = 300;
    fp_fcgi_accept_t *f = fp_fcgi_accept_new(&conf, err);
    FP_CHECK(f != NULL, "listening");
    if (f) {
        s_test_requests(f, path);
        s_test_dropped(f, path);
        s_test_stop(&f, path);
    }
    s_test_listen(dir);
    s_first_byte_ms = first_byte;
    rmdir(dir);
}
#endif
