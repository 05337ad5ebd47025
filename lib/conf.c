/*  conf: configuration files with one directive per line (see conf.h).  */
#include "conf.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 64
#define MAX_LINE 4096

void
fp_strlist_add(fp_strlist_t *l, const char *s)
{
    l->items = fp_realloc(l->items, sizeof(char *) * (size_t) (l->count + 1));
    l->items[l->count++] = fp_strdup(s);
}

void
fp_strlist_free(fp_strlist_t *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/*  An integer in `base` (10, or 8 for file modes) within [min, max].  */
static int
s_parse_based(const char *s, int base, int64_t min, int64_t max,
              int64_t *out, char *err)
{
    char *end;
    bool octal = base == 8;

    errno = 0;
    long long v = strtoll(s, &end, base);
    if (errno || end == s || *end || (octal && (*s == '-' || *s == '+'))) {
        snprintf(err, FP_ERR_LEN, octal ? "'%s' is not an octal file mode "
                 "(e.g. 0660)" : "'%s' is not an integer", s);
        return -1;
    }
    if (v < min || (max > min && v > max)) {
        snprintf(err, FP_ERR_LEN, octal ? "%llo is out of range [%llo, %llo]"
                 : "%lld is out of range [%lld, %lld]", v, (long long) min,
                 (long long) max);
        return -1;
    }
    *out = v;
    return 0;
}

int
fp_conf_parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
                  char *err)
{
    return s_parse_based(s, 10, min, max, out, err);
}

/*  Parse "<digits><suffix>" with a table of suffix multipliers.  */
static int
s_parse_scaled(const char *s, const char *const *units, const uint64_t *mult,
               uint64_t *out, char *err, const char *what)
{
    char *end;

    if (!isdigit((unsigned char) *s)) {
        snprintf(err, FP_ERR_LEN, "'%s' is not a %s", s, what);
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) {
        snprintf(err, FP_ERR_LEN, "'%s' is too large", s);
        return -1;
    }
    for (int i = 0; units[i]; i++) {
        if (strcasecmp(end, units[i]) == 0) {
            if (mult[i] && v > UINT64_MAX / mult[i]) {
                snprintf(err, FP_ERR_LEN, "'%s' is too large", s);
                return -1;
            }
            *out = v * mult[i];
            return 0;
        }
    }
    snprintf(err, FP_ERR_LEN, "'%s' is not a %s", s, what);
    return -1;
}

int
fp_conf_parse_size(const char *s, uint64_t *out, char *err)
{
    static const char *const units[] = { "", "b", "k", "kb", "m", "mb",
                                         "g", "gb", NULL };
    static const uint64_t mult[] = { 1, 1, 1024, 1024, 1 << 20, 1 << 20,
                                     1 << 30, 1 << 30 };
    return s_parse_scaled(s, units, mult, out, err,
                          "size (e.g. 512, 64k, 16m, 1g)");
}

int
fp_conf_parse_ms(const char *s, uint64_t *out, char *err)
{
    static const char *const units[] = { "", "ms", "s", "m", "h", "d", NULL };
    static const uint64_t mult[] = { 1000, 1, 1000, 60000, 3600000,
                                     86400000 };
    return s_parse_scaled(s, units, mult, out, err,
                          "duration (e.g. 250ms, 30s, 5m, 1h)");
}

int
fp_conf_parse_bool(const char *s, bool *out, char *err)
{
    static const char *const yes[] = { "on", "yes", "true", "1", NULL };
    static const char *const no[] = { "off", "no", "false", "0", NULL };

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(err, FP_ERR_LEN, "'%s' is not on/off", s);
    return -1;
}

static int
s_set_enum(const fp_conf_opt_t *o, const char *word, char *err)
{
    for (int i = 0; o->choices[i]; i++) {
        if (strcasecmp(word, o->choices[i]) == 0) {
            *(int *) o->ptr = i;
            return 0;
        }
    }
    int n = snprintf(err, FP_ERR_LEN, "'%s' is not one of:", word);
    for (int i = 0; o->choices[i] && n > 0 && n < FP_ERR_LEN; i++)
        n += snprintf(err + n, (size_t) (FP_ERR_LEN - n), " %s",
                      o->choices[i]);
    return -1;
}

static int
s_check_range(const fp_conf_opt_t *o, uint64_t v, char *err)
{
    if ((int64_t) v < o->min || (o->max > 0 && (int64_t) v > o->max)) {
        snprintf(err, FP_ERR_LEN, "%llu is out of range [%lld, %lld]",
                 (unsigned long long) v, (long long) o->min,
                 (long long) o->max);
        return -1;
    }
    return 0;
}

static int
s_set_value(const fp_conf_opt_t *o, const char *word, char *err)
{
    uint64_t u;

    switch (o->type) {
    case FP_CONF_STR:
        free(*(char **) o->ptr);
        *(char **) o->ptr = fp_strdup(word);
        return 0;
    case FP_CONF_INT:
        return fp_conf_parse_int(word, o->min, o->max, (int64_t *) o->ptr,
                                 err);
    case FP_CONF_SIZE:
        if (fp_conf_parse_size(word, &u, err) || s_check_range(o, u, err))
            return -1;
        *(uint64_t *) o->ptr = u;
        return 0;
    case FP_CONF_MS:
        if (fp_conf_parse_ms(word, &u, err) || s_check_range(o, u, err))
            return -1;
        *(uint64_t *) o->ptr = u;
        return 0;
    case FP_CONF_BOOL:
        return fp_conf_parse_bool(word, (bool *) o->ptr, err);
    case FP_CONF_ENUM:
        return s_set_enum(o, word, err);
    case FP_CONF_LIST:
        fp_strlist_add((fp_strlist_t *) o->ptr, word);
        return 0;
    case FP_CONF_MODE:
        return s_parse_based(word, 8, o->min, o->max, (int64_t *) o->ptr,
                             err);
    case FP_CONF_NEST:
        break;
    }
    return -1;
}

/*  The directive called name, in opts or a table nested in it.  */
static const fp_conf_opt_t *
s_find(const fp_conf_opt_t *opts, const char *name)
{
    for (const fp_conf_opt_t *o = opts; o->name; o++) {
        if (o->type == FP_CONF_NEST) {
            const fp_conf_opt_t *n = s_find(o->ptr, name);
            if (n)
                return n;
        } else if (strcasecmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

int
fp_conf_set(const fp_conf_opt_t *opts, const char *name, int argc,
            char **argv, char *err)
{
    const fp_conf_opt_t *o = s_find(opts, name);
    if (o) {
        if (argc < 1 || (o->type != FP_CONF_LIST && argc != 1)) {
            snprintf(err, FP_ERR_LEN, "%s: expects %s", name,
                     o->type == FP_CONF_LIST ? "one or more values"
                                             : "exactly one value");
            return -1;
        }
        for (int i = 0; i < argc; i++) {
            char sub[FP_ERR_LEN];
            if (s_set_value(o, argv[i], sub) == 0)
                continue;
            snprintf(err, FP_ERR_LEN, "%s: %s", name, sub);
            return -1;
        }
        return 0;
    }
    snprintf(err, FP_ERR_LEN, "unknown directive '%s'", name);
    return -1;
}

int
fp_conf_split(char *line, char **argv, int max)
{
    int argc = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || *p == '#')
            return argc;
        if (argc == max)
            return -1;
        if (*p == '"') {
            argv[argc++] = ++p;
            while (*p && *p != '"')
                p++;
            if (*p != '"')
                return -1;
        } else {
            argv[argc++] = p;
            while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                p++;
        }
        if (*p)
            *p++ = '\0';
    }
}

int
fp_conf_load_string(const fp_conf_opt_t *opts, const char *text,
                    const char *name, char *err)
{
    char line[MAX_LINE], *argv[MAX_WORDS], sub[FP_ERR_LEN];
    int lineno = 0;
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        lineno++;
        if (len >= sizeof line) {
            snprintf(err, FP_ERR_LEN, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl ? nl + 1 : p + len;
        int argc = fp_conf_split(line, argv, MAX_WORDS);
        if (argc < 0) {
            snprintf(err, FP_ERR_LEN, "%s:%d: unclosed quote or too many "
                     "words", name, lineno);
            return -1;
        }
        if (argc == 0)
            continue;
        if (fp_conf_set(opts, argv[0], argc - 1, argv + 1, sub) < 0) {
            snprintf(err, FP_ERR_LEN, "%s:%d: %s", name, lineno, sub);
            return -1;
        }
    }
    return 0;
}

int
fp_conf_load(const fp_conf_opt_t *opts, const char *path, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, FP_ERR_LEN, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(mem);
    fclose(f);
    if (memchr(text, '\0', len)) {
        snprintf(err, FP_ERR_LEN, "%s: contains a NUL byte", path);
        free(text);
        return -1;
    }
    int rc = fp_conf_load_string(opts, text, path, err);
    free(text);
    return rc;
}

void
fp_conf_usage(const fp_conf_opt_t *opts, FILE *out)
{
    static const char *kind[] = { "WORD", "N", "SIZE", "TIME", "on|off",
                                  "WORD...", "WORD", "MODE" };
    for (const fp_conf_opt_t *o = opts; o->name; o++) {
        char left[64];
        if (o->type == FP_CONF_NEST) {
            if (o->help)
                fprintf(out, "  (%s)\n", o->help);
            fp_conf_usage(o->ptr, out);
            continue;
        }
        snprintf(left, sizeof left, "--%s %s", o->name, kind[o->type]);
        fprintf(out, "  %-30s %s\n", left, o->help ? o->help : "");
    }
}

void
fp_conf_free(const fp_conf_opt_t *opts)
{
    for (const fp_conf_opt_t *o = opts; o->name; o++) {
        if (o->type == FP_CONF_NEST) {
            fp_conf_free(o->ptr);
        } else if (o->type == FP_CONF_STR) {
            free(*(char **) o->ptr);
            *(char **) o->ptr = NULL;
        } else if (o->type == FP_CONF_LIST) {
            fp_strlist_free((fp_strlist_t *) o->ptr);
        }
    }
}

#ifdef FP_TEST
#include "test.h"

void
fp_conf_test(void)
{
    char *name = NULL;
    int64_t count = 5;
    uint64_t size = 0, age = 0;
    bool flag = false;
    int mode = 0;
    int64_t perm = 0;
    fp_strlist_t list = { 0 };
    static const char *const modes[] = { "always", "everysec", "no", NULL };
    const fp_conf_opt_t opts[] = {
        { "name", FP_CONF_STR, &name, 0, 0, NULL, "a name" },
        { "count", FP_CONF_INT, &count, 1, 100, NULL, "a count" },
        { "size", FP_CONF_SIZE, &size, 1, 0, NULL, "a size" },
        { "age", FP_CONF_MS, &age, 0, 0, NULL, "an age" },
        { "flag", FP_CONF_BOOL, &flag, 0, 0, NULL, "a flag" },
        { "mode", FP_CONF_ENUM, &mode, 0, 0, modes, "a mode" },
        { "allow", FP_CONF_LIST, &list, 0, 0, NULL, "a list" },
        { "perm", FP_CONF_MODE, &perm, 0, 0777, NULL, "a file mode" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    char err[FP_ERR_LEN];

    int rc = fp_conf_load_string(opts,
        "# comment\n\nname   \"two words\"\ncount 42 # trailing\n"
        "size 16k\nage 5m\nflag on\nmode NO\nallow a b\nallow c\n",
        "t.conf", err);
    FP_CHECK(rc == 0, "valid file loads");
    FP_CHECK(name && strcmp(name, "two words") == 0, "quoted string");
    FP_CHECK(count == 42 && size == 16384 && age == 300000, "numbers");
    FP_CHECK(flag && mode == 2, "bool and enum");
    FP_CHECK(list.count == 3 && strcmp(list.items[2], "c") == 0, "list");

    rc = fp_conf_load_string(opts, "count 1\ncount 101\n", "t.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "t.conf:2: count:"), "range error");
    rc = fp_conf_load_string(opts, "bogus 1\n", "x.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "x.conf:1: unknown directive"),
             "unknown directive");
    rc = fp_conf_load_string(opts, "size 10q\n", "x.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "size:"), "bad size");
    rc = fp_conf_load_string(opts, "name a b\n", "x.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "exactly one"), "arity");
    rc = fp_conf_load_string(opts, "name \"open\n", "x.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "unclosed"), "unclosed quote");
    rc = fp_conf_load_string(opts, "mode sometimes\n", "x.conf", err);
    FP_CHECK(rc == -1 && strstr(err, "everysec"), "enum lists choices");
    rc = fp_conf_load_string(opts, "perm 0660\n", "x.conf", err);
    FP_CHECK(rc == 0 && perm == 0660, "file mode is octal");
    rc = fp_conf_load_string(opts, "perm 666\n", "x.conf", err);
    FP_CHECK(rc == 0 && perm == 0666, "file mode without leading 0");
    FP_CHECK(fp_conf_load_string(opts, "perm 0680\n", "x.conf", err) == -1
             && strstr(err, "octal"), "8 is not an octal digit");
    FP_CHECK(fp_conf_load_string(opts, "perm 01777\n", "x.conf", err) == -1
             && strstr(err, "range"), "file mode range");
    uint64_t v;
    FP_CHECK(fp_conf_parse_ms("99999999999999999999", &v, err) == -1,
             "overflow refused");
    FP_CHECK(fp_conf_parse_ms("250ms", &v, err) == 0 && v == 250, "ms");
    FP_CHECK(fp_conf_parse_ms("-1", &v, err) == -1, "negative refused");
    FP_CHECK(fp_conf_load(opts, "/nonexistent/x.conf", err) == -1 &&
             strstr(err, "No such file"), "missing file");
    fp_conf_free(opts);
    FP_CHECK(name == NULL && list.count == 0, "free");

    char *inner = NULL;
    const fp_conf_opt_t shared[] = {
        { "inner", FP_CONF_STR, &inner, 0, 0, NULL, "shared" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    const fp_conf_opt_t outer[] = {
        { "count", FP_CONF_INT, &count, 1, 100, NULL, "a count" },
        { "", FP_CONF_NEST, (void *) shared, 0, 0, NULL, "shared part" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    rc = fp_conf_load_string(outer, "count 7\ninner x\n", "n.conf", err);
    FP_CHECK(rc == 0 && count == 7 && inner && strcmp(inner, "x") == 0,
             "nested table directives");
    FP_CHECK(fp_conf_load_string(outer, "\"\" 1\n", "n.conf", err) == -1,
             "the nest entry itself is no directive");
    fp_conf_free(outer);
    FP_CHECK(inner == NULL, "nested free");
}
#endif
