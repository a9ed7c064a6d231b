/* Unit tests for the SigV4 presigner (src/sign/sigv4.c).
 *
 * Known answers: the first one is the example published in the Amazon S3 API reference,
 * "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
 * (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html), signature
 * aeeed9bb...f604d404, reproduced with botocore 1.29. All other expected URLs were computed once
 * with Debian's botocore 1.29 (S3 client generate_presigned_url with datetime frozen, or
 * botocore.auth.S3SigV4QueryAuth for extra query parameters) and their query parameters put in
 * canonical order, which is the order hg_presign emits; the signature does not depend on order.
 * tests/sigv4_botocore.py repeats that comparison over a few hundred generated keys.
 *
 *   test_sigv4          run everything once per SHA-256 implementation (sha256.h); exit 77
 *                       (skipped) after the others when this CPU lacks one of them
 *   test_sigv4 NAME     run everything with implementation NAME only (77 when unsupported)
 *
 * test_batch checks the deferred API (hg_presign_defer / hg_presign_flush) against hg_presign on
 * random keys, queries, times and batch sizes: the URLs must be byte-identical. */
#include <limits.h>
#include <stdlib.h>

#include "common/pct.h"
#include "sign/sha256.h"
#include "sign/sigv4.h"
#include "test.h"

#define SKIP 77

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20130524 ((time_t)1369353600) /* 2013-05-24T00:00:00Z */
#define CRED_0524 "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
#define CRED_0525 "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130525%2Fus-east-1%2Fs3%2Faws4_request"
#define ALG "X-Amz-Algorithm=AWS4-HMAC-SHA256"

static hg_signer_t *mk(const char *endpoint, const char *bucket, int vhost, const char *token)
{
    hg_sigv4_config_t cfg = {endpoint, bucket, "us-east-1", AK, SK, token, vhost};
    hg_signer_t *s = hg_signer_new(&cfg);
    CHECK(s != NULL);
    return s;
}

/* Presign and compare the whole URL. */
static void expect(hg_signer_t *s, const char *key, const char *query, time_t when, long expires,
                   const char *want)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    int rc = hg_presign(s, &out, key, strlen(key), query, query ? strlen(query) : 0, when, expires);
    CHECK(rc == 0);
    if (rc == 0) CHECK_MEM(out.data, out.len, want, strlen(want));
    hg_buf_free(&out);
}

static void test_aws_doc_example(void)
{
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 1, NULL);
    expect(s, "test.txt", NULL, T_20130524, 86400,
           "https://examplebucket.s3.amazonaws.com/test.txt?" ALG "&" CRED_0524
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    hg_signer_free(s);
}

static void test_path_style_and_ports(void)
{
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    expect(s, "test.txt", NULL, T_20130524, 86400,
           "https://s3.amazonaws.com/examplebucket/test.txt?" ALG "&" CRED_0524
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=733255ef022bec3f2a8701cd61d4b371f3f28c9f193a1f02279211d48d5193d7");
    hg_signer_free(s);

    /* An explicit default port stays in the URL but not in the signed Host (as botocore does). */
    const char *q = "?" ALG "&" CRED_0524 "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                    "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                    "df0a205f252a9378fc1b9e4a43718fd7afb0bb97e0acd3197cd76608a28d58b1";
    char want[512];
    s = mk("https://s3.example.com:443", "examplebucket", 0, NULL);
    snprintf(want, sizeof want, "https://s3.example.com:443/examplebucket/test.txt%s", q);
    expect(s, "test.txt", NULL, T_20130524, 86400, want);
    hg_signer_free(s);
    s = mk("HTTPS://S3.Example.COM/", "examplebucket", 0, NULL); /* case and a trailing '/' */
    snprintf(want, sizeof want, "https://s3.example.com/examplebucket/test.txt%s", q);
    expect(s, "test.txt", NULL, T_20130524, 86400, want);
    hg_signer_free(s);
}

static void test_session_token(void)
{
    hg_signer_t *s = mk("http://127.0.0.1:9000", "media", 0, "FwoG/+tok==");
    expect(s, "a b/c+d.ts", NULL, T_20130524, 3600,
           "http://127.0.0.1:9000/media/a%20b/c%2Bd.ts?" ALG "&" CRED_0524
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600"
           "&X-Amz-Security-Token=FwoG%2F%2Btok%3D%3D&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=7fda775e5329308d0a5de3545f0aa834a622c3dadb3791b7efd899ac057227b9");
    hg_signer_free(s);
    /* An empty token means "no token". */
    s = mk("https://s3.amazonaws.com", "examplebucket", 1, "");
    expect(s, "test.txt", NULL, T_20130524, 86400,
           "https://examplebucket.s3.amazonaws.com/test.txt?" ALG "&" CRED_0524
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    hg_signer_free(s);
}

static void test_day_rollover(void)
{
#define BASE "https://s3.amazonaws.com/examplebucket/test.txt?" ALG "&"
    static const char *last24 = BASE CRED_0524
        "&X-Amz-Date=20130524T235959Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=d2d98b802a3180ca17c41646152bf9c2a11e86325a6d4d698663c8d2dd905705";
    static const char *first25 = BASE CRED_0525
        "&X-Amz-Date=20130525T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=912a9b67794146de7e9e4bc4a5aebf1a239084235e16d96c8ca4b2286a2354e8";
    /* One signer crossing midnight both ways must re-derive the key each time. */
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    expect(s, "test.txt", NULL, T_20130524 + 86399, 3600, last24);
    expect(s, "test.txt", NULL, T_20130524 + 86400, 3600, first25);
    expect(s, "test.txt", NULL, T_20130524 + 86399, 3600, last24);
    expect(s, "test.txt", NULL, T_20130524 + 86400, 3600, first25);
    hg_signer_free(s);

    /* Dates before 1970 count days downwards correctly. */
    s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    hg_buf_t out;
    hg_buf_init(&out, 0);
    CHECK(hg_presign(s, &out, "k", 1, NULL, 0, (time_t)-1, 60) == 0);
    CHECK(hg_buf_appendc(&out, '\0') == 0);
    CHECK(out.data && strstr(out.data, "%2F19691231%2F") && strstr(out.data, "=19691231T235959Z"));
    /* X-Amz-Date has a 4-digit year: the last representable second works, the next one fails
     * and leaves the buffer as it was. */
    hg_buf_reset(&out);
    CHECK(hg_presign(s, &out, "k", 1, NULL, 0, (time_t)253402300799LL, 60) == 0);
    CHECK(hg_buf_appendc(&out, '\0') == 0);
    CHECK(out.data && strstr(out.data, "=99991231T235959Z"));
    hg_buf_reset(&out);
    CHECK(hg_buf_appends(&out, "keep") == 0);
    CHECK(hg_presign(s, &out, "k", 1, NULL, 0, (time_t)253402300800LL, 60) == HG_EOVERFLOW);
    CHECK_MEM(out.data, out.len, "keep", 4);
    /* ...and the signer is still good for ordinary dates afterwards. */
    expect(s, "test.txt", NULL, T_20130524 + 86400, 3600, first25);
    hg_buf_free(&out);
    hg_signer_free(s);
}

static void test_expiry_clamp(void)
{
#define HEAD BASE CRED_0524 "&X-Amz-Date=20130524T000000Z&X-Amz-Expires="
    static const char *one =
        HEAD "1&X-Amz-SignedHeaders=host&X-Amz-Signature="
             "ad83659108528dca0b5aed1424b0789c2135e1b027959fd696725dee373a1d00";
    static const char *max =
        HEAD "604800&X-Amz-SignedHeaders=host&X-Amz-Signature="
             "d937c2d585fb9ae9c104170144bad6c0168ff9b85c36254de96613661d232107";
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    expect(s, "test.txt", NULL, T_20130524, 1, one);
    expect(s, "test.txt", NULL, T_20130524, 0, one);
    expect(s, "test.txt", NULL, T_20130524, -5, one);
    expect(s, "test.txt", NULL, T_20130524, LONG_MIN, one);
    expect(s, "test.txt", NULL, T_20130524, 604800, max);
    expect(s, "test.txt", NULL, T_20130524, 604801, max);
    expect(s, "test.txt", NULL, T_20130524, LONG_MAX, max);
    hg_signer_free(s);
}

static void test_extra_query(void)
{
    /* Decoded parameters signed by botocore: b="x y", a="1", token="", "%zz"="+", X-Amz-Foo="1",
     * A="/". The raw forms below spell them in different ways; all must canonicalise the same. */
    static const char *want =
        "https://s3.amazonaws.com/examplebucket/seg%201.ts?%25zz=%2B&A=%2F&" ALG "&" CRED_0524
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600&X-Amz-Foo=1&X-Amz-SignedHeaders=host"
        "&a=1&b=x%20y&token=&X-Amz-Signature="
        "e8bcaf839090de28365ac397817b86a1edf6d33d0a885dd449ee9f85f2be8228";
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    expect(s, "seg 1.ts", "b=x%20y&a=1&token&%zz=+&X-Amz-Foo=1&A=/", T_20130524, 3600, want);
    expect(s, "seg 1.ts", "&&A=%2f&b=x%20y&&token=&%25zz=%2B&X%2DAmz-Foo=%31&a=1&", T_20130524,
           3600, want);
    /* Stale auth parameters from an already presigned origin URL are replaced by ours. */
    expect(s, "seg 1.ts",
           "X-Amz-Signature=dead&b=x%20y&a=1&token&X-Amz-Date=19990101T000000Z&%zz=+"
           "&X-Amz-Foo=1&A=/&X-Amz-Expires=5&X-Amz-Credential=x&X-Amz-Algorithm=y"
           "&X-Amz-SignedHeaders=z&X-Amz-Security-Token=t",
           T_20130524, 3600, want);
    /* Only empty segments or only stale auth parameters: same as no query at all. */
    static const char *plain =
        "https://s3.amazonaws.com/examplebucket/test.txt?" ALG "&" CRED_0524
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=733255ef022bec3f2a8701cd61d4b371f3f28c9f193a1f02279211d48d5193d7";
    expect(s, "test.txt", "&&&", T_20130524, 86400, plain);
    expect(s, "test.txt", "X-Amz-Signature=abc", T_20130524, 86400, plain);
    expect(s, "test.txt", "", T_20130524, 86400, plain);
    /* Repeated names sort by value; a truncated escape at the end stays literal. */
    hg_buf_t out;
    hg_buf_init(&out, 0);
    CHECK(hg_presign(s, &out, "k", 1, "v=2&v=1&z=%4", 12, T_20130524, 60) == 0);
    CHECK(hg_buf_appendc(&out, '\0') == 0);
    CHECK(out.data && strstr(out.data, "host&v=1&v=2&z=%254&X-Amz-Signature="));
    hg_buf_free(&out);
    hg_signer_free(s);
}

static void test_object_url_and_keys(void)
{
    hg_signer_t *p = mk("http://minio:9000", "media", 0, NULL);
    hg_signer_t *v = mk("https://s3.eu-west-1.amazonaws.com", "Media-Bucket", 1, NULL);
    static const char key[] = "a b/\xff\t/~x//(1)!*'+=%.ts";
    static const char enc[] = "a%20b/%FF%09/~x//%281%29%21%2A%27%2B%3D%25.ts";
    hg_buf_t out;
    hg_buf_init(&out, 0);
    CHECK(hg_buf_appends(&out, "url: ") == 0);
    CHECK(hg_object_url(p, &out, key, sizeof key - 1) == 0);
    CHECK(hg_buf_appendc(&out, '|') == 0);
    CHECK(hg_object_url(v, &out, key, sizeof key - 1) == 0);
    char want[256];
    snprintf(want, sizeof want,
             "url: http://minio:9000/media/%s|https://media-bucket.s3.eu-west-1.amazonaws.com/%s",
             enc, enc);
    CHECK_MEM(out.data, out.len, want, strlen(want));
    /* A presigned URL starts with exactly the object URL. */
    hg_buf_reset(&out);
    CHECK(hg_presign(p, &out, key, sizeof key - 1, NULL, 0, T_20130524, 60) == 0);
    snprintf(want, sizeof want, "http://minio:9000/media/%s?X-Amz-Algorithm=", enc);
    CHECK(out.len > strlen(want) && memcmp(out.data, want, strlen(want)) == 0);
    hg_buf_free(&out);
    hg_signer_free(p);
    hg_signer_free(v);
}

/* The key encoder's block paths (all-safe keys with an overlapping last block, keys with escapes
 * anywhere) against hg_pct_encode: random keys of every length 0..96 over a mix of safe and
 * unsafe bytes, with the unsafe ones rare, common, or only in the last 16 bytes. */
static void test_key_encoding_random(void)
{
    static const char safe[] = "abcXYZ019-._~/";
    hg_signer_t *p = mk("http://minio:9000", "media", 0, NULL);
    hg_buf_t got, want;
    hg_buf_init(&got, 0);
    hg_buf_init(&want, 0);
    unsigned seed = 12345;
    int bad = 0;
    char key[96];
    for (int round = 0; round < 40; round++)
        for (size_t n = 0; n <= sizeof key; n++) {
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = (seed >> 8) & 1023;
                int unsafe = round % 3 == 0 ? r < 8 : round % 3 == 1 ? r < 300 : (i + 16 >= n && r < 120);
                key[i] = unsafe ? (char)(" %+=\x80\xff?#"[r % 8]) : safe[r % (sizeof safe - 1)];
            }
            hg_buf_reset(&got);
            hg_buf_reset(&want);
            CHECK(hg_object_url(p, &got, key, n) == 0);
            CHECK(hg_buf_appends(&want, "http://minio:9000/media/") == 0);
            CHECK(hg_pct_encode(&want, key, n, 1) == 0);
            bad += got.len != want.len || memcmp(got.data, want.data, got.len) != 0;
        }
    CHECK(bad == 0);
    hg_buf_free(&got);
    hg_buf_free(&want);
    hg_signer_free(p);
}

static void test_bad_config(void)
{
    hg_sigv4_config_t ok = {"https://s3.amazonaws.com", "b", "us-east-1", AK, SK, NULL, 0};
    hg_signer_t *s = hg_signer_new(&ok);
    CHECK(s != NULL);
    hg_signer_free(s);
    hg_signer_free(NULL);
    CHECK(hg_signer_new(NULL) == NULL);
    const char *bad_ep[] = {"s3.amazonaws.com", "ftp://h",         "https://",       "https://h:",
                            "https://h:0",      "https://h:65536", "https://h:9x",   "https://h/p",
                            "https://u@h",      "https://[::1",    "https://[::1]x", "https://:80"};
    for (size_t i = 0; i < sizeof bad_ep / sizeof bad_ep[0]; i++) {
        hg_sigv4_config_t c = ok;
        c.endpoint = bad_ep[i];
        s = hg_signer_new(&c);
        CHECK(s == NULL);
        hg_signer_free(s);
    }
    hg_sigv4_config_t c = ok;
    c.secret_key = "";
    CHECK(hg_signer_new(&c) == NULL);
    c = ok;
    c.region = NULL;
    CHECK(hg_signer_new(&c) == NULL);
    c = ok;
    c.virtual_host = 1;
    c.bucket = "has_underscore"; /* not a host name label: virtual-host style is impossible */
    CHECK(hg_signer_new(&c) == NULL);
    c.bucket = "ok-bucket";
    c.endpoint = "http://[::1]:9000"; /* no "bucket.[::1]" */
    CHECK(hg_signer_new(&c) == NULL);
    c.virtual_host = 0;
    s = hg_signer_new(&c);
    CHECK(s != NULL);
    hg_signer_free(s);
}

static void test_overflow(void)
{
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, "tok");
    hg_buf_t full;
    hg_buf_init(&full, 0);
    CHECK(hg_buf_appends(&full, "prefix ") == 0);
    CHECK(hg_presign(s, &full, "dir/seg 7.ts", 12, "a=1&b", 5, T_20130524, 60) == 0);
    /* Every cap short of the full length fails and leaves the buffer exactly as it was. */
    size_t bad = 0;
    for (size_t max = 7; max < full.len; max++) {
        hg_buf_t out;
        hg_buf_init(&out, max);
        CHECK(hg_buf_appends(&out, "prefix ") == 0);
        int rc = hg_presign(s, &out, "dir/seg 7.ts", 12, "a=1&b", 5, T_20130524, 60);
        if (rc != HG_EOVERFLOW || out.len != 7 || memcmp(out.data, "prefix ", 7) != 0) bad++;
        hg_buf_free(&out);
    }
    CHECK(bad == 0);
    /* Exactly enough room succeeds with the same result. */
    hg_buf_t out;
    hg_buf_init(&out, full.len);
    CHECK(hg_buf_appends(&out, "prefix ") == 0);
    CHECK(hg_presign(s, &out, "dir/seg 7.ts", 12, "a=1&b", 5, T_20130524, 60) == 0);
    CHECK_MEM(out.data, out.len, full.data, full.len);
    hg_buf_free(&out);
    /* Object URL too. */
    hg_buf_init(&out, 20);
    CHECK(hg_buf_appends(&out, "x") == 0);
    CHECK(hg_object_url(s, &out, "k", 1) == HG_EOVERFLOW);
    CHECK_MEM(out.data, out.len, "x", 1);
    hg_buf_free(&out);
    hg_buf_free(&full);
    hg_signer_free(s);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Random bytes leaning on what encoding and canonicalisation treat specially. */
static size_t rnd_text(char *d, size_t max, const char *alphabet)
{
    size_t n = rnd() % (max + 1), an = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        d[i] = rnd() % 8 == 0 ? (char)(rnd() % 255 + 1) : alphabet[rnd() % an];
    return n;
}

/* Deferred URLs, interleaved with other output, equal hg_presign's byte for byte. */
static void test_batch(void)
{
    static const char *kalpha = "abcXYZ019/-._~ %+=&?#";
    static const char *qalpha = "ab=&%2F41x+X-Amz-Date";
    hg_signer_t *signers[3] = {mk("https://s3.amazonaws.com", "examplebucket", 0, NULL),
                               mk("http://127.0.0.1:9000", "media", 0, "FwoG/+tok=="),
                               mk("https://s3.example.com:8443", "b-1", 1, NULL)};
    hg_sigv4_config_t shortreg = {"http://h", "b", "x", AK, SK, NULL, 0}; /* sts hash < 64 */
    hg_signer_t *sr = hg_signer_new(&shortreg);
    CHECK(sr != NULL);
    size_t bad = 0, urls = 0;
    for (int round = 0; round < 300; round++) {
        hg_signer_t *s = round % 4 == 3 ? sr : signers[round % 3];
        hg_signer_t *ref = s; /* hg_presign on the same signer must not disturb the queue */
        hg_buf_t got, want;
        hg_buf_init(&got, 0);
        hg_buf_init(&want, 0);
        size_t n = rnd() % 60, flush_every = 1 + rnd() % 40;
        time_t t0 = T_20130524 + (time_t)(rnd() % 3) * 86399;
        for (size_t i = 0; i < n; i++) {
            char key[200], q[120];
            size_t kl = rnd_text(key, sizeof key, kalpha);
            size_t ql = rnd() % 3 ? 0 : rnd_text(q, sizeof q, qalpha);
            time_t when = t0 + (time_t)(rnd() % 5); /* day rollovers inside a batch, too */
            long exp = rnd() % 4 ? 3600 : (long)(rnd() % 700000) - 5;
            CHECK(hg_buf_appends(&want, "\n#EXTINF:4,\n") == 0);
            CHECK(hg_buf_appends(&got, "\n#EXTINF:4,\n") == 0);
            int r1 = hg_presign_defer(s, &got, key, kl, ql ? q : NULL, ql, when, exp);
            int r2 = hg_presign(ref, &want, key, kl, ql ? q : NULL, ql, when, exp);
            CHECK(r1 == 0 && r2 == 0);
            CHECK(hg_presign_pending(s) < HG_PRESIGN_BATCH);
            urls++;
            if ((i + 1) % flush_every == 0) CHECK(hg_presign_flush(s, &got) == 0);
        }
        CHECK(hg_presign_flush(s, &got) == 0);
        CHECK(hg_presign_pending(s) == 0);
        CHECK(hg_presign_flush(s, &got) == 0); /* nothing pending: no-op */
        if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len))) bad++;
        hg_buf_free(&got);
        hg_buf_free(&want);
    }
    CHECK(bad == 0);
    CHECK(urls > 1000);
    for (int i = 0; i < 3; i++)
        hg_signer_free(signers[i]);
    hg_signer_free(sr);
}

/* Breaking the contract is reported, and the queue is emptied. */
static void test_batch_misuse(void)
{
    hg_signer_t *s = mk("https://s3.amazonaws.com", "examplebucket", 0, NULL);
    hg_buf_t a, b;
    hg_buf_init(&a, 0);
    hg_buf_init(&b, 0);
    CHECK(hg_presign_defer(s, &a, "k", 1, NULL, 0, T_20130524, 60) == 0);
    CHECK(hg_presign_defer(s, &b, "k", 1, NULL, 0, T_20130524, 60) == HG_PRESIGN_EBATCH);
    CHECK(hg_presign_pending(s) == 0);
    CHECK(b.len == 0);
    CHECK(hg_presign_defer(s, &a, "k", 1, NULL, 0, T_20130524, 60) == 0);
    CHECK(hg_presign_flush(s, &b) == HG_PRESIGN_EBATCH);
    CHECK(hg_presign_pending(s) == 0);
    /* A buffer shortened under pending jobs is refused rather than written past its end. */
    hg_buf_reset(&a);
    CHECK(hg_presign_defer(s, &a, "k", 1, NULL, 0, T_20130524, 60) == 0);
    a.len -= 10;
    CHECK(hg_presign_flush(s, &a) == HG_PRESIGN_EBATCH);
    /* An overflowing defer rolls back its own URL and drops the queue. */
    hg_buf_t small;
    hg_buf_init(&small, 400); /* one URL of "k" fits, two do not */
    CHECK(hg_presign_defer(s, &small, "k", 1, NULL, 0, T_20130524, 60) == 0);
    size_t len = small.len;
    CHECK(hg_presign_defer(s, &small, "k", 1, NULL, 0, T_20130524, 60) == HG_EOVERFLOW);
    CHECK(small.len == len && hg_presign_pending(s) == 0);
    /* ...and the signer works normally afterwards. */
    hg_buf_reset(&a);
    CHECK(hg_presign_defer(s, &a, "test.txt", 8, NULL, 0, T_20130524, 86400) == 0);
    CHECK(hg_presign_flush(s, &a) == 0);
    static const char *want =
        "https://s3.amazonaws.com/examplebucket/test.txt?" ALG "&" CRED_0524
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=733255ef022bec3f2a8701cd61d4b371f3f28c9f193a1f02279211d48d5193d7";
    CHECK_MEM(a.data, a.len, want, strlen(want));
    hg_buf_free(&a);
    hg_buf_free(&b);
    hg_buf_free(&small);
    hg_signer_free(s);
}

static void run_all(void)
{
    test_aws_doc_example();
    test_path_style_and_ports();
    test_key_encoding_random();
    test_session_token();
    test_day_rollover();
    test_expiry_clamp();
    test_extra_query();
    test_object_url_and_keys();
    test_bad_config();
    test_overflow();
    test_batch();
    test_batch_misuse();
}

/* Returns 1 when the implementation ran, 0 when this CPU lacks it. */
static int run_impl(const char *name)
{
    int rc = hg_sha256_force(name);
    if (rc == -2) {
        printf("%s: not supported by this CPU: skipped\n", name);
        return 0;
    }
    CHECK(rc == 0);
    if (rc) return 0;
    int before = hg_test_failures;
    run_all();
    printf("%s: %s\n", name, hg_test_failures == before ? "ok" : "FAILED");
    return 1;
}

int main(int argc, char **argv)
{
    int skipped = 0;
    if (argc > 1) {
        if (hg_sha256_force(argv[1]) == -1) {
            fprintf(stderr, "unknown implementation %s\n", argv[1]);
            return 2;
        }
        skipped = !run_impl(argv[1]);
    } else {
        for (size_t i = 0; hg_sha256_impl_name(i); i++)
            skipped += !run_impl(hg_sha256_impl_name(i));
    }
    if (skipped && !hg_test_failures) {
        printf("%s: %d checks passed, %d implementation(s) skipped\n", __FILE__, hg_test_checks,
               skipped);
        return SKIP;
    }
    TEST_DONE();
}
