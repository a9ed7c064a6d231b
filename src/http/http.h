/* The HTTP/1.1 server side of one worker, as a library: connections, strict request parsing
 * (llhttp, no lenient flags), in-order pipelining, a bounded write queue, timeouts and response
 * heads. It knows no route: the application hands it a handler {fn, ctx} and answers each request
 * through the hg_conn_* calls below. It includes only common/ and the metrics interface.
 *
 * Ownership: an hg_http_t belongs to one worker loop and owns its connections; a connection owns
 * its parser state, its input buffer and its queued writes. An hg_request_t is owned by its
 * connection and valid until the response is finished (hg_conn_finish / hg_conn_abort) or the
 * reply's on_close ran.
 *
 * The response contract (h2o's generator is the model):
 *  - The handler is called once per complete request, never while an earlier response of the
 *    same connection is unfinished, and never on the stack of another response's finish: a
 *    finished response only *schedules* the next pipelined request, which runs on a later loop
 *    turn. So a caller may answer many connections in a loop without any of them re-entering it.
 *  - A handler answers synchronously (hg_conn_send_simple, or writes then hg_conn_finish) or
 *    registers an hg_reply_t and finishes later. Exactly one of finish, abort or on_close ends a
 *    request.
 *  - hg_reply_t.on_close(ctx): the client is gone (or the server is shutting it down). Release
 *    everything tied to the request; do not call finish or abort, do not write. Runs at most once.
 *  - hg_reply_t.on_drain(ctx): queued output fell below the low-water mark; producers paused on
 *    hg_conn_congested may resume. Never runs inside hg_conn_write*.
 *  - Writes never fail visibly: a connection whose write cannot be queued is closed on the next
 *    loop turn (on_close then runs there), so callers need no error path for writes. */
#ifndef HG_HTTP_H
#define HG_HTTP_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../common/buf.h"
#include "../common/rbuf.h"
#include "../metrics.h"

typedef struct hg_conn hg_conn_t;
typedef struct hg_http hg_http_t;

/** A parsed request. Owned by the connection; valid until its response ended. */
typedef struct {
    int method; /* llhttp_method_t */
    int http_major, http_minor;
    int keep_alive;
    int route;            /* set by the application's router, for metrics and logs */
    hg_buf_t target;      /* raw request-target as received (path?query) */
    hg_buf_t host;        /* Host header value ("" when absent) */
    hg_buf_t acr_headers; /* Access-Control-Request-Headers */
    hg_buf_t if_none_match;
    hg_buf_t xff; /* X-Forwarded-For, several lines comma-joined */
    hg_buf_t xfp; /* X-Forwarded-Proto */
    int accept_gzip; /* Accept-Encoding allows gzip */
    uint64_t t_start; /* uv_hrtime() when the request was complete */
} hg_request_t;

/** The application's entry point: called once per complete request, in order. */
typedef struct {
    void (*fn)(void *ctx, hg_conn_t *c, hg_request_t *req);
    void *ctx;
} hg_handler_t;

/** Callbacks of an asynchronous response (see the contract above). */
typedef struct {
    void *ctx;
    void (*on_close)(void *ctx);
    void (*on_drain)(void *ctx);
} hg_reply_t;

/** Limits and timeouts (a copy is kept; hg_http_set_limits changes them for new requests). */
typedef struct {
    size_t max_header_bytes;  /* bytes of header lines as they arrive on the wire (431) */
    size_t max_header_lines;  /* header lines per request (431) */
    size_t max_url_bytes;     /* request target (414) */
    size_t max_output;        /* unsent response bytes past which a connection stops parsing */
    long header_timeout_ms;   /* a request's head must arrive within this (408) */
    long keepalive_timeout_ms;
    long write_timeout_ms;    /* no write progress for this long while output is queued: close */
    unsigned long max_connections; /* past it a new connection gets 503 and is closed */
    const char *common_headers;    /* header lines every response carries, e.g. "Server: x\r\n" */
} hg_http_limits_t;

/* Output backlog marks: above HIGH a producer should pause, below LOW it may resume. */
#define HG_WRITE_HIGH (256 * 1024)
#define HG_WRITE_LOW (64 * 1024)
/** Longest head that hg_conn_write_ref copies into its write request. Heads built by
 *  hg_http_prefix plus the application's own headers must fit: callers check the length. */
#define HG_WRITE_HEAD_MAX 1024

struct hg_http {
    uv_loop_t *loop;
    hg_handler_t handler;
    hg_http_limits_t lim;
    hg_metrics_t *metrics; /* this worker's slot */
    hg_conn_t *conns;      /* every open connection */
    unsigned long nconns;
    int draining;          /* finish in-flight responses, then close; accept no new request */
    uv_idle_t proceed;     /* runs the next pipelined request of finished connections */
    hg_conn_t *ready;      /* connections waiting for that */
    /* Streamed responses' pieces are gathered per loop turn: connections with gathered pieces
     * are flushed, one writev each, just before the loop polls (prepare) and right after it
     * ran the I/O callbacks (check). */
    uv_prepare_t flush_prepare;
    uv_check_t flush_check;
    hg_conn_t *dirty;      /* connections with pieces not yet handed to the socket */
    int closed;
    char date[64];         /* "Date: ...\r\n", refreshed once a second */
    int64_t date_sec;
};

/** Set up a server on `loop`. `lim` is copied; lim->common_headers must outlive the server.
 *  Returns 0 or a negative uv error. */
int hg_http_init(hg_http_t *h, uv_loop_t *loop, const hg_http_limits_t *lim, hg_handler_t handler,
                 hg_metrics_t *metrics);
/** Use new limits from the next request on (configuration reload). */
void hg_http_set_limits(hg_http_t *h, const hg_http_limits_t *lim);
/** Accept one pending connection from a listening stream (call from its connection callback). */
void hg_http_accept(hg_http_t *h, uv_stream_t *server);
/** Serve an already connected stream socket (tests, fuzzing). The server owns fd afterwards. */
void hg_http_adopt(hg_http_t *h, int fd);
/** Start draining: idle connections close now, busy ones after their response, pipelined
 *  requests after the current one are not run. Safe to call again. */
void hg_http_drain(hg_http_t *h);
/** Close every connection at once (their replies get on_close). */
void hg_http_close_all(hg_http_t *h);
/** Close the server's own handles (after hg_http_close_all); the loop must run afterwards. */
void hg_http_close(hg_http_t *h);

/** Queue `len` bytes of `data` (malloc'd; ownership passes to the connection). */
void hg_conn_write(hg_conn_t *c, char *data, size_t len);
/** Queue data as one chunk of a chunked body (ownership passes; len 0 sends nothing). */
void hg_conn_write_chunk(hg_conn_t *c, char *data, size_t len);
/** Queue head[0..hlen) (copied; hlen <= HG_WRITE_HEAD_MAX) then rb->data[off..off+len) (shared:
 *  takes over one reference of rb, which may be NULL when len is 0) as a single write. With
 *  `chunked`, the slice is framed as one chunk after the head. */
void hg_conn_write_ref(hg_conn_t *c, const char *head, size_t hlen, hg_rbuf_t *rb, size_t off,
                       size_t len, int chunked);
/** The current response is produced in pieces over several loop turns (on) or is done with
 *  that (off): while on, its pieces are gathered and written once per loop turn, as one writev.
 *  Off again, anything gathered still goes at the end of the turn, and later pieces at once.
 *  hg_conn_finish turns it off. */
void hg_conn_stream(hg_conn_t *c, int on);
/** Bytes queued and not yet written. */
size_t hg_conn_pending(const hg_conn_t *c);
/** True when the queue is above HG_WRITE_HIGH: producers should pause until on_drain. */
int hg_conn_congested(const hg_conn_t *c);
/** Register the asynchronous reply of the current request (NULL: forget it, so no callback
 *  runs any more; do this before answering a request whose reply context you are freeing). */
void hg_conn_set_reply(hg_conn_t *c, const hg_reply_t *r);
/** The response is complete. The connection is kept for the next request (which runs on a
 *  later loop turn), or closed once its queued bytes are written when close_after is set, the
 *  request asked for it or the server is draining. */
void hg_conn_finish(hg_conn_t *c, int close_after);
/** Abandon the response mid-way: close the connection (no final chunk), so the client can tell
 *  the body is truncated. The reply's on_close does not run. */
void hg_conn_abort(hg_conn_t *c);
/** Peer address as text, for logs. */
const char *hg_conn_peer(const hg_conn_t *c);
/** The server a connection belongs to. */
hg_http_t *hg_conn_server(const hg_conn_t *c);

/** Reason phrase of a status code. */
const char *hg_status_reason(int status);
/** Write the per-request part of a response head into dst[0..cap): status line, Date, the
 *  common headers and, with close_after, "Connection: close". Returns its length, or 0 when it
 *  does not fit (cap >= 256 + strlen(common_headers) always fits). */
size_t hg_http_prefix(hg_http_t *h, char *dst, size_t cap, int status, int close_after);
/** Send a complete small response with a text body (omitted for HEAD and for 204/304) and
 *  finish the request. `extra` holds additional header lines, each ending in CRLF (may be NULL).
 *  req may be NULL for errors found before a request was parsed. */
void hg_conn_send_simple(hg_conn_t *c, const hg_request_t *req, int status, const char *extra,
                         const char *body, int close_after);

#endif
