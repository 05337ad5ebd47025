/*  control: the ROUTER socket (requests and their replies).
 *
 *  Request:  [identity] [""]? COMMAND [JSON body [TOKEN]]
 *  Reply:    [identity] [""]? "OK"|"ERROR" META-JSON [EVENTS]
 *
 *  EVENTS (SINCE, STATE) is one frame holding one event JSON per line.
 *
 *  The empty delimiter is there when the client is a REQ socket and is
 *  echoed; DEALER clients send none.  COMMAND is PUBLISH, SINCE, STATE,
 *  STATS or PING.  A body member "tag" (string or integer) is removed
 *  before the command sees the body and echoed in META, so DEALER clients
 *  can match replies to requests.  Errors carry {"error", "message"} (lib/error.h).
 *  With publish-token, PUBLISH needs the token as a last frame (any
 *  request that has one must have the right one): "unauthorized".
 *  stats-access decides who may ask STATS: open, token (the publish
 *  token, as for PUBLISH: "unauthorized") or off ("forbidden").
 *
 *  PUBLISH replies wait for the end of the batch (publish.c): the event
 *  must be in the store first.  Any other request settles the batch before
 *  it is handled, so it sees every event acknowledged before it, and
 *  replies leave in the order the requests came.
 */
#include "broker.h"
#include "error.h"
#include "clock.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <string.h>

static fp_log_limit_t s_bad_log;

typedef struct {
    json_t *body;               /*  request body, {} if none  */
    json_t *tag;                /*  echoed tag or NULL  */
    json_t *meta;               /*  reply metadata  */
    fp_buf_t events;            /*  reply events, one per line  */
    char code[BROKER_CODE_LEN]; /*  error code  */
    char err[FP_ERR_LEN];       /*  error message  */
} request_t;

/*  A reply held until the batch is settled.  */
struct broker_reply {
    zframe_t *identity;         /*  owned  */
    bool delim;                 /*  echo an empty delimiter  */
    int rc;                     /*  0 or -1 (r.code, r.err)  */
    request_t r;
    fp_event_t *ev;             /*  the PUBLISH's staged event, or NULL  */
};

int
broker_fail(char *code, const char *what)
{
    snprintf(code, BROKER_CODE_LEN, "%s", what);
    return -1;
}

static int
s_fail(request_t *r, const char *code, const char *msg)
{
    snprintf(r->code, sizeof r->code, "%s", code);
    if (msg)
        snprintf(r->err, sizeof r->err, "%s", msg);
    return -1;
}

/*  The publisher's key for publish-rate: its routing id.  */
static void
s_rate_key(zframe_t *identity, char *key, size_t size)
{
    char *hex = zframe_strhex(identity);
    snprintf(key, size, "r:%s", hex);
    free(hex);
}

/*  PUBLISH skips jansson: the body is scanned once by fp_publish_parse.
 *  *ev is the staged event; the reply is made when the batch settles.  */
/*  The token frame (NULL if none) of a request: false (r failed) when
 *  the broker's publish-token says no.  */
static bool
s_token_ok(broker_t *b, request_t *r, zframe_t *token, bool publish)
{
    if (broker_auth_token(b, token, publish))
        return true;
    b->stats.unauthorized++;
    s_fail(r, "unauthorized", token ? "wrong publish token" : "this broker "
           "needs its publish token as the last frame");
    return false;
}

static int
s_publish(broker_t *b, request_t *r, zframe_t *body, zframe_t *token,
          const char *rate_key, fp_event_t **ev, struct broker_reply *held)
{
    fp_publish_t p;

    int rc = body ? fp_publish_parse((const char *) zframe_data(body),
                                     zframe_size(body), &p, true, r->err)
                  : fp_publish_parse("{}", 2, &p, true, r->err);
    if (p.tag)
        r->tag = json_loads(p.tag, JSON_DECODE_ANY, NULL);
    if (!s_token_ok(b, r, token, true)) {
        rc = -1;
    } else if (rc == 0 && !broker_auth_rate(b, rate_key)) {
        b->stats.rate_limited++;
        snprintf(r->err, sizeof r->err, "more than %lld events a second "
                 "from this publisher (publish-rate)",
                 (long long) b->conf.publish_rate);
        rc = s_fail(r, "rate_limited", NULL);
    } else if (rc == 0)
        rc = broker_publish(b, &p, ev, held, r->code, r->err);
    else
        snprintf(r->code, sizeof r->code, "%s",
                 rc == FP_PUBLISH_EJSON ? "invalid_json" : "invalid_event");
    fp_publish_clear(&p);
    return rc < 0 ? -1 : 0;
}

/*  The acknowledgement of a held PUBLISH, once its batch is settled.  */
static void
s_ack(broker_t *b, struct broker_reply *h, int flushed, const char *err)
{
    char cursor[FP_CURSOR_LEN];

    if (!h->ev)
        return;
    if (flushed < 0) {
        h->rc = -1;
        snprintf(h->r.code, sizeof h->r.code, "store_failed");
        snprintf(h->r.err, sizeof h->r.err, "%s", err);
        return;
    }
    fp_cursor_format(b->epoch, h->ev->seq, cursor);
    h->r.meta = json_pack("{s:s, s:I, s:s}", "id", cursor,
                          "seq", (json_int_t) h->ev->seq,
                          "channel", h->ev->channel);
}

static int
s_ping(broker_t *b, request_t *r)
{
    char why[FP_ERR_LEN];
    bool ready = broker_health_check(b, why) == 0;
    r->meta = json_pack("{s:s, s:I, s:I, s:s, s:b}", "epoch", b->epoch,
                        "head", (json_int_t) b->seq,
                        "ts", (json_int_t) fp_clock_wall_ms(),
                        "version", BROKER_VERSION, "ready", ready);
    if (!ready)
        json_object_set_new(r->meta, "problem", json_string(why));
    return 0;
}

/*  SINCE, timed: the broker's own share of a resume's latency.  */
static int
s_since(broker_t *b, request_t *r)
{
    int64_t t0 = fp_clock_ns();
    int rc = broker_since(b, r->body, &r->meta, &r->events, r->code, r->err);
    uint64_t dt = (uint64_t) (fp_clock_ns() - t0);
    b->stats.since_ns += dt;
    if (dt > b->stats.since_max_ns)
        b->stats.since_max_ns = dt;
    return rc;
}

/*  STATS, if stats-access admits it: a token frame, when one is needed,
 *  has already been checked (s_token_ok).  */
static int
s_stats(broker_t *b, request_t *r, bool token)
{
    if (b->conf.stats_access == BROKER_STATS_OFF)
        return s_fail(r, "forbidden", "STATS is off on this broker "
                      "(stats-access off)");
    if (b->conf.stats_access == BROKER_STATS_TOKEN && !token) {
        b->stats.unauthorized++;
        return s_fail(r, "unauthorized", "STATS needs the publish token "
                      "as the last frame (stats-access token)");
    }
    r->meta = broker_stats_json(b, r->body);
    return 0;
}

static int
s_dispatch(broker_t *b, const char *cmd, request_t *r, bool token)
{
    if (strcmp(cmd, "SINCE") == 0)
        return s_since(b, r);
    if (strcmp(cmd, "STATE") == 0)
        return broker_state(b, r->body, &r->meta, &r->events, r->code,
                            r->err);
    if (strcmp(cmd, "STATS") == 0)
        return s_stats(b, r, token);
    if (strcmp(cmd, "PING") == 0)
        return s_ping(b, r);
    if (strcmp(cmd, "REPORT") == 0)
        return broker_report(b, r->body, &r->meta, r->code, r->err);
    if (strcmp(cmd, "PRESENCE") == 0)
        return broker_presence(b, r->body, &r->meta, r->code, r->err);
    snprintf(r->err, sizeof r->err, "unknown command '%.32s' (expected "
             "PUBLISH, SINCE, STATE, STATS, PING, REPORT or PRESENCE)", cmd);
    return s_fail(r, "unknown_command", NULL);
}

/*  Parse the body frame and take the tag out of it.  */
static int
s_body(request_t *r, zframe_t *frame)
{
    if (!frame || zframe_size(frame) == 0) {
        r->body = json_object();
        return 0;
    }
    r->body = fp_json_parse((const char *) zframe_data(frame),
                            zframe_size(frame), r->err);
    if (!r->body)
        return s_fail(r, "invalid_json", NULL);
    if (!json_is_object(r->body))
        return s_fail(r, "bad_request", "the body must be a JSON object");
    json_t *tag = json_object_get(r->body, "tag");
    if (!tag)
        return 0;
    if (!(json_is_integer(tag) ||
          (json_is_string(tag) && json_string_length(tag) <= 128)))
        return s_fail(r, "bad_request", "'tag' must be an integer or a "
                      "string of at most 128 bytes");
    r->tag = json_incref(tag);
    json_object_del(r->body, "tag");
    return 0;
}

static int
s_handle(broker_t *b, zmsg_t *msg, zframe_t *identity, request_t *r,
         fp_event_t **ev, struct broker_reply *held)
{
    zframe_t *cmdf = zmsg_pop(msg);
    zframe_t *bodyf = zmsg_pop(msg);
    zframe_t *tokenf = zmsg_pop(msg);
    bool publish = cmdf && zframe_streq(cmdf, "PUBLISH");
    /*  PRESENCE publishes member events: it needs the publish token  */
    bool presence = cmdf && zframe_streq(cmdf, "PRESENCE");
    char cmd[17], key[64];
    int rc = -1;

    if (!cmdf)
        s_fail(r, "bad_request", "missing command frame");
    else if (zmsg_size(msg) > 0)
        s_fail(r, "bad_request", "too many frames: expected COMMAND, at "
               "most one JSON body and a token");
    else if (zframe_size(cmdf) < 1 || zframe_size(cmdf) > 16)
        s_fail(r, "unknown_command", "command must be 1 to 16 bytes");
    else if (publish) {
        key[0] = '\0';
        if (b->conf.publish_rate > 0)
            s_rate_key(identity, key, sizeof key);
        rc = s_publish(b, r, bodyf, tokenf, key, ev, held);
    }
    else if (s_body(r, bodyf) == 0 && s_token_ok(b, r, tokenf, presence)) {
        memcpy(cmd, zframe_data(cmdf), zframe_size(cmdf));
        cmd[zframe_size(cmdf)] = '\0';
        rc = s_dispatch(b, cmd, r, tokenf != NULL);
    }
    if (rc < 0 && publish)
        b->stats.rejected++;
    zframe_destroy(&cmdf);
    zframe_destroy(&bodyf);
    zframe_destroy(&tokenf);
    return rc;
}

static void
s_reply(zsock_t *sock, zframe_t **identity, bool delim, int rc, request_t *r)
{
    zmsg_t *out = zmsg_new();
    zmsg_append(out, identity);
    if (delim)
        zmsg_addmem(out, "", 0);
    if (rc < 0) {
        if (!r->meta)
            r->meta = json_object();
        fp_error_set(r->meta, r->code, r->err);
    }
    if (r->tag)
        json_object_set(r->meta, "tag", r->tag);
    zmsg_addstr(out, rc < 0 ? "ERROR" : "OK");
    size_t len;
    char *text = fp_json_dump(r->meta, &len);
    zmsg_addmem(out, text, len);
    free(text);
    if (rc == 0 && r->events.len > 0)
        zmsg_addmem(out, r->events.data, r->events.len);
    zmsg_send(&out, sock);
}

/*  Free what a request owns.  */
static void
s_request_free(request_t *r)
{
    json_decref(r->body);
    json_decref(r->tag);
    json_decref(r->meta);
    fp_buf_free(&r->events);
}

/*  Settle the batch (publish.c) and send the replies held for it.  */
static void
s_settle(broker_t *b, zsock_t *sock)
{
    char err[FP_ERR_LEN];
    int rc = broker_publish_flush(b, err);

    for (size_t i = 0; i < b->replies_len; i++) {
        struct broker_reply *h = &b->replies[i];
        s_ack(b, h, rc, err);
        s_reply(sock, &h->identity, h->delim, h->rc, &h->r);
        zframe_destroy(&h->identity);
        fp_event_unref(&h->ev);
        s_request_free(&h->r);
    }
    b->replies_len = 0;
}

/*  Hold a PUBLISH reply (ownership of identity, r and ev moves).  */
static void
s_hold(broker_t *b, zframe_t **identity, bool delim, int rc, request_t *r,
       fp_event_t *ev)
{
    if (b->replies_len == b->replies_cap) {
        b->replies_cap = b->replies_cap ? b->replies_cap * 2 : 64;
        b->replies = fp_realloc(b->replies,
                                b->replies_cap * sizeof *b->replies);
    }
    b->replies[b->replies_len++] = (struct broker_reply) { *identity, delim,
                                                           rc, *r, ev };
    *identity = NULL;
}

/*  engine jetstream: a SINCE whose cursor is ahead of this broker may
 *  come from another broker of the cluster whose feed is ahead of ours;
 *  it waits (parked, the whole message) until our feed reaches it, for
 *  at most this long, and only then is it refused with cursor_ahead.  */
#define AHEAD_WAIT_MS 2000

struct broker_parked {
    zmsg_t *msg;                /*  the request as it came, identity first */
    int64_t until;              /*  ms: answered by then  */
};

static void
s_park(broker_t *b, zmsg_t **msg, int64_t until)
{
    if (b->parked_len == b->parked_cap) {
        b->parked_cap = b->parked_cap ? b->parked_cap * 2 : 16;
        b->parked = fp_realloc(b->parked, b->parked_cap * sizeof *b->parked);
    }
    b->parked[b->parked_len++] = (struct broker_parked) { *msg, until };
    *msg = NULL;
}

/*  Is msg (identity, [empty delimiter,] COMMAND ...) a SINCE?  */
static bool
s_is_since(zmsg_t *msg)
{
    zframe_t *f = zmsg_first(msg) ? zmsg_next(msg) : NULL;
    if (f && zframe_size(f) == 0)
        f = zmsg_next(msg);
    return f && zframe_streq(f, "SINCE");
}

/*  May this refused request wait for the feed instead?  */
static bool
s_may_wait(const request_t *r, const zmsg_t *dup, int64_t until)
{
    return dup && strcmp(r->code, "cursor_ahead") == 0 &&
           fp_clock_ms() < until;
}

/*  One request: PUBLISH replies are held for the batch; anything else
 *  settles the batch first and is answered at once (a SINCE ahead of
 *  this broker of a cluster may wait: s_park).  until: 0 for a new
 *  request, else the time its wait ends.  */
static void
s_request(broker_t *b, zsock_t *sock, zmsg_t *msg, int64_t until)
{
    request_t r = { 0 };
    fp_event_t *ev = NULL;
    zmsg_t *dup = b->js && s_is_since(msg) ? zmsg_dup(msg) : NULL;
    zframe_t *identity = zmsg_pop(msg);
    zframe_t *first = zmsg_first(msg);
    bool delim = first && zframe_size(first) == 0;

    if (until == 0)
        until = fp_clock_ms() + AHEAD_WAIT_MS;
    if (delim) {
        first = zmsg_pop(msg);
        zframe_destroy(&first);
    }
    bool publish = zmsg_first(msg) && zframe_streq(zmsg_first(msg),
                                                   "PUBLISH");
    if (!publish)
        s_settle(b, sock);
    /*  engine jetstream: an accepted PUBLISH is answered by the engine  */
    struct broker_reply *held = publish && b->js ? fp_calloc(1, sizeof *held)
                                                 : NULL;
    int rc = s_handle(b, msg, identity, &r, &ev, held);
    if (rc < 0 && s_may_wait(&r, dup, until)) {
        s_park(b, &dup, until);
        zframe_destroy(&identity);
        s_request_free(&r);
        return;
    }
    zmsg_destroy(&dup);
    if (rc < 0) {
        b->stats.bad_requests++;
        if (fp_log_limit_ok(&s_bad_log))
            fp_log_warnx("control: request refused (%s): %s", r.code, r.err);
    }
    if (held && rc == 0) {
        *held = (struct broker_reply) { identity, delim, 0, r, NULL };
        return;
    }
    free(held);
    if (publish) {
        s_hold(b, &identity, delim, rc, &r, ev);
        return;
    }
    s_reply(sock, &identity, delim, rc, &r);
    zframe_destroy(&identity);
    s_request_free(&r);
}

void
broker_control_retry(broker_t *b)
{
    size_t n = b->parked_len;
    if (n == 0)
        return;
    struct broker_parked *all = b->parked;
    b->parked = NULL;
    b->parked_len = b->parked_cap = 0;
    for (size_t i = 0; i < n; i++) {
        s_request(b, b->router, all[i].msg, all[i].until);
        zmsg_destroy(&all[i].msg);
    }
    free(all);
}

/*  Up to 256 requests per call, then settle their batch.  */
int
broker_on_router(zloop_t *loop, zsock_t *sock, void *arg)
{
    broker_t *b = arg;
    for (int i = 0; i < 256 && (zsock_events(sock) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        s_request(b, sock, msg, 0);
        zmsg_destroy(&msg);
    }
    s_settle(b, sock);
    return 0;
}

void
broker_control_answer(broker_t *b, struct broker_reply *h, int rc,
                      uint64_t seq, const char *channel, const char *code,
                      const char *err)
{
    char cursor[FP_CURSOR_LEN];

    if (rc == 0) {
        fp_cursor_format(b->epoch, seq, cursor);
        h->r.meta = json_pack("{s:s, s:I, s:s}", "id", cursor,
                              "seq", (json_int_t) seq, "channel", channel);
    } else {
        s_fail(&h->r, code, err);
    }
    s_reply(b->router, &h->identity, h->delim, rc, &h->r);
    broker_control_drop(h);
}

void
broker_control_drop(struct broker_reply *h)
{
    zframe_destroy(&h->identity);
    s_request_free(&h->r);
    free(h);
}

/*  Free what the ROUTER side holds (at shutdown, after the last batch).  */
void
broker_control_free(broker_t *b)
{
    for (size_t i = 0; i < b->parked_len; i++)
        zmsg_destroy(&b->parked[i].msg);
    free(b->parked);
    b->parked = NULL;
    b->parked_len = b->parked_cap = 0;
    free(b->replies);
    b->replies = NULL;
    b->replies_len = b->replies_cap = 0;
}
