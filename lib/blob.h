/*  blob: a shared, immutable, reference-counted block of bytes.
 *
 *  A broadcast event is encoded once (an SSE FastCGI record, a WebSocket
 *  frame) into a blob; every connection that sends it holds a reference
 *  (sendq.h), so the bytes are neither copied nor formatted again.
 *  Single-threaded: the loop thread owns every blob.
 */
#ifndef FP_BLOB_H
#define FP_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t refs;              /*  holders; freed at zero  */
    uint32_t len;               /*  bytes in data  */
    char data[];
} fp_blob_t;

/*  A blob holding a copy of data (one reference: the caller's).  */
fp_blob_t *fp_blob_new(const void *data, size_t len);

/*  Take a reference; returns b.  */
fp_blob_t *fp_blob_ref(fp_blob_t *b);

/*  Drop a reference, NULL the pointer; frees at zero.  */
void fp_blob_unref(fp_blob_t **b_p);

/*  Free function for fp_event_t.cache.  */
void fp_blob_cache_free(void *blob);

#endif
