/* Answering a request from a finished playlist response (a cache hit, or a fill's result):
 * identity or gzip (made once, on first demand), HEAD, and 304 for a matching If-None-Match.
 * One write of a per-request prefix and the shared entry buffer. */
#ifndef HG_PL_SERVE_H
#define HG_PL_SERVE_H

#include "entry.h"
#include "state.h"
#include "../http/http.h"

/** Answer req from e and finish the request. `ckey` is the entry's cache key, so the cache can
 *  account a gzip form made now; `how` ("hit", "miss", ...) goes to the access log. The
 *  request's per-response PASS_QUERY parameters are added to the nested playlist URLs (that
 *  answer is built for this request, identity-encoded, with an ETag of its own). The caller
 *  keeps its reference to e. */
void hg_pl_entry_serve(hg_playlists_t *pl, hg_conn_t *c, hg_request_t *req, hg_pl_entry_t *e,
                       const char *ckey, size_t ckey_len, const char *how, double origin_ms);

#endif
