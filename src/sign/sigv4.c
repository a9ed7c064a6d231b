/* SigV4 query-string presigning for S3 GET (see sigv4.h).
 *
 * Layout of a presigned URL:
 *   scheme://[bucket.]host[:port]/[bucket/]enc(key)?<canonical query>&X-Amz-Signature=<hex>
 * The query is emitted exactly in canonical form (sorted, SigV4-encoded), so the path and query in
 * the URL are byte for byte the ones in the canonical request. That lets us hash them straight out
 * of the caller's buffer instead of copying them into a second canonical-request buffer. */
#include "sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>
#include <mbedtls/platform_util.h>

#include "../common/pct.h"

#define ALGO "AWS4-HMAC-SHA256"
#define SCOPE_TAIL "/s3/aws4_request"
#define AMZ_DATE_LEN 16 /* yyyymmddTHHMMSSZ */
#define HEX_LEN 64      /* hex SHA-256 */
/* Internal failure of an mbedTLS call on a valid context: not expected to happen. */
#define SIGN_ECRYPTO (-1)

typedef struct {
    const char *n, *v;
    size_t noff, nl, voff, vl; /* offsets into the scratch buffer while it may still move */
} qpair_t;

struct hg_signer {
    hg_buf_t url_base;    /* "scheme://[bucket.]host[:port]" as emitted in URLs */
    hg_buf_t path_prefix; /* "/" or "/enc(bucket)/" */
    hg_buf_t cr_tail;     /* "\nhost:<canonical host>\n\nhost\nUNSIGNED-PAYLOAD" */
    hg_buf_t cred_head;   /* enc(access key) "%2F" */
    hg_buf_t region;
    hg_buf_t secret;         /* "AWS4" + secret key */
    hg_buf_t q_tail;         /* ["&X-Amz-Security-Token=" enc(token)] "&X-Amz-SignedHeaders=host" */
    size_t tok_off, tok_len; /* encoded token inside q_tail (tok_len 0: no token) */
    hg_buf_t q_head;         /* per day: "X-Amz-Algorithm=..&X-Amz-Credential=<cred>&X-Amz-Date=" */
    size_t cred_off, cred_len; /* encoded credential inside q_head */
    hg_buf_t sts;              /* string to sign; date and hash slots are overwritten per URL */
    size_t sts_hash_off;
    hg_buf_t scratch;          /* re-encoded extra query parameters */
    hg_buf_t pairs;            /* qpair_t array over scratch + auth parameters */
    int64_t day;               /* day number whose signing key is cached; INT64_MIN: none */
    char ymd[8];               /* yyyymmdd of `day` */
    mbedtls_md_context_t sha;  /* plain SHA-256 (setup only; hashing uses the contexts below) */
    mbedtls_md_context_t hmac; /* HMAC used to derive the day's signing key */
    /* Per-URL hashing works on raw SHA-256 states, so work shared by every URL is done once:
     * the HMAC's ipad and opad blocks per day, and the first 64 bytes of the string to sign
     * (algorithm, date, scope: constant within a signing window) per X-Amz-Date. */
    mbedtls_sha256_context cr;     /* canonical request */
    mbedtls_sha256_context inner0; /* after the key ^ ipad block */
    mbedtls_sha256_context outer0; /* after the key ^ opad block */
    mbedtls_sha256_context inner_mid; /* inner0 plus the first 64 bytes of the string to sign */
    char mid_amz[AMZ_DATE_LEN];
    int mid_ok;
};

static const char HEXU[] = "0123456789ABCDEF";
static const char HEXL[] = "0123456789abcdef";

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void tohex(char *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = HEXL[src[i] >> 4];
        dst[2 * i + 1] = HEXL[src[i] & 15];
    }
}

/* Percent-decode p[0..n) leniently and re-encode it with SigV4 rules (everything but unreserved
 * escaped, upper-case hex). Playlist authors write queries loosely: '+' stays a literal '+', and
 * a '%' that starts no valid escape is taken literally (so it becomes "%25"), rather than failing
 * a whole playlist over one odd URI. */
static int reencode(hg_buf_t *b, const char *p, size_t n)
{
    int rc = hg_buf_reserve(b, n * 3);
    if (rc) return rc;
    char *d = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' && i + 2 < n) {
            int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
        }
        if (unreserved(c)) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = HEXU[c >> 4];
            *d++ = HEXU[c & 15];
        }
    }
    b->len = (size_t)(d - b->data);
    return 0;
}

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
            if (!unreserved((unsigned char)*b) || *b == '_' || *b == '~') return -1;
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
    hg_buf_init(&s->url_base, 0);
    hg_buf_init(&s->path_prefix, 0);
    hg_buf_init(&s->cr_tail, 0);
    hg_buf_init(&s->cred_head, 0);
    hg_buf_init(&s->region, 0);
    hg_buf_init(&s->secret, 0);
    hg_buf_init(&s->q_tail, 0);
    hg_buf_init(&s->q_head, 0);
    hg_buf_init(&s->sts, 0);
    hg_buf_init(&s->scratch, 0);
    hg_buf_init(&s->pairs, 0);
    mbedtls_md_init(&s->sha);
    mbedtls_md_init(&s->hmac);
    mbedtls_sha256_init(&s->cr);
    mbedtls_sha256_init(&s->inner0);
    mbedtls_sha256_init(&s->outer0);
    mbedtls_sha256_init(&s->inner_mid);
    s->day = INT64_MIN;

    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    int rc = md ? 0 : -1;
    if (!rc) rc = mbedtls_md_setup(&s->sha, md, 0);
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
    return s;
}

void hg_signer_free(hg_signer_t *s)
{
    if (!s) return;
    /* Secrets and credentials are wiped; the rest is configuration the logs show anyway. */
    wipe_buf(&s->secret);
    wipe_buf(&s->q_tail); /* holds the session token */
    wipe_buf(&s->q_head);
    wipe_buf(&s->cred_head);
    hg_buf_free(&s->url_base);
    hg_buf_free(&s->path_prefix);
    hg_buf_free(&s->cr_tail);
    hg_buf_free(&s->region);
    hg_buf_free(&s->sts);
    hg_buf_free(&s->scratch);
    hg_buf_free(&s->pairs);
    mbedtls_md_free(&s->sha);
    mbedtls_md_free(&s->hmac); /* zeroizes the key-derived ipad/opad */
    mbedtls_sha256_free(&s->cr);
    mbedtls_sha256_free(&s->inner0); /* these zeroize the key-derived states too */
    mbedtls_sha256_free(&s->outer0);
    mbedtls_sha256_free(&s->inner_mid);
    mbedtls_platform_zeroize(s, sizeof *s);
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

/* Derive the day's signing key (HMAC chain over date, region, "s3", "aws4_request"), leave the
 * HMAC context keyed with it, and rebuild the day-dependent query head and scope. */
static int roll_day(hg_signer_t *s, int64_t day, const char ymd[8])
{
    unsigned char k[32];
    int rc = hmac_once(&s->hmac, (const unsigned char *)s->secret.data, s->secret.len, ymd, 8, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, s->region.data, s->region.len, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, "s3", 2, k);
    if (!rc) rc = hmac_once(&s->hmac, k, 32, "aws4_request", 12, k);
    if (!rc) {
        /* HMAC(k, m) = H(k^opad || H(k^ipad || m)): absorb both pad blocks once per day. */
        unsigned char pad[64];
        memset(pad, 0x36, sizeof pad);
        for (int i = 0; i < 32; i++) pad[i] ^= k[i];
        rc = mbedtls_sha256_starts_ret(&s->inner0, 0);
        if (!rc) rc = mbedtls_sha256_update_ret(&s->inner0, pad, 64);
        memset(pad, 0x5c, sizeof pad);
        for (int i = 0; i < 32; i++) pad[i] ^= k[i];
        if (!rc) rc = mbedtls_sha256_starts_ret(&s->outer0, 0);
        if (!rc) rc = mbedtls_sha256_update_ret(&s->outer0, pad, 64);
        mbedtls_platform_zeroize(pad, sizeof pad);
        s->mid_ok = 0;
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
    return 0;
}

static int pair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    size_t n = x->nl < y->nl ? x->nl : y->nl;
    int c = memcmp(x->n, y->n, n);
    if (c || x->nl != y->nl) return c ? c : (x->nl < y->nl ? -1 : 1);
    n = x->vl < y->vl ? x->vl : y->vl;
    c = memcmp(x->v, y->v, n);
    if (c || x->vl != y->vl) return c ? c : (x->vl < y->vl ? -1 : 1);
    return 0;
}

static int add_pair(hg_signer_t *s, const char *n, size_t nl, const char *v, size_t vl)
{
    qpair_t p = {n, v, 0, nl, 0, vl};
    return hg_buf_append(&s->pairs, &p, sizeof p);
}

/* Parameters we generate ourselves. A playlist copied from a presigned origin may carry stale
 * ones; keeping them would put each name in the query twice, which S3 rejects. */
static int is_auth_param(const char *n, size_t nl)
{
    static const char *const names[] = {
        "X-Amz-Algorithm",      "X-Amz-Credential",    "X-Amz-Date",     "X-Amz-Expires",
        "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == nl && memcmp(names[i], n, nl) == 0) return 1;
    return 0;
}

/* Append the canonical query (extra parameters merged with ours, sorted) to out. */
static int append_query(hg_signer_t *s, hg_buf_t *out, const char *q, size_t qlen, const char *amz,
                        const char *exp, size_t explen)
{
    hg_buf_reset(&s->scratch);
    hg_buf_reset(&s->pairs);
    int rc = 0;
    for (size_t i = 0; i < qlen && !rc;) {
        const char *seg = q + i, *amp = memchr(seg, '&', qlen - i);
        size_t seglen = amp ? (size_t)(amp - seg) : qlen - i;
        i += seglen + 1;
        if (seglen == 0) continue; /* "a&&b" */
        const char *eq = memchr(seg, '=', seglen);
        size_t nraw = eq ? (size_t)(eq - seg) : seglen;
        size_t noff = s->scratch.len;
        rc = reencode(&s->scratch, seg, nraw);
        size_t voff = s->scratch.len;
        if (!rc && eq) rc = reencode(&s->scratch, eq + 1, seglen - nraw - 1);
        if (rc) break;
        if (is_auth_param(s->scratch.data + noff, voff - noff)) {
            s->scratch.len = noff;
            continue;
        }
        qpair_t p = {NULL, NULL, noff, voff - noff, voff, s->scratch.len - voff};
        rc = hg_buf_append(&s->pairs, &p, sizeof p);
    }
    if (rc) return rc;
    size_t nextra = s->pairs.len / sizeof(qpair_t);
    if (nextra == 0) { /* common case: our parameters alone are already in canonical order */
        rc = hg_buf_append(out, s->q_head.data, s->q_head.len);
        if (!rc) rc = hg_buf_append(out, amz, AMZ_DATE_LEN);
        if (!rc) rc = hg_buf_appends(out, "&X-Amz-Expires=");
        if (!rc) rc = hg_buf_append(out, exp, explen);
        if (!rc) rc = hg_buf_append(out, s->q_tail.data, s->q_tail.len);
        return rc;
    }
    qpair_t *pp = (qpair_t *)(void *)s->pairs.data;
    for (size_t i = 0; i < nextra; i++) { /* scratch no longer moves: offsets become pointers */
        pp[i].n = s->scratch.data + pp[i].noff;
        pp[i].v = s->scratch.data + pp[i].voff;
    }
    rc = add_pair(s, "X-Amz-Algorithm", 15, ALGO, sizeof ALGO - 1);
    if (!rc) rc = add_pair(s, "X-Amz-Credential", 16, s->q_head.data + s->cred_off, s->cred_len);
    if (!rc) rc = add_pair(s, "X-Amz-Date", 10, amz, AMZ_DATE_LEN);
    if (!rc) rc = add_pair(s, "X-Amz-Expires", 13, exp, explen);
    if (!rc && s->tok_len)
        rc = add_pair(s, "X-Amz-Security-Token", 20, s->q_tail.data + s->tok_off, s->tok_len);
    if (!rc) rc = add_pair(s, "X-Amz-SignedHeaders", 19, "host", 4);
    if (rc) return rc;
    size_t np = s->pairs.len / sizeof(qpair_t), total = 0;
    pp = (qpair_t *)(void *)s->pairs.data;
    qsort(pp, np, sizeof *pp, pair_cmp);
    for (size_t i = 0; i < np; i++)
        total += pp[i].nl + pp[i].vl + 2;
    rc = hg_buf_reserve(out, total);
    for (size_t i = 0; i < np && !rc; i++) {
        if (i) rc = hg_buf_appendc(out, '&');
        if (!rc) rc = hg_buf_append(out, pp[i].n, pp[i].nl);
        if (!rc) rc = hg_buf_appendc(out, '=');
        if (!rc) rc = hg_buf_append(out, pp[i].v, pp[i].vl);
    }
    return rc;
}


/* Hash the canonical request (its path and query are already in out) into the string to sign,
 * then HMAC that with the cached day key. */
static int sign(hg_signer_t *s, const hg_buf_t *out, size_t path_off, size_t q_off, const char *amz,
                char sig[HEX_LEN])
{
    unsigned char h[32];
    mbedtls_sha256_context *c = &s->cr;
    int rc = mbedtls_sha256_starts_ret(c, 0);
    if (!rc) rc = mbedtls_sha256_update_ret(c, (const unsigned char *)"GET\n", 4);
    if (!rc) rc = mbedtls_sha256_update_ret(c, (const unsigned char *)out->data + path_off, q_off - 1 - path_off);
    if (!rc) rc = mbedtls_sha256_update_ret(c, (const unsigned char *)"\n", 1);
    if (!rc) rc = mbedtls_sha256_update_ret(c, (const unsigned char *)out->data + q_off, out->len - q_off);
    if (!rc) rc = mbedtls_sha256_update_ret(c, (const unsigned char *)s->cr_tail.data, s->cr_tail.len);
    if (!rc) rc = mbedtls_sha256_finish_ret(c, h);
    if (rc) return SIGN_ECRYPTO;
    memcpy(s->sts.data + sizeof ALGO, amz, AMZ_DATE_LEN);
    tohex(s->sts.data + s->sts_hash_off, h, 32);
    /* Inner hash: resume after the string to sign's constant first block when it has one. */
    size_t skip = s->sts_hash_off >= 64 ? 64 : 0;
    if (skip && (!s->mid_ok || memcmp(s->mid_amz, amz, AMZ_DATE_LEN) != 0)) {
        mbedtls_sha256_clone(&s->inner_mid, &s->inner0);
        if (mbedtls_sha256_update_ret(&s->inner_mid, (const unsigned char *)s->sts.data, 64)) return SIGN_ECRYPTO;
        memcpy(s->mid_amz, amz, AMZ_DATE_LEN);
        s->mid_ok = 1;
    }
    mbedtls_sha256_clone(c, skip ? &s->inner_mid : &s->inner0);
    rc = mbedtls_sha256_update_ret(c, (const unsigned char *)s->sts.data + skip, s->sts.len - skip);
    if (!rc) rc = mbedtls_sha256_finish_ret(c, h);
    if (!rc) {
        mbedtls_sha256_clone(c, &s->outer0);
        rc = mbedtls_sha256_update_ret(c, h, 32);
    }
    if (!rc) rc = mbedtls_sha256_finish_ret(c, h);
    if (rc) return SIGN_ECRYPTO;
    tohex(sig, h, 32);
    return 0;
}

/* Append scheme://host/[bucket/]enc(key); *path_off receives where the path starts. */
static int append_object(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen,
                         size_t *path_off)
{
    int rc = hg_buf_append(out, s->url_base.data, s->url_base.len);
    *path_off = out->len;
    if (!rc) rc = hg_buf_append(out, s->path_prefix.data, s->path_prefix.len);
    if (!rc) rc = hg_pct_encode(out, key, keylen, 1);
    return rc;
}

int hg_presign(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen, const char *query,
               size_t qlen, time_t when, long expires)
{
    size_t orig = out->len, path_off = 0;
    char amz[AMZ_DATE_LEN], exp[8], sig[HEX_LEN];
    if (expires < 1) expires = 1;
    if (expires > HG_PRESIGN_MAX_EXPIRES) expires = HG_PRESIGN_MAX_EXPIRES;
    size_t explen = 0;
    char rev[8];
    for (long e = expires; e; e /= 10)
        rev[explen++] = (char)('0' + e % 10);
    for (size_t i = 0; i < explen; i++)
        exp[i] = rev[explen - 1 - i];

    int rc = set_time(s, when, amz);
    if (!rc) rc = append_object(s, out, key, keylen, &path_off);
    if (!rc) rc = hg_buf_appendc(out, '?');
    size_t q_off = out->len;
    if (!rc) rc = append_query(s, out, query, query ? qlen : 0, amz, exp, explen);
    if (!rc) rc = sign(s, out, path_off, q_off, amz, sig);
    if (!rc) rc = hg_buf_appends(out, "&X-Amz-Signature=");
    if (!rc) rc = hg_buf_append(out, sig, HEX_LEN);
    if (rc) out->len = orig;
    return rc;
}

int hg_object_url(hg_signer_t *s, hg_buf_t *out, const char *key, size_t keylen)
{
    size_t orig = out->len, path_off;
    int rc = append_object(s, out, key, keylen, &path_off);
    if (rc) out->len = orig;
    return rc;
}
