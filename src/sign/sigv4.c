/* SigV4 query-string presigning for S3 GET (see sigv4.h).
 *
 * Layout of a presigned URL:
 *   scheme://[bucket.]host[:port]/[bucket/]enc(key)?<canonical query>&X-Amz-Signature=<hex>
 * The query is emitted exactly in canonical form (sorted, SigV4-encoded), so the path and query in
 * the URL are byte for byte the ones in the canonical request.
 *
 * Every URL is first written completely, with 64 placeholder digits for the signature, and its
 * hashing is described as a job (sigv4_int.h): the padded canonical request, the padded tail of
 * the string to sign and the outer HMAC block, laid out in the signer's arena. Running a job is
 * three dependent SHA-256 passes (about 6 + 2 + 1 compression blocks). hg_presign runs its one
 * job at once; hg_presign_defer queues jobs and hg_presign_flush runs a batch with the stages of
 * independent URLs interleaved in the SHA-256 implementation's lanes (sha256.h). */
#include "sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "../common/pct.h"
#include "sha256.h"
#include "sigv4_int.h"

#define ALGO HG_SIGV4_ALGO
#define SCOPE_TAIL "/s3/aws4_request"
#define AMZ_DATE_LEN HG_AMZ_DATE_LEN
#define HEX_LEN HG_SIG_HEX_LEN
#define SIG_PARAM "&X-Amz-Signature="
/* Internal failure of an mbedTLS call on a valid context: not expected to happen. */
#define SIGN_ECRYPTO (-1)

static const char HEXU[] = "0123456789ABCDEF";

static void wipe_buf(hg_buf_t *b)
{
    if (b->data) mbedtls_platform_zeroize(b->data, b->cap);
    hg_buf_free(b);
}

static int eq_ci(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return 0;
    }
    return 1;
}

static int append_lower(hg_buf_t *b, const char *p, size_t n)
{
    int rc = hg_buf_reserve(b, n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        b->data[b->len++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return 0;
}

/* Split "scheme://host[:port]" and fill url_base and cr_tail. The emitted URL keeps an explicit
 * port; the canonical Host drops it when it is the scheme's default, because that is what HTTP
 * clients send (and what botocore signs). Host names are case-insensitive, so both are lowered. */
static int setup_endpoint(hg_signer_t *s, const hg_sigv4_config_t *cfg)
{
    const char *ep = cfg->endpoint, *sep = strstr(ep, "://");
    if (!sep) return -1;
    size_t slen = (size_t)(sep - ep);
    long defport;
    if (eq_ci(ep, slen, "http"))
        defport = 80;
    else if (eq_ci(ep, slen, "https"))
        defport = 443;
    else
        return -1;
    const char *h = sep + 3;
    size_t alen = strlen(h);
    if (alen && h[alen - 1] == '/') alen--; /* tolerate one trailing slash */
    if (alen == 0 || memchr(h, '/', alen) || memchr(h, '@', alen) || memchr(h, '?', alen) ||
        memchr(h, '#', alen))
        return -1;
    size_t hlen = alen;
    const char *colon = NULL;
    if (h[0] == '[') { /* IPv6 literal */
        const char *rb = memchr(h, ']', alen);
        if (!rb || cfg->virtual_host) return -1;
        hlen = (size_t)(rb - h) + 1;
        if (hlen < alen) {
            if (h[hlen] != ':') return -1;
            colon = h + hlen;
        }
    } else {
        colon = memchr(h, ':', alen);
        if (colon) hlen = (size_t)(colon - h);
    }
    long port = -1;
    if (colon) {
        size_t plen = alen - hlen - 1;
        if (plen == 0 || plen > 5) return -1;
        port = 0;
        for (size_t i = 0; i < plen; i++) {
            if (colon[1 + i] < '0' || colon[1 + i] > '9') return -1;
            port = port * 10 + (colon[1 + i] - '0');
        }
        if (port < 1 || port > 65535) return -1;
    }
    if (hlen == 0) return -1;

    int rc = append_lower(&s->url_base, ep, slen + 3);
    if (!rc) rc = hg_buf_appends(&s->cr_tail, "\nhost:");
    if (cfg->virtual_host) {
        /* The bucket becomes a DNS label: only accept what can appear in a host name. */
        for (const char *b = cfg->bucket; *b; b++)
            if (!(hg_sigv4_cls[(unsigned char)*b] & 1) || *b == '_' || *b == '~') return -1;
        if (!rc) rc = append_lower(&s->url_base, cfg->bucket, strlen(cfg->bucket));
        if (!rc) rc = hg_buf_appendc(&s->url_base, '.');
        if (!rc) rc = append_lower(&s->cr_tail, cfg->bucket, strlen(cfg->bucket));
        if (!rc) rc = hg_buf_appendc(&s->cr_tail, '.');
    }
    if (!rc) rc = append_lower(&s->url_base, h, alen);
    if (!rc) rc = append_lower(&s->cr_tail, h, port >= 0 && port != defport ? alen : hlen);
    if (!rc) rc = hg_buf_appends(&s->cr_tail, "\n\nhost\nUNSIGNED-PAYLOAD");
    return rc;
}

hg_signer_t *hg_signer_new(const hg_sigv4_config_t *cfg)
{
    if (!cfg || !cfg->endpoint || !cfg->bucket || !*cfg->bucket || !cfg->region || !*cfg->region ||
        !cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
        return NULL;
    hg_signer_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    hg_buf_t *bufs[] = {&s->url_base, &s->path_prefix, &s->cr_tail, &s->cred_head, &s->region,
                        &s->secret,   &s->q_tail,      &s->q_head,  &s->q_exp,     &s->sts,
                        &s->scratch,  &s->pairs,       &s->arena,   &s->url_head,  &s->utail,
                        &s->crs,      &s->m2t};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        hg_buf_init(bufs[i], 0);
    mbedtls_md_init(&s->hmac);
    s->day = INT64_MIN;

    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    int rc = md ? 0 : -1;
    if (!rc) rc = mbedtls_md_setup(&s->hmac, md, 1);
    if (!rc) rc = setup_endpoint(s, cfg);
    if (!rc) rc = hg_buf_appendc(&s->path_prefix, '/');
    if (!rc && !cfg->virtual_host) {
        rc = hg_pct_encode(&s->path_prefix, cfg->bucket, strlen(cfg->bucket), 0);
        if (!rc) rc = hg_buf_appendc(&s->path_prefix, '/');
    }
    if (!rc) rc = hg_pct_encode(&s->cred_head, cfg->access_key, strlen(cfg->access_key), 0);
    if (!rc) rc = hg_buf_appends(&s->cred_head, "%2F");
    if (!rc) rc = hg_buf_appends(&s->region, cfg->region);
    /* Reserve first so no reallocation leaves a copy of a secret behind in freed memory. */
    size_t toklen = cfg->session_token ? strlen(cfg->session_token) : 0;
    if (!rc) rc = hg_buf_reserve(&s->secret, 4 + strlen(cfg->secret_key));
    if (!rc) rc = hg_buf_reserve(&s->q_tail, 64 + 3 * toklen);
    if (!rc) rc = hg_buf_reserve(&s->q_exp, 64 + 3 * toklen);
    if (!rc) rc = hg_buf_appends(&s->secret, "AWS4");
    if (!rc) rc = hg_buf_appends(&s->secret, cfg->secret_key);
    if (!rc && toklen) {
        rc = hg_buf_appends(&s->q_tail, "&X-Amz-Security-Token=");
        s->tok_off = s->q_tail.len;
        if (!rc) rc = hg_pct_encode(&s->q_tail, cfg->session_token, strlen(cfg->session_token), 0);
        s->tok_len = s->q_tail.len - s->tok_off;
    }
    if (!rc) rc = hg_buf_appends(&s->q_tail, "&X-Amz-SignedHeaders=host");
    /* String to sign: ALGO \n <date> \n <ymd>/<region>/s3/aws4_request \n <hex hash>. Its length
     * never changes, so it is laid out once and only the date and hash slots are rewritten. */
    if (!rc)
        rc = hg_buf_appendf(&s->sts, ALGO "\n%*s\n%*s/%s" SCOPE_TAIL "\n%*s", AMZ_DATE_LEN, "", 8,
                            "", cfg->region, HEX_LEN, "");
    if (rc) {
        hg_signer_free(s);
        return NULL;
    }
    s->sts_hash_off = s->sts.len - HEX_LEN;
    /* The first 64 bytes (algorithm, date, start of the scope) are shared by all URLs signed
     * in the same second, unless the hash slot reaches into them (a very short region). */
    s->sts_skip = s->sts_hash_off >= 64 ? 64 : 0;
    rc = hg_buf_append(&s->url_head, s->url_base.data, s->url_base.len);
    if (!rc) rc = hg_buf_append(&s->url_head, s->path_prefix.data, s->path_prefix.len);
    if (rc) {
        hg_signer_free(s);
        return NULL;
    }
    return s;
}

void hg_signer_free(hg_signer_t *s)
{
    if (!s) return;
    /* Secrets and credentials are wiped; the rest is configuration the logs show anyway. */
    wipe_buf(&s->secret);
    wipe_buf(&s->q_tail); /* holds the session token */
    wipe_buf(&s->q_exp);  /* so does this copy */
    wipe_buf(&s->q_head);
    wipe_buf(&s->cred_head);
    wipe_buf(&s->utail); /* token and credential */
    wipe_buf(&s->crs);
    hg_buf_free(&s->url_base);
    hg_buf_free(&s->path_prefix);
    hg_buf_free(&s->cr_tail);
    hg_buf_free(&s->region);
    hg_buf_free(&s->sts);
    hg_buf_free(&s->scratch);
    hg_buf_free(&s->pairs);
    hg_buf_free(&s->arena);
    hg_buf_free(&s->url_head);
    hg_buf_free(&s->m2t);
    mbedtls_md_free(&s->hmac); /* zeroizes the key-derived ipad/opad */
    mbedtls_platform_zeroize(s, sizeof *s); /* key-derived states and jobs */
    free(s);
}

static int hmac_once(mbedtls_md_context_t *c, const unsigned char *key, size_t klen,
                     const char *msg, size_t mlen, unsigned char out[32])
{
    int rc = mbedtls_md_hmac_starts(c, key, klen);
    if (!rc) rc = mbedtls_md_hmac_update(c, (const unsigned char *)msg, mlen);
    if (!rc) rc = mbedtls_md_hmac_finish(c, out);
    return rc;
}

/* State after absorbing one 64-byte pad block from the initial state. */
static void pad_state(uint32_t st[8], const unsigned char k[32], unsigned char fill)
{
    unsigned char pad[64];
    memset(pad, fill, sizeof pad);
    for (int i = 0; i < 32; i++)
        pad[i] ^= k[i];
    memcpy(st, hg_sha256_iv, 32);
    hg_sha256_blocks(st, pad, 1);
    mbedtls_platform_zeroize(pad, sizeof pad);
}

/* Derive the day's signing key (HMAC chain over date, region, "s3", "aws4_request"), absorb the
 * HMAC pad blocks keyed with it, and rebuild the day-dependent query head and scope. */
static int roll_day(hg_signer_t *s, int64_t day, const char ymd[8])
{
    unsigned char k[32];
    s->win_ok = 0;
    int rc = hmac_once(&s->hmac, (const unsigned char *)s->secret.data, s->secret.len, ymd, 8, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, s->region.data, s->region.len, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, "s3", 2, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, "aws4_request", 12, k);
    if (!rc) {
        /* HMAC(k, m) = H(k^opad || H(k^ipad || m)): absorb both pad blocks once per day. */
        pad_state(s->inner0, k, 0x36);
        pad_state(s->outer0, k, 0x5c);
    }
    mbedtls_platform_zeroize(k, sizeof k);
    if (rc) {
        s->day = INT64_MIN;
        return SIGN_ECRYPTO;
    }
    hg_buf_reset(&s->q_head);
    rc = hg_buf_appends(&s->q_head, "X-Amz-Algorithm=" ALGO "&X-Amz-Credential=");
    s->cred_off = s->q_head.len;
    if (!rc) rc = hg_buf_append(&s->q_head, s->cred_head.data, s->cred_head.len);
    if (!rc) rc = hg_buf_append(&s->q_head, ymd, 8);
    if (!rc) rc = hg_buf_appends(&s->q_head, "%2F");
    if (!rc) rc = hg_pct_encode(&s->q_head, s->region.data, s->region.len, 0);
    if (!rc) rc = hg_buf_appends(&s->q_head, "%2Fs3%2Faws4_request");
    s->cred_len = s->q_head.len - s->cred_off;
    if (!rc) rc = hg_buf_appends(&s->q_head, "&X-Amz-Date=");
    if (rc) {
        s->day = INT64_MIN; /* key and head must never disagree */
        return rc;
    }
    memcpy(s->sts.data + sizeof ALGO + AMZ_DATE_LEN + 1, ymd, 8); /* scope date */
    memcpy(s->ymd, ymd, 8);
    s->day = day;
    return 0;
}

/* Format `when` as yyyymmddTHHMMSSZ, rolling the cached signing key when the UTC day changes.
 * gmtime_r runs once per day; the time of day is plain arithmetic. */
static int set_time(hg_signer_t *s, time_t when, char amz[AMZ_DATE_LEN])
{
    if (s->day != INT64_MIN && when == s->last_when) {
        memcpy(amz, s->last_amz, AMZ_DATE_LEN);
        return 0;
    }
    int64_t t = (int64_t)when, day = t / 86400, sod = t % 86400;
    if (sod < 0) {
        sod += 86400;
        day--;
    }
    if (day != s->day) {
        struct tm tm;
        time_t midnight = (time_t)(day * 86400);
        if (!gmtime_r(&midnight, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
            return HG_EOVERFLOW; /* not representable as a 4-digit-year X-Amz-Date */
        char ymd[8];
        int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
        ymd[0] = (char)('0' + y / 1000), ymd[1] = (char)('0' + y / 100 % 10);
        ymd[2] = (char)('0' + y / 10 % 10), ymd[3] = (char)('0' + y % 10);
        ymd[4] = (char)('0' + m / 10), ymd[5] = (char)('0' + m % 10);
        ymd[6] = (char)('0' + tm.tm_mday / 10), ymd[7] = (char)('0' + tm.tm_mday % 10);
        int rc = roll_day(s, day, ymd);
        if (rc) return rc;
    }
    int hh = (int)(sod / 3600), mi = (int)(sod / 60 % 60), ss = (int)(sod % 60);
    memcpy(amz, s->ymd, 8);
    amz[8] = 'T';
    amz[9] = (char)('0' + hh / 10), amz[10] = (char)('0' + hh % 10);
    amz[11] = (char)('0' + mi / 10), amz[12] = (char)('0' + mi % 10);
    amz[13] = (char)('0' + ss / 10), amz[14] = (char)('0' + ss % 10);
    amz[15] = 'Z';
    s->last_when = when;
    memcpy(s->last_amz, amz, AMZ_DATE_LEN);
    return 0;
}

/* X-Amz-Expires digits of a clamped expiry. */
static size_t fmt_expires(long expires, char exp[8])
{
    size_t n = 0;
    char rev[8];
    for (long e = expires; e; e /= 10)
        rev[n++] = (char)('0' + e % 10);
    for (size_t i = 0; i < n; i++)
        exp[i] = rev[n - 1 - i];
    return n;
}

/* Rebuild the signing window (sigv4_int.h) for X-Amz-Date amz and this expiry. */
static int set_window(hg_signer_t *s, const char amz[AMZ_DATE_LEN], long expires)
{
    if (s->win_ok && s->win_exp == expires && memcmp(s->win_amz, amz, AMZ_DATE_LEN) == 0) return 0;
    s->win_ok = 0;
    char exp[8];
    size_t explen = fmt_expires(expires, exp);
    hg_buf_reset(&s->q_exp);
    int rc = hg_buf_appends(&s->q_exp, "&X-Amz-Expires=");
    if (!rc) rc = hg_buf_append(&s->q_exp, exp, explen);
    if (!rc) rc = hg_buf_append(&s->q_exp, s->q_tail.data, s->q_tail.len);
    hg_buf_reset(&s->utail);
    hg_buf_reset(&s->crs);
    if (!rc) rc = hg_buf_appendc(&s->crs, '\n');
    if (!rc) rc = hg_buf_appendc(&s->utail, '?');
    hg_buf_t *both[2] = {&s->utail, &s->crs};
    for (int i = 0; i < 2 && !rc; i++) {
        rc = hg_buf_append(both[i], s->q_head.data, s->q_head.len);
        if (!rc) rc = hg_buf_append(both[i], amz, AMZ_DATE_LEN);
        if (!rc) rc = hg_buf_append(both[i], s->q_exp.data, s->q_exp.len);
    }
    if (!rc) rc = hg_buf_appends(&s->utail, SIG_PARAM);
    if (!rc) rc = hg_buf_reserve(&s->utail, HEX_LEN);
    if (!rc) {
        memset(s->utail.data + s->utail.len, '0', HEX_LEN); /* placeholder signature */
        s->utail.len += HEX_LEN;
        rc = hg_buf_append(&s->crs, s->cr_tail.data, s->cr_tail.len);
    }
    /* Inner HMAC message: the string to sign after its first block (if that is constant). */
    memcpy(s->sts.data + sizeof ALGO, amz, AMZ_DATE_LEN);
    size_t m2len = s->sts.len - s->sts_skip;
    hg_buf_reset(&s->m2t);
    if (!rc) rc = hg_buf_reserve(&s->m2t, m2len + 72);
    if (rc) return rc;
    memcpy(s->m2t.data, s->sts.data + s->sts_skip, m2len);
    s->m2t.len = 64 * hg_sha256_pad((unsigned char *)s->m2t.data, m2len, 64 + s->sts_skip);
    if (s->sts_skip) {
        memcpy(s->inner_mid, s->inner0, 32);
        hg_sha256_blocks(s->inner_mid, (const unsigned char *)s->sts.data, 1);
    }
    memcpy(s->win_amz, amz, AMZ_DATE_LEN);
    s->win_exp = expires;
    s->win_ok = 1;
    return 0;
}

static int safe_byte(unsigned char c)
{
    return hg_sigv4_cls[c] != 0; /* unreserved or '/' */
}

/* Encode an object key: unreserved bytes and '/' stay, everything else becomes %XX. The output
 * must have room for the encoded key (at least n bytes, as reserve_url guarantees). */
static char *enc_key(char *d, const char *key, size_t n)
{
    const unsigned char *p = (const unsigned char *)key;
    size_t i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time while they need no escape (the usual case for segment names). A store
     * of 16 bytes is in bounds: at least n - i >= 16 more output bytes are reserved. */
    const __m128i lo0 = _mm_set1_epi8(0x2c), hi0 = _mm_set1_epi8(0x3a); /* - . / 0-9 */
    const __m128i lo1 = _mm_set1_epi8(0x40), hi1 = _mm_set1_epi8(0x5b); /* A-Z */
    const __m128i lo2 = _mm_set1_epi8(0x60), hi2 = _mm_set1_epi8(0x7b); /* a-z */
    const __m128i us = _mm_set1_epi8('_'), ti = _mm_set1_epi8('~');
#define SAFE16(x)                                                                                  \
    _mm_or_si128(                                                                                  \
        _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(x, lo0), _mm_cmpgt_epi8(hi0, x)),                \
                     _mm_and_si128(_mm_cmpgt_epi8(x, lo1), _mm_cmpgt_epi8(hi1, x))),               \
        _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(x, lo2), _mm_cmpgt_epi8(hi2, x)),                \
                     _mm_or_si128(_mm_cmpeq_epi8(x, us), _mm_cmpeq_epi8(x, ti))))
    if (n >= 16) {
        /* The usual key needs no escape at all: check it in 16-byte blocks, the last one
         * overlapping, copying as we go; only a key with an escape takes the loop below. */
        unsigned all = 0xffff;
        size_t k = 0;
        for (; n - k > 16 && all == 0xffff; k += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
            all &= (unsigned)_mm_movemask_epi8(SAFE16(x));
            _mm_storeu_si128((__m128i *)(void *)(d + k), x);
        }
        if (all == 0xffff) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16));
            if ((unsigned)_mm_movemask_epi8(SAFE16(x)) == 0xffff) {
                _mm_storeu_si128((__m128i *)(void *)(d + n - 16), x);
                return d + n;
            }
        }
    }
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m = (unsigned)_mm_movemask_epi8(SAFE16(x));
        _mm_storeu_si128((__m128i *)(void *)d, x);
        if (m == 0xffff) {
            d += 16;
            i += 16;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctz(~m); /* first byte to escape */
        unsigned char c = p[i + k];
        d += k;
        d[0] = '%';
        d[1] = HEXU[c >> 4];
        d[2] = HEXU[c & 15];
        d += 3;
        i += k + 1;
    }
#undef SAFE16
#endif
    for (; i < n; i++) {
        unsigned char c = p[i];
        if (safe_byte(c)) {
            *d++ = (char)c;
        } else {
            d[0] = '%';
            d[1] = HEXU[c >> 4];
            d[2] = HEXU[c & 15];
            d += 3;
        }
    }
    return d;
}

static size_t enc_key_len(const char *key, size_t n)
{
    size_t len = n;
    for (size_t i = 0; i < n; i++)
        len += safe_byte((unsigned char)key[i]) ? 0 : 2;
    return len;
}

/* Reserve `fixed` + the encoded key in one go: the worst case (every byte escaped) when the
 * buffer's cap allows it, else the exact size, so a URL that fits is never refused. */
static int reserve_url(hg_buf_t *out, size_t fixed, const char *key, size_t keylen)
{
    if (keylen > ((size_t)-1 - fixed) / 3) return HG_EOVERFLOW;
    int rc = hg_buf_reserve(out, fixed + 3 * keylen);
    if (rc == HG_EOVERFLOW) rc = hg_buf_reserve(out, fixed + enc_key_len(key, keylen));
    return rc;
}

/* reserve_url for the encoded folder dir, '/', then name. */
static int reserve_url2(hg_buf_t *out, size_t fixed, size_t dlen, const char *name, size_t nlen)
{
    if (dlen > (size_t)-1 / 4 || nlen > (size_t)-1 / 4 || fixed > (size_t)-1 / 4) return HG_EOVERFLOW;
    int rc = hg_buf_reserve(out, fixed + dlen + 1 + 3 * nlen);
    if (rc == HG_EOVERFLOW) rc = hg_buf_reserve(out, fixed + dlen + 1 + enc_key_len(name, nlen));
    return rc;
}

/* Write the URL of one presign into out with a placeholder signature and stage its job. On
 * error out and the arena are back to their lengths before the call. */
int hg_sigv4_build(hg_signer_t *s, hg_buf_t *out, hg_sigjob_t *j, const char *dir, size_t dlen,
                   const char *name, size_t nlen, const char *query, size_t qlen, time_t when,
                   long expires)
{
    size_t orig = out->len, aorig = s->arena.len;
    if (expires < 1) expires = 1;
    if (expires > HG_PRESIGN_MAX_EXPIRES) expires = HG_PRESIGN_MAX_EXPIRES;
    if (!query) qlen = 0;
    if (!s->win_ok || when != s->last_when || expires != s->win_exp) {
        char amz[AMZ_DATE_LEN];
        int rc = set_time(s, when, amz);
        if (!rc) rc = set_window(s, amz, expires);
        if (rc) return rc;
    }
    size_t head = s->url_head.len, path_off = orig + s->url_base.len, plen, q_off = 0, q_len = 0;
    size_t fixed = head + (qlen ? 1 + sizeof SIG_PARAM - 1 + HEX_LEN : s->utail.len);
    /* the whole URL unless there is an extra query */
    int rc = dlen ? reserve_url2(out, fixed, dlen, name, nlen) : reserve_url(out, fixed, name, nlen);
    if (rc) return rc;
    char *d = out->data + orig;
    hg_copy_short(d, s->url_head.data, head);
    d += head;
    if (dlen) { /* already encoded, once per playlist */
        memcpy(d, dir, dlen);
        d += dlen;
        *d++ = '/';
    }
    d = enc_key(d, name, nlen);
    plen = (size_t)(d - out->data) - path_off;
    if (qlen == 0) {
        memcpy(d, s->utail.data, s->utail.len);
        out->len = (size_t)(d - out->data) + s->utail.len;
    } else {
        char exp[8];
        size_t explen = fmt_expires(expires, exp);
        *d++ = '?';
        q_off = out->len = (size_t)(d - out->data);
        rc = hg_sigv4_append_query(s, out, query, qlen, s->win_amz, exp, explen);
        if (!rc) rc = hg_buf_reserve(out, sizeof SIG_PARAM - 1 + HEX_LEN);
        if (rc) {
            out->len = orig;
            return rc;
        }
        q_len = out->len - q_off;
        d = out->data + out->len;
        memcpy(d, SIG_PARAM, sizeof SIG_PARAM - 1);
        memset(d + sizeof SIG_PARAM - 1, '0', HEX_LEN); /* placeholder until the job runs */
        out->len += sizeof SIG_PARAM - 1 + HEX_LEN;
    }
    j->sig_off = out->len - HEX_LEN;
    rc = hg_sigv4_stage_job(s, out, j, path_off, plen, q_off, q_len);
    if (rc) {
        out->len = orig;
        s->arena.len = aorig;
    }
    return rc;
}

int hg_presign(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen, const char *query,
               size_t qlen, time_t when, long expires)
{
    /* The immediate job stages after any pending ones in the arena and leaves them alone. */
    size_t aorig = s->arena.len;
    hg_sigjob_t *j = &s->jobs[HG_PRESIGN_BATCH];
    int rc = hg_sigv4_build(s, out, j, NULL, 0, key, keylen, query, qlen, when, expires);
    if (rc) return rc;
    hg_sigv4_run_jobs(s, j, 1, out->data);
    s->arena.len = aorig;
    return 0;
}

int hg_object_url(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen)
{
    size_t base = s->url_base.len, pre = s->path_prefix.len;
    int rc = reserve_url(out, base + pre, key, keylen);
    if (rc) return rc;
    char *d = out->data + out->len;
    memcpy(d, s->url_base.data, base);
    memcpy(d + base, s->path_prefix.data, pre);
    d = enc_key(d + base + pre, key, keylen);
    out->len = (size_t)(d - out->data);
    return 0;
}
