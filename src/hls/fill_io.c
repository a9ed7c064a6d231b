/* Fills, the data path: origin callbacks, the rewrite pump (bounded work per loop turn), URI
 * emission, chunking and backpressure, and turning a finished transfer into a response. */
#include "fill_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "../origin/clock.h"
#include "../common/pct.h"
#include "../sign/s3query.h"
#include "../sign/segsign.h"
#include "../sign/sigv4.h"
#include "head.h"
#include "uri.h"

/* Response headers may wait for this much rewritten output, so Cache-Control and the
 * not-a-playlist check can see the playlist's head; past it, bytes stream as they come. */
#define HEAD_BUFFER (64 * 1024)
/* Origin bytes buffered per fill before its transfer pauses. */
#define FILL_IN_MAX (64 * 1024)
/* The pump rewrites this many origin bytes at a time, and stops for I/O after its budget. */
#define SLICE (4 * 1024)
#define PUMP_BUDGET_NS (1000 * 1000)
/* Streamed output goes out in pieces of at least this much, or whatever is ready when the pump
 * has no more input for now: each write is a system call and, for a local client, a wake-up. */
#define OUT_CHUNK (64 * 1024)
/* Before a slice, the output buffer gets room for this much more in one allocation, so it does
 * not grow by doubling from nothing each time a chunk has been handed over (a slice of segment
 * lines rewrites to about 40 KB). Sized exactly, and kept under glibc's mmap threshold (128 KiB)
 * together with a chunk's worth of pending bytes: no fresh zeroed pages for every chunk. */
#define OUT_RESERVE (48 * 1024)
#define OUT_CAP_MAX (OUT_CHUNK + OUT_RESERVE)

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

static uint64_t now_ms(const hg_fill_t *f)
{
    return uv_now(f->ctx->loop);
}

static long max_age_for(const hg_fill_t *f)
{
    const hg_config_t *cfg = f->ctx->cfg;
    const hg_rewriter_t *rw = &f->rw;
    long cap = 300;
    if (cfg->presign_expires / 2 < cap) cap = cfg->presign_expires / 2;
    /* With temporary credentials the URLs die with the session: caches downstream must not keep
     * the playlist for more than half of the time left. */
    if (f->ctx->creds_expiration) {
        long left = (long)(f->window + f->expires - (int64_t)hg_signing_now()) / 2;
        if (left < cap) cap = left > 1 ? left : 1;
    }
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
 * else that shapes the bytes: window, key, gateway URL and signing identity. Stable across
 * processes and replicas. */
static void make_etag(hg_fill_t *f, const char *origin_etag, const char *body, size_t len, int have_body)
{
    const hg_config_t *cfg = f->ctx->cfg;
    uint64_t h = hg_hash_stable(f->ckey.data, f->ckey.len);
    char mix[200];
    /* With platform credentials there is no key in cfg and each rotation changes the URLs: the
     * credentials' expiry stands in for the signing identity (0 for static keys). */
    int n = snprintf(mix, sizeof mix, "%lld|%ld|%s|%s|%s|%d|%s|%lld", (long long)f->window, f->expires,
                     cfg->s3_endpoint, cfg->s3_bucket, cfg->access_key ? cfg->access_key : "", cfg->seg_signer,
                     cfg->seg_base_url ? cfg->seg_base_url : "", (long long)f->ctx->creds_expiration);
    h ^= hg_hash_stable(mix, (size_t)(n < (int)sizeof mix ? n : (int)sizeof mix - 1)) * 31;
    if (origin_etag && origin_etag[0]) h ^= hg_hash_stable(origin_etag, strlen(origin_etag)) * 131;
    else if (have_body) h ^= hg_hash_stable(body, len) * 131;
    else {
        f->etag[0] = 0;
        return;
    }
    snprintf(f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long)h);
}

/* A finished response as an entry: headers announcing `total` body bytes, then body[0..len)
 * (len 0 for a headers-only entry, which only HEAD requests are answered from). */
static hg_pl_entry_t *make_entry(hg_fill_t *f, const char *body, size_t len, size_t total)
{
    hg_pl_entry_t *e = hg_pl_entry_new();
    if (!e) return NULL;
    snprintf(e->etag, sizeof e->etag, "%s", f->etag);
    e->window = f->window;
    e->max_age = f->max_age;
    e->presigned = f->rw.presigned;
    char head[HG_PL_HEAD_MAX];
    hg_pl_head_t h = {200, f->max_age, f->etag, 0, 0, (long long)total};
    size_t hl = hg_pl_head(head, sizeof head, &h);
    if (!hl || hg_pl_entry_set_resp(e, head, hl, body, len)) {
        hg_pl_entry_unref(e);
        return NULL;
    }
    if (f->ins.len && f->cacheable && len == total && !f->streaming) {
        e->nins = f->ins.len / sizeof(size_t);
        e->ins = (size_t *)(void *)hg_buf_steal(&f->ins);
    }
    if (hg_rewriter_is_live(&f->rw)) {
        double half = f->rw.target_duration > 0 ? f->rw.target_duration / 2 : 1;
        e->fresh_ms = (uint64_t)(half * 1000);
        e->fresh_until = now_ms(f) + e->fresh_ms;
        if (!e->fresh_until) e->fresh_until = 1;
        if (!f->urls_off && len == total) {
            e->urls = f->urls;
            hg_map_init(&f->urls);
            /* The oldest URL kept may come from an earlier version: the entry's URLs live at
             * least as long as that one, which the reuse check already guaranteed. */
            e->urls_expire = f->window + f->expires;
            if (f->prev && f->prev->urls_expire < e->urls_expire) e->urls_expire = f->prev->urls_expire;
        }
    }
    return e;
}

/* ---- URIs ----------------------------------------------------------------------------------- */

static void stop_spans(hg_fill_t *f)
{
    f->urls_off = 1;
    hg_map_free(&f->urls);
}

/* No later version will look this fill's URLs up: it streams (the body is not kept whole) or
 * it is a VOD playlist (it never changes). */
static int spans_useless(const hg_fill_t *f)
{
    return f->streaming || f->body_len || f->rw.type_vod;
}

/* Remember where a media URL sits in the body (only while the whole body is still in f->out:
 * live playlists are small; a streamed one keeps no spans). */
static void record_span(hg_fill_t *f, size_t at, size_t len)
{
    if (f->urls_off) return;
    if (spans_useless(f) || f->urls.n >= 20000 || len >= (1u << 20) ||
        hg_map_put(&f->urls, f->ukey.data, f->ukey.len, (void *)(uintptr_t)(((uintptr_t)at << 20) | len)))
        stop_spans(f);
}

int hg_fill_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len, const char *query,
                 size_t query_len, hg_buf_t *out)
{
    hg_fill_t *f = ud;
    const hg_config_t *cfg = f->ctx->cfg;
    if ((unsigned long)(f->rw.presigned + f->rw.gateway) >= cfg->playlist_max_uris) return HG_ETOOMANY;
    if (kind == HG_URI_PLAYLIST) {
        int rc = hg_buf_append(out, f->base.data, f->base.len);
        if (!rc) rc = hg_pct_encode(out, key, key_len, 1);
        if (!rc && query) rc = hg_buf_appendc(out, '?');
        if (!rc && query) rc = hg_buf_append(out, query, query_len);
        /* The viewer's access token (and pass-through parameters) travel on. */
        if (!rc && f->nquery.len) rc = hg_buf_appendc(out, query ? '&' : '?');
        if (!rc && f->nquery.len) rc = hg_buf_append(out, f->nquery.data, f->nquery.len);
        /* Where per-response PASS_QUERY parameters go (only while the whole body is in out). */
        if (!rc && f->ctx->cfg->pass_query && f->cacheable && !f->streaming && !f->body_len) {
            size_t mark = out->len << 1 | (query || f->nquery.len ? 1u : 0u);
            rc = hg_buf_append(&f->ins, &mark, sizeof mark);
        }
        return rc;
    }
    int rc = hg_object_key(cfg->key_prefix, &f->scratch, key, key_len);
    if (rc) return rc;
    /* S3 sub-resources and response overrides in a playlist's query never get signed. */
    size_t qstart = f->scratch.len;
    if (query_len) {
        rc = hg_s3_query_filter(&f->scratch, query, query_len, cfg->s3_query_allow);
        if (rc) return rc;
    }
    /* PASS_QUERY_SEGMENTS: the viewer's parameters, covered by the signature. */
    if (f->segq.len) {
        if (f->scratch.len > qstart && hg_buf_appendc(&f->scratch, '&')) return HG_ENOMEM;
        if (hg_buf_append(&f->scratch, f->segq.data, f->segq.len)) return HG_ENOMEM;
    }
    /* "key\0query": the URL's identity, to keep it across versions of a live playlist. Only
     * built when it is used: an earlier version to look in, or spans still being recorded. */
    if (!f->urls_off && spans_useless(f)) stop_spans(f);
    int want_ukey = f->prev || !f->urls_off;
    hg_buf_reset(&f->ukey);
    if (want_ukey && (hg_buf_append(&f->ukey, key, key_len) || hg_buf_appendc(&f->ukey, 0) ||
                      hg_buf_append(&f->ukey, f->scratch.data + qstart, f->scratch.len - qstart)))
        return HG_ENOMEM;
    size_t at = out->len;
    const char *old;
    size_t old_len;
    if (f->prev && hg_pl_entry_url(f->prev, f->ukey.data, f->ukey.len, (int64_t)hg_signing_now(), cfg->presign_expires / 2,
                                   &old, &old_len)) {
        rc = hg_buf_append(out, old, old_len);
        hg_count(&f->ctx->metrics->urls_kept, 1);
    } else {
        hg_count(&f->ctx->metrics->presigned, 1);
        rc = hg_segsigner_url_batched(f->ctx->segsigner, out, f->scratch.data, qstart, f->scratch.data + qstart,
                                      f->scratch.len - qstart, f->window, f->expires);
    }
    if (rc) return rc;
    record_span(f, at, out->len - at);
    return 0;
}

int hg_fill_emit_plain(void *ud, const char *name, size_t n, hg_buf_t *out)
{
    hg_fill_t *f = ud;
    /* Only where hg_fill_emit would sign the key as it is and remember nothing about it: no
     * earlier version to take URLs from, no spans to record, no parameters to add. */
    if (f->prev || f->segq.len) return HG_RW_DECLINE;
    if (!f->urls_off) {
        if (!spans_useless(f)) return HG_RW_DECLINE;
        stop_spans(f);
    }
    if ((unsigned long)(f->rw.presigned + f->rw.gateway) >= f->ctx->cfg->playlist_max_uris) return HG_ETOOMANY;
    int rc = hg_segsigner_batched_in(f->ctx->segsigner, out, f->dir.data, f->dir.len, name, n, f->window,
                                     f->expires);
    if (rc == 0) hg_count(&f->ctx->metrics->presigned, 1);
    return rc; /* HG_RW_DECLINE (1) when the scheme needs the joined key */
}

/* ---- chunks and backpressure ---------------------------------------------------------------- */

/* Pause while every streaming subscriber is congested (one is enough when nothing is kept for
 * the cache: then the slowest sets the pace). */
static int clients_congested(const hg_fill_t *f)
{
    int congested = 0, streaming = 0;
    for (sub_t *s = f->subs; s; s = s->next) {
        if (!s->streaming) continue;
        streaming++;
        congested += hg_conn_congested(s->c);
    }
    return streaming && (f->cacheable ? congested == streaming : congested > 0);
}

/* Stop keeping chunks: the playlist is too large for the cache. */
static void drop_cache_copy(hg_fill_t *f)
{
    if (!f->cacheable) return;
    f->cacheable = 0;
    for (size_t i = 0; i < f->nchunks; i++) hg_rbuf_unref(f->chunks[i]);
    free(f->chunks);
    f->chunks = NULL;
    f->nchunks = f->chunks_cap = 0;
    hg_buf_free(&f->origin);
    /* Late requests cannot replay the start any more: they start a fill of their own. */
    fill_unregister(f);
}

/* Cut the pending rewritten bytes into a shared chunk and send it to every streaming
 * subscriber; kept for the cache while the fill is cacheable. */
static int cut_chunk(hg_fill_t *f)
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

/* The head window is full: headers go out to every subscriber and bytes stream from now on. */
static void start_streaming(hg_fill_t *f)
{
    f->streaming = 1;
    f->max_age = max_age_for(f);
    make_etag(f, f->fetch ? hg_fetch_etag(f->fetch) : f->end.etag, NULL, 0, 0);
    sub_t *s = f->subs;
    while (s) {
        sub_t *next = s->next; /* a HEAD subscriber leaves inside sub_start_stream */
        sub_start_stream(s);
        s = next;
    }
}

/* ---- the pump ------------------------------------------------------------------------------- */

static void finalize(hg_fill_t *f);
static void on_pump(uv_idle_t *i);

static void pump_add(hg_fill_t *f)
{
    hg_playlists_t *pl = f->pl;
    if (f->pumping) return;
    f->pumping = 1;
    f->next_work = NULL;
    hg_fill_t **pp = &pl->work;
    while (*pp) pp = &(*pp)->next_work;
    *pp = f;
    uv_idle_start(&pl->pump, on_pump);
}

void pump_remove(hg_fill_t *f)
{
    if (!f->pumping) return;
    for (hg_fill_t **pp = &f->pl->work; *pp; pp = &(*pp)->next_work) {
        if (*pp == f) {
            *pp = f->next_work;
            break;
        }
    }
    f->pumping = 0;
    f->next_work = NULL;
}

/* Rewrite one slice of buffered origin bytes. Returns 1 when the fill has more to do now, 0
 * when it waits (for input or for its clients) or is gone. */
static int fill_step(hg_fill_t *f)
{
    if (f->streaming && clients_congested(f)) return 0; /* fill_resume re-adds it */
    size_t n = f->in.len - f->in_off, slice = SLICE;
    /* CloudFront's canned policy signs every URL with the private key (milliseconds each with
     * mbedTLS): rewrite a few lines at a time so the loop still turns between them. */
    const hg_config_t *cfg = f->ctx->cfg;
    if (cfg->seg_signer == HG_SEG_CLOUDFRONT && cfg->cf_canned) slice = 96;
    if (n > slice) n = slice;
    if (n) {
        if (f->out.cap - f->out.len < OUT_RESERVE &&
            hg_buf_reserve_exact(&f->out, f->out.len < OUT_CHUNK ? OUT_CAP_MAX - f->out.len : OUT_RESERVE)) {
            fill_fail(f, 500, "out of memory", f->origin_ms);
            return 0;
        }
        int rc = hg_rewriter_feed(&f->rw, f->in.data + f->in_off, n, &f->out);
        /* Signatures of this slice are computed together, in SHA-256 lanes; always flushed here,
         * so no batch ever waits for more origin input or outlives this call. */
        int frc = hg_segsigner_flush(f->ctx->segsigner, &f->out);
        if (!rc) rc = frc;
        if (rc) {
            fill_fail(f, 502, rc == HG_EVAR && f->rw.var_error[0] ? f->rw.var_error : hg_strerror(rc), f->origin_ms);
            return 0;
        }
        f->in_off += n;
        if (!f->streaming && f->out.len >= HEAD_BUFFER) start_streaming(f);
        if (!f->subs) {
            fill_free(f);
            return 0;
        }
        /* Cut a chunk once it is large, or when this was the last input for now: bytes never
         * wait for more origin input. */
        if (f->streaming && (f->out.len >= OUT_CHUNK || f->in_off == f->in.len) && cut_chunk(f)) {
            fill_fail(f, 500, "out of memory", f->origin_ms);
            return 0;
        }
    }
    if (f->in_off == f->in.len) {
        hg_buf_reset(&f->in);
        f->in_off = 0;
        /* Waiting for the origin: a fill holds no output room meanwhile (hundreds may wait). */
        if (!f->out.len) hg_buf_free(&f->out);
        if (f->end.have) {
            finalize(f);
            return 0;
        }
        if (f->fetch && f->fetch_paused) {
            f->fetch_paused = 0;
            hg_fetch_resume(f->fetch);
        }
        return 0;
    }
    return 1;
}

static void on_pump(uv_idle_t *i)
{
    hg_playlists_t *pl = container_of(i, hg_playlists_t, pump);
    uint64_t t0 = uv_hrtime();
    /* The fill at the head keeps the turn until it waits or the budget is spent, then goes to the
     * back: round robin with a quantum of one budget, not of one slice. Interleaving slices made
     * concurrent cold requests finish together, then wait for their origins together, with the
     * worker idle; one after another, one request's origin wait overlaps another's rewrite. */
    while (pl->work && uv_hrtime() - t0 < PUMP_BUDGET_NS) {
        hg_fill_t *f = pl->work;
        pump_remove(f);
        int more;
        while ((more = fill_step(f)) && uv_hrtime() - t0 < PUMP_BUDGET_NS) {
        }
        if (more) pump_add(f);
    }
    if (!pl->work) uv_idle_stop(&pl->pump);
}

void fill_resume(hg_fill_t *f)
{
    if (f->in.len > f->in_off || f->end.have) pump_add(f);
    else if (f->fetch && f->fetch_paused && !clients_congested(f)) {
        f->fetch_paused = 0;
        hg_fetch_resume(f->fetch);
    }
}

/* ---- origin callbacks ----------------------------------------------------------------------- */

static size_t on_origin_data(void *ud, long status, const char *p, size_t n)
{
    hg_fill_t *f = ud;
    if (f->fetch && f->origin_ms == 0) f->origin_ms = hg_fetch_ms(f->fetch);
    if (status == 304) return n;
    if (status != 200) {
        size_t room = FILL_ERROR_BODY_MAX - f->errbody.len;
        hg_buf_append(&f->errbody, p, n < room ? n : room);
        f->origin_bytes += n;
        return f->origin_bytes > HEAD_BUFFER ? HG_FETCH_ABORT : n;
    }
    if (!f->subs) return HG_FETCH_ABORT;
    if (f->in.len - f->in_off >= FILL_IN_MAX || (f->streaming && clients_congested(f))) {
        f->fetch_paused = 1;
        return HG_FETCH_PAUSE;
    }
    f->origin_bytes += n;
    if (f->origin_bytes > f->ctx->cfg->playlist_max_bytes) {
        f->fail_status = 502;
        f->fail_reason = "playlist larger than PLAYLIST_MAX_BYTES";
        return HG_FETCH_ABORT;
    }
    if (f->cacheable && (f->origin.len + n + f->body_len + f->out.len > f->pl->cache.max_bytes / 4 ||
                         hg_buf_append(&f->origin, p, n)))
        drop_cache_copy(f);
    if (hg_buf_append(&f->in, p, n)) {
        f->fail_status = 500;
        f->fail_reason = "out of memory";
        return HG_FETCH_ABORT;
    }
    pump_add(f);
    return n;
}

static void on_origin_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d)
{
    hg_fill_t *f = ud;
    f->fetch = NULL;
    f->origin_ms = d->ms;
    hg_metrics_origin(f->ctx->metrics, d->ms);
    fill_end_t *e = &f->end;
    e->have = 1;
    e->res = res;
    e->status = d->status;
    e->ms = d->ms;
    snprintf(e->detail, sizeof e->detail, "%s", d->detail);
    snprintf(e->etag, sizeof e->etag, "%s", d->etag);
    snprintf(e->lm, sizeof e->lm, "%s", d->last_modified);
    fill_slot_done(f);
    /* A good transfer ends after the pump has rewritten what is buffered; a failed one now. */
    if (res == HG_FETCH_OK && !f->fail_status && d->status == 200 && f->in.len > f->in_off) {
        pump_add(f);
        return;
    }
    finalize(f);
}

const hg_fetch_cb_t hg_fill_origin_cb = {on_origin_data, on_origin_done};

/* ---- the end of a transfer ------------------------------------------------------------------ */

/* Revalidation said 304: reuse the rewrite, or re-sign the kept origin bytes through the pump
 * when the window moved. Returns 1 when the fill is done (answered), 0 when the pump goes on. */
static int revalidated(hg_fill_t *f)
{
    hg_pl_entry_t *old = f->stale;
    f->stale = NULL;
    for (sub_t *s = f->subs; s; s = s->next) s->how = "revalidated";
    if (old->window == f->window) {
        if (old->fresh_until) old->fresh_until = now_ms(f) + old->fresh_ms; /* half a target, again */
        fill_complete(f, old, f->end.ms);
        return 1;
    }
    /* Feed the kept bytes as if the origin had sent them again. */
    f->end.status = 200;
    snprintf(f->end.etag, sizeof f->end.etag, "%s", old->origin_etag);
    snprintf(f->end.lm, sizeof f->end.lm, "%s", old->origin_lm);
    int rc = hg_buf_append(&f->in, old->origin->data, old->origin->len);
    if (!rc && f->cacheable) rc = hg_buf_append(&f->origin, old->origin->data, old->origin->len);
    if (!f->prev && old->urls.n) f->prev = hg_pl_entry_ref(old);
    hg_pl_entry_unref(old);
    if (rc) {
        fill_fail(f, 500, "out of memory", f->end.ms);
        return 1;
    }
    pump_add(f);
    return 0;
}

static void finalize(hg_fill_t *f)
{
    const fill_end_t *d = &f->end;
    double oms = d->ms;
    char why[320];
    if (f->fail_status) { fill_fail(f, f->fail_status, f->fail_reason, oms); return; }
    if (d->res == HG_FETCH_E_TIMEOUT) {
        snprintf(why, sizeof why, "origin timeout: %s", d->detail);
        { fill_fail(f, 504, why, oms); return; }
    }
    if (d->res == HG_FETCH_E_CONNECT) {
        snprintf(why, sizeof why, "origin unreachable: %s", d->detail);
        { fill_fail(f, 502, why, oms); return; }
    }
    if (d->res != HG_FETCH_OK && (d->status == 200 || d->status == 0)) {
        snprintf(why, sizeof why, "origin transfer failed: %s", d->detail);
        { fill_fail(f, 502, why, oms); return; }
    }
    if (d->status == 304 && f->stale && f->stale->origin) {
        revalidated(f);
        return;
    }
    if (d->status == 404) { fill_fail(f, 404, "no such playlist", oms); return; }
    if (d->status == 401 || d->status == 403) {
        char q[FILL_ERROR_BODY_MAX + 8];
        hg_log(HG_LOG_ERROR, "msg=\"origin denied access: check S3 credentials, bucket and clock\" origin_status=%ld origin_body=%s",
               d->status, hg_log_quote(q, sizeof q, f->errbody.data ? f->errbody.data : "", f->errbody.len));
        { fill_fail(f, 502, "origin denied access (credentials problem)", oms); return; }
    }
    if (d->status != 200) {
        snprintf(why, sizeof why, "origin answered %ld", d->status);
        { fill_fail(f, 502, why, oms); return; }
    }
    int rc = hg_rewriter_finish(&f->rw, &f->out);
    int frc = hg_segsigner_flush(f->ctx->segsigner, &f->out);
    if (!rc) rc = frc;
    if (rc) { fill_fail(f, 502, rc == HG_EVAR && f->rw.var_error[0] ? f->rw.var_error : hg_strerror(rc), oms); return; }
    hg_pl_entry_t *e = NULL;
    if (f->streaming) {
        if (cut_chunk(f)) { fill_fail(f, 500, "out of memory", oms); return; }
        f->max_age = max_age_for(f);
        /* Streamed subscribers are done. A cache entry needs the whole body in one piece. */
        if (f->cacheable) {
            hg_buf_t body;
            hg_buf_init(&body, 0);
            int ok = hg_buf_reserve(&body, f->body_len) == 0;
            for (size_t i = 0; ok && i < f->nchunks; i++)
                ok = hg_buf_append(&body, f->chunks[i]->data, f->chunks[i]->len) == 0;
            /* No origin validator: the ETag comes from the bytes themselves. */
            if (ok && !f->etag[0]) make_etag(f, NULL, body.data, body.len, 1);
            if (ok) e = make_entry(f, body.data, body.len, body.len);
            hg_buf_free(&body);
        } else {
            e = hg_pl_entry_new();
        }
    } else {
        f->max_age = max_age_for(f);
        /* With URLs kept from an earlier version, the origin's validator no longer names these
         * exact bytes: the ETag comes from the body then. */
        make_etag(f, f->prev ? NULL : d->etag, f->out.data, f->out.len, 1);
        e = make_entry(f, f->out.data, f->out.len, f->out.len);
    }
    if (!e) { fill_fail(f, 500, "out of memory", oms); return; }
    if (f->cacheable && e->resp) {
        e->origin = hg_rbuf_copy(f->origin.data, f->origin.len);
        snprintf(e->origin_etag, sizeof e->origin_etag, "%s", d->etag);
        snprintf(e->origin_lm, sizeof e->origin_lm, "%s", d->lm);
    }
    fill_complete(f, e, oms);
}
