/* Differential tests of every SHA-256 implementation (src/sign/sha256*.c) against mbedTLS 2.28.
 *
 *   test_sha256            test every implementation; exit 77 (skipped) when one of them cannot
 *                          run on this CPU, after testing the others
 *   test_sha256 NAME       test one implementation ("generic", "shani", "shani-x2", ...);
 *                          exit 77 when this CPU lacks it
 *
 * The reference is mbedTLS called directly (mbedtls_sha256_ret for whole messages,
 * mbedtls_internal_sha256_process for the compression function), never through sha256.c. */
#include <stdint.h>
#include <stdlib.h>

#include <mbedtls/sha256.h>

#include "sign/sha256.h"
#include "test.h"

#define SKIP 77

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rnd();
}

static void ref_blocks(uint32_t st[8], const unsigned char *p, size_t n)
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    memcpy(c.state, st, 32);
    for (size_t i = 0; i < n; i++)
        CHECK(mbedtls_internal_sha256_process(&c, p + 64 * i) == 0);
    memcpy(st, c.state, 32);
    mbedtls_sha256_free(&c);
}

static void hexdump(char *dst, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(dst + 2 * i, "%02x", p[i]);
}

/* FIPS 180-2 appendix B and the empty message. */
static void test_vectors(void)
{
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char h[32];
        char hex[65];
        hg_sha256(v[i].msg, strlen(v[i].msg), h);
        hexdump(hex, h, 32);
        CHECK_STR(hex, v[i].hex);
    }
}

/* Whole messages of every length 0..1024 (padding, block boundaries) against mbedtls_sha256. */
static void test_every_length(void)
{
    static unsigned char msg[1024];
    size_t bad = 0;
    for (size_t n = 0; n <= sizeof msg; n++) {
        unsigned char want[32], got[32];
        fill(msg, n);
        CHECK(mbedtls_sha256_ret(msg, n, want, 0) == 0);
        hg_sha256(msg, n, got);
        if (memcmp(want, got, 32)) bad++;
    }
    CHECK(bad == 0);
}

/* The compression function alone, from random (not reachable by hashing) states. */
static void test_random_states(void)
{
    static unsigned char msg[1024 + 72];
    size_t bad = 0;
    for (size_t n = 0; n <= 1024; n++) {
        uint32_t a[8], b[8];
        for (int i = 0; i < 8; i++)
            a[i] = b[i] = rnd();
        fill(msg, n);
        /* Pad as if 64 * k bytes had been absorbed before, to vary the length field too. */
        size_t blocks = hg_sha256_pad(msg, n, 64 * (uint64_t)(rnd() % 100000));
        ref_blocks(a, msg, blocks);
        hg_sha256_blocks(b, msg, blocks);
        if (memcmp(a, b, sizeof a)) bad++;
    }
    CHECK(bad == 0);
}

/* Multi-lane: random job counts and block counts (0 included), random states. */
static void test_many(void)
{
    enum { MAXJ = 19, MAXB = 9 };
    static unsigned char data[MAXJ][MAXB * 64];
    size_t bad = 0;
    for (int round = 0; round < 400; round++) {
        size_t n = rnd() % (MAXJ + 1);
        uint32_t got[MAXJ][8], want[MAXJ][8];
        hg_sha256_job_t jobs[MAXJ];
        for (size_t j = 0; j < n; j++) {
            size_t nb = rnd() % (MAXB + 1);
            if (round % 3 == 0) nb = 1 + (size_t)round % 3; /* equal lengths: the common case */
            fill(data[j], nb * 64);
            for (int i = 0; i < 8; i++)
                got[j][i] = want[j][i] = rnd();
            jobs[j] = (hg_sha256_job_t){got[j], data[j], nb};
            ref_blocks(want[j], data[j], nb);
        }
        hg_sha256_many(jobs, n);
        for (size_t j = 0; j < n; j++)
            if (memcmp(got[j], want[j], 32)) bad++;
    }
    CHECK(bad == 0);
}

/* Selection from the environment. */
static void test_select(void)
{
    const char *keep = getenv("HG_SHA256");
    char *saved = keep ? strdup(keep) : NULL;
    setenv("HG_SHA256", "no-such-impl", 1);
    hg_sha256_select();
    CHECK_STR(hg_sha256_impl(), "generic");
    setenv("HG_SHA256", "generic", 1);
    hg_sha256_select();
    CHECK_STR(hg_sha256_impl(), "generic");
    for (size_t i = 0; hg_sha256_impl_name(i); i++) {
        const char *name = hg_sha256_impl_name(i);
        setenv("HG_SHA256", name, 1);
        hg_sha256_select();
        /* Either the forced one, or generic when this CPU lacks it. */
        CHECK(strcmp(hg_sha256_impl(), name) == 0 || strcmp(hg_sha256_impl(), "generic") == 0);
    }
    unsetenv("HG_SHA256");
    hg_sha256_select();
    CHECK(hg_sha256_impl() == hg_sha256_impl_name(0) ||
          hg_sha256_force(hg_sha256_impl_name(0)) == -2);
    CHECK(hg_sha256_force("nope") == -1);
    CHECK(hg_sha256_force(NULL) == -1);
    if (saved) setenv("HG_SHA256", saved, 1);
    free(saved);
}

/* Returns 1 when the implementation ran, 0 when skipped. */
static int run_impl(const char *name)
{
    int rc = hg_sha256_force(name);
    if (rc == -2) {
        printf("%s: not supported by this CPU: skipped\n", name);
        return 0;
    }
    CHECK(rc == 0);
    if (rc) return 0;
    CHECK_STR(hg_sha256_impl(), name);
    int before = hg_test_failures;
    test_vectors();
    test_every_length();
    test_random_states();
    test_many();
    printf("%s: %s (%d lanes)\n", name, hg_test_failures == before ? "ok" : "FAILED",
           hg_sha256_lanes());
    return 1;
}

int main(int argc, char **argv)
{
    int skipped = 0;
    if (argc > 1) {
        skipped = !run_impl(argv[1]);
        if (hg_sha256_force(argv[1]) == -1) {
            fprintf(stderr, "unknown implementation %s\n", argv[1]);
            return 2;
        }
    } else {
        test_select();
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
