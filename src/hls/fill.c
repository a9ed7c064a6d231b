/* Fills: lifecycle, single-flight registry, transfer slots, subscribers, completion and failure.
 * The origin callbacks and the rewrite pump are in fill_io.c. */
#include "fill_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../answer.h"
#include "../common/gz.h"
#include "../common/log.h"
#include "../common/pct.h"
#include "../origin/clock.h"
#include "../origin/origin.h"
#include "../sign/sigv4.h"
#include "head.h"
#include "uri.h"
#include "serve.h"

#define ORIGIN_URL_EXPIRES 60
#define MAX_LINE (1024 * 1024)
#define GZ_STREAMS_MAX 64

/* ---- registry and lifecycle ----------------------------------------------------------------- */

hg_fill_t *hg_fill_find(hg_playlists_t *pl, const char *ckey, size_t len)
{
    return hg_map_get(&pl->fills, ckey, len);
}

void fill_unregister(hg_fill_t *f)
{
    if (!f->registered) return;
    hg_map_del(&f->pl->fills, f->fkey.data, f->fkey.len);
    f->registered = 0;
}

static void queue_remove(hg_fill_t *f)
{
    hg_playlists_t *pl = f->pl;
    if (!f->queued) return;
    hg_fill_t **pp = &pl->qhead;
    while (*pp && *pp != f) pp = &(*pp)->next_q;
    if (*pp) *pp = f->next_q;
    pl->qtail = NULL;
    for (hg_fill_t *q = pl->qhead; q; q = q->next_q) pl->qtail = q;
    f->queued = 0;
    pl->queued--;
    hg_gauge(&pl->ctx->metrics->origin_queued, pl->queued);
}

void fill_free(hg_fill_t *f)
{
    hg_playlists_t *pl = f->pl;
    if (f->fetch) {
        hg_fetch_cancel(f->fetch);
        f->fetch = NULL;
        fill_slot_done(f);
    }
    queue_remove(f);
    fill_unregister(f);
    pump_remove(f);
    hg_rewriter_free(&f->rw);
    for (size_t i = 0; i < f->nchunks; i++) hg_rbuf_unref(f->chunks[i]);
    free(f->chunks);
    hg_pl_entry_unref(f->stale);
    hg_pl_entry_unref(f->prev);
    hg_map_free(&f->urls);
    hg_buf_free(&f->ukey);
    hg_buf_free(&f->ins);
    hg_buf_free(&f->segq);
    hg_buf_free(&f->ckey);
    hg_buf_free(&f->fkey);
    hg_buf_free(&f->vkey);
    hg_buf_free(&f->key);
    hg_buf_free(&f->base);
    hg_buf_free(&f->scratch);
    hg_buf_free(&f->oquery);
    hg_buf_free(&f->nquery);
    hg_buf_free(&f->in);
    hg_buf_free(&f->out);
    hg_buf_free(&f->origin);
    hg_buf_free(&f->errbody);
    hg_buf_free(&f->dir);
    (void)pl;
    free(f);
}

/* The origin GET is itself a presigned (query-auth) SigV4 request with a short lifetime,
 * conditional when revalidating a cached entry. */
static int start_fetch(hg_fill_t *f)
{
    hg_ctx_t *ctx = f->ctx;
    hg_buf_t url;
    hg_buf_init(&url, 0);
    int rc = hg_object_key(ctx->cfg->key_prefix, &f->scratch, f->key.data, f->key.len);
    if (!rc) rc = hg_presign(ctx->signer, &url, f->scratch.data, f->scratch.len, f->oquery.data,
                             f->oquery.len, hg_signing_now(), ORIGIN_URL_EXPIRES);
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
    if (!rc) f->fetch = hg_fetch_start(ctx->origin, url.data, hdrs, &hg_fill_origin_cb, f);
    hg_buf_free(&url);
    if (rc || !f->fetch) return HG_ENOMEM;
    f->pl->active++;
    hg_gauge(&ctx->metrics->origin_active, f->pl->active);
    return 0;
}

/* A transfer slot was released: start the oldest queued fill. Runs from origin callbacks or
 * fill_free, never inside a subscriber loop of the fill being started. */
void fill_slot_done(hg_fill_t *f)
{
    hg_playlists_t *pl = f->pl;
    pl->active--;
    hg_gauge(&pl->ctx->metrics->origin_active, pl->active);
    while (pl->qhead && pl->active < (unsigned)pl->ctx->cfg->origin_max_fetches) {
        hg_fill_t *next = pl->qhead;
        queue_remove(next);
        if (start_fetch(next) != 0) fill_fail(next, 502, "cannot start the origin request", 0);
    }
}

hg_fill_t *hg_fill_new(hg_playlists_t *pl, const hg_fill_params_t *p, int *busy)
{
    hg_ctx_t *ctx = pl->ctx;
    *busy = 0;
    int slot = pl->active < (unsigned)ctx->cfg->origin_max_fetches;
    if (!slot && pl->queued >= (unsigned)ctx->cfg->origin_queue_max) {
        *busy = 1;
        hg_count(&ctx->metrics->origin_rejected, 1);
        hg_pl_entry_unref(p->stale);
        return NULL;
    }
    hg_fill_t *f = calloc(1, sizeof *f);
    if (!f) {
        hg_pl_entry_unref(p->stale);
        return NULL;
    }
    f->pl = pl;
    f->ctx = ctx;
    f->stale = p->stale;
    f->window = p->window;
    f->expires = p->expires;
    f->gen = ctx->cfg_gen;
    f->cacheable = p->cacheable && pl->cache.max_bytes > 0;
    hg_buf_init(&f->ckey, 0);
    hg_buf_init(&f->fkey, 0);
    hg_buf_init(&f->vkey, 0);
    hg_buf_init(&f->key, 0);
    hg_buf_init(&f->base, 0);
    hg_buf_init(&f->scratch, 0);
    hg_buf_init(&f->oquery, 0);
    hg_buf_init(&f->nquery, 0);
    hg_buf_init(&f->in, 0);
    hg_buf_init(&f->out, 0);
    hg_buf_init(&f->origin, 0);
    hg_buf_init(&f->errbody, FILL_ERROR_BODY_MAX);
    hg_buf_init(&f->ukey, 0);
    hg_buf_init(&f->ins, 0);
    hg_buf_init(&f->segq, 0);
    hg_buf_init(&f->dir, 0);
    hg_map_init(&f->urls);
    /* A live playlist being refreshed keeps the URLs of segments it already had. */
    if (p->stale && p->stale->urls.n) f->prev = hg_pl_entry_ref(p->stale);
    const char *slash = p->key_len ? memrchr(p->key, '/', p->key_len) : NULL;
    size_t folder_len = slash ? (size_t)(slash - p->key) : 0;
    if (hg_buf_append(&f->ckey, p->ckey, p->ckey_len) || hg_buf_append(&f->key, p->key, p->key_len) ||
        hg_buf_append(&f->base, p->base, p->base_len) ||
        hg_buf_append(&f->oquery, p->oquery, p->oquery_len) ||
        hg_buf_append(&f->nquery, p->nquery, p->nquery_len) ||
        hg_buf_append(&f->segq, p->segq, p->segq_len) ||
        hg_buf_append(&f->fkey, p->ckey, p->ckey_len) ||
        (p->xquery_len && (hg_buf_appends(&f->fkey, "\n?") || hg_buf_append(&f->fkey, p->xquery, p->xquery_len))) ||
        hg_buf_append(&f->vkey, p->ckey, p->ckey_len) || hg_buf_appends(&f->vkey, "\n?") ||
        hg_buf_append(&f->vkey, p->xquery, p->xquery_len) ||
        hg_rewriter_init(&f->rw, f->key.data, folder_len, MAX_LINE, hg_fill_emit, f) ||
        hg_rewriter_set_request_query(&f->rw, p->rquery ? p->rquery : "", p->rquery_len) ||
        (folder_len ? hg_object_key(ctx->cfg->key_prefix, &f->scratch, p->key, folder_len)
                    : (hg_buf_reset(&f->scratch), hg_buf_appends(&f->scratch, ctx->cfg->key_prefix))) ||
        hg_pct_encode(&f->dir, f->scratch.data, f->scratch.len, 1)) {
        fill_free(f);
        return NULL;
    }
    /* dir is the folder's object key (KEY_PREFIX "/" folder, or either alone when the other is
     * empty), encoded as in a URL path once for all the segments: the fast lane signs dir "/"
     * name (the name alone when dir is empty), the key hg_object_key gives for folder "/" name. */
    if (ctx->fast_uris) hg_rewriter_set_plain(&f->rw, hg_fill_emit_plain);
    if (f->cacheable && hg_map_put(&pl->fills, f->fkey.data, f->fkey.len, f) == 0) f->registered = 1;
    if (slot) {
        if (start_fetch(f) != 0) {
            fill_free(f);
            return NULL;
        }
    } else {
        f->queued = 1;
        if (pl->qtail) pl->qtail->next_q = f;
        else pl->qhead = f;
        pl->qtail = f;
        pl->queued++;
        hg_gauge(&ctx->metrics->origin_queued, pl->queued);
    }
    return f;
}

/* ---- subscribers ---------------------------------------------------------------------------- */

/* The one way a subscriber leaves its fill: unlinked, its reply forgotten, freed. The caller
 * answers or has answered the connection (or the connection is gone). */
static void sub_detach(sub_t *s)
{
    hg_fill_t *f = s->f;
    for (sub_t **pp = &f->subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->c) hg_conn_set_reply(s->c, NULL);
    if (s->z) f->pl->gz_streams--;
    hg_gz_stream_free(s->z);
    free(s);
}

static void on_client_gone(void *ctx)
{
    sub_t *s = ctx;
    hg_fill_t *f = s->f;
    hg_answer_done(f->ctx, s->c, s->req, 499, s->bytes, f->origin_ms, f->rw.presigned,
                   "error=\"client closed the connection\"");
    s->c = NULL; /* already closing: no reply to forget */
    sub_detach(s);
    /* A client that hangs up stops the work it caused, even if the result would be cached. */
    if (!f->subs) fill_free(f);
}

static void on_client_drain(void *ctx)
{
    sub_t *s = ctx;
    fill_resume(s->f);
}

/* Write one piece of body to a streaming subscriber (shared chunk, or a compressed copy). */
void sub_write(sub_t *s, hg_rbuf_t *chunk, int finish)
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

/* Headers of a streamed response: no length yet, so chunked (close-delimited for HTTP/1.0).
 * A HEAD request gets exactly these headers and is done: it costs no more than a GET. */
void sub_start_stream(sub_t *s)
{
    hg_fill_t *f = s->f;
    s->chunked = s->req->http_minor >= 1;
    int close_after = !s->req->keep_alive || (!s->chunked && !s->head_only);
    if (close_after) s->req->keep_alive = 0;
    /* A streaming gzip encoder costs about 270 KB (zlib's window and hash tables): past
     * GZ_STREAMS_MAX at once per worker, streamed answers go out uncompressed (allowed: the
     * response says Vary: Accept-Encoding), so many clients of one cold playlist cannot make
     * the worker hold gigabytes. */
    if (s->gzip && !s->head_only && f->pl->gz_streams >= GZ_STREAMS_MAX) s->gzip = 0;
    if (s->gzip && !s->head_only && !(s->z = hg_gz_stream_new())) s->gzip = 0;
    if (s->z) f->pl->gz_streams++;
    char head[HG_WRITE_HEAD_MAX];
    size_t n = hg_http_prefix(hg_conn_server(s->c), head, sizeof head - HG_PL_HEAD_MAX, 200, close_after);
    hg_pl_head_t h = {200, f->max_age, f->etag, s->gzip, s->chunked, -1};
    size_t m = n ? hg_pl_head(head + n, sizeof head - n, &h) : 0;
    if (!m) {
        hg_log(HG_LOG_ERROR, "msg=\"response head does not fit\" client=%s", hg_conn_peer(s->c));
        hg_conn_t *c = s->c;
        sub_detach(s);
        hg_conn_abort(c);
        return;
    }
    if (!s->head_only) hg_conn_stream(s->c, 1); /* the body comes in chunks, several per turn */
    hg_conn_write_ref(s->c, head, n + m, NULL, 0, 0, 0);
    if (s->head_only) {
        char extra[64];
        snprintf(extra, sizeof extra, "cache=%s streamed=1", s->how);
        hg_answer_done(f->ctx, s->c, s->req, 200, 0, f->origin_ms, f->rw.presigned, extra);
        hg_conn_t *c = s->c;
        sub_detach(s);
        hg_conn_finish(c, close_after);
        return;
    }
    s->streaming = 1;
    for (; s->sent < f->nchunks; s->sent++) sub_write(s, f->chunks[s->sent], 0);
}

int hg_fill_subscribe(hg_fill_t *f, hg_conn_t *c, hg_request_t *req, const char *how)
{
    sub_t *s = calloc(1, sizeof *s);
    if (!s) return HG_ENOMEM;
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
    if (f->streaming) sub_start_stream(s);
    return 0;
}

static void sub_finish_stream(sub_t *s)
{
    hg_fill_t *f = s->f;
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
    hg_answer_done(f->ctx, s->c, s->req, 200, s->bytes, f->origin_ms, f->rw.presigned, extra);
    hg_conn_t *c = s->c;
    int close_after = !s->req->keep_alive;
    sub_detach(s);
    hg_conn_finish(c, close_after);
}

/* ---- the end of a fill ---------------------------------------------------------------------- */

/* Every subscriber gets the error: a status if nothing was sent yet, else a truncated body. The
 * fill leaves the registry first, so a request arriving meanwhile starts afresh. The detail
 * goes to the log; clients get a generic reason (it may name the origin's address). */
void fill_fail(hg_fill_t *f, int status, const char *why, double origin_ms)
{
    fill_unregister(f);
    char extra[384], q[300], body[160];
    snprintf(extra, sizeof extra, "error=%s", hg_log_quote(q, sizeof q, why, strlen(why)));
    /* The body says what went wrong but never the transfer's detail (curl's text names the
     * origin's address): that part, after a ": ", goes to the log only. */
    const char *colon = strstr(why, ": ");
    int publen = colon && (!strncmp(why, "origin", 6)) ? (int)(colon - why) : (int)strlen(why);
    snprintf(body, sizeof body, "%d %s: %.*s\n", status, hg_status_reason(status), publen, why);
    if (f->streaming) hg_log(HG_LOG_WARN, "msg=\"response aborted mid-stream\" %s", extra);
    while (f->subs) {
        sub_t *s = f->subs;
        hg_conn_t *c = s->c;
        hg_request_t *req = s->req;
        int streaming = s->streaming;
        size_t bytes = s->bytes;
        sub_detach(s);
        if (streaming) {
            /* The status line is gone: the only honest signal left is a truncated body. */
            hg_answer_done(f->ctx, c, req, 200, bytes, origin_ms, f->rw.presigned, "aborted=1");
            hg_conn_abort(c);
        } else {
            hg_answer_done(f->ctx, c, req, status, strlen(body), origin_ms, 0, extra);
            hg_conn_send_simple(c, req, status, NULL, body, 0);
        }
    }
    fill_free(f);
}

/* The finished response answers every subscriber that has not started streaming; the entry
 * goes into the cache when it may. The fill holds a reference to the entry throughout, so
 * nothing a subscriber's answer does (a gzip variant growing the cache, evictions) can free it;
 * and no answer runs another request on this stack (hg_conn_finish defers it). */
void fill_complete(hg_fill_t *f, hg_pl_entry_t *e, double origin_ms)
{
    hg_playlists_t *pl = f->pl;
    fill_unregister(f);
    const hg_buf_t *key = f->rw.uses_query ? &f->vkey : &f->ckey;
    if (f->cacheable && f->gen == f->ctx->cfg_gen && e->resp) {
        hg_pl_entry_ref(e);
        if (hg_cache_put(&pl->cache, key->data, key->len, e, hg_pl_entry_bytes(e)) != 0)
            hg_pl_entry_unref(e);
        /* The bytes depend on the request's query: the plain key holds a marker that sends the
         * next lookup to key + query. */
        hg_pl_entry_t *m = f->rw.uses_query ? hg_pl_entry_new() : NULL;
        if (m) {
            m->varies = 1;
            if (hg_cache_put(&pl->cache, f->ckey.data, f->ckey.len, m, hg_pl_entry_bytes(m)) != 0) hg_pl_entry_unref(m);
        }
    }
    while (f->subs) {
        sub_t *s = f->subs;
        if (s->streaming) {
            sub_finish_stream(s);
            continue;
        }
        hg_conn_t *c = s->c;
        hg_request_t *req = s->req;
        const char *how = s->how;
        sub_detach(s);
        hg_pl_entry_serve(pl, c, req, e, key->data, key->len, how, origin_ms);
    }
    hg_pl_entry_unref(e);
    fill_free(f);
    hg_playlists_metrics(pl);
}

/* ---- reload and shutdown -------------------------------------------------------------------- */

static void unregister_cb(void *val, void *arg)
{
    (void)arg;
    ((hg_fill_t *)val)->registered = 0;
}

void hg_fills_detach_all(hg_playlists_t *pl)
{
    hg_map_each(&pl->fills, unregister_cb, NULL);
    hg_map_free(&pl->fills);
    hg_map_init(&pl->fills);
}

void hg_fills_free_all(hg_playlists_t *pl)
{
    hg_fills_detach_all(pl);
    /* Connections are closed by now, so every fill left has no subscriber and was freed by
     * on_client_gone; queued or pumping fills without subscribers cannot exist either. */
    while (pl->qhead) fill_free(pl->qhead);
    while (pl->work) fill_free(pl->work);
}
