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

#ifdef FP_TEST
#include "test.h"

void
fp_rate_test(void)
{
    fp_rate_t r = { 0 };
    int taken = 0;
    for (int i = 0; i < 20; i++)
        taken += fp_rate_take(&r, 10, 1000);
    FP_CHECK(taken == 10, "a full bucket gives a burst of `rate`");
    FP_CHECK(!fp_rate_take(&r, 10, 1050), "empty after the burst (50 ms "
             "refill half a token)");
    FP_CHECK(fp_rate_take(&r, 10, 1100), "one token back after 100 ms");
    FP_CHECK(!fp_rate_full(&r, 10, 1500), "not full after 400 ms");
    FP_CHECK(fp_rate_full(&r, 10, 2100), "full again after a second");
    taken = 0;
    for (int i = 0; i < 20; i++)
        taken += fp_rate_take(&r, 10, 60000);
    FP_CHECK(taken == 10, "a long pause refills to the burst, no more");
    fp_rate_t z = { 0 };
    FP_CHECK(fp_rate_full(&z, 10, 5), "a zeroed bucket is full");
    for (int i = 0; i < 1000; i++)
        if (!fp_rate_take(&z, 0, i))
            taken = -1;
    FP_CHECK(taken != -1 && fp_rate_take(&z, -1, 0), "rate 0 or less never "
             "limits");
    fp_rate_t t = { 0 };
    taken = 0;
    for (int64_t ms = 1; ms <= 10000; ms++)
        taken += fp_rate_take(&t, 5, ms);
    FP_CHECK(taken >= 5 + 49 && taken <= 5 + 50, "steady demand gets "
             "`rate` a second after the burst");
}
#endif
