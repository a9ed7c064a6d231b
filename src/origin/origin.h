/* Origin fetches: libcurl's multi *socket* API driven by the worker's uv loop (uv_poll per socket,
 * one uv_timer for curl's timeouts). No threads, no curl_multi_perform, no blocking calls.
 *
 * Ownership: the hg_origin_t belongs to one worker and owns every curl handle. A fetch belongs to
 * the origin until on_done has been called or hg_fetch_cancel() was called; after either, the
 * caller must not touch it again. Callbacks never run synchronously from hg_fetch_start().
 *
 * TLS: certificates are always verified (S3_CA_FILE adds a CA bundle) unless the setting named
 * S3_TLS_VERIFY_UNSAFE_DISABLE says otherwise. Connections stay in the multi's pool (keep-alive),
 * and a per-origin CURLSH shares TLS sessions and DNS between easy handles, so a new connection
 * to a known origin resumes its TLS session instead of a full handshake. Every response's Date
 * header feeds the clock-skew estimate (clock.h). */
#ifndef HG_ORIGIN_H
#define HG_ORIGIN_H

#include <stddef.h>
#include <uv.h>

#include "../config.h"

typedef struct hg_origin hg_origin_t;
typedef struct hg_fetch hg_fetch_t;

/** Special return values of on_data. */
#define HG_FETCH_PAUSE ((size_t)-1) /* keep the bytes, pause the transfer until hg_fetch_resume */
#define HG_FETCH_ABORT ((size_t)-2) /* stop the transfer; on_done follows with HG_FETCH_E_ABORTED */

/** Failure classes passed to on_done. */
typedef enum {
    HG_FETCH_OK = 0,
    HG_FETCH_E_CONNECT,  /* DNS / connect / TLS failure: origin unreachable */
    HG_FETCH_E_TIMEOUT,  /* connect, total or low-speed timeout */
    HG_FETCH_E_TRANSFER, /* reset mid-body, bad chunking, invalid content encoding... */
    HG_FETCH_E_ABORTED,  /* on_data asked to abort */
} hg_fetch_result_t;

/** How a transfer ended (valid only during on_done). */
typedef struct {
    long status;               /* origin HTTP status, 0 when none arrived */
    const char *detail;        /* curl's error text, "" on success */
    double ms;                 /* time to the first response byte (or to the end without one) */
    const char *etag;          /* origin ETag header value, "" when absent */
    const char *last_modified; /* origin Last-Modified value, "" when absent */
    int tls_verify;            /* 1: the origin's certificate failed verification; detail then
                                * starts with "TLS verification failed: " (res is HG_FETCH_E_CONNECT) */
} hg_fetch_done_t;

/** A request other than a plain GET (credential providers: IMDSv2 token PUT, STS POST). */
typedef struct {
    const char *method;          /* NULL or "GET"; "POST", "PUT"... */
    const char *url;
    const char *const *headers;  /* NULL-terminated "Name: value" list (copied); may be NULL */
    const char *body;            /* request body (copied); NULL: none */
    size_t body_len;
    long timeout_ms;             /* total timeout; 0: ORIGIN_TIMEOUT_MS */
    long connect_timeout_ms;     /* 0: ORIGIN_CONNECT_TIMEOUT_MS */
} hg_fetch_req_t;

typedef struct {
    /** Body bytes (decoded if the origin compressed them). status is the origin's HTTP status.
     *  Return n to consume, HG_FETCH_PAUSE or HG_FETCH_ABORT. */
    size_t (*on_data)(void *ud, long status, const char *p, size_t n);
    /** Transfer over; the fetch is already freed when this runs. */
    void (*on_done)(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d);
} hg_fetch_cb_t;

/** Create the origin for a worker loop. Returns NULL on failure. */
hg_origin_t *hg_origin_new(uv_loop_t *loop, const hg_config_t *cfg);
/** Use cfg's timeouts for fetches started from now on (configuration reload). */
void hg_origin_set_config(hg_origin_t *o, const hg_config_t *cfg);
/** Cancel every fetch (no more callbacks), clean up curl and close the uv handles.
 *  The loop must run afterwards so the close callbacks free the memory. */
void hg_origin_close(hg_origin_t *o);

/** Start GET `url` with optional extra request headers (NULL-terminated "Name: value" list,
 *  copied; may be NULL). Returns NULL when curl refuses the handle. */
hg_fetch_t *hg_fetch_start(hg_origin_t *o, const char *url, const char *const *headers,
                           const hg_fetch_cb_t *cb, void *ud);
/** Start any request described by r; otherwise like hg_fetch_start. */
hg_fetch_t *hg_fetch_request(hg_origin_t *o, const hg_fetch_req_t *r, const hg_fetch_cb_t *cb, void *ud);
/** The origin's ETag of the response being received ("" when none); valid in on_data. */
const char *hg_fetch_etag(const hg_fetch_t *f);
/** Stop a fetch now or soon; no callback runs for it afterwards. Safe inside its callbacks. */
void hg_fetch_cancel(hg_fetch_t *f);
/** Resume a fetch paused by HG_FETCH_PAUSE. Must not be called from inside its callbacks. */
void hg_fetch_resume(hg_fetch_t *f);
/** Milliseconds between start and the first response byte (or now if still waiting). Only for
 *  a live fetch: on_done passes the final figure. */
double hg_fetch_ms(const hg_fetch_t *f);
/** Startup clock-skew probe: GET `url` (any answer carries a Date header) and run `loop` until it
 *  ends or timeout_ms passed. For the main thread before workers serve; never on a worker loop.
 *  Returns 0 when an answer arrived. */
int hg_origin_probe_clock(hg_origin_t *o, uv_loop_t *loop, const char *url, long timeout_ms);
/** The origin's base URL for probes and warm-up: scheme://host[:port]/bucket/ (path style) or
 *  scheme://bucket.host[:port]/ (virtual-host style). Returns 0, or -1 when it does not fit. */
int hg_origin_base_url(const hg_config_t *cfg, char *out, size_t cap);
/** Open a connection (and TLS session) to `url` ahead of the first request: a GET whose answer (at most 64 KiB)
 *  is dropped. Never blocks; hg_origin_close cancels it if still running. For worker start. */
void hg_origin_warm(hg_origin_t *o, const char *url);
/** Fetches started since the origin was created (for tests and metrics). */
unsigned long hg_origin_started(const hg_origin_t *o);

#endif
