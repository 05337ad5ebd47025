/*  target: one webhook URL's queue, batches, POSTs and retries.
 *
 *  Events queue per target.  A batch (up to max-batch events, once the
 *  oldest waited batch-wait, or at once when full) is one POST of
 *
 *      {"time_ms":T,"events":[...]}
 *
 *  with X-Pusher-Key (the app's key) and X-Pusher-Signature (lowercase
 *  hex HMAC-SHA256 of the body with the app's secret), as Pusher signs
 *  its webhooks.  A 2xx answer ends the batch.  Anything else (another
 *  status, a refused connection, a timeout) retries the same body after
 *  1 s, 2 s, 4 s ... at most retry-max apart; after `attempts` tries the
 *  batch is dropped and logged.  One batch per target is in flight at a
 *  time, so a target gets its events in order; targets do not wait for
 *  each other, and the broker waits for none.
 */
#include "whd.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <string.h>

void
whd_target_queue(whd_t *w, whd_target_t *t, json_t *event, int64_t now)
{
    if (json_array_size(t->queue) >= (size_t) w->conf.max_queue) {
        json_array_remove(t->queue, 0);
        w->stats.dropped++;
        if (w->stats.dropped % 1000 == 1)
            fp_log_warnx("%s: %lld events waiting: dropping the oldest "
                         "(max-queue; %llu dropped so far)", t->url,
                         (long long) w->conf.max_queue,
                         (unsigned long long) w->stats.dropped);
    }
    if (json_array_size(t->queue) == 0)
        t->first_queued = now;
    json_array_append_new(t->queue, event);
    w->stats.queued++;
}

static size_t
s_discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void) ptr;
    (void) arg;
    return size * n;
}

/*  Take the next batch off the queue and sign its body.  */
static void
s_take_batch(whd_t *w, whd_target_t *t)
{
    size_t n = json_array_size(t->queue);
    if (n > (size_t) w->conf.max_batch)
        n = (size_t) w->conf.max_batch;
    t->batch = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(t->batch, json_array_get(t->queue, i));
    for (size_t i = 0; i < n; i++)
        json_array_remove(t->queue, 0);
    t->first_queued = fp_clock_ms();
    json_t *body = json_pack("{s:I, s:O}", "time_ms",
                             (json_int_t) fp_clock_wall_ms(), "events",
                             t->batch);
    size_t len;
    t->body = fp_json_dump(body, &len);
    json_decref(body);
    char sig[FP_PUSHER_HMAC_HEX], h[FP_PUSHER_HMAC_HEX + 64];
    fp_pusher_hmac_hex(t->secret, t->body, len, sig);
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(h, sizeof h, "X-Pusher-Key: %s", t->key);
    t->headers = curl_slist_append(t->headers, h);
    snprintf(h, sizeof h, "X-Pusher-Signature: %s", sig);
    t->headers = curl_slist_append(t->headers, h);
    t->headers = curl_slist_append(t->headers, "Expect:");
    t->attempt = 0;
    w->stats.batches++;
}

static void
s_post(whd_t *w, whd_target_t *t)
{
    CURL *e = curl_easy_init();
    if (!e)
        fp_fatalx("curl_easy_init failed");
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(t->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) w->conf.timeout);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fastpush-webhooks/" WHD_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    t->easy = e;
    t->attempt++;
    curl_multi_add_handle(w->multi, e);
}

int64_t
whd_target_due(const whd_t *w, const whd_target_t *t, int64_t now)
{
    if (t->easy)
        return -1;
    if (t->batch)
        return t->next_try > now ? t->next_try - now : 0;
    size_t n = json_array_size(t->queue);
    if (n == 0)
        return -1;
    if (n >= (size_t) w->conf.max_batch)
        return 0;
    int64_t at = t->first_queued + (int64_t) w->conf.batch_wait;
    return at > now ? at - now : 0;
}

void
whd_target_work(whd_t *w, whd_target_t *t, int64_t now)
{
    if (whd_target_due(w, t, now) != 0)
        return;
    if (!t->batch)
        s_take_batch(w, t);
    s_post(w, t);
}

static void
s_batch_free(whd_target_t *t)
{
    json_decref(t->batch);
    t->batch = NULL;
    free(t->body);
    t->body = NULL;
    curl_slist_free_all(t->headers);
    t->headers = NULL;
}

void
whd_target_done(whd_t *w, whd_target_t *t, CURLcode rc, long status,
                int64_t now)
{
    curl_multi_remove_handle(w->multi, t->easy);
    curl_easy_cleanup(t->easy);
    t->easy = NULL;
    size_t n = json_array_size(t->batch);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        w->stats.posted += n;
        s_batch_free(t);
        return;
    }
    if (t->attempt >= w->conf.attempts) {
        fp_log_warnx("%s: %zu events dropped after %d attempts (last: %s)",
                     t->url, n, t->attempt, rc == CURLE_OK ? "an HTTP "
                     "error status" : curl_easy_strerror(rc));
        w->stats.failed += n;
        s_batch_free(t);
        return;
    }
    int64_t wait = 1000;
    for (int i = 1; i < t->attempt && wait < (int64_t) w->conf.retry_max; i++)
        wait *= 2;
    if (wait > (int64_t) w->conf.retry_max)
        wait = (int64_t) w->conf.retry_max;
    t->next_try = now + wait;
    w->stats.retries++;
    if (rc == CURLE_OK)
        fp_log_info("%s: HTTP %ld: %zu events again in %lld ms (attempt "
                    "%d)", t->url, status, n, (long long) wait, t->attempt);
    else
        fp_log_info("%s: %s: %zu events again in %lld ms (attempt %d)",
                    t->url, curl_easy_strerror(rc), n, (long long) wait,
                    t->attempt);
}

void
whd_target_free(whd_t *w, whd_target_t *t)
{
    if (t->easy) {
        curl_multi_remove_handle(w->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    s_batch_free(t);
    json_decref(t->queue);
    free(t->url);
    free(t->key);
    free(t->secret);
}
