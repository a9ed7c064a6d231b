/* SHA-256 compression on the x86 SHA extensions (sha256rnds2 / sha256msg1 / sha256msg2).
 *
 * Every function that touches the instructions carries its own target attribute, so the rest of
 * the binary keeps the baseline ISA and runs on any x86-64; sha256.c only calls in here after
 * hg_sha256_shani_supported() said yes.
 *
 * The SHA extensions keep the state as two registers, ABEF and CDGH (A in the high lane). One
 * sha256rnds2 does two rounds but has a latency of several cycles, and each round pair depends on
 * the previous one, so a single message leaves the unit mostly idle. kernel() therefore runs L
 * independent messages in lock step: the round pairs of different lanes are independent and
 * overlap in the pipeline. The message schedule follows FIPS 180-4 four words at a time:
 *   W[i..i+3] = msg2(msg1(W[i-16..], W[i-12..]) + W[i-7..i-4], W[i-4..])                      */
#include "sha256_int.h"

#if HG_SHA256_HAVE_SHANI

#include <cpuid.h>
#include <immintrin.h>

#define TGT __attribute__((target("sha,ssse3,sse4.1")))
#define INL static inline __attribute__((always_inline)) TGT

#define K hg_sha256_k

int hg_sha256_shani_supported(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0; /* SSSE3, SSE4.1 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1; /* SHA */
}

/* H0..H7 in memory -> ABEF / CDGH registers, and back. */
INL void load_state(const uint32_t *st, __m128i *abef, __m128i *cdgh)
{
    __m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)st);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)(st + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    *abef = _mm_alignr_epi8(cdab, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

INL void store_state(uint32_t *st, __m128i abef, __m128i cdgh)
{
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)(void *)st, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)(st + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* Absorb n blocks into each of L states; lane l reads p[l], p[l]+64, ... */
INL void kernel(const int L, uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[4], cdgh[4];
    for (int l = 0; l < L; l++)
        load_state(st[l], &abef[l], &cdgh[l]);
    for (size_t b = 0; b < n; b++) {
        __m128i sa[4], sc[4], m[4][4];
        for (int l = 0; l < L; l++) {
            sa[l] = abef[l];
            sc[l] = cdgh[l];
        }
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            const __m128i k = _mm_load_si128((const __m128i *)(const void *)(K + 4 * g));
#pragma GCC unroll 4
            for (int l = 0; l < L; l++) {
                __m128i *w = m[l];
                if (g < 4) {
                    const __m128i *src = (const __m128i *)(const void *)(p[l] + 64 * b + 16 * g);
                    w[g] = _mm_shuffle_epi8(_mm_loadu_si128(src), bswap);
                } else {
                    __m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                    t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                    w[g & 3] = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
                }
                __m128i t = _mm_add_epi32(w[g & 3], k);
                cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], t);
                abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(t, 0x0E));
            }
        }
        for (int l = 0; l < L; l++) {
            abef[l] = _mm_add_epi32(abef[l], sa[l]);
            cdgh[l] = _mm_add_epi32(cdgh[l], sc[l]);
        }
    }
    for (int l = 0; l < L; l++)
        store_state(st[l], abef[l], cdgh[l]);
}

TGT void hg_sha256_shani_blocks(uint32_t st[8], const unsigned char *p, size_t n)
{
    if (n == 0) return;
    kernel(1, &st, &p, n);
}

TGT static void kernel2(uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    kernel(2, st, p, n);
}

TGT static void kernel3(uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    kernel(3, st, p, n);
}

TGT static void kernel4(uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    kernel(4, st, p, n);
}

/* Keep up to `width` jobs in flight; when one finishes, the next job takes its lane. Each kernel
 * call runs all active lanes for as many blocks as the shortest one still needs. */
static void many(hg_sha256_job_t *jobs, size_t n, int width)
{
    uint32_t *st[4];
    const unsigned char *p[4];
    size_t left[4], next = 0;
    int act = 0;
    for (;;) {
        while (act < width && next < n) {
            hg_sha256_job_t *j = &jobs[next++];
            if (j->nblocks == 0) continue;
            st[act] = j->st;
            p[act] = j->p;
            left[act++] = j->nblocks;
        }
        if (act == 0) return;
        size_t k = left[0];
        for (int l = 1; l < act; l++)
            if (left[l] < k) k = left[l];
        switch (act) {
        case 1: hg_sha256_shani_blocks(st[0], p[0], k); break;
        case 2: kernel2(st, p, k); break;
        case 3: kernel3(st, p, k); break;
        default: kernel4(st, p, k); break;
        }
        int keep = 0;
        for (int l = 0; l < act; l++) {
            if (left[l] == k) continue; /* finished: its lane is reused */
            st[keep] = st[l];
            p[keep] = p[l] + 64 * k;
            left[keep++] = left[l] - k;
        }
        act = keep;
    }
}

void hg_sha256_shani_many2(hg_sha256_job_t *jobs, size_t n)
{
    many(jobs, n, 2);
}

void hg_sha256_shani_many4(hg_sha256_job_t *jobs, size_t n)
{
    many(jobs, n, 4);
}

#endif
