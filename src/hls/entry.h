/* A finished playlist response, as the cache keeps it and as a finished fill hands it to its
 * waiting clients: headers + body in one shared buffer (a hit is one write of a per-request
 * prefix and this buffer), its gzip form made on first demand, and the origin's bytes and
 * validators for conditional revalidation.
 *
 * Ownership: reference-counted (one worker thread: a plain int). The cache holds one reference
 * while the entry is cached; anyone answering clients from it holds another for the duration. */
#ifndef HG_PL_ENTRY_H
#define HG_PL_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/map.h"
#include "../common/rbuf.h"

typedef struct {
    int refs;
    hg_rbuf_t *resp; /* headers after the per-request prefix, then the body */
    size_t resp_hdr; /* length of those headers (a HEAD answer sends only these) */
    hg_rbuf_t *gz;   /* the same with a gzip body, made on the first request that accepts it */
    size_t gz_hdr;
    hg_rbuf_t *origin; /* the origin's bytes, kept to re-sign after a 304 */
    char etag[48];     /* our ETag for the identity body, with quotes ("" unknown) */
    char origin_etag[256];
    char origin_lm[64];
    int64_t window;       /* signing window the URLs in the body belong to */
    uint64_t fresh_until; /* loop time (ms) a live playlist must be revalidated at; 0: VOD */
    uint64_t fresh_ms;    /* live: how long each revalidation keeps it fresh (half a target) */
    long max_age;
    long presigned;
    /* Live playlists: where each media URL sits in the body, by "key\0query", so the next
     * version can keep the URLs of segments that were already there (RFC 8216 6.2.1). */
    hg_map_t urls;        /* value: (offset << 20 | length) into the body */
    int64_t urls_expire;  /* Unix time the URLs in the body expire */
    size_t *ins;          /* body offsets where a nested playlist URL ends (PASS_QUERY splices
                           * per-response parameters there); the low bit: the URL has a '?' */
    size_t nins;
    int varies;           /* a marker, no response: the playlist's bytes depend on the request's
                           * query (EXT-X-DEFINE QUERYPARAM/IMPORT), look up key + query */
} hg_pl_entry_t;

/** A new entry with one reference; NULL on OOM. */
hg_pl_entry_t *hg_pl_entry_new(void);
/** Take one more reference; returns e. */
hg_pl_entry_t *hg_pl_entry_ref(hg_pl_entry_t *e);
/** Drop one reference; the last one frees the entry and its buffers. NULL is allowed. */
void hg_pl_entry_unref(hg_pl_entry_t *e);
/** Same, with the signature of a cache free function. */
void hg_pl_entry_release(void *e);
/** What the entry costs in memory, for the cache's accounting. */
size_t hg_pl_entry_bytes(const hg_pl_entry_t *e);
/** Build resp from a head (hg_pl_head) and body[0..len). Returns 0 or HG_ENOMEM. */
int hg_pl_entry_set_resp(hg_pl_entry_t *e, const char *head, size_t hlen, const char *body, size_t len);
/** The signed URL this entry's body holds for media "key\0query" k[0..klen), when it stays valid
 *  at least min_life more seconds after now: *p and *len point into e->resp. Returns 1 or 0. */
int hg_pl_entry_url(const hg_pl_entry_t *e, const char *k, size_t klen, int64_t now, long min_life,
                    const char **p, size_t *len);
/** Make the gzip form (once). Returns 0 or an error. */
int hg_pl_entry_make_gz(hg_pl_entry_t *e);

#endif
