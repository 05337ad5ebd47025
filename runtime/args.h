/*  args: the command line every fastpush daemon shares.
 *
 *      -f FILE  -n  -v  --ready-fd N  -h/--help  --version
 *      --DIRECTIVE VALUE ...   (the program's fp_conf_opt_t table)
 *      --FLAG                  (a boolean directive named in `flags`,
 *                               meaning "--FLAG on")
 *
 *  Arguments apply in order, so a later one wins over the config file.
 *  Like every lib/ module it neither prints nor exits: the caller
 *  shows usage or the version when told to.
 */
#ifndef FP_ARGS_H
#define FP_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"
#include "err.h"

typedef struct {
    const fp_conf_opt_t *opts;  /*  the program's directives  */
    const char *const *flags;   /*  boolean directives allowed bare, or
                                    NULL; NULL-terminated  */
    /*  For fp_args_start only:  */
    const char *prog;           /*  the log's and --version's name  */
    const char *version;        /*  printed by --version  */
    void (*defaults)(void);     /*  sets the directives' defaults, or NULL  */
    void (*usage)(FILE *out);   /*  prints -h / --help  */
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

/*  The usual start of a daemon: fp_log_init(spec->prog), the defaults,
 *  parse, apply the "log-level" directive, and handle -h (usage to
 *  stdout) and --version (print what was asked).  Returns 0 to go on, 1
 *  when the program should now exit 0, -1 with err on a bad command
 *  line, file or log level.  -n is left to the program: it loads what
 *  the directives name (keys, ACLs) and then asks fp_args_checked().  */
int fp_args_start(const fp_args_spec_t *spec, int argc, char **argv,
                  fp_args_t *out, char *err);

/*  With -n: print "PROG: configuration OK" and return true (the program
 *  exits 0 without serving).  Call it once every file the configuration
 *  names has been loaded.  Without -n: false.  */
bool fp_args_checked(const fp_args_t *args, const char *prog);

/*  Tell systemd (Type=notify) and whoever waits on --ready-fd that the
 *  program is ready: READY=1, and a newline written to the descriptor,
 *  which is then closed (once).  */
void fp_args_ready(fp_args_t *args);

#endif
