/*  libFuzzer target for the requests fastpush-sse reads (fcgi-sse/
 *  route.c, ssed_route): the FastCGI params of a GET PREFIX/a,b?...
 *  with the Last-Event-ID header, last_event_id/since/channel query
 *  parameters, Origin, and with auth on the Authorization header and
 *  REMOTE_USER (ACL).  What follows the route is replaced: the stream
 *  opener and the error reply below record what the route decided.
 *
 *  Input: one byte (bit 0: auth on), then the values, NUL-separated, of
 *  REQUEST_METHOD, REQUEST_URI, QUERY_STRING, HTTP_LAST_EVENT_ID,
 *  HTTP_ORIGIN, HTTP_AUTHORIZATION, REMOTE_USER.  Checks: a stream opens
 *  only for GET, with 1 to max-channels valid distinct channels and a
 *  cursor that is "earliest" or parses, and the client the route
 *  authorized (auth on) may subscribe to each; otherwise the reply is
 *  one of the documented statuses with a code; header lines the route
 *  adds never hold a bare CR or LF from the input.
 */
#include "ssed.h"
#include "cursor.h"
#include "err.h"
#include "event.h"
#include "fuzz.h"
#include "fuzz_fcgi.h"
#include "fuzz_file.h"

#include <string.h>

static const char *const s_names[] = {
    "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "HTTP_LAST_EVENT_ID",
    "HTTP_ORIGIN", "HTTP_AUTHORIZATION", "REMOTE_USER"
};
static ssed_t s_open, s_auth;
static int s_outcome;           /*  0 none, 1 stream, 2 reply  */

static void
s_check_headers(const char *h)
{
    for (const char *p = h ? h : ""; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            p++;
        else
            FUZZ_CHECK(*p != '\r' && *p != '\n', "bare CR or LF");
    }
}

/*  Stands in for stream.c: check what the route accepted.  */
void
ssed_stream_open(ssed_t *d, fp_fcgi_req_t *req, const fp_strlist_t *channels,
                 const char *cursor, const char *headers,
                 fp_access_client_t **client)
{
    char err[FP_ERR_LEN];
    fp_cursor_t c;

    FUZZ_CHECK(s_outcome == 0, "two outcomes");
    s_outcome = 1;
    FUZZ_CHECK(strcmp(fp_fcgi_req_param(req, "REQUEST_METHOD"), "GET") == 0,
               "stream without GET");
    FUZZ_CHECK(channels->count >= 1 && channels->count <=
               d->conf.max_channels, "channel count");
    for (int i = 0; i < channels->count; i++) {
        const char *ch = channels->items[i];
        FUZZ_CHECK(fp_channel_valid(ch, strlen(ch)), "invalid channel");
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(ch, channels->items[j]) != 0, "channel twice");
    }
    FUZZ_CHECK(!cursor || strcmp(cursor, "earliest") == 0 ||
               fp_cursor_parse(cursor, &c, err) == 0, "cursor");
    FUZZ_CHECK(fp_access_allow(d->authz, *client, FP_RIGHTS_SUBSCRIBE,
               (const char *const *) channels->items,
               (size_t) channels->count, err) == 0, "unauthorized stream");
    s_check_headers(headers);
    fp_access_client_free(d->authz, client);
}

/*  Stands in for stream.c: check the refusal.  */
void
ssed_reply(ssed_t *d, fp_fcgi_req_t *req, int status, const char *headers,
           const char *code, const char *msg)
{
    static const int ok[] = { 400, 401, 403, 404, 405, 414, 429, 503, 0 };
    bool known = false;

    FUZZ_CHECK(s_outcome == 0, "two outcomes");
    s_outcome = 2;
    for (int i = 0; ok[i]; i++)
        known |= status == ok[i];
    FUZZ_CHECK(known, "unexpected status");
    FUZZ_CHECK(code && *code && msg, "reply without a code");
    s_check_headers(headers);
}

static void
s_conf(ssed_t *d, bool auth)
{
    static char *origins[] = { "https://app.example" };
    static const char acl[] = "user alice subscribe news chat.*\n"
                              "anonymous subscribe public\n";
    static const char key[] = "0123456789abcdef0123456789abcdef-fuzz";
    char err[FP_ERR_LEN];
    fp_access_conf_t ac = { .on = auth, .jwt_alg = "HS256" };

    d->conf.prefix = "/push/sse";
    d->conf.max_channels = 8;
    d->conf.max_query = 4096;
    d->conf.max_streams = 100;
    d->conf.allow_origin = (fp_strlist_t) { origins, 1 };
    if (auth) {
        ac.acl = (char *) fuzz_file_write("acl", acl, sizeof acl - 1);
        ac.jwt_key = (char *) fuzz_file_write("key", key, sizeof key - 1);
    }
    d->authz = fp_access_new(&ac, err);
    FUZZ_CHECK(d->authz != NULL, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_open.authz) {
        s_conf(&s_open, false);
        s_conf(&s_auth, true);
    }
    if (size < 1)
        return 0;
    fp_fcgi_req_t *req = fuzz_fcgi_req(data + 1, size - 1, s_names, 7);
    s_outcome = 0;
    ssed_route(data[0] & 1 ? &s_auth : &s_open, req);
    FUZZ_CHECK(s_outcome != 0, "no outcome");
    fp_fcgi_req_free(&req);
    return 0;
}
