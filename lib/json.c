/*  json: small helpers on jansson (see json.h).  */
#include "json.h"
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
fp_json_parse(const char *text, size_t len, char *err)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES
                           | JSON_ALLOW_NUL, &je);
    if (!v)
        snprintf(err, FP_ERR_LEN, "invalid JSON at line %d column %d: %s",
                 je.line, je.column, je.text);
    return v;
}

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

char *
fp_json_dump(const json_t *v, size_t *len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_json_append(&b, v);
    return fp_buf_detach(&b, len);
}

void
fp_json_append(fp_buf_t *b, const json_t *v)
{
    size_t need = json_dumpb(v, NULL, 0, DUMP_FLAGS);
    fp_buf_reserve(b, need);
    b->len += json_dumpb(v, b->data + b->len, need, DUMP_FLAGS);
    b->data[b->len] = '\0';
}

void
fp_json_append_str(fp_buf_t *b, const char *s)
{
    fp_json_append_strn(b, s, strlen(s));
}

void
fp_json_append_strn(fp_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s, *end = p + len;

    fp_buf_addc(b, '"');
    for (; p < end; p++) {
        switch (*p) {
        case '"':  fp_buf_add(b, "\\\"", 2); break;
        case '\\': fp_buf_add(b, "\\\\", 2); break;
        case '\n': fp_buf_add(b, "\\n", 2); break;
        case '\r': fp_buf_add(b, "\\r", 2); break;
        case '\t': fp_buf_add(b, "\\t", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4],
                              hex[*p & 15] };
                fp_buf_add(b, u, 6);
            } else {
                fp_buf_addc(b, (char) *p);
            }
        }
    }
    fp_buf_addc(b, '"');
}

int
fp_json_get_str(const json_t *obj, const char *name, bool required,
                const char **out, char *err)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v) {
        if (!required)
            return 0;
        snprintf(err, FP_ERR_LEN, "'%s' is required", name);
        return -1;
    }
    if (!json_is_string(v)) {
        snprintf(err, FP_ERR_LEN, "'%s' must be a string", name);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, FP_ERR_LEN, "'%s' must not contain NUL", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int
fp_json_only_fields(const json_t *obj, const char *const *allowed, char *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *) obj, key, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            snprintf(err, FP_ERR_LEN, "unknown field '%.64s'", key);
            return -1;
        }
    }
    return 0;
}

#ifdef FP_TEST
#include "test.h"

void
fp_json_test(void)
{
    char err[FP_ERR_LEN];
    json_t *v = fp_json_parse("{\"a\":1,\"a\":2}", 13, err);
    FP_CHECK(!v && strstr(err, "duplicate"), "duplicate keys refused");
    v = fp_json_parse("[1,", 3, err);
    FP_CHECK(!v && strstr(err, "line 1"), "error has position");
    v = fp_json_parse("\"x\"", 3, err);
    FP_CHECK(v && json_is_string(v), "any value accepted");
    json_decref(v);
    v = fp_json_parse("{\"s\":\"x\",\"n\":0.1}", 17, err);
    size_t len;
    char *text = fp_json_dump(v, &len);
    FP_CHECK(strcmp(text, "{\"s\":\"x\",\"n\":0.10000000000000001}") == 0 ||
             strcmp(text, "{\"s\":\"x\",\"n\":0.1}") == 0, "compact dump");
    free(text);
    const char *s;
    FP_CHECK(fp_json_get_str(v, "s", true, &s, err) == 0 && s[0] == 'x',
             "get string");
    FP_CHECK(fp_json_get_str(v, "n", true, &s, err) == -1, "not a string");
    FP_CHECK(fp_json_get_str(v, "z", false, &s, err) == 0 && !s, "optional");
    FP_CHECK(fp_json_get_str(v, "z", true, &s, err) == -1, "required");
    const char *allowed[] = { "s", NULL };
    FP_CHECK(fp_json_only_fields(v, allowed, err) == -1 &&
             strstr(err, "'n'"), "unknown field named");
    json_decref(v);
    fp_buf_t b;
    fp_buf_init(&b);
    fp_json_append_str(&b, "a\"b\\c\n\x01");
    FP_CHECK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\"") == 0, "escape");
    fp_buf_free(&b);
}
#endif
