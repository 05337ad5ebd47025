/*  sendq: a connection's queue of shared blobs (see sendq.h).  */
#include "sendq.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define IOV_BATCH 64
#define KEEP_SLOTS 8            /*  slots kept by a drained queue  */

void
fp_sendq_push(fp_sendq_t *q, fp_blob_t *b)
{
    if (q->count == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 4;
        fp_blob_t **items = fp_malloc(cap * sizeof *items);
        for (uint32_t i = 0; i < q->count; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items;
        q->cap = cap;
        q->head = 0;
    }
    q->items[(q->head + q->count) % q->cap] = fp_blob_ref(b);
    q->count++;
    q->bytes += b->len;
}

void
fp_sendq_push_copy(fp_sendq_t *q, const void *data, size_t len)
{
    fp_blob_t *b = fp_blob_new(data, len);
    fp_sendq_push(q, b);
    fp_blob_unref(&b);
}

/*  Forget `n` written bytes from the front.  */
static void
s_consume(fp_sendq_t *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        fp_blob_t *b = q->items[q->head];
        size_t left = b->len - q->off;
        if (n < left) {
            q->off += (uint32_t) n;
            return;
        }
        n -= left;
        fp_blob_unref(&q->items[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->off = 0;
    }
}

int
fp_sendq_flush(fp_sendq_t *q, int fd)
{
    while (q->count > 0) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (uint32_t i = 0; i < q->count && n < IOV_BATCH; i++, n++) {
            fp_blob_t *b = q->items[(q->head + i) % q->cap];
            size_t skip = i == 0 ? q->off : 0;
            iov[n].iov_base = b->data + skip;
            iov[n].iov_len = b->len - skip;
        }
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t) n };
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK)
            w = writev(fd, iov, n);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                   ? 0 : -1;
        s_consume(q, (size_t) w);
    }
    if (q->cap > KEEP_SLOTS)
        fp_sendq_clear(q);       /*  a burst grew it: give the memory back  */
    q->head = q->off = 0;       /*  else keep the few slots for next time  */
    return 1;
}

void
fp_sendq_clear(fp_sendq_t *q)
{
    while (q->count > 0) {
        fp_blob_unref(&q->items[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    free(q->items);
    q->items = NULL;
    q->head = q->count = q->cap = q->off = 0;
    q->bytes = 0;
}

#ifdef FP_TEST
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

void
fp_sendq_test(void)
{
    int sv[2];
    FP_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fp_sendq_t q = { 0 };
    fp_blob_t *shared = fp_blob_new("hello ", 6);
    fp_sendq_push(&q, shared);
    fp_sendq_push_copy(&q, "world", 5);
    FP_CHECK(shared->refs == 2 && q.bytes == 11, "queued with references");
    FP_CHECK(fp_sendq_flush(&q, sv[0]) == 1 && q.count == 0 && q.bytes == 0,
             "flushed");
    FP_CHECK(shared->refs == 1, "reference released after write");
    char buf[32] = { 0 };
    FP_CHECK(read(sv[1], buf, sizeof buf) == 11 &&
             strcmp(buf, "hello world") == 0, "bytes in order");
    /*  fill the socket: partial writes keep order and the byte count  */
    char big[65536];
    memset(big, 'x', sizeof big);
    fp_blob_t *bb = fp_blob_new(big, sizeof big);
    int rc = 1;
    for (int i = 0; i < 64 && rc == 1; i++) {
        fp_sendq_push(&q, bb);
        rc = fp_sendq_flush(&q, sv[0]);
    }
    FP_CHECK(rc == 0 && q.bytes > 0 && q.bytes % 1 == 0, "socket full");
    size_t waiting = q.bytes, drained = 0;
    ssize_t r;
    while ((r = read(sv[1], big, sizeof big)) > 0) {
        drained += (size_t) r;
        if (fp_sendq_flush(&q, sv[0]) == 1 && q.bytes == 0) {
            fcntl(sv[1], F_SETFL, O_NONBLOCK);
        }
    }
    FP_CHECK(q.bytes == 0 && drained >= waiting, "drained after reads");
    close(sv[1]);
    fp_sendq_push(&q, shared);
    FP_CHECK(fp_sendq_flush(&q, sv[0]) == -1 && errno == EPIPE,
             "write to a closed peer fails with EPIPE");
    fp_sendq_clear(&q);
    FP_CHECK(shared->refs == 1 && bb->refs == 1, "clear drops references");
    fp_blob_unref(&shared);
    fp_blob_unref(&bb);
    close(sv[0]);
}
#endif
