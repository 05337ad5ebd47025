/*  error: the one error shape of every surface (see error.h).  */
#include "error.h"
#include "json.h"
#include "test.h"

#include <string.h>

void
fp_error_append(fp_buf_t *b, const char *code, const char *msg)
{
    fp_buf_adds(b, "\"error\":");
    fp_json_append_str(b, code);
    fp_buf_adds(b, ",\"message\":");
    fp_json_append_str(b, msg ? msg : "");
}

void
fp_error_object(fp_buf_t *b, const char *code, const char *msg)
{
    fp_buf_addc(b, '{');
    fp_error_append(b, code, msg);
    fp_buf_addc(b, '}');
}

void
fp_error_set(json_t *obj, const char *code, const char *msg)
{
    json_object_set_new(obj, "error", json_string(code));
    json_object_set_new(obj, "message", json_string(msg ? msg : ""));
}

const char *
fp_error_code(const json_t *obj)
{
    return json_string_value(json_object_get(obj, "error"));
}

const char *
fp_error_message(const json_t *obj)
{
    return json_string_value(json_object_get(obj, "message"));
}

int
fp_error_http_status(const char *code)
{
    static const struct { const char *code; int status; } map[] = {
        { "invalid_json", 400 }, { "invalid_event", 400 },
        { "bad_request", 400 }, { "bad_cursor", 400 },
        { "too_large", 413 }, { "channel_limit", 409 }, { "key_limit", 409 },
        { "timeout", 503 }, { "broker_unavailable", 503 },
        { "shutdown", 503 }, { "store_failed", 503 },
        { "engine_unavailable", 503 }, { "not_ready", 503 },
        { "rate_limited", 429 },
    };
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].status;
    return 502;
}

#ifdef FP_TEST
void
fp_error_test(void)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_error_object(&b, "bad_cursor", "say \"EPOCH-SEQ\"");
    FP_CHECK(strcmp(b.data, "{\"error\":\"bad_cursor\",\"message\":"
                    "\"say \\\"EPOCH-SEQ\\\"\"}") == 0, "object, escaped");
    fp_buf_free(&b);
    fp_buf_init(&b);
    fp_error_append(&b, "x", NULL);
    FP_CHECK(strcmp(b.data, "\"error\":\"x\",\"message\":\"\"") == 0,
             "members, NULL message");
    fp_buf_free(&b);
    json_t *o = json_object();
    fp_error_set(o, "too_large", "big");
    FP_CHECK(strcmp(fp_error_code(o), "too_large") == 0 &&
             strcmp(fp_error_message(o), "big") == 0, "set and read back");
    json_decref(o);
    FP_CHECK(fp_error_code(NULL) == NULL, "no object, no code");
    FP_CHECK(fp_error_http_status("too_large") == 413 &&
             fp_error_http_status("bad_cursor") == 400 &&
             fp_error_http_status("key_limit") == 409 &&
             fp_error_http_status("store_failed") == 503 &&
             fp_error_http_status("rate_limited") == 429 &&
             fp_error_http_status(NULL) == 502 &&
             fp_error_http_status("cursor_ahead") == 502, "HTTP statuses");
}
#endif
