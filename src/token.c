#include "token.h"

#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

static int hmac_hex(const char *key, size_t klen, const char *msg, size_t mlen, char out[65])
{
    unsigned char mac[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (mbedtls_md_hmac(md, (const unsigned char *)key, klen, (const unsigned char *)msg, mlen, mac)) return -1;
    hg_hex_encode(out, mac, 32);
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
    int have_exp = 0, have_st = 0;
    const char *acl = NULL;
    size_t acl_len = 0;
    const char *seen[16];
    size_t seen_len[16], nseen = 0;
    for (const char *f = tok; f < h;) {
        const char *end = memchr(f, '~', (size_t)(h - f));
        if (!end) end = h;
        const char *eq = memchr(f, '=', (size_t)(end - f));
        if (!eq) return HG_TOKEN_MALFORMED;
        size_t nl = (size_t)(eq - f), vl = (size_t)(end - eq - 1);
        /* Every field at most once (id, data and unknown ones too), and only a few fields. */
        for (size_t k = 0; k < nseen; k++)
            if (seen_len[k] == nl && !memcmp(seen[k], f, nl)) return HG_TOKEN_MALFORMED;
        if (nseen == 16) return HG_TOKEN_MALFORMED;
        seen[nseen] = f;
        seen_len[nseen++] = nl;
        /* A field given twice is refused: which copy a checker believes is exactly what an
         * attacker who controls part of a minted ACL would exploit (a second acl= field). */
        if (nl == 3 && !memcmp(f, "exp", 3)) {
            if (have_exp++ || parse_time(eq + 1, vl, &exp)) return HG_TOKEN_MALFORMED;
        } else if (nl == 2 && !memcmp(f, "st", 2)) {
            if (have_st++ || parse_time(eq + 1, vl, &st)) return HG_TOKEN_MALFORMED;
        } else if (nl == 3 && !memcmp(f, "acl", 3)) {
            if (acl) return HG_TOKEN_MALFORMED;
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
    /* '~' separates fields: an ACL holding one could smuggle in a second acl= field. */
    if (!acl || !*acl || strchr(acl, '~') || exp < start) return HG_EINVAL;
    int rc = 0;
    if (start) rc = hg_buf_appendf(out, "st=%lld~", (long long)start);
    if (!rc) rc = hg_buf_appendf(out, "exp=%lld~acl=%s", (long long)exp, acl);
    char mac[65];
    if (!rc && hmac_hex(key, klen, out->data + at, out->len - at, mac)) rc = -1;
    if (!rc) rc = hg_buf_appendf(out, "~hmac=%s", mac);
    if (rc) out->len = at;
    return rc;
}
