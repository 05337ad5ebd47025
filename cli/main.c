/*  fastpush: publish, tail, since, state, stats and ping from a shell.  */
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_VERSION "0.1.0"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: fastpush [OPTIONS] COMMAND [ARGS]\n\n"
        "Talk to a fastpush broker from a shell.\n\n"
        "Commands:\n"
        "  publish CHANNEL [--event TYPE] [--key KEY] [--string] [--async] "
        "DATA|-\n"
        "        publish one event and print its id (EPOCH-SEQ); DATA is "
        "JSON,\n"
        "        or a string when it is not JSON (or with --string); - reads "
        "stdin;\n"
        "        --async sends without acknowledgement through the ingest "
        "socket\n"
        "  tail CHANNEL... [--since CURSOR|earliest] [--count N] "
        "[--for SECONDS]\n"
        "        print events as they arrive, after replaying those since "
        "CURSOR\n"
        "  since CHANNEL... --since CURSOR|earliest [--limit N]\n"
        "        print the events after CURSOR and the cursor to continue "
        "from\n"
        "  state CHANNEL       print the latest event per key of a keyed "
        "channel\n"
        "  stats [--top N] [--channel NAME]   broker statistics\n"
        "  ping                check that the broker answers\n"
        "  health              is the broker ready to take events? exit 0 "
        "ready,\n"
        "                      1 answering but not ready (the reason "
        "printed), 3 no answer\n"
        "  keygen NAME         write a CURVE certificate pair NAME and "
        "NAME_secret\n\n"
        "Options:\n"
        "  -f FILE             read control/fanout/ingest from a broker "
        "config file\n"
        "  --control EP        broker ROUTER endpoint "
        "($FASTPUSH_CONTROL, tcp://127.0.0.1:7401)\n"
        "  --fanout EP         broker XPUB endpoint "
        "($FASTPUSH_FANOUT, tcp://127.0.0.1:7402)\n"
        "  --ingest EP         broker PULL endpoint "
        "($FASTPUSH_INGEST, tcp://127.0.0.1:7400)\n"
        "  --timeout MS        wait this long for the broker (3000)\n"
        "  --token TOKEN       the broker's publish-token "
        "($FASTPUSH_TOKEN)\n"
        "  --curve-server-key FILE  the broker's public CURVE certificate\n"
        "                      ($FASTPUSH_CURVE_SERVER_KEY)\n"
        "  --curve-key FILE    this client's secret CURVE certificate\n"
        "                      ($FASTPUSH_CURVE_KEY)\n"
        "  --json              machine-readable output (one JSON per line)\n"
        "  -h, --help          this text;  --version\n\n"
        "Exit status: 0 ok, 1 refused by the broker, 2 usage, 3 broker not "
        "reachable.\n");
}

static void
s_set(char **dst, const char *v)
{
    free(*dst);
    *dst = fp_strdup(v);
}

/*  Take control/fanout/ingest from a broker config file.  */
static int
s_conf_file(cli_t *cli, const char *path)
{
    char line[4096], *argv[8];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fastpush: %s: cannot open\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        int n = fp_conf_split(line, argv, 8);
        if (n != 2)
            continue;
        if (strcmp(argv[0], "control") == 0)
            s_set(&cli->control, argv[1]);
        else if (strcmp(argv[0], "fanout") == 0)
            s_set(&cli->fanout, argv[1]);
        else if (strcmp(argv[0], "ingest") == 0)
            s_set(&cli->ingest, argv[1]);
    }
    fclose(f);
    return 0;
}

static void
s_env(cli_t *cli)
{
    const char *v;
    s_set(&cli->control, (v = getenv("FASTPUSH_CONTROL")) ? v
                                                         : "tcp://127.0.0.1:7401");
    s_set(&cli->fanout, (v = getenv("FASTPUSH_FANOUT")) ? v
                                                       : "tcp://127.0.0.1:7402");
    s_set(&cli->ingest, (v = getenv("FASTPUSH_INGEST")) ? v
                                                       : "tcp://127.0.0.1:7400");
    if ((v = getenv("FASTPUSH_TOKEN")))
        s_set(&cli->link.token, v);
    if ((v = getenv("FASTPUSH_CURVE_SERVER_KEY")))
        s_set(&cli->link.curve_server_key, v);
    if ((v = getenv("FASTPUSH_CURVE_KEY")))
        s_set(&cli->link.curve_key, v);
}

static int
s_run(cli_t *cli, const char *cmd, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(cli_t *, int, char **);
    } cmds[] = {
        { "publish", cli_publish }, { "tail", cli_tail },
        { "since", cli_since }, { "state", cli_state },
        { "stats", cli_stats }, { "ping", cli_ping },
        { "health", cli_health },
        { "keygen", cli_keygen },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(cli, argc, argv);
    fprintf(stderr, "fastpush: unknown command '%s' (try --help)\n", cmd);
    return CLI_USAGE;
}

int
main(int argc, char **argv)
{
    cli_t cli = { .timeout_ms = 3000 };
    int i = 1, rc;

    fp_log_init("fastpush", FP_LOG_WARN);
    s_env(&cli);
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("fastpush %s\n", CLI_VERSION);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "-f") == 0 && has) {
            if (s_conf_file(&cli, argv[++i]) < 0)
                return CLI_USAGE;
        } else if (strcmp(a, "--control") == 0 && has) {
            s_set(&cli.control, argv[++i]);
        } else if (strcmp(a, "--fanout") == 0 && has) {
            s_set(&cli.fanout, argv[++i]);
        } else if (strcmp(a, "--ingest") == 0 && has) {
            s_set(&cli.ingest, argv[++i]);
        } else if (strcmp(a, "--token") == 0 && has) {
            s_set(&cli.link.token, argv[++i]);
        } else if (strcmp(a, "--curve-server-key") == 0 && has) {
            s_set(&cli.link.curve_server_key, argv[++i]);
        } else if (strcmp(a, "--curve-key") == 0 && has) {
            s_set(&cli.link.curve_key, argv[++i]);
        } else if (strcmp(a, "--timeout") == 0 && has) {
            cli.timeout_ms = atoi(argv[++i]);
        } else {
            fprintf(stderr, "fastpush: unknown option '%s' (try --help)\n", a);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    /*  options may also follow the command: --json anywhere  */
    int n = 0;
    for (int k = i + 1; k < argc; k++) {
        if (strcmp(argv[k], "--json") == 0)
            cli.json = true;
        else
            argv[i + 1 + n++] = argv[k];
    }
    zsys_init();
    zsys_set_logstream(NULL);
    rc = s_run(&cli, argv[i], n, argv + i + 1);
    free(cli.control);
    free(cli.fanout);
    free(cli.ingest);
    free(cli.link.token);
    free(cli.link.curve_server_key);
    free(cli.link.curve_key);
    return rc;
}
