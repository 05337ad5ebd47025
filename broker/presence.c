/*  presence: who is on a presence channel, kept by the broker for every
 *  transport (the PRESENCE request of the control socket).
 *
 *  A member is a user (user_id, with the user_info of its first
 *  connection) on a channel; it may hold several connections, on several
 *  responder processes, and is counted once.  Each connection is named by
 *  its responder process ("instance", a random id the process picks at
 *  start) and the process's own connection id.  The first connection of
 *  a user makes the broker publish `member_added` {"user_id","user_info"}
 *  on the channel; the last one leaving makes it publish `member_removed`
 *  {"user_id"}.  These are ordinary events (history, cursor, store), and
 *  no publisher may send events of those two types.
 *
 *  A responder beats for its instance every few seconds; an instance not
 *  heard from for presence-timeout has died, and its members leave.  A
 *  beat answered {"known":false} (the broker restarted, or expired the
 *  instance) tells the responder to join its connections again.
 *
 *      PRESENCE {"op":"join","instance":I,"conn":C,"channel":CH,
 *                "user_id":U,"user_info":V?,"max_members":N?}
 *          -> {"members":[{"user_id","user_info"}...],"count":n,
 *              "added":bool,"seq":S,"epoch":E}
 *      PRESENCE {"op":"leave","instance":I,"conn":C,"channel":CH}
 *          -> {"removed":bool}
 *      PRESENCE {"op":"beat","instance":I}  -> {"known":bool}
 *      PRESENCE {"op":"drop","instance":I}  -> {"left":n}
 *      PRESENCE {"op":"members","channel":CH} -> as join, without added
 *
 *  A join with "roster":true is a member of a roster, not of a Pusher
 *  member list: the Mercure hub keeps its subscriptions so.  It is
 *  bounded by presence-max only (not presence-max-members), its
 *  user_info by 16 kB (1 kB otherwise, as Pusher), and its
 *  member_removed carries the user_info as well, saying what left.
 *
 *  Membership lives in this process only: in cluster mode each broker
 *  knows the members of the responders connected to it.
 */
#include "broker.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "utf8.h"

#include <string.h>

#define ID_MAX 64                   /*  instance and connection ids  */
#define USER_ID_MAX 128
#define USER_INFO_MAX 1024          /*  bytes of user_info as JSON (Pusher's) */
#define ROSTER_INFO_MAX 16384       /*  ... of a roster's member  */

typedef struct {
    json_t *info;               /*  owned: the user_info of the first
                                    connection (null if none)  */
    int64_t conns;              /*  connections of this user here  */
    bool roster;                /*  joined as a roster (its first join)  */
} member_t;

typedef struct {
    zhashx_t *members;          /*  user_id -> member_t *  */
} pchan_t;

typedef struct {
    char *channel;              /*  owned  */
    char *user_id;              /*  owned  */
    char *instance;             /*  owned  */
} pconn_t;

typedef struct {
    int64_t seen;               /*  monotonic ms of the last request  */
    zhashx_t *conns;            /*  conn key -> pconn_t * (borrowed)  */
} instance_t;

struct broker_presence {
    zhashx_t *chans;            /*  channel -> pchan_t *  */
    zhashx_t *conns;            /*  "I\037C\037CH" -> pconn_t * (owned)  */
    zhashx_t *instances;        /*  instance -> instance_t *  */
};

/* ------------------------------------------------------------ tables */

static void
s_member_free(void **item)
{
    member_t *m = *item;
    if (m) {
        json_decref(m->info);
        free(m);
        *item = NULL;
    }
}

static void
s_pchan_free(void **item)
{
    pchan_t *pc = *item;
    if (pc) {
        zhashx_destroy(&pc->members);
        free(pc);
        *item = NULL;
    }
}

static void
s_pconn_free(void **item)
{
    pconn_t *c = *item;
    if (c) {
        free(c->channel);
        free(c->user_id);
        free(c->instance);
        free(c);
        *item = NULL;
    }
}

static void
s_instance_free(void **item)
{
    instance_t *in = *item;
    if (in) {
        zhashx_destroy(&in->conns);
        free(in);
        *item = NULL;
    }
}

static struct broker_presence *
s_tables(broker_t *b)
{
    if (!b->presence) {
        struct broker_presence *p = fp_calloc(1, sizeof *p);
        p->chans = zhashx_new();
        zhashx_set_destructor(p->chans, s_pchan_free);
        p->conns = zhashx_new();
        zhashx_set_destructor(p->conns, s_pconn_free);
        p->instances = zhashx_new();
        zhashx_set_destructor(p->instances, s_instance_free);
        b->presence = p;
    }
    return b->presence;
}

void
broker_presence_free(broker_t *b)
{
    struct broker_presence *p = b->presence;
    if (!p)
        return;
    zhashx_destroy(&p->instances);
    zhashx_destroy(&p->conns);
    zhashx_destroy(&p->chans);
    free(p);
    b->presence = NULL;
}

bool
broker_presence_type(const char *type)
{
    return strcmp(type, "member_added") == 0 ||
           strcmp(type, "member_removed") == 0;
}

/* ------------------------------------------------------------ events */

/*  Publish the broker's own member_added / member_removed on channel.  */
static void
s_announce(broker_t *b, const char *channel, const char *type,
           const char *user_id, json_t *info)
{
    char code[BROKER_CODE_LEN], err[FP_ERR_LEN];
    json_t *d = json_pack("{s:s}", "user_id", user_id);
    if (info)
        json_object_set(d, "user_info", info);
    size_t len;
    char *data = fp_json_dump(d, &len);
    json_decref(d);
    fp_publish_t p = { .channel = (char *) channel, .type = (char *) type,
                       .data = data, .data_len = len };
    if (broker_publish_own(b, &p, code, err) < 0)
        fp_log_warnx("presence: %s on '%s' not published (%s): %s", type,
                     channel, code, err);
    free(data);
}

/* ------------------------------------------------------------ input */

static bool
s_user_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > USER_ID_MAX || !fp_utf8_valid((const uint8_t *) s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

typedef struct {
    const char *op, *instance, *conn, *channel, *user_id;
    json_t *user_info;
    int64_t max_members;
    bool roster;                /*  not a Pusher member list  */
} preq_t;

static int
s_bad(char *code, char *err, const char *msg)
{
    snprintf(err, FP_ERR_LEN, "PRESENCE: %s", msg);
    return broker_fail(code, "bad_request");
}

/*  Read and check the members of a request for its op.  */
static int
s_parse(broker_t *b, json_t *req, preq_t *q, char *code, char *err)
{
    *q = (preq_t) { .max_members = b->conf.presence_max_members };
    q->channel = json_string_value(json_object_get(req, "channel"));
    json_t *roster = json_object_get(req, "roster");
    q->roster = json_is_true(roster);
    if (q->roster)
        q->max_members = b->conf.presence_max;  /*  not a Pusher list  */
    q->op = json_string_value(json_object_get(req, "op"));
    q->instance = json_string_value(json_object_get(req, "instance"));
    q->conn = json_string_value(json_object_get(req, "conn"));
    q->user_id = json_string_value(json_object_get(req, "user_id"));
    q->user_info = json_object_get(req, "user_info");
    json_t *mm = json_object_get(req, "max_members");
    if (!q->op)
        return s_bad(code, err, "'op' must be join, leave, beat, drop or "
                     "members");
    bool join = strcmp(q->op, "join") == 0;
    bool leave = strcmp(q->op, "leave") == 0;
    bool members = strcmp(q->op, "members") == 0;
    if (!join && !leave && !members && strcmp(q->op, "beat") != 0 &&
        strcmp(q->op, "drop") != 0)
        return s_bad(code, err, "'op' must be join, leave, beat, drop or "
                     "members");
    if (!members && !fp_id_valid(q->instance, ID_MAX))
        return s_bad(code, err, "'instance': 1 to 64 of A-Z a-z 0-9 . _ -");
    if ((join || leave) && !fp_id_valid(q->conn, ID_MAX))
        return s_bad(code, err, "'conn': 1 to 64 of A-Z a-z 0-9 . _ -");
    if ((join || leave || members) &&
        (!q->channel || !fp_channel_valid(q->channel, strlen(q->channel))))
        return s_bad(code, err, "'channel' is not a valid channel name");
    if (join && !s_user_id_ok(q->user_id))
        return s_bad(code, err, "'user_id': a string of 1 to 128 bytes "
                     "without control characters");
    if (roster && !json_is_boolean(roster))
        return s_bad(code, err, "'roster' must be true or false");
    if (join && mm) {
        if (!json_is_integer(mm) || json_integer_value(mm) < 1)
            return s_bad(code, err, "'max_members' must be a positive "
                         "integer");
        if (json_integer_value(mm) < q->max_members)
            q->max_members = json_integer_value(mm);
    }
    return 0;
}

/* ------------------------------------------------------------ ops */

/*  Bytes of user_info as compact JSON.  */
static size_t
s_info_size(const json_t *info)
{
    size_t len;
    free(fp_json_dump(info ? info : json_null(), &len));
    return len;
}

static json_t *
s_member_list(struct broker_presence *p, const char *channel)
{
    json_t *list = json_array();
    pchan_t *pc = zhashx_lookup(p->chans, channel);
    for (member_t *m = pc ? zhashx_first(pc->members) : NULL; m;
         m = zhashx_next(pc->members))
        json_array_append_new(list, json_pack("{s:s, s:O}", "user_id",
                                              (const char *)
                                              zhashx_cursor(pc->members),
                                              "user_info", m->info));
    return list;
}

static instance_t *
s_instance(struct broker_presence *p, const char *id, bool create)
{
    instance_t *in = zhashx_lookup(p->instances, id);
    if (!in && create) {
        in = fp_calloc(1, sizeof *in);
        in->conns = zhashx_new();
        zhashx_insert(p->instances, id, in);
    }
    if (in)
        in->seen = fp_clock_ms();
    return in;
}

static void
s_conn_key(const char *instance, const char *conn, const char *channel,
           char *key, size_t size)
{
    snprintf(key, size, "%s\037%s\037%s", instance, conn, channel);
}

/*  A connection leaves: the user leaves the channel with its last one.
 *  Returns true when the user left.  */
static bool
s_leave_conn(broker_t *b, struct broker_presence *p, const char *key)
{
    pconn_t *c = zhashx_lookup(p->conns, key);
    if (!c)
        return false;
    bool left = false;
    instance_t *in = zhashx_lookup(p->instances, c->instance);
    if (in)
        zhashx_delete(in->conns, key);
    pchan_t *pc = zhashx_lookup(p->chans, c->channel);
    member_t *m = pc ? zhashx_lookup(pc->members, c->user_id) : NULL;
    if (m && --m->conns == 0) {
        /*  Pusher's is {"user_id"}; a roster's (the Mercure hub's
         *  subscriptions) says what left  */
        json_t *info = m->roster ? json_incref(m->info) : NULL;
        zhashx_delete(pc->members, c->user_id);
        left = true;
        s_announce(b, c->channel, "member_removed", c->user_id, info);
        json_decref(info);
        if (zhashx_size(pc->members) == 0)
            zhashx_delete(p->chans, c->channel);
    }
    zhashx_delete(p->conns, key);
    return left;
}

static int
s_join(broker_t *b, struct broker_presence *p, const preq_t *q,
       json_t **meta, char *code, char *err)
{
    char key[3 * FP_CHANNEL_MAX];
    s_conn_key(q->instance, q->conn, q->channel, key, sizeof key);
    bool added = false;
    if (!zhashx_lookup(p->conns, key)) {
        pchan_t *pc = zhashx_lookup(p->chans, q->channel);
        member_t *m = pc ? zhashx_lookup(pc->members, q->user_id) : NULL;
        size_t n = pc ? zhashx_size(pc->members) : 0;
        if (!m && (int64_t) n >= q->max_members) {
            snprintf(err, FP_ERR_LEN, "presence channel '%s' has its %lld "
                     "members", q->channel, (long long) q->max_members);
            return broker_fail(code, "presence_full");
        }
        if ((int64_t) zhashx_size(p->conns) >= b->conf.presence_max) {
            snprintf(err, FP_ERR_LEN, "the broker holds %lld presence "
                     "connections (presence-max)",
                     (long long) b->conf.presence_max);
            return broker_fail(code, "presence_full");
        }
        if (s_info_size(q->user_info) > (q->roster ? ROSTER_INFO_MAX
                                                   : USER_INFO_MAX))
            return s_bad(code, err, q->roster
                         ? "'user_info' is over 16384 bytes as JSON"
                         : "'user_info' is over 1024 bytes as JSON");
        if (!pc) {
            pc = fp_calloc(1, sizeof *pc);
            pc->members = zhashx_new();
            zhashx_set_destructor(pc->members, s_member_free);
            zhashx_insert(p->chans, q->channel, pc);
        }
        if (!m) {
            m = fp_calloc(1, sizeof *m);
            m->roster = q->roster;
            m->info = q->user_info ? json_deep_copy(q->user_info)
                                   : json_null();
            zhashx_insert(pc->members, q->user_id, m);
            added = true;
        }
        m->conns++;
        pconn_t *c = fp_calloc(1, sizeof *c);
        c->channel = fp_strdup(q->channel);
        c->user_id = fp_strdup(q->user_id);
        c->instance = fp_strdup(q->instance);
        zhashx_insert(p->conns, key, c);
        zhashx_insert(s_instance(p, q->instance, true)->conns, key, c);
        if (added)
            s_announce(b, q->channel, "member_added", q->user_id, m->info);
    } else {
        s_instance(p, q->instance, true);
    }
    json_t *list = s_member_list(p, q->channel);
    *meta = json_pack("{s:o, s:I, s:b, s:I, s:s}", "members", list,
                      "count", (json_int_t) json_array_size(list), "added",
                      added, "seq", (json_int_t) b->seq, "epoch", b->epoch);
    return 0;
}

/*  Every connection of an instance leaves; the instance is forgotten.
 *  Returns how many users left.  */
static int64_t
s_drop(broker_t *b, struct broker_presence *p, const char *id)
{
    instance_t *in = zhashx_lookup(p->instances, id);
    int64_t left = 0;
    if (!in)
        return 0;
    zlistx_t *keys = zhashx_keys(in->conns);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys))
        left += s_leave_conn(b, p, k);
    zlistx_destroy(&keys);
    zhashx_delete(p->instances, id);
    return left;
}

int
broker_presence(broker_t *b, json_t *req, json_t **meta, char *code,
                char *err)
{
    preq_t q;
    if (s_parse(b, req, &q, code, err) < 0)
        return -1;
    struct broker_presence *p = s_tables(b);
    if (strcmp(q.op, "join") == 0)
        return s_join(b, p, &q, meta, code, err);
    if (strcmp(q.op, "leave") == 0) {
        char key[3 * FP_CHANNEL_MAX];
        s_instance(p, q.instance, false);
        s_conn_key(q.instance, q.conn, q.channel, key, sizeof key);
        *meta = json_pack("{s:b}", "removed", s_leave_conn(b, p, key));
    } else if (strcmp(q.op, "beat") == 0) {
        *meta = json_pack("{s:b}", "known",
                          s_instance(p, q.instance, false) != NULL);
    } else if (strcmp(q.op, "drop") == 0) {
        *meta = json_pack("{s:I}", "left", (json_int_t) s_drop(b, p,
                                                               q.instance));
    } else {
        json_t *list = s_member_list(p, q.channel);
        *meta = json_pack("{s:o, s:I, s:I, s:s}", "members", list,
                          "count", (json_int_t) json_array_size(list),
                          "seq", (json_int_t) b->seq, "epoch", b->epoch);
    }
    return 0;
}

static void *
s_str_dup(const void *item)
{
    return fp_strdup(item);
}

static void
s_str_free(void **item)
{
    free(*item);
    *item = NULL;
}

void
broker_presence_expire(broker_t *b, int64_t now)
{
    struct broker_presence *p = b->presence;
    if (!p || zhashx_size(p->instances) == 0)
        return;
    zlistx_t *gone = zlistx_new();
    zlistx_set_duplicator(gone, s_str_dup);
    zlistx_set_destructor(gone, s_str_free);
    for (instance_t *in = zhashx_first(p->instances); in;
         in = zhashx_next(p->instances))
        if (now - in->seen > (int64_t) b->conf.presence_timeout)
            zlistx_add_end(gone, (void *) zhashx_cursor(p->instances));
    for (char *id = zlistx_first(gone); id; id = zlistx_next(gone)) {
        int64_t left = s_drop(b, p, id);
        fp_log_info("presence: responder %s silent for %llu ms: %lld "
                     "members left", id,
                     (unsigned long long) b->conf.presence_timeout,
                     (long long) left);
    }
    zlistx_destroy(&gone);
}

json_t *
broker_presence_json(const broker_t *b)
{
    const struct broker_presence *p = b->presence;
    int64_t members = 0;
    for (pchan_t *pc = p ? zhashx_first(p->chans) : NULL; pc;
         pc = zhashx_next(p->chans))
        members += (int64_t) zhashx_size(pc->members);
    return json_pack("{s:I, s:I, s:I, s:I}",
                     "channels", (json_int_t) (p ? zhashx_size(p->chans) : 0),
                     "members", (json_int_t) members,
                     "connections", (json_int_t) (p ? zhashx_size(p->conns)
                                                    : 0),
                     "responders", (json_int_t) (p ? zhashx_size(p->instances)
                                                   : 0));
}
