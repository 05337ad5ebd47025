/*  loop: a level-triggered epoll reactor (see loop.h).  */
#include "loop.h"
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS 256

typedef struct {
    fp_loop_fn *fn;             /*  NULL when the slot is free  */
    void *arg;
    uint32_t gen;               /*  registration generation  */
} slot_t;

struct fp_loop {
    int epfd;
    slot_t *slots;              /*  indexed by fd  */
    int nslots;
    int count;                  /*  descriptors watched  */
    uint32_t next_gen;
};

fp_loop_t *
fp_loop_new(char *err)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        snprintf(err, FP_ERR_LEN, "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    fp_loop_t *loop = fp_calloc(1, sizeof *loop);
    loop->epfd = epfd;
    return loop;
}

void
fp_loop_destroy(fp_loop_t **loop_p)
{
    fp_loop_t *loop = *loop_p;
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->slots);
    free(loop);
    *loop_p = NULL;
}

static void
s_grow(fp_loop_t *loop, int fd)
{
    int n = loop->nslots ? loop->nslots : 64;
    while (n <= fd)
        n *= 2;
    loop->slots = fp_realloc(loop->slots, (size_t) n * sizeof *loop->slots);
    memset(loop->slots + loop->nslots, 0,
           (size_t) (n - loop->nslots) * sizeof *loop->slots);
    loop->nslots = n;
}

static int
s_ctl(fp_loop_t *loop, int op, int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events };
    ev.data.u64 = (uint64_t) (uint32_t) fd |
                  ((uint64_t) loop->slots[fd].gen << 32);
    return epoll_ctl(loop->epfd, op, fd, &ev);
}

int
fp_loop_add(fp_loop_t *loop, int fd, uint32_t events, fp_loop_fn *fn,
            void *arg)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= loop->nslots)
        s_grow(loop, fd);
    slot_t *s = &loop->slots[fd];
    s->fn = fn;
    s->arg = arg;
    s->gen = ++loop->next_gen;
    if (s_ctl(loop, EPOLL_CTL_ADD, fd, events) < 0) {
        s->fn = NULL;
        return -1;
    }
    loop->count++;
    return 0;
}

int
fp_loop_mod(fp_loop_t *loop, int fd, uint32_t events)
{
    if (fd < 0 || fd >= loop->nslots || !loop->slots[fd].fn) {
        errno = EBADF;
        return -1;
    }
    return s_ctl(loop, EPOLL_CTL_MOD, fd, events);
}

void
fp_loop_del(fp_loop_t *loop, int fd)
{
    if (fd < 0 || fd >= loop->nslots || !loop->slots[fd].fn)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->slots[fd].fn = NULL;
    loop->slots[fd].gen = ++loop->next_gen;
    loop->count--;
}

int
fp_loop_run(fp_loop_t *loop, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        int fd = (int) (uint32_t) evs[i].data.u64;
        uint32_t gen = (uint32_t) (evs[i].data.u64 >> 32);
        if (fd >= loop->nslots)
            continue;
        slot_t *s = &loop->slots[fd];
        if (s->fn && s->gen == gen)
            s->fn(loop, fd, evs[i].events, s->arg);
    }
    return n;
}

int
fp_loop_count(const fp_loop_t *loop)
{
    return loop->count;
}

#ifdef FP_TEST
#include "test.h"

static void
s_count(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    char c;
    if (read(fd, &c, 1) == 1)
        (*(int *) arg)++;
}

/*  Closes the other pipe's read end and opens a new pipe that reuses the
 *  number: the stale event must not reach the new owner.  */
typedef struct {
    int victim, *reused, hits;
} closer_t;

static void
s_closer(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    closer_t *c = arg;
    char ch;
    if (read(fd, &ch, 1) != 1)
        return;
    fp_loop_del(loop, c->victim);
    close(c->victim);
    int p[2];
    if (pipe(p) == 0) {
        c->reused[0] = p[0];
        c->reused[1] = p[1];
        fp_loop_add(loop, p[0], EPOLLIN, s_count, &c->hits);
    }
}

void
fp_loop_test(void)
{
    char err[FP_ERR_LEN];
    fp_loop_t *loop = fp_loop_new(err);
    int a[2], b[2], hits = 0, reused[2] = { -1, -1 };
    FP_CHECK(loop && pipe(a) == 0 && pipe(b) == 0, "setup");
    FP_CHECK(fp_loop_add(loop, a[0], EPOLLIN, s_count, &hits) == 0, "add");
    FP_CHECK(write(a[1], "xy", 2) == 2, "write");
    fp_loop_run(loop, 100);
    fp_loop_run(loop, 100);
    FP_CHECK(hits == 2, "level-triggered: called while readable");
    FP_CHECK(fp_loop_run(loop, 0) == 0, "nothing left");
    closer_t c = { .victim = b[0], .reused = reused };
    fp_loop_del(loop, a[0]);
    FP_CHECK(fp_loop_add(loop, a[0], EPOLLIN, s_closer, &c) == 0 &&
             fp_loop_add(loop, b[0], EPOLLIN, s_count, &hits) == 0, "re-add");
    FP_CHECK(write(a[1], "z", 1) == 1 && write(b[1], "z", 1) == 1, "both");
    fp_loop_run(loop, 100);
    FP_CHECK(c.hits == 0, "stale event dropped after reuse");
    FP_CHECK(fp_loop_count(loop) == 2, "count");
    fp_loop_destroy(&loop);
    close(a[0]);
    close(a[1]);
    close(b[1]);
    close(reused[0]);
    close(reused[1]);
}
#endif
