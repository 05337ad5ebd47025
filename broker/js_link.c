/*  js_link: the NATS connection of engine jetstream (see js.h).
 *
 *  Opens the connection (every URL of nats-url, reconnecting for ever),
 *  makes the two streams if they are missing, derives the epoch from the
 *  events stream's creation time, and replays the stream into memory
 *  before the broker serves.  libnats calls back on its own threads; each
 *  callback posts a js_item_t to a queue under a mutex and writes a byte
 *  to a pipe the broker's zloop reads (broker_js_on_wake), so everything
 *  else runs on the broker's thread.  A watcher thread reads the stream's
 *  state once a second (a JetStream API request may block for seconds
 *  while NATS is away, which the loop must not), re-creates a deleted
 *  stream and posts what it read.
 */
#include "js.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JS_REPLAY_IDLE_MS 10000     /*  a replay that stalls this long fails */
#define JS_START_WAIT_MS 15000      /*  the stream's API may be away this long */

/*  -------------------------------------------------------- the queue  */

js_item_t *
js_item_new(int kind)
{
    js_item_t *it = fp_calloc(1, sizeof *it);
    it->kind = kind;
    return it;
}

/*  Queue it for the loop (any thread; ownership moves).  */
void
js_post(broker_js_t *js, js_item_t *it)
{
    bool wake;
    pthread_mutex_lock(&js->lock);
    if (js->tail)
        js->tail->next = it;
    else
        js->head = it;
    js->tail = it;
    wake = !js->signalled;
    js->signalled = true;
    pthread_mutex_unlock(&js->lock);
    if (wake) {
        char c = 1;
        while (write(js->pipe[1], &c, 1) < 0 && errno == EINTR)
            ;
    }
}

/*  Take every queued item, oldest first (the loop's thread).  */
static js_item_t *
s_take_all(broker_js_t *js)
{
    char buf[64];
    while (read(js->pipe[0], buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&js->lock);
    js_item_t *all = js->head;
    js->head = js->tail = NULL;
    js->signalled = false;
    pthread_mutex_unlock(&js->lock);
    return all;
}

static void
s_item_free(js_item_t *it)
{
    natsMsg_Destroy(it->msg);
    free(it);
}

/*  Handle every queued item, then answer the publishes that are due.  */
static void
s_drain(broker_js_t *js)
{
    js_item_t *it = s_take_all(js);
    while (it) {
        js_item_t *next = it->next;
        if (it->kind == JS_ITEM_MSG)
            js_feed_msg(js, it);
        else if (it->kind == JS_ITEM_ACK)
            js_publish_ack(js, it);
        else
            js_feed_info(js, it);
        s_item_free(it);
        it = next;
    }
    js_publish_release(js);
    broker_control_retry(js->b);
}

int
broker_js_on_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    broker_t *b = arg;
    s_drain(b->js);
    return 0;
}

int
broker_js_fd(const broker_t *b)
{
    return b->js->pipe[0];
}

/*  -------------------------------------------------------- streams  */

/*  Epoch of the stream created at `created` (ns): its microseconds in
 *  base 36, so every broker of the stream names it alike and a
 *  recreated stream has another name.  */
void
js_epoch_of(int64_t created, char *epoch)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[FP_EPOCH_MAX];
    uint64_t t = (uint64_t) (created / 1000);
    int n = 0;
    do {
        tmp[n++] = digits[t % 36];
        t /= 36;
    } while (t && n < FP_EPOCH_MAX - 1);
    epoch[0] = 'j';
    for (int i = 0; i < n; i++)
        epoch[1 + i] = tmp[n - 1 - i];
    epoch[1 + n] = '\0';
}

static void
s_nats_err(char *err, const char *what, natsStatus s, jsErrCode jerr)
{
    const char *last = nats_GetLastError(NULL);
    snprintf(err, FP_ERR_LEN, "%s: %s%s%s (jetstream error %d)", what,
             natsStatus_GetText(s), last ? ": " : "", last ? last : "",
             (int) jerr);
}

/*  Add stream `name` on `subject` (PREFIX.e.> or PREFIX.k.>) if missing;
 *  the keys stream keeps one message per subject.  */
static int
s_stream_add(broker_js_t *js, const char *name, const char *subject,
             bool keys, jsStreamInfo **si, char *err)
{
    const broker_conf_t *cf = &js->b->conf;
    jsStreamConfig sc;
    jsErrCode jerr = 0;
    const char *subjects[1] = { subject };

    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = cf->nats_replicas;
    sc.Discard = js_DiscardOld;
    sc.AllowDirect = true;
    if (keys) {
        sc.MaxMsgsPerSubject = 1;
    } else {
        sc.MaxMsgs = cf->nats_max_msgs;
        sc.MaxBytes = cf->nats_max_bytes ? (int64_t) cf->nats_max_bytes : -1;
        sc.MaxAge = (int64_t) cf->history_age * 1000000;
        sc.MaxMsgSize = (int32_t) (cf->max_event_bytes + 4096);
    }
    natsStatus s = js_AddStream(si, js->ctx, &sc, NULL, &jerr);
    if (s != NATS_OK) {
        s_nats_err(err, "cannot create the stream", s, jerr);
        js->api_err = jerr;
        return -1;
    }
    return 0;
}

/*  Is jerr a refusal of the stream's configuration, which trying again
 *  cannot mend (another stream holds the subjects, a bad limit)?  */
static bool
s_config_error(jsErrCode jerr)
{
    return jerr == JSStreamSubjectOverlapErr || jerr == JSStreamNameExistErr ||
           jerr == JSStreamInvalidConfig;
}

/*  The events stream's info in *si (the caller frees it), made first if
 *  it does not exist; the keys stream is made alongside.  */
int
js_stream_ensure(broker_js_t *js, jsStreamInfo **si, char *err)
{
    const broker_conf_t *cf = &js->b->conf;
    jsOptions o;
    jsErrCode jerr = 0;
    char subject[80];

    jsOptions_Init(&o);
    o.Wait = 2000;
    *si = NULL;
    js->api_err = 0;
    natsStatus s = js_GetStreamInfo(si, js->ctx, cf->nats_stream, &o, &jerr);
    if (s == NATS_NOT_FOUND) {
        snprintf(subject, sizeof subject, "%s>", js->subj_e);
        if (s_stream_add(js, cf->nats_stream, subject, false, si, err) < 0)
            return -1;
    } else if (s != NATS_OK) {
        s_nats_err(err, "cannot read the stream", s, jerr);
        js->api_err = jerr;
        return -1;
    }
    jsStreamInfo *ki = NULL;
    s = js_GetStreamInfo(&ki, js->ctx, js->kstream, &o, &jerr);
    if (s == NATS_NOT_FOUND) {
        snprintf(subject, sizeof subject, "%s>", js->subj_k);
        if (s_stream_add(js, js->kstream, subject, true, &ki, err) < 0) {
            jsStreamInfo_Destroy(*si);
            *si = NULL;
            return -1;
        }
    }
    jsStreamInfo_Destroy(ki);
    return 0;
}

/*  -------------------------------------------------------- watcher  */

static void *
s_watch(void *arg)
{
    broker_js_t *js = arg;
    while (!atomic_load(&js->stopping)) {
        for (int i = 0; i < 10 && !atomic_load(&js->stopping); i++)
            usleep(100 * 1000);
        if (atomic_load(&js->stopping) || !atomic_load(&js->connected))
            continue;
        jsStreamInfo *si = NULL;
        js_item_t *it = js_item_new(JS_ITEM_INFO);
        if (js_stream_ensure(js, &si, it->err) == 0) {
            it->created = si->Created;
            it->first = si->State.FirstSeq;
            it->seq = si->State.LastSeq;
            jsStreamInfo_Destroy(si);
        }
        js_post(js, it);
    }
    return NULL;
}

/*  -------------------------------------------------------- connection  */

static void
s_on_disconnect(natsConnection *nc, void *closure)
{
    broker_js_t *js = closure;
    atomic_store(&js->connected, false);
    if (!atomic_load(&js->stopping))
        fp_log_warnx("jetstream: lost the connection to NATS; publishes are "
                     "refused (engine_unavailable) until it is back");
}

static void
s_on_reconnect(natsConnection *nc, void *closure)
{
    broker_js_t *js = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    atomic_store(&js->connected, true);
    fp_log_info("jetstream: connected again to %s", url);
}

static void
s_on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
           void *closure)
{
    static fp_log_limit_t limit;
    if (fp_log_limit_ok(&limit))
        fp_log_warnx("jetstream: %s", natsStatus_GetText(err));
}

/*  The libnats options: the servers, reconnection for ever, callbacks.  */
static int
s_options(broker_js_t *js, char *err)
{
    const broker_conf_t *cf = &js->b->conf;
    char *list = fp_strdup(cf->nats_url), *save = NULL;
    const char *urls[64];
    int n = 0;

    for (char *u = strtok_r(list, ",", &save); u && n < 64;
         u = strtok_r(NULL, ",", &save))
        urls[n++] = u;
    natsStatus s = natsOptions_Create(&js->opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(js->opts, urls, n);
    free(list);
    if (s == NATS_OK)
        s = natsOptions_SetName(js->opts, "fastpush-broker");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(js->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(js->opts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(js->opts, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(js->opts, 2);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(js->opts, s_on_disconnect, js);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(js->opts, s_on_reconnect, js);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(js->opts, s_on_error, js);
    if (s == NATS_OK && cf->nats_credentials && *cf->nats_credentials)
        s = natsOptions_SetUserCredentialsFromFiles(js->opts,
                                                    cf->nats_credentials,
                                                    NULL);
    if (s != NATS_OK) {
        s_nats_err(err, "nats-url or nats-credentials", s, 0);
        return -1;
    }
    return 0;
}

static int
s_connect(broker_js_t *js, char *err)
{
    jsOptions o;
    natsStatus s = NATS_ERR;

    /*  a NATS node that is starting may refuse for a moment  */
    for (int i = 0; i < 20; i++) {
        s = natsConnection_Connect(&js->nc, js->opts);
        if (s == NATS_OK)
            break;
        usleep(250 * 1000);
    }
    if (s != NATS_OK) {
        s_nats_err(err, "cannot connect to NATS", s, 0);
        return -1;
    }
    atomic_store(&js->connected, true);
    jsOptions_Init(&o);
    o.Wait = 5000;
    o.PublishAsync.MaxPending = 65536;
    o.PublishAsync.AckHandler = js_publish_on_ack;
    o.PublishAsync.AckHandlerClosure = js;
    o.PublishAsync.StallWait = 1000;
    s = natsConnection_JetStream(&js->ctx, js->nc, &o);
    if (s != NATS_OK) {
        s_nats_err(err, "cannot open JetStream", s, 0);
        return -1;
    }
    return 0;
}

/*  -------------------------------------------------------- replay  */

/*  Handle the queue until the feed has reached `last`: the broker then
 *  holds what the stream held when it started.  */
static int
s_replay(broker_js_t *js, uint64_t last, char *err)
{
    broker_t *b = js->b;
    int64_t idle_since = fp_clock_ms();
    while (b->seq < last) {
        struct pollfd p = { js->pipe[0], POLLIN, 0 };
        uint64_t before = b->seq;
        if (poll(&p, 1, 200) > 0)
            s_drain(js);
        if (b->seq != before)
            idle_since = fp_clock_ms();
        else if (fp_clock_ms() - idle_since > JS_REPLAY_IDLE_MS) {
            snprintf(err, FP_ERR_LEN, "the stream's replay stalled at SEQ "
                     "%llu of %llu", (unsigned long long) b->seq,
                     (unsigned long long) last);
            return -1;
        }
    }
    return 0;
}

static void
s_names(broker_js_t *js)
{
    const broker_conf_t *cf = &js->b->conf;
    unsigned char rnd[6];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    if (f)
        fclose(f);
    snprintf(js->id, sizeof js->id, "%d-%02x%02x%02x%02x%02x%02x",
             (int) getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    snprintf(js->subj_e, sizeof js->subj_e, "%s.e.", cf->nats_subject);
    snprintf(js->subj_k, sizeof js->subj_k, "%s.k.", cf->nats_subject);
    snprintf(js->kstream, sizeof js->kstream, "%s_KEYS", cf->nats_stream);
}

static broker_js_t *
s_new(broker_t *b)
{
    broker_js_t *js = fp_calloc(1, sizeof *js);
    js->b = b;
    js->pipe[0] = js->pipe[1] = -1;
    js->next_ticket = 1;
    pthread_mutex_init(&js->lock, NULL);
    atomic_init(&js->gen, 0);
    atomic_init(&js->connected, false);
    atomic_init(&js->stopping, false);
    s_names(js);
    return js;
}

/*  Connect, take the epoch, load the keys and replay the stream.  */
static int
s_start(broker_js_t *js, char *err)
{
    broker_t *b = js->b;
    jsStreamInfo *si = NULL;

    if (pipe2(js->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, FP_ERR_LEN, "pipe: %s", strerror(errno));
        return -1;
    }
    if (s_options(js, err) < 0 || s_connect(js, err) < 0)
        return -1;
    /*  during an election of the stream's leader (seconds) the stream API
     *  times out: try again for a while before giving up  */
    int64_t until = fp_clock_ms() + JS_START_WAIT_MS;
    while (js_stream_ensure(js, &si, err) < 0) {
        if (fp_clock_ms() > until || s_config_error(js->api_err))
            return -1;
        fp_log_warnx("jetstream: %s (trying again)", err);
        usleep(500 * 1000);
    }
    js->created = si->Created;
    js_epoch_of(si->Created, b->epoch);
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    b->seq = first > 0 ? first - 1 : 0;
    b->evicted_upto = b->seq;
    if (js_feed_load_keys(js, first, err) < 0 ||
        js_feed_start(js, b->seq + 1, err) < 0 || s_replay(js, last, err) < 0)
        return -1;
    if (pthread_create(&js->watcher, NULL, s_watch, js) != 0) {
        snprintf(err, FP_ERR_LEN, "cannot start the stream watcher");
        return -1;
    }
    js->watching = true;
    fp_log_info("jetstream: stream %s (%lld replicas) on %s, epoch %s, "
                "SEQ %llu..%llu replayed", b->conf.nats_stream,
                (long long) b->conf.nats_replicas, b->conf.nats_url, b->epoch,
                (unsigned long long) first, (unsigned long long) last);
    return 0;
}

int
broker_js_open(broker_t *b, char *err)
{
    if (!b->conf.nats_url || !*b->conf.nats_url) {
        snprintf(err, FP_ERR_LEN, "engine jetstream needs nats-url");
        return -1;
    }
    if (b->conf.store) {
        snprintf(err, FP_ERR_LEN, "engine jetstream keeps history in the "
                 "stream: remove `store`");
        return -1;
    }
    b->js = s_new(b);
    if (s_start(b->js, err) < 0) {
        broker_js_close(b);
        return -1;
    }
    return 0;
}

/*  Is the NATS connection up (publishes can be sent)?  */
bool
broker_js_connected(const broker_t *b)
{
    return atomic_load(&b->js->connected);
}

/*  How many events the feed stands behind the stream when it has not
 *  moved for two reads of the stream (two seconds) or more; else 0.  */
uint64_t
broker_js_stalled(const broker_t *b)
{
    return b->js->stalled >= 2 ? b->js->behind : 0;
}

json_t *
broker_js_json(const broker_t *b)
{
    const broker_js_t *js = b->js;
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:I}", "engine", "jetstream",
                     "stream", b->conf.nats_stream, "keys_stream", js->kstream,
                     "connected", atomic_load(&js->connected),
                     "replicas", (json_int_t) b->conf.nats_replicas,
                     "acks", (json_int_t) js->acks,
                     "refused", (json_int_t) js->refused,
                     "pending", (json_int_t) js->pend_len,
                     "key_copies", (json_int_t) js->copies,
                     "feed_messages", (json_int_t) js->feed_msgs,
                     "bad_messages", (json_int_t) js->bad_msgs,
                     "epoch_resets", (json_int_t) js->resets);
}

void
broker_js_close(broker_t *b)
{
    broker_js_t *js = b->js;
    if (!js)
        return;
    atomic_store(&js->stopping, true);
    if (js->watching)
        pthread_join(js->watcher, NULL);
    if (js->feed) {
        natsSubscription_Unsubscribe(js->feed);
        natsSubscription_Destroy(js->feed);
    }
    if (js->ctx) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        js_PublishAsyncComplete(js->ctx, &po);
    }
    if (js->nc)
        natsConnection_Close(js->nc);
    jsCtx_Destroy(js->ctx);
    natsConnection_Destroy(js->nc);
    natsOptions_Destroy(js->opts);
    /*  libnats calls back from its own threads (disconnected, PubAcks,
     *  feed messages) even after the destroys: js lives until they end  */
    if (nats_CloseAndWait(5000) != NATS_OK) {
        fp_log_warnx("jetstream: the NATS client's threads did not end in "
                     "5 s; its state is left to the exit");
        b->js = NULL;
        return;
    }
    for (js_item_t *it = s_take_all(js), *n; it; it = n) {
        n = it->next;
        s_item_free(it);
    }
    js_publish_free(js);
    for (js_feed_t *f = js->feeds, *n; f; f = n) {
        n = f->next;
        free(f);
    }
    if (js->pipe[0] >= 0)
        close(js->pipe[0]);
    if (js->pipe[1] >= 0)
        close(js->pipe[1]);
    pthread_mutex_destroy(&js->lock);
    free(js);
    b->js = NULL;
}
