/*  mem: allocation that never returns NULL (see mem.h).  */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_oom(size_t size)
{
    fprintf(stderr, "fastpush: out of memory allocating %zu bytes\n", size);
    abort();
}

void *
fp_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        s_oom(size);
    return p;
}

void *
fp_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        s_oom(n * size);
    return p;
}

void *
fp_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        s_oom(size);
    return p;
}

char *
fp_strdup(const char *s)
{
    return fp_strndup(s, strlen(s));
}

char *
fp_strndup(const char *s, size_t n)
{
    char *p = fp_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

#ifdef FP_TEST
#include "test.h"

void
fp_mem_test(void)
{
    char *s = fp_strndup("abcdef", 3);
    FP_CHECK(strcmp(s, "abc") == 0, "strndup truncates");
    s = fp_realloc(s, 100);
    FP_CHECK(s[2] == 'c', "realloc keeps content");
    free(s);
    int *z = fp_calloc(4, sizeof(int));
    FP_CHECK(z[0] == 0 && z[3] == 0, "calloc zeroes");
    free(z);
}
#endif
