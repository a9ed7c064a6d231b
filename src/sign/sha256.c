/* SHA-256 implementation table, run-time selection, padding (see sha256.h). */
#include "sha256.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "../common/log.h"
#include "sha256_int.h"

/* The 64 round constants (FIPS 180-4 4.2.2), shared by every implementation. */
const uint32_t hg_sha256_k[64] __attribute__((aligned(64))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

const uint32_t hg_sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* mbedTLS's own compression function: the reference every other implementation is tested
 * against. The state passes through a context on the stack, which is wiped afterwards because
 * the signer's states are derived from the secret key. */
static void generic_blocks(uint32_t st[8], const unsigned char *p, size_t n)
{
    if (n == 0) return;
    mbedtls_sha256_context c;
    memcpy(c.state, st, sizeof c.state);
    for (size_t i = 0; i < n; i++)
        (void)mbedtls_internal_sha256_process(&c, p + 64 * i); /* cannot fail without _ALT */
    memcpy(st, c.state, sizeof c.state);
    mbedtls_platform_zeroize(&c, sizeof c);
}

static void generic_many(hg_sha256_job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        generic_blocks(jobs[i].st, jobs[i].p, jobs[i].nblocks);
}

#if HG_SHA256_HAVE_ARMV8
static void armv8_many1(hg_sha256_job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hg_sha256_armv8_blocks(jobs[i].st, jobs[i].p, jobs[i].nblocks);
}
#endif

#if HG_SHA256_HAVE_SHANI
static void shani_many1(hg_sha256_job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hg_sha256_shani_blocks(jobs[i].st, jobs[i].p, jobs[i].nblocks);
}
#endif

typedef struct {
    const char *name;
    int lanes;
    int (*supported)(void);
    void (*blocks)(uint32_t st[8], const unsigned char *p, size_t n);
    void (*many)(hg_sha256_job_t *jobs, size_t n);
} impl_t;

static int always(void)
{
    return 1;
}

/* Fastest first: hg_sha256_select takes the first supported entry. On the AMD EPYC this was
 * measured on (bench/sign_bench, hashing per URL in a batch of 16): shani-x4 ~171 ns, shani-x2
 * ~175 ns, avx512 ~205 ns, shani ~280 ns, generic ~1,850 ns. avx512 is therefore only used when
 * asked for (HG_SHA256=avx512); it comes after "shani", so CPUID never picks it. */
static const impl_t IMPLS[] = {
#if HG_SHA256_HAVE_SHANI
    {"shani-x4", 4, hg_sha256_shani_supported, hg_sha256_shani_blocks, hg_sha256_shani_many4},
    {"shani-x2", 2, hg_sha256_shani_supported, hg_sha256_shani_blocks, hg_sha256_shani_many2},
    {"shani", 1, hg_sha256_shani_supported, hg_sha256_shani_blocks, shani_many1},
    {"avx512", 16, hg_sha256_avx512_supported, hg_sha256_shani_blocks, hg_sha256_avx512_many},
#endif
#if HG_SHA256_HAVE_ARMV8
    {"armv8-x2", 2, hg_sha256_armv8_supported, hg_sha256_armv8_blocks, hg_sha256_armv8_many2},
    {"armv8", 1, hg_sha256_armv8_supported, hg_sha256_armv8_blocks, armv8_many1},
#endif
    {"generic", 1, always, generic_blocks, generic_many},
};
#define NIMPLS (sizeof IMPLS / sizeof IMPLS[0])
#define GENERIC (&IMPLS[NIMPLS - 1])

static _Atomic(const impl_t *) cur;

static const impl_t *find(const char *name)
{
    for (size_t i = 0; i < NIMPLS; i++)
        if (strcmp(IMPLS[i].name, name) == 0) return &IMPLS[i];
    return NULL;
}

static const impl_t *choose(void)
{
    const char *env = getenv("HG_SHA256");
    if (env && *env) {
        const impl_t *im = find(env);
        if (!im) {
            hg_log(HG_LOG_WARN, "msg=\"unknown HG_SHA256, using generic\" HG_SHA256=%.32s", env);
            return GENERIC;
        }
        if (!im->supported()) {
            hg_log(HG_LOG_WARN, "msg=\"HG_SHA256 not supported by this CPU, using generic\" "
                                "HG_SHA256=%s", im->name);
            return GENERIC;
        }
        return im;
    }
    for (size_t i = 0; i < NIMPLS; i++)
        if (IMPLS[i].supported()) return &IMPLS[i];
    return GENERIC;
}

void hg_sha256_select(void)
{
    atomic_store_explicit(&cur, choose(), memory_order_release);
}

static const impl_t *get(void)
{
    const impl_t *im = atomic_load_explicit(&cur, memory_order_acquire);
    if (!im) {
        /* Lazy first use: concurrent callers compute the same answer; the first store wins. */
        const impl_t *want = choose(), *expect = NULL;
        if (atomic_compare_exchange_strong(&cur, &expect, want)) return want;
        return expect;
    }
    return im;
}

const char *hg_sha256_impl(void)
{
    return get()->name;
}

int hg_sha256_lanes(void)
{
    return get()->lanes;
}

int hg_sha256_force(const char *name)
{
    const impl_t *im = name ? find(name) : NULL;
    if (!im) return -1;
    if (!im->supported()) return -2;
    atomic_store_explicit(&cur, im, memory_order_release);
    return 0;
}

const char *hg_sha256_impl_name(size_t i)
{
    return i < NIMPLS ? IMPLS[i].name : NULL;
}

void hg_sha256_blocks(uint32_t st[8], const unsigned char *p, size_t nblocks)
{
    get()->blocks(st, p, nblocks);
}

void hg_sha256_many(hg_sha256_job_t *jobs, size_t n)
{
    get()->many(jobs, n);
}

size_t hg_sha256_pad(unsigned char *buf, size_t len, uint64_t prefix)
{
    uint64_t bits = (prefix + len) * 8;
    size_t total = (len + 8) / 64 * 64 + 64; /* room for 0x80 and the length */
    buf[len] = 0x80;
    memset(buf + len + 1, 0, total - 8 - len - 1);
    for (int i = 0; i < 8; i++)
        buf[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    return total / 64;
}

void hg_sha256_digest(const uint32_t st[8], unsigned char out[32])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(st[i] >> 24);
        out[4 * i + 1] = (unsigned char)(st[i] >> 16);
        out[4 * i + 2] = (unsigned char)(st[i] >> 8);
        out[4 * i + 3] = (unsigned char)st[i];
    }
}

void hg_sha256(const void *p, size_t n, unsigned char out[32])
{
    const impl_t *im = get();
    uint32_t st[8];
    unsigned char tail[128];
    size_t full = n / 64;
    memcpy(st, hg_sha256_iv, sizeof st);
    im->blocks(st, p, full);
    size_t rest = n - full * 64;
    if (rest) memcpy(tail, (const unsigned char *)p + full * 64, rest);
    im->blocks(st, tail, hg_sha256_pad(tail, rest, (uint64_t)full * 64));
    hg_sha256_digest(st, out);
}
