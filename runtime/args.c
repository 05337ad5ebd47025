/*  args: the daemons' shared command line (see args.h).  */
#include "args.h"
#include "log.h"
#include "sdnotify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*  True if name is one of the bare boolean flags.  */
static bool
s_is_flag(const fp_args_spec_t *spec, const char *name)
{
    for (int i = 0; spec->flags && spec->flags[i]; i++)
        if (strcmp(spec->flags[i], name) == 0)
            return true;
    return false;
}

/*  Apply "--name value" (or a bare flag); returns the arguments used,
 *  or -1 with err.  */
static int
s_directive(const fp_args_spec_t *spec, int argc, char **argv, int i,
            char *err)
{
    const char *name = argv[i] + 2;
    bool has_value = i + 1 < argc && argv[i + 1][0] != '-';

    if (s_is_flag(spec, name) && !has_value) {
        char *on[] = { "on" };
        return fp_conf_set(spec->opts, name, 1, on, err) < 0 ? -1 : 1;
    }
    if (i + 1 >= argc) {
        snprintf(err, FP_ERR_LEN, "%s: a value is missing", argv[i]);
        return -1;
    }
    if (fp_conf_set(spec->opts, name, 1, &argv[i + 1], err) < 0)
        return -1;
    return 2;
}

int
fp_args_parse(const fp_args_spec_t *spec, int argc, char **argv,
              fp_args_t *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->ready_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = true;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            out->version = true;
            return 0;
        }
        if (strcmp(a, "-n") == 0) {
            out->check_only = true;
        } else if (strcmp(a, "-v") == 0) {
            char *dbg[] = { "debug" };
            if (fp_conf_set(spec->opts, "log-level", 1, dbg, err) < 0)
                return -1;
        } else if (strcmp(a, "-d") == 0) {
            continue;                   /*  always in the foreground  */
        } else if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            if (fp_conf_load(spec->opts, argv[++i], err) < 0)
                return -1;
        } else if (strcmp(a, "--ready-fd") == 0 && i + 1 < argc) {
            out->ready_fd = atoi(argv[++i]);
        } else if (strncmp(a, "--", 2) == 0 && a[2]) {
            int used = s_directive(spec, argc, argv, i, err);
            if (used < 0)
                return -1;
            i += used - 1;
        } else {
            snprintf(err, FP_ERR_LEN, "unexpected argument '%s' (try "
                     "--help)", a);
            return -1;
        }
    }
    return 0;
}

int
fp_args_start(const fp_args_spec_t *spec, int argc, char **argv,
              fp_args_t *out, char *err)
{
    fp_log_init(spec->prog, FP_LOG_INFO);
    if (spec->defaults)
        spec->defaults();
    if (fp_args_parse(spec, argc, argv, out, err) < 0)
        return -1;
    if (out->help) {
        spec->usage(stdout);
        return 1;
    }
    if (out->version) {
        printf("%s %s\n", spec->prog, spec->version);
        return 1;
    }
    for (const fp_conf_opt_t *o = spec->opts; o->name; o++) {
        if (strcmp(o->name, "log-level") != 0 || o->type != FP_CONF_STR)
            continue;
        const char *v = *(char **) o->ptr;
        int level = fp_log_level_parse(v ? v : "info");
        if (level < 0) {
            snprintf(err, FP_ERR_LEN, "log-level: '%s' is not error, warn, "
                     "info or debug", v);
            return -1;
        }
        fp_log_set_level(level);
    }
    return 0;
}

bool
fp_args_checked(const fp_args_t *args, const char *prog)
{
    if (!args->check_only)
        return false;
    printf("%s: configuration OK\n", prog);
    return true;
}

void
fp_args_ready(fp_args_t *args)
{
    fp_sd_ready();
    if (args->ready_fd < 0)
        return;
    if (write(args->ready_fd, "\n", 1) < 0)
        args->ready_fd = -1;
    else
        close(args->ready_fd);
    args->ready_fd = -1;
}

#ifdef FP_TEST
#include "test.h"

void
fp_args_test(void)
{
    char *level = NULL;
    bool echo = false;
    int64_t n = 1;
    const fp_conf_opt_t opts[] = {
        { "log-level", FP_CONF_STR, &level, 0, 0, NULL, "level" },
        { "echo", FP_CONF_BOOL, &echo, 0, 0, NULL, "echo" },
        { "workers", FP_CONF_INT, &n, 1, 8, NULL, "workers" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    const char *const flags[] = { "echo", NULL };
    fp_args_spec_t spec = { opts, flags };
    fp_args_t a;
    char err[FP_ERR_LEN];
    char *argv1[] = { "p", "-v", "--workers", "4", "--echo", "-n",
                      "--ready-fd", "7" };
    FP_CHECK(fp_args_parse(&spec, 8, argv1, &a, err) == 0, "parsed");
    FP_CHECK(n == 4 && echo && level && strcmp(level, "debug") == 0,
             "directives, bare flag and -v applied");
    FP_CHECK(a.check_only && a.ready_fd == 7 && !a.help, "options");
    char *argv2[] = { "p", "--echo", "off", "--workers", "9" };
    FP_CHECK(fp_args_parse(&spec, 5, argv2, &a, err) == -1 && !echo,
             "a flag takes a value too; out-of-range value refused");
    char *argv3[] = { "p", "--nope", "1" };
    FP_CHECK(fp_args_parse(&spec, 3, argv3, &a, err) == -1, "unknown");
    char *argv4[] = { "p", "--workers" };
    FP_CHECK(fp_args_parse(&spec, 2, argv4, &a, err) == -1, "no value");
    char *argv5[] = { "p", "stray" };
    FP_CHECK(fp_args_parse(&spec, 2, argv5, &a, err) == -1, "stray");
    char *argv6[] = { "p", "--help", "--bogus" };
    FP_CHECK(fp_args_parse(&spec, 3, argv6, &a, err) == 0 && a.help,
             "help stops parsing");
    fp_conf_free(opts);
}
#endif
