/* Per-worker state of the /hls handler: the playlist cache, the fills in flight (single-flight
 * registry), the rewrite pump and the origin-transfer slots. Owned by the worker through
 * hg_ctx_t.pl; created and freed by hls/playlist.c. */
#ifndef HG_PL_STATE_H
#define HG_PL_STATE_H

#include <uv.h>

#include "../cache/cache.h"
#include "../common/buf.h"
#include "../common/map.h"
#include "../ctx.h"

typedef struct hg_fill hg_fill_t;

typedef struct hg_playlists {
    hg_ctx_t *ctx;
    hg_cache_t cache;      /* ckey -> hg_pl_entry_t (max_bytes 0: caching off) */
    hg_map_t fills;        /* ckey -> hg_fill_t in flight (single-flight) */
    uv_idle_t pump;        /* rewrites origin bytes in bounded slices, between I/O */
    hg_fill_t *work;       /* fills with origin bytes waiting for the pump */
    unsigned active;       /* fills whose origin transfer runs */
    hg_fill_t *qhead, *qtail; /* fills waiting for a transfer slot */
    unsigned queued;
    unsigned gz_streams;   /* streaming gzip encoders alive (bounded: see fill.c) */
    /* scratch for the request being routed (reused: a hit allocates nothing) */
    hg_buf_t key, base, ckey, oquery, nquery, tokdec;
    hg_buf_t xquery, vkey, fkey; /* the query that may shape the bytes; key + it; fill key */
    hg_buf_t kq, sq;             /* PASS_QUERY: keyed and per-response parameters */
} hg_playlists_t;

/** Export the cache's own counters and sizes as this worker's metrics. */
static inline void hg_playlists_metrics(const hg_playlists_t *pl)
{
    hg_metrics_t *m = pl->ctx->metrics;
    hg_gauge(&m->cache_bytes, pl->cache.bytes);
    hg_gauge(&m->cache_entries, hg_cache_entries(&pl->cache));
    hg_gauge(&m->cache_hits, pl->cache.hits);
    hg_gauge(&m->cache_misses, pl->cache.misses);
    hg_gauge(&m->cache_evictions, pl->cache.evictions);
}

#endif
