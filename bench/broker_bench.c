/*  broker_bench: micro-benchmarks of a running fastpush-broker.
 *
 *    broker_bench ingest  INGEST FANOUT  N SIZE
 *        PUSH N events of SIZE data bytes through PULL as fast as possible
 *        while one SUB counts them; prints events/s from first send to
 *        last receipt.
 *    broker_bench publish CONTROL FANOUT N SIZE
 *        the same with acknowledged PUBLISH (one DEALER, 256 in flight).
 *    broker_bench window  CONTROL FANOUT N SIZE DEALERS INFLIGHT
 *        acknowledged PUBLISH over DEALERS sockets, each keeping INFLIGHT
 *        requests in flight; every event carries its send time, so the SUB
 *        measures publish -> delivery and each DEALER publish -> reply;
 *        prints acknowledged events/s and both latencies' p50/p99 (ms).
 *    broker_bench since   CONTROL CHANNEL HISTORY MISSED ROUNDS [CHANNELS ASKED]
 *        fill CHANNEL with HISTORY events, then time ROUNDS SINCE requests
 *        that each return the last MISSED events; prints p50/p99/max.
 *        With CHANNELS, HISTORY events go round-robin to CHANNEL0 ..
 *        CHANNEL<CHANNELS-1> and SINCE asks for the first ASKED of them
 *        from the cursor after which they hold MISSED events.
 *
 *  Output is one JSON object per line, read by bench/run.py.
 */
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static char *
s_event(const char *channel, int size)
{
    char *data = malloc((size_t) size + 1);
    memset(data, 'x', (size_t) size);
    data[size] = '\0';
    char *ev = malloc((size_t) size + 128);
    snprintf(ev, (size_t) size + 128, "{\"channel\":\"%s\",\"data\":\"%s\"}",
             channel, data);
    free(data);
    return ev;
}

static zsock_t *
s_sub(const char *fanout, const char *channel)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(sub, 0);
    zmq_setsockopt(zsock_resolve(sub), ZMQ_SUBSCRIBE, channel,
                   strlen(channel) + 1);
    zsock_connect(sub, "%s", fanout);
    /*  wait for the sync mark: the subscription is in place  */
    zmsg_t *m = zmsg_recv(sub);
    zmsg_destroy(&m);
    return sub;
}

/*  Drain everything readable from sub; returns events counted (marks
 *  such as beacons are not events).  */
static long
s_drain(zsock_t *sub)
{
    long n = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, zsock_resolve(sub), ZMQ_DONTWAIT) >= 0)
        if (!zmq_msg_more(&msg) && zmq_msg_size(&msg) > 6 &&
            memcmp(zmq_msg_data(&msg), "{\"id\":", 6) == 0)
            n++;
    zmq_msg_close(&msg);
    return n;
}

static int
s_ingest(const char *ingest, const char *fanout, long n, int size)
{
    zsock_t *sub = s_sub(fanout, "bench");
    zsock_t *push = zsock_new(ZMQ_PUSH);
    zsock_set_sndhwm(push, 0);
    zsock_connect(push, "%s", ingest);
    char *ev = s_event("bench", size);
    size_t len = strlen(ev);
    long got = 0;
    double t0 = s_now();
    for (long i = 0; i < n; i++) {
        zmq_send(zsock_resolve(push), ev, len, 0);
        if ((i & 1023) == 0)
            got += s_drain(sub);
    }
    double sent = s_now();
    while (got < n && s_now() - sent < 60) {
        zmq_pollitem_t it = { zsock_resolve(sub), 0, ZMQ_POLLIN, 0 };
        zmq_poll(&it, 1, 100);
        got += s_drain(sub);
    }
    double t = s_now() - t0;
    printf("{\"bench\":\"ingest\",\"events\":%ld,\"received\":%ld,"
           "\"size\":%d,\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
           n, got, size, t, (double) got / t);
    free(ev);
    zsock_destroy(&push);
    zsock_destroy(&sub);
    return got == n ? 0 : 1;
}

static int
s_publish(const char *control, const char *fanout, long n, int size)
{
    zsock_t *sub = s_sub(fanout, "bench");
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(dealer, 0);
    zsock_set_rcvhwm(dealer, 0);
    zsock_connect(dealer, "%s", control);
    char *ev = s_event("bench", size);
    size_t len = strlen(ev);
    long sent = 0, acked = 0, got = 0;
    double t0 = s_now();
    while (acked < n) {
        while (sent < n && sent - acked < 256) {
            zmq_send(zsock_resolve(dealer), "PUBLISH", 7, ZMQ_SNDMORE);
            zmq_send(zsock_resolve(dealer), ev, len, 0);
            sent++;
        }
        zmsg_t *r = zmsg_recv(dealer);
        if (!r)
            break;
        zmsg_destroy(&r);
        acked++;
        got += s_drain(sub);
    }
    double t = s_now() - t0;
    printf("{\"bench\":\"publish\",\"events\":%ld,\"acked\":%ld,"
           "\"size\":%d,\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
           n, acked, size, t, (double) acked / t);
    free(ev);
    zsock_destroy(&dealer);
    zsock_destroy(&sub);
    return acked == n ? 0 : 1;
}

/*  The event of `channel` whose data starts with "T<send time in ns>".  */
static size_t
s_event_at(char *buf, size_t cap, const char *channel, int size, double t)
{
    int n = snprintf(buf, cap, "{\"channel\":\"%s\",\"data\":\"T%019lld",
                     channel, (long long) (t * 1e9));
    while (n < size + 30 && (size_t) n + 3 < cap)
        buf[n++] = 'x';
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
    return (size_t) n;
}

/*  The send time an event carries (see s_event_at), or -1.  */
static double
s_event_time(const char *ev, size_t len)
{
    const char *p = memmem(ev, len, "\"data\":\"T", 9);
    if (!p || p + 9 + 19 > ev + len)
        return -1;
    long long ns = 0;
    for (int i = 0; i < 19; i++)
        ns = ns * 10 + (p[9 + i] - '0');
    return (double) ns / 1e9;
}

static int s_cmp(const void *a, const void *b);

static void
s_pcts(double *v, long n, double *p50, double *p99)
{
    if (n == 0) {
        *p50 = *p99 = -1;
        return;
    }
    qsort(v, (size_t) n, sizeof *v, s_cmp);
    *p50 = v[n / 2] * 1e3;
    *p99 = v[n * 99 / 100] * 1e3;
}

static int
s_window(const char *control, const char *fanout, long n, int size,
         int dealers, int inflight)
{
    zsock_t *sub = s_sub(fanout, "bench");
    zsock_t **d = calloc((size_t) dealers, sizeof *d);
    long *sent = calloc((size_t) dealers, sizeof *sent);
    long *acked = calloc((size_t) dealers, sizeof *acked);
    /*  each DEALER's send times, a ring of INFLIGHT (replies in order)  */
    double *times = calloc((size_t) dealers * (size_t) inflight, sizeof *times);
    double *ack_lat = calloc((size_t) n, sizeof *ack_lat);
    double *dlv_lat = calloc((size_t) n, sizeof *dlv_lat);
    zmq_pollitem_t *items = calloc((size_t) dealers + 1, sizeof *items);
    size_t cap = (size_t) size + 256;
    char *ev = malloc(cap);
    long total_sent = 0, total_acked = 0, errors = 0, got = 0;

    for (int i = 0; i < dealers; i++) {
        d[i] = zsock_new(ZMQ_DEALER);
        zsock_set_sndhwm(d[i], 0);
        zsock_set_rcvhwm(d[i], 0);
        zsock_connect(d[i], "%s", control);
        items[i] = (zmq_pollitem_t) { zsock_resolve(d[i]), 0, ZMQ_POLLIN, 0 };
    }
    items[dealers] = (zmq_pollitem_t) { zsock_resolve(sub), 0, ZMQ_POLLIN, 0 };
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    double t0 = s_now(), last_ack = t0;
    while ((total_acked < n || got < n) && s_now() - last_ack < 30) {
        for (int i = 0; i < dealers; i++)
            while (total_sent < n && sent[i] - acked[i] < inflight) {
                double t = s_now();
                size_t len = s_event_at(ev, cap, "bench", size, t);
                times[(size_t) i * (size_t) inflight +
                      (size_t) (sent[i] % inflight)] = t;
                zmq_send(zsock_resolve(d[i]), "PUBLISH", 7, ZMQ_SNDMORE);
                zmq_send(zsock_resolve(d[i]), ev, len, 0);
                sent[i]++;
                total_sent++;
            }
        if (zmq_poll(items, dealers + 1, 100) <= 0)
            continue;
        for (int i = 0; i < dealers; i++)
            while (1) {
                if (zmq_msg_recv(&msg, items[i].socket, ZMQ_DONTWAIT) < 0)
                    break;
                bool ok = zmq_msg_size(&msg) == 2 &&
                          memcmp(zmq_msg_data(&msg), "OK", 2) == 0;
                while (zmq_msg_more(&msg))
                    zmq_msg_recv(&msg, items[i].socket, 0);
                double now = s_now();
                if (!ok)
                    errors++;
                else            /*  0: an error's slot, left out below  */
                    ack_lat[total_acked] =
                        now - times[(size_t) i * (size_t) inflight +
                                    (size_t) (acked[i] % inflight)];
                acked[i]++;
                total_acked++;
                last_ack = now;
            }
        while (zmq_msg_recv(&msg, items[dealers].socket, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_more(&msg) || got >= n)
                continue;
            double t = s_event_time(zmq_msg_data(&msg), zmq_msg_size(&msg));
            if (t > 0)
                dlv_lat[got++] = s_now() - t;
        }
    }
    double acked_at = last_ack - t0;
    zmq_msg_close(&msg);
    long oks = 0;
    for (long i = 0; i < total_acked; i++)
        if (ack_lat[i] > 0)
            ack_lat[oks++] = ack_lat[i];
    double a50, a99, d50, d99;
    s_pcts(ack_lat, oks, &a50, &a99);
    s_pcts(dlv_lat, got, &d50, &d99);
    printf("{\"bench\":\"window\",\"events\":%ld,\"acked\":%ld,\"errors\":%ld,"
           "\"received\":%ld,\"size\":%d,\"dealers\":%d,\"inflight\":%d,"
           "\"seconds\":%.3f,\"events_per_s\":%.0f,\"ack_p50_ms\":%.3f,"
           "\"ack_p99_ms\":%.3f,\"delivery_p50_ms\":%.3f,"
           "\"delivery_p99_ms\":%.3f}\n", n, total_acked - errors, errors, got,
           size, dealers, inflight, acked_at,
           (double) (total_acked - errors) / acked_at, a50, a99, d50, d99);
    for (int i = 0; i < dealers; i++)
        zsock_destroy(&d[i]);
    zsock_destroy(&sub);
    free(d);
    free(sent);
    free(acked);
    free(times);
    free(ack_lat);
    free(dlv_lat);
    free(items);
    free(ev);
    return total_acked - errors == n && got == n ? 0 : 1;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static int
s_since(const char *control, const char *channel, long history, long missed,
        int rounds, int channels, int asked)
{
    zsock_t *push = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(push, 0);
    zsock_connect(push, "%s", control);
    char name[128];
    char **evs = calloc((size_t) channels, sizeof *evs);
    for (int c = 0; c < channels; c++) {
        if (channels > 1)
            snprintf(name, sizeof name, "%s%d", channel, c);
        else
            snprintf(name, sizeof name, "%s", channel);
        evs[c] = s_event(name, 100);
    }
    for (long i = 0; i < history; i++) {
        const char *ev = evs[i % channels];
        zmq_send(zsock_resolve(push), "PUBLISH", 7, ZMQ_SNDMORE);
        zmq_send(zsock_resolve(push), ev, strlen(ev), 0);
        if (i % 256 == 255 || i == history - 1)
            for (int k = 0; k < (i % 256) + 1; k++) {
                zmsg_t *r = zmsg_recv(push);
                zmsg_destroy(&r);
            }
    }
    zstr_send(push, "PING");
    zmsg_t *r = zmsg_recv(push);
    zframe_t *st = zmsg_pop(r);
    char *meta = zmsg_popstr(r);
    char epoch[64];
    long long head = 0;
    const char *e = strstr(meta, "\"epoch\":\""), *h = strstr(meta, "\"head\":");
    sscanf(e + 9, "%63[^\"]", epoch);
    sscanf(h + 7, "%lld", &head);
    free(meta);
    zframe_destroy(&st);
    zmsg_destroy(&r);
    /*  the asked channels hold `missed` events after the cursor  */
    long long back = missed * channels / asked;
    size_t blen = (size_t) asked * 140 + 256, o = 0;
    char *body = malloc(blen);
    o += (size_t) snprintf(body + o, blen - o, "{\"channels\":[");
    for (int c = 0; c < asked; c++) {
        if (channels > 1)
            o += (size_t) snprintf(body + o, blen - o, "%s\"%s%d\"",
                                   c ? "," : "", channel, c);
        else
            o += (size_t) snprintf(body + o, blen - o, "\"%s\"", channel);
    }
    snprintf(body + o, blen - o, "],\"cursor\":\"%s-%lld\"}", epoch,
             head - back);
    double *lat = calloc((size_t) rounds, sizeof *lat);
    size_t returned = 0;
    for (int i = 0; i < rounds; i++) {
        double t0 = s_now();
        zmq_send(zsock_resolve(push), "SINCE", 5, ZMQ_SNDMORE);
        zmq_send(zsock_resolve(push), body, strlen(body), 0);
        r = zmsg_recv(push);
        lat[i] = (s_now() - t0) * 1e6;
        zframe_t *evf = zmsg_last(r);
        returned = 0;
        for (size_t k = 0; zmsg_size(r) == 3 && k < zframe_size(evf); k++)
            returned += zframe_data(evf)[k] == '\n';
        zmsg_destroy(&r);
    }
    qsort(lat, (size_t) rounds, sizeof *lat, s_cmp);
    printf("{\"bench\":\"since\",\"history\":%ld,\"missed\":%ld,"
           "\"channels\":%d,\"asked\":%d,\"cursor\":%lld,\"head\":%lld,"
           "\"returned\":%zu,\"rounds\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f}\n", history, missed, channels, asked,
           head - back, head, returned, rounds,
           lat[rounds / 2], lat[rounds * 99 / 100], lat[rounds - 1]);
    free(lat);
    free(body);
    for (int c = 0; c < channels; c++)
        free(evs[c]);
    free(evs);
    zsock_destroy(&push);
    return returned == (size_t) missed ? 0 : 1;
}

int
main(int argc, char **argv)
{
    zsys_init();
    zsys_set_logstream(NULL);
    if (argc == 6 && strcmp(argv[1], "ingest") == 0)
        return s_ingest(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
    if (argc == 6 && strcmp(argv[1], "publish") == 0)
        return s_publish(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
    if (argc == 8 && strcmp(argv[1], "window") == 0)
        return s_window(argv[2], argv[3], atol(argv[4]), atoi(argv[5]),
                        atoi(argv[6]), atoi(argv[7]));
    if ((argc == 7 || argc == 9) && strcmp(argv[1], "since") == 0)
        return s_since(argv[2], argv[3], atol(argv[4]), atol(argv[5]),
                       atoi(argv[6]), argc == 9 ? atoi(argv[7]) : 1,
                       argc == 9 ? atoi(argv[8]) : 1);
    fprintf(stderr, "usage: broker_bench ingest INGEST FANOUT N SIZE\n"
            "       broker_bench publish CONTROL FANOUT N SIZE\n"
            "       broker_bench window CONTROL FANOUT N SIZE DEALERS INFLIGHT\n"
            "       broker_bench since CONTROL CHANNEL HISTORY MISSED ROUNDS"
            " [CHANNELS ASKED]\n");
    return 2;
}
