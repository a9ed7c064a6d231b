#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../answer.h"
#include "../common/query.h"
#include "../common/rbuf.h"
#include "../sign/segsign.h"
#include "../sign/window.h"
#include "key.h"
#include "uri.h"

#define BODY "redirecting to storage\n"

typedef struct {
    hg_rbuf_t *resp; /* headers after the per-request prefix, then the body */
    size_t hdr;
    int64_t window;
} redirect_t;

static void redirect_free(void *p)
{
    redirect_t *r = p;
    hg_rbuf_unref(r->resp);
    free(r);
}

static size_t share(const hg_config_t *cfg)
{
    /* A sixteenth of the playlist cache's budget. */
    return cfg->cache_bytes / (size_t)(cfg->workers > 0 ? cfg->workers : 1) / 16;
}

hg_segments_t *hg_segments_new(const hg_config_t *cfg)
{
    hg_segments_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    hg_cache_init(&s->redirects, share(cfg), redirect_free);
    hg_buf_init(&s->key, 0);
    hg_buf_init(&s->objkey, 0);
    return s;
}

void hg_segments_reload(hg_segments_t *s, const hg_config_t *cfg)
{
    hg_cache_clear(&s->redirects);
    hg_cache_set_max(&s->redirects, share(cfg));
}

void hg_segments_free(hg_segments_t *s)
{
    if (!s) return;
    hg_cache_free(&s->redirects);
    hg_buf_free(&s->key);
    hg_buf_free(&s->objkey);
    free(s);
}

static int fresh_cb(const void *p, void *arg)
{
    return ((const redirect_t *)p)->window == *(const int64_t *)arg;
}

/* Build the answer of this window. The request's own query is dropped: signing client-chosen
 * parameters (response-content-type and friends) would let anyone mint URLs that change how the
 * bucket answers. */
static redirect_t *make_redirect(hg_ctx_t *ctx, hg_segments_t *s, int64_t window)
{
    const hg_config_t *cfg = ctx->cfg;
    hg_buf_t h;
    hg_buf_init(&h, 0);
    int rc = hg_object_key(cfg->key_prefix, &s->objkey, s->key.data, s->key.len);
    if (!rc) rc = hg_buf_appends(&h, "Location: ");
    if (!rc) rc = hg_segsigner_url(ctx->segsigner, &h, s->objkey.data, s->objkey.len, NULL, 0, window,
                                   hg_window_expires(cfg->presign_expires, cfg->sign_window));
    if (!rc) rc = hg_buf_appendf(&h, "\r\nCache-Control: private, max-age=60\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Length: %zu\r\n\r\n", sizeof BODY - 1);
    size_t hdr = h.len;
    if (!rc) rc = hg_buf_appends(&h, BODY);
    redirect_t *r = rc ? NULL : calloc(1, sizeof *r);
    if (r && !(r->resp = hg_rbuf_copy(h.data, h.len))) {
        free(r);
        r = NULL;
    }
    hg_buf_free(&h);
    if (!r) return NULL;
    hg_count(&ctx->metrics->presigned, 1);
    r->hdr = hdr;
    r->window = window;
    return r;
}

void hg_segment_handle(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
{
    hg_segments_t *s = ctx->seg;
    const hg_config_t *cfg = ctx->cfg;
    hg_buf_reset(&s->key);
    size_t plen = hg_target_split(req->target.data, req->target.len, NULL, NULL);
    if (hg_key_from_path(ctx, c, req, req->target.data + 9, plen - 9, &s->key) != 0) return;
    /* Only media by extension: this endpoint must not become a general presigning oracle. */
    const char *slash = memrchr(s->key.data, '/', s->key.len);
    const char *name = slash ? slash + 1 : s->key.data;
    size_t nl = s->key.len - (size_t)(name - s->key.data);
    const char *dot = memrchr(name, '.', nl);
    if (!dot || !hg_config_seg_ext_allowed(cfg, dot + 1, nl - (size_t)(dot + 1 - name))) {
        hg_answer_error(ctx, c, req, 403, "extension not allowed\n", "extension");
        return;
    }
    int64_t window = hg_window_start(cfg->sign_window, time(NULL));
    redirect_t *r = hg_cache_lookup(&s->redirects, s->key.data, s->key.len, fresh_cb, &window, NULL);
    int owned = 0;
    if (!r) {
        r = make_redirect(ctx, s, window);
        if (!r) {
            hg_answer_error(ctx, c, req, 500, "internal error\n", "presign");
            return;
        }
        /* No room to keep it: answer once from our own copy. */
        owned = hg_cache_put(&s->redirects, s->key.data, s->key.len, r, r->resp->len) != 0;
    }
    int close_after = !req->keep_alive;
    char head[HG_WRITE_HEAD_MAX];
    size_t n = hg_http_prefix(hg_conn_server(c), head, sizeof head, 302, close_after);
    hg_answer_done(ctx, c, req, 302, sizeof BODY - 1, 0, 1, NULL);
    hg_conn_write_ref(c, head, n, hg_rbuf_ref(r->resp), 0, req->method == HTTP_HEAD ? r->hdr : r->resp->len, 0);
    if (owned) redirect_free(r);
    hg_conn_finish(c, close_after);
}
