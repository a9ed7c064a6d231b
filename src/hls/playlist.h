/* The /hls handler and the lifecycle of its per-worker state (hls/state.h). */
#ifndef HG_PLAYLIST_H
#define HG_PLAYLIST_H

#include "../ctx.h"
#include "../http/http.h"
#include "state.h"

/** GET|HEAD /hls/{key} (the router checked the method, the route and any access token). */
void hg_playlist_handle(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req);
/** The handler's state for a worker (ctx->loop, ctx->cfg must be set). NULL on OOM. */
hg_playlists_t *hg_playlists_new(hg_ctx_t *ctx);
/** After a configuration reload: empty the cache (its URLs carry the old signing identity; its
 *  counters go on), and keep running fills from being joined or cached. */
void hg_playlists_reload(hg_playlists_t *pl);
/** Free everything (every connection is closed by now). Closes a uv handle: the loop must run
 *  afterwards. */
void hg_playlists_free(hg_playlists_t *pl);

#endif
