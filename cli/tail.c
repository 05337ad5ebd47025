/*  tail: follow channels live, resuming from a cursor, through the same
 *  hub the responders use (gap backfill, resets, epoch changes).  */
#include "cli.h"
#include "clock.h"
#include "hub.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cli_t *cli;
    long count;                 /*  stop after this many events (0: never)  */
    long seen;
    bool done;
    int rc;
} tail_t;

static void
s_event(fp_member_t *m, fp_event_t *ev, unsigned flags, void *ctx)
{
    tail_t *t = ctx;
    bool snapshot = flags & FP_EVENT_SNAPSHOT;
    cli_print_event(t->cli, ev->json, ev->json_len, snapshot);
    if (!snapshot && t->count && ++t->seen >= t->count)
        t->done = true;
}

static void
s_reset(fp_member_t *m, const char *channel, const char *reason,
        bool snapshot, void *ctx)
{
    tail_t *t = ctx;
    cli_print_reset(t->cli, channel, reason, snapshot);
}

static void
s_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    tail_t *t = ctx;
    if (!t->cli->json)
        fprintf(stderr, "# live from %s\n", cursor);
}

static void
s_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    tail_t *t = ctx;
    fprintf(stderr, "fastpush: refused (%s): %s\n", code, msg ? msg : "");
    t->rc = CLI_REFUSED;
    t->done = true;
}

static const fp_member_cbs_t s_cbs = { s_event, s_reset, s_ready, s_failed };

int
cli_tail(cli_t *cli, int argc, char **argv)
{
    const char *since = NULL, *chans[256];
    size_t n = 0;
    double seconds = 0;
    tail_t t = { .cli = cli };
    char err[FP_ERR_LEN];

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            since = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            t.count = atol(argv[++i]);
        else if (strcmp(argv[i], "--for") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (n < 256 && argv[i][0] != '-')
            chans[n++] = argv[i];
        else {
            fprintf(stderr, "usage: fastpush tail CHANNEL... [--since CURSOR"
                    "|earliest] [--count N] [--for SECONDS]\n");
            return CLI_USAGE;
        }
    }
    if (n == 0) {
        fprintf(stderr, "usage: fastpush tail CHANNEL... [--since CURSOR]\n");
        return CLI_USAGE;
    }
    fp_hub_conf_t conf = { .fanout = cli->fanout, .control = cli->control,
                           .link = &cli->link };
    fp_hub_t *hub = fp_hub_new(&conf, err);
    if (!hub) {
        fprintf(stderr, "fastpush: %s\n", err);
        return CLI_UNREACHABLE;
    }
    fp_member_t *m = fp_member_new(hub, chans, n, since, &s_cbs, &t, err);
    if (!m) {
        fprintf(stderr, "fastpush: %s\n", err);
        fp_hub_destroy(&hub);
        return CLI_USAGE;
    }
    int fds[2];
    fp_hub_fds(hub, fds);
    int64_t end = seconds > 0 ? fp_clock_ms() + (int64_t) (seconds * 1000) : 0;
    while (!t.done && !zsys_interrupted && (!end || fp_clock_ms() < end)) {
        zmq_pollitem_t items[2] = { { NULL, fds[0], ZMQ_POLLIN, 0 },
                                    { NULL, fds[1], ZMQ_POLLIN, 0 } };
        bool more = fp_hub_process(hub);
        if (!more && zmq_poll(items, 2, 200) < 0 && !zsys_interrupted)
            break;
        fp_hub_tick(hub, fp_clock_ms());
    }
    fp_member_destroy(&m);
    fp_hub_destroy(&hub);
    return t.rc;
}
