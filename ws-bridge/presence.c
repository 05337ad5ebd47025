/*  presence: a connection's presence channels.
 *
 *  The worker has one runtime/presence (worker.c): it names the process
 *  to the broker, beats, joins everything again after a broker restart
 *  and drops the process's members at exit.  Here each connection keeps
 *  the channels its user joined: a join waits for the broker's answer
 *  (the member list, handed to the caller's callback), is remembered
 *  until the channel is left (unsubscribe) or the connection closes, and
 *  a refused join is left at once.  The connection's presence id is its
 *  worker number (c->id), unique in the process.
 *
 *  The callback may end the connection or leave channels (its sends can
 *  cut a slow consumer, a refusal drops the channel): an accepted join
 *  is not touched after its callback, a refused one is unlinked and left
 *  before it and freed after it.
 */
#include "wsb.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wsb_pres {
    wsb_pres_t *next;           /*  the connection's channels  */
    wsb_conn_t *c;
    fp_hub_req_t *req;          /*  the join while unanswered  */
    wsb_presence_fn *cb;
    char *tag;                  /*  owned, or NULL  */
    char *channel;              /*  owned  */
};

static void
s_conn_id(const wsb_conn_t *c, char out[FP_PRESENCE_CONN_MAX])
{
    snprintf(out, FP_PRESENCE_CONN_MAX, "%llu", (unsigned long long) c->id);
}

static wsb_pres_t *
s_find(const wsb_conn_t *c, const char *channel)
{
    for (wsb_pres_t *p = c->pres; p; p = p->next)
        if (strcmp(p->channel, channel) == 0)
            return p;
    return NULL;
}

/*  Unlink p, tell the broker, cancel its join (p stays allocated).  */
static void
s_unlink(wsb_pres_t *p)
{
    wsb_conn_t *c = p->c;
    char id[FP_PRESENCE_CONN_MAX];

    for (wsb_pres_t **pp = &c->pres; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    fp_hub_cancel(c->w->hub, &p->req);
    s_conn_id(c, id);
    fp_presence_leave(c->w->presence, id, p->channel);
}

static void
s_free(wsb_pres_t *p)
{
    free(p->tag);
    free(p->channel);
    free(p);
}

static void
s_leave(wsb_pres_t *p)
{
    s_unlink(p);
    s_free(p);
}

static void
s_reply(void *arg, bool ok, json_t *meta, fp_event_t **events, size_t n)
{
    wsb_pres_t *p = arg;        /*  alive: leaving cancels the reply  */
    (void) events;
    (void) n;
    p->req = NULL;
    if (ok) {
        p->cb(p->c, p->channel, true, meta, p->tag);
        return;                 /*  p may be gone  */
    }
    s_unlink(p);
    p->cb(p->c, p->channel, false, meta, p->tag);
    s_free(p);
}

void
wsb_presence_join(wsb_conn_t *c, const char *channel, const char *user_id,
                  const char *user_info, int64_t max_members,
                  wsb_presence_fn *cb, const char *tag)
{
    char id[FP_PRESENCE_CONN_MAX];
    wsb_pres_t *p = fp_calloc(1, sizeof *p);

    p->c = c;
    p->cb = cb;
    p->tag = tag ? fp_strdup(tag) : NULL;
    p->channel = fp_strdup(channel);
    p->next = c->pres;
    c->pres = p;
    s_conn_id(c, id);
    p->req = fp_presence_join(c->w->presence, id, channel, user_id,
                              user_info, max_members, s_reply, p);
}

int
wsb_presence_pending(const wsb_conn_t *c)
{
    int n = 0;
    for (const wsb_pres_t *p = c->pres; p; p = p->next)
        n += p->req != NULL;
    return n;
}

bool
wsb_presence_has(const wsb_conn_t *c, const char *channel)
{
    return s_find(c, channel) != NULL;
}

void
wsb_presence_leave(wsb_conn_t *c, const char *channel)
{
    wsb_pres_t *p = s_find(c, channel);
    if (p)
        s_leave(p);
}

void
wsb_presence_drop_all(wsb_conn_t *c)
{
    while (c->pres)
        s_leave(c->pres);
}
