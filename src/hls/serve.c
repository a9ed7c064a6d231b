#include "serve.h"

#include <stdio.h>
#include <string.h>

#include "../answer.h"
#include "../common/map.h"
#include "../common/query.h"
#include "head.h"
#include "passq.h"

/* The entry's body with "?sq" or "&sq" after every nested playlist URL, for one request. */
static void serve_spliced(hg_playlists_t *pl, hg_conn_t *c, hg_request_t *req, hg_pl_entry_t *e,
                          const hg_buf_t *sq, const char *how, double origin_ms)
{
    hg_ctx_t *ctx = pl->ctx;
    const char *body = e->resp->data + e->resp_hdr;
    size_t blen = e->resp->len - e->resp_hdr;
    hg_buf_t out;
    hg_buf_init(&out, 0);
    int rc = hg_buf_reserve(&out, blen + e->nins * (sq->len + 1));
    size_t at = 0;
    for (size_t i = 0; !rc && i < e->nins; i++) {
        size_t off = e->ins[i] >> 1;
        if (off < at || off > blen) break;
        rc = hg_buf_append(&out, body + at, off - at);
        if (!rc) rc = hg_buf_appendc(&out, (e->ins[i] & 1) ? '&' : '?');
        if (!rc) rc = hg_buf_append(&out, sq->data, sq->len);
        at = off;
    }
    if (!rc) rc = hg_buf_append(&out, body + at, blen - at);
    if (rc) {
        hg_buf_free(&out);
        hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
        return;
    }
    char etag[48] = "";
    if (e->etag[0])
        snprintf(etag, sizeof etag, "\"%016llx\"",
                 (unsigned long long)(hg_hash_stable(e->etag, strlen(e->etag)) ^ hg_hash_stable(sq->data, sq->len) * 131));
    int close_after = !req->keep_alive;
    int nm = hg_etag_matches(req->if_none_match.data, req->if_none_match.len, etag);
    char head[HG_WRITE_HEAD_MAX];
    size_t n = hg_http_prefix(hg_conn_server(c), head, sizeof head - HG_PL_HEAD_MAX, nm ? 304 : 200, close_after);
    hg_pl_head_t h = {nm ? 304 : 200, e->max_age, etag, 0, 0, (long long)out.len};
    size_t m = n ? hg_pl_head(head + n, sizeof head - n, &h) : 0;
    char extra[64];
    snprintf(extra, sizeof extra, "cache=%s pass_query=1", how);
    hg_answer_done(ctx, c, req, nm ? 304 : 200, nm ? 0 : out.len, origin_ms, e->presigned, extra);
    if (!m) {
        hg_buf_free(&out);
        hg_conn_abort(c);
        return;
    }
    hg_rbuf_t *rb = nm || req->method == HTTP_HEAD ? NULL : hg_rbuf_copy(out.data, out.len);
    hg_conn_write_ref(c, head, n + m, rb, 0, rb ? rb->len : 0, 0);
    hg_buf_free(&out);
    hg_conn_finish(c, close_after);
}

void hg_pl_entry_serve(hg_playlists_t *pl, hg_conn_t *c, hg_request_t *req, hg_pl_entry_t *e,
                       const char *ckey, size_t ckey_len, const char *how, double origin_ms)
{
    hg_ctx_t *ctx = pl->ctx;
    if (!e->resp) {
        /* Only a streamed, uncached response has no stored body: nobody should be left. */
        hg_answer_error(ctx, c, req, 500, "internal error\n", "no stored response");
        return;
    }
    if (e->nins && pl->ctx->cfg->pass_query) {
        hg_buf_t sq;
        hg_buf_init(&sq, 4096);
        const char *q;
        size_t qlen;
        hg_target_split(req->target.data, req->target.len, &q, &qlen);
        int rc = hg_passq_split(pl->ctx->cfg, q, qlen, NULL, &sq);
        if (!rc && sq.len) {
            serve_spliced(pl, c, req, e, &sq, how, origin_ms);
            hg_buf_free(&sq);
            return;
        }
        hg_buf_free(&sq);
    }
    int close_after = !req->keep_alive;
    char head[HG_WRITE_HEAD_MAX];
    char extra[64];
    snprintf(extra, sizeof extra, "cache=%s", how);
    int gz = 0;
    if (req->accept_gzip && !e->gz && hg_pl_entry_make_gz(e) == 0 && pl->cache.max_bytes &&
        hg_cache_get(&pl->cache, ckey, ckey_len) == e)
        hg_cache_resize(&pl->cache, ckey, ckey_len, hg_pl_entry_bytes(e));
    gz = req->accept_gzip && e->gz;
    char gzet[64];
    hg_gz_etag(e->etag, gzet, sizeof gzet);
    const char *etag = gz ? gzet : e->etag;
    size_t n = hg_http_prefix(hg_conn_server(c), head, sizeof head - HG_PL_HEAD_MAX,
                              hg_etag_matches(req->if_none_match.data, req->if_none_match.len, etag) ? 304 : 200,
                              close_after);
    if (hg_etag_matches(req->if_none_match.data, req->if_none_match.len, etag)) {
        hg_pl_head_t h = {304, e->max_age, e->etag, gz, 0, -1};
        size_t m = n ? hg_pl_head(head + n, sizeof head - n, &h) : 0;
        hg_answer_done(ctx, c, req, 304, 0, origin_ms, 0, extra);
        if (!m) {
            hg_conn_abort(c);
            return;
        }
        hg_conn_write_ref(c, head, n + m, NULL, 0, 0, 0);
        hg_conn_finish(c, close_after);
        return;
    }
    hg_rbuf_t *rb = gz ? e->gz : e->resp;
    size_t hdr = gz ? e->gz_hdr : e->resp_hdr;
    size_t len = req->method == HTTP_HEAD ? hdr : rb->len;
    hg_answer_done(ctx, c, req, 200, rb->len - hdr, origin_ms, e->presigned, extra);
    if (!n) {
        hg_conn_abort(c);
        return;
    }
    hg_conn_write_ref(c, head, n, hg_rbuf_ref(rb), 0, len, 0);
    hg_conn_finish(c, close_after);
}
