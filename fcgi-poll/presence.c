/*  presence: the presence channels of polls.
 *
 *  Polls are separate requests, so a member outlives them: a user (auth
 *  on: the token's sub or REMOTE_USER; fp_access_allow refuses presence
 *  channels without one) polling a presence channel is one connection of
 *  that member in this process (runtime/presence), whose id is "p" and a
 *  number of the process: every device of the user shares it (the table
 *  is keyed by user and channel).  The
 *  first poll joins it; every poll refreshes it (a waiting long-poll
 *  holds it); presence-idle after the last one ends, the process leaves
 *  (fp_presence_leave: member_removed when it was the user's last
 *  connection anywhere).
 *
 *  The first poll of the user on the channel in this process, and every
 *  poll with ?presence=1, answers with the member list,
 *
 *      "presence":[{"channel":C,"members":[...],"count":N,"seq":S}]
 *
 *  (the join's answer, or a PRESENCE members), asked before the poll's
 *  SINCE or PING; member_added / member_removed are ordinary events of
 *  the channel, those at or below `seq` are already in the list.
 */
#include "polld.h"
#include "clock.h"
#include "error.h"
#include "json.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  A poll member: one (user, channel) of this process.  */
typedef struct {
    char conn[FP_PRESENCE_CONN_MAX + 1];    /*  "p" + a number of this
                                                process  */
    char *channel;              /*  owned  */
    char *user;                 /*  owned  */
    bool joined;                /*  the join was sent and not refused  */
    uint32_t holders;           /*  polls holding it (answered or not)  */
    int64_t last_seen;          /*  when the last of them came or went  */
} s_member_t;

/*  One presence channel of a poll.  */
struct polld_pslot {
    polld_req_t *r;
    s_member_t *m;              /*  held (m->holders)  */
    fp_hub_req_t *hreq;         /*  its join or list, while unanswered  */
    bool join;                  /*  ... a join (else PRESENCE members)  */
    json_t *list;               /*  {"channel","members","count","seq"}  */
};

static void
s_member_free(void **item)
{
    s_member_t *m = *item;
    if (m) {
        free(m->channel);
        free(m->user);
        free(m);
        *item = NULL;
    }
}

/*  "user\037channel"; caller owns the result.  */
static char *
s_key(const char *user, const char *channel)
{
    size_t size = strlen(user) + strlen(channel) + 2;
    char *key = fp_malloc(size);
    snprintf(key, size, "%s\037%s", user, channel);
    return key;
}

/*  How many members user has (n > 0: add one; n < 0: take one away).  */
static uintptr_t
s_user_count(polld_t *d, const char *user, int n)
{
    uintptr_t k = (uintptr_t) zhashx_lookup(d->presence_users, user);
    if (n == 0)
        return k;
    k = n > 0 ? k + 1 : k - 1;
    if (k)
        zhashx_update(d->presence_users, user, (void *) k);
    else
        zhashx_delete(d->presence_users, user);
    return k;
}

/*  The member of (user, channel), made when new; NULL with the HTTP
 *  status in *st when the user has max-presence-user members (429) or
 *  the table is full (max-presence: 503).  */
static s_member_t *
s_member(polld_t *d, const char *user, const char *channel, int *st)
{
    if (!d->presence) {
        d->presence = zhashx_new();
        zhashx_set_destructor(d->presence, s_member_free);
        d->presence_users = zhashx_new();   /*  values are counts  */
    }
    char *key = s_key(user, channel);
    s_member_t *m = zhashx_lookup(d->presence, key);
    *st = 0;
    if (!m && s_user_count(d, user, 0) >=
        (uintptr_t) d->conf.max_presence_user)
        *st = 429;
    else if (!m && zhashx_size(d->presence) >= (size_t) d->conf.max_presence)
        *st = 503;
    else if (!m) {
        m = fp_calloc(1, sizeof *m);
        snprintf(m->conn, sizeof m->conn, "p%llu",
                 (unsigned long long) ++d->presence_ids);
        m->channel = fp_strdup(channel);
        m->user = fp_strdup(user);
        s_user_count(d, user, 1);
        zhashx_insert(d->presence, key, m);
    }
    free(key);
    return m;
}

static void
s_reply(void *arg, bool ok, json_t *meta, fp_event_t **events, size_t n)
{
    polld_pslot_t *ps = arg;
    polld_req_t *r = ps->r;             /*  alive: polld_req_free cancels  */
    (void) events;
    (void) n;
    ps->hreq = NULL;
    if (!ok) {
        const char *code = fp_error_code(meta);
        if (ps->join) {
            /*  a refused join is left, and tried again at the next poll  */
            fp_presence_leave(fp_responder_presence(r->d->app), ps->m->conn,
                              ps->m->channel);
            ps->m->joined = false;
            r->d->stats.presence_refused++;
        }
        if (code && strcmp(code, "presence_full") == 0)
            polld_error(r, 409, code, fp_error_message(meta));
        else
            polld_broker_error(r, meta);
        return;
    }
    ps->list = json_pack("{s:s, s:O, s:O, s:O}", "channel", ps->m->channel,
                         "members", json_object_get(meta, "members"),
                         "count", json_object_get(meta, "count"),
                         "seq", json_object_get(meta, "seq"));
    if (--r->ppending == 0)
        polld_poll_go(r);
}

int
polld_presence_poll(polld_req_t *r, bool want_list)
{
    polld_t *d = r->d;
    fp_presence_t *pres = fp_responder_presence(d->app);
    const fp_principal_t *p = r->client ? &r->client->p : NULL;
    int64_t now = fp_clock_ms();
    size_t n = 0;

    for (int i = 0; i < r->channels.count; i++)
        n += fp_channel_presence(r->channels.items[i]);
    if (n == 0 || !p || !p->user) {     /*  no user: polld_allow refused  */
        polld_poll_go(r);
        return 0;
    }
    r->pslots = fp_calloc(n, sizeof *r->pslots);
    for (int i = 0; i < r->channels.count; i++) {
        const char *ch = r->channels.items[i];
        if (!fp_channel_presence(ch))
            continue;
        int st;
        s_member_t *m = s_member(d, p->user, ch, &st);
        if (!m) {
            char msg[FP_ERR_LEN];
            if (st == 503)
                snprintf(msg, sizeof msg, "this responder keeps at most "
                         "%lld presence members of polls (max-presence); "
                         "poll again later", (long long) d->conf.max_presence);
            else
                snprintf(msg, sizeof msg, "a user may be on at most %lld "
                         "presence channels here (max-presence-user)",
                         (long long) d->conf.max_presence_user);
            polld_error(r, st, st == 503 ? "too_many_members"
                        : "limit_exceeded", msg);
            return -1;
        }
        polld_pslot_t *ps = &r->pslots[r->npslots++];
        ps->r = r;
        ps->m = m;
        m->holders++;
        m->last_seen = now;
        if (!m->joined) {
            m->joined = ps->join = true;
            d->stats.presence_joined++;
            ps->hreq = fp_presence_join(pres, m->conn, m->channel, p->user,
                                        p->user_info, 0, s_reply, ps);
        } else if (want_list) {
            ps->hreq = fp_presence_members(pres, m->channel, s_reply, ps);
        }
        if (ps->hreq)
            r->ppending++;      /*  the hub answers later, never at once  */
    }
    if (r->ppending == 0)
        polld_poll_go(r);
    return 0;
}

void
polld_presence_release(polld_req_t *r)
{
    int64_t now = fp_clock_ms();
    for (size_t i = 0; i < r->npslots; i++) {
        polld_pslot_t *ps = &r->pslots[i];
        if (ps->hreq && ps->join)
            ps->m->joined = false;  /*  its answer is lost: join again at
                                        the next poll (a join is idempotent)  */
        fp_hub_cancel(fp_responder_hub(r->d->app), &ps->hreq);
        ps->m->holders--;
        ps->m->last_seen = now;
        json_decref(ps->list);
    }
    free(r->pslots);
    r->pslots = NULL;
    r->npslots = r->ppending = 0;
}

bool
polld_presence_append(const polld_req_t *r, fp_buf_t *b)
{
    bool any = false;
    for (size_t i = 0; i < r->npslots; i++) {
        const polld_pslot_t *ps = &r->pslots[i];
        if (!ps->list)
            continue;
        if (!b)
            return true;
        size_t len;
        char *text = fp_json_dump(ps->list, &len);
        if (!text)
            continue;
        fp_buf_adds(b, any ? "," : ",\"presence\":[");
        fp_buf_add(b, text, len);
        free(text);
        any = true;
    }
    if (any)
        fp_buf_addc(b, ']');
    return any;
}

void
polld_presence_expire(polld_t *d, int64_t now)
{
    if (!d->presence || now < d->presence_next)
        return;
    d->presence_next = now + 250;       /*  a walk over the table  */
    fp_presence_t *pres = fp_responder_presence(d->app);
    zlistx_t *keys = zlistx_new();      /*  the expired ones' (borrowed)  */
    for (s_member_t *m = zhashx_first(d->presence); m;
         m = zhashx_next(d->presence))
        if (m->holders == 0 && (!m->joined || now - m->last_seen >=
                                (int64_t) d->conf.presence_idle))
            zlistx_add_end(keys, (void *) zhashx_cursor(d->presence));
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        s_member_t *m = zhashx_lookup(d->presence, k);
        /*  also one whose join's answer was lost (the broker may have
         *  it): unknown pairs are ignored  */
        fp_presence_leave(pres, m->conn, m->channel);
        if (m->joined)
            d->stats.presence_idle++;
        s_user_count(d, m->user, -1);
        zhashx_delete(d->presence, k);
    }
    zlistx_destroy(&keys);
}

void
polld_presence_free(polld_t *d)
{
    zhashx_destroy(&d->presence);
    zhashx_destroy(&d->presence_users);
}
