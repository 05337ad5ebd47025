/*  fuzz_file: a scratch file for targets whose parser reads a file (the
 *  ACL, the JWT key, a store segment).  One per process, in $TMPDIR (or
 *  /tmp), removed at a normal exit.
 */
#ifndef FP_FUZZ_FILE_H
#define FP_FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_file_paths[4][256];

static inline void
fuzz_file_cleanup(void)
{
    for (int i = 0; i < 4; i++)
        if (fuzz_file_paths[i][0])
            unlink(fuzz_file_paths[i]);
}

/*  Write `len` bytes to the scratch file called `tag`; returns its path
 *  (static storage, the same on every call with the same tag).  */
static inline const char *
fuzz_file_write(const char *tag, const void *data, size_t len)
{
    static const char *tags[4];
    char (*path)[256] = fuzz_file_paths;
    int i = 0;
    while (i < 4 && tags[i] && strcmp(tags[i], tag) != 0)
        i++;
    if (i == 4)
        abort();
    if (!tags[i]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path[i], sizeof path[i], "%s/fpfuzz-%d-%s",
                 dir && *dir ? dir : "/tmp", (int) getpid(), tag);
        tags[i] = tag;
        if (i == 0)
            atexit(fuzz_file_cleanup);
    }
    FILE *f = fopen(path[i], "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
    return path[i];
}

#endif
