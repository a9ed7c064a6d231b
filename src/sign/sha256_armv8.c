/* SHA-256 compression on the ARMv8 cryptography extensions (SHA256H / SHA256H2 / SHA256SU0 /
 * SHA256SU1), for Graviton-class aarch64 servers.
 *
 * Same structure as the x86 SHA-NI path (sha256_shani.c): every function that uses the
 * instructions has its own target attribute, so the binary runs on any ARMv8-A; sha256.c calls
 * in only when the kernel reports HWCAP_SHA2. One SHA256H/H2 pair does four rounds but each
 * depends on the previous one, so hg_sha256_many interleaves two independent messages.
 * Message schedule, four words at a time (FIPS 180-4):
 *   W[i..i+3] = su1(su0(W[i-16..], W[i-12..]), W[i-8..], W[i-4..])                            */
#include "sha256_int.h"

#if HG_SHA256_HAVE_ARMV8

#include <arm_neon.h>
#include <sys/auxv.h>

#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif

#define TGT __attribute__((target("+crypto")))
#define INL static inline __attribute__((always_inline)) TGT

#define K hg_sha256_k

int hg_sha256_armv8_supported(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
}

/* Absorb n blocks into each of L states; lane l reads p[l], p[l]+64, ... */
INL void kernel(const int L, uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    uint32x4_t abcd[2], efgh[2];
    for (int l = 0; l < L; l++) {
        abcd[l] = vld1q_u32(st[l]);
        efgh[l] = vld1q_u32(st[l] + 4);
    }
    for (size_t b = 0; b < n; b++) {
        uint32x4_t sa[2], se[2], m[2][4];
        for (int l = 0; l < L; l++) {
            sa[l] = abcd[l];
            se[l] = efgh[l];
            for (int g = 0; g < 4; g++)
                m[l][g] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p[l] + 64 * b + 16 * g)));
        }
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            const uint32x4_t k = vld1q_u32(K + 4 * g);
#pragma GCC unroll 2
            for (int l = 0; l < L; l++) {
                uint32x4_t *w = m[l];
                uint32x4_t t = vaddq_u32(w[g & 3], k);
                if (g < 12)
                    w[g & 3] = vsha256su1q_u32(vsha256su0q_u32(w[g & 3], w[(g + 1) & 3]),
                                               w[(g + 2) & 3], w[(g + 3) & 3]);
                uint32x4_t prev = abcd[l];
                abcd[l] = vsha256hq_u32(abcd[l], efgh[l], t);
                efgh[l] = vsha256h2q_u32(efgh[l], prev, t);
            }
        }
        for (int l = 0; l < L; l++) {
            abcd[l] = vaddq_u32(abcd[l], sa[l]);
            efgh[l] = vaddq_u32(efgh[l], se[l]);
        }
    }
    for (int l = 0; l < L; l++) {
        vst1q_u32(st[l], abcd[l]);
        vst1q_u32(st[l] + 4, efgh[l]);
    }
}

TGT void hg_sha256_armv8_blocks(uint32_t st[8], const unsigned char *p, size_t n)
{
    if (n == 0) return;
    kernel(1, &st, &p, n);
}

TGT static void kernel2(uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    kernel(2, st, p, n);
}

/* Two jobs in flight; when one finishes, the next job takes its lane. */
void hg_sha256_armv8_many2(hg_sha256_job_t *jobs, size_t n)
{
    uint32_t *st[2];
    const unsigned char *p[2];
    size_t left[2], next = 0;
    int act = 0;
    for (;;) {
        while (act < 2 && next < n) {
            hg_sha256_job_t *j = &jobs[next++];
            if (j->nblocks == 0) continue;
            st[act] = j->st;
            p[act] = j->p;
            left[act++] = j->nblocks;
        }
        if (act == 0) return;
        if (act == 1) {
            hg_sha256_armv8_blocks(st[0], p[0], left[0]);
            act = 0;
            continue;
        }
        size_t k = left[0] < left[1] ? left[0] : left[1];
        kernel2(st, p, k);
        int keep = 0;
        for (int l = 0; l < 2; l++) {
            if (left[l] == k) continue;
            st[keep] = st[l];
            p[keep] = p[l] + 64 * k;
            left[keep++] = left[l] - k;
        }
        act = keep;
    }
}

#endif
