/*  blob: shared immutable byte blocks (see blob.h).  */
#include "blob.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

fp_blob_t *
fp_blob_new(const void *data, size_t len)
{
    fp_blob_t *b = fp_malloc(sizeof *b + len);
    b->refs = 1;
    b->len = (uint32_t) len;
    if (len)
        memcpy(b->data, data, len);
    return b;
}

fp_blob_t *
fp_blob_ref(fp_blob_t *b)
{
    b->refs++;
    return b;
}

void
fp_blob_unref(fp_blob_t **b_p)
{
    fp_blob_t *b = *b_p;
    *b_p = NULL;
    if (b && --b->refs == 0)
        free(b);
}

void
fp_blob_cache_free(void *blob)
{
    fp_blob_t *b = blob;
    fp_blob_unref(&b);
}
