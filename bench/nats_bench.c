/*  nats_bench: what JetStream itself does on this machine, without the
 *  broker: the ceiling that engine jetstream is measured against.
 *
 *    nats_bench URLS STREAM REPLICAS N SIZE INFLIGHT [feed] [msgid] [maxwait] [header]
 *        make STREAM (subject STREAM.>, file storage, REPLICAS), then
 *        publish N messages of SIZE bytes with libnats's asynchronous
 *        JetStream publish, at most INFLIGHT without a PubAck; prints
 *        acknowledged messages/s.  `feed` also runs one ordered consumer
 *        on the whole stream, as each broker does, and counts until it
 *        has every message; `msgid` sets Nats-Msg-Id on each publish, as
 *        the broker does (JetStream then checks it against its window);
 *        `maxwait` gives each publish a 5 s deadline for its PubAck;
 *        `header` numbers each publish in a header of its own instead.
 *        The stream is deleted at the end.
 *
 *  Output is one JSON object per line, read by bench/suite_25_cluster.py.
 */
#include "natsb.h"

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_long s_acked, s_failed, s_fed;

static void
s_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *c)
{
    (void) js, (void) c;
    if (pa)
        atomic_fetch_add(&s_acked, 1);
    else if (pae)
        atomic_fetch_add(&s_failed, 1);
    natsMsg_Destroy(msg);
}

static void
s_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *c)
{
    (void) nc, (void) sub, (void) c;
    atomic_fetch_add(&s_fed, 1);
    natsMsg_Destroy(msg);
}

static int
s_stream(jsCtx *js, const char *name, int replicas)
{
    char subj[128];
    const char *subjects[1] = { subj };
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;

    snprintf(subj, sizeof subj, "%s.>", name);
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    js_DeleteStream(js, name, NULL, NULL);
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return s == NATS_OK ? 0 : natsb_fail("nats_bench", "add stream", s);
}

/*  One publish with its number in a header of its own (not Nats-Msg-Id,
 *  so JetStream keeps no duplicate window for it).  */
static natsStatus
s_publish_hdr(jsCtx *js, const char *subj, const char *data, int size,
              long i, jsPubOptions *po)
{
    natsMsg *m = NULL;
    char id[32];
    snprintf(id, sizeof id, "%ld", i + 1);
    natsStatus s = natsMsg_Create(&m, subj, NULL, data, size);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Fastpush-Ticket", id);
    if (s == NATS_OK)
        s = js_PublishMsgAsync(js, &m, po);
    natsMsg_Destroy(m);
    return s;
}

static int
s_run(jsCtx *js, const char *stream, long n, int size, bool msgid,
      bool maxwait, bool hdr)
{
    char subj[128], id[32];
    char *data = malloc((size_t) size);
    jsPubOptions po;

    memset(data, 'x', (size_t) size);
    snprintf(subj, sizeof subj, "%s.e.bench", stream);
    jsPubOptions_Init(&po);
    if (maxwait)
        po.MaxWait = 5000;
    for (long i = 0; i < n; i++) {
        if (msgid) {
            snprintf(id, sizeof id, "b.%ld", i + 1);
            po.MsgId = id;
        }
        natsStatus s = hdr ? s_publish_hdr(js, subj, data, size, i, &po)
                           : js_PublishAsync(js, subj, data, size, &po);
        if (s != NATS_OK) {
            free(data);
            return natsb_fail("nats_bench", "publish", s);
        }
    }
    free(data);
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    natsStatus s = js_PublishAsyncComplete(js, &po);
    return s == NATS_OK ? 0 : natsb_fail("nats_bench", "waiting for the PubAcks", s);
}

int
main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    natsOptions *opts = NULL;
    natsSubscription *sub = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsSubOptions so;

    if (argc < 7) {
        fprintf(stderr, "usage: nats_bench URLS STREAM REPLICAS N SIZE "
                "INFLIGHT [feed] [msgid] [maxwait] [header]\n");
        return 2;
    }
    const char *stream = argv[2];
    long n = atol(argv[4]);
    bool feed = false, msgid = false, maxwait = false, hdr = false;
    for (int i = 7; i < argc; i++) {
        feed |= strcmp(argv[i], "feed") == 0;
        msgid |= strcmp(argv[i], "msgid") == 0;
        maxwait |= strcmp(argv[i], "maxwait") == 0;
        hdr |= strcmp(argv[i], "header") == 0;
    }
    if (natsb_connect("nats_bench", argv[1], &nc, &opts) < 0)
        return 1;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = atoi(argv[6]);
    jo.PublishAsync.AckHandler = s_on_ack;
    natsConnection_JetStream(&js, nc, &jo);
    if (s_stream(js, stream, atoi(argv[3])) != 0)
        return 1;
    if (feed) {
        char subj[128];
        snprintf(subj, sizeof subj, "%s.>", stream);
        jsSubOptions_Init(&so);
        so.Stream = stream;
        so.Ordered = true;
        natsStatus s = js_Subscribe(&sub, js, subj, s_on_msg, NULL, NULL, &so,
                                    NULL);
        if (s != NATS_OK) {
            natsb_fail("nats_bench", "ordered consumer", s);
            return 1;
        }
    }
    double t0 = natsb_now();
    if (s_run(js, stream, n, atoi(argv[5]), msgid, maxwait, hdr) != 0)
        return 1;
    double acked_at = natsb_now() - t0;
    while (feed && atomic_load(&s_fed) < n && natsb_now() - t0 < 120)
        nats_Sleep(1);
    double fed_at = natsb_now() - t0;
    printf("{\"bench\":\"nats\",\"replicas\":%s,\"messages\":%ld,\"acked\":%ld,"
           "\"failed\":%ld,\"fed\":%ld,\"feed\":%s,\"msgid\":%s,\"maxwait\":%s,\"header\":%s,"
           "\"seconds\":%.3f,\"acked_per_s\":%.0f,\"fed_per_s\":%.0f}\n",
           argv[3], n, atomic_load(&s_acked), atomic_load(&s_failed),
           atomic_load(&s_fed), feed ? "true" : "false",
           msgid ? "true" : "false", maxwait ? "true" : "false", hdr ? "true" : "false", acked_at,
           (double) atomic_load(&s_acked) / acked_at,
           feed ? (double) atomic_load(&s_fed) / fed_at : 0.0);
    natsSubscription_Destroy(sub);
    js_DeleteStream(js, stream, NULL, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return 0;
}
