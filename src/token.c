#include "token.h"

#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pct.h"

static const char HEX[] = "0123456789abcdef";

long hg_hex_decode(const char *hex, char *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = hex[i + (size_t)k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                  : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        out[i / 2] = (char)v;
    }
    return (long)(n / 2);
}

static int hmac_hex(const char *key, size_t klen, const char *msg, size_t mlen, char out[65])
{
    unsigned char mac[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (mbedtls_md_hmac(md, (const unsigned char *)key, klen, (const unsigned char *)msg, mlen, mac)) return -1;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[mac[i] >> 4];
        out[2 * i + 1] = HEX[mac[i] & 15];
    }
    out[64] = 0;
    return 0;
}

/* Compare without an early exit, so timing says nothing about where a forgery went wrong. */
static int ct_equal(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Glob match with '*' only (iterative, linear in practice: no backtracking blow-up). */
static int glob(const char *p, size_t pl, const char *s, size_t sl)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sl) {
        if (pi < pl && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pl && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < pl && p[pi] == '*') pi++;
    return pi == pl;
}

static int parse_time(const char *v, size_t n, time_t *out)
{
    if (!n || n > 12) return -1;
    long long t = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        t = t * 10 + (v[i] - '0');
    }
    *out = (time_t)t;
    return 0;
}

hg_token_result_t hg_token_verify(const char *key, size_t klen, const char *tok, size_t tlen,
                                  const char *path, size_t plen, time_t now)
{
    if (!tok || !tlen) return HG_TOKEN_MISSING;
    /* The MAC is the last field; everything before "~hmac=" is what it covers. */
    const char *h = NULL;
    for (size_t i = 0; i + 6 <= tlen; i++)
        if (memcmp(tok + i, "~hmac=", 6) == 0) h = tok + i;
    if (!h || (size_t)(tok + tlen - (h + 6)) != 64) return HG_TOKEN_MALFORMED;
    size_t signed_len = (size_t)(h - tok);
    time_t exp = 0, st = 0;
    int have_exp = 0;
    const char *acl = NULL;
    size_t acl_len = 0;
    for (const char *f = tok; f < h;) {
        const char *end = memchr(f, '~', (size_t)(h - f));
        if (!end) end = h;
        const char *eq = memchr(f, '=', (size_t)(end - f));
        if (!eq) return HG_TOKEN_MALFORMED;
        size_t nl = (size_t)(eq - f), vl = (size_t)(end - eq - 1);
        if (nl == 3 && !memcmp(f, "exp", 3)) {
            if (parse_time(eq + 1, vl, &exp)) return HG_TOKEN_MALFORMED;
            have_exp = 1;
        } else if (nl == 2 && !memcmp(f, "st", 2)) {
            if (parse_time(eq + 1, vl, &st)) return HG_TOKEN_MALFORMED;
        } else if (nl == 3 && !memcmp(f, "acl", 3)) {
            acl = eq + 1;
            acl_len = vl;
        }
        f = end + 1;
    }
    if (!have_exp || !acl) return HG_TOKEN_MALFORMED;
    char want[65];
    if (hmac_hex(key, klen, tok, signed_len, want)) return HG_TOKEN_MALFORMED;
    char got[64];
    for (int i = 0; i < 64; i++) {
        char ch = h[6 + i];
        got[i] = ch >= 'A' && ch <= 'F' ? (char)(ch - 'A' + 'a') : ch;
    }
    if (!ct_equal(want, got, 64)) return HG_TOKEN_BAD_HMAC;
    if (now > exp) return HG_TOKEN_EXPIRED;
    if (st && now < st) return HG_TOKEN_NOT_YET_VALID;
    for (const char *p = acl; p <= acl + acl_len;) {
        const char *bang = memchr(p, '!', (size_t)(acl + acl_len - p));
        const char *end = bang ? bang : acl + acl_len;
        if (glob(p, (size_t)(end - p), path, plen)) return HG_TOKEN_OK;
        p = end + 1;
    }
    return HG_TOKEN_ACL;
}

const char *hg_token_reason(hg_token_result_t r)
{
    switch (r) {
    case HG_TOKEN_OK: return "ok";
    case HG_TOKEN_MISSING: return "access token required";
    case HG_TOKEN_MALFORMED: return "malformed access token";
    case HG_TOKEN_EXPIRED: return "access token expired";
    case HG_TOKEN_NOT_YET_VALID: return "access token not valid yet";
    case HG_TOKEN_BAD_HMAC: return "access token signature invalid";
    default: return "path not allowed by the access token";
    }
}

int hg_token_mint(hg_buf_t *out, const char *key, size_t klen, const char *acl, time_t start,
                  time_t exp)
{
    size_t at = out->len;
    int rc = 0;
    if (start) rc = hg_buf_appendf(out, "st=%lld~", (long long)start);
    if (!rc) rc = hg_buf_appendf(out, "exp=%lld~acl=%s", (long long)exp, acl);
    char mac[65];
    if (!rc && hmac_hex(key, klen, out->data + at, out->len - at, mac)) rc = -1;
    if (!rc) rc = hg_buf_appendf(out, "~hmac=%s", mac);
    if (rc) out->len = at;
    return rc;
}

int hg_query_param(const char *t, size_t len, const char *param, hg_buf_t *out,
                   const char **raw, size_t *raw_len)
{
    const char *q = memchr(t, '?', len);
    if (!q) return 0;
    size_t pn = strlen(param);
    const char *e = t + len;
    for (const char *p = q + 1; p < e;) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        const char *end = amp ? amp : e;
        if ((size_t)(end - p) > pn && memcmp(p, param, pn) == 0 && p[pn] == '=') {
            *raw = p + pn + 1;
            *raw_len = (size_t)(end - *raw);
            return hg_pct_decode(out, *raw, *raw_len) == 0 ? 1 : -1;
        }
        p = end + 1;
    }
    return 0;
}
