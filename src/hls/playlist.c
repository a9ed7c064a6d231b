/* GET|HEAD /hls/{key}: derive the playlist's key, its gateway base URL, the cache key, the
 * parameters for the origin (LL-HLS) and for nested URLs (access token); then answer from the
 * cache, join a fill in flight, or start one. Also the per-worker state's lifecycle. */
#include "playlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../answer.h"
#include "../common/query.h"
#include "../origin/clock.h"
#include "../origin/creds.h"
#include "../sign/window.h"
#include "entry.h"
#include "fill.h"
#include "key.h"
#include "passq.h"
#include "serve.h"
#include "uri.h"

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

/* The LL-HLS delivery directives go to the origin (and bypass the cache); every other _HLS_
 * parameter (_HLS_pathway, _HLS_throughput...) is for the client's benefit only and is
 * dropped, so it neither reaches the origin nor splits the cache. */
static int lowlat_query(const char *q, size_t qlen, hg_buf_t *out)
{
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl;
    hg_query_iter(&it, q, qlen);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        if (!((nl == 8 && !memcmp(n, "_HLS_msn", 8)) || (nl == 9 && !memcmp(n, "_HLS_part", 9)) ||
              (nl == 9 && !memcmp(n, "_HLS_skip", 9))))
            continue;
        if (out->len && hg_buf_appendc(out, '&')) return -1;
        if (hg_buf_append(out, n, v ? (size_t)(v + vl - n) : nl)) return -1;
    }
    return out->len > 0;
}

/* The request's query without what never shapes the bytes (the access token, which is part of
 * the key already, and LL-HLS parameters): EXT-X-DEFINE QUERYPARAM and IMPORT may read the rest. */
static int extra_query(const char *q, size_t qlen, const char *token_param, hg_buf_t *out)
{
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl;
    hg_query_iter(&it, q, qlen);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        if (nl >= 5 && !memcmp(n, "_HLS_", 5)) continue;
        if (token_param && nl == strlen(token_param) && !memcmp(n, token_param, nl)) continue;
        if (out->len && hg_buf_appendc(out, '&')) return -1;
        if (hg_buf_append(out, n, v ? (size_t)(v + vl - n) : nl)) return -1;
    }
    return 0;
}

static int fresh_cb(const void *payload, void *arg)
{
    const hg_pl_entry_t *e = payload;
    const hg_playlists_t *pl = arg;
    int64_t window = hg_window_start(pl->ctx->cfg->sign_window, hg_signing_now());
    if (!e->resp || e->window != window) return 0;
    return !e->fresh_until || uv_now(pl->ctx->loop) < e->fresh_until;
}

/* Gateway URLs for nested playlists: the configured public URL, else the request's Host
 * (lower-cased, so case variants share one cache entry). Returns 0, 1 for a bad Host, or < 0. */
static int build_base(hg_playlists_t *pl, const hg_request_t *req)
{
    const hg_config_t *cfg = pl->ctx->cfg;
    hg_buf_t *b = &pl->base;
    if (cfg->public_base_url) return hg_buf_appends(b, cfg->public_base_url) || hg_buf_appends(b, "/hls/") ? -1 : 0;
    if (!req->host.len) return hg_buf_appends(b, "/hls/") ? -1 : 0;
    if (!valid_host(req->host.data, req->host.len)) return 1;
    /* Behind a trusted TLS-terminating proxy, nested URLs keep the client's scheme. */
    int https = cfg->trust_proxy && req->xfp.len == 5 && strncasecmp(req->xfp.data, "https", 5) == 0;
    if (hg_buf_appends(b, https ? "https://" : "http://")) return -1;
    size_t at = b->len, hl = req->host.len;
    if (hl && req->host.data[hl - 1] == '.') hl--;
    if (hg_buf_append(b, req->host.data, hl)) return -1;
    for (size_t i = at; i < b->len; i++)
        if (b->data[i] >= 'A' && b->data[i] <= 'Z') b->data[i] = (char)(b->data[i] - 'A' + 'a');
    return hg_buf_appends(b, "/hls/") ? -1 : 0;
}

void hg_playlist_handle(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req)
{
    hg_playlists_t *pl = ctx->pl;
    const hg_config_t *cfg = ctx->cfg;
    /* Everything up to the cache lookup works in per-worker scratch buffers, so a hit allocates
     * nothing that grows with the request. */
    hg_buf_reset(&pl->key);
    hg_buf_reset(&pl->base);
    hg_buf_reset(&pl->ckey);
    hg_buf_reset(&pl->oquery);
    hg_buf_reset(&pl->nquery);
    hg_buf_reset(&pl->tokdec);
    const char *q;
    size_t qlen;
    size_t plen = hg_target_split(req->target.data, req->target.len, &q, &qlen);
    if (hg_key_from_path(ctx, c, req, req->target.data + 5, plen - 5, &pl->key) != 0) return;
    int rc = build_base(pl, req);
    if (rc == 1) {
        hg_answer_error(ctx, c, req, 400, "invalid Host header\n", "bad host");
        return;
    }
    if (!rc) rc = hg_buf_append(&pl->ckey, pl->base.data, pl->base.len);
    if (!rc) rc = hg_buf_appendc(&pl->ckey, '\n');
    if (!rc) rc = hg_buf_append(&pl->ckey, pl->key.data, pl->key.len);
    if (!rc && cfg->token_secret) {
        /* The token is verified already; it is written into nested URLs, so it is also part of
         * what the cached bytes depend on. */
        const char *raw;
        size_t raw_len;
        if (hg_query_find(q, qlen, cfg->token_param, NULL, &raw, &raw_len) == 1) {
            rc = hg_buf_appends(&pl->nquery, cfg->token_param);
            if (!rc) rc = hg_buf_appendc(&pl->nquery, '=');
            if (!rc) rc = hg_buf_append(&pl->nquery, raw, raw_len);
            if (!rc) rc = hg_buf_appendc(&pl->ckey, '\n');
            if (!rc) rc = hg_buf_append(&pl->ckey, pl->nquery.data, pl->nquery.len);
        }
    }
    /* PASS_QUERY: parameters that key the cache are written into the bytes (nested URLs, and
     * segment URLs with PASS_QUERY_SEGMENTS); the others are added per response (serve.c), or
     * written too when nothing is cached. */
    hg_buf_reset(&pl->kq);
    hg_buf_reset(&pl->sq);
    if (!rc) rc = hg_passq_split(cfg, q, qlen, &pl->kq, &pl->sq);
    if (!rc && pl->kq.len) {
        rc = hg_buf_appendc(&pl->ckey, '\n');
        if (!rc) rc = hg_buf_append(&pl->ckey, pl->kq.data, pl->kq.len);
        if (!rc && pl->nquery.len) rc = hg_buf_appendc(&pl->nquery, '&');
        if (!rc) rc = hg_buf_append(&pl->nquery, pl->kq.data, pl->kq.len);
    }
    int lowlat = rc ? 0 : lowlat_query(q, qlen, &pl->oquery);
    hg_buf_reset(&pl->xquery);
    hg_buf_reset(&pl->vkey);
    hg_buf_reset(&pl->fkey);
    if (!rc && lowlat >= 0) rc = extra_query(q, qlen, cfg->token_secret ? cfg->token_param : NULL, &pl->xquery);
    if (!rc) rc = hg_buf_append(&pl->vkey, pl->ckey.data, pl->ckey.len) || hg_buf_appends(&pl->vkey, "\n?") ||
                  hg_buf_append(&pl->vkey, pl->xquery.data, pl->xquery.len);
    if (!rc) rc = hg_buf_append(&pl->fkey, pl->vkey.data, pl->xquery.len ? pl->vkey.len : pl->ckey.len);
    if (rc || lowlat < 0) {
        hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
        return;
    }
    if (!rc && (lowlat || pl->cache.max_bytes == 0) && pl->sq.len) {
        /* Nothing is cached: the per-response parameters go straight into the bytes. */
        if (pl->nquery.len) rc = hg_buf_appendc(&pl->nquery, '&');
        if (!rc) rc = hg_buf_append(&pl->nquery, pl->sq.data, pl->sq.len);
        if (rc) {
            hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
            return;
        }
    }
    const char *how = "bypass";
    hg_pl_entry_t *stale = NULL;
    int use_cache = pl->cache.max_bytes > 0 && !lowlat;
    /* LL-HLS blocking requests always go to the origin: they must never be served stale. */
    if (use_cache) {
        void *st = NULL;
        /* A playlist whose bytes depend on the query (EXT-X-DEFINE) is kept under key + query,
         * with a marker under the plain key. */
        const hg_buf_t *lk = &pl->ckey;
        hg_pl_entry_t *m = hg_cache_get(&pl->cache, pl->ckey.data, pl->ckey.len);
        if (m && m->varies) lk = &pl->vkey;
        hg_pl_entry_t *e = hg_cache_lookup(&pl->cache, lk->data, lk->len, fresh_cb, pl, &st);
        if (e) {
            hg_pl_entry_serve(pl, c, req, e, lk->data, lk->len, "hit", 0);
            hg_playlists_metrics(pl);
            return;
        }
        hg_fill_t *running = hg_fill_find(pl, pl->fkey.data, pl->fkey.len);
        if (running) {
            hg_count(&ctx->metrics->fill_joins, 1);
            if (hg_fill_subscribe(running, c, req, "joined")) hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
            return;
        }
        how = st ? "stale" : "miss";
        /* Revalidate the stale entry: it leaves the cache while the fill works on it. */
        if (st) stale = hg_cache_take(&pl->cache, lk->data, lk->len);
    }
    time_t now = hg_signing_now(); /* corrected for the origin's clock (clock skew) */
    int64_t window = hg_window_start(cfg->sign_window, now);
    /* URLs never outlive the credentials that sign them (temporary credentials). */
    long shortfall = 0;
    long expires = hg_creds_cap_expires(ctx->creds_expiration, (time_t)window,
                                        hg_window_expires(cfg->presign_expires, cfg->sign_window), &shortfall);
    if (ctx->creds_expiration) hg_creds_note_shortfall((long)(now + cfg->presign_expires - ctx->creds_expiration));
    hg_fill_params_t p = {pl->ckey.data, pl->ckey.len, pl->key.data, pl->key.len, pl->base.data, pl->base.len,
                          pl->oquery.data, pl->oquery.len, pl->nquery.data, pl->nquery.len,
                          q, qlen, pl->xquery.data, pl->xquery.len,
                          pl->kq.data, cfg->pass_query_segments ? pl->kq.len : 0,
                          window, expires, use_cache, stale};
    int busy;
    hg_fill_t *f = hg_fill_new(pl, &p, &busy);
    if (!f && busy) {
        hg_answer_error_x(ctx, c, req, 503, "Retry-After: 1\r\n", "too many origin requests in flight, retry shortly\n",
                          "origin fetch limit");
        return;
    }
    if (!f) {
        hg_answer_error(ctx, c, req, 500, "internal error\n", "cannot start origin request");
        return;
    }
    if (hg_fill_subscribe(f, c, req, how)) {
        hg_answer_error(ctx, c, req, 500, "internal error\n", "oom");
        /* A fill nobody waits for is freed when its first data arrives. */
    }
    hg_playlists_metrics(pl);
}

/* ---- per-worker state ----------------------------------------------------------------------- */

static size_t cache_share(const hg_config_t *cfg)
{
    return cfg->cache_bytes / (size_t)(cfg->workers > 0 ? cfg->workers : 1);
}

hg_playlists_t *hg_playlists_new(hg_ctx_t *ctx)
{
    hg_playlists_t *pl = calloc(1, sizeof *pl);
    if (!pl) return NULL;
    pl->ctx = ctx;
    hg_cache_init(&pl->cache, cache_share(ctx->cfg), hg_pl_entry_release);
    hg_map_init(&pl->fills);
    if (uv_idle_init(ctx->loop, &pl->pump)) {
        free(pl);
        return NULL;
    }
    hg_buf_init(&pl->key, 0);
    hg_buf_init(&pl->base, 0);
    hg_buf_init(&pl->ckey, 0);
    hg_buf_init(&pl->oquery, 4096);
    hg_buf_init(&pl->nquery, 4096);
    hg_buf_init(&pl->tokdec, 4096);
    hg_buf_init(&pl->xquery, 0);
    hg_buf_init(&pl->kq, 4096);
    hg_buf_init(&pl->sq, 4096);
    hg_buf_init(&pl->vkey, 0);
    hg_buf_init(&pl->fkey, 0);
    return pl;
}

void hg_playlists_reload(hg_playlists_t *pl)
{
    /* Running fills finish for their subscribers, but new requests start afresh; cached bytes
     * carry the old signing identity. The cache's counters go on counting. */
    hg_fills_detach_all(pl);
    hg_cache_clear(&pl->cache);
    hg_cache_set_max(&pl->cache, cache_share(pl->ctx->cfg));
}

static void on_pump_closed(uv_handle_t *h)
{
    free(h->data);
}

void hg_playlists_free(hg_playlists_t *pl)
{
    if (!pl) return;
    hg_fills_free_all(pl);
    hg_map_free(&pl->fills);
    hg_cache_free(&pl->cache);
    hg_buf_free(&pl->key);
    hg_buf_free(&pl->base);
    hg_buf_free(&pl->ckey);
    hg_buf_free(&pl->oquery);
    hg_buf_free(&pl->nquery);
    hg_buf_free(&pl->tokdec);
    hg_buf_free(&pl->xquery);
    hg_buf_free(&pl->kq);
    hg_buf_free(&pl->sq);
    hg_buf_free(&pl->vkey);
    hg_buf_free(&pl->fkey);
    pl->pump.data = pl;
    uv_close((uv_handle_t *)&pl->pump, on_pump_closed);
}
