/*  js_since: a SINCE answered straight from a JetStream 2.9 stream, the
 *  ways it can be done, timed; the figures behind answering SINCE from
 *  the broker's memory instead (docs/operations.md).
 *
 *    js_since URLS REPLICAS HISTORY CHANNELS ASKED MISSED ROUNDS
 *        make stream JSSINCE (subjects jssince.>, file storage) holding
 *        HISTORY messages round-robin over CHANNELS subjects, then ROUNDS
 *        times fetch, for the first ASKED channels, every message after
 *        the cursor behind which each of them holds MISSED messages:
 *          direct     direct get, next message by subject, one request
 *                     after the other, channel after channel;
 *          consumers  one ordered consumer per channel (2.9 filters a
 *                     consumer on one subject), made from the cursor and
 *                     read to the end, then deleted;
 *          scan       one ordered consumer on the whole stream from the
 *                     cursor, the channels picked out by the client.
 *        Prints one JSON object per way (p50/p99 ms, messages returned).
 *        The stream is deleted at the end.
 */
#include "natsb.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM "JSSINCE"

typedef struct {
    jsCtx *js;
    int channels, asked;
    uint64_t from, last;        /*  the cursor, the stream's last SEQ  */
} since_t;

/*  The stream, filled with history messages round-robin.  */
static int
s_fill(jsCtx *js, int replicas, long history, int channels)
{
    const char *subjects[1] = { "jssince.>" };
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    char subj[64], data[150];

    jsStreamConfig_Init(&cfg);
    cfg.Name = STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.AllowDirect = true;
    js_DeleteStream(js, STREAM, NULL, NULL);
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, NULL);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
        return natsb_fail("js_since", "add stream", s);
    memset(data, 'x', sizeof data);
    for (long i = 0; i < history; i++) {
        snprintf(subj, sizeof subj, "jssince.e.ch%ld", i % channels);
        if ((s = js_PublishAsync(js, subj, data, sizeof data, NULL)) != NATS_OK)
            return natsb_fail("js_since", "publish", s);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    s = js_PublishAsyncComplete(js, &po);
    return s == NATS_OK ? 0 : natsb_fail("js_since", "filling the stream", s);
}

static long
s_direct(const since_t *q)
{
    char subj[64];
    long got = 0;
    for (int c = 0; c < q->asked; c++) {
        snprintf(subj, sizeof subj, "jssince.e.ch%d", c);
        uint64_t seq = q->from + 1;
        for (;;) {
            natsMsg *m = NULL;
            jsDirectGetMsgOptions o;
            jsDirectGetMsgOptions_Init(&o);
            o.Sequence = seq;
            o.NextBySubject = subj;
            if (js_DirectGetMsg(&m, q->js, STREAM, NULL, &o) != NATS_OK)
                break;      /*  none after seq  */
            const char *h = NULL;
            natsMsgHeader_Get(m, "Nats-Sequence", &h);
            seq = (h ? strtoull(h, NULL, 10) : q->last) + 1;
            natsMsg_Destroy(m);
            got++;
            if (seq > q->last)
                break;
        }
    }
    return got;
}

/*  Read sub to the stream's end; count the messages on the asked
 *  channels (all of them when filtered is set).  */
static long
s_read(const since_t *q, natsSubscription *sub, bool filtered)
{
    long got = 0;
    for (;;) {
        natsMsg *m = NULL;
        jsMsgMetaData *md = NULL;
        if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK)
            return -1;
        if (natsMsg_GetMetaData(&md, m) != NATS_OK) {
            natsMsg_Destroy(m);
            return -1;
        }
        uint64_t seq = md->Sequence.Stream;
        int ch = atoi(natsMsg_GetSubject(m) + strlen("jssince.e.ch"));
        got += filtered || ch < q->asked;
        bool end = seq >= q->last || (filtered && md->NumPending == 0);
        jsMsgMetaData_Destroy(md);
        natsMsg_Destroy(m);
        if (end)
            return got;
    }
}

static natsSubscription *
s_consumer(const since_t *q, const char *subject)
{
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = STREAM;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = q->from + 1;
    natsStatus s = js_SubscribeSync(&sub, q->js, subject, NULL, &so, NULL);
    if (s != NATS_OK)
        natsb_fail("js_since", "ordered consumer", s);
    return sub;
}

static long
s_consumers(const since_t *q)
{
    natsSubscription *subs[64];
    char subj[64];
    long got = 0;
    for (int c = 0; c < q->asked; c++) {
        snprintf(subj, sizeof subj, "jssince.e.ch%d", c);
        subs[c] = s_consumer(q, subj);
    }
    for (int c = 0; c < q->asked; c++) {
        long n = subs[c] ? s_read(q, subs[c], true) : -1;
        got = got < 0 || n < 0 ? -1 : got + n;
        natsSubscription_Unsubscribe(subs[c]);
        natsSubscription_Destroy(subs[c]);
    }
    return got;
}

static long
s_scan(const since_t *q)
{
    natsSubscription *sub = s_consumer(q, "jssince.>");
    long got = sub ? s_read(q, sub, false) : -1;
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return got;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_time(const char *way, long (*fn)(const since_t *), const since_t *q,
       int rounds)
{
    double *lat = calloc((size_t) rounds, sizeof *lat);
    long got = 0;
    for (int i = 0; i < rounds; i++) {
        double t0 = natsb_now();
        got = fn(q);
        lat[i] = (natsb_now() - t0) * 1000;
    }
    qsort(lat, (size_t) rounds, sizeof *lat, s_cmp);
    printf("{\"bench\":\"js_since\",\"way\":\"%s\",\"asked\":%d,\"returned\":%ld,"
           "\"rounds\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n", way, q->asked,
           got, rounds, lat[rounds / 2], lat[rounds * 99 / 100]);
    fflush(stdout);
    free(lat);
}

int
main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    natsOptions *opts = NULL;
    since_t q = { 0 };

    if (argc != 8) {
        fprintf(stderr, "usage: js_since URLS REPLICAS HISTORY CHANNELS ASKED "
                "MISSED ROUNDS\n");
        return 2;
    }
    long history = atol(argv[3]), missed = atol(argv[6]);
    q.channels = atoi(argv[4]);
    q.asked = atoi(argv[5]);
    int rounds = atoi(argv[7]);
    if (q.channels < 1 || q.asked < 1 || q.asked > q.channels || q.asked > 64 ||
        rounds < 1 || missed * q.channels > history) {
        fprintf(stderr, "js_since: bad sizes\n");
        return 2;
    }
    if (natsb_connect("js_since", argv[1], &nc, &opts) < 0)
        return 1;
    natsConnection_JetStream(&q.js, nc, NULL);
    if (s_fill(q.js, atoi(argv[2]), history, q.channels) != 0)
        return 1;
    q.last = (uint64_t) history;
    q.from = q.last - (uint64_t) (missed * q.channels);
    s_time("direct", s_direct, &q, rounds);
    s_time("consumers", s_consumers, &q, rounds);
    s_time("scan", s_scan, &q, rounds);
    js_DeleteStream(q.js, STREAM, NULL, NULL);
    jsCtx_Destroy(q.js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return 0;
}
