/*  hub_chan: the hub's channel table: one SUB subscription per channel
 *  for the whole process, created by the first member and forgotten some
 *  time after the last one left (hub.c decides when).  The lowest layer
 *  of the hub with hub_req.c: it calls nothing in hub.c or hub_member.c.
 */
#include "hub_int.h"
#include "clock.h"
#include "mem.h"

#include <string.h>

void
hub_chan_subscribe(fp_hub_t *hub, const char *name, bool on)
{
    zmq_setsockopt(zsock_resolve(hub->sub),
                   on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, name,
                   strlen(name) + 1);
}

hub_chan_t *
hub_chan_get(fp_hub_t *hub, const char *name)
{
    return zhashx_lookup(hub->chans, name);
}

hub_chan_t *
hub_chan_require(fp_hub_t *hub, const char *name)
{
    hub_chan_t *c = zhashx_lookup(hub->chans, name);
    if (c)
        return c;
    c = fp_calloc(1, sizeof *c);
    c->hub = hub;
    c->name = fp_strdup(name);
    c->state = CHAN_SUBSCRIBING;
    c->subscribed_at = fp_clock_ms();
    zhashx_insert(hub->chans, name, c);
    hub_chan_subscribe(hub, name, true);
    hub->stats.channels++;
    return c;
}

void
hub_chan_idle_check(fp_hub_t *hub, hub_chan_t *c)
{
    if (c->n == 0)
        c->idle_since = fp_clock_ms();
}

void
hub_chan_free(fp_hub_t *hub, hub_chan_t *c)
{
    hub_chan_subscribe(hub, c->name, false);
    zhashx_delete(hub->chans, c->name);
    free(c->members);
    free(c->name);
    free(c);
    hub->stats.channels--;
}
