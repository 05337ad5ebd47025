/*  sendq: a per-connection output queue of shared blobs (blob.h).
 *
 *  Every connection's queue holds a reference to the same blob of a
 *  broadcast event, and fp_sendq_flush writes the queue with writev.  The queue
 *  counts its bytes so the owner can cut a client that stopped reading.
 *  A drained queue keeps a few slots (not its blobs) so that steady
 *  delivery does not allocate; one a burst made large gives them back.
 */
#ifndef FP_SENDQ_H
#define FP_SENDQ_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"

typedef struct {
    fp_blob_t **items;          /*  circular array, NULL while empty  */
    uint32_t head, count, cap;
    uint32_t off;               /*  bytes of items[head] already written  */
    size_t bytes;               /*  bytes waiting  */
} fp_sendq_t;

/*  Queue a blob (the queue takes its own reference).  */
void fp_sendq_push(fp_sendq_t *q, fp_blob_t *b);

/*  Queue a copy of bytes.  */
void fp_sendq_push_copy(fp_sendq_t *q, const void *data, size_t len);

/*  Write as much as the socket takes.  Returns 1 when everything was
 *  written, 0 when the socket is full (wait for EPOLLOUT), -1 on a write
 *  error (errno set: EPIPE, ECONNRESET...).  */
int fp_sendq_flush(fp_sendq_t *q, int fd);

/*  Drop everything queued and free the array.  */
void fp_sendq_clear(fp_sendq_t *q);

#endif
