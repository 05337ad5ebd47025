/*  health: plain HTTP GET of health-path (liveness) and health-path/ready
 *  (readiness) on the bridge's own port, for load balancers and systemd
 *  (health-path off: none).
 *
 *  Liveness answers 200 whenever the worker serves.  Readiness answers
 *  200 when the broker is heard and says it can store events (the hub's
 *  fp_hub_ready; always in echo mode), else 503 `not_ready` with the
 *  reason in the one error shape.  Either answer closes the connection.
 */
#include "wsb.h"
#include "error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*  Which health route req's request line asks for: 1 liveness, 2
 *  readiness, 0 neither (or health-path is off).  */
static int
s_route(const wsb_conf_t *conf, const char *req)
{
    size_t hl = strlen(conf->health_path);
    if (hl == 0 || strncmp(req, "GET ", 4) != 0 ||
        strncmp(req + 4, conf->health_path, hl) != 0)
        return 0;
    const char *p = req + 4 + hl;
    int route = 1;
    if (strncmp(p, "/ready", 6) == 0) {
        route = 2;
        p += 6;
    }
    return *p == ' ' || *p == '?' ? route : 0;
}

static void
s_answer(int status, const char *body, size_t len, fp_buf_t *out)
{
    wsb_hs_answer(status, "application/json",
                  status == 503 ? "Retry-After: 2\r\n" : "", body, len, out);
}

bool
wsb_health_answer(const wsb_worker_t *w, const char *req, fp_buf_t *out)
{
    char why[FP_ERR_LEN], body[128];
    int route = s_route(w->conf, req);
    if (route == 0)
        return false;
    if (route == 1) {
        int n = snprintf(body, sizeof body, "{\"live\":true,\"transport\":"
                         "\"ws\",\"pid\":%d,\"worker\":%d}\n", (int) getpid(),
                         w->id);
        s_answer(200, body, (size_t) n, out);
    } else if (w->hub && fp_hub_ready(w->hub, why) < 0) {
        fp_buf_t b;
        fp_buf_init(&b);
        fp_error_object(&b, "not_ready", why);
        fp_buf_addc(&b, '\n');
        s_answer(503, b.data, b.len, out);
        fp_buf_free(&b);
    } else {
        s_answer(200, "{\"ready\":true}\n", 15, out);
    }
    return true;
}
