/*  handshake: the HTTP/1.1 upgrade request (RFC 6455 section 4.2).
 *
 *  The connection collects the request up to the blank line (bounded by
 *  max-header, else 431) and hands it here in one piece.  Checks, in
 *  order: GET (405), HTTP/1.1 (400), the path (404; pusher-path/KEY is
 *  a Pusher client, whose key pusher.c checks), one Host (400),
 *  Upgrade: websocket (426), Connection with the token "upgrade" (400),
 *  Sec-WebSocket-Version 13 (426 naming 13), Sec-WebSocket-Key the base64
 *  of 16 bytes (400), Origin against the allowlist (403).  Then one of
 *  our subprotocols that the client offered is chosen (our order of
 *  preference); an offered "bearer.<token>" is a credential, kept for
 *  authorization (conn.c) and never echoed.  The one extension is
 *  permessage-deflate: the first acceptable offer over every
 *  Sec-WebSocket-Extensions line (deflate.c decides) is answered, others
 *  are ignored.  A refusal has a short text body that says why.
 */
#include "wsb.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct {
    const char *host, *upgrade, *connection, *key, *version, *origin;
    int nhost, nkey, norigin, nversion;
    char protocols[512];        /*  offered, comma-joined  */
} s_hdrs_t;

void
wsb_hs_accept(const char *key, size_t len, char out[WSB_ACCEPT_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, key, len);
    EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *) out, md, (int) mdlen);
}

/*  Refuse with status and reason; returns nothing useful.  */
static void
s_refuse(wsb_hs_t *hs, int status, const char *why)
{
    hs->status = status;
    hs->why = why;
    hs->deflate = false;
}

/*  True if the comma-separated list holds token (case-insensitive).  */
static bool
s_has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t) (t - p) == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

/*  True for the base64 text of exactly 16 bytes.  */
static bool
s_key_ok(const char *k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789+/";
    if (strlen(k) != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (int i = 0; i < 22; i++)
        if (!k[i] || !strchr(b64, k[i]))
            return false;
    /*  the last character carries 2 bits; the other 4 must be zero  */
    return (strchr(b64, k[21]) - b64) % 16 == 0;
}

/*  The offered subprotocols of one header line: ours are collected in
 *  h->protocols; "bearer.<token>" (a token a browser cannot send in
 *  Authorization) goes to hs->bearer and is never chosen.  -1 for a
 *  second token.  */
static int
s_protocols(char *v, s_hdrs_t *h, wsb_hs_t *hs)
{
    for (char *item = v; item;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        while (*item == ' ' || *item == '\t')
            item++;
        for (char *e = item + strlen(item); e > item &&
             (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (strncmp(item, "bearer.", 7) == 0) {
            if (hs->bearer)
                return -1;
            hs->bearer = item + 7;
        } else if (*item) {
            size_t l = strlen(h->protocols);
            snprintf(h->protocols + l, sizeof h->protocols - l, "%s%s",
                     l ? "," : "", item);
        }
        item = comma ? comma + 1 : NULL;
    }
    return 0;
}

/*  Split the header lines into h (and hs->hdr).  -1 on a malformed line.  */
static int
s_headers(char *p, s_hdrs_t *h, wsb_hs_t *hs)
{
    while (*p) {
        char *eol = strstr(p, "\r\n");
        if (!eol)
            return -1;
        *eol = '\0';
        if (p == eol)
            break;
        if (*p == ' ' || *p == '\t')
            return -1;                      /*  obsolete line folding  */
        char *colon = strchr(p, ':');
        if (!colon || colon == p)
            return -1;
        for (char *n = p; n < colon; n++)
            if (*n <= ' ' || *n >= 127)
                return -1;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        for (char *t = eol; t > v && (t[-1] == ' ' || t[-1] == '\t');)
            *--t = '\0';
        if (hs->nhdr < WSB_HS_HEADERS) {
            hs->hdr[hs->nhdr].name = p;
            hs->hdr[hs->nhdr++].value = v;
        }
        if (strcasecmp(p, "Host") == 0) {
            h->host = v;
            h->nhost++;
        } else if (strcasecmp(p, "Upgrade") == 0) {
            h->upgrade = v;
        } else if (strcasecmp(p, "Connection") == 0) {
            h->connection = v;
        } else if (strcasecmp(p, "Sec-WebSocket-Key") == 0) {
            h->key = v;
            h->nkey++;
        } else if (strcasecmp(p, "Sec-WebSocket-Version") == 0) {
            h->version = v;
            h->nversion++;
        } else if (strcasecmp(p, "Origin") == 0) {
            h->origin = v;
            h->norigin++;
        } else if (strcasecmp(p, "Sec-WebSocket-Protocol") == 0) {
            if (s_protocols(v, h, hs) < 0)
                return -1;
        } else if (strcasecmp(p, "Sec-WebSocket-Extensions") == 0) {
            hs->deflate = hs->deflate || wsb_deflate_offer(v);
        }
        p = eol + 2;
    }
    return 0;
}

/*  A Pusher client's target, pusher-path/KEY: true with the key (cut to
 *  "" when too long to be one) in hs.  */
static bool
s_pusher_path(const wsb_conf_t *conf, const char *target, size_t plen,
              wsb_hs_t *hs)
{
    size_t pl = conf->pusher ? strlen(conf->pusher_path) : 0;
    if (!conf->pusher || plen <= pl + 1 ||
        strncmp(target, conf->pusher_path, pl) != 0 || target[pl] != '/')
        return false;
    size_t kl = plen - pl - 1;
    hs->pusher = true;
    if (kl < sizeof hs->pusher_key) {
        memcpy(hs->pusher_key, target + pl + 1, kl);
        hs->pusher_key[kl] = '\0';
    }
    return true;
}

/*  The request line: GET, an origin-form target on a served path,
 *  HTTP/1.1.  Returns the header part or NULL (refused).  */
static char *
s_request_line(const wsb_conf_t *conf, char *req, wsb_hs_t *hs)
{
    char *eol = strstr(req, "\r\n");
    if (!eol)
        return s_refuse(hs, 400, "malformed request"), NULL;
    *eol = '\0';
    char *sp1 = strchr(req, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        return s_refuse(hs, 400, "malformed request line"), NULL;
    *sp1 = *sp2 = '\0';
    char *target = sp1 + 1, *version = sp2 + 1;
    if (strcmp(req, "GET") != 0)
        return s_refuse(hs, 405, "a WebSocket handshake is a GET"), NULL;
    if (strcmp(version, "HTTP/1.1") != 0)
        return s_refuse(hs, 400, "HTTP/1.1 is required"), NULL;
    if (target[0] != '/')
        return s_refuse(hs, 400, "the target must be a path"), NULL;
    size_t plen = strcspn(target, "?#");
    hs->query = "";
    if (target[plen] == '?') {
        hs->query = target + plen + 1;
        target[plen + 1 + strcspn(target + plen + 1, "#")] = '\0';
    }
    bool found = conf->paths.count == 0;
    for (int i = 0; i < conf->paths.count && !found; i++)
        found = strlen(conf->paths.items[i]) == plen &&
                strncmp(conf->paths.items[i], target, plen) == 0;
    if (!found)
        found = s_pusher_path(conf, target, plen, hs);
    if (!found)
        return s_refuse(hs, 404, "no WebSocket endpoint at this path"), NULL;
    return eol + 2;
}

/*  Choose our first subprotocol that the client offered.  */
static void
s_protocol(const wsb_conf_t *conf, const char *offered, wsb_hs_t *hs)
{
    hs->protocol[0] = '\0';
    for (int i = 0; i < conf->subprotocols.count && offered[0]; i++) {
        if (s_has_token(offered, conf->subprotocols.items[i])) {
            snprintf(hs->protocol, sizeof hs->protocol, "%s",
                     conf->subprotocols.items[i]);
            return;
        }
    }
}

/*  The Origin policy: listed origins only (exact, case-insensitive);
 *  no list means any; no Origin header per allow-no-origin.  */
static bool
s_origin_ok(const wsb_conf_t *conf, const s_hdrs_t *h)
{
    if (h->norigin == 0)
        return conf->allow_no_origin;
    if (h->norigin > 1)
        return false;
    if (conf->origins.count == 0)
        return true;
    for (int i = 0; i < conf->origins.count; i++)
        if (strcasecmp(conf->origins.items[i], h->origin) == 0)
            return true;
    return false;
}

void
wsb_hs_check(const wsb_conf_t *conf, char *req, size_t len, wsb_hs_t *hs)
{
    s_hdrs_t h = { 0 };

    memset(hs, 0, sizeof *hs);
    if (strlen(req) != len)
        return s_refuse(hs, 400, "NUL byte in the request");
    char *hp = s_request_line(conf, req, hs);
    if (!hp)
        return;
    if (s_headers(hp, &h, hs) < 0)
        return s_refuse(hs, 400, "malformed header line, or two bearer "
                        "subprotocols");
    if (h.nhost != 1 || !h.host[0])
        return s_refuse(hs, 400, "exactly one Host header is required");
    if (!h.upgrade || !s_has_token(h.upgrade, "websocket")) {
        hs->need_upgrade = true;
        return s_refuse(hs, 426, "this is a WebSocket endpoint: "
                        "Upgrade: websocket is required");
    }
    if (!h.connection || !s_has_token(h.connection, "upgrade"))
        return s_refuse(hs, 400, "Connection must contain 'upgrade'");
    if (h.nversion != 1 || strcmp(h.version, "13") != 0) {
        hs->bad_version = true;
        return s_refuse(hs, 426, "Sec-WebSocket-Version 13 is required");
    }
    if (h.nkey != 1 || !s_key_ok(h.key))
        return s_refuse(hs, 400, "Sec-WebSocket-Key must be the base64 of "
                        "16 bytes");
    if (!s_origin_ok(conf, &h))
        return s_refuse(hs, 403, h.norigin ? "origin not allowed"
                        : "a request without Origin is not allowed");
    s_protocol(conf, h.protocols, hs);
    hs->deflate = hs->deflate && conf->deflate;
    wsb_hs_accept(h.key, strlen(h.key), hs->accept);
    hs->status = 101;
}

const char *
wsb_hs_header(const wsb_hs_t *hs, const char *name)
{
    for (int i = 0; i < hs->nhdr; i++)
        if (strcasecmp(hs->hdr[i].name, name) == 0)
            return hs->hdr[i].value;
    return NULL;
}

static const char *
s_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void
wsb_hs_answer(int status, const char *ctype, const char *extra,
              const char *body, size_t len, fp_buf_t *out)
{
    fp_buf_addf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n"
                "Cache-Control: no-store\r\n%s\r\n", status,
                s_phrase(status), ctype, len, extra);
    fp_buf_add(out, body, len);
}

/*  A refusal with optional extra header lines and a text body.  */
static void
s_refusal(int status, const char *why, const char *extra, fp_buf_t *out)
{
    char body[512];
    int n = snprintf(body, sizeof body, "fastpush-ws: %s\n", why);
    if (n < 0 || (size_t) n >= sizeof body)
        n = (int) sizeof body - 1;
    wsb_hs_answer(status, "text/plain; charset=utf-8", extra, body,
                  (size_t) n, out);
}

void
wsb_hs_refusal(int status, const char *why, fp_buf_t *out)
{
    s_refusal(status, why, "", out);
}

void
wsb_hs_response(const wsb_hs_t *hs, fp_buf_t *out)
{
    if (hs->status != 101) {
        s_refusal(hs->status, hs->why,
                  hs->bad_version ? "Sec-WebSocket-Version: 13\r\n"
                  : hs->need_upgrade ? "Upgrade: websocket\r\n"
                  : hs->challenge ? "WWW-Authenticate: Bearer "
                                    "realm=\"fastpush\"\r\n"
                  : hs->status == 405 ? "Allow: GET\r\n" : "", out);
        return;
    }
    fp_buf_addf(out, "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n", hs->accept);
    if (hs->protocol[0])
        fp_buf_addf(out, "Sec-WebSocket-Protocol: %s\r\n", hs->protocol);
    if (hs->deflate)
        fp_buf_adds(out, WSB_DEFLATE_RESPONSE);
    fp_buf_adds(out, "\r\n");
}
