/*  fastpush (the command-line client): private header.  */
#ifndef CLI_H
#define CLI_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

#include "event.h"
#include "sockauth.h"

/*  Exit codes.  */
enum {
    CLI_OK = 0,
    CLI_REFUSED = 1,            /*  the broker answered with an error  */
    CLI_USAGE = 2,              /*  bad command line  */
    CLI_UNREACHABLE = 3         /*  no answer from the broker  */
};

typedef struct {
    char *control;              /*  broker ROUTER endpoint  */
    char *fanout;               /*  broker XPUB endpoint  */
    char *ingest;               /*  broker PULL endpoint  */
    int timeout_ms;             /*  wait for replies  */
    bool json;                  /*  machine-readable output  */
    fp_sockauth_conf_t link;        /*  CURVE keys and publish token  */
} cli_t;

/*  Prepare a socket for the broker (CURVE keys); -1 after a message.  */
int cli_link(const cli_t *cli, zsock_t *sock);

/*  A reply: status, META and event frames (owned).  */
typedef struct {
    bool ok;
    json_t *meta;
    zmsg_t *events;
} cli_reply_t;

/*  request.c: send COMMAND + body (stolen) and wait.  Returns CLI_OK with
 *  *reply filled, or CLI_UNREACHABLE after the timeout.  */
int cli_request(const cli_t *cli, const char *cmd, json_t *body,
                cli_reply_t *reply);
void cli_reply_free(cli_reply_t *reply);
int cli_refused(const cli_reply_t *reply);

/*  print.c  */
void cli_print_json(json_t *j);
void cli_print_event(const cli_t *cli, const char *json, size_t len,
                     bool snapshot);
size_t cli_print_events(const cli_t *cli, zmsg_t *frames, size_t nsnap);
void cli_print_reset(const cli_t *cli, const char *channel,
                     const char *reason, bool snapshot);
void cli_print_stats(json_t *stats);

/*  commands  */
int cli_publish(cli_t *cli, int argc, char **argv);
int cli_since(cli_t *cli, int argc, char **argv);
int cli_state(cli_t *cli, int argc, char **argv);
int cli_stats(cli_t *cli, int argc, char **argv);
int cli_ping(cli_t *cli, int argc, char **argv);
int cli_health(cli_t *cli, int argc, char **argv);
int cli_tail(cli_t *cli, int argc, char **argv);
int cli_keygen(cli_t *cli, int argc, char **argv);

#endif
