/* Routing and the request handlers: /hls/{key} (streamed playlist rewrite), /hls-seg/{key}
 * (302 to a presigned URL), OPTIONS (CORS preflight), /healthz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/pct.h"
#include "hls/rewrite.h"
#include "hls/uri.h"
#include "http/server.h"
#include "origin/origin.h"
#include "sign/sigv4.h"

/* Response headers may wait for this much rewritten output, so Cache-Control and the
 * not-a-playlist check can see the playlist's head; past it, bytes stream as they come. */
#define HEAD_BUFFER (64 * 1024)
#define ORIGIN_ERROR_BODY_MAX 512
#define ORIGIN_URL_EXPIRES 60
#define MAX_LINE (1024 * 1024)
#define PLAYLIST_CT "application/vnd.apple.mpegurl"

typedef struct {
    hg_conn_t *c;
    hg_worker_t *w;
    hg_request_t *req;
    hg_fetch_t *fetch;
    hg_rewriter_t rw;
    hg_buf_t out;      /* rewritten bytes not yet handed to the connection */
    hg_buf_t key;      /* namespace key of the playlist */
    hg_buf_t scratch;  /* full object key while presigning */
    hg_buf_t base_url; /* "{PUBLIC_BASE_URL}/hls/" or "http://{Host}/hls/" */
    hg_buf_t errbody;  /* start of an origin error body, for the log */
    size_t origin_bytes;
    size_t sent_bytes; /* body bytes produced (after rewriting) */
    time_t now;
    int headers_sent;
    int chunked;
    int head_only;
    int fail_status;
    const char *fail_reason;
} playlist_t;

/* ---- small helpers ------------------------------------------------------------------------ */

static double ms_since(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e6;
}

static const char *method_name(int m)
{
    return llhttp_method_name((llhttp_method_t)m);
}

static void access_log(hg_conn_t *c, const hg_request_t *req, int status, size_t bytes,
                       double origin_ms, long presigned, const char *extra)
{
    char path[512];
    const char *t = req->target.data ? req->target.data : "";
    size_t tl = req->target.len;
    const char *q = memchr(t, '?', tl);
    if (q) tl = (size_t)(q - t); /* query strings may carry tokens: never logged */
    hg_log(HG_LOG_INFO, "method=%s path=%s status=%d bytes=%zu dur_ms=%.2f origin_ms=%.2f presigned_urls=%ld client=%s%s%s",
           method_name(req->method), hg_log_quote(path, sizeof path, t, tl), status, bytes,
           ms_since(req->t_start), origin_ms, presigned, hg_conn_peer(c), extra ? " " : "", extra ? extra : "");
}

static void send_error(hg_conn_t *c, hg_request_t *req, int status, const char *body, const char *why)
{
    char extra[256];
    snprintf(extra, sizeof extra, "error=\"%s\"", why);
    access_log(c, req, status, strlen(body), 0, 0, extra);
    int close_after = status == 400 || status == 413 || status == 414 || status == 431;
    hg_conn_send_simple(c, req, status, status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL, body, close_after);
}

/* Split the target into a decoded, checked namespace key after `prefix_len` bytes of path. */
static int decode_key(hg_conn_t *c, hg_request_t *req, size_t prefix_len, hg_buf_t *key)
{
    const char *t = req->target.data;
    size_t pl = req->target.len;
    const char *q = memchr(t, '?', pl);
    if (q) pl = (size_t)(q - t);
    if (hg_pct_decode(key, t + prefix_len, pl - prefix_len) != 0) {
        send_error(c, req, 400, "bad percent-encoding in path\n", "bad escape");
        return -1;
    }
    hg_uri_result_t r = hg_key_check(key->data ? key->data : "", key->len);
    if (r == HG_URI_ESCAPES) {
        send_error(c, req, 403, "path leaves the key namespace\n", "dot segment");
        return -1;
    }
    if (r != HG_URI_RESOLVED) {
        send_error(c, req, 400, key->len ? "invalid key in path\n" : "empty key\n", "invalid key");
        return -1;
    }
    return 0;
}

/* Full object key: S3_KEY_PREFIX + '/' + namespace key. */
static int object_key(const hg_config_t *cfg, hg_buf_t *out, const char *key, size_t len)
{
    hg_buf_reset(out);
    int rc = 0;
    if (cfg->key_prefix[0]) {
        rc = hg_buf_appends(out, cfg->key_prefix);
        if (!rc) rc = hg_buf_appendc(out, '/');
    }
    if (!rc) rc = hg_buf_append(out, key, len);
    return rc;
}

/* ---- /hls-seg/{key} ----------------------------------------------------------------------- */

static void handle_segment(hg_conn_t *c, hg_request_t *req)
{
    hg_worker_t *w = hg_conn_worker(c);
    hg_buf_t key, obj, url;
    hg_buf_init(&key, 0);
    hg_buf_init(&obj, 0);
    hg_buf_init(&url, 0);
    if (decode_key(c, req, 9, &key) != 0) goto done;
    /* Only media by extension: this endpoint must not become a general presigning oracle. */
    const char *slash = memrchr(key.data, '/', key.len);
    const char *name = slash ? slash + 1 : key.data;
    size_t nl = key.len - (size_t)(name - key.data);
    const char *dot = memrchr(name, '.', nl);
    if (!dot || !hg_config_seg_ext_allowed(w->cfg, dot + 1, nl - (size_t)(dot + 1 - name))) {
        send_error(c, req, 403, "extension not allowed\n", "extension");
        goto done;
    }
    /* The request's own query is dropped: signing client-chosen parameters (response-content-type
     * and friends) would let anyone mint URLs that change how the bucket answers. */
    hg_buf_t loc;
    hg_buf_init(&loc, 0);
    if (object_key(w->cfg, &obj, key.data, key.len) ||
        hg_buf_appends(&loc, "Location: ") ||
        hg_presign(w->signer, &loc, obj.data, obj.len, NULL, 0, time(NULL), w->cfg->presign_expires) ||
        hg_buf_appends(&loc, "\r\nCache-Control: private, max-age=60\r\n") || hg_buf_appendc(&loc, 0)) {
        hg_buf_free(&loc);
        send_error(c, req, 500, "internal error\n", "presign");
        goto done;
    }
    access_log(c, req, 302, 0, 0, 1, NULL);
    hg_conn_send_simple(c, req, 302, loc.data, "redirecting to storage\n", 0);
    hg_buf_free(&loc);
done:
    hg_buf_free(&key);
    hg_buf_free(&obj);
    hg_buf_free(&url);
}

/* ---- /hls/{key} --------------------------------------------------------------------------- */

static int emit_uri(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                    const char *query, size_t query_len, hg_buf_t *out)
{
    playlist_t *pl = ud;
    if (kind == HG_URI_PLAYLIST) {
        int rc = hg_buf_append(out, pl->base_url.data, pl->base_url.len);
        if (!rc) rc = hg_pct_encode(out, key, key_len, 1);
        if (!rc && query) rc = hg_buf_appendc(out, '?');
        if (!rc && query) rc = hg_buf_append(out, query, query_len);
        return rc;
    }
    int rc = object_key(pl->w->cfg, &pl->scratch, key, key_len);
    if (rc) return rc;
    return hg_presign(pl->w->signer, out, pl->scratch.data, pl->scratch.len, query, query_len,
                      pl->now, pl->w->cfg->presign_expires);
}

static void playlist_free(playlist_t *pl)
{
    if (pl->fetch) hg_fetch_cancel(pl->fetch);
    hg_rewriter_free(&pl->rw);
    hg_buf_free(&pl->out);
    hg_buf_free(&pl->key);
    hg_buf_free(&pl->scratch);
    hg_buf_free(&pl->base_url);
    hg_buf_free(&pl->errbody);
    free(pl);
}

static long max_age(const playlist_t *pl)
{
    long cap = 300;
    if (pl->w->cfg->presign_expires / 2 < cap) cap = pl->w->cfg->presign_expires / 2;
    const hg_rewriter_t *rw = &pl->rw;
    /* Live unless proven otherwise: when only the head was seen, a missing ENDLIST may just be
     * further down, but serving a live playlist stale is worse than re-fetching a VOD one. */
    if (hg_rewriter_is_live(rw)) {
        long half = rw->target_duration > 0 ? (long)(rw->target_duration / 2) : 1;
        if (half < cap) cap = half;
    }
    return cap;
}

static int send_headers(playlist_t *pl, int complete, size_t content_length)
{
    hg_buf_t h;
    hg_buf_init(&h, 0);
    int close_after = !pl->req->keep_alive;
    int rc = hg_response_head(pl->w, &h, 200);
    if (!rc) rc = hg_buf_appendf(&h, "Content-Type: " PLAYLIST_CT "\r\nCache-Control: public, max-age=%ld\r\n", max_age(pl));
    if (!rc && complete) rc = hg_buf_appendf(&h, "Content-Length: %zu\r\n", content_length);
    else if (!rc && pl->req->http_minor >= 1) {
        rc = hg_buf_appends(&h, "Transfer-Encoding: chunked\r\n");
        pl->chunked = 1;
    } else {
        close_after = 1; /* HTTP/1.0 and no length: the end of the body is the end of the connection */
    }
    if (!rc && close_after) rc = hg_buf_appends(&h, "Connection: close\r\n");
    if (!rc) rc = hg_buf_append(&h, "\r\n", 2);
    if (rc) {
        hg_buf_free(&h);
        return rc;
    }
    pl->headers_sent = 1;
    if (close_after) pl->req->keep_alive = 0;
    size_t len = h.len;
    return hg_conn_write(pl->c, hg_buf_steal(&h), len);
}

static void flush_body(playlist_t *pl)
{
    if (!pl->out.len) return;
    size_t len = pl->out.len;
    pl->sent_bytes += len;
    if (pl->head_only) {
        hg_buf_reset(&pl->out);
        return;
    }
    char *data = hg_buf_steal(&pl->out);
    if (pl->chunked) hg_conn_write_chunk(pl->c, data, len);
    else hg_conn_write(pl->c, data, len);
}

static const char *rewrite_error(int rc)
{
    switch (rc) {
    case HG_RW_NOT_PLAYLIST: return "origin object is not a playlist (no #EXTM3U)";
    case HG_RW_LINE_TOO_LONG: return "playlist line too long";
    case HG_RW_EMPTY: return "origin object is empty";
    case HG_EOVERFLOW: return "rewritten playlist too large";
    default: return "out of memory";
    }
}

static void playlist_fail(playlist_t *pl, int status, const char *why, double origin_ms)
{
    hg_conn_t *c = pl->c;
    hg_request_t *req = pl->req;
    char extra[384], q[256];
    snprintf(extra, sizeof extra, "error=%s", hg_log_quote(q, sizeof q, why, strlen(why)));
    if (pl->headers_sent) {
        /* The status line is gone: the only honest signal left is a truncated body. */
        access_log(c, req, 200, pl->sent_bytes, origin_ms, pl->rw.presigned, "aborted=1");
        hg_log(HG_LOG_WARN, "msg=\"response aborted mid-stream\" %s", extra);
        playlist_free(pl);
        hg_conn_abort(c);
        return;
    }
    char body[256];
    snprintf(body, sizeof body, "%d %s: %s\n", status, hg_status_reason(status), why);
    access_log(c, req, status, strlen(body), origin_ms, 0, extra);
    playlist_free(pl);
    hg_conn_send_simple(c, req, status, NULL, body, 0);
}

static size_t on_origin_data(void *ud, long status, const char *p, size_t n)
{
    playlist_t *pl = ud;
    if (status != 200) {
        size_t room = ORIGIN_ERROR_BODY_MAX - pl->errbody.len;
        hg_buf_append(&pl->errbody, p, n < room ? n : room);
        pl->origin_bytes += n;
        return pl->origin_bytes > HEAD_BUFFER ? HG_FETCH_ABORT : n;
    }
    if (hg_conn_congested(pl->c)) return HG_FETCH_PAUSE; /* backpressure: resumed by on_drain */
    pl->origin_bytes += n;
    if (pl->origin_bytes > pl->w->cfg->playlist_max_bytes) {
        pl->fail_status = 502;
        pl->fail_reason = "playlist larger than PLAYLIST_MAX_BYTES";
        return HG_FETCH_ABORT;
    }
    int rc = hg_rewriter_feed(&pl->rw, p, n, &pl->out);
    if (rc) {
        pl->fail_status = 502;
        pl->fail_reason = rewrite_error(rc);
        return HG_FETCH_ABORT;
    }
    if (!pl->headers_sent && !pl->head_only && pl->out.len >= HEAD_BUFFER) {
        if (send_headers(pl, 0, 0)) {
            pl->fail_status = 500;
            pl->fail_reason = "out of memory";
            return HG_FETCH_ABORT;
        }
    }
    if (pl->headers_sent || pl->head_only) flush_body(pl);
    return n;
}

static void on_origin_done(void *ud, hg_fetch_result_t res, long status, const char *detail,
                           double oms)
{
    playlist_t *pl = ud;
    pl->fetch = NULL;
    hg_conn_t *c = pl->c;
    char why[300];
    if (pl->fail_status) {
        playlist_fail(pl, pl->fail_status, pl->fail_reason, oms);
        return;
    }
    switch (res) {
    case HG_FETCH_OK:
        break;
    case HG_FETCH_E_TIMEOUT:
        snprintf(why, sizeof why, "origin timeout: %s", detail);
        playlist_fail(pl, 504, why, oms);
        return;
    case HG_FETCH_E_CONNECT:
        snprintf(why, sizeof why, "origin unreachable: %s", detail);
        playlist_fail(pl, 502, why, oms);
        return;
    default:
        if (status != 200 && status != 0) break; /* we cut an error body short: report the status */
        snprintf(why, sizeof why, "origin transfer failed: %s", detail);
        playlist_fail(pl, 502, why, oms);
        return;
    }
    if (status == 404) {
        playlist_fail(pl, 404, "no such playlist", oms);
        return;
    }
    if (status == 401 || status == 403) {
        char q[ORIGIN_ERROR_BODY_MAX + 8];
        hg_log(HG_LOG_ERROR, "msg=\"origin denied access: check S3 credentials, bucket and clock\" origin_status=%ld origin_body=%s",
               status, hg_log_quote(q, sizeof q, pl->errbody.data ? pl->errbody.data : "", pl->errbody.len));
        playlist_fail(pl, 502, "origin denied access (credentials problem)", oms);
        return;
    }
    if (status != 200) {
        snprintf(why, sizeof why, "origin answered %ld", status);
        playlist_fail(pl, 502, why, oms);
        return;
    }
    int rc = hg_rewriter_finish(&pl->rw, &pl->out);
    if (rc) {
        playlist_fail(pl, 502, rewrite_error(rc), oms);
        return;
    }
    if (!pl->headers_sent) {
        if (send_headers(pl, 1, pl->sent_bytes + pl->out.len)) {
            playlist_fail(pl, 500, "out of memory", oms);
            return;
        }
    }
    flush_body(pl);
    if (pl->chunked) {
        char *end = malloc(5);
        if (end) {
            memcpy(end, "0\r\n\r\n", 5);
            hg_conn_write(c, end, 5);
        }
    }
    char extra[64];
    snprintf(extra, sizeof extra, "origin_bytes=%zu", pl->origin_bytes);
    access_log(c, pl->req, 200, pl->sent_bytes, oms, pl->rw.presigned, extra);
    int close_after = !pl->req->keep_alive;
    playlist_free(pl);
    hg_conn_finish(c, close_after);
}

static void on_client_gone(void *ctx)
{
    playlist_t *pl = ctx;
    access_log(pl->c, pl->req, 499, pl->sent_bytes, pl->fetch ? hg_fetch_ms(pl->fetch) : 0,
               pl->rw.presigned, "error=\"client closed the connection\"");
    playlist_free(pl); /* cancels the origin transfer */
}

static void on_client_drain(void *ctx)
{
    playlist_t *pl = ctx;
    if (pl->fetch) hg_fetch_resume(pl->fetch);
}

static const hg_fetch_cb_t ORIGIN_CB = {on_origin_data, on_origin_done};

static int valid_host(const char *h, size_t n)
{
    if (!n || n > 255) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || ch == '_'))
            return 0;
    }
    return 1;
}

static void handle_playlist(hg_conn_t *c, hg_request_t *req)
{
    hg_worker_t *w = hg_conn_worker(c);
    const hg_config_t *cfg = w->cfg;
    playlist_t *pl = calloc(1, sizeof *pl);
    if (!pl) {
        send_error(c, req, 500, "internal error\n", "oom");
        return;
    }
    pl->c = c;
    pl->w = w;
    pl->req = req;
    pl->head_only = req->method == HTTP_HEAD;
    pl->now = time(NULL);
    hg_buf_init(&pl->out, 0);
    hg_buf_init(&pl->key, 0);
    hg_buf_init(&pl->scratch, 0);
    hg_buf_init(&pl->base_url, 0);
    hg_buf_init(&pl->errbody, ORIGIN_ERROR_BODY_MAX);
    if (decode_key(c, req, 5, &pl->key) != 0) {
        playlist_free(pl);
        return;
    }
    /* Gateway URLs for nested playlists: the configured public URL, else the request's Host. */
    int rc;
    if (cfg->public_base_url) {
        rc = hg_buf_appends(&pl->base_url, cfg->public_base_url);
    } else if (req->host.len) {
        if (!valid_host(req->host.data, req->host.len)) {
            playlist_free(pl);
            send_error(c, req, 400, "invalid Host header\n", "bad host");
            return;
        }
        rc = hg_buf_appends(&pl->base_url, "http://");
        if (!rc) rc = hg_buf_append(&pl->base_url, req->host.data, req->host.len);
    } else {
        rc = 0; /* HTTP/1.0 without Host: root-relative gateway URLs still resolve */
    }
    if (!rc) rc = hg_buf_appends(&pl->base_url, "/hls/");
    const char *slash = memrchr(pl->key.data, '/', pl->key.len);
    size_t base_len = slash ? (size_t)(slash - pl->key.data) : 0;
    if (!rc) rc = hg_rewriter_init(&pl->rw, pl->key.data, base_len, MAX_LINE, emit_uri, pl);
    hg_buf_t url;
    hg_buf_init(&url, 0);
    if (!rc) rc = object_key(cfg, &pl->scratch, pl->key.data, pl->key.len);
    /* The origin GET is itself a presigned (query-auth) SigV4 request with a short lifetime. */
    if (!rc) rc = hg_presign(w->signer, &url, pl->scratch.data, pl->scratch.len, NULL, 0, pl->now, ORIGIN_URL_EXPIRES);
    if (!rc) rc = hg_buf_appendc(&url, 0);
    if (!rc) pl->fetch = hg_fetch_start(w->origin, url.data, &ORIGIN_CB, pl);
    hg_buf_free(&url);
    if (rc || !pl->fetch) {
        playlist_free(pl);
        send_error(c, req, 500, "internal error\n", "cannot start origin request");
        return;
    }
    hg_reply_t reply = {pl, on_client_gone, on_client_drain};
    hg_conn_set_reply(c, &reply);
}

/* ---- routing ------------------------------------------------------------------------------ */

static int path_is(const hg_request_t *req, const char *p)
{
    size_t n = strlen(p);
    const char *t = req->target.data;
    return req->target.len >= n && memcmp(t, p, n) == 0 && (req->target.len == n || t[n] == '?');
}

static int path_has_prefix(const hg_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->target.len >= n && memcmp(req->target.data, p, n) == 0;
}

static void handle_options(hg_conn_t *c, hg_request_t *req)
{
    char extra[1400];
    const char *acrh = "Range, If-None-Match, If-Modified-Since, Accept, Accept-Encoding, Origin";
    char asked[1100];
    /* Echo the requested header names when they are plain tokens. */
    if (req->acr_headers.len && req->acr_headers.len < sizeof asked) {
        int ok = 1;
        for (size_t i = 0; i < req->acr_headers.len && ok; i++) {
            char ch = req->acr_headers.data[i];
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == ',' || ch == ' ';
        }
        if (ok) {
            memcpy(asked, req->acr_headers.data, req->acr_headers.len);
            asked[req->acr_headers.len] = 0;
            acrh = asked;
        }
    }
    snprintf(extra, sizeof extra,
             "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Headers: %s\r\n"
             "Access-Control-Max-Age: 86400\r\nAllow: GET, HEAD, OPTIONS\r\n",
             acrh);
    access_log(c, req, 204, 0, 0, 0, NULL);
    hg_conn_send_simple(c, req, 204, extra, NULL, 0);
}

void hg_gateway_dispatch(hg_conn_t *c, hg_request_t *req)
{
    if (req->target.len == 0 || req->target.data[0] != '/') {
        if (req->method == HTTP_OPTIONS && req->target.len == 1 && req->target.data[0] == '*') {
            handle_options(c, req);
            return;
        }
        send_error(c, req, 400, "request target must be an absolute path\n", "target form");
        return;
    }
    if (req->method == HTTP_OPTIONS) {
        handle_options(c, req);
        return;
    }
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    int route = path_has_prefix(req, "/hls/") ? 1 : path_has_prefix(req, "/hls-seg/") ? 2
              : path_is(req, "/healthz") ? 3 : path_is(req, "/readyz") ? 4 : 0;
    if (!route) {
        send_error(c, req, 404, "not found\n", "no route");
        return;
    }
    if (!get) {
        send_error(c, req, 405, "method not allowed\n", "method");
        return;
    }
    if (route == 1) handle_playlist(c, req);
    else if (route == 2) handle_segment(c, req);
    else if (route == 4 && hg_conn_worker(c)->stopping) {
        /* Draining: tell load balancers to stop sending new work here. */
        send_error(c, req, 503, "draining\n", "draining");
    } else {
        access_log(c, req, 200, 3, 0, 0, NULL);
        hg_conn_send_simple(c, req, 200, "Cache-Control: no-store\r\n", "ok\n", 0);
    }
}
