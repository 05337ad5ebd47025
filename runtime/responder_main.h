/*  responder_main: the main() fastpush-sse and fastpush-poll share.
 *
 *  fp_responder_main starts logging, sets the shared and the program's
 *  defaults, reads the command line (-h, --version, log-level), builds
 *  the access policy, answers -n, creates the responder, lets the
 *  program get ready, writes --ready-fd, runs the loop, lets the program
 *  end its requests, and frees everything in order.  The program only
 *  describes itself in an fp_responder_prog_t and prints its own
 *  --help description through fp_responder_usage.
 */
#ifndef FP_RESPONDER_MAIN_H
#define FP_RESPONDER_MAIN_H

#include <stdint.h>
#include <stdio.h>

#include "access.h"
#include "conf.h"
#include "fcgi_conn.h"
#include "responder.h"

typedef struct {
    const char *prog;           /*  "fastpush-sse": the log's, --version's
                                    and -n's name  */
    const char *version;        /*  printed by --version  */
    const fp_conf_opt_t *opts;  /*  the program's directives; they nest
                                    fp_responder_opts  */
    void (*defaults)(void);     /*  the program's own defaults, set after
                                    fp_responder_opts_defaults  */
    void (*usage)(FILE *out);   /*  -h / --help  */
    const uint64_t *max_body;   /*  the directive bounding a request body,
                                    or NULL for the acceptor's default  */
    const fp_responder_cbs_t *cbs;  /*  the responder's callbacks  */
    void *arg;                  /*  passed to cbs and to the three below  */
    /*  Where the program keeps the responder, the access policy and the
     *  connections: set before `ready`; borrowed, fp_responder_main owns
     *  and destroys them (the last two with the app).  */
    fp_responder_t **app;
    fp_access_t **authz;
    fp_fcgi_conns_t **conns;
    /*  The directives are parsed and the responder is set up, not yet
     *  running: take the configuration, log the "ready" line.  */
    void (*ready)(void *arg);
    /*  The loop ended (SIGTERM): end what is still open.  The app and
     *  the access policy still exist.  */
    void (*stopped)(void *arg);
    /*  The app and the access policy are gone: free the program's own
     *  state.  */
    void (*release)(void *arg);
    /*  The directives are parsed and the access policy is built: check
     *  what only the program knows (0, or -1 with err: a startup error,
     *  also under -n).  NULL: nothing to check.  */
    int (*check)(void *arg, char *err);
} fp_responder_prog_t;

/*  The whole main() of a responder, as described above.  Returns the
 *  exit status for main() to return: 0 after -h, --version, -n or
 *  SIGTERM; 1 after a startup error (command line, directives, files they
 *  name, sockets), which is logged at error level, as fp_fatalx would,
 *  once what was set up is freed.  */
int fp_responder_main(const fp_responder_prog_t *prog, int argc,
                      char **argv);

/*  The listener for log lines: the `listen` directive, or "fd 0" when it
 *  is empty.  Borrowed from fp_responder_opts_conf.  */
const char *fp_responder_listen_name(void);

/*  Print a responder's --help: the usage line for prog, `about` (the
 *  program's description, ending in a newline), the shared options and
 *  the program's directives.  */
void fp_responder_usage(FILE *out, const char *prog, const char *about,
                        const fp_conf_opt_t *opts);

#endif
