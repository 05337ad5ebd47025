/*  args: the command line every fastpush daemon shares.
 *
 *      -f FILE  -n  -v  --ready-fd N  -h/--help  --version
 *      --DIRECTIVE VALUE ...   (the program's fp_conf_opt_t table)
 *      --FLAG                  (a boolean directive named in `flags`,
 *                               meaning "--FLAG on")
 *
 *  Arguments apply in order, so a later one wins over the config file.
 *  Like every common/ module it neither prints nor exits: the caller
 *  shows usage or the version when told to.
 */
#ifndef FP_ARGS_H
#define FP_ARGS_H

#include <stdbool.h>

#include "conf.h"
#include "err.h"

typedef struct {
    const fp_conf_opt_t *opts;  /*  the program's directives  */
    const char *const *flags;   /*  boolean directives allowed bare, or
                                    NULL; NULL-terminated  */
} fp_args_spec_t;

typedef struct {
    int ready_fd;               /*  --ready-fd, or -1  */
    bool check_only;            /*  -n  */
    bool help;                  /*  -h / --help: show usage, exit 0  */
    bool version;               /*  --version: show it, exit 0  */
} fp_args_t;

/*  Apply argv[1..argc) to the directive table.  Returns 0, or -1 with a
 *  message in err (FP_ERR_LEN) for an unknown argument or a bad value.
 *  Stops early (returning 0) at -h/--help or --version.  */
int fp_args_parse(const fp_args_spec_t *spec, int argc, char **argv,
                  fp_args_t *out, char *err);

#endif
