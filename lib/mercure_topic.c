/*  mercure_topic: Mercure topic selectors (see the header).  */
#include "mercure_topic.h"
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_ANY, K_EXACT, K_TEMPLATE };
enum { S_BYTE, S_OPT, S_STAR };

/*  One step of a compiled template: a byte, an optional byte, or any
 *  run of a class's bytes.  */
typedef struct {
    uint8_t kind;               /*  S_*  */
    uint8_t byte;               /*  S_BYTE, S_OPT  */
    uint8_t cls;                /*  S_STAR: index into s_classes  */
} step_t;

struct fp_mtopic {
    int kind;                   /*  K_*  */
    char *exact;                /*  K_EXACT  */
    size_t len;
    step_t *steps;              /*  K_TEMPLATE  */
    size_t nsteps;
};

/*  The operators and what their expansions are made of (RFC 6570
 *  section 3.2: the first character, then values of unreserved or, for
 *  '+' and '#', also reserved characters, with the separators).  */
static const struct {
    char op;                    /*  0: simple string expansion  */
    const char *extra;          /*  separators besides unreserved and %  */
    bool reserved;              /*  reserved characters allowed  */
} s_ops[] = {
    { 0, ",", false },
    { '+', ",", true },
    { '#', ",", true },
    { '.', ".,", false },
    { '/', "/,", false },
    { ';', ";=,", false },
    { '?', "&=,", false },
    { '&', "&=,", false },
};
#define NOPS (sizeof s_ops / sizeof s_ops[0])

static bool
s_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

static bool
s_reserved(unsigned char c)
{
    return c && strchr(":/?#[]@!$&'()*+,;=", c) != NULL;
}

/*  Hex digits belong to unreserved already; '%' starts pct-encoded.  */
static bool
s_in_class(uint8_t cls, unsigned char c)
{
    if (s_unreserved(c) || c == '%')
        return true;
    if (s_ops[cls].reserved && s_reserved(c))
        return true;
    return c && strchr(s_ops[cls].extra, c) != NULL;
}

/* ------------------------------------------------------------ compile */

static void
s_push(fp_mtopic_t *t, uint8_t kind, uint8_t byte, uint8_t cls)
{
    t->steps[t->nsteps++] = (step_t) { kind, byte, cls };
}

/*  One varspec at *p: varname [":" 1-9999 | "*"].  -1 with err.  */
static int
s_varspec(const char **p, char *err)
{
    const char *s = *p;
    size_t n = 0;
    while (s_unreserved((unsigned char) *s) && *s != '-' && *s != '~') {
        if (*s == '.' && (n == 0 || s[1] == '.' || !s_unreserved(
                (unsigned char) s[1]))) {
            snprintf(err, FP_ERR_LEN, "a variable name has a stray '.'");
            return -1;
        }
        s++;
        n++;
    }
    while (*s == '%') {         /*  pct-encoded varchars  */
        if (!strchr("0123456789abcdefABCDEF", s[1]) || !s[1] ||
            !strchr("0123456789abcdefABCDEF", s[2]) || !s[2]) {
            snprintf(err, FP_ERR_LEN, "a variable name has a bad %% escape");
            return -1;
        }
        s += 3;
        n++;
        while (s_unreserved((unsigned char) *s) && *s != '-' && *s != '~')
            s++;
    }
    if (n == 0) {
        snprintf(err, FP_ERR_LEN, "an expression needs a variable name");
        return -1;
    }
    if (*s == ':') {
        const char *d = ++s;
        long v = 0;
        while (*s >= '0' && *s <= '9' && s - d < 5)
            v = v * 10 + (*s++ - '0');
        if (s == d || *d == '0' || v > 9999 || (*s >= '0' && *s <= '9')) {
            snprintf(err, FP_ERR_LEN, "a prefix length is 1 to 9999");
            return -1;
        }
    } else if (*s == '*') {
        s++;
    }
    *p = s;
    return 0;
}

/*  The expression after '{' at *p, up to and past its '}'.  */
static int
s_expr(fp_mtopic_t *t, const char **p, char *err)
{
    const char *s = *p;
    uint8_t cls = 0;
    if (*s && strchr("=,!@|", *s)) {
        snprintf(err, FP_ERR_LEN, "operator %c is reserved", *s);
        return -1;
    }
    for (uint8_t i = 1; i < NOPS && !cls; i++)
        if (*s == s_ops[i].op)
            cls = i;
    s += cls != 0;
    for (;;) {
        if (s_varspec(&s, err) < 0)
            return -1;
        if (*s == '}')
            break;
        if (*s != ',') {
            snprintf(err, FP_ERR_LEN, "unexpected %s in an expression",
                     *s ? "character" : "end");
            return -1;
        }
        s++;
    }
    if (s_ops[cls].op)
        s_push(t, S_OPT, (uint8_t) s_ops[cls].op, 0);
    s_push(t, S_STAR, 0, cls);
    *p = s + 1;
    return 0;
}

static int
s_template(fp_mtopic_t *t, const char *sel, size_t len, char *err)
{
    int nexpr = 0;
    t->kind = K_TEMPLATE;
    t->steps = fp_calloc(len, sizeof *t->steps);
    for (const char *p = sel; *p;) {
        if (*p == '}') {
            snprintf(err, FP_ERR_LEN, "a '}' without its '{'");
            return -1;
        }
        if (*p != '{') {
            s_push(t, S_BYTE, (uint8_t) *p++, 0);
            continue;
        }
        if (++nexpr > FP_MTOPIC_EXPRS) {
            snprintf(err, FP_ERR_LEN, "more than %d expressions",
                     FP_MTOPIC_EXPRS);
            return -1;
        }
        p++;
        if (s_expr(t, &p, err) < 0)
            return -1;
    }
    return 0;
}

fp_mtopic_t *
fp_mtopic_new(const char *sel, char *err)
{
    size_t len = strlen(sel);
    if (len == 0 || len > FP_MTOPIC_MAX) {
        snprintf(err, FP_ERR_LEN, "a selector is 1 to %d bytes",
                 FP_MTOPIC_MAX);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) sel[i] < 0x20 || sel[i] == 0x7f) {
            snprintf(err, FP_ERR_LEN, "a selector has no control characters");
            return NULL;
        }
    fp_mtopic_t *t = fp_calloc(1, sizeof *t);
    if (strcmp(sel, "*") == 0) {
        t->kind = K_ANY;
    } else if (!strchr(sel, '{') && !strchr(sel, '}')) {
        t->kind = K_EXACT;
        t->exact = fp_strdup(sel);
        t->len = len;
    } else if (s_template(t, sel, len, err) < 0) {
        fp_mtopic_destroy(&t);
    }
    return t;
}

void
fp_mtopic_destroy(fp_mtopic_t **s_p)
{
    fp_mtopic_t *t = *s_p;
    if (!t)
        return;
    *s_p = NULL;
    free(t->exact);
    free(t->steps);
    free(t);
}

/* ------------------------------------------------------------ match */

/*  States that an optional byte or a run may skip.  */
static void
s_close(const fp_mtopic_t *t, uint8_t *on)
{
    for (size_t i = 0; i < t->nsteps; i++)
        if (on[i] && t->steps[i].kind != S_BYTE)
            on[i + 1] = 1;
}

static bool
s_walk(const fp_mtopic_t *t, const unsigned char *s, size_t len)
{
    uint8_t a[FP_MTOPIC_MAX + 1], b[FP_MTOPIC_MAX + 1];
    uint8_t *on = a, *next = b;
    size_t n = t->nsteps;

    memset(on, 0, n + 1);
    on[0] = 1;
    s_close(t, on);
    for (size_t k = 0; k < len; k++) {
        bool any = false;
        memset(next, 0, n + 1);
        for (size_t i = 0; i < n; i++) {
            const step_t *st = &t->steps[i];
            if (!on[i])
                continue;
            if (st->kind == S_STAR ? s_in_class(st->cls, s[k])
                                   : st->byte == s[k]) {
                next[st->kind == S_STAR ? i : i + 1] = 1;
                any = true;
            }
        }
        if (!any)
            return false;
        s_close(t, next);
        uint8_t *tmp = on;
        on = next;
        next = tmp;
    }
    return on[n] != 0;
}

bool
fp_mtopic_match(const fp_mtopic_t *t, const char *topic, size_t len)
{
    if (len == 0 || len > FP_MTOPIC_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) topic[i] < 0x20 || topic[i] == 0x7f)
            return false;
    switch (t->kind) {
    case K_ANY:
        return true;
    case K_EXACT:
        return len == t->len && memcmp(topic, t->exact, len) == 0;
    default:
        return s_walk(t, (const unsigned char *) topic, len);
    }
}

/* ------------------------------------------------------------ sets */

int
fp_mtopics_add(fp_mtopics_t *set, const char *selector, char *err)
{
    fp_mtopic_t *t = fp_mtopic_new(selector, err);
    if (!t)
        return -1;
    set->items = fp_realloc(set->items, (set->count + 1) *
                            sizeof *set->items);
    set->items[set->count++] = t;
    return 0;
}

bool
fp_mtopics_match(const fp_mtopics_t *set, const char *topic, size_t len)
{
    for (size_t i = 0; i < set->count; i++)
        if (fp_mtopic_match(set->items[i], topic, len))
            return true;
    return false;
}

bool
fp_mtopics_match_some(const fp_mtopics_t *set, const char *const *topics,
                      size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fp_mtopics_match(set, topics[i], strlen(topics[i])))
            return true;
    return false;
}

bool
fp_mtopics_match_all(const fp_mtopics_t *set, const char *const *topics,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!fp_mtopics_match(set, topics[i], strlen(topics[i])))
            return false;
    return n > 0;
}

void
fp_mtopics_clear(fp_mtopics_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        fp_mtopic_destroy(&set->items[i]);
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

#ifdef FP_TEST
#include "test.h"

static bool
s_m(const char *sel, const char *topic)
{
    char err[FP_ERR_LEN];
    fp_mtopic_t *t = fp_mtopic_new(sel, err);
    bool yes = t && fp_mtopic_match(t, topic, strlen(topic));
    fp_mtopic_destroy(&t);
    return yes;
}

static bool
s_bad(const char *sel)
{
    char err[FP_ERR_LEN];
    fp_mtopic_t *t = fp_mtopic_new(sel, err);
    bool bad = t == NULL && err[0];
    fp_mtopic_destroy(&t);
    return bad;
}

void
fp_mercure_topic_test(void)
{
    const char *b = "https://example.com/books/{id}";
    FP_CHECK(s_m("*", "anything/at all"), "* matches all");
    FP_CHECK(s_m("https://example.com/a", "https://example.com/a"),
             "exact matches itself");
    FP_CHECK(!s_m("https://example.com/a", "https://example.com/ab"),
             "exact is byte for byte");
    FP_CHECK(s_m(b, "https://example.com/books/1"), "simple var");
    FP_CHECK(s_m(b, "https://example.com/books/"), "undefined var");
    FP_CHECK(!s_m(b, "https://example.com/books/1/x"), "simple: no /");
    FP_CHECK(!s_m(b, "https://example.com/authors/1"), "literal differs");
    FP_CHECK(s_m("/a/{+path}", "/a/b/c?d=1#e"), "reserved expansion");
    FP_CHECK(s_m("/a{/seg*}", "/a/b/c"), "path segments");
    FP_CHECK(s_m("/a{/seg*}", "/a"), "no segments");
    FP_CHECK(!s_m("/a{/seg}", "/a?b"), "path: no ?");
    FP_CHECK(s_m("/s{?x,y}", "/s?x=1&y=2"), "query");
    FP_CHECK(s_m("/s{?x}{&y}", "/s?x=1&y=2"), "query continuation");
    FP_CHECK(s_m("/f{#frag}", "/f#a/b"), "fragment");
    FP_CHECK(s_m("/x{.ext}", "/x.json"), "label");
    FP_CHECK(s_m("/m{;p}", "/m;p=1"), "path parameter");
    FP_CHECK(s_m("/u/{id:3}", "/u/abc"), "prefix parses");
    FP_CHECK(s_m("/u/{a,b}", "/u/1,2"), "two variables");
    FP_CHECK(s_m("/u/{a}", "/u/%C3%A9"), "pct-encoded value");
    FP_CHECK(!s_m("/u/{a}", "/u/\x01"), "control byte never matches");
    FP_CHECK(s_bad(""), "empty refused");
    FP_CHECK(s_bad("/a/{id"), "unclosed brace");
    FP_CHECK(s_bad("/a/id}"), "stray close brace");
    FP_CHECK(s_bad("/a/{}"), "empty expression");
    FP_CHECK(s_bad("/a/{=x}"), "reserved operator =");
    FP_CHECK(s_bad("/a/{|x}"), "reserved operator |");
    FP_CHECK(s_bad("/a/{x y}"), "space in a name");
    FP_CHECK(s_bad("/a/{x:0}"), "prefix 0");
    FP_CHECK(s_bad("/a/{x:10000}"), "prefix 10000");
    FP_CHECK(s_bad("/a/{x..y}"), "double dot in a name");
    FP_CHECK(s_bad("/a/{+#x}"), "two operators");
    FP_CHECK(s_bad("/a/\n"), "control character");
    FP_CHECK(!s_bad("/a/{x.y,z*,w:9999}"), "dotted, explode, prefix");

    /*  64 reserved expansions against a long topic: linear, and bounded  */
    char sel[400] = "", topic[FP_MTOPIC_MAX + 1];
    for (int i = 0; i < FP_MTOPIC_EXPRS; i++)
        strcat(sel, "{+a}");
    memset(topic, 'a', FP_MTOPIC_MAX);
    topic[FP_MTOPIC_MAX] = '\0';
    FP_CHECK(s_m(sel, topic), "64 {+a} against 2048 bytes");
    topic[FP_MTOPIC_MAX - 1] = ' ';
    FP_CHECK(!s_m(sel, topic), "and a byte none allows");
    strcat(sel, "{+a}");
    FP_CHECK(s_bad(sel), "65 expressions refused");

    char err[FP_ERR_LEN];
    fp_mtopics_t set = { 0 };
    const char *topics[] = { "/books/1", "/users/42/books/1" };
    FP_CHECK(fp_mtopics_add(&set, "/users/42/{+rest}", err) == 0, "add");
    FP_CHECK(fp_mtopics_add(&set, "/a/{", err) < 0, "add refuses");
    FP_CHECK(set.count == 1, "a refused one is not kept");
    FP_CHECK(fp_mtopics_match_some(&set, topics, 2), "some: the alternate");
    FP_CHECK(!fp_mtopics_match_all(&set, topics, 2), "all: not the first");
    FP_CHECK(fp_mtopics_add(&set, "/books/{id}", err) == 0, "add another");
    FP_CHECK(fp_mtopics_match_all(&set, topics, 2), "all now");
    FP_CHECK(!fp_mtopics_match_all(&set, topics, 0), "all of none: no");
    fp_mtopics_clear(&set);
    FP_CHECK(!fp_mtopics_match_some(&set, topics, 2), "empty set");
}
#endif
