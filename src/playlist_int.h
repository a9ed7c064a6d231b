/* Internal to the /hls and /hls-seg handlers (playlist.c: fills and single-flight; respond.c:
 * answers from finished responses). Not part of any other module's interface. */
#ifndef HG_PLAYLIST_INT_H
#define HG_PLAYLIST_INT_H

#include <stdint.h>

#include "cache/cache.h"
#include "common/buf.h"
#include "common/map.h"
#include "http/server.h"

/* Per-worker state of the handlers. */
typedef struct hg_gw {
    hg_worker_t *w;
    hg_cache_t cache; /* max_bytes 0: caching off */
    hg_cache_t redirects; /* /hls-seg answers of the current window (a sixteenth of the budget) */
    hg_map_t fills;   /* cache key -> fill in flight (single-flight) */
    struct hg_segsigner *seg; /* segment URL signer (SEGMENT_SIGNER), this worker's own */
    /* scratch for the request being routed (reused: no allocation per hit) */
    hg_buf_t key, base, ckey, query, token, tokdec;
} gw_t;



static inline gw_t *gw_of(hg_worker_t *w)
{
    return (gw_t *)w->gw;
}

static inline int cache_on(const gw_t *gw)
{
    return gw->cache.max_bytes > 0;
}

#define PLAYLIST_CT "Content-Type: application/vnd.apple.mpegurl\r\n"

/** Does an If-None-Match value list contain etag (or *)? Weak and strong forms both match. */
int hg_etag_matches(const hg_buf_t *inm, const char *etag);
/** The gzip variant's ETag: the identity ETag with -gz inside the quotes. */
void hg_gz_etag(const char *etag, char *out, size_t cap);
/** Write the per-request part of a response (status line, Date, CORS, Connection) into dst;
 *  returns its length (0 if it does not fit). */
size_t hg_resp_prefix(hg_worker_t *w, char *dst, size_t cap, int status, int close_after);
/** Export the cache's own counters as this worker's metrics. */
void hg_sync_cache_metrics(hg_worker_t *w, gw_t *gw);
/** Answer from a finished response (identity or gzip, HEAD, 304) and finish the request. */
void hg_serve_entry(hg_conn_t *c, hg_request_t *req, hg_entry_t *e, const char *how, double origin_ms);
/** Is a cached entry still good for this signing window (and, for live, its revalidation time)? */
int hg_entry_fresh(const hg_worker_t *w, const hg_entry_t *e, int64_t window);

#endif
