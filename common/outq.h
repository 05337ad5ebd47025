/*  outq: shared immutable byte blocks and a per-connection output queue.
 *
 *  A broadcast event is encoded once (an SSE FastCGI record, a WebSocket
 *  frame) into a blob; every connection's queue holds a reference to the
 *  same blob, and fp_outq_flush writes the queue with writev.  The queue
 *  counts its bytes so the owner can cut a client that stopped reading.
 *  A drained queue keeps a few slots (not its blobs) so that steady
 *  delivery does not allocate; one a burst made large gives them back.
 */
#ifndef FP_OUTQ_H
#define FP_OUTQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t refs;              /*  holders; freed at zero  */
    uint32_t len;               /*  bytes in data  */
    char data[];
} fp_blob_t;

typedef struct {
    fp_blob_t **items;          /*  circular array, NULL while empty  */
    uint32_t head, count, cap;
    uint32_t off;               /*  bytes of items[head] already written  */
    size_t bytes;               /*  bytes waiting  */
} fp_outq_t;

/*  A blob holding a copy of data (one reference: the caller's).  */
fp_blob_t *fp_blob_new(const void *data, size_t len);

/*  Take a reference; returns b.  */
fp_blob_t *fp_blob_ref(fp_blob_t *b);

/*  Drop a reference, NULL the pointer; frees at zero.  */
void fp_blob_unref(fp_blob_t **b_p);

/*  Free function for fp_event_t.cache.  */
void fp_blob_cache_free(void *blob);

/*  Queue a blob (the queue takes its own reference).  */
void fp_outq_push(fp_outq_t *q, fp_blob_t *b);

/*  Queue a copy of bytes.  */
void fp_outq_push_copy(fp_outq_t *q, const void *data, size_t len);

/*  Write as much as the socket takes.  Returns 1 when everything was
 *  written, 0 when the socket is full (wait for EPOLLOUT), -1 on a write
 *  error (errno set: EPIPE, ECONNRESET...).  */
int fp_outq_flush(fp_outq_t *q, int fd);

/*  Drop everything queued and free the array.  */
void fp_outq_clear(fp_outq_t *q);

#endif
