/*  fastpush-webhooks: private header.
 *
 *  The broker says on its webhook-feed PUSH socket when a channel is
 *  occupied or vacated and passes member and client events (see
 *  broker/webhook.c).  This daemon turns them into Pusher-style webhooks:
 *  translate.c names the target (the app of a Pusher channel "ID:NAME",
 *  or the `url` for other channels) and the Pusher event; target.c
 *  batches each target's events, signs the body (X-Pusher-Key,
 *  X-Pusher-Signature: HMAC-SHA256 of the body with the secret) and posts
 *  it with libcurl, retrying with backoff; main.c runs the loop.  The
 *  broker never waits for it, and it never waits for one slow URL.
 */
#ifndef WHD_H
#define WHD_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pusher.h"

#define WHD_VERSION "0.1.0"

typedef struct {
    char *feed;                 /*  the broker's webhook-feed endpoint  */
    char *pusher_apps;          /*  apps file (webhook=URL per app)  */
    char *url;                  /*  for channels of no app, or NULL  */
    char *key, *secret;         /*  ... their X-Pusher-Key and secret  */
    uint64_t batch_wait;        /*  ms to gather a batch  */
    int64_t max_batch;          /*  events per POST  */
    int64_t max_queue;          /*  events waiting per target  */
    uint64_t timeout;           /*  ms for one POST  */
    uint64_t retry_max;         /*  longest wait between attempts  */
    int64_t attempts;           /*  attempts before a batch is dropped  */
    char *log_level;
} whd_conf_t;

typedef struct {
    uint64_t received;          /*  feed messages  */
    uint64_t ignored;           /*  ... for no target, or not understood  */
    uint64_t queued, posted;    /*  events  */
    uint64_t batches, retries, failed, dropped;
} whd_stats_t;

/*  Where one URL's webhooks go, and what waits for it.  */
typedef struct whd_target {
    char *url, *key, *secret;   /*  owned  */
    const fp_pusher_app_t *app; /*  borrowed; NULL for `url`  */
    json_t *queue;              /*  events not yet in a POST  */
    int64_t first_queued;       /*  monotonic ms of the oldest  */
    json_t *batch;              /*  the events of the POST in flight or
                                    waiting for its retry, or NULL  */
    char *body;                 /*  its signed body  */
    CURL *easy;                 /*  the POST in flight, or NULL  */
    struct curl_slist *headers;
    int attempt;                /*  attempts made for batch  */
    int64_t next_try;           /*  monotonic ms of the next attempt  */
} whd_target_t;

typedef struct {
    whd_conf_t conf;
    fp_pusher_apps_t *apps;     /*  owned, or NULL  */
    whd_target_t *targets;      /*  one per app with a webhook, + url  */
    size_t ntargets;
    CURLM *multi;
    whd_stats_t stats;
} whd_t;

/*  translate.c: a feed message (kind "occupied" / "vacated" / "event"
 *  and its JSON) as a Pusher webhook event for its target.  Returns the
 *  target and the event (caller owns it), or NULL when no target wants
 *  it or it is not understood.  */
whd_target_t *whd_translate(whd_t *w, const char *kind, const char *json,
                            size_t len, json_t **event);

/*  target.c  */
/*  Queue an event (stolen) for t; past max-queue the oldest is dropped.  */
void whd_target_queue(whd_t *w, whd_target_t *t, json_t *event, int64_t now);
/*  Start what is due: a full or old enough batch, a retry.  */
void whd_target_work(whd_t *w, whd_target_t *t, int64_t now);
/*  A POST of t finished with curl's result and the HTTP status.  */
void whd_target_done(whd_t *w, whd_target_t *t, CURLcode rc, long status,
                     int64_t now);
/*  Milliseconds until t has something to start (for the poll timeout),
 *  or -1 for nothing.  */
int64_t whd_target_due(const whd_t *w, const whd_target_t *t, int64_t now);
void whd_target_free(whd_t *w, whd_target_t *t);

#endif
