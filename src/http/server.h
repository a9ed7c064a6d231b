/* HTTP/1.1 server side of one worker: listener, connections, request parsing (llhttp, strict),
 * in-order pipelining, and the response writer (plain or chunked).
 *
 * Ownership: the worker owns its connections; a connection owns its parser state, its input
 * buffer and its queued writes. A handler that answers asynchronously registers an hg_reply_t and
 * must end with hg_conn_finish() or hg_conn_abort(); if the client goes away first, the
 * connection calls reply->on_close and the handler must release everything (no finish then). */
#ifndef HG_SERVER_H
#define HG_SERVER_H

#include <llhttp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "../common/buf.h"
#include "../common/rbuf.h"
#include "../config.h"
#include "../metrics.h"

typedef struct hg_worker hg_worker_t;
typedef struct hg_conn hg_conn_t;

/** A parsed request. Valid until the response is finished. */
typedef struct {
    int method; /* llhttp_method_t */
    int http_major, http_minor;
    int keep_alive;
    hg_buf_t target; /* raw request-target as received (path?query) */
    hg_buf_t host;   /* Host header value ("" when absent) */
    hg_buf_t acr_headers; /* Access-Control-Request-Headers */
    hg_buf_t if_none_match;
    hg_buf_t xff;         /* X-Forwarded-For (used only with TRUST_PROXY) */
    hg_buf_t xfp;         /* X-Forwarded-Proto (used only with TRUST_PROXY) */
    int accept_gzip;      /* Accept-Encoding allows gzip */
    uint64_t t_start;     /* uv_hrtime() when the request was complete */
} hg_request_t;

/** Callbacks of an asynchronous response. */
typedef struct {
    void *ctx;
    void (*on_close)(void *ctx); /* client gone: release everything, do not call finish */
    void (*on_drain)(void *ctx); /* queued output fell below the low-water mark */
} hg_reply_t;

struct hg_signer;

struct hg_worker {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wakeup; /* another thread asked this worker to stop */
    uv_async_t reload; /* another thread handed over a new configuration */
    _Atomic(const hg_config_t *) next_cfg;
    unsigned cfg_gen;  /* bumped on every reload */
    uv_timer_t drain_timer;
    uv_prepare_t log_prepare; /* flush buffered log lines before the loop blocks ... */
    uv_check_t log_check;     /* ... and after each batch of I/O callbacks */
    const hg_config_t *cfg;
    struct hg_signer *signer;   /* NULL until platform credentials arrived (storage hook) */
    unsigned long creds_gen;    /* [storage hook] credential generation the signer was built from */
    time_t creds_expiration;    /* [storage hook] when those credentials expire (0: never) */
    struct hg_origin *origin;
    int id;
    int stopping;
    int listening;
    int port; /* bound port (useful with LISTEN=...:0) */
    hg_conn_t *conns; /* every open connection, for shutdown */
    struct hg_gw *gw; /* the playlist handler's per-worker state (cache, fills) */
    hg_metrics_t metrics; /* this worker's slot: only this worker writes it */
    unsigned long nconns;  /* open connections (also exported as a gauge) */
    char date[64]; /* "Date: ...\r\n", refreshed once a second */
    int64_t date_sec;
    uint64_t drain_deadline;
};

/** Prepare a worker: loop, signer, origin and a listening socket (SO_REUSEPORT so several
 *  workers share the port; none when port < 0). Returns 0 or a negative uv error, logged. */
int hg_worker_init(hg_worker_t *w, const hg_config_t *cfg, int id, int port);
/** Serve a client on an already connected stream socket (for example one end of a socketpair):
 *  the same connection code as accepted clients. For tests and fuzzing, with a worker made with
 *  port < 0 (no listener). The worker owns fd afterwards. */
void hg_worker_adopt(hg_worker_t *w, int fd);
/** Run the loop until the worker has stopped and every handle is closed; then free it all. */
void hg_worker_run(hg_worker_t *w);
/** Hand the worker a new configuration (SIGHUP). Thread-safe. The worker switches between
 *  requests: new signer, cache emptied (its URLs carry the old key). cfg must outlive the
 *  worker; LISTEN and WORKERS cannot change this way. */
void hg_worker_reload(hg_worker_t *w, const hg_config_t *cfg);
/** Ask the worker to stop (graceful drain). Safe from any thread or a signal handler's loop. */
void hg_worker_stop(hg_worker_t *w);

/** Queue `len` bytes of `data` (malloc'd; ownership passes to the connection) as-is. */
int hg_conn_write(hg_conn_t *c, char *data, size_t len);
/** Queue data as one chunk of a chunked body (ownership passes; len may be 0: nothing sent). */
int hg_conn_write_chunk(hg_conn_t *c, char *data, size_t len);
/** Largest head that hg_conn_write_ref copies into its write request. */
#define HG_WRITE_HEAD_MAX 320

/** Queue head[0..hlen) (copied) followed by rb->data[off..off+len) (shared: takes over one
 *  reference of rb, which may be NULL when len is 0) in a single uv_write. With `chunked`, the
 *  slice is framed as one chunk of a chunked body after the head. */
int hg_conn_write_ref(hg_conn_t *c, const char *head, size_t hlen, hg_rbuf_t *rb, size_t off,
                      size_t len, int chunked);
/** Bytes queued but not yet written to the socket. */
size_t hg_conn_pending(const hg_conn_t *c);
/** True when the queue is above the high-water mark: producers should pause. */
int hg_conn_congested(const hg_conn_t *c);
/** Register the asynchronous reply of the current request. */
void hg_conn_set_reply(hg_conn_t *c, const hg_reply_t *r);
/** The response is complete: keep the connection for the next request, or close it when the
 *  request or response said so (after the queued bytes are written). */
void hg_conn_finish(hg_conn_t *c, int close_after);
/** Abandon the response mid-way: close the connection without a final chunk, so the client can
 *  tell the body is truncated. */
void hg_conn_abort(hg_conn_t *c);
/** The worker a connection belongs to. */
hg_worker_t *hg_conn_worker(const hg_conn_t *c);
/** Peer address as text, for logs. */
const char *hg_conn_peer(const hg_conn_t *c);

/** Build "HTTP/1.1 <status> <reason>\r\n" plus the headers every response carries (Server, Date,
 *  CORS). */
int hg_response_head(hg_worker_t *w, hg_buf_t *out, int status);
/** Reason phrase of a status code. */
const char *hg_status_reason(int status);
/** Send a complete small response with a text body (omitted for HEAD) and finish the request.
 *  `extra` holds additional header lines, each ending in CRLF (may be NULL). */
void hg_conn_send_simple(hg_conn_t *c, const hg_request_t *req, int status, const char *extra,
                         const char *body, int close_after);

/** Entry point of the application: called once per complete request, in order. Implemented by
 *  the gateway (gateway.c). */
void hg_gateway_dispatch(hg_conn_t *c, hg_request_t *req);

#endif
