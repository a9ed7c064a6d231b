/* Per-worker playlist cache: finished responses (headers + body) in shared, counted buffers,
 * bounded in bytes with least-recently-used eviction. One worker thread owns a cache; nothing
 * in it is shared between workers.
 *
 * Ownership: the cache owns its entries. An entry owns one reference of each buffer; a response
 * being written holds its own reference, so eviction never pulls bytes from under a write. */
#ifndef HG_CACHE_H
#define HG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/map.h"
#include "../common/rbuf.h"

typedef struct hg_entry hg_entry_t;
struct hg_entry {
    hg_entry_t *lru_prev, *lru_next; /* owned by the cache */
    char *key;
    size_t key_len;
    size_t bytes; /* what the entry costs, as accounted */
    int cached;   /* in the cache (1) or detached (0) */

    hg_rbuf_t *resp; /* response headers after the per-request prefix, then the body */
    size_t resp_hdr; /* length of those headers (a HEAD answer sends only these) */
    hg_rbuf_t *gz;   /* same with a gzip body, made on the first request that accepts it */
    size_t gz_hdr;
    hg_rbuf_t *origin; /* the origin's bytes, kept to re-sign after a 304 */
    char etag[48];     /* our ETag for the identity body, with quotes */
    char origin_etag[256];
    char origin_lm[64];
    int64_t window;        /* signing window the URLs in the body belong to */
    uint64_t fresh_until;  /* loop time (ms) a live playlist must be revalidated at; 0: VOD */
    long max_age;
    long presigned;
};

typedef struct {
    hg_map_t map;
    hg_entry_t *head, *tail; /* most recently used first */
    size_t bytes, max_bytes;
    unsigned long hits, misses, evictions;
} hg_cache_t;

/** A cache of at most max_bytes (> 0). */
void hg_cache_init(hg_cache_t *c, size_t max_bytes);
/** Free every entry. */
void hg_cache_free(hg_cache_t *c);
/** The entry for key (touched as most recently used), or NULL. */
hg_entry_t *hg_cache_get(hg_cache_t *c, const char *key, size_t len);
/** Insert e (replacing and freeing any entry with its key), evicting from the LRU end until it
 *  fits. An entry larger than max_bytes / 4 is refused: returns -1 and leaves e detached. */
int hg_cache_put(hg_cache_t *c, hg_entry_t *e);
/** Remove e from the cache without freeing it (the caller now owns it). */
void hg_cache_detach(hg_cache_t *c, hg_entry_t *e);
/** Account `delta` more bytes for an entry that is in the cache (e.g. its gzip form was added),
 *  evicting others if needed. */
void hg_cache_grow(hg_cache_t *c, hg_entry_t *e, size_t delta);

/** New detached entry with a copy of key; NULL on OOM. */
hg_entry_t *hg_entry_new(const char *key, size_t len);
/** Free a detached entry and drop its buffer references. */
void hg_entry_free(hg_entry_t *e);
/** Recompute e->bytes from its buffers. */
void hg_entry_account(hg_entry_t *e);

#endif
