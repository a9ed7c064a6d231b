/* Segment signers: the maintainers' published answers (Akamai, Google Cloud CDN, Bunny), the
 * CloudFront policy text and signatures verified with the public key (ECDSA P-256 and RSA 2048
 * generated here), the URL layout, the folder cache, the s3 adapter against hg_presign, and
 * configuration errors that name the setting. Independent-oracle tests live in tests/cdn/. */
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "common/base64.h"
#include "config.h"
#include "sign/cdn.h"
#include "sign/segsign.h"
#include "sign/sigv4.h"
#include "test.h"

static mbedtls_entropy_context ent;
static mbedtls_ctr_drbg_context drbg;

/* Write a fresh key to a temp file; kind 0: EC P-256, 1: EC P-384, 2: RSA 2048, 3: RSA 1024.
 * Returns the public/private context (caller frees) and fills path. */
static mbedtls_pk_context *make_key(int kind, char *path, size_t cap)
{
    mbedtls_pk_context *pk = malloc(sizeof *pk);
    mbedtls_pk_init(pk);
    if (kind < 2) {
        mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        mbedtls_ecp_gen_key(kind == 0 ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(*pk),
                            mbedtls_ctr_drbg_random, &drbg);
    } else {
        mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), mbedtls_ctr_drbg_random, &drbg, kind == 2 ? 2048 : 1024, 65537);
    }
    unsigned char pem[8192];
    CHECK(mbedtls_pk_write_key_pem(pk, pem, sizeof pem) == 0);
    snprintf(path, cap, "/tmp/hg_test_segsign_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, pem, strlen((char *)pem)) == (ssize_t)strlen((char *)pem));
    close(fd);
    return pk;
}

static void free_key(mbedtls_pk_context *pk, const char *path)
{
    mbedtls_pk_free(pk);
    free(pk);
    unlink(path);
}

/* Find "name=" in a query and return its value's length (value in *v). */
static size_t param(const char *url, const char *name, const char **v)
{
    size_t nl = strlen(name);
    for (const char *p = strchr(url, '?'); p; p = strchr(p + 1, '&')) {
        if (!strncmp(p + 1, name, nl) && p[1 + nl] == '=') {
            *v = p + 2 + nl;
            return strcspn(*v, "&");
        }
    }
    *v = NULL;
    return 0;
}

/* CloudFront base64 back to bytes. */
static long cf_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    char tmp[2048];
    if (n >= sizeof tmp) return -1;
    for (size_t i = 0; i < n; i++) tmp[i] = s[i] == '-' ? '+' : s[i] == '~' ? '/' : s[i] == '_' ? '=' : s[i];
    return hg_b64_decode(out, cap, tmp, n);
}

/* Verify a CloudFront signature over policy with the public key. */
static int cf_verify(mbedtls_pk_context *pk, int sha256, const char *policy, size_t plen, const char *sig, size_t slen)
{
    unsigned char raw[1024], hash[32];
    long n = cf_decode(sig, slen, raw, sizeof raw);
    if (n <= 0) return -1;
    mbedtls_md_type_t mt = sha256 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA1;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(mt);
    mbedtls_md(md, (const unsigned char *)policy, plen, hash);
    return mbedtls_pk_verify(pk, mt, hash, mbedtls_md_get_size(md), raw, (size_t)n);
}

static void base_cfg(hg_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->s3_endpoint = "http://127.0.0.1:9000";
    c->s3_bucket = "media";
    c->s3_region = "us-east-1";
    c->access_key = "AKID";
    c->secret_key = "supersecret";
}

static void test_published(void)
{
    hg_buf_t b;
    hg_buf_init(&b, 0);
    /* Akamai EdgeAuth: key 1234, exp=1622136497, acl "/" + "*" */
    const unsigned char ak[] = {0x12, 0x34};
    CHECK(hg_akamai_token(&b, ak, 2, 1622136497, "/*", 2) == 0);
    CHECK_MEM(b.data, b.len,
              "exp=1622136497~acl=/*~hmac=ec70c1b6fb2b2baa4dd58e3a4bc1b8e333b63288fdc2d13c5a9b5037d1bba5ea",
              strlen("exp=1622136497~acl=/*~hmac=ec70c1b6fb2b2baa4dd58e3a4bc1b8e333b63288fdc2d13c5a9b5037d1bba5ea"));

    /* Google Cloud CDN: key nZtRohdNF9m3cKM24IcK4w==, my-key, 1549751401 */
    unsigned char gk[16];
    CHECK(hg_b64_decode(gk, 16, "nZtRohdNF9m3cKM24IcK4w==", 24) == 16);
    hg_buf_reset(&b);
    const char *pfx = "http://www.example.com/some/";
    CHECK(hg_gcdn_prefix(&b, gk, "my-key", pfx, strlen(pfx), 1549751401) == 0);
    CHECK(hg_buf_appendc(&b, 0) == 0);
    CHECK_STR(b.data, "URLPrefix=aHR0cDovL3d3dy5leGFtcGxlLmNvbS9zb21lLw==&Expires=1549751401&KeyName=my-key"
                      "&Signature=3th4ThmpS95I1TAKYyYSCSq3dnQ=");
    hg_buf_reset(&b);
    const char *u = "http://35.186.234.33/index.html";
    CHECK(hg_gcdn_url(&b, gk, "my-key", u, strlen(u), 1549751401) == 0);
    CHECK(hg_buf_appendc(&b, 0) == 0);
    CHECK_STR(b.data, "Expires=1549751401&KeyName=my-key&Signature=CRFqQnVfFyiUyR63OQf-HRUpIwc=");

    /* Bunny: the maintainers' "plain" and "path_only" vectors */
    hg_buf_reset(&b);
    CHECK(hg_bunny_token(&b, "SecurityKey", 11, "/300kb.jpg", 10, 1598024587, NULL, 0) == 0);
    CHECK_MEM(b.data, b.len, "HS256-o10JRWlsAItyAsdKS6jJKjabHN4FrFsplDHPV1idcX4", 49);
    hg_buf_reset(&b);
    CHECK(hg_bunny_token(&b, "SecurityKey", 11, "/abc", 4, 1598024587, "token_path=/abc", 15) == 0);
    CHECK_MEM(b.data, b.len, "HS256-uVZvT3SbEoVKYJyDJgbcsDmSFf73cv-uNUVaJiKWpbQ", 49);
    hg_buf_free(&b);
}

static void test_cloudfront(int kind, int sha256, int canned)
{
    char path[64];
    mbedtls_pk_context *pk = make_key(kind, path, sizeof path);
    hg_config_t c;
    base_cfg(&c);
    c.seg_signer = HG_SEG_CLOUDFRONT;
    c.seg_base_url = "https://d111.cloudfront.net/cdn";
    c.cf_key_pair_id = "K2JCJMDEHXQW5F";
    c.cf_key_file = path;
    c.cf_sha256 = sha256;
    c.cf_canned = canned;
    char err[256] = "";
    hg_segsigner_t *s = hg_segsigner_new(&c, err, sizeof err);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  %s\n", err);
    hg_buf_t a, b, pol;
    hg_buf_init(&a, 0);
    hg_buf_init(&b, 0);
    hg_buf_init(&pol, 0);
    CHECK(s && hg_segsigner_url(s, &a, "vod/a b/seg1.ts", 15, NULL, 0, 1700000000, 7500) == 0);
    CHECK(s && hg_segsigner_url(s, &b, "vod/a b/seg2.ts", 15, "x=1", 3, 1700000000, 7500) == 0);
    hg_buf_appendc(&a, 0);
    hg_buf_appendc(&b, 0);
    const char *base = "https://d111.cloudfront.net/cdn/vod/a%20b/seg1.ts?";
    CHECK(a.data && !strncmp(a.data, base, strlen(base)));
    const char *v;
    size_t n = param(a.data, "Key-Pair-Id", &v);
    CHECK_MEM(v, n, "K2JCJMDEHXQW5F", 14);
    n = param(a.data, "Hash-Algorithm", &v);
    CHECK(sha256 ? (n == 6 && !memcmp(v, "SHA256", 6)) : v == NULL);
    const char *sig;
    size_t sl = param(a.data, "Signature", &sig);
    if (canned) {
        n = param(a.data, "Expires", &v);
        CHECK_MEM(v, n, "1700007500", 10);
        CHECK(hg_cf_policy(&pol, a.data, strlen(base) - 1, 1700007500) == 0);
        CHECK(cf_verify(pk, sha256, pol.data, pol.len, sig, sl) == 0);
        /* the second URL's Resource carries its query */
        sl = param(b.data, "Signature", &sig);
        hg_buf_reset(&pol);
        CHECK(hg_cf_policy(&pol, b.data, strlen(base) + 3, 1700007500) == 0);
        CHECK(cf_verify(pk, sha256, pol.data, pol.len, sig, sl) == 0);
        CHECK(cf_verify(pk, sha256, pol.data, pol.len - 1, sig, sl) != 0); /* must be able to fail */
    } else {
        n = param(a.data, "Policy", &v);
        unsigned char raw[1024];
        long pl = cf_decode(v, n, raw, sizeof raw - 1);
        CHECK(pl > 0);
        raw[pl > 0 ? pl : 0] = 0;
        CHECK_STR((char *)raw, "{\"Statement\":[{\"Resource\":\"https://d111.cloudfront.net/cdn/vod/a%20b/*\","
                               "\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1700007500}}}]}");
        CHECK(cf_verify(pk, sha256, (char *)raw, (size_t)pl, sig, sl) == 0);
        raw[10] ^= 1;
        CHECK(cf_verify(pk, sha256, (char *)raw, (size_t)pl, sig, sl) != 0);
        /* one signature per folder and window: the second URL reuses it after its own query */
        const char *tail = strstr(a.data, "?Policy=");
        CHECK(tail && strstr(b.data, "?x=1&Policy=") && !strcmp(strstr(b.data, "&Policy=") + 1, tail + 1));
    }
    hg_buf_free(&a);
    hg_buf_free(&b);
    hg_buf_free(&pol);
    hg_segsigner_free(s);
    free_key(pk, path);
}

static void test_bad_keys(void)
{
    hg_config_t c;
    base_cfg(&c);
    c.seg_signer = HG_SEG_CLOUDFRONT;
    c.seg_base_url = "https://d111.cloudfront.net";
    c.cf_key_pair_id = "K1";
    char err[256];
    c.cf_key_file = "/nonexistent/key.pem";
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL);
    CHECK(!strncmp(err, "CLOUDFRONT_PRIVATE_KEY_FILE:", 28));
    for (int kind = 1; kind <= 3; kind += 2) {
        char path[64];
        mbedtls_pk_context *pk = make_key(kind, path, sizeof path);
        c.cf_key_file = path;
        err[0] = 0;
        CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL);
        CHECK(!strncmp(err, "CLOUDFRONT_PRIVATE_KEY_FILE:", 28));
        CHECK(!strstr(err, "PRIVATE KEY-----"));
        free_key(pk, path);
    }
    c.cf_key_file = NULL;
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL && !strncmp(err, "CLOUDFRONT_PRIVATE_KEY_FILE:", 28));
    c.seg_base_url = NULL;
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL && !strncmp(err, "SEGMENT_BASE_URL:", 17));
    c.seg_base_url = "https://x";
    c.seg_signer = HG_SEG_AKAMAI;
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL && !strncmp(err, "AKAMAI_TOKEN_KEY:", 17));
    c.seg_signer = HG_SEG_GCDN;
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL && !strncmp(err, "GCDN_KEY_NAME:", 14));
    c.seg_signer = HG_SEG_BUNNY;
    CHECK(hg_segsigner_new(&c, err, sizeof err) == NULL && !strncmp(err, "BUNNY_TOKEN_KEY:", 16));

    /* through the configuration loader: startup stops with the setting's name */
    char *argv[] = {"hlsgate", "--s3-bucket=media", "--s3-access-key-id=AKID", "--s3-secret-access-key=supersecret",
                    "--segment-signer=cloudfront", "--segment-base-url=https://d111.cloudfront.net",
                    "--cloudfront-key-pair-id=K1", "--cloudfront-private-key-file=/nonexistent.pem"};
    hg_config_t lc;
    CHECK(hg_config_load(&lc, 8, argv, err, sizeof err) == HG_CONFIG_ERROR);
    CHECK(!strncmp(err, "CLOUDFRONT_PRIVATE_KEY_FILE:", 28));
    hg_config_free(&lc);
    char *argv2[] = {"hlsgate", "--s3-bucket=media", "--s3-access-key-id=AKID", "--s3-secret-access-key=x",
                     "--segment-signer=gcdn", "--segment-base-url=https://cdn.example", "--gcdn-key-name=k",
                     "--gcdn-key=c2hvcnQ"};
    CHECK(hg_config_load(&lc, 8, argv2, err, sizeof err) == HG_CONFIG_ERROR);
    CHECK(!strncmp(err, "--gcdn-key:", 11) && !strstr(err, "c2hvcnQ")); /* a flag is named as a flag */
    hg_config_free(&lc);
    char *argv3[] = {"hlsgate", "--s3-bucket=media", "--s3-access-key-id=AKID", "--s3-secret-access-key=x",
                     "--segment-signer=akamai", "--segment-base-url=https://cdn.example/p?q", "--akamai-token-key=1234"};
    CHECK(hg_config_load(&lc, 7, argv3, err, sizeof err) == HG_CONFIG_ERROR);
    CHECK(!strncmp(err, "--segment-base-url:", 19));
    hg_config_free(&lc);
    argv3[5] = "--segment-base-url=https://cdn.example/p/";
    CHECK(hg_config_load(&lc, 7, argv3, err, sizeof err) == HG_CONFIG_OK);
    CHECK(lc.seg_signer == HG_SEG_AKAMAI && lc.seg_base_url && !strcmp(lc.seg_base_url, "https://cdn.example/p"));
    CHECK(lc.akamai_key_len == 2 && lc.akamai_key[0] == 0x12 && !strcmp(lc.akamai_token_name, "__token__"));
    hg_config_free(&lc);
}

static void test_hmac_schemes(void)
{
    hg_config_t c;
    base_cfg(&c);
    unsigned char ak[] = {0x12, 0x34};
    c.seg_base_url = "https://cdn.example.com/base";
    c.akamai_key = ak;
    c.akamai_key_len = 2;
    c.gcdn_key_name = "my-key";
    CHECK(hg_b64_decode(c.gcdn_key, 16, "nZtRohdNF9m3cKM24IcK4w==", 24) == 16);
    c.gcdn_key_set = 1;
    c.bunny_key = "SecurityKey";
    char err[256];
    hg_buf_t a, want;
    hg_buf_init(&a, 0);
    hg_buf_init(&want, 0);

    c.seg_signer = HG_SEG_AKAMAI;
    hg_segsigner_t *s = hg_segsigner_new(&c, err, sizeof err);
    CHECK(s && !strcmp(hg_segsigner_name(s), "akamai"));
    CHECK(s && hg_segsigner_url(s, &a, "v/1+1/s.ts", 10, NULL, 0, 1622136000, 497) == 0);
    hg_buf_appends(&want, "https://cdn.example.com/base/v/1%2B1/s.ts?__token__=");
    hg_akamai_token(&want, ak, 2, 1622136497, "/base/v/1%2B1/*", 15);
    CHECK_MEM(a.data, a.len, want.data, want.len);
    hg_segsigner_free(s);

    c.seg_signer = HG_SEG_GCDN;
    s = hg_segsigner_new(&c, err, sizeof err);
    hg_buf_reset(&a);
    hg_buf_reset(&want);
    CHECK(s && hg_segsigner_url(s, &a, "seg.ts", 6, "a=b", 3, 1549751000, 401) == 0);
    hg_buf_appends(&want, "https://cdn.example.com/base/seg.ts?a=b&");
    hg_gcdn_prefix(&want, c.gcdn_key, "my-key", "https://cdn.example.com/base/", 29, 1549751401);
    CHECK_MEM(a.data, a.len, want.data, want.len);
    hg_segsigner_free(s);

    c.seg_signer = HG_SEG_BUNNY;
    c.seg_base_url = "https://token-tester.b-cdn.net";
    s = hg_segsigner_new(&c, err, sizeof err);
    hg_buf_reset(&a);
    hg_buf_reset(&want);
    CHECK(s && hg_segsigner_url(s, &a, "abc/300kb.jpg", 13, NULL, 0, 1598020000, 4587) == 0);
    hg_buf_appends(&want, "https://token-tester.b-cdn.net/abc/300kb.jpg?token=");
    hg_bunny_token(&want, "SecurityKey", 11, "/abc/", 5, 1598024587, "token_path=/abc/", 16);
    hg_buf_appends(&want, "&token_path=%2Fabc%2F&expires=1598024587");
    CHECK_MEM(a.data, a.len, want.data, want.len);
    /* a query is signed with the URL: sorted, decoded for the signature, re-encoded */
    hg_buf_reset(&a);
    hg_buf_reset(&want);
    CHECK(s && hg_segsigner_url(s, &a, "abc/300kb.jpg", 13, "z=1&b=x+y%21", 12, 1598020000, 4587) == 0);
    hg_buf_appends(&want, "https://token-tester.b-cdn.net/abc/300kb.jpg?token=");
    hg_bunny_token(&want, "SecurityKey", 11, "/abc/", 5, 1598024587, "b=x y!&token_path=/abc/&z=1", 27);
    hg_buf_appends(&want, "&b=x%20y%21&token_path=%2Fabc%2F&z=1&expires=1598024587");
    CHECK_MEM(a.data, a.len, want.data, want.len);
    /* a malformed escape is signed as written, not a failure */
    hg_buf_reset(&a);
    hg_buf_reset(&want);
    CHECK(s && hg_segsigner_url(s, &a, "abc/300kb.jpg", 13, "x=%zz", 5, 1598020000, 4587) == 0);
    hg_buf_appends(&want, "https://token-tester.b-cdn.net/abc/300kb.jpg?token=");
    hg_bunny_token(&want, "SecurityKey", 11, "/abc/", 5, 1598024587, "token_path=/abc/&x=%zz", 22);
    hg_buf_appends(&want, "&token_path=%2Fabc%2F&x=%25zz&expires=1598024587");
    CHECK_MEM(a.data, a.len, want.data, want.len);
    /* errors leave out untouched */
    hg_buf_t small;
    hg_buf_init(&small, 40);
    hg_buf_appends(&small, "keep");
    CHECK(hg_segsigner_url(s, &small, "abc/300kb.jpg", 13, NULL, 0, 1, 1) == HG_EOVERFLOW);
    CHECK(small.len == 4);
    hg_buf_free(&small);
    hg_segsigner_free(s);
    hg_buf_free(&a);
    hg_buf_free(&want);
}

static void test_s3(void)
{
    hg_config_t c;
    base_cfg(&c);
    char err[256];
    hg_segsigner_t *s = hg_segsigner_new(&c, err, sizeof err);
    hg_sigv4_config_t sc = {c.s3_endpoint, c.s3_bucket, c.s3_region, c.access_key, c.secret_key, NULL, 0};
    hg_signer_t *ref = hg_signer_new(&sc);
    hg_buf_t a, b;
    hg_buf_init(&a, 0);
    hg_buf_init(&b, 0);
    CHECK(s && hg_segsigner_url(s, &a, "v/s 1.ts", 8, "q=1", 3, 1700000000, 7500) == 0);
    CHECK(hg_presign(ref, &b, "v/s 1.ts", 8, "q=1", 3, 1700000000, 7500) == 0);
    CHECK(a.len > 0);
    CHECK_MEM(a.data, a.len, b.data, b.len);
    hg_buf_free(&a);
    hg_buf_free(&b);
    hg_signer_free(ref);
    hg_segsigner_free(s);
}

int main(void)
{
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
    test_published();
    for (int kind = 0; kind <= 2; kind += 2)
        for (int sha = 0; sha < 2; sha++)
            for (int canned = 0; canned < 2; canned++) test_cloudfront(kind, sha, canned);
    test_bad_keys();
    test_hmac_schemes();
    test_s3();
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
    TEST_DONE();
}
