/* The CDN signing schemes behind segsign.h, one file each. These functions are pure (keys and
 * inputs in, text appended to an hg_buf_t out) so unit tests can check them against the
 * published answers. Each returns 0, an hg_buf error, or -1 when a crypto call fails; on error
 * out may hold partial output (the caller truncates). */
#ifndef HG_SIGN_CDN_H
#define HG_SIGN_CDN_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

/* ---- CloudFront (cdn_cloudfront.c) ---- */
typedef struct hg_cf_key hg_cf_key_t;

/** Load a PEM private key (RSA >= 2048 bits or ECDSA P-256) for signing with the given key pair
 *  id; sha256 selects SHA-256 (else SHA-1). Returns NULL with err set (naming
 *  CLOUDFRONT_PRIVATE_KEY_FILE, never quoting the key). */
hg_cf_key_t *hg_cf_key_load(const char *file, const char *key_pair_id, int sha256, char *err,
                            size_t errlen);
/** Free and wipe. NULL allowed. */
void hg_cf_key_free(hg_cf_key_t *k);
/** Append the JSON policy CloudFront signs for resource (no whitespace; '"' and '\' escaped). */
int hg_cf_policy(hg_buf_t *out, const char *resource, size_t len, int64_t expires);
/** Append "Expires=N&Signature=S&Key-Pair-Id=K" (+ "&Hash-Algorithm=SHA256") for url. */
int hg_cf_canned(hg_cf_key_t *k, hg_buf_t *out, const char *url, size_t len, int64_t expires);
/** Append "Policy=P&Signature=S&Key-Pair-Id=K" (+ "&Hash-Algorithm=SHA256") for a custom policy
 *  whose Resource is resource (usually ending in '*'). */
int hg_cf_custom(hg_cf_key_t *k, hg_buf_t *out, const char *resource, size_t len, int64_t expires);

/* ---- Akamai EdgeAuth v2 (cdn_akamai.c) ---- */
/** Append "exp=N~acl=ACL~hmac=HEX" (HMAC-SHA256 over "exp=N~acl=ACL" with the binary key). */
int hg_akamai_token(hg_buf_t *out, const unsigned char *key, size_t klen, int64_t expires,
                    const char *acl, size_t acl_len);

/* ---- Google Cloud CDN (cdn_gcdn.c) ---- */
/** Append "URLPrefix=B&Expires=N&KeyName=K&Signature=S" for a signed URL prefix (B and S in
 *  padded base64url, S = HMAC-SHA1 over the text before "&Signature"). */
int hg_gcdn_prefix(hg_buf_t *out, const unsigned char key[16], const char *key_name,
                   const char *prefix, size_t plen, int64_t expires);
/** Append "Expires=N&KeyName=K&Signature=S" for one full URL (S over url + '?' or '&' +
 *  "Expires=N&KeyName=K"). */
int hg_gcdn_url(hg_buf_t *out, const unsigned char key[16], const char *key_name, const char *url,
                size_t len, int64_t expires);

/* ---- Bunny (cdn_bunny.c) ---- */
/** Append "HS256-" + unpadded base64url(HMAC-SHA256(key, path + expires + params)), where params
 *  is the "k=v&k=v" text of the signed parameters, sorted by name, values not encoded. */
int hg_bunny_token(hg_buf_t *out, const char *key, size_t klen, const char *path, size_t plen,
                   int64_t expires, const char *params, size_t params_len);

#endif
