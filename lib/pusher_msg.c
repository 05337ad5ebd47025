/*  pusher_msg: the messages Pusher clients receive (see pusher_msg.h).  */
#include "pusher_msg.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

bool
fp_pusher_event_append(fp_buf_t *b, const fp_pusher_app_t *app,
                       const fp_event_t *ev)
{
    const char *name = fp_pusher_name(app, ev->channel);
    char type[FP_TYPE_MAX + 1];
    size_t dlen;
    const char *data = fp_event_data(ev, &dlen);

    if (!name)
        return false;
    if (strcmp(ev->type, "member_added") == 0 ||
        strcmp(ev->type, "member_removed") == 0)
        snprintf(type, sizeof type, "pusher_internal:%s", ev->type);
    else
        fp_pusher_type_decode(ev->type, type);
    fp_buf_adds(b, "{\"event\":");
    fp_json_append_str(b, type);
    fp_buf_adds(b, ",\"channel\":");
    fp_json_append_str(b, name);
    fp_buf_adds(b, ",\"data\":");
    if (dlen && data[0] == '"')
        fp_buf_add(b, data, dlen);
    else
        fp_json_append_strn(b, data, dlen);
    fp_buf_addf(b, ",\"id\":\"%s-%llu\"}", ev->epoch,
                (unsigned long long) ev->seq);
    return true;
}

char *
fp_pusher_message(const char *event, const char *channel, json_t *data,
                  bool as_string, size_t *len)
{
    json_t *m = json_object();
    if (!data)
        data = json_object();
    json_object_set_new(m, "event", json_string(event));
    if (channel)
        json_object_set_new(m, "channel", json_string(channel));
    if (as_string) {
        char *text = fp_json_dump(data, NULL);
        json_object_set_new(m, "data", json_string(text));
        free(text);
        json_decref(data);
    } else {
        json_object_set_new(m, "data", data);
    }
    char *out = fp_json_dump(m, len);
    json_decref(m);
    return out;
}

json_t *
fp_pusher_presence_data(const json_t *members)
{
    json_t *ids = json_array(), *hash = json_object(), *v;
    size_t i;

    json_array_foreach(members, i, v) {
        const char *id = json_string_value(json_object_get(v, "user_id"));
        json_t *info = json_object_get(v, "user_info");
        if (!id)
            continue;
        json_array_append_new(ids, json_string(id));
        json_object_set_new(hash, id, info ? json_incref(info)
                            : json_null());
    }
    return json_pack("{s:{s:o, s:o, s:I}}", "presence", "ids", ids, "hash",
                     hash, "count", (json_int_t) json_array_size(ids));
}

char *
fp_pusher_error(int code, const char *message, size_t *len)
{
    json_t *d = json_pack("{s:o, s:s}", "code", code ? json_integer(code)
                          : json_null(), "message", message);
    return fp_pusher_message("pusher:error", NULL, d, false, len);
}

char *
fp_pusher_subscription_error(const char *channel, const char *type,
                             const char *error, int status, size_t *len)
{
    json_t *d = json_pack("{s:s, s:s, s:i}", "type", type, "error", error,
                          "status", status);
    return fp_pusher_message("pusher:subscription_error", channel, d, false,
                             len);
}
