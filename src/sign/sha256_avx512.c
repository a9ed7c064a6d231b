/* SHA-256 on AVX-512: sixteen independent messages, one per 32-bit lane of a zmm register.
 *
 * The SHA extensions do two rounds per instruction for one message; AVX-512 does a round for 16
 * messages in about fifteen instructions (vprord for the rotations, vpternlogd for the three-way
 * XOR, Ch and Maj). Which one is faster depends on the CPU, so it is only the default where
 * bench/sign_bench measured it faster (see sha256.c's table).
 *
 * Lanes are filled from the job list; a lane without a job hashes zero blocks into a dummy
 * state. When fewer than AVX_MIN_LANES jobs remain, the rest go to the SHA-NI x2 path, which
 * wastes nothing on empty lanes. Single messages (hg_sha256_blocks) always use SHA-NI.
 * Every function that touches AVX-512 has its own target attribute; sha256.c calls in only after
 * hg_sha256_avx512_supported() said yes (CPU and OS: the ZMM state must be enabled in XCR0). */
#include "sha256_int.h"

#if HG_SHA256_HAVE_SHANI

#include <cpuid.h>
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw")))
#define LANES 16
#define AVX_MIN_LANES 6

#define K hg_sha256_k

int hg_sha256_avx512_supported(void)
{
    unsigned a, b, c, d;
    if (!hg_sha256_shani_supported()) return 0; /* used for single messages and stragglers */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(b & (1u << 16)) || !(b & (1u << 30))) return 0; /* AVX512F, AVX512BW */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6; /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state enabled */
}

#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define XOR3(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x96)

/* r[l] = the 16 words of lane l -> w[i] = word i of lanes 0..15. Four shuffle stages. */
TGT static inline __attribute__((always_inline)) void transpose16(const __m512i *r, __m512i *w)
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);     /* r_i0 r_j0 r_i1 r_j1 per 128 bits */
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]); /* r_i2 r_j2 r_i3 r_j3 */
    }
    for (int g = 0; g < 16; g += 4) { /* rows g..g+3 */
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);     /* word 0 (+4k) of the 4 rows */
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]); /* word 1 */
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int k = 0; k < 4; k++) { /* u[4q + k]: word k, 4k+.. of rows 4q..4q+3, by 128-bit lane */
        __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88);
        __m512i v1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xdd);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xdd);
        w[k] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        w[8 + k] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        w[4 + k] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        w[12 + k] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* n blocks for each of the 16 lanes: st[l] and p[l] (lane l reads p[l], p[l] + 64, ...). */
TGT static void kernel16(uint32_t *const *st, const unsigned char *const *p, size_t n)
{
    uint32_t t[8][LANES] __attribute__((aligned(64)));
    for (int l = 0; l < LANES; l++)
        for (int i = 0; i < 8; i++)
            t[i][l] = st[l][i];
    __m512i s[8];
    for (int i = 0; i < 8; i++)
        s[i] = _mm512_load_si512((const void *)t[i]);
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
    for (size_t blk = 0; blk < n; blk++) {
        /* Transpose: word w of every lane's block into one register (16x16 dwords). */
        __m512i W[16], r[16], u[16];
        for (int l = 0; l < LANES; l++)
            r[l] = _mm512_loadu_si512((const void *)(p[l] + 64 * blk));
        transpose16(r, u);
        for (int w = 0; w < 16; w++)
            W[w] = _mm512_shuffle_epi8(u[w], bswap);
        __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 64
        for (int i = 0; i < 64; i++) {
            __m512i w;
            if (i < 16) {
                w = W[i];
            } else {
                __m512i w15 = W[(i - 15) & 15], w2 = W[(i - 2) & 15];
                __m512i s0 = XOR3(ROR(w15, 7), ROR(w15, 18), _mm512_srli_epi32(w15, 3));
                __m512i s1 = XOR3(ROR(w2, 17), ROR(w2, 19), _mm512_srli_epi32(w2, 10));
                w = _mm512_add_epi32(_mm512_add_epi32(W[i & 15], s0),
                                     _mm512_add_epi32(W[(i - 7) & 15], s1));
                W[i & 15] = w;
            }
            __m512i t1 = _mm512_add_epi32(h, XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25)));
            t1 = _mm512_add_epi32(t1, _mm512_ternarylogic_epi32(e, f, g, 0xca)); /* Ch */
            t1 = _mm512_add_epi32(t1, _mm512_add_epi32(w, _mm512_set1_epi32((int)K[i])));
            __m512i t2 = _mm512_add_epi32(XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)),
                                          _mm512_ternarylogic_epi32(a, b, c, 0xe8)); /* Maj */
            h = g;
            g = f;
            f = e;
            e = _mm512_add_epi32(d, t1);
            d = c;
            c = b;
            b = a;
            a = _mm512_add_epi32(t1, t2);
        }
        s[0] = _mm512_add_epi32(s[0], a);
        s[1] = _mm512_add_epi32(s[1], b);
        s[2] = _mm512_add_epi32(s[2], c);
        s[3] = _mm512_add_epi32(s[3], d);
        s[4] = _mm512_add_epi32(s[4], e);
        s[5] = _mm512_add_epi32(s[5], f);
        s[6] = _mm512_add_epi32(s[6], g);
        s[7] = _mm512_add_epi32(s[7], h);
    }
    for (int i = 0; i < 8; i++)
        _mm512_store_si512((void *)t[i], s[i]);
    for (int l = 0; l < LANES; l++)
        for (int i = 0; i < 8; i++)
            st[l][i] = t[i][l];
}

/* Fill the 16 lanes from the job list; keep going while enough of them carry real jobs. */
void hg_sha256_avx512_many(hg_sha256_job_t *jobs, size_t n)
{
    static const unsigned char dummy_blocks[64 * 16]; /* what empty lanes hash */
    uint32_t dummy_st[LANES][8];
    uint32_t *st[LANES];
    const unsigned char *p[LANES];
    size_t left[LANES], next = 0;
    int act = 0;
    for (;;) {
        while (act < LANES && next < n) {
            hg_sha256_job_t *j = &jobs[next++];
            if (j->nblocks == 0) continue;
            st[act] = j->st;
            p[act] = j->p;
            left[act++] = j->nblocks;
        }
        if (act < AVX_MIN_LANES) break;
        size_t k = left[0];
        for (int l = 1; l < act; l++)
            if (left[l] < k) k = left[l];
        if (act < LANES && k > 16) k = 16; /* empty lanes read at most dummy_blocks */
        for (int l = act; l < LANES; l++) {
            st[l] = dummy_st[l];
            p[l] = dummy_blocks;
        }
        kernel16(st, p, k);
        int keep = 0;
        for (int l = 0; l < act; l++) {
            if (left[l] == k) continue;
            st[keep] = st[l];
            p[keep] = p[l] + 64 * k;
            left[keep++] = left[l] - k;
        }
        act = keep;
    }
    /* Stragglers and the rest of the list: SHA-NI, two at a time. */
    hg_sha256_job_t rest[LANES];
    for (int l = 0; l < act; l++)
        rest[l] = (hg_sha256_job_t){st[l], p[l], left[l]};
    hg_sha256_shani_many2(rest, (size_t)act);
}

#endif
