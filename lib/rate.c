/*  rate: a token bucket (see rate.h).  */
#include "rate.h"

bool
fp_rate_take(fp_rate_t *r, int64_t rate, int64_t now)
{
    int64_t full = rate * 1000;
    if (rate <= 0)
        return true;
    if (r->at == 0) {
        r->tokens = full;
    } else {
        int64_t t = r->tokens + (now - r->at) * rate;
        r->tokens = t > full ? full : t;
    }
    r->at = now;
    if (r->tokens < 1000)
        return false;
    r->tokens -= 1000;
    return true;
}

bool
fp_rate_full(const fp_rate_t *r, int64_t rate, int64_t now)
{
    return r->at == 0 || rate <= 0 || r->tokens + (now - r->at) * rate >=
                                      rate * 1000;
}
