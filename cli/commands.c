/*  commands: publish, since, state, stats and ping.  */
#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "json.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_usage(const char *text)
{
    fprintf(stderr, "usage: fastpush %s\n", text);
    return CLI_USAGE;
}

static char *
s_read_stdin(size_t *len)
{
    fp_buf_t b;
    char chunk[65536];
    size_t n;
    fp_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        fp_buf_add(&b, chunk, n);
    return fp_buf_detach(&b, len);
}

/*  DATA as JSON, or as a string when it is not JSON (or --string).  */
static json_t *
s_data(const char *text, size_t len, bool as_string)
{
    char err[FP_ERR_LEN];
    json_t *v = as_string ? NULL : fp_json_parse(text, len, err);
    return v ? v : json_stringn(text, len);
}

static int
s_send_async(cli_t *cli, json_t *ev)
{
    zsock_t *push = zsock_new(ZMQ_PUSH);
    size_t len;
    char *text = fp_json_dump(ev, &len);
    int rc = CLI_OK;

    zsock_set_linger(push, cli->timeout_ms);
    zsock_set_sndtimeo(push, cli->timeout_ms);
    zsock_set_immediate(push, 1);
    const char *token = fp_sockauth_token(&cli->link);
    if (cli_link(cli, push) < 0) {
        rc = CLI_USAGE;
    } else if (zsock_connect(push, "%s", cli->ingest) < 0 ||
               zmq_send(zsock_resolve(push), text, len,
                        token ? ZMQ_SNDMORE : 0) < 0 ||
               (token && zmq_send(zsock_resolve(push), token, strlen(token),
                                  0) < 0)) {
        fprintf(stderr, "fastpush: cannot send to %s\n", cli->ingest);
        rc = CLI_UNREACHABLE;
    }
    free(text);
    json_decref(ev);
    zsock_destroy(&push);
    return rc;
}

int
cli_publish(cli_t *cli, int argc, char **argv)
{
    static const char *use = "publish CHANNEL [--event TYPE] [--key KEY] "
                             "[--string] [--async] DATA|-";
    const char *channel = NULL, *type = NULL, *key = NULL, *data = NULL;
    bool as_string = false, async = false;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--event") == 0 && i + 1 < argc)
            type = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--string") == 0)
            as_string = true;
        else if (strcmp(argv[i], "--async") == 0)
            async = true;
        else if (!channel)
            channel = argv[i];
        else if (!data)
            data = argv[i];
        else
            return s_usage(use);
    }
    if (!channel || !data)
        return s_usage(use);
    size_t len;
    char *text = strcmp(data, "-") == 0 ? s_read_stdin(&len)
                                        : fp_strdup(data);
    if (strcmp(data, "-") != 0)
        len = strlen(text);
    json_t *ev = json_pack("{s:s, s:o}", "channel", channel, "data",
                           s_data(text, len, as_string));
    free(text);
    if (type)
        json_object_set_new(ev, "event", json_string(type));
    if (key)
        json_object_set_new(ev, "key", json_string(key));
    if (async)
        return s_send_async(cli, ev);
    cli_reply_t r;
    int rc = cli_request(cli, "PUBLISH", ev, &r);
    if (rc != CLI_OK)
        return rc;
    if (!r.ok)
        rc = cli_refused(&r);
    else
        printf("%s\n", json_string_value(json_object_get(r.meta, "id")));
    cli_reply_free(&r);
    return rc;
}

/*  Print a SINCE or STATE reply.  */
static void
s_print_reply(cli_t *cli, cli_reply_t *r)
{
    size_t nsnap = (size_t) json_integer_value(json_object_get(r->meta,
                                                               "snapshot"));
    json_t *resets = json_object_get(r->meta, "reset");
    size_t i = 0;
    json_t *x;

    json_array_foreach(resets, i, x)
        cli_print_reset(cli, json_string_value(json_object_get(x, "channel")),
                        json_string_value(json_object_get(x, "reason")),
                        json_is_true(json_object_get(x, "snapshot")));
    cli_print_events(cli, r->events, nsnap);
    const char *cursor = json_string_value(json_object_get(r->meta,
                                                           "cursor"));
    if (cli->json)
        printf("{\"cursor\":\"%s\",\"more\":%s}\n", cursor,
               json_is_true(json_object_get(r->meta, "more")) ? "true"
                                                               : "false");
    else
        printf("CURSOR  %s%s\n", cursor,
               json_is_true(json_object_get(r->meta, "more"))
               ? "  (more: run again from this cursor)" : "");
}

int
cli_since(cli_t *cli, int argc, char **argv)
{
    static const char *use = "since CHANNEL... --since CURSOR|earliest "
                             "[--limit N]";
    const char *cursor = NULL;
    json_t *chans = json_array();
    json_int_t limit = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            cursor = argv[++i];
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = atoll(argv[++i]);
        else
            json_array_append_new(chans, json_string(argv[i]));
    }
    if (!cursor || json_array_size(chans) == 0) {
        json_decref(chans);
        return s_usage(use);
    }
    json_t *body = json_pack("{s:o, s:s}", "channels", chans, "cursor",
                             cursor);
    if (limit)
        json_object_set_new(body, "limit", json_integer(limit));
    cli_reply_t r;
    int rc = cli_request(cli, "SINCE", body, &r);
    if (rc != CLI_OK)
        return rc;
    if (!r.ok)
        rc = cli_refused(&r);
    else
        s_print_reply(cli, &r);
    cli_reply_free(&r);
    return rc;
}

int
cli_state(cli_t *cli, int argc, char **argv)
{
    if (argc != 1)
        return s_usage("state CHANNEL");
    cli_reply_t r;
    int rc = cli_request(cli, "STATE", json_pack("{s:s}", "channel", argv[0]),
                         &r);
    if (rc != CLI_OK)
        return rc;
    if (!r.ok) {
        rc = cli_refused(&r);
    } else {
        int i = (int) cli_print_events(cli, r.events, 0);
        const char *cursor = json_string_value(json_object_get(r.meta,
                                                               "cursor"));
        if (cli->json)
            printf("{\"cursor\":\"%s\",\"count\":%d}\n", cursor, i);
        else
            printf("CURSOR  %s  (%d keys)\n", cursor, i);
    }
    cli_reply_free(&r);
    return rc;
}

int
cli_stats(cli_t *cli, int argc, char **argv)
{
    json_t *body = json_object();
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
            json_object_set_new(body, "top", json_integer(atoi(argv[++i])));
        else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
            json_object_set_new(body, "channel", json_string(argv[++i]));
        else {
            json_decref(body);
            return s_usage("stats [--json] [--top N] [--channel NAME]");
        }
    }
    cli_reply_t r;
    int rc = cli_request(cli, "STATS", body, &r);
    if (rc != CLI_OK)
        return rc;
    if (!r.ok)
        rc = cli_refused(&r);
    else if (cli->json) {
        cli_print_json(r.meta);
    } else {
        cli_print_stats(r.meta);
    }
    cli_reply_free(&r);
    return rc;
}

int
cli_ping(cli_t *cli, int argc, char **argv)
{
    cli_reply_t r;

    if (argc != 0)
        return s_usage("ping");
    int64_t t0 = fp_clock_ns();
    int rc = cli_request(cli, "PING", NULL, &r);
    if (rc != CLI_OK)
        return rc;
    double ms = (double) (fp_clock_ns() - t0) / 1e6;
    if (cli->json) {
        json_object_set_new(r.meta, "rtt_ms", json_real(ms));
        cli_print_json(r.meta);
    } else {
        printf("broker %s: epoch %s, head %lld, %.2f ms\n",
               json_string_value(json_object_get(r.meta, "version")),
               json_string_value(json_object_get(r.meta, "epoch")),
               (long long) json_integer_value(json_object_get(r.meta, "head")),
               ms);
    }
    cli_reply_free(&r);
    return rc;
}

/*  health: is the broker ready to take events?  0 ready, CLI_REFUSED
 *  when it answers but is not (the reason printed), CLI_UNREACHABLE when
 *  it does not answer: exit codes for systemd and load balancer checks.  */
int
cli_health(cli_t *cli, int argc, char **argv)
{
    cli_reply_t r;

    if (argc != 0)
        return s_usage("health");
    int rc = cli_request(cli, "PING", NULL, &r);
    if (rc != CLI_OK) {
        if (cli->json)
            printf("{\"live\":false,\"ready\":false}\n");
        return rc;
    }
    /*  a broker from before health has no "ready": it answers, so it is  */
    bool ready = !json_is_false(json_object_get(r.meta, "ready"));
    const char *why = json_string_value(json_object_get(r.meta, "problem"));
    if (cli->json) {
        json_object_set_new(r.meta, "live", json_true());
        json_object_set_new(r.meta, "ready", json_boolean(ready));
        cli_print_json(r.meta);
    } else if (ready) {
        printf("ready: broker %s, epoch %s, head %lld\n",
               json_string_value(json_object_get(r.meta, "version")),
               json_string_value(json_object_get(r.meta, "epoch")),
               (long long) json_integer_value(json_object_get(r.meta, "head")));
    } else {
        printf("not ready: %s\n", why ? why : "(no reason given)");
    }
    cli_reply_free(&r);
    return ready ? CLI_OK : CLI_REFUSED;
}

/*  keygen NAME: a CURVE certificate pair, NAME (public: give it to the
 *  other side) and NAME_secret (keep it, mode 0600).  */
int
cli_keygen(cli_t *cli, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: fastpush keygen NAME  (writes NAME and "
                "NAME_secret)\n");
        return CLI_USAGE;
    }
    if (!zsys_has_curve()) {
        fprintf(stderr, "fastpush: this libzmq has no CURVE support\n");
        return CLI_REFUSED;
    }
    zcert_t *cert = zcert_new();
    zcert_set_meta(cert, "created-by", "fastpush keygen");
    int rc = zcert_save(cert, argv[0]);
    zcert_destroy(&cert);
    if (rc < 0) {
        fprintf(stderr, "fastpush: cannot write %s\n", argv[0]);
        return CLI_REFUSED;
    }
    printf("%s (public) and %s_secret (secret) written\n", argv[0], argv[0]);
    return CLI_OK;
}
