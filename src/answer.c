#include "answer.h"

#include <stdio.h>
#include <string.h>

#include "access_log.h"
#include "common/log.h"

void hg_answer_done(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status, size_t bytes,
                    double origin_ms, long presigned, const char *extra)
{
    hg_metrics_request(ctx->metrics, req->route, status);
    /* Behind a trusted proxy the client is the first X-Forwarded-For hop. */
    const char *cl = hg_conn_peer(c);
    size_t cll = strlen(cl);
    if (ctx->cfg->trust_proxy && req->xff.len) {
        cl = req->xff.data;
        const char *comma = memchr(cl, ',', req->xff.len);
        cll = comma ? (size_t)(comma - cl) : req->xff.len;
        while (cll && (*cl == ' ' || *cl == '\t')) cl++, cll--;
        while (cll && (cl[cll - 1] == ' ' || cl[cll - 1] == '\t')) cll--;
    }
    hg_access_log(ctx->worker_id, cl, cll, req, status, bytes, origin_ms, presigned, extra);
}

void hg_answer_error_x(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status,
                       const char *extra, const char *body, const char *why)
{
    char x[256], q[200];
    snprintf(x, sizeof x, "error=%s", hg_log_quote(q, sizeof q, why, strlen(why)));
    hg_answer_done(ctx, c, req, status, strlen(body), 0, 0, x);
    int close_after = status == 400 || status == 413 || status == 414 || status == 431;
    hg_conn_send_simple(c, req, status, extra, body, close_after);
}

void hg_answer_error(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status,
                     const char *body, const char *why)
{
    hg_answer_error_x(ctx, c, req, status, status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL, body, why);
}
