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

#ifdef FP_TEST
#include "test.h"

/*  Called through a pointer: gcc's -Wuse-after-free cannot tell that the
 *  other reference keeps the blob alive, and would refuse the checks.  */
static void (*volatile s_unref)(fp_blob_t **) = fp_blob_unref;
static void (*volatile s_cache_free)(void *) = fp_blob_cache_free;

void
fp_blob_test(void)
{
    char src[] = "event";
    fp_blob_t *b = fp_blob_new(src, 5);
    src[0] = 'X';
    FP_CHECK(b->refs == 1 && b->len == 5 && memcmp(b->data, "event", 5) == 0,
             "a copy of the bytes, one reference");
    fp_blob_t *r = fp_blob_ref(b);
    FP_CHECK(r == b && b->refs == 2, "ref returns the same blob");
    s_unref(&r);
    FP_CHECK(r == NULL && b->refs == 1, "unref NULLs the holder's pointer");
    s_cache_free(fp_blob_ref(b));
    FP_CHECK(b->refs == 1, "the event-cache free drops one reference");
    fp_blob_unref(&b);                  /*  freed: the sanitizer checks  */
    fp_blob_unref(&b);
    FP_CHECK(b == NULL, "unref of NULL is harmless");
    fp_blob_t *empty = fp_blob_new(NULL, 0);
    FP_CHECK(empty->len == 0 && empty->refs == 1, "an empty blob");
    fp_blob_unref(&empty);
}
#endif
