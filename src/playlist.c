/* GET|HEAD /hls/{key}: fetch a playlist from the origin, rewrite it as it streams, and serve it
 * from the per-worker cache while its signing window lasts.
 *
 * A *fill* is one origin transfer and its rewrite. Every request for the same playlist that
 * arrives while a fill runs joins it as a *subscriber* (single-flight), and gets the same stream.
 * Rewritten output is cut into shared, counted chunks that go to every subscriber without a copy.
 * When the fill ends, the finished response (headers + body) becomes a cache entry; a later hit
 * is then a single uv_write of a small per-request prefix and the shared entry buffer.
 *
 * Ownership: a fill owns its fetch, rewriter and chunks, and lives until its transfer ended and
 * its last subscriber finished. A subscriber belongs to its fill and to one connection's reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache/cache.h"
#include "common/gz.h"
#include "common/log.h"
#include "common/map.h"
#include "common/pct.h"
#include "gateway.h"
#include "playlist_int.h"
#include "hls/rewrite.h"
#include "origin/origin.h"
#include "origin/clock.h" /* [storage hook] */
#include "origin/creds.h"
#include "sign/sigv4.h"
#include "token.h"

/* Response headers may wait for this much rewritten output, so Cache-Control and the
 * not-a-playlist check can see the playlist's head; past it, bytes stream as they come. */
#define HEAD_BUFFER (64 * 1024)
#define ORIGIN_ERROR_BODY_MAX 512
#define ORIGIN_URL_EXPIRES 60
#define MAX_LINE (1024 * 1024)

typedef struct fill fill_t;
typedef struct sub sub_t;

struct sub {
    sub_t *next;
    fill_t *f;
    hg_conn_t *c;
    hg_request_t *req;
    int head_only;
    int gzip;
    int streaming;   /* headers went out and chunks follow */
    int chunked;     /* HTTP/1.1 chunked framing (HTTP/1.0: raw bytes, then close) */
    size_t sent;     /* chunks already written */
    size_t bytes;    /* body bytes written */
    hg_gz_stream_t *z;
    const char *how; /* "miss", "joined", "bypass": for the access log */
};

struct fill {
    hg_worker_t *w;
    gw_t *gw;
    hg_buf_t ckey;     /* cache key: base URL + '\n' + namespace key */
    int registered;    /* in gw->fills */
    int cacheable;     /* chunks and origin bytes are being kept for the cache */
    hg_buf_t key;      /* namespace key */
    hg_buf_t base_url; /* "{base}/hls/" for nested playlists */
    hg_buf_t scratch;  /* full object key while presigning */
    hg_buf_t query;    /* LL-HLS parameters forwarded to the origin */
    hg_buf_t token;    /* "param=token" added to nested playlist URLs ("" without tokens) */
    hg_fetch_t *fetch;
    int paused;
    hg_rewriter_t rw;
    hg_buf_t out;      /* rewritten bytes not yet cut into a chunk */
    hg_buf_t origin;   /* the origin's bytes, while cacheable */
    hg_buf_t errbody;
    hg_rbuf_t **chunks;
    size_t nchunks, chunks_cap;
    size_t body_len, origin_bytes;
    uint64_t body_hash;
    int64_t window;
    long expires;
    int streaming;     /* the head window was exceeded: subscribers are streaming */
    long max_age;
    char etag[48];     /* "" when unknown while streaming */
    int fail_status;
    const char *fail_reason;
    hg_entry_t *stale; /* entry being revalidated (detached from the cache while we work) */
    sub_t *subs;
    int done;          /* transfer over */
    double origin_ms;  /* time to the origin's first byte (for the access log) */
    unsigned gen;      /* configuration generation the fill started under */
};

static void fill_maybe_free(fill_t *f);
static void sub_finish_stream(sub_t *s);

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t now_ms(hg_worker_t *w)
{
    return uv_now(&w->loop);
}

static long max_age_for(const hg_config_t *cfg, const hg_rewriter_t *rw)
{
    long cap = 300;
    if (cfg->presign_expires / 2 < cap) cap = cfg->presign_expires / 2;
    /* Live unless proven otherwise: when only the head was seen, a missing ENDLIST may just be
     * further down, but serving a live playlist stale is worse than re-fetching a VOD one. */
    if (hg_rewriter_is_live(rw)) {
        long half = rw->target_duration > 0 ? (long)(rw->target_duration / 2) : 1;
        if (half < cap) cap = half;
    }
    return cap;
}

/* Our ETag: from the origin's validator when there is one (known before the body, so streamed
 * responses carry it too), else from a hash of the body. Either way it also covers everything
 * else that shapes the bytes: window, key, gateway URL and signing identity. */
static void make_etag(fill_t *f, const char *origin_etag, int have_body)
{
    const hg_config_t *cfg = f->w->cfg;
    uint64_t h = hg_hash(f->ckey.data, f->ckey.len);
    char mix[200];
    /* [storage hook] platform credentials: no key in cfg, and each rotation changes the URLs,
     * so the credentials' expiry stands in for the signing identity (0 for static keys). */
    int n = snprintf(mix, sizeof mix, "%lld|%ld|%s|%s|%s|%lld", (long long)f->window, f->expires,
                     cfg->s3_endpoint, cfg->s3_bucket, cfg->access_key ? cfg->access_key : "",
                     (long long)f->w->creds_expiration);
    h ^= hg_hash(mix, (size_t)n) * 31;
    if (origin_etag && origin_etag[0]) h ^= hg_hash(origin_etag, strlen(origin_etag)) * 131;
    else if (have_body) h ^= f->body_hash * 131;
    else {
        f->etag[0] = 0;
        return;
    }
    snprintf(f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long)h);
}

/* Build the finished response into a detached entry: headers announcing `total` body bytes,
 * followed by body[0..len) (len is 0 for a headers-only answer to HEAD). */
static hg_entry_t *make_entry(fill_t *f, const char *body, size_t len, size_t total)
{
    hg_entry_t *e = hg_entry_new(f->ckey.data, f->ckey.len);
    if (!e) return NULL;
    hg_buf_t h;
    hg_buf_init(&h, 0);
    int rc = hg_buf_appendf(&h, PLAYLIST_CT "Cache-Control: public, max-age=%ld\r\n%s%s%sVary: Accept-Encoding\r\nContent-Length: %zu\r\n\r\n",
                            f->max_age, f->etag[0] ? "ETag: " : "", f->etag, f->etag[0] ? "\r\n" : "", total);
    if (!rc) rc = hg_buf_reserve(&h, len);
    if (rc) {
        hg_buf_free(&h);
        hg_entry_free(e);
        return NULL;
    }
    e->resp = hg_rbuf_new(h.len + len);
    if (!e->resp) {
        hg_buf_free(&h);
        hg_entry_free(e);
        return NULL;
    }
    memcpy(e->resp->data, h.data, h.len);
    if (len) memcpy(e->resp->data + h.len, body, len);
    e->resp_hdr = h.len;
    hg_buf_free(&h);
    snprintf(e->etag, sizeof e->etag, "%s", f->etag);
    e->window = f->window;
    e->max_age = f->max_age;
    e->presigned = f->rw.presigned;
    if (hg_rewriter_is_live(&f->rw)) {
        double half = f->rw.target_duration > 0 ? f->rw.target_duration / 2 : 1;
        e->fresh_until = now_ms(f->w) + (uint64_t)(half * 1000);
        if (!e->fresh_until) e->fresh_until = 1;
    }
    return e;
}

/* Keep the origin's bytes and validators with the entry, for conditional revalidation. */
static void keep_origin(fill_t *f, hg_entry_t *e, const hg_fetch_done_t *d)
{
    e->origin = hg_rbuf_copy(f->origin.data, f->origin.len);
    snprintf(e->origin_etag, sizeof e->origin_etag, "%s", d->etag);
    snprintf(e->origin_lm, sizeof e->origin_lm, "%s", d->last_modified);
}

/* ---- subscribers ------------------------------------------------------------------------ */

static void sub_unlink(sub_t *s)
{
    fill_t *f = s->f;
    for (sub_t **pp = &f->subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    hg_gz_stream_free(s->z);
    free(s);
}

static void on_client_gone(void *ctx)
{
    sub_t *s = ctx;
    fill_t *f = s->f;
    hg_access_log(s->c, s->req, 499, s->bytes, f->origin_ms, f->rw.presigned, "error=\"client closed the connection\"");
    sub_unlink(s);
    fill_maybe_free(f);
}

static void on_client_drain(void *ctx)
{
    sub_t *s = ctx;
    fill_t *f = s->f;
    if (f->fetch && f->paused) {
        f->paused = 0;
        hg_fetch_resume(f->fetch);
    }
}

/* Write one piece of body to a streaming subscriber (shared chunk, or compressed copy). */
static void sub_write(sub_t *s, hg_rbuf_t *chunk, int finish)
{
    if (s->gzip) {
        hg_buf_t z;
        hg_buf_init(&z, 0);
        if (hg_gz_stream_write(s->z, chunk ? chunk->data : "", chunk ? chunk->len : 0, finish, &z) == 0 && z.len) {
            size_t len = z.len;
            s->bytes += len;
            char *d = hg_buf_steal(&z);
            if (s->chunked) hg_conn_write_chunk(s->c, d, len);
            else hg_conn_write(s->c, d, len);
        }
        hg_buf_free(&z);
        return;
    }
    if (!chunk || !chunk->len) return;
    s->bytes += chunk->len;
    hg_conn_write_ref(s->c, NULL, 0, hg_rbuf_ref(chunk), 0, chunk->len, s->chunked);
}

/* Headers of a streamed response: no length yet, so chunked (or close-delimited for 1.0). */
static void sub_start_stream(sub_t *s)
{
    fill_t *f = s->f;
    hg_worker_t *w = f->w;
    s->chunked = s->req->http_minor >= 1;
    int close_after = !s->req->keep_alive || !s->chunked;
    if (close_after) s->req->keep_alive = 0;
    if (s->gzip && !(s->z = hg_gz_stream_new())) s->gzip = 0;
    char head[HG_WRITE_HEAD_MAX + 256];
    size_t n = hg_resp_prefix(w, head, HG_WRITE_HEAD_MAX, 200, close_after);
    char etag[64];
    if (s->gzip) hg_gz_etag(f->etag, etag, sizeof etag);
    else snprintf(etag, sizeof etag, "%s", f->etag);
    n += (size_t)snprintf(head + n, sizeof head - n, PLAYLIST_CT "Cache-Control: public, max-age=%ld\r\n%s%s%sVary: Accept-Encoding\r\n%s%s\r\n",
                          f->max_age, etag[0] ? "ETag: " : "", etag, etag[0] ? "\r\n" : "",
                          s->gzip ? "Content-Encoding: gzip\r\n" : "",
                          s->chunked ? "Transfer-Encoding: chunked\r\n" : "");
    if (n > HG_WRITE_HEAD_MAX) {
        hg_conn_abort(s->c);
        return;
    }
    hg_conn_write_ref(s->c, head, n, NULL, 0, 0, 0);
    s->streaming = 1;
    for (; s->sent < f->nchunks; s->sent++) sub_write(s, f->chunks[s->sent], 0);
}

/* Cut the pending rewritten bytes into a shared chunk and send it to every streaming
 * subscriber. Kept for the cache while the fill is cacheable. */
static int cut_chunk(fill_t *f)
{
    if (!f->out.len) return 0;
    sub_t *only = f->subs && !f->subs->next ? f->subs : NULL;
    if (!f->cacheable && only && only->streaming && !only->gzip) {
        /* Nothing is kept and one client reads: hand it the buffer itself, no copy. */
        size_t len = f->out.len;
        f->body_len += len;
        only->bytes += len;
        char *d = hg_buf_steal(&f->out);
        if (only->chunked) hg_conn_write_chunk(only->c, d, len);
        else hg_conn_write(only->c, d, len);
        return 0;
    }
    hg_rbuf_t *ch = hg_rbuf_copy(f->out.data, f->out.len);
    if (!ch) return HG_ENOMEM;
    f->body_len += f->out.len;
    hg_buf_reset(&f->out);
    if (f->cacheable) {
        if (f->nchunks == f->chunks_cap) {
            size_t cap = f->chunks_cap ? f->chunks_cap * 2 : 16;
            hg_rbuf_t **n = realloc(f->chunks, cap * sizeof *n);
            if (!n) {
                hg_rbuf_unref(ch);
                return HG_ENOMEM;
            }
            f->chunks = n;
            f->chunks_cap = cap;
        }
        f->chunks[f->nchunks++] = hg_rbuf_ref(ch);
    }
    for (sub_t *s = f->subs; s; s = s->next) {
        if (!s->streaming) continue;
        sub_write(s, ch, 0);
        s->sent = f->nchunks;
    }
    hg_rbuf_unref(ch);
    return 0;
}

/* Stop keeping chunks: the playlist is too large for the cache. */
static void drop_cache_copy(fill_t *f)
{
    if (!f->cacheable) return;
    f->cacheable = 0;
    for (size_t i = 0; i < f->nchunks; i++) hg_rbuf_unref(f->chunks[i]);
    free(f->chunks);
    f->chunks = NULL;
    f->nchunks = f->chunks_cap = 0;
    hg_buf_free(&f->origin);
    if (f->registered) {
        /* Late requests cannot replay the start any more: they start a fill of their own. */
        hg_map_del(&f->gw->fills, f->ckey.data, f->ckey.len);
        f->registered = 0;
    }
}

static void sub_finish_stream(sub_t *s)
{
    if (s->gzip) sub_write(s, NULL, 1);
    if (s->chunked) {
        char *end = malloc(5);
        if (end) {
            memcpy(end, "0\r\n\r\n", 5);
            hg_conn_write(s->c, end, 5);
        }
    }
    char extra[64];
    snprintf(extra, sizeof extra, "cache=%s streamed=1", s->how);
    hg_access_log(s->c, s->req, 200, s->bytes, s->f->origin_ms, s->f->rw.presigned, extra);
    hg_conn_t *c = s->c;
    int close_after = !s->req->keep_alive;
    sub_unlink(s);
    hg_conn_finish(c, close_after);
}

/* ---- fills ------------------------------------------------------------------------------ */

static void fill_free(fill_t *f)
{
    if (f->fetch) hg_fetch_cancel(f->fetch);
    if (f->registered) hg_map_del(&f->gw->fills, f->ckey.data, f->ckey.len);
    hg_rewriter_free(&f->rw);
    for (size_t i = 0; i < f->nchunks; i++) hg_rbuf_unref(f->chunks[i]);
    free(f->chunks);
    hg_entry_free(f->stale);
    hg_buf_free(&f->ckey);
    hg_buf_free(&f->key);
    hg_buf_free(&f->base_url);
    hg_buf_free(&f->scratch);
    hg_buf_free(&f->query);
    hg_buf_free(&f->token);
    hg_buf_free(&f->out);
    hg_buf_free(&f->origin);
    hg_buf_free(&f->errbody);
    free(f);
}

/* When the last subscriber leaves, the origin transfer is cancelled: a client that hangs up
 * stops the work it caused, even if the result would have been cached. */
static void fill_maybe_free(fill_t *f)
{
    if (!f->subs) fill_free(f);
}

static int emit_uri(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                    const char *query, size_t query_len, hg_buf_t *out)
{
    fill_t *f = ud;
    if (kind == HG_URI_PLAYLIST) {
        int rc = hg_buf_append(out, f->base_url.data, f->base_url.len);
        if (!rc) rc = hg_pct_encode(out, key, key_len, 1);
        if (!rc && query) rc = hg_buf_appendc(out, '?');
        if (!rc && query) rc = hg_buf_append(out, query, query_len);
        /* The viewer's access token travels on to nested playlists. */
        if (!rc && f->token.len) rc = hg_buf_appendc(out, query ? '&' : '?');
        if (!rc && f->token.len) rc = hg_buf_append(out, f->token.data, f->token.len);
        return rc;
    }
    int rc = hg_object_key(f->w->cfg, &f->scratch, key, key_len);
    if (rc) return rc;
    hg_count(&f->w->metrics.presigned, 1);
    return hg_presign(f->w->signer, out, f->scratch.data, f->scratch.len, query, query_len,
                      (time_t)f->window, f->expires);
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

/* Every subscriber gets the error: a status if nothing was sent yet, else a truncated body. */
static void fill_fail(fill_t *f, int status, const char *why, double origin_ms)
{
    char extra[384], q[256], body[256];
    snprintf(extra, sizeof extra, "error=%s", hg_log_quote(q, sizeof q, why, strlen(why)));
    snprintf(body, sizeof body, "%d %s: %s\n", status, hg_status_reason(status), why);
    if (f->streaming) hg_log(HG_LOG_WARN, "msg=\"response aborted mid-stream\" %s", extra);
    while (f->subs) {
        sub_t *s = f->subs;
        hg_conn_t *c = s->c;
        hg_request_t *req = s->req;
        int streaming = s->streaming;
        size_t bytes = s->bytes;
        f->subs = s->next;
        hg_gz_stream_free(s->z);
        free(s);
        if (streaming) {
            /* The status line is gone: the only honest signal left is a truncated body. */
            hg_access_log(c, req, 200, bytes, origin_ms, f->rw.presigned, "aborted=1");
            hg_conn_abort(c);
        } else {
            hg_access_log(c, req, status, strlen(body), origin_ms, 0, extra);
            hg_conn_send_simple(c, req, status, NULL, body, 0);
        }
    }
    fill_free(f);
}

static size_t on_origin_data(void *ud, long status, const char *p, size_t n)
{
    fill_t *f = ud;
    if (f->fetch && f->origin_ms == 0) f->origin_ms = hg_fetch_ms(f->fetch);
    if (status == 304) return n;
    if (status != 200) {
        size_t room = ORIGIN_ERROR_BODY_MAX - f->errbody.len;
        hg_buf_append(&f->errbody, p, n < room ? n : room);
        f->origin_bytes += n;
        return f->origin_bytes > HEAD_BUFFER ? HG_FETCH_ABORT : n;
    }
    if (!f->subs) return HG_FETCH_ABORT;
    /* Backpressure: pause while every streaming subscriber is congested (one is enough when
     * nothing is kept for the cache, since then the slowest sets the pace). */
    int congested = 0, streaming = 0;
    for (sub_t *s = f->subs; s; s = s->next) {
        if (!s->streaming) continue;
        streaming++;
        congested += hg_conn_congested(s->c);
    }
    if (streaming && (f->cacheable ? congested == streaming : congested > 0)) {
        f->paused = 1;
        return HG_FETCH_PAUSE;
    }
    f->origin_bytes += n;
    if (f->origin_bytes > f->w->cfg->playlist_max_bytes) {
        f->fail_status = 502;
        f->fail_reason = "playlist larger than PLAYLIST_MAX_BYTES";
        return HG_FETCH_ABORT;
    }
    if (f->cacheable) {
        if (f->origin.len + n + f->body_len + f->out.len > f->gw->cache.max_bytes / 4 ||
            hg_buf_append(&f->origin, p, n))
            drop_cache_copy(f);
    }
    int rc = hg_rewriter_feed(&f->rw, p, n, &f->out);
    if (rc) {
        f->fail_status = 502;
        f->fail_reason = rewrite_error(rc);
        return HG_FETCH_ABORT;
    }
    if (!f->streaming && f->out.len >= HEAD_BUFFER) {
        f->streaming = 1;
        f->max_age = max_age_for(f->w->cfg, &f->rw);
        make_etag(f, hg_fetch_etag(f->fetch), 0);
        for (sub_t *s = f->subs; s; s = s->next)
            if (!s->head_only) sub_start_stream(s);
    }
    if (f->streaming && cut_chunk(f)) {
        f->fail_status = 500;
        f->fail_reason = "out of memory";
        return HG_FETCH_ABORT;
    }
    return n;
}

/* The rewrite of `entry` (from a finished fill or a revalidation) answers every subscriber
 * that has not started streaming; the entry goes into the cache when it may. */
static void fill_complete(fill_t *f, hg_entry_t *e, double origin_ms)
{
    gw_t *gw = f->gw;
    int cached = 0;
    if (f->registered) {
        hg_map_del(&gw->fills, f->ckey.data, f->ckey.len);
        f->registered = 0;
    }
    if (cache_on(gw) && f->cacheable && f->gen == f->w->cfg_gen) {
        hg_entry_account(e);
        cached = hg_cache_put(&gw->cache, e) == 0;
    }
    hg_sync_cache_metrics(f->w, gw);
    while (f->subs) {
        sub_t *s = f->subs;
        if (s->streaming) {
            sub_finish_stream(s);
            continue;
        }
        hg_conn_t *c = s->c;
        hg_request_t *req = s->req;
        const char *how = s->how;
        f->subs = s->next;
        hg_gz_stream_free(s->z);
        free(s);
        hg_serve_entry(c, req, e, how, origin_ms);
    }
    if (!cached) hg_entry_free(e);
    fill_free(f);
}

/* Rewrite a whole origin body (kept from an earlier fill) for the current window. */
static int rewrite_all(fill_t *f, const char *p, size_t n)
{
    int rc = hg_rewriter_feed(&f->rw, p, n, &f->out);
    if (!rc) rc = hg_rewriter_finish(&f->rw, &f->out);
    return rc;
}

static void on_origin_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d)
{
    fill_t *f = ud;
    f->fetch = NULL;
    f->origin_ms = d->ms;
    hg_metrics_origin(&f->w->metrics, d->ms);
    f->done = 1;
    double oms = d->ms;
    char why[300];
    if (f->fail_status) {
        fill_fail(f, f->fail_status, f->fail_reason, oms);
        return;
    }
    if (res == HG_FETCH_E_TIMEOUT) {
        snprintf(why, sizeof why, "origin timeout: %s", d->detail);
        fill_fail(f, 504, why, oms);
        return;
    }
    if (res == HG_FETCH_E_CONNECT) {
        snprintf(why, sizeof why, "origin unreachable: %s", d->detail);
        fill_fail(f, 502, why, oms);
        return;
    }
    if (res != HG_FETCH_OK && (d->status == 200 || d->status == 0)) {
        snprintf(why, sizeof why, "origin transfer failed: %s", d->detail);
        fill_fail(f, 502, why, oms);
        return;
    }
    long status = d->status;
    if (status == 304 && f->stale) {
        /* Unchanged at the origin: reuse the rewrite, re-signing only if the window moved. */
        hg_entry_t *old = f->stale;
        f->stale = NULL;
        hg_entry_t *e = old;
        if (old->window != f->window) {
            int rc = rewrite_all(f, old->origin->data, old->origin->len);
            if (rc) {
                hg_entry_free(old);
                fill_fail(f, 502, rewrite_error(rc), oms);
                return;
            }
            f->max_age = max_age_for(f->w->cfg, &f->rw);
            f->body_hash = hg_hash(f->out.data, f->out.len);
            make_etag(f, old->origin_etag, 1);
            e = make_entry(f, f->out.data, f->out.len, f->out.len);
            if (!e) {
                hg_entry_free(old);
                fill_fail(f, 500, "out of memory", oms);
                return;
            }
            e->origin = hg_rbuf_ref(old->origin);
            snprintf(e->origin_etag, sizeof e->origin_etag, "%s", old->origin_etag);
            snprintf(e->origin_lm, sizeof e->origin_lm, "%s", old->origin_lm);
            hg_entry_free(old);
        } else if (e->fresh_until) {
            double half = e->max_age > 0 ? (double)e->max_age : 1;
            e->fresh_until = now_ms(f->w) + (uint64_t)(half * 1000);
        }
        for (sub_t *s = f->subs; s; s = s->next) s->how = "revalidated";
        fill_complete(f, e, oms);
        return;
    }
    if (status == 404) {
        fill_fail(f, 404, "no such playlist", oms);
        return;
    }
    if (status == 401 || status == 403) {
        char q[ORIGIN_ERROR_BODY_MAX + 8];
        hg_log(HG_LOG_ERROR, "msg=\"origin denied access: check S3 credentials, bucket and clock\" origin_status=%ld origin_body=%s",
               status, hg_log_quote(q, sizeof q, f->errbody.data ? f->errbody.data : "", f->errbody.len));
        fill_fail(f, 502, "origin denied access (credentials problem)", oms);
        return;
    }
    if (status != 200) {
        snprintf(why, sizeof why, "origin answered %ld", status);
        fill_fail(f, 502, why, oms);
        return;
    }
    int rc = hg_rewriter_finish(&f->rw, &f->out);
    if (rc) {
        fill_fail(f, 502, rewrite_error(rc), oms);
        return;
    }
    if (f->streaming) {
        if (cut_chunk(f)) {
            fill_fail(f, 500, "out of memory", oms);
            return;
        }
        f->max_age = max_age_for(f->w->cfg, &f->rw);
        /* Streamed subscribers are done. A cache entry needs the whole body in one piece; HEAD
         * subscribers of an uncacheable fill need only the headers with the full length. */
        hg_entry_t *e = NULL;
        if (f->cacheable) {
            hg_buf_t body;
            hg_buf_init(&body, 0);
            int ok = hg_buf_reserve(&body, f->body_len) == 0;
            for (size_t i = 0; ok && i < f->nchunks; i++)
                ok = hg_buf_append(&body, f->chunks[i]->data, f->chunks[i]->len) == 0;
            if (ok && !f->etag[0]) {
                /* No origin validator: the ETag comes from the bytes themselves. */
                f->body_hash = hg_hash(body.data, body.len);
                make_etag(f, NULL, 1);
            }
            if (ok) e = make_entry(f, body.data, body.len, body.len);
            hg_buf_free(&body);
            if (e) keep_origin(f, e, d);
        } else {
            e = make_entry(f, NULL, 0, f->body_len);
        }
        if (!e) {
            fill_fail(f, 500, "out of memory", oms);
            return;
        }
        fill_complete(f, e, oms);
        return;
    }
    f->max_age = max_age_for(f->w->cfg, &f->rw);
    if (!d->etag[0]) f->body_hash = hg_hash(f->out.data, f->out.len); /* only needed without one */
    make_etag(f, d->etag, 1);
    hg_entry_t *e = make_entry(f, f->out.data, f->out.len, f->out.len);
    if (!e) {
        fill_fail(f, 500, "out of memory", oms);
        return;
    }
    if (f->cacheable) keep_origin(f, e, d);
    fill_complete(f, e, oms);
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

/* The LL-HLS blocking-request parameters (_HLS_msn, _HLS_part, _HLS_skip) of the request's
 * query, which are forwarded to the origin; everything else in the query is ignored. */
static int lowlat_query(const hg_request_t *req, hg_buf_t *out)
{
    const char *t = req->target.data, *e = t + req->target.len;
    const char *q = memchr(t, '?', req->target.len);
    if (!q) return 0;
    for (const char *p = q + 1; p < e;) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        const char *end = amp ? amp : e;
        if (end - p > 5 && memcmp(p, "_HLS_", 5) == 0) {
            if (out->len) hg_buf_appendc(out, '&');
            hg_buf_append(out, p, (size_t)(end - p));
        }
        p = end + 1;
    }
    return out->len > 0;
}

static sub_t *add_sub(fill_t *f, hg_conn_t *c, hg_request_t *req, const char *how)
{
    sub_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->f = f;
    s->c = c;
    s->req = req;
    s->head_only = req->method == HTTP_HEAD;
    s->gzip = req->accept_gzip;
    s->how = how;
    s->next = f->subs;
    f->subs = s;
    hg_reply_t reply = {s, on_client_gone, on_client_drain};
    hg_conn_set_reply(c, &reply);
    if (f->streaming && !s->head_only) sub_start_stream(s);
    return s;
}

/* Start the origin transfer of a fill (conditional when revalidating a cached entry). */
static int fill_start(fill_t *f)
{
    hg_worker_t *w = f->w;
    hg_buf_t url;
    hg_buf_init(&url, 0);
    int rc = hg_object_key(w->cfg, &f->scratch, f->key.data, f->key.len);
    /* The origin GET is itself a presigned (query-auth) SigV4 request with a short lifetime. */
    if (!rc) rc = hg_presign(w->signer, &url, f->scratch.data, f->scratch.len, f->query.data,
                             f->query.len, hg_signing_now(), ORIGIN_URL_EXPIRES); /* [storage hook] clock skew */
    if (!rc) rc = hg_buf_appendc(&url, 0);
    char inm[300], ims[100];
    const char *hdrs[3] = {NULL, NULL, NULL};
    int nh = 0;
    if (f->stale && f->stale->origin) {
        if (f->stale->origin_etag[0]) {
            snprintf(inm, sizeof inm, "If-None-Match: %s", f->stale->origin_etag);
            hdrs[nh++] = inm;
        }
        if (f->stale->origin_lm[0]) {
            snprintf(ims, sizeof ims, "If-Modified-Since: %s", f->stale->origin_lm);
            hdrs[nh++] = ims;
        }
    }
    if (!rc) f->fetch = hg_fetch_start(w->origin, url.data, hdrs, &ORIGIN_CB, f);
    hg_buf_free(&url);
    return rc || !f->fetch ? -1 : 0;
}

/* A new fill for the request described by the worker's scratch buffers; NULL on OOM. */
static fill_t *fill_new(hg_worker_t *w, gw_t *gw)
{
    fill_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->w = w;
    f->gw = gw;
    hg_buf_init(&f->ckey, 0);
    hg_buf_init(&f->key, 0);
    hg_buf_init(&f->base_url, 0);
    hg_buf_init(&f->scratch, 0);
    hg_buf_init(&f->query, 0);
    hg_buf_init(&f->token, 0);
    hg_buf_init(&f->out, 0);
    hg_buf_init(&f->origin, 0);
    hg_buf_init(&f->errbody, ORIGIN_ERROR_BODY_MAX);
    const char *slash = memrchr(gw->key.data, '/', gw->key.len);
    size_t base_len = slash ? (size_t)(slash - gw->key.data) : 0;
    if (hg_buf_append(&f->ckey, gw->ckey.data, gw->ckey.len) ||
        hg_buf_append(&f->key, gw->key.data, gw->key.len) ||
        hg_buf_append(&f->base_url, gw->base.data, gw->base.len) ||
        hg_buf_append(&f->query, gw->query.data, gw->query.len) ||
        hg_buf_append(&f->token, gw->token.data, gw->token.len) ||
        hg_rewriter_init(&f->rw, f->key.data, base_len, MAX_LINE, emit_uri, f)) {
        fill_free(f);
        return NULL;
    }
    return f;
}

void hg_handle_playlist(hg_conn_t *c, hg_request_t *req)
{
    hg_worker_t *w = hg_conn_worker(c);
    gw_t *gw = gw_of(w);
    const hg_config_t *cfg = w->cfg;
    /* Everything up to the cache lookup works in per-worker scratch buffers, so a hit allocates
     * nothing that grows with the request. */
    hg_buf_reset(&gw->key);
    hg_buf_reset(&gw->base);
    hg_buf_reset(&gw->ckey);
    hg_buf_reset(&gw->query);
    hg_buf_reset(&gw->token);
    hg_buf_reset(&gw->tokdec);
    if (hg_decode_key(c, req, 5, &gw->key) != 0) return;
    /* Gateway URLs for nested playlists: the configured public URL, else the request's Host. */
    int rc = 0;
    if (cfg->public_base_url) {
        rc = hg_buf_appends(&gw->base, cfg->public_base_url);
    } else if (req->host.len) {
        if (!valid_host(req->host.data, req->host.len)) {
            hg_send_error(c, req, 400, "invalid Host header\n", "bad host");
            return;
        }
        /* Behind a trusted TLS-terminating proxy, nested URLs keep the client's scheme. */
        int https = cfg->trust_proxy && req->xfp.len == 5 && strncasecmp(req->xfp.data, "https", 5) == 0;
        rc = hg_buf_appends(&gw->base, https ? "https://" : "http://");
        if (!rc) rc = hg_buf_append(&gw->base, req->host.data, req->host.len);
    }
    if (!rc) rc = hg_buf_appends(&gw->base, "/hls/");
    if (!rc) rc = hg_buf_append(&gw->ckey, gw->base.data, gw->base.len);
    if (!rc) rc = hg_buf_appendc(&gw->ckey, '\n');
    if (!rc) rc = hg_buf_append(&gw->ckey, gw->key.data, gw->key.len);
    if (!rc && cfg->token_secret) {
        /* The token is verified already; it is written into nested URLs, so it is also part of
         * what the cached bytes depend on. */
        const char *raw = NULL;
        size_t raw_len = 0;
        if (hg_query_param(req->target.data, req->target.len, cfg->token_param, &gw->tokdec, &raw, &raw_len) == 1) {
            rc = hg_buf_appends(&gw->token, cfg->token_param);
            if (!rc) rc = hg_buf_appendc(&gw->token, '=');
            if (!rc) rc = hg_buf_append(&gw->token, raw, raw_len);
            if (!rc) rc = hg_buf_appendc(&gw->ckey, '\n');
            if (!rc) rc = hg_buf_append(&gw->ckey, gw->token.data, gw->token.len);
        }
    }
    int lowlat = !rc && lowlat_query(req, &gw->query);
    if (rc) {
        hg_send_error(c, req, 500, "internal error\n", "oom");
        return;
    }
    int64_t window = hg_window_start(cfg, hg_signing_now()); /* [storage hook] clock skew */
    const char *how = "bypass";
    hg_entry_t *stale = NULL;
    /* LL-HLS blocking requests always go to the origin: they must never be served stale. */
    if (cache_on(gw) && !lowlat) {
        hg_entry_t *e = hg_cache_get(&gw->cache, gw->ckey.data, gw->ckey.len);
        if (e && hg_entry_fresh(w, e, window)) {
            gw->cache.hits++;
            hg_gauge(&w->metrics.cache_hits, gw->cache.hits);
            hg_serve_entry(c, req, e, "hit", 0);
            return;
        }
        fill_t *running = hg_map_get(&gw->fills, gw->ckey.data, gw->ckey.len);
        if (running) {
            gw->cache.hits++;
            hg_gauge(&w->metrics.cache_hits, gw->cache.hits);
            if (!add_sub(running, c, req, "joined")) hg_send_error(c, req, 500, "internal error\n", "oom");
            return;
        }
        gw->cache.misses++;
        hg_gauge(&w->metrics.cache_misses, gw->cache.misses);
        how = e ? "stale" : "miss";
        stale = e;
    }
    fill_t *f = fill_new(w, gw);
    if (!f) {
        hg_send_error(c, req, 500, "internal error\n", "oom");
        return;
    }
    f->window = window;
    {
        /* [storage hook] URLs never outlive the credentials that sign them. */
        long shortfall = 0;
        time_t exp = w->creds_expiration;
        f->expires = hg_creds_cap_expires(exp, (time_t)window, hg_window_expires(cfg), &shortfall);
        /* Shortfall against the promise: valid for PRESIGN_EXPIRES_SECONDS from now. */
        if (exp) hg_creds_note_shortfall((long)(hg_signing_now() + cfg->presign_expires - exp));
    }
    f->gen = w->cfg_gen;
    if (cache_on(gw) && !lowlat) {
        f->cacheable = 1;
        if (stale) {
            hg_cache_detach(&gw->cache, stale);
            f->stale = stale;
        }
        if (hg_map_put(&gw->fills, f->ckey.data, f->ckey.len, f) == 0) f->registered = 1;
    }
    if (fill_start(f) != 0) {
        fill_free(f);
        hg_send_error(c, req, 500, "internal error\n", "cannot start origin request");
        return;
    }
    if (!add_sub(f, c, req, how)) {
        fill_free(f);
        hg_send_error(c, req, 500, "internal error\n", "oom");
    }
}

/* ---- worker lifecycle ------------------------------------------------------------------- */

int hg_playlist_worker_init(hg_worker_t *w)
{
    gw_t *gw = calloc(1, sizeof *gw);
    if (!gw) return -1;
    size_t per = w->cfg->cache_bytes / (size_t)(w->cfg->workers > 0 ? w->cfg->workers : 1);
    hg_cache_init(&gw->cache, per);
    hg_cache_init(&gw->redirects, per / 16);
    gw->w = w;
    hg_map_init(&gw->fills);
    hg_buf_init(&gw->key, 0);
    hg_buf_init(&gw->base, 0);
    hg_buf_init(&gw->ckey, 0);
    hg_buf_init(&gw->query, 4096);
    hg_buf_init(&gw->token, 4096);
    hg_buf_init(&gw->tokdec, 4096);
    w->gw = gw;
    return 0;
}

static void unregister_fill_cb(void *val, void *arg)
{
    (void)arg;
    fill_t *f = val;
    f->registered = 0;
}

void hg_playlist_worker_reconfigure(hg_worker_t *w)
{
    gw_t *gw = gw_of(w);
    /* Running fills finish for their subscribers, but new requests start afresh. */
    hg_map_each(&gw->fills, unregister_fill_cb, NULL);
    hg_map_free(&gw->fills);
    hg_map_init(&gw->fills);
    size_t per = w->cfg->cache_bytes / (size_t)(w->cfg->workers > 0 ? w->cfg->workers : 1);
    hg_cache_free(&gw->cache);
    hg_cache_init(&gw->cache, per);
    hg_cache_free(&gw->redirects);
    hg_cache_init(&gw->redirects, per / 16);
    hg_sync_cache_metrics(w, gw);
}

static void free_fill_cb(void *val, void *arg)
{
    (void)arg;
    fill_t *f = val;
    f->registered = 0; /* the map is being torn down as a whole */
    fill_free(f);
}

void hg_playlist_worker_free(hg_worker_t *w)
{
    gw_t *gw = gw_of(w);
    if (!gw) return;
    /* Every connection is closed by now, so fills left have no subscribers. */
    hg_map_each(&gw->fills, free_fill_cb, NULL);
    hg_map_free(&gw->fills);
    hg_cache_free(&gw->cache);
    hg_cache_free(&gw->redirects);
    hg_buf_free(&gw->key);
    hg_buf_free(&gw->base);
    hg_buf_free(&gw->ckey);
    hg_buf_free(&gw->query);
    hg_buf_free(&gw->token);
    hg_buf_free(&gw->tokdec);
    free(gw);
    w->gw = NULL;
}
