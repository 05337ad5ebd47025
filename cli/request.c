/*  request: one synchronous request to the broker's ROUTER socket.  */
#include "cli.h"
#include "error.h"
#include "err.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

int
cli_link(const cli_t *cli, zsock_t *sock)
{
    char err[FP_ERR_LEN];
    if (fp_sockauth_client(&cli->link, sock, err) == 0)
        return 0;
    fprintf(stderr, "fastpush: %s\n", err);
    return -1;
}

int
cli_request(const cli_t *cli, const char *cmd, json_t *body,
            cli_reply_t *reply)
{
    zsock_t *req = zsock_new(ZMQ_DEALER);
    size_t len;
    int rc = CLI_UNREACHABLE;

    if (!body)
        body = json_object();
    char *text = fp_json_dump(body, &len);
    json_decref(body);
    reply->ok = false;
    reply->meta = NULL;
    reply->events = NULL;
    zsock_set_linger(req, 0);
    zsock_set_rcvtimeo(req, cli->timeout_ms);
    zsock_set_sndtimeo(req, cli->timeout_ms);
    if (cli_link(cli, req) < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if (zsock_connect(req, "%s", cli->control) < 0) {
        fprintf(stderr, "fastpush: cannot connect to %s: %s\n", cli->control,
                zmq_strerror(zmq_errno()));
        goto done;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, cmd);
    zmsg_addmem(msg, text, len);
    if (fp_sockauth_token(&cli->link))
        zmsg_addstr(msg, fp_sockauth_token(&cli->link));
    if (zmsg_send(&msg, req) < 0) {
        zmsg_destroy(&msg);
        goto unreachable;
    }
    zmsg_t *in = zmsg_recv(req);
    if (!in)
        goto unreachable;
    char *status = zmsg_popstr(in), *meta = zmsg_popstr(in);
    char err[FP_ERR_LEN];
    reply->ok = status && strcmp(status, "OK") == 0;
    reply->meta = meta ? fp_json_parse(meta, strlen(meta), err) : NULL;
    reply->events = in;
    free(status);
    free(meta);
    if (!reply->meta) {
        fprintf(stderr, "fastpush: malformed reply from the broker\n");
        cli_reply_free(reply);
        goto done;
    }
    rc = CLI_OK;
    goto done;
unreachable:
    fprintf(stderr, "fastpush: no answer from the broker at %s within %d ms\n",
            cli->control, cli->timeout_ms);
done:
    free(text);
    zsock_destroy(&req);
    return rc;
}

void
cli_reply_free(cli_reply_t *reply)
{
    json_decref(reply->meta);
    zmsg_destroy(&reply->events);
    reply->meta = NULL;
}

int
cli_refused(const cli_reply_t *reply)
{
    fprintf(stderr, "fastpush: refused (%s): %s\n",
            fp_error_code(reply->meta),
            fp_error_message(reply->meta));
    return CLI_REFUSED;
}
