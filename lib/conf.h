/*  conf: configuration files with one directive per line.
 *
 *      # comment
 *      fanout    tcp://127.0.0.1:7402
 *      history-age 1h
 *
 *  Each program describes its directives in a table of fp_conf_opt_t (name,
 *  type, where to store the value, limits, help text), as lighttpd modules
 *  do with their config key tables.  The same table serves the config file,
 *  `--name value` overrides on the command line and the `--help` listing.
 *  Errors name the file and line ("broker.conf:7: history-age: ...") and
 *  leave the process to decide; conf never logs and never exits.
 */
#ifndef FP_CONF_H
#define FP_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef enum {
    FP_CONF_STR,        /*  char **: one word, replaces (strdup'd)  */
    FP_CONF_INT,        /*  int64_t *: decimal integer in [min, max]  */
    FP_CONF_SIZE,       /*  uint64_t *: bytes, suffix k/m/g (1024-based)  */
    FP_CONF_MS,         /*  uint64_t *: duration in ms; ms/s/m/h, bare = s  */
    FP_CONF_BOOL,       /*  bool *: on/off, yes/no, true/false, 1/0  */
    FP_CONF_LIST,       /*  fp_strlist_t *: every word appended  */
    FP_CONF_ENUM,       /*  int *: index of the word in `choices`  */
    FP_CONF_MODE,       /*  int64_t *: file mode in octal (0660), in
                            [min, max]  */
    FP_CONF_NEST        /*  const fp_conf_opt_t *: another table whose
                            directives count as this one's (shared
                            directives, e.g. lib/access); name ""  */
} fp_conf_type_t;

typedef struct {
    char **items;               /*  owned strings  */
    int count;
} fp_strlist_t;

typedef struct {
    const char *name;           /*  directive name, e.g. "history-age"  */
    fp_conf_type_t type;
    void *ptr;                  /*  where the value goes (see type)  */
    int64_t min, max;           /*  FP_CONF_INT/SIZE/MS bounds (max 0: none)  */
    const char *const *choices; /*  FP_CONF_ENUM: NULL-terminated words  */
    const char *help;           /*  one line for --help  */
} fp_conf_opt_t;

/*  Apply one directive with its arguments to the table.  Returns 0, or -1
 *  with a message in err (FP_ERR_LEN bytes) for an unknown directive, a
 *  wrong number of arguments or a bad value.  */
int fp_conf_set(const fp_conf_opt_t *opts, const char *name, int argc,
                char **argv, char *err);

/*  Read a config file and apply every directive.  Returns 0, or -1 with
 *  "PATH:LINE: message" in err.  */
int fp_conf_load(const fp_conf_opt_t *opts, const char *path, char *err);

/*  Same for text in memory; `name` is used in messages.  */
int fp_conf_load_string(const fp_conf_opt_t *opts, const char *text,
                        const char *name, char *err);

/*  Split a line into words in place (whitespace separated, "double quotes"
 *  group, # starts a comment).  Returns the number of words, or -1 when
 *  there are more than `max` or a quote is not closed.  */
int fp_conf_split(char *line, char **argv, int max);

/*  Print "  --name VALUE   help" for each directive (for --help).  */
void fp_conf_usage(const fp_conf_opt_t *opts, FILE *out);

/*  Free what the table's STR and LIST entries own.  */
void fp_conf_free(const fp_conf_opt_t *opts);

/*  Append a copy of s to a string list.  */
void fp_strlist_add(fp_strlist_t *l, const char *s);

/*  Free a string list's strings; the list is empty afterwards.  */
void fp_strlist_free(fp_strlist_t *l);

/*  Value parsers, also used for query parameters: 0, or -1 with err.  */
int fp_conf_parse_int(const char *s, int64_t min, int64_t max,
                      int64_t *out, char *err);
int fp_conf_parse_size(const char *s, uint64_t *out, char *err);
int fp_conf_parse_ms(const char *s, uint64_t *out, char *err);
int fp_conf_parse_bool(const char *s, bool *out, char *err);

#endif
