/* CloudFront signed URLs: a JSON policy signed with RSA (PKCS#1 v1.5) or ECDSA P-256 over its
 * SHA-1 or SHA-256 digest, both encoded in CloudFront's base64 alphabet. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "../common/base64.h"
#include "cdn.h"

struct hg_cf_key {
    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char *key_pair_id;
    int sha256;
    hg_buf_t policy; /* scratch */
};

hg_cf_key_t *hg_cf_key_load(const char *file, const char *key_pair_id, int sha256, char *err,
                            size_t errlen)
{
    hg_cf_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: out of memory");
        return NULL;
    }
    mbedtls_pk_init(&k->pk);
    mbedtls_entropy_init(&k->entropy);
    mbedtls_ctr_drbg_init(&k->drbg);
    hg_buf_init(&k->policy, 0);
    k->sha256 = sha256;
    int rc = mbedtls_pk_parse_keyfile(&k->pk, file, NULL);
    if (rc) {
        char why[100];
        mbedtls_strerror(rc, why, sizeof why);
        snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: cannot load a PEM private key from '%.200s' (%s)", file, why);
        hg_cf_key_free(k);
        return NULL;
    }
    mbedtls_pk_type_t t = mbedtls_pk_get_type(&k->pk);
    if (t == MBEDTLS_PK_RSA) {
        if (mbedtls_pk_get_bitlen(&k->pk) < 2048) {
            snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: RSA key in '%.200s' has %zu bits, CloudFront needs 2048", file,
                     mbedtls_pk_get_bitlen(&k->pk));
            hg_cf_key_free(k);
            return NULL;
        }
    } else if (t == MBEDTLS_PK_ECKEY) {
        if (mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
            snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: EC key in '%.200s' is not on P-256", file);
            hg_cf_key_free(k);
            return NULL;
        }
    } else {
        snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: '%.200s' holds neither an RSA nor an ECDSA key", file);
        hg_cf_key_free(k);
        return NULL;
    }
    static const unsigned char pers[] = "hlsgate-cloudfront";
    if (mbedtls_ctr_drbg_seed(&k->drbg, mbedtls_entropy_func, &k->entropy, pers, sizeof pers - 1)) {
        snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: cannot seed the random generator");
        hg_cf_key_free(k);
        return NULL;
    }
    if (!(k->key_pair_id = strdup(key_pair_id ? key_pair_id : ""))) {
        snprintf(err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: out of memory");
        hg_cf_key_free(k);
        return NULL;
    }
    return k;
}

void hg_cf_key_free(hg_cf_key_t *k)
{
    if (!k) return;
    mbedtls_pk_free(&k->pk); /* zeroises the key material */
    mbedtls_ctr_drbg_free(&k->drbg);
    mbedtls_entropy_free(&k->entropy);
    free(k->key_pair_id);
    hg_buf_free(&k->policy);
    free(k);
}

int hg_cf_policy(hg_buf_t *out, const char *resource, size_t len, int64_t expires)
{
    int rc = hg_buf_appends(out, "{\"Statement\":[{\"Resource\":\"");
    for (size_t i = 0; !rc && i < len; i++) {
        unsigned char c = (unsigned char)resource[i];
        if (c == '"' || c == '\\') rc = hg_buf_appendc(out, '\\');
        if (!rc && c < 0x20) rc = hg_buf_appendf(out, "\\u%04x", c);
        else if (!rc) rc = hg_buf_appendc(out, (char)c);
    }
    if (!rc)
        rc = hg_buf_appendf(out, "\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":%" PRId64 "}}}]}",
                            expires);
    return rc;
}

/* Append the CloudFront-base64 signature of k->policy. */
static int sign_policy(hg_cf_key_t *k, hg_buf_t *out)
{
    mbedtls_md_type_t mt = k->sha256 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA1;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(mt);
    unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t sig_len = 0;
    if (mbedtls_md(md, (const unsigned char *)k->policy.data, k->policy.len, hash)) return -1;
    if (mbedtls_pk_sign(&k->pk, mt, hash, mbedtls_md_get_size(md), sig, &sig_len, mbedtls_ctr_drbg_random,
                        &k->drbg))
        return -1;
    return hg_b64_encode(out, sig, sig_len, HG_B64_CLOUDFRONT);
}

static int tail(hg_cf_key_t *k, hg_buf_t *out)
{
    int rc = hg_buf_appends(out, "&Key-Pair-Id=");
    if (!rc) rc = hg_buf_appends(out, k->key_pair_id);
    if (!rc && k->sha256) rc = hg_buf_appends(out, "&Hash-Algorithm=SHA256");
    return rc;
}

int hg_cf_canned(hg_cf_key_t *k, hg_buf_t *out, const char *url, size_t len, int64_t expires)
{
    hg_buf_reset(&k->policy);
    int rc = hg_cf_policy(&k->policy, url, len, expires);
    if (!rc) rc = hg_buf_appendf(out, "Expires=%" PRId64 "&Signature=", expires);
    if (!rc) rc = sign_policy(k, out);
    if (!rc) rc = tail(k, out);
    return rc;
}

int hg_cf_custom(hg_cf_key_t *k, hg_buf_t *out, const char *resource, size_t len, int64_t expires)
{
    hg_buf_reset(&k->policy);
    int rc = hg_cf_policy(&k->policy, resource, len, expires);
    if (!rc) rc = hg_buf_appends(out, "Policy=");
    if (!rc) rc = hg_b64_encode(out, k->policy.data, k->policy.len, HG_B64_CLOUDFRONT);
    if (!rc) rc = hg_buf_appends(out, "&Signature=");
    if (!rc) rc = sign_policy(k, out);
    if (!rc) rc = tail(k, out);
    return rc;
}
