/* A generic LRU cache of opaque payloads, bounded in bytes. One worker thread owns a cache.
 *
 * Ownership: a payload handed to hg_cache_put belongs to the cache, which releases it with the
 * free function given at init (when it is evicted, replaced, cleared or the cache is freed).
 * hg_cache_take hands a payload back to the caller. Callers that keep using a payload across
 * anything that may evict (answering clients, growing another entry) must hold their own
 * reference (payloads are usually reference-counted; the cache only ever calls free_fn).
 *
 * The cache counts its own hits, misses and evictions. The counters only ever grow, across
 * hg_cache_clear and hg_cache_set_max too, so they can be exported as Prometheus counters. */
#ifndef HG_CACHE_H
#define HG_CACHE_H

#include <stddef.h>

#include "../common/map.h"

typedef void (*hg_cache_free_fn)(void *payload);
/** Is a payload still usable? (arg is the caller's.) */
typedef int (*hg_cache_fresh_fn)(const void *payload, void *arg);

typedef struct hg_cnode hg_cnode_t;

typedef struct {
    hg_map_t map;            /* key -> node */
    hg_cnode_t *head, *tail; /* most recently used first */
    size_t bytes, max_bytes;
    hg_cache_free_fn free_fn;
    unsigned long hits, misses, evictions; /* monotonic */
} hg_cache_t;

/** An empty cache of at most max_bytes (0: nothing is ever stored). */
void hg_cache_init(hg_cache_t *c, size_t max_bytes, hg_cache_free_fn free_fn);
/** Release every payload and the cache's own memory. */
void hg_cache_free(hg_cache_t *c);
/** Release every payload; the counters are kept. */
void hg_cache_clear(hg_cache_t *c);
/** Change the byte budget, evicting from the LRU end until the cache fits. */
void hg_cache_set_max(hg_cache_t *c, size_t max_bytes);
/** The payload stored under key (touched as most recently used), or NULL. Counts nothing. */
void *hg_cache_get(hg_cache_t *c, const char *key, size_t len);
/** Look key up for a request: a payload that `fresh` accepts counts a hit and is returned
 *  (touched); otherwise a miss is counted, NULL is returned and *stale (when not NULL) gets the
 *  unusable payload that is still in the cache, or NULL. */
void *hg_cache_lookup(hg_cache_t *c, const char *key, size_t len, hg_cache_fresh_fn fresh,
                      void *arg, void **stale);
/** Store payload under key, accounted as `bytes`, replacing (and releasing) an older payload,
 *  evicting from the LRU end until it fits. Returns 0 (the cache owns payload), HG_EOVERFLOW
 *  when bytes is over a quarter of the budget, or HG_ENOMEM (on error the caller keeps it). */
int hg_cache_put(hg_cache_t *c, const char *key, size_t len, void *payload, size_t bytes);
/** Remove key's payload from the cache without releasing it: the caller owns the return value
 *  (NULL when absent). */
void *hg_cache_take(hg_cache_t *c, const char *key, size_t len);
/** The payload stored under key now costs `bytes`: evict *other* entries until it fits.
 *  Returns 0, or HG_EOVERFLOW when even alone it would exceed the budget (nothing changed). */
int hg_cache_resize(hg_cache_t *c, const char *key, size_t len, size_t bytes);
/** Number of entries. */
size_t hg_cache_entries(const hg_cache_t *c);

#endif
