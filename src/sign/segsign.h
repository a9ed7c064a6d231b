/* Segment URL signers: one interface over S3 presigning and the CDN schemes (SEGMENT_SIGNER).
 *
 *   s3         today's SigV4 presigned bucket URL (hg_presign), X-Amz-Date = the window start
 *   cloudfront CloudFront signed URL: custom policy on the segment's folder + '*' (default) or
 *              a canned policy per URL; RSA 2048 or ECDSA P-256, SHA-1 or SHA-256
 *   akamai     EdgeAuth v2 token, acl = the folder's path + '*'
 *   gcdn       Google Cloud CDN signed URL prefix (the folder's URL)
 *   bunny      Bunny token authentication (HMAC-SHA256) with token_path = the folder
 *
 * A CDN segment URL is SEGMENT_BASE_URL + '/' + the full object key, percent-encoded (slashes
 * kept), followed by the playlist URI's own query, if any, and the scheme's parameters. Every CDN
 * URL expires at window_start + expires, so all replicas write the same bytes within a window.
 * Folder-level signatures are computed once per folder and expiry and kept in a small cache.
 *
 * A signer owns copies of what it needs from the configuration and never logs key material.
 * It is not thread-safe: give each worker its own. */
#ifndef HG_SEGSIGN_H
#define HG_SEGSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../config.h"
#include "sigv4.h"

typedef struct hg_segsigner hg_segsigner_t;

/** Create the signer cfg->seg_signer selects. Returns NULL with a one-line message in err naming
 *  the setting at fault (missing key, unreadable or unsupported key file), or on allocation
 *  failure. */
hg_segsigner_t *hg_segsigner_new(const hg_config_t *cfg, char *err, size_t errlen);

/** Validate the CDN settings of cfg by building a signer once (loads and checks key files).
 *  Returns 0, or -1 with err set as for hg_segsigner_new. Used by the configuration loader so a
 *  bad key stops startup (and a SIGHUP reload) with a message naming the setting. */
int hg_segsigner_check(const hg_config_t *cfg, char *err, size_t errlen);

/** Free a signer and wipe its keys. NULL is allowed. */
void hg_segsigner_free(hg_segsigner_t *s);

/** Append to out the signed URL of object_key (the full key in the bucket, raw bytes, no leading
 *  '/'). query/qlen: the playlist URI's own query string (may be NULL/0); it is kept in the URL
 *  (and covered by the signature where the scheme signs queries). window_start: the signing
 *  window's start (X-Amz-Date for s3); expires: lifetime in seconds from window_start.
 *  Returns 0, or a negative error (hg_buf errors, -1 when signing fails); on error out is
 *  truncated back to its original length. */
int hg_segsigner_url(hg_segsigner_t *s, hg_buf_t *out, const char *object_key, size_t key_len,
                     const char *query, size_t qlen, int64_t window_start, long expires);

/** hg_segsigner_url for a URL written into `out` among many (a playlist): with s3 the signature
 *  may be computed later, together with others (hg_presign_defer); hg_segsigner_flush(s, out)
 *  must run before out is read, and after every batch of calls (even when the caller failed in
 *  between), so the next batch may target another buffer. Other signers sign at once. */
int hg_segsigner_url_batched(hg_segsigner_t *s, hg_buf_t *out, const char *object_key, size_t key_len,
                             const char *query, size_t qlen, int64_t window_start, long expires);
/** hg_segsigner_url_batched of the key dir "/" name (name alone when dlen is 0), without a
 *  query, when the scheme can take the key in two parts (s3); dir encoded as in a URL path
 *  (hg_pct_encode keeping '/'), name raw. Returns 0 or a negative error as
 *  hg_segsigner_url_batched does, and 1 (nothing written) for schemes that cannot. */
int hg_segsigner_batched_in(hg_segsigner_t *s, hg_buf_t *out, const char *dir, size_t dlen,
                            const char *name, size_t nlen, int64_t window_start, long expires);
/** Complete the signatures deferred into out. Returns 0 or a negative error (then out's
 *  deferred URLs are unusable and the pending work is discarded). */
int hg_segsigner_flush(hg_segsigner_t *s, hg_buf_t *out);

/** s3: sign with `signer` (borrowed: it must outlive its use here or be replaced first), e.g.
 *  the worker's signer built from rotating platform credentials. No-op for other schemes. */
void hg_segsigner_use_s3(hg_segsigner_t *s, hg_signer_t *signer);

/** Name of the scheme ("s3", "cloudfront", ...), for logs. */
const char *hg_segsigner_name(const hg_segsigner_t *s);

#endif
