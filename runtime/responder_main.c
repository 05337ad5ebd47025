/*  responder_main: the main() and --help text that fastpush-sse and
 *  fastpush-poll share (see responder_main.h).  */
#include "responder_main.h"
#include "args.h"
#include "err.h"
#include "log.h"

/*  The responder on the shared directives, into *prog->app and
 *  *prog->conns.  Returns 0, or -1 with err.  */
static int
s_app(const fp_responder_prog_t *prog, char *err)
{
    fp_responder_conf_t ac = { 0 };

    if (prog->max_body)
        ac.fcgi.max_body = *prog->max_body;
    fp_responder_opts_apply(&ac);
    const char *dash = strrchr(prog->prog, '-');
    ac.transport = dash ? dash + 1 : prog->prog;     /*  "sse", "poll"  */
    *prog->app = fp_responder_new(&ac, prog->cbs, prog->arg, err);
    if (!*prog->app)
        return -1;
    *prog->conns = fp_responder_conns(*prog->app);
    return 0;
}

int
fp_responder_main(const fp_responder_prog_t *prog, int argc, char **argv)
{
    fp_args_spec_t spec = { prog->opts, NULL, prog->prog, prog->version,
                            prog->defaults, prog->usage };
    fp_args_t args;
    char err[FP_ERR_LEN];
    int rc = 0;

    fp_responder_opts_defaults();
    int start = fp_args_start(&spec, argc, argv, &args, err);
    if (start < 0)
        goto fail;
    if (start > 0)
        goto end;
    *prog->authz = fp_access_new(&fp_access_conf, err);
    if (!*prog->authz)
        goto fail;
    if (prog->check && prog->check(prog->arg, err) < 0)
        goto fail;
    if (fp_args_checked(&args, prog->prog))
        goto end;
    if (s_app(prog, err) < 0)
        goto fail;
    prog->ready(prog->arg);
    fp_args_ready(&args);
    rc = fp_responder_run(*prog->app);
    prog->stopped(prog->arg);
    goto end;
fail:
    fp_log_error("%s", err);
    rc = 1;
end:
    fp_responder_destroy(prog->app);
    *prog->conns = NULL;
    fp_access_destroy(prog->authz);
    prog->release(prog->arg);
    fp_conf_free(prog->opts);
    return rc;
}

const char *
fp_responder_listen_name(void)
{
    const char *listen = fp_responder_opts_conf.listen;
    return listen && *listen ? listen : "fd 0";
}

void
fp_responder_usage(FILE *out, const char *prog, const char *about,
                   const fp_conf_opt_t *opts)
{
    fprintf(out,
        "usage: %s [-f FILE] [-n] [-v] [--ready-fd N] "
        "[--DIRECTIVE VALUE ...]\n\n%s\n"
        "  -f FILE          read directives from FILE\n"
        "  -n               check the configuration and the key and ACL files it\n"
        "                   names, then exit\n"
        "  -v               log debug messages\n"
        "  --ready-fd N     write a newline to fd N once listening\n"
        "  -h, --help       this text;  --version\n\n"
        "Directives (in FILE, or as --name value):\n", prog, about);
    fp_conf_usage(opts, out);
}
