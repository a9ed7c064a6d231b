/* SigV4 query-string presigning for S3 GET requests (mbedTLS HMAC-SHA256 / SHA-256).
 *
 * The signer owns copies of every configuration string. It caches the daily signing key and keeps
 * HMAC contexts keyed with it, so signing one URL costs two SHA-256 passes plus one HMAC, and no
 * malloc apart from growing the caller's output buffer. A signer is not thread-safe: give each
 * worker its own (hg_signer_init from the same config). */
#ifndef HG_SIGV4_H
#define HG_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "../common/buf.h"

#define HG_PRESIGN_MAX_EXPIRES 604800L

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

/** The URL of `key` without any signature (scheme://host/[bucket/]encoded-key), for logs and for
 *  origin requests signed in headers. Returns 0 or an hg_buf error. */
int hg_object_url(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen);

#endif
