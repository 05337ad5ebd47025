/*  event: the event model shared by the broker and every transport.
 *
 *  An event as delivered, identically on SSE, poll and WebSocket, is one
 *  JSON object whose members always come in this order:
 *
 *      {"id":"EPOCH-SEQ","seq":S,"prev":P,"channel":"c","event":"t",
 *       "key":"k","socket_id":"s","ts":T,"data":D}
 *
 *  `key` is present only for keyed (compacted) events; `socket_id` only
 *  when the publisher named a connection that must not receive the event
 *  (Pusher's socket_id: the sender of a client event, or of an HTTP API
 *  trigger with socket_id); `prev` is the SEQ of
 *  the previous event on the same channel (0 for the first); `ts` is the
 *  broker's time in ms since 1970.  The broker builds this text once
 *  (fp_event_new) and everyone else shares it by reference (fp_event_ref).
 *
 *  Names: a channel is 1-128 bytes of [A-Za-z0-9_.:@~=+-]; an event type
 *  1-200 bytes of [A-Za-z0-9_.:-] starting with a letter or digit and not one
 *  of the control names (ready, reset, error, heartbeat, auth-expired,
 *  close); a key 1-256 bytes of UTF-8 without control characters, '"' or
 *  '\'.  None of them can break an SSE field or a JSON string.
 */
#ifndef FP_EVENT_H
#define FP_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jscan.h"

#define FP_CHANNEL_MAX 128
#define FP_TYPE_MAX 200
#define FP_KEY_MAX 256
#define FP_SOCKET_ID_MAX 47
#define FP_DEFAULT_TYPE "message"

typedef struct fp_event {
    uint64_t seq;               /*  broker-wide sequence number  */
    uint64_t prev;              /*  previous SEQ on this channel, 0 if none  */
    int64_t ts;                 /*  broker time, ms since 1970  */
    const char *epoch;          /*  epoch of `seq` (inside this block)  */
    const char *channel;        /*  channel name (inside this block)  */
    const char *type;           /*  event type (inside this block)  */
    const char *key;            /*  compaction key or NULL  */
    const char *socket_id;      /*  the connection left out, or NULL  */
    const char *json;           /*  canonical JSON text, NUL-terminated  */
    size_t json_len;            /*  bytes of json  */
    uint32_t refs;              /*  references; freed at zero  */
    void *cache;                /*  one transport's encoding, or NULL  */
    void (*cache_free)(void *); /*  frees cache with the event  */
} fp_event_t;

/*  A publish request as sent by an application, validated.  */
typedef struct {
    char *channel;              /*  owned  */
    char *type;                 /*  owned, FP_DEFAULT_TYPE if not given  */
    char *key;                  /*  owned or NULL  */
    char *socket_id;            /*  owned or NULL: a connection that must
                                    not receive the event  */
    char *data;                 /*  owned compact JSON text of `data`  */
    size_t data_len;
    char *tag;                  /*  owned JSON text of "tag", or NULL  */
} fp_publish_t;

/*  fp_publish_* results besides 0.  */
#define FP_PUBLISH_EJSON -1     /*  not valid JSON  */
#define FP_PUBLISH_EEVENT -2    /*  valid JSON, not a valid event  */

/*  Build an event and its canonical JSON.  `data` is compact JSON text.
 *  Returns a new event with one reference (the caller's).  */
fp_event_t *fp_event_new(const char *epoch, uint64_t seq, uint64_t prev,
                         int64_t ts, const char *channel, const char *type,
                         const char *key, const char *socket_id,
                         const char *data, size_t data_len);

/*  Parse canonical event JSON received from a broker (strict: members in
 *  the canonical order, valid names).  Returns a new event with one
 *  reference, or NULL with a reason in err (FP_ERR_LEN bytes).  */
fp_event_t *fp_event_parse(const char *json, size_t len, char *err);

/*  Take another reference; returns ev.  */
fp_event_t *fp_event_ref(fp_event_t *ev);

/*  Drop a reference and NULL the caller's pointer; frees at zero.  */
void fp_event_unref(fp_event_t **ev_p);

/*  The event's `data` text (compact JSON, borrowed from ev->json, not
 *  NUL-terminated) and its length in *len.  */
const char *fp_event_data(const fp_event_t *ev, size_t *len);

/*  Size of the event for history limits: the bytes of its JSON text.  */
size_t fp_event_size(const fp_event_t *ev);

/*  Copy of the event's JSON with "snapshot":true added as first member,
 *  for events delivered as part of a keyed snapshot.  Caller frees.  */
char *fp_event_snapshot_json(const fp_event_t *ev, size_t *len);

/*  Name checks (see the header comment).  */
/*  Append the members of a reset, the same on every transport:
 *  `"channel":C,"reason":R,"snapshot":true|false` (no braces, so SSE,
 *  poll and WebSocket wrap it as they need).  */
void fp_event_reset_append(fp_buf_t *b, const char *channel,
                           const char *reason, bool snapshot);

bool fp_channel_valid(const char *s, size_t len);
bool fp_type_valid(const char *s);
bool fp_key_valid(const char *s);
/*  A presence channel (members, join and leave events): its last part,
 *  after the last ':' (the app prefix of a Pusher channel), starts with
 *  "presence-".  */
bool fp_channel_presence(const char *channel);
/*  An id byte: A-Z a-z 0-9 . _ - (the alphabet of ids that are not
 *  channel names: Pusher app ids and keys, presence process ids).  */
bool fp_id_byte(unsigned char c);
/*  s is 1 to max id bytes.  */
bool fp_id_valid(const char *s, size_t max);

/*  Parse and validate one publish object {"channel", "event", "key",
 *  "socket_id", "data"} (and "tag", an integer or a string of at most 128
 *  bytes, when allow_tag) at the scanner's position, without building a
 *  tree: `data`
 *  is checked and copied compactly by jscan.  Fills p (release with
 *  fp_publish_clear).  Returns 0, FP_PUBLISH_EJSON or FP_PUBLISH_EEVENT
 *  with a reason in err.  */
int fp_publish_scan(fp_jscan_t *s, fp_publish_t *p, bool allow_tag,
                    char *err);

/*  The same for a text that holds exactly one object.  */
int fp_publish_parse(const char *text, size_t len, fp_publish_t *p,
                     bool allow_tag, char *err);

/*  Free what p owns; p is zeroed.  */
void fp_publish_clear(fp_publish_t *p);

/*  Append p as the publish object fp_publish_parse reads back (channel,
 *  event, key and socket_id if any, data; no tag) to b.  */
void fp_publish_append(fp_buf_t *b, const fp_publish_t *p);

#endif
