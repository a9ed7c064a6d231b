#include "base64.h"

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char CF[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~";

size_t hg_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

int hg_b64_encode(hg_buf_t *out, const void *p, size_t n, hg_b64_alphabet_t alpha)
{
    const unsigned char *s = p;
    const char *tab = alpha == HG_B64_STD ? STD : alpha == HG_B64_CLOUDFRONT ? CF : URL;
    char pad = alpha == HG_B64_CLOUDFRONT ? '_' : '=';
    int pads = alpha != HG_B64_URL_NOPAD;
    if (n == 0) return 0;
    int rc = hg_buf_reserve(out, hg_b64_encoded_len(n));
    if (rc) return rc;
    char *d = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *d++ = tab[v >> 18];
        *d++ = tab[v >> 12 & 63];
        *d++ = tab[v >> 6 & 63];
        *d++ = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        *d++ = tab[v >> 18];
        *d++ = tab[v >> 12 & 63];
        if (pads) {
            *d++ = pad;
            *d++ = pad;
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        *d++ = tab[v >> 18];
        *d++ = tab[v >> 12 & 63];
        *d++ = tab[v >> 6 & 63];
        if (pads) *d++ = pad;
    }
    out->len = (size_t)(d - out->data);
    return 0;
}

static int val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long hg_b64_decode(unsigned char *dst, size_t cap, const char *s, size_t n)
{
    /* Padding only at the end, at most two, and only to complete a group of four. */
    size_t end = n;
    while (end && s[end - 1] == '=') end--;
    if (n - end > 2 || (n != end && n % 4)) return -1;
    if (end % 4 == 1) return -1;
    size_t out = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < end; i++) {
        int v = val((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out >= cap) return -1;
            dst[out++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1))) return -1;
    return (long)out;
}
