/*  lg: the load generator's private header (bench/loadgen.c has main).
 *
 *  Files: loadgen.c (command line, shared memory, phases, progress, JSON
 *  result), lg_client.c (one worker process: epoll loop of SSE, WebSocket
 *  and poll clients), lg_pub.c (the publisher process: ZeroMQ or HTTP),
 *  lg_mem.c (server memory and CPU from /proc), lg_parse.c (HTTP, chunked,
 *  SSE and WebSocket parsers and the latency histogram; no I/O, unit
 *  tested with -DFP_TEST).
 *
 *  Every published event carries a token "FPT<phase>.<seq>.<ns>." in its
 *  data, ns being CLOCK_MONOTONIC at the publisher's send (one clock for
 *  every process on the machine), so each receiving client computes the
 *  publish-to-receipt latency of every delivery.  The publisher sends
 *  token SEQ to channel SEQ % channels, so a client also checks that its
 *  channel's tokens come one by one, none missing or repeated, over its
 *  reconnects when they resume from a cursor (poll; SSE and WebSocket
 *  with --resume / %C).
 */
#ifndef LG_H
#define LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LG_MAX_PHASES   8
#define LG_SUB_BITS     6               /*  64 sub-buckets per octave  */
#define LG_HBUCKETS     (40 << LG_SUB_BITS)
#define LG_MAX_WORKERS  32
#define LG_MAX_PROCS    256

/* ------------------------------------------------------------ parsers */

/*  A parsed HTTP response head.  */
typedef struct {
    int status;
    bool chunked;
    bool close;                 /*  Connection: close  */
    int64_t content_length;     /*  -1 = none  */
    char etag[96];
    char last_modified[64];
    char ws_accept[64];
} lg_head_t;

/*  Parse a response head in buf.  Returns its length (through the blank
 *  line), 0 if incomplete, -1 if it is not HTTP.  */
ssize_t lg_head_parse(const char *buf, size_t len, lg_head_t *h);

/*  Chunked transfer decoding, in place.  */
typedef struct {
    int state;                  /*  LG_CH_*  */
    uint64_t left;              /*  bytes left in this chunk  */
    bool done;                  /*  the last chunk and trailer were read  */
    bool error;
} lg_dechunk_t;

/*  Decode n bytes at p: the data bytes are moved to the front of p.
 *  Returns how many data bytes there are; sets d->done at the end of
 *  the body, *used to the input bytes consumed (less than n only when
 *  done: the rest belongs to the next response).  */
size_t lg_dechunk(lg_dechunk_t *d, uint8_t *p, size_t n, size_t *used);

/*  A message handler: one SSE event, one WebSocket message or one poll
 *  response body.  */
typedef void lg_msg_fn(void *arg, int op, const uint8_t *p, size_t n);

/*  SSE: split a stream into events at blank lines (LF or CRLF).  */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    bool last_nl;               /*  the previous byte ended a line  */
    bool last_cr;               /*  the previous byte was CR  */
} lg_sse_t;

void lg_sse_feed(lg_sse_t *s, const uint8_t *p, size_t n, lg_msg_fn *fn,
                 void *arg);
void lg_sse_free(lg_sse_t *s);

/*  WebSocket (RFC 6455) client side: server frames are not masked.
 *  Text and binary messages are reassembled from fragments; control
 *  frames (ping 9, close 8, pong 10) go to fn with their opcode.  */
typedef struct {
    uint8_t *buf;               /*  the partial frame  */
    size_t len, cap;
    uint8_t *msg;               /*  fragments of a message so far  */
    size_t mlen, mcap;
    int mop;                    /*  opcode of the fragmented message  */
    bool error;
} lg_ws_t;

void lg_ws_feed(lg_ws_t *w, const uint8_t *p, size_t n, lg_msg_fn *fn,
                void *arg);
void lg_ws_free(lg_ws_t *w);

/*  Encode a masked client frame into out (room for n + 14 bytes);
 *  returns its length.  */
size_t lg_ws_frame(uint8_t *out, int op, const void *p, size_t n,
                   uint32_t mask);

/*  The Sec-WebSocket-Accept value for a key (base64 of SHA-1).  */
void lg_ws_accept(const char *key, char out[64]);

/*  A bench token found in a message.  */
typedef struct {
    int phase;
    uint64_t seq;
    int64_t ns;
} lg_tok_t;

/*  Find the next token in p[0..n) from *off on; returns 1 and advances
 *  *off past it, or 0.  */
int lg_tok_next(const uint8_t *p, size_t n, size_t *off, lg_tok_t *t);

/*  Write a token and pad it with 'x' to exactly size bytes (at least
 *  the token).  Returns the length written.  */
size_t lg_tok_write(char *out, size_t size, int phase, uint64_t seq,
                    int64_t ns);

/*  Find "key":"value" (or "key":number) in a JSON body; copies the value
 *  (at most cap-1 bytes).  Returns 0 if found.  */
int lg_json_str(const uint8_t *p, size_t n, const char *key, char *out,
                size_t cap);

/*  The value of the first `name:` line of one SSE event block (one space
 *  after the colon dropped); copies at most cap-1 bytes.  Returns 0 if
 *  the field is there.  */
int lg_sse_field(const uint8_t *p, size_t n, const char *name, char *out,
                 size_t cap);

/* ------------------------------------------------------------ histogram */

/*  Log-linear buckets of microseconds, about 1.6 % wide.  */
int lg_hist_bucket(uint64_t us);
uint64_t lg_hist_value(int bucket);     /*  upper edge of the bucket  */
/*  The value at quantile q (0..1) of counts; 0 if empty.  */
uint64_t lg_hist_quantile(const uint32_t *h, double q);
uint64_t lg_hist_count(const uint32_t *h);

/* ------------------------------------------------------------ shared */

/*  Counters of one worker (written only by it) in shared memory.  */
typedef struct {
    uint64_t connected;         /*  open now (head received)  */
    uint64_t established;       /*  heads received in total  */
    uint64_t attempts;          /*  connect() calls  */
    uint64_t failed;            /*  refused, reset, timed out, bad head  */
    uint64_t non2xx;            /*  heads with another status  */
    uint64_t reconnects;        /*  streams the server ended or broke  */
    uint64_t cycles;            /*  churn: connections closed on purpose  */
    uint64_t requests;          /*  poll responses  */
    uint64_t msgs;              /*  events, frames or bodies  */
    uint64_t gaps;              /*  tokens missed on a channel  */
    uint64_t dups;              /*  tokens seen again or out of order  */
    uint64_t resets;            /*  reset control messages  */
    uint64_t bytes_in, bytes_out;
    uint64_t recv[LG_MAX_PHASES];       /*  tokens received per phase  */
    uint64_t phase_bytes[LG_MAX_PHASES];
    uint32_t hist[LG_MAX_PHASES][LG_HBUCKETS];  /*  delivery latency  */
    uint32_t req_hist[LG_HBUCKETS];     /*  poll / connect round trips  */
    int64_t first_error_ns;
    char first_error[120];
} lg_wstats_t;

typedef struct {
    volatile int stop;          /*  workers: close and exit  */
    volatile int phase;         /*  measurement phase bytes count to  */
    volatile int pub_phase;     /*  publisher: run this phase (-1 idle)  */
    volatile int pub_done;      /*  publisher: finished pub_phase  */
    volatile int pub_ready;
    double pub_rate[LG_MAX_PHASES];     /*  events/s asked  */
    double pub_secs[LG_MAX_PHASES];     /*  how long  */
    uint64_t published[LG_MAX_PHASES];
    uint64_t pub_rounds[LG_MAX_PHASES]; /*  complete rounds over channels  */
    double pub_elapsed[LG_MAX_PHASES];
    uint64_t pub_errors;
    char pub_error[160];
    lg_wstats_t w[LG_MAX_WORKERS];
} lg_shm_t;

/* ------------------------------------------------------------ options */

typedef enum { LG_SSE, LG_WS, LG_LONGPOLL, LG_POLL } lg_mode_t;

typedef struct {
    lg_mode_t mode;
    char *urls[16];             /*  http://HOST:PORT/PATH with %c = channel  */
    int nurls;
    int conns;
    int workers;
    int src_count;              /*  source addresses per worker  */
    double rate;                /*  connections/s, all workers  */
    int inflight;               /*  handshakes in flight per worker  */
    int channels;               /*  connection i uses channel i % channels  */
    char *chan_prefix;
    char *ws_sub;               /*  first message after the upgrade  */
    char *ws_proto;             /*  Sec-WebSocket-Protocol  */
    char *cursor_key;           /*  poll: JSON key of the next cursor  */
    char *cursor0;              /*  poll: first cursor  */
    int interval_ms;            /*  poll: pause between requests  */
    int churn_ms;               /*  close after this long, 0 = hold  */
    int churn_jitter_ms;        /*  +- up to this much, uniform  */
    int reconnect_ms;
    int timeout_ms;             /*  connect + head  */
    bool resume;                /*  SSE: reopen with Last-Event-ID  */
    int64_t t0;                 /*  ns: the run's start  */
} lg_opts_t;

/*  One worker: connections [first, first + count) of o->conns.  Never
 *  returns.  */
void lg_worker_run(const lg_opts_t *o, lg_shm_t *shm, int w, int first,
                   int count);

/*  The publisher: waits for shm->pub_phase, publishes, sets pub_done.  */
typedef struct {
    char *kind;                 /*  zmq-fastpush, zmq-pushpin, http  */
    char *target;               /*  endpoint or URL (%c = channel)  */
    int size;                   /*  bytes of data per event  */
    int channels;
    char *chan_prefix;
} lg_pubopts_t;

void lg_pub_run(const lg_pubopts_t *p, lg_shm_t *shm);

/*  Memory and CPU of a set of server processes (the trees below the
 *  given roots, sampled at each call).  */
typedef struct {
    int nprocs;
    uint64_t rss_kb, pss_kb;
    double cpu_s;               /*  user + system, seconds  */
    struct {
        char name[16];
        uint64_t rss_kb, pss_kb;
        double cpu_s;
        int count;
    } by_name[16];
    int nnames;
} lg_mem_t;

void lg_mem_sample(const pid_t *roots, int nroots, lg_mem_t *m);

int64_t lg_now_ns(void);
void lg_set_error(lg_wstats_t *ws, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
