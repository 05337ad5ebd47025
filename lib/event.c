/*  event: the event model (see event.h).  */
#include "event.h"
#include "conf.h"
#include "cursor.h"
#include "json.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_reserved[] = {
    "ready", "reset", "error", "heartbeat", "auth-expired", "close",
    "presence", NULL
};

static bool
s_channel_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("_.:@~=+-", c));
}

bool
fp_channel_valid(const char *s, size_t len)
{
    if (len < 1 || len > FP_CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!s_channel_char((unsigned char) s[i]))
            return false;
    return true;
}

bool
fp_channel_presence(const char *channel)
{
    const char *last = strrchr(channel, ':');
    return strncmp(last ? last + 1 : channel, "presence-", 9) == 0;
}

bool
fp_id_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool
fp_id_valid(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!fp_id_byte((unsigned char) s[i]))
            return false;
    return true;
}

bool
fp_type_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > FP_TYPE_MAX || !s_channel_char((unsigned char) s[0]) ||
        strchr("_.:-", s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (!s_channel_char(c) || strchr("@~=+", c))
            return false;
    }
    for (int i = 0; s_reserved[i]; i++)
        if (strcmp(s, s_reserved[i]) == 0)
            return false;
    return true;
}

bool
fp_key_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > FP_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/*  One allocation: the struct, then epoch, channel, type, key,
 *  socket_id, json.  */
static fp_event_t *
s_alloc(size_t elen, size_t clen, size_t tlen, size_t klen, size_t slen,
        size_t jlen)
{
    size_t size = sizeof(fp_event_t) + elen + clen + tlen + klen + slen +
                  jlen + 6;
    fp_event_t *ev = fp_calloc(1, size);
    char *p = (char *) (ev + 1);
    ev->epoch = p;
    ev->channel = p += elen + 1;
    ev->type = p += clen + 1;
    ev->key = p += tlen + 1;
    ev->socket_id = p += klen + 1;
    ev->json = p + slen + 1;
    ev->refs = 1;
    return ev;
}

static void
s_put(const char *dst, const char *src, size_t len)
{
    memcpy((char *) dst, src, len);
    ((char *) dst)[len] = '\0';
}

/*  Append a string / a decimal number; return the new end.  */
static char *
s_cat(char *dst, const char *src)
{
    size_t n = strlen(src);
    memcpy(dst, src, n);
    return dst + n;
}

static char *
s_u64(char *dst, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *dst++ = tmp[--n];
    return dst;
}

fp_event_t *
fp_event_new(const char *epoch, uint64_t seq, uint64_t prev, int64_t ts,
             const char *channel, const char *type, const char *key,
             const char *socket_id, const char *data, size_t data_len)
{
    size_t elen = strlen(epoch), clen = strlen(channel), tlen = strlen(type);
    size_t klen = key ? strlen(key) : 0;
    size_t slen = socket_id ? strlen(socket_id) : 0;
    size_t jmax = 220 + elen + clen + tlen + klen + slen + data_len;
    fp_event_t *ev = s_alloc(elen, clen, tlen, klen, slen, jmax);

    s_put(ev->epoch, epoch, elen);
    s_put(ev->channel, channel, clen);
    s_put(ev->type, type, tlen);
    s_put(ev->key, key ? key : "", klen);
    s_put(ev->socket_id, socket_id ? socket_id : "", slen);
    if (!key)
        ev->key = NULL;
    if (!socket_id)
        ev->socket_id = NULL;
    ev->seq = seq;
    ev->prev = prev;
    ev->ts = ts;
    char *j = (char *) ev->json;
    j = s_cat(j, "{\"id\":\"");
    j = s_cat(j, epoch);
    *j++ = '-';
    j = s_u64(j, seq);
    j = s_u64(s_cat(j, "\",\"seq\":"), seq);
    j = s_u64(s_cat(j, ",\"prev\":"), prev);
    j = s_cat(s_cat(j, ",\"channel\":\""), channel);
    j = s_cat(s_cat(j, "\",\"event\":\""), type);
    if (key)
        j = s_cat(s_cat(j, "\",\"key\":\""), key);
    if (socket_id)
        j = s_cat(s_cat(j, "\",\"socket_id\":\""), socket_id);
    j = s_cat(j, "\",\"ts\":");
    if (ts < 0) {
        *j++ = '-';
        ts = -ts;
    }
    j = s_cat(s_u64(j, (uint64_t) ts), ",\"data\":");
    memcpy(j, data, data_len);
    j += data_len;
    *j++ = '}';
    *j = '\0';
    size_t n = (size_t) (j - ev->json);
    ev->json_len = n;
    return ev;
}

/*  Strict scanner for the canonical layout.  */
typedef struct {
    const char *p, *end;
} scan_t;

static int
s_lit(scan_t *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int
s_str(scan_t *s, const char **start, size_t *len)
{
    const char *q = s->p;
    while (q < s->end && *q != '"' && *q != '\\')
        q++;
    if (q >= s->end || *q != '"')
        return -1;
    *start = s->p;
    *len = (size_t) (q - s->p);
    s->p = q + 1;
    return 0;
}

static int
s_num(scan_t *s, uint64_t *out)
{
    const char *q = s->p;
    while (q < s->end && *q >= '0' && *q <= '9')
        q++;
    if (fp_seq_parse(s->p, (size_t) (q - s->p), out) < 0)
        return -1;
    s->p = q;
    return 0;
}

fp_event_t *
fp_event_parse(const char *json, size_t len, char *err)
{
    scan_t s = { json, json + len };
    const char *id, *ch, *ty, *key = NULL, *sock = NULL, *dash;
    size_t idl, chl, tyl, keyl = 0, sockl = 0;
    uint64_t seq, prev, ts, idseq;

    if (s_lit(&s, "{\"id\":\"") || s_str(&s, &id, &idl) ||
        !(dash = memchr(id, '-', idl)) ||
        fp_seq_parse(dash + 1, idl - (size_t) (dash - id) - 1, &idseq) ||
        s_lit(&s, ",\"seq\":") || s_num(&s, &seq) || seq != idseq ||
        s_lit(&s, ",\"prev\":") || s_num(&s, &prev) || prev >= seq ||
        s_lit(&s, ",\"channel\":\"") || s_str(&s, &ch, &chl) ||
        s_lit(&s, ",\"event\":\"") || s_str(&s, &ty, &tyl))
        goto bad;
    if (s_lit(&s, ",\"key\":\"") == 0 && s_str(&s, &key, &keyl))
        goto bad;
    if (s_lit(&s, ",\"socket_id\":\"") == 0 && s_str(&s, &sock, &sockl))
        goto bad;
    if (s_lit(&s, ",\"ts\":") || s_num(&s, &ts) || s_lit(&s, ",\"data\":") ||
        s.p >= s.end - 1 || s.end[-1] != '}')
        goto bad;
    size_t elen = (size_t) (dash - id);
    fp_event_t *ev = s_alloc(elen, chl, tyl, keyl, sockl, len);
    s_put(ev->epoch, id, elen);
    s_put(ev->channel, ch, chl);
    s_put(ev->type, ty, tyl);
    s_put(ev->key, key ? key : "", keyl);
    s_put(ev->socket_id, sock ? sock : "", sockl);
    s_put(ev->json, json, len);
    if (!key)
        ev->key = NULL;
    if (!sock)
        ev->socket_id = NULL;
    if (!fp_epoch_valid(ev->epoch) || strlen(ev->epoch) != elen ||
        !fp_channel_valid(ch, chl) || !fp_type_valid(ev->type) ||
        strlen(ev->type) != tyl ||
        (ev->key && (!fp_key_valid(ev->key) || strlen(ev->key) != keyl)) ||
        (ev->socket_id && (!fp_id_valid(ev->socket_id, FP_SOCKET_ID_MAX) ||
                           strlen(ev->socket_id) != sockl))) {
        fp_event_unref(&ev);
        goto bad;
    }
    ev->seq = seq;
    ev->prev = prev;
    ev->ts = (int64_t) ts;
    ev->json_len = len;
    return ev;
bad:
    snprintf(err, FP_ERR_LEN, "not a canonical fastpush event");
    return NULL;
}

fp_event_t *
fp_event_ref(fp_event_t *ev)
{
    ev->refs++;
    return ev;
}

void
fp_event_unref(fp_event_t **ev_p)
{
    fp_event_t *ev = *ev_p;
    if (!ev)
        return;
    *ev_p = NULL;
    if (--ev->refs > 0)
        return;
    if (ev->cache && ev->cache_free)
        ev->cache_free(ev->cache);
    free(ev);
}

/*  Channel, type and key cannot hold '"', so the first ,"data": of the
 *  canonical text is the member's.  */
const char *
fp_event_data(const fp_event_t *ev, size_t *len)
{
    const char *d = strstr(ev->json, ",\"data\":") + 8;
    *len = (size_t) (ev->json + ev->json_len - 1 - d);
    return d;
}

size_t
fp_event_size(const fp_event_t *ev)
{
    return ev->json_len;
}

char *
fp_event_snapshot_json(const fp_event_t *ev, size_t *len)
{
    static const char mark[] = "{\"snapshot\":true,";
    size_t n = sizeof mark - 1 + ev->json_len - 1;
    char *out = fp_malloc(n + 1);
    memcpy(out, mark, sizeof mark - 1);
    memcpy(out + sizeof mark - 1, ev->json + 1, ev->json_len - 1);
    out[n] = '\0';
    *len = n;
    return out;
}

static int
s_bad_event(char *err, const char *msg)
{
    snprintf(err, FP_ERR_LEN, "%s", msg);
    return FP_PUBLISH_EEVENT;
}

/*  A member that must be a string without NUL: decoded into *dst.  */
static int
s_str_member(fp_jscan_t *s, fp_buf_t *tmp, const char *name, char **dst)
{
    fp_jscan_ws(s);
    if (s->p >= s->end || *s->p != '"') {
        snprintf(s->err, FP_ERR_LEN, "'%s' must be a string", name);
        return FP_PUBLISH_EEVENT;
    }
    fp_buf_reset(tmp);
    if (fp_jscan_string(s, tmp) < 0)
        return FP_PUBLISH_EJSON;
    if (tmp->len != strlen(tmp->data ? tmp->data : "")) {
        snprintf(s->err, FP_ERR_LEN, "'%s' must not contain NUL", name);
        return FP_PUBLISH_EEVENT;
    }
    *dst = fp_strndup(tmp->data ? tmp->data : "", tmp->len);
    return 0;
}

/*  "tag": an integer or a short string, kept as JSON text.  */
static int
s_tag_member(fp_jscan_t *s, fp_publish_t *p)
{
    fp_buf_t raw;
    fp_buf_init(&raw);
    fp_jscan_ws(s);
    bool is_str = s->p < s->end && *s->p == '"';
    if (fp_jscan_value(s, &raw, 0) < 0) {
        fp_buf_free(&raw);
        return FP_PUBLISH_EJSON;
    }
    bool ok = is_str ? raw.len <= 130
                     : raw.len <= 20 && !strpbrk(raw.data, ".eE{[tfn\"");
    p->tag = fp_buf_detach(&raw, NULL);
    if (!ok)
        return s_bad_event(s->err, "'tag' must be an integer or a string of "
                           "at most 128 bytes");
    return 0;
}

static int
s_member(fp_jscan_t *s, fp_publish_t *p, fp_buf_t *tmp, bool allow_tag,
         unsigned *seen)
{
    static const char *const names[] = { "channel", "event", "key", "data",
                                         "tag", "socket_id", NULL };
    int i;

    fp_jscan_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return fp_jscan_fail(s, "member name expected");
    fp_buf_reset(tmp);
    if (fp_jscan_string(s, tmp) < 0)
        return FP_PUBLISH_EJSON;
    for (i = 0; names[i] && strcmp(names[i], tmp->data ? tmp->data : ""); i++)
        ;
    if (!names[i] || (i == 4 && !allow_tag) || tmp->len != strlen(tmp->data)) {
        snprintf(s->err, FP_ERR_LEN, "unknown field '%.64s'", tmp->data);
        return FP_PUBLISH_EEVENT;
    }
    if (*seen & (1u << i)) {
        snprintf(s->err, FP_ERR_LEN, "field '%s' given twice", names[i]);
        return FP_PUBLISH_EEVENT;
    }
    *seen |= 1u << i;
    if (fp_jscan_expect(s, ':') < 0)
        return FP_PUBLISH_EJSON;
    switch (i) {
    case 0: return s_str_member(s, tmp, "channel", &p->channel);
    case 1: return s_str_member(s, tmp, "event", &p->type);
    case 2: return s_str_member(s, tmp, "key", &p->key);
    case 5: return s_str_member(s, tmp, "socket_id", &p->socket_id);
    case 4: return s_tag_member(s, p);
    default: break;
    }
    fp_buf_t data;
    fp_buf_init(&data);
    int rc = fp_jscan_value(s, &data, 0) < 0 ? FP_PUBLISH_EJSON : 0;
    p->data = fp_buf_detach(&data, &p->data_len);
    return rc;
}

/*  Names present and valid?  */
static int
s_check(fp_publish_t *p, char *err)
{
    if (!p->channel)
        return s_bad_event(err, "'channel' is required");
    if (!p->data)
        return s_bad_event(err, "'data' is required");
    if (!fp_channel_valid(p->channel, strlen(p->channel))) {
        snprintf(err, FP_ERR_LEN, "invalid channel name: 1 to %d characters "
                 "of A-Z a-z 0-9 _ . : @ ~ = + -", FP_CHANNEL_MAX);
        return FP_PUBLISH_EEVENT;
    }
    if (p->type && !fp_type_valid(p->type)) {
        snprintf(err, FP_ERR_LEN, "invalid event type: 1 to %d characters of "
                 "A-Z a-z 0-9 _ . : -, not a reserved name", FP_TYPE_MAX);
        return FP_PUBLISH_EEVENT;
    }
    if (p->socket_id && !fp_id_valid(p->socket_id, FP_SOCKET_ID_MAX))
        return s_bad_event(err, "invalid socket_id: 1 to 47 characters of "
                           "A-Z a-z 0-9 . _ -");
    if (p->key && !fp_key_valid(p->key)) {
        snprintf(err, FP_ERR_LEN, "invalid key: 1 to %d bytes without control "
                 "characters, quote or backslash", FP_KEY_MAX);
        return FP_PUBLISH_EEVENT;
    }
    if (!p->type)
        p->type = fp_strdup(FP_DEFAULT_TYPE);
    return 0;
}

int
fp_publish_scan(fp_jscan_t *s, fp_publish_t *p, bool allow_tag, char *err)
{
    fp_buf_t tmp;
    unsigned seen = 0;
    int rc = 0;

    memset(p, 0, sizeof *p);
    s->err = err;
    fp_jscan_ws(s);
    if (s->p < s->end && *s->p != '{' && *s->p != ' ') {
        if (fp_jscan_value(s, NULL, 0) < 0)
            return FP_PUBLISH_EJSON;
        return s_bad_event(err, "an event must be a JSON object");
    }
    if (fp_jscan_expect(s, '{') < 0)
        return FP_PUBLISH_EJSON;
    fp_buf_init(&tmp);
    if (!fp_jscan_accept(s, '}')) {
        do {
            rc = s_member(s, p, &tmp, allow_tag, &seen);
        } while (rc == 0 && !fp_jscan_accept(s, '}') &&
                 (rc = fp_jscan_expect(s, ',')) == 0);
    }
    fp_buf_free(&tmp);
    return rc ? rc : s_check(p, err);
}

int
fp_publish_parse(const char *text, size_t len, fp_publish_t *p,
                 bool allow_tag, char *err)
{
    fp_jscan_t s;
    fp_jscan_init(&s, text, len, err);
    int rc = fp_publish_scan(&s, p, allow_tag, err);
    if (rc == 0 && fp_jscan_end(&s) < 0)
        rc = FP_PUBLISH_EJSON;
    return rc;
}

void
fp_publish_clear(fp_publish_t *p)
{
    free(p->channel);
    free(p->type);
    free(p->key);
    free(p->socket_id);
    free(p->data);
    free(p->tag);
    memset(p, 0, sizeof *p);
}

void
fp_publish_append(fp_buf_t *b, const fp_publish_t *p)
{
    fp_buf_adds(b, "{\"channel\":");
    fp_json_append_str(b, p->channel);
    fp_buf_adds(b, ",\"event\":");
    fp_json_append_str(b, p->type);
    if (p->key) {
        fp_buf_adds(b, ",\"key\":");
        fp_json_append_str(b, p->key);
    }
    if (p->socket_id) {
        fp_buf_adds(b, ",\"socket_id\":");
        fp_json_append_str(b, p->socket_id);
    }
    fp_buf_adds(b, ",\"data\":");
    fp_buf_add(b, p->data, p->data_len);
    fp_buf_adds(b, "}");
}

void
fp_event_reset_append(fp_buf_t *b, const char *channel, const char *reason,
                      bool snapshot)
{
    fp_buf_adds(b, "\"channel\":");
    fp_json_append_str(b, channel);
    fp_buf_adds(b, ",\"reason\":");
    fp_json_append_str(b, reason);
    fp_buf_adds(b, snapshot ? ",\"snapshot\":true" : ",\"snapshot\":false");
}

#ifdef FP_TEST
#include "test.h"

static void
s_test_names(void)
{
    FP_CHECK(fp_channel_valid("news", 4), "simple channel");
    FP_CHECK(fp_channel_valid("room:42.user@x~y=z+w-v_u", 24), "punctuation");
    FP_CHECK(!fp_channel_valid("", 0), "empty channel");
    FP_CHECK(!fp_channel_valid("a b", 3), "space in channel");
    FP_CHECK(!fp_channel_valid("a\0b", 3), "NUL in channel");
    FP_CHECK(!fp_channel_valid("a,b", 3), "comma in channel");
    FP_CHECK(!fp_channel_valid("a/b", 3), "slash in channel");
    char longname[FP_CHANNEL_MAX + 2];
    memset(longname, 'a', sizeof longname);
    FP_CHECK(fp_channel_valid(longname, FP_CHANNEL_MAX), "max length");
    FP_CHECK(!fp_channel_valid(longname, FP_CHANNEL_MAX + 1), "too long");
    FP_CHECK(fp_type_valid("message") && fp_type_valid("chat.new"), "types");
    FP_CHECK(!fp_type_valid("reset") && !fp_type_valid("ready"), "reserved");
    FP_CHECK(!fp_type_valid("a\nb") && !fp_type_valid("-x"), "bad types");
    FP_CHECK(fp_channel_presence("presence-room") &&
             fp_channel_presence("1:presence-room") &&
             !fp_channel_presence("presence-x:room") &&
             !fp_channel_presence("room") && !fp_channel_presence("presence"),
             "presence channels");
    FP_CHECK(fp_id_valid("ws-4242.k_3", 64) && fp_id_valid("a", 1), "ids");
    FP_CHECK(!fp_id_valid("", 64) && !fp_id_valid(NULL, 64) &&
             !fp_id_valid("ab", 1) && !fp_id_valid("a b", 64) &&
             !fp_id_valid("a:b", 64) && !fp_id_valid("\xc3\xa9", 64),
             "bad ids: empty, too long, space, colon, non-ASCII");
    FP_CHECK(fp_key_valid("user/7 é"), "utf-8 key");
    FP_CHECK(!fp_key_valid("a\"b") && !fp_key_valid("a\tb"), "bad keys");
}

static void
s_test_roundtrip(void)
{
    char err[FP_ERR_LEN];
    fp_event_t *ev = fp_event_new("ep1", 42, 40, 1700000000123, "news",
                                  "message", "k1", NULL, "{\"a\":1}", 7);
    FP_CHECK(strcmp(ev->json, "{\"id\":\"ep1-42\",\"seq\":42,\"prev\":40,"
                    "\"channel\":\"news\",\"event\":\"message\",\"key\":"
                    "\"k1\",\"ts\":1700000000123,\"data\":{\"a\":1}}") == 0,
             "canonical JSON");
    json_t *j = fp_json_parse(ev->json, ev->json_len, err);
    FP_CHECK(j && json_integer_value(json_object_get(j, "seq")) == 42,
             "canonical JSON parses");
    json_decref(j);
    fp_event_t *back = fp_event_parse(ev->json, ev->json_len, err);
    FP_CHECK(back && back->seq == 42 && back->prev == 40 &&
             strcmp(back->channel, "news") == 0 &&
             strcmp(back->key, "k1") == 0 && strcmp(back->epoch, "ep1") == 0,
             "parse back");
    size_t n;
    char *snap = fp_event_snapshot_json(ev, &n);
    FP_CHECK(strncmp(snap, "{\"snapshot\":true,\"id\":", 22) == 0 &&
             n == strlen(snap), "snapshot marker");
    free(snap);
    fp_event_unref(&back);
    fp_event_t *r = fp_event_ref(ev);
    fp_event_unref(&r);
    FP_CHECK(r == NULL && ev->refs == 1, "ref counting");
    fp_event_unref(&ev);
    ev = fp_event_new("e", 1, 0, 5, "c", "t", NULL, NULL, "\"x\"", 3);
    back = fp_event_parse(ev->json, ev->json_len, err);
    FP_CHECK(back && back->key == NULL && back->prev == 0, "no key");
    fp_event_unref(&back);
    fp_event_unref(&ev);
    ev = fp_event_new("e", 2, 1, 5, "c", "t", "k", "12.34", "[1]", 3);
    FP_CHECK(strcmp(ev->json, "{\"id\":\"e-2\",\"seq\":2,\"prev\":1,"
                    "\"channel\":\"c\",\"event\":\"t\",\"key\":\"k\","
                    "\"socket_id\":\"12.34\",\"ts\":5,\"data\":[1]}") == 0,
             "socket_id between key and ts");
    back = fp_event_parse(ev->json, ev->json_len, err);
    size_t dl;
    FP_CHECK(back && back->socket_id && strcmp(back->socket_id, "12.34") == 0
             && strcmp(back->key, "k") == 0 &&
             strncmp(fp_event_data(back, &dl), "[1]", 3) == 0 && dl == 3,
             "socket_id and data parsed back");
    fp_event_unref(&back);
    fp_event_unref(&ev);
    fp_publish_t pp;
    FP_CHECK(fp_publish_parse("{\"channel\":\"c\",\"socket_id\":\"1.2\","
                              "\"data\":1}", 42, &pp, false, err) == 0 &&
             strcmp(pp.socket_id, "1.2") == 0, "publish with socket_id");
    fp_publish_clear(&pp);
    FP_CHECK(fp_publish_parse("{\"channel\":\"c\",\"socket_id\":\"a b\","
                              "\"data\":1}", 42, &pp, false, err) ==
             FP_PUBLISH_EEVENT, "bad socket_id refused");
    fp_publish_clear(&pp);
    const char *bad[] = {
        "", "{}", "{\"id\":\"e-1\",\"seq\":2,\"prev\":0,\"channel\":\"c\","
        "\"event\":\"t\",\"ts\":1,\"data\":1}",
        "{\"id\":\"e-1\",\"seq\":1,\"prev\":1,\"channel\":\"c\","
        "\"event\":\"t\",\"ts\":1,\"data\":1}",
        "{\"id\":\"e-1\",\"seq\":1,\"prev\":0,\"channel\":\"a b\","
        "\"event\":\"t\",\"ts\":1,\"data\":1}",
        "{\"id\":\"e-1\",\"seq\":1,\"prev\":0,\"channel\":\"c\","
        "\"event\":\"t\",\"ts\":1,\"data\":",
        "{\"id\":\"e-1\",\"seq\":1,\"prev\":0,\"channel\":\"c\","
        "\"event\":\"a\nb\",\"ts\":1,\"data\":1}",
        "{\"id\":\"e-1\",\"seq\":1,\"prev\":0,\"channel\":\"c\","
        "\"event\":\"ready\",\"ts\":1,\"data\":1}", NULL };
    for (int i = 0; bad[i]; i++)
        FP_CHECK(!fp_event_parse(bad[i], strlen(bad[i]), err),
                 "malformed event refused");
    /*  a NUL inside a name (found by tests/fuzz/event_fuzz)  */
    static const char nul[] = "{\"id\":\"e-1\",\"seq\":1,\"prev\":0,"
        "\"channel\":\"c\",\"event\":\"t\0x\",\"key\":\"k\",\"ts\":1,"
        "\"data\":1}";
    FP_CHECK(!fp_event_parse(nul, sizeof nul - 1, err), "NUL in a type");
}

static void
s_test_publish(void)
{
    char err[FP_ERR_LEN];
    fp_publish_t p;
    const char *ok = "{\"channel\":\"c\",\"data\": {\"x\" : [1, 2]},\"key\":\"k\"}";
    FP_CHECK(fp_publish_parse(ok, strlen(ok), &p, false, err) == 0 &&
             strcmp(p.type, "message") == 0 &&
             strcmp(p.data, "{\"x\":[1,2]}") == 0, "publish parse");
    fp_buf_t out;
    fp_buf_init(&out);
    fp_publish_append(&out, &p);
    fp_publish_t q;
    FP_CHECK(fp_publish_parse(out.data, out.len, &q, false, err) == 0 &&
             strcmp(q.channel, "c") == 0 && strcmp(q.type, "message") == 0 &&
             strcmp(q.key, "k") == 0 && strcmp(q.data, p.data) == 0,
             "publish written back reads the same");
    fp_publish_clear(&q);
    fp_buf_free(&out);
    fp_publish_clear(&p);
    struct { const char *in, *want; } bad[] = {
        { "[1]", "object" },
        { "{\"data\":1}", "'channel' is required" },
        { "{\"channel\":\"c\"}", "'data' is required" },
        { "{\"channel\":\"a\\nb\",\"data\":1}", "invalid channel" },
        { "{\"channel\":7,\"data\":1}", "must be a string" },
        { "{\"channel\":\"c\",\"event\":\"reset\",\"data\":1}", "event type" },
        { "{\"channel\":\"c\",\"key\":\"\",\"data\":1}", "invalid key" },
        { "{\"channel\":\"c\",\"data\":1,\"seq\":5}", "unknown field 'seq'" },
        { "{\"channel\":\"c\",\"data\":1", "invalid JSON" },
        { "{\"channel\":\"c\\u0000d\",\"data\":1}", "NUL" },
        { "{\"channel\":\"c\",\"data\":1,\"data\":2}", "twice" },
        { "{\"channel\":\"c\",\"data\":1,\"tag\":1}", "unknown field" },
        { "{\"channel\":\"c\",\"data\":[1,]}", "invalid JSON" },
        { "{\"channel\":\"c\",\"data\":1} x", "trailing" },
        { NULL, NULL } };
    for (int i = 0; bad[i].in; i++) {
        int rc = fp_publish_parse(bad[i].in, strlen(bad[i].in), &p, false,
                                  err);
        FP_CHECK(rc < 0 && strstr(err, bad[i].want), bad[i].want);
        fp_publish_clear(&p);
    }
    const char *tagged = "{\"tag\":\"t1\",\"channel\":\"c\",\"data\":null}";
    FP_CHECK(fp_publish_parse(tagged, strlen(tagged), &p, true, err) == 0 &&
             strcmp(p.tag, "\"t1\"") == 0 && strcmp(p.data, "null") == 0,
             "tag kept as JSON");
    fp_publish_clear(&p);
    tagged = "{\"tag\":1.5,\"channel\":\"c\",\"data\":null}";
    FP_CHECK(fp_publish_parse(tagged, strlen(tagged), &p, true, err) ==
             FP_PUBLISH_EEVENT, "non-integer tag refused");
    fp_publish_clear(&p);
}

void
fp_event_test(void)
{
    fp_buf_t rb;
    fp_buf_init(&rb);
    fp_event_reset_append(&rb, "n\"ews", "epoch", true);
    FP_CHECK(strcmp(rb.data, "\"channel\":\"n\\\"ews\",\"reason\":\"epoch\","
                    "\"snapshot\":true") == 0, "reset members, escaped");
    fp_buf_free(&rb);
    s_test_names();
    s_test_roundtrip();
    s_test_publish();
}
#endif
