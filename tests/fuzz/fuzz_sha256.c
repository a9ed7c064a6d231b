/* libFuzzer target: the SHA-256 implementations (src/sign/sha256*.c) against mbedTLS, and the
 * presigner's deferred API against its immediate one, on fuzzer-chosen input.
 *
 * Input: any bytes. A hash of the input seeds the choices (initial state, split points), so a
 * crash file replays exactly.
 *
 * Invariants, for every implementation this CPU supports:
 *   - hg_sha256 of the whole input equals mbedtls_sha256_ret;
 *   - hg_sha256_blocks from an input-derived random state over the padded input equals
 *     mbedtls_internal_sha256_process block by block (the compression function alone);
 *   - hg_sha256_many over the input cut into 1..12 padded pieces (different lengths, so lanes
 *     finish at different times) equals the reference per piece;
 *   - presigning: the input, cut into keys and raw queries, gives the same URLs through
 *     hg_presign_defer / hg_presign_flush (batches crossing HG_PRESIGN_BATCH) as through
 *     hg_presign, and the same URLs under every implementation. */
#include <stdint.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "fuzz_common.h"
#include "sign/sha256.h"
#include "sign/sigv4.h"

#define MAXIN 4096
#define MAXPIECES 12

static const uint8_t *IN;
static size_t IN_LEN;
static const char *IMPL = "";

static void fail_dump(void)
{
    fprintf(stderr, "implementation: %s\n", IMPL);
    fz_dump("input", IN, IN_LEN);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_on_fail = fail_dump;
    return 0;
}

static void ref_blocks(uint32_t st[8], const unsigned char *p, size_t n)
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    memcpy(c.state, st, 32);
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(mbedtls_internal_sha256_process(&c, p + 64 * i) == 0, "mbedtls failed");
    memcpy(st, c.state, 32);
    mbedtls_sha256_free(&c);
}

static void check_hashes(const uint8_t *d, size_t n, uint64_t seed)
{
    static unsigned char padded[MAXIN + MAXPIECES * 72];
    unsigned char want[32], got[32];
    FZ_CHECK(mbedtls_sha256_ret(d, n, want, 0) == 0, "mbedtls failed");
    hg_sha256(d, n, got);
    FZ_CHECK(memcmp(want, got, 32) == 0, "hg_sha256 differs from mbedtls_sha256 (%zu bytes)", n);

    /* Compression function from a random state; the length field claims some earlier blocks. */
    uint32_t a[8], b[8];
    for (int i = 0; i < 8; i++)
        a[i] = b[i] = (uint32_t)fz_next(&seed);
    memcpy(padded, d, n);
    size_t nb = hg_sha256_pad(padded, n, 64 * (fz_next(&seed) % 1000));
    ref_blocks(a, padded, nb);
    hg_sha256_blocks(b, padded, nb);
    FZ_CHECK(memcmp(a, b, 32) == 0, "hg_sha256_blocks differs (%zu blocks)", nb);

    /* Many independent messages of different lengths. */
    size_t cuts[MAXPIECES], k = fz_cuts(&seed, n, cuts, 1 + fz_next(&seed) % (MAXPIECES - 1));
    uint32_t st[MAXPIECES][8], ref[MAXPIECES][8];
    hg_sha256_job_t jobs[MAXPIECES];
    size_t off = 0, at = 0;
    for (size_t i = 0; i <= k; i++) {
        size_t end = i < k ? cuts[i] : n, len = end - off;
        unsigned char *p = padded + at;
        memcpy(p, d + off, len);
        size_t blocks = hg_sha256_pad(p, len, 0);
        for (int w = 0; w < 8; w++)
            st[i][w] = ref[i][w] = (uint32_t)fz_next(&seed);
        jobs[i] = (hg_sha256_job_t){st[i], p, blocks};
        ref_blocks(ref[i], p, blocks);
        at += 64 * blocks;
        off = end;
    }
    hg_sha256_many(jobs, k + 1);
    for (size_t i = 0; i <= k; i++)
        FZ_CHECK(memcmp(st[i], ref[i], 32) == 0, "hg_sha256_many differs in job %zu of %zu", i,
                 k + 1);
}

/* Sign the input cut into (key, query) pairs both ways; returns the deferred output (caller
 * frees) after checking it equals the immediate one. */
static hg_buf_t presign_all(hg_signer_t *s, const uint8_t *d, size_t n, uint64_t seed)
{
    hg_buf_t now, later;
    hg_buf_init(&now, 0);
    hg_buf_init(&later, 0);
    size_t cuts[40], k = fz_cuts(&seed, n, cuts, 1 + fz_next(&seed) % 39), off = 0;
    time_t when = (time_t)(1369353600 + fz_next(&seed) % (3 * 86400));
    for (size_t i = 0; i <= k; i++) {
        size_t end = i < k ? cuts[i] : n, len = end - off;
        const char *p = (const char *)d + off;
        const char *q = memchr(p, '?', len);
        size_t klen = q ? (size_t)(q - p) : len, qlen = q ? len - klen - 1 : 0;
        long exp = (long)(fz_next(&seed) % 700000) - 10;
        int r1 = hg_presign(s, &now, p, klen, q ? q + 1 : NULL, qlen, when, exp);
        int r2 = hg_presign_defer(s, &later, p, klen, q ? q + 1 : NULL, qlen, when, exp);
        FZ_CHECK(r1 == 0 && r2 == 0, "presign failed: %d %d", r1, r2);
        if (fz_next(&seed) % 5 == 0) FZ_CHECK(hg_presign_flush(s, &later) == 0, "flush failed");
        when += (time_t)(fz_next(&seed) % 2);
        off = end;
    }
    FZ_CHECK(hg_presign_flush(s, &later) == 0, "flush failed");
    FZ_CHECK(now.len == later.len && memcmp(now.data, later.data, now.len) == 0,
             "deferred URLs differ from hg_presign's");
    hg_buf_free(&now);
    return later;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAXIN) return 0;
    IN = data;
    IN_LEN = size;
    static hg_signer_t *signer;
    if (!signer) {
        hg_sigv4_config_t cfg = {"https://s3.amazonaws.com", "examplebucket", "us-east-1",
                                 "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 "tok/en+", 0};
        signer = hg_signer_new(&cfg); /* lives for the process, like a worker's signer */
        FZ_CHECK(signer != NULL, "signer");
    }
    uint64_t seed = fz_hash(data, size);
    hg_buf_t first;
    hg_buf_init(&first, 0);
    int have_first = 0;
    for (size_t i = 0; hg_sha256_impl_name(i); i++) {
        IMPL = hg_sha256_impl_name(i);
        if (hg_sha256_force(IMPL) != 0) continue; /* not on this CPU */
        check_hashes(data, size, seed);
        hg_buf_t urls = presign_all(signer, data, size, seed);
        if (!have_first) {
            first = urls;
            have_first = 1;
            continue;
        }
        FZ_CHECK(urls.len == first.len && memcmp(urls.data, first.data, urls.len) == 0,
                 "URLs differ between implementations");
        hg_buf_free(&urls);
    }
    hg_buf_free(&first);
    return 0;
}
