/* A fill: one origin transfer of a playlist and its streaming rewrite, shared by every request
 * for the same playlist that arrives while it runs (single-flight). Rewritten output is cut into
 * shared, counted chunks that go to every subscriber without a copy; the finished response
 * becomes a cache entry.
 *
 * Work is bounded per loop turn: origin bytes are buffered (at most FILL_IN_MAX, then the
 * transfer pauses) and rewritten by a per-worker pump in slices with a time budget, so a huge or
 * hostile playlist never holds the loop. Origin transfers per worker are limited
 * (ORIGIN_MAX_FETCHES); further fills wait in a bounded queue (ORIGIN_QUEUE_MAX).
 *
 * Ownership: a fill owns its fetch, rewriter and chunks, and lives until its transfer ended and
 * its last subscriber left. A subscriber belongs to its fill and to one connection's reply.
 * A failed or finished fill leaves the registry before any subscriber is answered. */
#ifndef HG_FILL_H
#define HG_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "../http/http.h"
#include "entry.h"
#include "state.h"

/** What a fill is made from (copied). */
typedef struct {
    const char *ckey; size_t ckey_len;         /* cache and single-flight key */
    const char *key; size_t key_len;           /* namespace key of the playlist */
    const char *base; size_t base_len;         /* "{base}/hls/" for nested playlist URLs */
    const char *oquery; size_t oquery_len;     /* parameters forwarded to the origin (LL-HLS) */
    const char *nquery; size_t nquery_len;     /* parameters added to nested playlist URLs */
    const char *rquery; size_t rquery_len;     /* the request's raw query (EXT-X-DEFINE QUERYPARAM
                                                * and IMPORT read it) */
    const char *xquery; size_t xquery_len;     /* the part of it that may shape the bytes: only
                                                * requests with the same one share the fill */
    const char *segq; size_t segq_len;         /* parameters added to segment URLs (signed) */
    int64_t window;                            /* signing window start */
    long expires;                              /* X-Amz-Expires of the media URLs */
    int cacheable;                             /* register for single-flight, keep for the cache */
    hg_pl_entry_t *stale;                      /* revalidate this entry (reference passes) */
} hg_fill_params_t;

/** Start (or queue) a fill. Returns it, NULL on OOM or when curl refuses the transfer, or sets
 *  *busy and returns NULL when every transfer slot and the queue are taken (answer 503). */
hg_fill_t *hg_fill_new(hg_playlists_t *pl, const hg_fill_params_t *p, int *busy);
/** The running fill registered under ckey, or NULL. */
hg_fill_t *hg_fill_find(hg_playlists_t *pl, const char *ckey, size_t len);
/** Attach a request to a fill: it is answered when the fill streams or completes. `how` names
 *  the request's path in the access log ("miss", "joined", ...). Returns 0 or HG_ENOMEM (then
 *  the caller answers the request). */
int hg_fill_subscribe(hg_fill_t *f, hg_conn_t *c, hg_request_t *req, const char *how);
/** Configuration reload: running fills finish for their subscribers but leave the registry and
 *  will not be cached. */
void hg_fills_detach_all(hg_playlists_t *pl);
/** Worker shutdown (every connection already closed): free every fill. */
void hg_fills_free_all(hg_playlists_t *pl);

#endif
