/*  batch: polls that ask the broker the same question share one SINCE.
 *
 *  Caught-up clients of a channel poll with the same cursor, so under
 *  load the process would send the broker the same SINCE (channels,
 *  cursor, limit) many times over.  A batch is keyed by that question;
 *  it holds the requests its one SINCE in flight will answer (`sent`)
 *  and the requests that came after that SINCE left (`queued`).  When
 *  the reply comes, every request in `sent` is answered from it (poll.c,
 *  each with its own wait, ETag and cursor); then `queued`, if any, goes
 *  out as the next SINCE.
 *
 *  Read-your-writes holds: a request is only ever answered by a SINCE
 *  sent after it arrived, so an event the broker acknowledged before the
 *  poll is in the reply, exactly as with one SINCE per poll.  At most one
 *  SINCE per question is in flight; a request waits at most for the one
 *  in flight plus its own.
 *
 *  A request that goes away (the client left) leaves its batch; the last
 *  one out cancels the SINCE.
 */
#include "polld.h"
#include "mem.h"

#include <czmq.h>
#include <string.h>

struct polld_batch {
    polld_t *d;
    char *key;                  /*  the question (owned; the table's key)  */
    char *since;                /*  its cursor (owned)  */
    fp_hub_req_t *hreq;         /*  the SINCE in flight, or NULL  */
    polld_req_t *sent;          /*  answered by hreq's reply  */
    polld_req_t *queued;        /*  asked after hreq left: the next SINCE  */
};

/*  The question of a poll: its SINCE body without the tag.  */
static char *
s_key(const polld_req_t *r, const char *since)
{
    fp_buf_t k;
    fp_buf_init(&k);
    fp_buf_addf(&k, "%s\n%lld", since, (long long) r->limit);
    for (int i = 0; i < r->channels.count; i++)
        fp_buf_addf(&k, "\n%s", r->channels.items[i]);
    return fp_buf_detach(&k, NULL);
}

static void s_on_reply(void *arg, bool ok, json_t *meta, fp_event_t **evs,
                       size_t n);

/*  Send the SINCE of b's question for the requests in `queued`.  */
static void
s_send(polld_batch_t *b)
{
    polld_req_t *r = b->queued;
    fp_hub_t *hub = fp_responder_hub(b->d->app);
    json_t *chans = json_array();

    for (int i = 0; i < r->channels.count; i++)
        json_array_append_new(chans, json_string(r->channels.items[i]));
    b->sent = b->queued;
    b->queued = NULL;
    b->d->stats.since_sent++;
    json_t *body = json_pack("{s:o, s:s, s:I}", "channels", chans,
                             "cursor", b->since, "limit",
                             (json_int_t) r->limit);
    b->hreq = fp_hub_request(hub, "SINCE", body, s_on_reply, b);
}

static void
s_destroy(polld_batch_t *b)
{
    fp_hub_cancel(fp_responder_hub(b->d->app), &b->hreq);
    zhashx_delete(b->d->batches, b->key);
    free(b->key);
    free(b->since);
    free(b);
}

static void
s_on_reply(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_batch_t *b = arg;
    polld_req_t *r = b->sent, *next;

    b->hreq = NULL;
    b->sent = NULL;
    for (; r; r = next) {
        next = r->bnext;
        r->batch = NULL;
        r->bnext = NULL;
        polld_since_answer(r, ok, meta, evs, n);
    }
    if (b->queued)
        s_send(b);
    else
        s_destroy(b);
}

/*  Append r to a list.  */
static void
s_push(polld_req_t **list, polld_req_t *r)
{
    r->bnext = *list;
    *list = r;
}

void
polld_batch_since(polld_req_t *r, const char *since)
{
    polld_t *d = r->d;
    char *key = s_key(r, since);

    if (!d->batches) {
        d->batches = zhashx_new();
        zhashx_set_key_destructor(d->batches, NULL);
        zhashx_set_key_duplicator(d->batches, NULL);
    }
    polld_batch_t *b = zhashx_lookup(d->batches, key);

    if (!b) {
        b = fp_calloc(1, sizeof *b);
        b->d = d;
        b->key = key;
        b->since = fp_strdup(since);
        zhashx_insert(d->batches, key, b);
    } else {
        free(key);
        d->stats.since_shared++;
    }
    r->batch = b;
    s_push(&b->queued, r);
    if (!b->hreq)
        s_send(b);
}

/*  Take r out of a list; true if it was there.  */
static bool
s_remove(polld_req_t **list, polld_req_t *r)
{
    for (polld_req_t **pp = list; *pp; pp = &(*pp)->bnext)
        if (*pp == r) {
            *pp = r->bnext;
            r->bnext = NULL;
            return true;
        }
    return false;
}

void
polld_batch_leave(polld_req_t *r)
{
    polld_batch_t *b = r->batch;
    if (!b)
        return;
    r->batch = NULL;
    if (!s_remove(&b->sent, r))
        s_remove(&b->queued, r);
    if (b->sent || b->queued) {
        if (!b->sent && b->hreq) {
            /*  nobody waits for the SINCE in flight: the next goes now  */
            fp_hub_cancel(fp_responder_hub(r->d->app), &b->hreq);
            s_send(b);
        }
        return;
    }
    s_destroy(b);
}

void
polld_batch_release(polld_t *d)
{
    zhashx_destroy(&d->batches);
}
