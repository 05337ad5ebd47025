/*  natsb: what the JetStream benchmarks (nats_bench, js_since) share:
 *  the clock, a failure message, and a connection to a comma-separated
 *  list of NATS URLs.  Header-only: each benchmark is one program.  */
#ifndef BENCH_NATSB_H
#define BENCH_NATSB_H

#include <nats/nats.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/*  Seconds on the monotonic clock.  */
static inline double
natsb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*  Say what failed on stderr; returns -1.  */
static inline int
natsb_fail(const char *prog, const char *what, natsStatus s)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, natsStatus_GetText(s));
    return -1;
}

/*  Connect *nc to the servers of urls (comma-separated; the string is
 *  cut up).  The caller destroys *nc and *opts.  0 or -1.  */
static inline int
natsb_connect(const char *prog, char *urls, natsConnection **nc,
              natsOptions **opts)
{
    const char *list[8];
    int n = 0;
    for (char *u = strtok(urls, ","); u && n < 8; u = strtok(NULL, ","))
        list[n++] = u;
    natsStatus s = natsOptions_Create(opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(*opts, list, n);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, *opts);
    return s == NATS_OK ? 0 : natsb_fail(prog, "connect", s);
}

#endif
