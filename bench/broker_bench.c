/*  broker_bench: micro-benchmarks of a running fastpush-broker.
 *
 *    broker_bench ingest  INGEST FANOUT  N SIZE
 *        PUSH N events of SIZE data bytes through PULL as fast as possible
 *        while one SUB counts them; prints events/s from first send to
 *        last receipt.
 *    broker_bench publish CONTROL FANOUT N SIZE
 *        the same with acknowledged PUBLISH (one DEALER, 256 in flight).
 *    broker_bench since   CONTROL CHANNEL HISTORY MISSED ROUNDS
 *        fill CHANNEL with HISTORY events, then time ROUNDS SINCE requests
 *        that each return the last MISSED events; prints p50/p99/max.
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

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static int
s_since(const char *control, const char *channel, long history, long missed,
        int rounds)
{
    zsock_t *push = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(push, 0);
    zsock_connect(push, "%s", control);
    char *ev = s_event(channel, 100);
    for (long i = 0; i < history; i++) {
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
    char body[256];
    snprintf(body, sizeof body, "{\"channels\":[\"%s\"],\"cursor\":\"%s-%lld\"}",
             channel, epoch, head - missed);
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
           "\"returned\":%zu,\"rounds\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f}\n", history, missed, returned, rounds,
           lat[rounds / 2], lat[rounds * 99 / 100], lat[rounds - 1]);
    free(lat);
    free(ev);
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
    if (argc == 7 && strcmp(argv[1], "since") == 0)
        return s_since(argv[2], argv[3], atol(argv[4]), atol(argv[5]),
                       atoi(argv[6]));
    fprintf(stderr, "usage: broker_bench ingest INGEST FANOUT N SIZE\n"
            "       broker_bench publish CONTROL FANOUT N SIZE\n"
            "       broker_bench since CONTROL CHANNEL HISTORY MISSED ROUNDS\n");
    return 2;
}
