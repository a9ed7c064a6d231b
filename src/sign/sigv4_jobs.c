/* Hashing side of the presigner (see sigv4_int.h): a presign job's padded messages, the three
 * SHA-256 stages over a batch of jobs, and the deferred API (hg_presign_defer / flush). */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "sha256.h"
#include "sigv4_int.h"

#define HEX_LEN HG_SIG_HEX_LEN

#ifndef __SSE2__
static void tohex(char *dst, const unsigned char *src, size_t n)
{
    static const char HEXL[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = HEXL[src[i] >> 4];
        dst[2 * i + 1] = HEXL[src[i] & 15];
    }
}
#endif

/* Pad a message that starts at a block boundary of a fresh hash; d has len + 72 bytes of room. */
static size_t pad_from_iv(unsigned char *d, size_t len)
{
    size_t total = (len + 8) / 64 * 64 + 64;
    uint64_t bits = (uint64_t)len * 8;
#ifdef __SSE2__
    const __m128i z = _mm_setzero_si128(); /* inline: a memset call per URL costs more */
    for (int i = 0; i < 64; i += 16) _mm_storeu_si128((__m128i *)(void *)(d + len + i), z);
    memset(d + len + 64, 0, 8);
#else
    memset(d + len, 0, 72);
#endif
    d[len] = 0x80;
    for (int i = 0; i < 8; i++)
        d[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    return total / 64;
}

/* Lay out job j's messages in the arena: the padded canonical request
 *   "GET\n" path tail
 * (tail: crs, or "\n" query cr_tail for an extra query) followed by the inner HMAC message. */
int hg_sigv4_stage_job(hg_signer_t *s, const hg_buf_t *out, hg_sigjob_t *j, size_t path_off,
                       size_t plen, size_t q_off, size_t qlen)
{
    size_t tlen = q_off ? 1 + qlen + s->cr_tail.len : s->crs.len, crlen = 4 + plen + tlen;
    int rc = hg_buf_reserve(&s->arena, crlen + 72 + s->m2t.len);
    if (rc) return rc;
    unsigned char *a = (unsigned char *)s->arena.data + s->arena.len, *d = a + 4 + plen;
    memcpy(a, "GET\n", 4);
    hg_copy_short(a + 4, out->data + path_off, plen);
    if (q_off) {
        *d = '\n';
        memcpy(d + 1, out->data + q_off, qlen);
        memcpy(d + 1 + qlen, s->cr_tail.data, s->cr_tail.len);
    } else {
        memcpy(d, s->crs.data, tlen);
    }
    size_t nb = pad_from_iv(a, crlen);
    j->cr_blocks = (uint32_t)nb;
    j->m2_blocks = (uint32_t)(s->m2t.len / 64);
    memcpy(a + 64 * nb, s->m2t.data, s->m2t.len);
    j->arena_off = s->arena.len;
    s->arena.len += 64 * nb + s->m2t.len;
    memcpy(j->inner, s->sts_skip ? s->inner_mid : s->inner0, 32);
    memcpy(j->outer, s->outer0, 32);
    return 0;
}

#ifdef __SSE2__
/* Four state words in big-endian byte order, without a trip through memory: small stores read
 * back by one wide load stall the pipeline (a failed store-to-load forward) twice per URL. */
static __m128i bswap32x4(__m128i x)
{
    x = _mm_or_si128(_mm_slli_epi16(x, 8), _mm_srli_epi16(x, 8)); /* bytes within 16-bit halves */
    x = _mm_shufflelo_epi16(x, _MM_SHUFFLE(2, 3, 0, 1));            /* then the halves */
    return _mm_shufflehi_epi16(x, _MM_SHUFFLE(2, 3, 0, 1));
}

/* Big-endian bytes of a state (the digest). */
static void state_bytes(unsigned char *dst, const uint32_t st[8])
{
    for (int h = 0; h < 2; h++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(st + 4 * h));
        _mm_storeu_si128((__m128i *)(void *)(dst + 16 * h), bswap32x4(x));
    }
}

/* 64 lower-case hex digits of a state. */
static void state_hex(char *dst, const uint32_t st[8])
{
    const __m128i m = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0'), gap = _mm_set1_epi8('a' - '0' - 10);
    for (int h = 0; h < 2; h++) {
        __m128i x = bswap32x4(_mm_loadu_si128((const __m128i *)(const void *)(st + 4 * h)));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m), lo = _mm_and_si128(x, m);
        __m128i v[2] = {_mm_unpacklo_epi8(hi, lo), _mm_unpackhi_epi8(hi, lo)};
        for (int k = 0; k < 2; k++) {
            __m128i c = _mm_add_epi8(v[k], zero);
            c = _mm_add_epi8(c, _mm_and_si128(_mm_cmpgt_epi8(v[k], nine), gap));
            _mm_storeu_si128((__m128i *)(void *)(dst + 32 * h + 16 * k), c);
        }
    }
}
#else
/* Big-endian bytes of a state (the digest). */
static void state_bytes(unsigned char *dst, const uint32_t st[8])
{
    for (int i = 0; i < 8; i++) {
        uint32_t w = __builtin_bswap32(st[i]);
        memcpy(dst + 4 * i, &w, 4);
    }
}

/* 64 lower-case hex digits of a state. */
static void state_hex(char *dst, const uint32_t st[8])
{
    unsigned char b[32];
    state_bytes(b, st);
    tohex(dst, b, 32);
}
#endif

/* Run jobs[0..n): the three hashing stages, each over all jobs at once so independent URLs share
 * the SHA-256 lanes, then write each signature into out. */
void hg_sigv4_run_jobs(hg_signer_t *s, hg_sigjob_t *jobs, size_t n, char *out)
{
    /* Outer HMAC block: the inner digest, then padding for 64 + 32 bytes. */
    static const unsigned char outer_pad[32] = {0x80, [30] = 0x03, [31] = 0x00};
    hg_sha256_job_t hj[HG_PRESIGN_BATCH + 1];
    unsigned char *arena = (unsigned char *)s->arena.data;
    size_t hash_at = s->sts_hash_off - s->sts_skip;
    for (size_t i = 0; i < n; i++) {
        hg_sigjob_t *j = &jobs[i];
        memcpy(j->st, hg_sha256_iv, 32);
        hj[i] = (hg_sha256_job_t){j->st, arena + j->arena_off, j->cr_blocks};
    }
    hg_sha256_many(hj, n); /* canonical request */
    for (size_t i = 0; i < n; i++) {
        hg_sigjob_t *j = &jobs[i];
        unsigned char *m2 = arena + j->arena_off + 64 * (size_t)j->cr_blocks;
        state_hex((char *)m2 + hash_at, j->st);
        memcpy(j->st, j->inner, 32);
        hj[i] = (hg_sha256_job_t){j->st, m2, j->m2_blocks};
    }
    hg_sha256_many(hj, n); /* inner HMAC over the string to sign */
    for (size_t i = 0; i < n; i++) {
        hg_sigjob_t *j = &jobs[i];
        unsigned char *m3 = arena + j->arena_off + 64 * (size_t)j->cr_blocks; /* m2 is done */
        state_bytes(m3, j->st);
        memcpy(m3 + 32, outer_pad, 32);
        memcpy(j->st, j->outer, 32);
        hj[i] = (hg_sha256_job_t){j->st, m3, 1};
    }
    hg_sha256_many(hj, n); /* outer HMAC */
    for (size_t i = 0; i < n; i++)
        state_hex(out + jobs[i].sig_off, jobs[i].st);
}

static void discard(hg_signer_t *s)
{
    s->npend = 0;
    s->pend_out = NULL;
    hg_buf_reset(&s->arena);
}

static int defer(hg_signer_t *s, hg_buf_t *out, const char *dir, size_t dlen, const char *name,
                 size_t nlen, const char *query, size_t qlen, time_t when, long expires)
{
    if (s->npend && s->pend_out != out) {
        discard(s);
        return HG_PRESIGN_EBATCH;
    }
    int rc = hg_sigv4_build(s, out, &s->jobs[s->npend], dir, dlen, name, nlen, query, qlen, when, expires);
    if (rc) {
        discard(s);
        return rc;
    }
    s->pend_out = out;
    if (++s->npend == HG_PRESIGN_BATCH) return hg_presign_flush(s, out);
    return 0;
}

int hg_presign_defer(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen,
                     const char *query, size_t qlen, time_t when, long expires)
{
    return defer(s, out, NULL, 0, key, keylen, query, qlen, when, expires);
}

int hg_presign_defer_in(hg_signer_t *s, hg_buf_t *out, const char *dir, size_t dlen,
                        const char *name, size_t nlen, time_t when, long expires)
{
    return defer(s, out, dir, dlen, name, nlen, NULL, 0, when, expires);
}

int hg_presign_flush(hg_signer_t *s, hg_buf_t *out)
{
    if (s->npend == 0) return 0;
    int bad = s->pend_out != out;
    for (size_t i = 0; i < s->npend && !bad; i++)
        bad = s->jobs[i].sig_off > out->len || out->len - s->jobs[i].sig_off < HEX_LEN;
    if (!bad) hg_sigv4_run_jobs(s, s->jobs, s->npend, out->data);
    discard(s);
    return bad ? HG_PRESIGN_EBATCH : 0;
}

size_t hg_presign_pending(const hg_signer_t *s)
{
    return s->npend;
}
