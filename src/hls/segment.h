/* GET|HEAD /hls-seg/{key}: 302 to a presigned URL of the segment, the fallback for players that
 * cannot take presigned URLs in playlists. Answers are kept per signing window, so a repeat is
 * one write of a shared buffer. */
#ifndef HG_SEGMENT_H
#define HG_SEGMENT_H

#include "../cache/cache.h"
#include "../ctx.h"
#include "../http/http.h"

typedef struct hg_segments {
    hg_cache_t redirects; /* key -> answer of the current window */
    hg_buf_t key, objkey; /* scratch */
} hg_segments_t;

/** Handle one request (the router checked the method, the route and any access token). */
void hg_segment_handle(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req);
/** Per-worker state; NULL on OOM. */
hg_segments_t *hg_segments_new(const hg_config_t *cfg);
/** Configuration reload: forget every answer (they carry the old signing identity). */
void hg_segments_reload(hg_segments_t *s, const hg_config_t *cfg);
void hg_segments_free(hg_segments_t *s);

#endif
