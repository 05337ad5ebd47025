/*  translate: a broker feed message as a Pusher webhook event.
 *
 *      occupied {"channel":C}  -> {"name":"channel_occupied","channel":N}
 *      vacated  {"channel":C}  -> {"name":"channel_vacated","channel":N}
 *      event member_added      -> {"name":"member_added","channel":N,
 *                                  "user_id":U}
 *      event member_removed    -> {"name":"member_removed", ... "user_id":U}
 *      event client-*          -> {"name":"client_event","channel":N,
 *                                  "event":E,"data":D,"socket_id":S}
 *                                  (S when the event has one)
 *
 *  N is the Pusher name (NAME of "ID:NAME") when C is a channel of an app
 *  with a webhook, which is then the target; else C itself, for the
 *  `url` target if there is one (not for a channel of an app without a
 *  webhook).  E is the Pusher event name (the type
 *  decoded) and D the event's data as a string (Pusher's data is one).
 */
#include "whd.h"
#include "json.h"

#include <string.h>

/*  The target of channel, and its name there: an app's channel "ID:NAME"
 *  goes to its app's webhook (none: no target), any other to `url`.  */
static whd_target_t *
s_target(whd_t *w, const char *channel, const char **name)
{
    const char *colon = strchr(channel, ':');
    const fp_pusher_app_t *app = colon && w->apps ?
        fp_pusher_app_by_id(w->apps, channel, (size_t) (colon - channel)) :
        NULL;
    *name = app ? colon + 1 : channel;
    for (size_t i = 0; i < w->ntargets; i++)
        if (w->targets[i].app == app)
            return &w->targets[i];
    return NULL;
}

/*  The data of a client event as the string Pusher sends.  */
static json_t *
s_data_string(json_t *data)
{
    if (json_is_string(data))
        return json_incref(data);
    char *text = fp_json_dump(data ? data : json_null(), NULL);
    json_t *s = json_string(text);
    free(text);
    return s;
}

static json_t *
s_from_event(json_t *ev, const char *name)
{
    const char *type = json_string_value(json_object_get(ev, "event"));
    json_t *data = json_object_get(ev, "data");
    if (!type)
        return NULL;
    if (strcmp(type, "member_added") == 0 ||
        strcmp(type, "member_removed") == 0) {
        const char *uid = json_string_value(json_object_get(data, "user_id"));
        return uid ? json_pack("{s:s, s:s, s:s}", "name", type, "channel",
                               name, "user_id", uid) : NULL;
    }
    if (strncmp(type, "client-", 7) != 0)
        return NULL;
    char pname[FP_TYPE_MAX + 1];
    fp_pusher_type_decode(type, pname);
    json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "name", "client_event",
                            "channel", name, "event", pname, "data",
                            s_data_string(data));
    json_t *sock = json_object_get(ev, "socket_id");
    if (out && json_is_string(sock))
        json_object_set(out, "socket_id", sock);
    return out;
}

whd_target_t *
whd_translate(whd_t *w, const char *kind, const char *json, size_t len,
              json_t **event)
{
    char err[FP_ERR_LEN];
    json_t *msg = fp_json_parse(json, len, err);
    const char *channel = json_string_value(json_object_get(msg, "channel"));
    const char *name = NULL;
    whd_target_t *t = channel ? s_target(w, channel, &name) : NULL;
    *event = NULL;
    if (t && strcmp(kind, "occupied") == 0)
        *event = json_pack("{s:s, s:s}", "name", "channel_occupied",
                           "channel", name);
    else if (t && strcmp(kind, "vacated") == 0)
        *event = json_pack("{s:s, s:s}", "name", "channel_vacated",
                           "channel", name);
    else if (t && strcmp(kind, "event") == 0)
        *event = s_from_event(msg, name);
    json_decref(msg);
    return *event ? t : NULL;
}
