/* Routing and the request handlers: /hls/{key} (streamed playlist rewrite), /hls-seg/{key}
 * (302 to a presigned URL), OPTIONS (CORS preflight), /healthz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway.h"
#include "token.h"
#include "common/log.h"
#include "common/pct.h"
#include "hls/rewrite.h"
#include "hls/uri.h"
#include "http/server.h"
#include "origin/origin.h"
#include "origin/creds.h" /* [storage hook] */
#include "sign/sigv4.h"

/* ---- small helpers ------------------------------------------------------------------------ */

int64_t hg_window_start(const hg_config_t *cfg, time_t now)
{
    return cfg->sign_window ? now - now % cfg->sign_window : now;
}

long hg_window_expires(const hg_config_t *cfg)
{
    long e = cfg->presign_expires + cfg->sign_window;
    return e > HG_PRESIGN_MAX_EXPIRES ? HG_PRESIGN_MAX_EXPIRES : e;
}

static double ms_since(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e6;
}

static const char *method_name(int m)
{
    return llhttp_method_name((llhttp_method_t)m);
}

void hg_access_log(hg_conn_t *c, const hg_request_t *req, int status, size_t bytes,
                   double origin_ms, long presigned, const char *extra)
{
    hg_worker_t *w = hg_conn_worker(c);
    const char *t = req->target.data ? req->target.data : "";
    size_t tl = req->target.len;
    const char *q = memchr(t, '?', tl);
    if (q) tl = (size_t)(q - t); /* query strings may carry tokens: never logged */
    hg_metrics_request(&w->metrics, hg_metrics_route(t, tl), status);
    if (hg_log_level > HG_LOG_INFO) return;
    char path[512], client[80];
    /* Behind a trusted proxy the client is the first X-Forwarded-For hop. */
    const char *cl = hg_conn_peer(c);
    size_t cll = strlen(cl);
    if (w->cfg->trust_proxy && req->xff.len) {
        cl = req->xff.data;
        const char *comma = memchr(cl, ',', req->xff.len);
        cll = comma ? (size_t)(comma - cl) : req->xff.len;
        while (cll && (*cl == ' ' || *cl == '\t')) cl++, cll--;
        while (cll && (cl[cll - 1] == ' ' || cl[cll - 1] == '\t')) cll--;
    }
    hg_log(HG_LOG_INFO, "method=%s path=%s status=%d bytes=%zu dur_ms=%.2f origin_ms=%.2f presigned_urls=%ld worker=%d client=%s%s%s",
           method_name(req->method), hg_log_quote(path, sizeof path, t, tl), status, bytes,
           ms_since(req->t_start), origin_ms, presigned, w->id, hg_log_quote(client, sizeof client, cl, cll),
           extra ? " " : "", extra ? extra : "");
}

void hg_send_error(hg_conn_t *c, hg_request_t *req, int status, const char *body, const char *why)
{
    char extra[256];
    snprintf(extra, sizeof extra, "error=\"%s\"", why);
    hg_access_log(c, req, status, strlen(body), 0, 0, extra);
    int close_after = status == 400 || status == 413 || status == 414 || status == 431;
    hg_conn_send_simple(c, req, status, status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL, body, close_after);
}

/* Split the target into a decoded, checked namespace key after `prefix_len` bytes of path. */
int hg_decode_key(hg_conn_t *c, hg_request_t *req, size_t prefix_len, hg_buf_t *key)
{
    const char *t = req->target.data;
    size_t pl = req->target.len;
    const char *q = memchr(t, '?', pl);
    if (q) pl = (size_t)(q - t);
    if (hg_pct_decode(key, t + prefix_len, pl - prefix_len) != 0) {
        hg_send_error(c, req, 400, "bad percent-encoding in path\n", "bad escape");
        return -1;
    }
    hg_uri_result_t r = hg_key_check(key->data ? key->data : "", key->len);
    if (r == HG_URI_ESCAPES) {
        hg_send_error(c, req, 403, "path leaves the key namespace\n", "dot segment");
        return -1;
    }
    if (r != HG_URI_RESOLVED) {
        hg_send_error(c, req, 400, key->len ? "invalid key in path\n" : "empty key\n", "invalid key");
        return -1;
    }
    return 0;
}

/* Full object key: S3_KEY_PREFIX + '/' + namespace key. */
int hg_object_key(const hg_config_t *cfg, hg_buf_t *out, const char *key, size_t len)
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
    hg_access_log(c, req, 204, 0, 0, 0, NULL);
    hg_conn_send_simple(c, req, 204, extra, NULL, 0);
}

void hg_gateway_dispatch(hg_conn_t *c, hg_request_t *req)
{
    if (req->target.len == 0 || req->target.data[0] != '/') {
        if (req->method == HTTP_OPTIONS && req->target.len == 1 && req->target.data[0] == '*') {
            handle_options(c, req);
            return;
        }
        hg_send_error(c, req, 400, "request target must be an absolute path\n", "target form");
        return;
    }
    if (req->method == HTTP_OPTIONS) {
        handle_options(c, req);
        return;
    }
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    int route = path_has_prefix(req, "/hls/") ? 1 : path_has_prefix(req, "/hls-seg/") ? 2
              : path_is(req, "/healthz") ? 3 : path_is(req, "/readyz") ? 4
              : path_is(req, "/metrics") ? 5 : 0;
    if (!route) {
        hg_send_error(c, req, 404, "not found\n", "no route");
        return;
    }
    if (!get) {
        hg_send_error(c, req, 405, "method not allowed\n", "method");
        return;
    }
    const hg_config_t *cfg = hg_conn_worker(c)->cfg;
    if (cfg->token_secret && (route == 1 || route == 2)) {
        /* Access tokens: checked before anything is fetched or signed. */
        hg_buf_t tok;
        hg_buf_init(&tok, 4096);
        const char *raw = NULL;
        size_t raw_len = 0;
        int found = hg_query_param(req->target.data, req->target.len, cfg->token_param, &tok, &raw, &raw_len);
        const char *q = memchr(req->target.data, '?', req->target.len);
        size_t plen = q ? (size_t)(q - req->target.data) : req->target.len;
        hg_token_result_t r = found < 0 ? HG_TOKEN_MALFORMED
                            : hg_token_verify(cfg->token_secret, cfg->token_secret_len, tok.data, found ? tok.len : 0,
                                              req->target.data, plen, time(NULL));
        hg_buf_free(&tok);
        if (r != HG_TOKEN_OK) {
            char body[96];
            snprintf(body, sizeof body, "%s\n", hg_token_reason(r));
            hg_send_error(c, req, 403, body, hg_token_reason(r));
            return;
        }
    }
    if (route == 1 || route == 2) {
        /* [storage hook] bring the worker's signer up to the current credentials; 503 while
         * there are none (first fetch pending) or they expired (refresh failing). */
        hg_worker_t *w = hg_conn_worker(c);
        char why[400];
        unsigned long gen_before = w->creds_gen;
        int cs = hg_creds_sync(hg_creds_shared(), w->cfg, &w->signer, &w->creds_gen, &w->creds_expiration, why, sizeof why);
        /* Rotated: cached playlists carry URLs of the old session, which dies soon. */
        if (gen_before && w->creds_gen != gen_before) hg_playlist_worker_reconfigure(w);
        if (cs != HG_CREDS_OK) {
            hg_send_error(c, req, 503, "storage credentials unavailable\n", cs == HG_CREDS_ERROR ? "cannot create signer" : why);
            return;
        }
    }
    if (route == 1) hg_handle_playlist(c, req);
    else if (route == 2) hg_handle_segment(c, req);
    else if (route == 5) {
        hg_buf_t b;
        hg_buf_init(&b, 0);
        if (hg_metrics_render(&b) || hg_buf_appendc(&b, 0)) {
            hg_buf_free(&b);
            hg_send_error(c, req, 500, "internal error\n", "oom");
            return;
        }
        hg_access_log(c, req, 200, b.len - 1, 0, 0, NULL);
        hg_conn_send_simple(c, req, 200, "Cache-Control: no-store\r\n", b.data, 0);
        hg_buf_free(&b);
    } else if (route == 4 && hg_conn_worker(c)->stopping) {
        /* Draining: tell load balancers to stop sending new work here. */
        hg_send_error(c, req, 503, "draining\n", "draining");
    } else {
        hg_access_log(c, req, 200, 3, 0, 0, NULL);
        hg_conn_send_simple(c, req, 200, "Cache-Control: no-store\r\n", "ok\n", 0);
    }
}
