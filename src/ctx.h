/* What a request handler may use of its worker: configuration, signer, origin, metrics and the
 * handlers' own per-worker state. The worker (worker.c) owns all of it; handlers borrow it for the
 * duration of a call and must not keep pointers to cfg or signer across a reload (cfg_gen tells
 * that one happened). */
#ifndef HG_CTX_H
#define HG_CTX_H

#include <time.h>
#include <uv.h>

#include "config.h"
#include "metrics.h"

struct hg_signer;
struct hg_segsigner;
struct hg_origin;
struct hg_playlists;
struct hg_segments;

typedef struct hg_ctx {
    uv_loop_t *loop;
    const hg_config_t *cfg;
    unsigned cfg_gen;          /* bumped on every configuration reload */
    struct hg_signer *signer;  /* SigV4 presigner of the current configuration (origin GETs) */
    struct hg_segsigner *segsigner; /* media URLs: S3 presigned or a CDN's (SEGMENT_SIGNER) */
    struct hg_origin *origin;  /* libcurl multi on this loop */
    hg_metrics_t *metrics;     /* this worker's slot */
    struct hg_playlists *pl;   /* /hls: cache, fills in flight (hls/fill.h) */
    struct hg_segments *seg;   /* /hls-seg: redirects of the current window (hls/segment.h) */
    unsigned long creds_gen;   /* credential generation the signer was built from */
    time_t creds_expiration;   /* when those credentials expire (0: never) */
    int worker_id;
    int draining;
    int fast_uris;             /* plain media names take the rewriter's fast lane (HG_FAST_URIS=0: off) */
} hg_ctx_t;

#endif
