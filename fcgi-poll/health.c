/*  health: GET PREFIX/health (liveness) and PREFIX/health/ready
 *  (readiness), for load balancers, systemd and monitoring.
 *
 *  /health answers 200 whenever this process serves requests.
 *  /health/ready answers 200 when the broker is heard and says it can
 *  store events (fp_hub_ready), else 503 `not_ready` with the reason;
 *  neither asks the broker anything, so a check costs no round trip.
 */
#include "polld.h"
#include "buf.h"

#include <stdio.h>
#include <unistd.h>

static const char s_headers[] =
    "Content-Type: application/json\r\nCache-Control: no-store\r\n";

void
polld_health(polld_req_t *r, fp_fcgi_req_t *req)
{
    char body[128];
    (void) req;
    int n = snprintf(body, sizeof body, "{\"live\":true,\"transport\":\"poll\","
                     "\"pid\":%d}\n", (int) getpid());
    polld_answer(r, 200, s_headers, body, (size_t) n);
}

void
polld_ready(polld_req_t *r, fp_fcgi_req_t *req)
{
    char why[FP_ERR_LEN];
    (void) req;
    if (fp_hub_ready(fp_responder_hub(r->d->app), why) < 0) {
        polld_error(r, 503, "not_ready", why);
        return;
    }
    polld_answer(r, 200, s_headers, "{\"ready\":true}\n", 15);
}
