/*  libFuzzer target for the fastpush-ws upgrade request parser
 *  (ws-bridge/handshake.c).
 *
 *  Input: the bytes of a request up to its blank line, as the connection
 *  hands them over (NUL-terminated, parsed in place).  Checks: the status
 *  is one the bridge can answer; a 101 has a 28-character accept key and
 *  at most one of our subprotocols; the response is a well-formed status
 *  line with a blank line, and a refusal's Content-Length matches its
 *  body.
 *
 *  Build and run: make fuzz (build-fuzz/ws_handshake_fuzz, seed corpus in
 *  tests/fuzz/corpus/ws_handshake).
 */
#include "wsb.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "ws_handshake_fuzz: invariant broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *paths[] = { "/ws", "/live" };
    static char *protos[] = { "fastpush.v1", "other.v2" };
    static char *origins[] = { "https://app.example", "http://localhost:8080" };
    static wsb_conf_t conf = {
        .paths = { paths, 2 }, .subprotocols = { protos, 2 },
        .origins = { origins, 2 }, .allow_no_origin = true,
        .deflate = true,
    };
    static const int ok_status[] = { 101, 400, 403, 404, 405, 426, 0 };
    char *req = malloc(size + 1);
    wsb_hs_t hs;
    fp_buf_t out;

    memcpy(req, data, size);
    req[size] = '\0';
    wsb_hs_check(&conf, req, size, &hs);
    bool known = false;
    for (int i = 0; ok_status[i]; i++)
        known |= hs.status == ok_status[i];
    s_check(known, "unexpected status");
    if (hs.status == 101) {
        s_check(strlen(hs.accept) == 28, "accept key length");
        s_check(hs.protocol[0] == '\0' || strcmp(hs.protocol, protos[0]) == 0
                || strcmp(hs.protocol, protos[1]) == 0, "foreign protocol");
    } else {
        s_check(hs.why && hs.why[0], "refusal without a reason");
        s_check(!hs.deflate, "an extension on a refusal");
    }
    fp_buf_init(&out);
    wsb_hs_response(&hs, &out);
    s_check(strncmp(out.data, "HTTP/1.1 ", 9) == 0, "status line");
    char *blank = strstr(out.data, "\r\n\r\n");
    s_check(blank != NULL, "no blank line");
    s_check(!!strstr(out.data, "Sec-WebSocket-Extensions: permessage-deflate;")
            == hs.deflate, "extension line iff accepted");
    if (hs.status != 101) {
        const char *cl = strstr(out.data, "Content-Length: ");
        s_check(cl && (size_t) atoi(cl + 16) == strlen(blank + 4),
                "Content-Length");
    }
    fp_buf_free(&out);
    free(req);
    return 0;
}
