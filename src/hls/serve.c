#include "serve.h"

#include <stdio.h>
#include <string.h>

#include "../answer.h"
#include "head.h"

void hg_pl_entry_serve(hg_playlists_t *pl, hg_conn_t *c, hg_request_t *req, hg_pl_entry_t *e,
                       const char *ckey, size_t ckey_len, const char *how, double origin_ms)
{
    hg_ctx_t *ctx = pl->ctx;
    if (!e->resp) {
        /* Only a streamed, uncached response has no stored body: nobody should be left. */
        hg_answer_error(ctx, c, req, 500, "internal error\n", "no stored response");
        return;
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
