/*  loadgen: the load generator of the side-by-side benchmarks.
 *
 *  Opens N SSE, WebSocket, long-poll or interval-poll clients over
 *  several worker processes and 127.x source addresses, at a ramp rate;
 *  optionally runs a publisher process whose events carry their send
 *  time, in phases of given rates; samples the server processes' memory
 *  and CPU from /proc; prints progress on stderr and one JSON result.
 *
 *    loadgen --mode sse --url http://127.0.0.1:8080/sub/%c --conns 1000 \
 *            --pub http http://127.0.0.1:8080/pub/%c --phase 20:5 \
 *            --pid $(cat nginx.pid) --json out.json
 *
 *  Run `loadgen --help` for every option.  See bench/lg.h for the parts.
 */
#include "lg.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    double rate, secs;
} phase_t;

typedef struct {
    lg_opts_t o;
    lg_pubopts_t pub;
    bool have_pub;
    phase_t phases[LG_MAX_PHASES];
    int nphases;
    double hold, duration, drain, ramp_timeout;
    pid_t pids[LG_MAX_PROCS];
    int npids;
    char *json;
    char *status;
    char *label;
    bool quiet;
} args_t;

static lg_shm_t *s_shm;
static int s_nworkers;
static int64_t s_t0;

static void
s_usage(FILE *out)
{
    fprintf(out,
"usage: loadgen --mode sse|ws|longpoll|poll --url URL [options]\n\n"
"Clients (URL path: %%c = channel, %%C = poll cursor; --url repeats and\n"
"connections go round robin over the URLs):\n"
"  --conns N          connections (1000)\n"
"  --workers N        client processes (2; at least one per 15,000)\n"
"  --src-count N      source addresses per worker, 127.W.x.y (50)\n"
"  --rate R           connections opened per second, 0 = at once (2000)\n"
"  --inflight N       handshakes in flight per worker (256)\n"
"  --channels N       connection i uses channel PREFIX(i %% N) (1)\n"
"  --chan-prefix P    channel name prefix (bench)\n"
"  --ws-sub TEXT      WebSocket: message sent after the upgrade (%%c;\n"
"                     %%C = the cursor as JSON, null before the first)\n"
"  --resume           SSE: reopen with Last-Event-ID (the last id: seen)\n"
"  --ws-proto P       WebSocket: Sec-WebSocket-Protocol\n"
"  --cursor-key K     poll: JSON key holding the next cursor (cursor)\n"
"  --cursor0 C        poll: the first cursor\n"
"  --interval MS      poll: pause between a response and the next (0)\n"
"  --churn MS         close each connection MS after its response head\n"
"                     and open it again (connect/disconnect churn)\n"
"  --churn-jitter MS  each lifetime is churn +- up to MS, uniform (0):\n"
"                     spreads the closes of clients opened together\n"
"  --reconnect MS     pause before reopening a lost connection (500)\n"
"  --timeout MS       connect + response head (10000)\n"
"Publisher (events carry their send time):\n"
"  --pub KIND TARGET  zmq-fastpush ENDPOINT | zmq-pushpin ENDPOINT |\n"
"                     http URL (POST, %%c = channel)\n"
"  --size N           data bytes per event (1024)\n"
"  --phase RATE:SECS  publish RATE events/s for SECS (repeat, max %d)\n"
"  --drain S          after a phase, wait up to S for deliveries (5)\n"
"Run:\n"
"  --hold S           idle after the ramp, then sample memory (2)\n"
"  --duration S       measure request/churn rates for S after that (0)\n"
"  --ramp-timeout S   give up the ramp after S without progress (15)\n"
"  --pid PID          a server process; its whole tree is sampled (repeat)\n"
"  --json FILE        write the result there (else stdout)\n"
"  --status FILE      rewrite FILE each second with the totals (JSON)\n"
"  --label TEXT       copied into the result\n"
"  --quiet            no progress lines\n", LG_MAX_PHASES);
}

static void
s_defaults(args_t *a)
{
    memset(a, 0, sizeof *a);
    a->o.mode = LG_SSE;
    a->o.conns = 1000;
    a->o.workers = 2;
    a->o.src_count = 50;
    a->o.rate = 2000;
    a->o.inflight = 256;
    a->o.channels = 1;
    a->o.chan_prefix = "bench";
    a->o.cursor_key = "cursor";
    a->o.cursor0 = "";
    a->o.reconnect_ms = 500;
    a->o.timeout_ms = 10000;
    a->pub.size = 1024;
    a->hold = 2;
    a->drain = 5;
    a->ramp_timeout = 15;
}

static void
s_bad(const char *what)
{
    fprintf(stderr, "loadgen: %s (try --help)\n", what);
    exit(2);
}

static void
s_args(args_t *a, int argc, char **argv)
{
    s_defaults(a);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(k, name) && (v || (s_bad("missing value"), 0)) \
                   && ++i)
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            s_usage(stdout);
            exit(0);
        } else if (!strcmp(k, "--quiet")) {
            a->quiet = true;
        } else if (!strcmp(k, "--resume")) {
            a->o.resume = true;
        } else if (OPT("--mode")) {
            a->o.mode = !strcmp(v, "sse") ? LG_SSE : !strcmp(v, "ws") ? LG_WS
                      : !strcmp(v, "longpoll") ? LG_LONGPOLL
                      : !strcmp(v, "poll") ? LG_POLL : (s_bad("bad mode"),
                                                        LG_SSE);
        } else if (OPT("--url")) {
            if (a->o.nurls == 16)
                s_bad("at most 16 URLs");
            a->o.urls[a->o.nurls++] = argv[i];
        } else if (OPT("--conns")) {
            a->o.conns = atoi(v);
        } else if (OPT("--workers")) {
            a->o.workers = atoi(v);
        } else if (OPT("--src-count")) {
            a->o.src_count = atoi(v);
        } else if (OPT("--rate")) {
            a->o.rate = atof(v);
        } else if (OPT("--inflight")) {
            a->o.inflight = atoi(v);
        } else if (OPT("--channels")) {
            a->o.channels = atoi(v);
            a->pub.channels = a->o.channels;
        } else if (OPT("--chan-prefix")) {
            a->o.chan_prefix = argv[i];
        } else if (OPT("--ws-sub")) {
            a->o.ws_sub = argv[i];
        } else if (OPT("--ws-proto")) {
            a->o.ws_proto = argv[i];
        } else if (OPT("--cursor-key")) {
            a->o.cursor_key = *v ? argv[i] : NULL;
        } else if (OPT("--cursor0")) {
            a->o.cursor0 = argv[i];
        } else if (OPT("--interval")) {
            a->o.interval_ms = atoi(v);
        } else if (OPT("--churn")) {
            a->o.churn_ms = atoi(v);
        } else if (OPT("--churn-jitter")) {
            a->o.churn_jitter_ms = atoi(v);
        } else if (OPT("--reconnect")) {
            a->o.reconnect_ms = atoi(v);
        } else if (OPT("--timeout")) {
            a->o.timeout_ms = atoi(v);
        } else if (OPT("--pub")) {
            if (i + 1 >= argc)
                s_bad("--pub KIND TARGET");
            a->pub.kind = argv[i];
            a->pub.target = argv[++i];
            a->have_pub = true;
        } else if (OPT("--size")) {
            a->pub.size = atoi(v);
        } else if (OPT("--phase")) {
            if (a->nphases == LG_MAX_PHASES)
                s_bad("too many phases");
            phase_t *p = &a->phases[a->nphases++];
            if (sscanf(v, "%lf:%lf", &p->rate, &p->secs) != 2 ||
                p->rate <= 0 || p->secs <= 0)
                s_bad("--phase RATE:SECS");
        } else if (OPT("--drain")) {
            a->drain = atof(v);
        } else if (OPT("--hold")) {
            a->hold = atof(v);
        } else if (OPT("--duration")) {
            a->duration = atof(v);
        } else if (OPT("--ramp-timeout")) {
            a->ramp_timeout = atof(v);
        } else if (OPT("--pid")) {
            if (a->npids < LG_MAX_PROCS && atoi(v) > 0)
                a->pids[a->npids++] = (pid_t) atoi(v);
        } else if (OPT("--json")) {
            a->json = argv[i];
        } else if (OPT("--status")) {
            a->status = argv[i];
        } else if (OPT("--label")) {
            a->label = argv[i];
        } else {
            fprintf(stderr, "loadgen: unknown option '%s'\n", k);
            exit(2);
        }
#undef OPT
    }
    if (a->o.nurls == 0)
        s_bad("--url is required");
    if (a->o.channels < 1 || a->o.conns < 1 || a->o.src_count < 1 ||
        a->o.inflight < 1 || a->pub.size < 64)
        s_bad("counts must be positive and --size at least 64");
    if (a->o.src_count > 250 * 250)
        s_bad("--src-count too large");
    if (a->pub.channels < 1)
        a->pub.channels = a->o.channels;
    a->pub.chan_prefix = a->o.chan_prefix;
    int need = (a->o.conns + 14999) / 15000;
    if (a->o.workers < need)
        a->o.workers = need;
    if (a->o.workers > a->o.conns)
        a->o.workers = a->o.conns;
    if (a->o.workers > LG_MAX_WORKERS)
        s_bad("too many workers");
    if (a->nphases && !a->have_pub)
        s_bad("--phase needs --pub");
}

/* ------------------------------------------------------------ totals */

typedef struct {
    uint64_t connected, established, attempts, failed, non2xx, reconnects,
             cycles, requests, msgs, gaps, dups, resets, bytes_in, bytes_out;
    uint64_t recv[LG_MAX_PHASES], phase_bytes[LG_MAX_PHASES];
} totals_t;

static void
s_totals(totals_t *t)
{
    memset(t, 0, sizeof *t);
    for (int w = 0; w < s_nworkers; w++) {
        const lg_wstats_t *s = &s_shm->w[w];
        t->connected += s->connected;
        t->established += s->established;
        t->attempts += s->attempts;
        t->failed += s->failed;
        t->non2xx += s->non2xx;
        t->reconnects += s->reconnects;
        t->cycles += s->cycles;
        t->requests += s->requests;
        t->msgs += s->msgs;
        t->gaps += s->gaps;
        t->dups += s->dups;
        t->resets += s->resets;
        t->bytes_in += s->bytes_in;
        t->bytes_out += s->bytes_out;
        for (int p = 0; p < LG_MAX_PHASES; p++) {
            t->recv[p] += s->recv[p];
            t->phase_bytes[p] += s->phase_bytes[p];
        }
    }
}

static void
s_merge(uint32_t *out, int phase)
{
    memset(out, 0, sizeof(uint32_t) * LG_HBUCKETS);
    for (int w = 0; w < s_nworkers; w++) {
        const uint32_t *h = phase >= 0 ? s_shm->w[w].hist[phase]
                                       : s_shm->w[w].req_hist;
        for (int i = 0; i < LG_HBUCKETS; i++)
            out[i] += h[i];
    }
}

static double
s_secs(void)
{
    return (double) (lg_now_ns() - s_t0) / 1e9;
}

static const char *s_first_error(void);
static void s_json_str(FILE *f, const char *s);

/*  The totals so far, for a caller that watches a long run (--status):
 *  written beside FILE, then renamed over it.  */
static void
s_status(const args_t *a, const char *what, const totals_t *t)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", a->status);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    uint64_t rx = 0, pub = 0;
    for (int p = 0; p < LG_MAX_PHASES; p++) {
        rx += t->recv[p];
        pub += s_shm->published[p];
    }
    fprintf(f, "{\"t\":%.2f,\"stage\":\"%s\",\"conns\":%d,"
            "\"connected\":%llu,\"established\":%llu,\"attempts\":%llu,"
            "\"failed\":%llu,\"non2xx\":%llu,\"reconnects\":%llu,"
            "\"cycles\":%llu,\"requests\":%llu,\"msgs\":%llu,"
            "\"received\":%llu,\"gaps\":%llu,\"dups\":%llu,\"resets\":%llu,"
            "\"published\":%llu,\"pub_errors\":%llu,\"first_error\":",
            s_secs(), what, a->o.conns, (unsigned long long) t->connected,
            (unsigned long long) t->established,
            (unsigned long long) t->attempts, (unsigned long long) t->failed,
            (unsigned long long) t->non2xx,
            (unsigned long long) t->reconnects,
            (unsigned long long) t->cycles, (unsigned long long) t->requests,
            (unsigned long long) t->msgs, (unsigned long long) rx,
            (unsigned long long) t->gaps, (unsigned long long) t->dups,
            (unsigned long long) t->resets, (unsigned long long) pub,
            (unsigned long long) s_shm->pub_errors);
    s_json_str(f, s_first_error());
    fprintf(f, "}\n");
    if (fclose(f) == 0)
        rename(tmp, a->status);
}

static void
s_progress(const args_t *a, const char *what)
{
    totals_t t;
    s_totals(&t);
    if (a->status)
        s_status(a, what, &t);
    if (a->quiet)
        return;
    int ph = s_shm->phase;
    fprintf(stderr, "[loadgen %6.1fs] %-8s conn %llu/%d  fail %llu  "
            "non2xx %llu  reconn %llu  msgs %llu  req %llu  in %.1f MB",
            s_secs(), what, (unsigned long long) t.connected, a->o.conns,
            (unsigned long long) t.failed, (unsigned long long) t.non2xx,
            (unsigned long long) t.reconnects, (unsigned long long) t.msgs,
            (unsigned long long) t.requests, (double) t.bytes_in / 1e6);
    if (t.gaps || t.dups || t.resets)
        fprintf(stderr, "  gaps %llu dups %llu resets %llu",
                (unsigned long long) t.gaps, (unsigned long long) t.dups,
                (unsigned long long) t.resets);
    if (ph >= 0)
        fprintf(stderr, "  phase %d: pub %llu rx %llu", ph,
                (unsigned long long) s_shm->published[ph],
                (unsigned long long) t.recv[ph]);
    fputc('\n', stderr);
}

static void
s_sleep_progress(const args_t *a, double secs, const char *what)
{
    double end = s_secs() + secs, next = s_secs() + 1;
    while (s_secs() < end) {
        usleep(50000);
        if (s_secs() >= next) {
            s_progress(a, what);
            next += 1;
        }
    }
}

/* ------------------------------------------------------------ JSON */

static void
s_json_mem(FILE *f, const char *name, const lg_mem_t *m)
{
    fprintf(f, "\"%s\":{\"procs\":%d,\"rss_kb\":%llu,\"pss_kb\":%llu,"
            "\"cpu_s\":%.2f,\"by_name\":{", name, m->nprocs,
            (unsigned long long) m->rss_kb, (unsigned long long) m->pss_kb,
            m->cpu_s);
    for (int i = 0; i < m->nnames; i++)
        fprintf(f, "%s\"%s\":{\"count\":%d,\"rss_kb\":%llu,\"pss_kb\":%llu,"
                "\"cpu_s\":%.2f}", i ? "," : "", m->by_name[i].name,
                m->by_name[i].count,
                (unsigned long long) m->by_name[i].rss_kb,
                (unsigned long long) m->by_name[i].pss_kb,
                m->by_name[i].cpu_s);
    fprintf(f, "}}");
}

static void
s_json_hist(FILE *f, const uint32_t *h)
{
    fprintf(f, "\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
            "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f",
            (unsigned long long) lg_hist_count(h),
            lg_hist_quantile(h, 0.5) / 1e3, lg_hist_quantile(h, 0.9) / 1e3,
            lg_hist_quantile(h, 0.99) / 1e3, lg_hist_quantile(h, 0.999) / 1e3,
            lg_hist_quantile(h, 1.0) / 1e3);
}

static void
s_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char) *s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

typedef struct {
    uint64_t connected_at_start;
    double secs_to_last;        /*  phase start to the last delivery  */
    double cpu_s;               /*  server CPU during the phase  */
    uint64_t expected;
} phase_res_t;

static void
s_write(const args_t *a, const lg_mem_t *m0, const lg_mem_t *m1,
        const lg_mem_t *m2, double ramp_s, const phase_res_t *pr,
        const totals_t *win0, const totals_t *win1, double win_s,
        double win_cpu)
{
    static const char *modes[] = { "sse", "ws", "longpoll", "poll" };
    FILE *f = a->json ? fopen(a->json, "w") : stdout;
    if (!f) {
        perror(a->json);
        exit(1);
    }
    totals_t t;
    s_totals(&t);
    uint64_t idle_conns = win0->connected;
    fprintf(f, "{\"label\":");
    s_json_str(f, a->label ? a->label : "");
    fprintf(f, ",\"mode\":\"%s\",\"conns\":%d,\"workers\":%d,"
            "\"channels\":%d,\"rate\":%.0f,\"size\":%d,\"urls\":[",
            modes[a->o.mode], a->o.conns, a->o.workers, a->o.channels,
            a->o.rate, a->pub.size);
    for (int u = 0; u < a->o.nurls; u++) {
        fprintf(f, u ? "," : "");
        s_json_str(f, a->o.urls[u]);
    }
    fprintf(f, "],\"ramp\":{\"secs\":%.2f,\"connected\":%llu,"
            "\"attempts\":%llu},", ramp_s, (unsigned long long) idle_conns,
            (unsigned long long) win0->attempts);
    uint32_t h[LG_HBUCKETS];
    s_merge(h, -1);
    fprintf(f, "\"handshake_or_request\":{");
    s_json_hist(f, h);
    fprintf(f, "},\"mem\":{");
    s_json_mem(f, "base", m0);
    fputc(',', f);
    s_json_mem(f, "idle", m1);
    fputc(',', f);
    s_json_mem(f, "end", m2);
    double conns = idle_conns ? (double) idle_conns : 1;
    fprintf(f, ",\"per_conn_pss_kb\":%.2f,\"per_conn_rss_kb\":%.2f},",
            ((double) m1->pss_kb - (double) m0->pss_kb) / conns,
            ((double) m1->rss_kb - (double) m0->rss_kb) / conns);
    fprintf(f, "\"window\":{\"secs\":%.2f,\"requests_per_s\":%.1f,"
            "\"cycles_per_s\":%.1f,\"msgs_per_s\":%.1f,\"server_cpu_s\":%.2f,"
            "\"failed\":%llu,\"non2xx\":%llu},",
            win_s, win_s > 0 ? (double) (win1->requests - win0->requests) /
                               win_s : 0,
            win_s > 0 ? (double) (win1->cycles - win0->cycles) / win_s : 0,
            win_s > 0 ? (double) (win1->msgs - win0->msgs) / win_s : 0,
            win_cpu, (unsigned long long) (win1->failed - win0->failed),
            (unsigned long long) (win1->non2xx - win0->non2xx));
    fprintf(f, "\"phases\":[");
    for (int p = 0; p < a->nphases; p++) {
        s_merge(h, p);
        /*  a system that keeps up delivers at the offered rate: the last
         *  event goes out 1/rate before the phase's end  */
        double secs = pr[p].secs_to_last > a->phases[p].secs
                    ? pr[p].secs_to_last : a->phases[p].secs;
        fprintf(f, "%s{\"rate\":%.2f,\"secs\":%.1f,\"published\":%llu,"
                "\"pub_elapsed\":%.3f,\"connected\":%llu,\"expected\":%llu,"
                "\"received\":%llu,\"delivery_ratio\":%.5f,"
                "\"deliveries_per_s\":%.0f,\"bytes_per_event\":%.1f,"
                "\"server_cpu_s\":%.2f,\"server_us_per_delivery\":%.2f,",
                p ? "," : "", a->phases[p].rate, a->phases[p].secs,
                (unsigned long long) s_shm->published[p],
                s_shm->pub_elapsed[p],
                (unsigned long long) pr[p].connected_at_start,
                (unsigned long long) pr[p].expected,
                (unsigned long long) t.recv[p],
                pr[p].expected ? (double) t.recv[p] / (double) pr[p].expected
                               : 0,
                (double) t.recv[p] / secs,
                t.recv[p] ? (double) t.phase_bytes[p] / (double) t.recv[p] : 0,
                pr[p].cpu_s,
                t.recv[p] ? pr[p].cpu_s * 1e6 / (double) t.recv[p] : 0);
        s_json_hist(f, h);
        fputc('}', f);
    }
    fprintf(f, "],\"totals\":{\"attempts\":%llu,\"established\":%llu,"
            "\"failed\":%llu,\"non2xx\":%llu,\"reconnects\":%llu,"
            "\"cycles\":%llu,\"requests\":%llu,\"msgs\":%llu,"
            "\"gaps\":%llu,\"dups\":%llu,\"resets\":%llu,"
            "\"bytes_in\":%llu,\"bytes_out\":%llu,\"pub_errors\":%llu},",
            (unsigned long long) t.attempts,
            (unsigned long long) t.established, (unsigned long long) t.failed,
            (unsigned long long) t.non2xx, (unsigned long long) t.reconnects,
            (unsigned long long) t.cycles, (unsigned long long) t.requests,
            (unsigned long long) t.msgs, (unsigned long long) t.gaps,
            (unsigned long long) t.dups, (unsigned long long) t.resets,
            (unsigned long long) t.bytes_in,
            (unsigned long long) t.bytes_out,
            (unsigned long long) s_shm->pub_errors);
    fprintf(f, "\"first_error\":");
    s_json_str(f, s_first_error());
    fprintf(f, ",\"pub_error\":");
    s_json_str(f, s_shm->pub_error);
    fprintf(f, "}\n");
    if (f != stdout)
        fclose(f);
}

static const char *
s_first_error(void)
{
    for (int w = 0; w < s_nworkers; w++)
        if (s_shm->w[w].first_error[0])
            return s_shm->w[w].first_error;
    return "";
}

/* ------------------------------------------------------------ main */

/*  Wait for the deliveries of phase p: until all expected arrived, or
 *  nothing new came for a second, or `drain` seconds passed.  */
static double
s_drain(const args_t *a, int p, uint64_t expected, double start)
{
    double end = s_secs() + a->drain, last_change = s_secs();
    double next = s_secs() + 1;
    totals_t t;
    s_totals(&t);
    uint64_t seen = t.recv[p];
    double last_rx = seen ? s_secs() : start;
    while (s_secs() < end) {
        usleep(20000);
        s_totals(&t);
        if (t.recv[p] != seen) {
            seen = t.recv[p];
            last_change = last_rx = s_secs();
        }
        if (seen >= expected || s_secs() - last_change > 1.0)
            break;
        if (s_secs() >= next) {
            s_progress(a, "drain");
            next += 1;
        }
    }
    return last_rx - start;
}

int
main(int argc, char **argv)
{
    args_t a;
    s_args(&a, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    s_t0 = lg_now_ns();
    a.o.t0 = s_t0;
    s_nworkers = a.o.workers;
    s_shm = mmap(NULL, sizeof *s_shm, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s_shm == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    s_shm->phase = -1;
    s_shm->pub_phase = -1;
    for (int p = 0; p < a.nphases; p++) {
        s_shm->pub_rate[p] = a.phases[p].rate;
        s_shm->pub_secs[p] = a.phases[p].secs;
    }
    lg_mem_t m0, m1, m2;
    lg_mem_sample(a.pids, a.npids, &m0);

    pid_t kids[LG_MAX_WORKERS + 1];
    int nkids = 0;
    if (a.have_pub) {
        pid_t pid = fork();
        if (pid == 0)
            lg_pub_run(&a.pub, s_shm);
        kids[nkids++] = pid;
    }
    int per = a.o.conns / a.o.workers, extra = a.o.conns % a.o.workers;
    for (int w = 0, first = 0; w < a.o.workers; w++) {
        int count = per + (w < extra);
        pid_t pid = fork();
        if (pid == 0)
            lg_worker_run(&a.o, s_shm, w, first, count);
        kids[nkids++] = pid;
        first += count;
    }

    /*  ramp  */
    totals_t t;
    uint64_t last = 0;
    double last_change = s_secs(), next = s_secs() + 1;
    for (;;) {
        usleep(20000);
        s_totals(&t);
        if (t.connected != last) {
            last = t.connected;
            last_change = s_secs();
        }
        if ((int) t.connected >= a.o.conns ||
            s_secs() - last_change > a.ramp_timeout)
            break;
        if (s_secs() >= next) {
            s_progress(&a, "ramp");
            next += 1;
        }
    }
    double ramp_s = s_secs();
    s_progress(&a, "ramped");
    s_sleep_progress(&a, a.hold, "hold");
    lg_mem_sample(a.pids, a.npids, &m1);

    /*  measurement window (poll requests, churn)  */
    totals_t w0, w1;
    s_totals(&w0);
    double win_s = 0, win_cpu = 0;
    if (a.duration > 0) {
        double c0 = m1.cpu_s, s0 = s_secs();
        s_sleep_progress(&a, a.duration, "measure");
        lg_mem_t mw;
        lg_mem_sample(a.pids, a.npids, &mw);
        win_s = s_secs() - s0;
        win_cpu = mw.cpu_s - c0;
    }
    s_totals(&w1);

    /*  publish phases  */
    phase_res_t pr[LG_MAX_PHASES] = { { 0 } };
    for (int i = 0; i < 200 && a.have_pub && !s_shm->pub_ready; i++)
        usleep(10000);
    for (int p = 0; p < a.nphases; p++) {
        lg_mem_t mb, me;
        lg_mem_sample(a.pids, a.npids, &mb);
        s_totals(&t);
        pr[p].connected_at_start = t.connected;
        s_shm->phase = p;
        double start = s_secs();
        s_shm->pub_phase = p;
        next = s_secs() + 1;
        while (s_shm->pub_done != p + 1) {
            usleep(20000);
            if (s_secs() - start > a.phases[p].secs * 2 + 30) {
                fprintf(stderr, "loadgen: the publisher did not finish "
                        "phase %d in time\n", p);
                break;
            }
            if (s_secs() >= next) {
                s_progress(&a, "publish");
                next += 1;
            }
        }
        pr[p].expected = (uint64_t) llround((double) s_shm->published[p] *
                                            (double) t.connected /
                                            (double) a.o.channels);
        pr[p].secs_to_last = s_drain(&a, p, pr[p].expected, start);
        lg_mem_sample(a.pids, a.npids, &me);
        pr[p].cpu_s = me.cpu_s - mb.cpu_s;
        s_progress(&a, "phase");
        s_shm->phase = -1;
        usleep(300000);
    }
    lg_mem_sample(a.pids, a.npids, &m2);
    s_shm->stop = 1;
    int rc = 0;
    for (int k = 0; k < nkids; k++) {
        int st;
        if (waitpid(kids[k], &st, 0) == kids[k] &&
            !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            fprintf(stderr, "loadgen: %s process %d ended badly (status "
                    "0x%x)\n", a.have_pub && k == 0 ? "publisher" : "worker",
                    (int) kids[k], st);
            rc = 1;
        }
    }
    s_write(&a, &m0, &m1, &m2, ramp_s, pr, &w0, &w1, win_s, win_cpu);
    return rc;
}
