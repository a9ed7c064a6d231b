/* Answers from finished responses: cache hits of /hls (identity, gzip made once, HEAD, 304) and
 * /hls-seg redirects, each one uv_write of a per-request prefix and a shared buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/gz.h"
#include "common/log.h"
#include "gateway.h"
#include "playlist_int.h"
#include "sign/sigv4.h"
#include "origin/clock.h" /* [storage hook] */
#include "origin/creds.h"

/* Does an If-None-Match list contain etag (or *)? Weak and strong forms both match. */
int hg_etag_matches(const hg_buf_t *inm, const char *etag)
{
    if (!inm->len || !etag[0]) return 0;
    size_t el = strlen(etag);
    const char *p = inm->data, *e = inm->data + inm->len;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == ',' || *p == '\t')) p++;
        if (p + 2 <= e && p[0] == 'W' && p[1] == '/') p += 2;
        const char *s = p;
        while (p < e && *p != ',') p++;
        const char *t = p;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - s) == 1 && *s == '*') return 1;
        if ((size_t)(t - s) == el && memcmp(s, etag, el) == 0) return 1;
    }
    return 0;
}

/* The gzip variant's ETag: the identity ETag with -gz inside the quotes. */
void hg_gz_etag(const char *etag, char *out, size_t cap)
{
    size_t l = strlen(etag);
    if (l >= 2) snprintf(out, cap, "%.*s-gz\"", (int)(l - 1), etag);
    else out[0] = 0;
}

/* The part of every response that is per request: status line, Date, and Connection. */
size_t hg_resp_prefix(hg_worker_t *w, char *dst, size_t cap, int status, int close_after)
{
    hg_buf_t b;
    hg_buf_init(&b, 0);
    b.data = dst;
    b.cap = cap;
    b.max = cap;
    /* A buffer over caller storage: hg_response_head never reallocates within cap. */
    if (hg_response_head(w, &b, status) || (close_after && hg_buf_appends(&b, "Connection: close\r\n")))
        return 0;
    return b.len;
}

/* Export the cache's own counters as this worker's gauges. */
void hg_sync_cache_metrics(hg_worker_t *w, gw_t *gw)
{
    hg_gauge(&w->metrics.cache_bytes, gw->cache.bytes);
    hg_gauge(&w->metrics.cache_entries, gw->cache.map.n);
    hg_gauge(&w->metrics.cache_evictions, gw->cache.evictions);
    hg_gauge(&w->metrics.cache_hits, gw->cache.hits);
    hg_gauge(&w->metrics.cache_misses, gw->cache.misses);
}

/* ---- cache hits ------------------------------------------------------------------------- */

/* Make the gzip form of a cached response the first time a client asks for it. */
static int ensure_gz(gw_t *gw, hg_entry_t *e)
{
    if (e->gz) return 0;
    hg_buf_t z, h;
    hg_buf_init(&z, 0);
    hg_buf_init(&h, 0);
    char etag[64];
    hg_gz_etag(e->etag, etag, sizeof etag);
    int rc = hg_gzip(&z, e->resp->data + e->resp_hdr, e->resp->len - e->resp_hdr);
    if (!rc)
        rc = hg_buf_appendf(&h, PLAYLIST_CT "Cache-Control: public, max-age=%ld\r\n%s%s%sVary: Accept-Encoding\r\n"
                                "Content-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                            e->max_age, etag[0] ? "ETag: " : "", etag, etag[0] ? "\r\n" : "", z.len);
    if (!rc && (e->gz = hg_rbuf_new(h.len + z.len))) {
        memcpy(e->gz->data, h.data, h.len);
        memcpy(e->gz->data + h.len, z.data, z.len);
        e->gz_hdr = h.len;
        hg_cache_grow(&gw->cache, e, e->gz->len);
        hg_sync_cache_metrics(gw->w, gw);
    } else if (!rc) {
        rc = HG_ENOMEM;
    }
    hg_buf_free(&z);
    hg_buf_free(&h);
    return rc;
}

/* Answer from a finished response: one uv_write of the prefix and the shared entry buffer. */
void hg_serve_entry(hg_conn_t *c, hg_request_t *req, hg_entry_t *e, const char *how, double origin_ms)
{
    hg_worker_t *w = hg_conn_worker(c);
    int close_after = !req->keep_alive;
    char head[HG_WRITE_HEAD_MAX];
    char extra[64];
    snprintf(extra, sizeof extra, "cache=%s", how);
    int gz = req->accept_gzip && ensure_gz(gw_of(w), e) == 0;
    const char *etag = e->etag;
    char gzet[64];
    if (gz) {
        hg_gz_etag(e->etag, gzet, sizeof gzet);
        etag = gzet;
    }
    if (hg_etag_matches(&req->if_none_match, etag)) {
        size_t n = hg_resp_prefix(w, head, sizeof head, 304, close_after);
        int m = snprintf(head + n, sizeof head - n, "ETag: %s\r\nCache-Control: public, max-age=%ld\r\nVary: Accept-Encoding\r\n\r\n",
                         etag, e->max_age);
        hg_access_log(c, req, 304, 0, origin_ms, 0, extra);
        hg_conn_write_ref(c, head, n + (size_t)m, NULL, 0, 0, 0);
        hg_conn_finish(c, close_after);
        return;
    }
    hg_rbuf_t *rb = gz ? e->gz : e->resp;
    size_t hdr = gz ? e->gz_hdr : e->resp_hdr;
    size_t n = hg_resp_prefix(w, head, sizeof head, 200, close_after);
    size_t len = req->method == HTTP_HEAD ? hdr : rb->len;
    hg_access_log(c, req, 200, rb->len - hdr, origin_ms, e->presigned, extra);
    hg_conn_write_ref(c, head, n, hg_rbuf_ref(rb), 0, len, 0);
    hg_conn_finish(c, close_after);
}

int hg_entry_fresh(const hg_worker_t *w, const hg_entry_t *e, int64_t window)
{
    if (!e->resp || e->window != window) return 0;
    return !e->fresh_until || uv_now((uv_loop_t *)&w->loop) < e->fresh_until;
}

/* ---- /hls-seg/{key} ------------------------------------------------------------------- */

void hg_handle_segment(hg_conn_t *c, hg_request_t *req)
{
    hg_worker_t *w = hg_conn_worker(c);
    gw_t *gw = gw_of(w);
    const hg_config_t *cfg = w->cfg;
    hg_buf_t *key = &gw->key;
    hg_buf_reset(key);
    if (hg_decode_key(c, req, 9, key) != 0) return;
    /* Only media by extension: this endpoint must not become a general presigning oracle. */
    const char *slash = memrchr(key->data, '/', key->len);
    const char *name = slash ? slash + 1 : key->data;
    size_t nl = key->len - (size_t)(name - key->data);
    const char *dot = memrchr(name, '.', nl);
    if (!dot || !hg_config_seg_ext_allowed(cfg, dot + 1, nl - (size_t)(dot + 1 - name))) {
        hg_send_error(c, req, 403, "extension not allowed\n", "extension");
        return;
    }
    int64_t window = hg_window_start(cfg, hg_signing_now()); /* [storage hook] clock skew */
    int close_after = !req->keep_alive;
    hg_entry_t *e = gw->redirects.max_bytes ? hg_cache_get(&gw->redirects, key->data, key->len) : NULL;
    if (!e || e->window != window) {
        /* The request's own query is dropped: signing client-chosen parameters
         * (response-content-type and friends) would let anyone mint URLs that change how the
         * bucket answers. */
        hg_buf_t h;
        hg_buf_init(&h, 0);
        int rc = hg_object_key(cfg, &gw->ckey, key->data, key->len);
        if (!rc) rc = hg_buf_appends(&h, "Location: ");
        if (!rc) rc = hg_presign(w->signer, &h, gw->ckey.data, gw->ckey.len, NULL, 0, window,
                                      /* [storage hook] capped at the credentials' lifetime */
                                      hg_creds_cap_expires(w->creds_expiration, (time_t)window, hg_window_expires(cfg), NULL));
        if (!rc) rc = hg_buf_appends(&h, "\r\nCache-Control: private, max-age=60\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                         "Content-Length: 23\r\n\r\n");
        size_t hdr = h.len;
        if (!rc) rc = hg_buf_appends(&h, "redirecting to storage\n");
        hg_entry_t *fresh = rc ? NULL : hg_entry_new(key->data, key->len);
        if (fresh && !(fresh->resp = hg_rbuf_copy(h.data, h.len))) {
            hg_entry_free(fresh);
            fresh = NULL;
        }
        hg_buf_free(&h);
        if (!fresh) {
            hg_send_error(c, req, 500, "internal error\n", "presign");
            return;
        }
        hg_count(&w->metrics.presigned, 1);
        fresh->resp_hdr = hdr;
        fresh->window = window;
        hg_entry_account(fresh);
        if (!gw->redirects.max_bytes || hg_cache_put(&gw->redirects, fresh) != 0) {
            /* No room to keep it: answer once from the detached entry. */
            char head[HG_WRITE_HEAD_MAX];
            size_t n = hg_resp_prefix(w, head, sizeof head, 302, close_after);
            hg_access_log(c, req, 302, 23, 0, 1, NULL);
            hg_conn_write_ref(c, head, n, hg_rbuf_ref(fresh->resp), 0,
                              req->method == HTTP_HEAD ? fresh->resp_hdr : fresh->resp->len, 0);
            hg_entry_free(fresh);
            hg_conn_finish(c, close_after);
            return;
        }
        e = fresh;
    }
    char head[HG_WRITE_HEAD_MAX];
    size_t n = hg_resp_prefix(w, head, sizeof head, 302, close_after);
    hg_access_log(c, req, 302, 23, 0, 1, NULL);
    hg_conn_write_ref(c, head, n, hg_rbuf_ref(e->resp), 0, req->method == HTTP_HEAD ? e->resp_hdr : e->resp->len, 0);
    hg_conn_finish(c, close_after);
}

