/*  pusher_msg: the messages Pusher clients receive (see pusher_msg.h).  */
#include "pusher_msg.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

bool
fp_pusher_event_append(fp_buf_t *b, const fp_pusher_app_t *app,
                       const fp_event_t *ev)
{
    char nbuf[FP_PUSHER_NAME_MAX + 1], type[FP_TYPE_MAX + 1];
    const char *name = fp_pusher_name(app, ev->channel, nbuf);
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

#ifdef FP_TEST
#include "test.h"

static void
s_test_event(void)
{
    fp_pusher_app_t app = { .id = "1001" };
    fp_buf_t b;
    fp_event_t *ev = fp_event_new("ep", 7, 3, 1, "1001:news",
                                  "App:5cEvents:5cX", NULL, NULL,
                                  "\"{\\\"a\\\":1}\"", 11);
    fp_buf_init(&b);
    FP_CHECK(fp_pusher_event_append(&b, &app, ev) &&
             strcmp(b.data, "{\"event\":\"App\\\\Events\\\\X\",\"channel\":"
                    "\"news\",\"data\":\"{\\\"a\\\":1}\",\"id\":\"ep-7\"}")
             == 0,
             "a string event: its name decoded, its string as data");
    fp_event_unref(&ev);
    fp_buf_reset(&b);
    ev = fp_event_new("ep", 8, 0, 1, "1001:presence-r", "member_added", NULL,
                      NULL, "{\"user_id\":\"u\"}", 15);
    FP_CHECK(fp_pusher_event_append(&b, &app, ev) &&
             strstr(b.data, "\"event\":\"pusher_internal:member_added\"") &&
             strstr(b.data, "\"data\":\"{\\\"user_id\\\":\\\"u\\\"}\""),
             "member_added: internal, its object as a string");
    fp_event_unref(&ev);
    fp_buf_reset(&b);
    ev = fp_event_new("ep", 9, 0, 1, "2002:news", "x", NULL, NULL, "1", 1);
    FP_CHECK(!fp_pusher_event_append(&b, &app, ev) && b.len == 0,
             "another app's channel: nothing");
    fp_event_unref(&ev);
    fp_buf_free(&b);
}

static void
s_test_messages(void)
{
    size_t len;
    char *m = fp_pusher_message("pusher:pong", NULL, NULL, true, &len);
    FP_CHECK(strcmp(m, "{\"event\":\"pusher:pong\",\"data\":\"{}\"}") == 0 &&
             len == strlen(m), "pong: data the string {}");
    free(m);
    json_t *members = json_pack("[{s:s, s:{s:s}}, {s:s}]", "user_id", "1",
                                "user_info", "n", "A", "user_id", "2");
    json_t *d = fp_pusher_presence_data(members);
    FP_CHECK(json_integer_value(json_object_get(json_object_get(d, "presence"),
                                                "count")) == 2 &&
             json_is_null(json_object_get(json_object_get(json_object_get(
                 d, "presence"), "hash"), "2")), "presence data: count, hash");
    json_decref(d);
    json_decref(members);
    m = fp_pusher_error(4001, "no", &len);
    FP_CHECK(strcmp(m, "{\"event\":\"pusher:error\",\"data\":{\"code\":4001,"
                    "\"message\":\"no\"}}") == 0, "pusher:error with a code");
    free(m);
    m = fp_pusher_subscription_error("c", "AuthError", "bad", 401, &len);
    FP_CHECK(strstr(m, "\"channel\":\"c\"") && strstr(m, "\"status\":401"),
             "subscription_error");
    free(m);
}

void
fp_pusher_msg_test(void)
{
    s_test_event();
    s_test_messages();
}
#endif
