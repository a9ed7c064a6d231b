#include "gateway.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "common/query.h"
#include "hls/playlist.h"
#include "hls/segment.h"
#include "origin/clock.h"
#include "origin/creds.h"
#include "sign/segsign.h"
#include "token.h"

int hg_gateway_route(const char *t, size_t n)
{
    if (n >= 5 && memcmp(t, "/hls/", 5) == 0) return HG_ROUTE_HLS;
    if (n >= 9 && memcmp(t, "/hls-seg/", 9) == 0) return HG_ROUTE_SEG;
    if (hg_target_is(t, n, "/metrics")) return HG_ROUTE_METRICS;
    if (hg_target_is(t, n, "/healthz") || hg_target_is(t, n, "/readyz")) return HG_ROUTE_HEALTH;
    return HG_ROUTE_OTHER;
}

static void handle_options(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
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
    hg_answer_done(ctx, c, req, 204, 0, 0, 0, NULL);
    hg_conn_send_simple(c, req, 204, extra, NULL, 0);
}

/* Access tokens: checked before anything is fetched or signed. Returns 0 or answers 403. */
static int check_token(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
{
    const hg_config_t *cfg = ctx->cfg;
    hg_buf_t tok;
    hg_buf_init(&tok, 4096);
    const char *q, *raw = NULL;
    size_t qlen, raw_len = 0;
    size_t plen = hg_target_split(req->target.data, req->target.len, &q, &qlen);
    int found = hg_query_find(q, qlen, cfg->token_param, &tok, &raw, &raw_len);
    hg_token_result_t r = found < 0 ? HG_TOKEN_MALFORMED
                        : hg_token_verify(cfg->token_secret, cfg->token_secret_len, tok.data, found ? tok.len : 0,
                                          req->target.data, plen, time(NULL));
    hg_buf_free(&tok);
    if (r == HG_TOKEN_OK) return 0;
    char body[96];
    snprintf(body, sizeof body, "%s\n", hg_token_reason(r));
    hg_answer_error(ctx, c, req, 403, body, hg_token_reason(r));
    return -1;
}

/* Bring the worker's signers up to the current credentials (one atomic load when nothing
 * changed). Returns 0, or answers 503 while there are none (first fetch pending) or they expired
 * (refresh failing): the log line names the provider and the error. */
static int sync_credentials(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
{
    char why[400] = "";
    unsigned long before = ctx->creds_gen;
    int cs = hg_creds_sync(hg_creds_shared(), ctx->cfg, &ctx->signer, &ctx->creds_gen, &ctx->creds_expiration, why,
                           sizeof why);
    if (ctx->signer) hg_segsigner_use_s3(ctx->segsigner, ctx->signer);
    if (before && ctx->creds_gen != before) {
        /* Rotated: cached answers carry URLs of the old session, which dies soon. */
        hg_playlists_reload(ctx->pl);
        hg_playlists_metrics(ctx->pl);
        hg_segments_reload(ctx->seg, ctx->cfg);
    }
    if (cs == HG_CREDS_OK) return 0;
    hg_answer_error(ctx, c, req, 503, "storage credentials unavailable\n", cs == HG_CREDS_ERROR ? "cannot create signer" : why);
    return -1;
}

static void handle_metrics(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
{
    hg_buf_t b;
    hg_buf_init(&b, 0);
    if (hg_metrics_render(&b) || hg_buf_appendc(&b, 0)) {
        hg_buf_free(&b);
        hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
        return;
    }
    hg_answer_done(ctx, c, req, 200, b.len - 1, 0, 0, NULL);
    hg_conn_send_simple(c, req, 200, "Cache-Control: no-store\r\nContent-Type: text/plain; version=0.0.4\r\n", b.data, 0);
    hg_buf_free(&b);
}

void hg_gateway_handle(void *arg, hg_conn_t *c, hg_request_t *req)
{
    hg_ctx_t *ctx = arg;
    const char *t = req->target.data ? req->target.data : "";
    size_t tl = req->target.len;
    req->route = hg_gateway_route(t, tl);
    if (req->method == HTTP_OPTIONS) {
        req->route = HG_ROUTE_OPTIONS;
        if ((tl == 1 && t[0] == '*') || (tl && t[0] == '/')) {
            handle_options(ctx, c, req);
            return;
        }
    }
    if (tl == 0 || t[0] != '/') {
        hg_answer_error(ctx, c, req, 400, "request target must be an absolute path\n", "target form");
        return;
    }
    if (memchr(t, '#', tl)) {
        /* A fragment never belongs in a request target (RFC 9112 3.2). */
        hg_answer_error(ctx, c, req, 400, "fragment in request target\n", "fragment");
        return;
    }
    if (req->route == HG_ROUTE_OTHER) {
        hg_answer_error(ctx, c, req, 404, "not found\n", "no route");
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        hg_answer_error(ctx, c, req, 405, "method not allowed\n", "method");
        return;
    }
    int media = req->route == HG_ROUTE_HLS || req->route == HG_ROUTE_SEG;
    if (media && ctx->cfg->token_secret && check_token(ctx, c, req)) return;
    if (media && sync_credentials(ctx, c, req)) return;
    switch (req->route) {
    case HG_ROUTE_HLS: hg_playlist_handle(ctx, c, req); return;
    case HG_ROUTE_SEG: hg_segment_handle(ctx, c, req); return;
    case HG_ROUTE_METRICS: handle_metrics(ctx, c, req); return;
    default: break;
    }
    if (hg_target_is(t, tl, "/readyz") && ctx->draining) {
        /* Draining: tell load balancers to stop sending new work here. */
        hg_answer_error(ctx, c, req, 503, "draining\n", "draining");
        return;
    }
    char why[300] = "";
    if (hg_target_is(t, tl, "/readyz") && hg_creds_shared() &&
        hg_creds_status(hg_creds_shared(), hg_signing_now(), why, sizeof why) != HG_CREDS_OK) {
        /* No usable storage credentials (first fetch pending, or expired): not ready. */
        hg_answer_error(ctx, c, req, 503, "storage credentials unavailable\n", why);
        return;
    }
    hg_answer_done(ctx, c, req, 200, 3, 0, 0, NULL);
    hg_conn_send_simple(c, req, 200, "Cache-Control: no-store\r\n", "ok\n", 0);
}
