/* SigV4 query-string presigning for S3 GET requests.
 *
 * The signer owns copies of every configuration string. It caches the daily signing key (derived
 * with mbedTLS HMAC) and the SHA-256 states of the HMAC pad blocks, so signing one URL costs
 * about nine SHA-256 compression blocks (sha256.h: SHA-NI when the CPU has it), and no malloc
 * apart from growing the caller's output buffer and, the first times, the signer's own scratch.
 * A signer is not thread-safe: give each worker its own (hg_signer_new from the same config).
 *
 * Two ways to sign: hg_presign computes the signature at once; hg_presign_defer writes the URL
 * with a placeholder signature and queues the hashing, and hg_presign_flush computes all queued
 * signatures together, interleaving independent URLs in the SHA-256 lanes (2-4x faster hashing).
 * Both produce byte-identical URLs. */
#ifndef HG_SIGV4_H
#define HG_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "../common/buf.h"

#define HG_PRESIGN_MAX_EXPIRES 604800L
/* Deferred presigns queued before hg_presign_defer flushes by itself. */
#define HG_PRESIGN_BATCH 16
/* hg_presign_defer / hg_presign_flush used against their contract (see below). */
#define HG_PRESIGN_EBATCH (-22)

typedef struct {
    const char *endpoint;      /* "scheme://host[:port]", no path, no trailing slash */
    const char *bucket;        /* bucket name */
    const char *region;        /* e.g. "us-east-1" */
    const char *access_key;    /* access key id */
    const char *secret_key;    /* secret access key (never logged) */
    const char *session_token; /* NULL or "" when not using temporary credentials */
    int virtual_host;          /* 0: endpoint/bucket/key  1: scheme://bucket.host[:port]/key */
} hg_sigv4_config_t;

typedef struct hg_signer hg_signer_t;

/** Create a signer from cfg (all strings are copied). Returns NULL on allocation failure or when
 *  a required field is missing. */
hg_signer_t *hg_signer_new(const hg_sigv4_config_t *cfg);
/** Free a signer and wipe its secrets. NULL is allowed. */
void hg_signer_free(hg_signer_t *s);

/** Append to `out` the presigned GET URL of object `key` (raw key bytes as stored in S3, without a
 *  leading '/'; may contain any byte but NUL).
 *  `query`/`qlen` is an optional extra query string exactly as it appeared after '?' in a playlist
 *  URI (may be NULL/0). Its parameters are kept in the URL and covered by the signature.
 *  `when` becomes X-Amz-Date; `expires` is clamped to [1, 604800].
 *  Returns 0, or HG_EOVERFLOW / HG_ENOMEM from `out` (out is then left with partial content
 *  truncated back to its original length). */
int hg_presign(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen, const char *query,
               size_t qlen, time_t when, long expires);

/** Deferred hg_presign: append the same URL as hg_presign would, but with 64 '0' placeholder
 *  digits for X-Amz-Signature, and queue the signature. The queue signs itself when it reaches
 *  HG_PRESIGN_BATCH entries; hg_presign_flush signs the rest.
 *  Contract:
 *   - every hg_presign_defer between two flushes targets the same `out` (the signer remembers
 *     offsets into it, never pointers, so `out` may grow and move in between);
 *   - the caller may append anything else to `out` in between, but must not shorten, reset,
 *     steal, send or otherwise read the deferred URLs before hg_presign_flush(s, out) returned 0;
 *   - an error (from either call) discards every pending job: the URLs deferred since the last
 *     flush keep placeholder signatures, so `out` must not be served then.
 *  hg_presign on the same signer in between is allowed (it does not touch the queue).
 *  Returns 0; HG_EOVERFLOW / HG_ENOMEM from `out` (out truncated back to its length before this
 *  call); HG_PRESIGN_EBATCH when `out` differs from the pending jobs' buffer. */
int hg_presign_defer(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen,
                     const char *query, size_t qlen, time_t when, long expires);

/** hg_presign_defer of the key dir "/" name (name alone when dlen is 0) without an extra query:
 *  the same URL, without first joining the key. dir is given encoded as in a URL path
 *  (hg_pct_encode with '/' kept), so a playlist's folder is encoded once for all its segments;
 *  name is raw. */
int hg_presign_defer_in(hg_signer_t *s, hg_buf_t *out, const char *dir, size_t dlen,
                        const char *name, size_t nlen, time_t when, long expires);

/** Compute every pending signature and write it into `out` (the buffer given to
 *  hg_presign_defer). Call it before `out` is read or handed on, e.g. after each rewriter feed:
 *  a batch never needs to wait for more input. No pending job: returns 0 at once.
 *  Returns 0, or HG_PRESIGN_EBATCH when `out` is not the pending jobs' buffer or was shortened
 *  under them (the jobs are discarded, see the contract above). */
int hg_presign_flush(hg_signer_t *s, hg_buf_t *out);

/** Number of deferred presigns waiting for hg_presign_flush. */
size_t hg_presign_pending(const hg_signer_t *s);

/** The URL of `key` without any signature (scheme://host/[bucket/]encoded-key), for logs and for
 *  origin requests signed in headers. Returns 0 or an hg_buf error. */
int hg_object_url(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen);

#endif
