#include "pct.h"

static const char HEX[] = "0123456789ABCDEF";

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hg_pct_encode(hg_buf_t *out, const char *p, size_t n, int keep_slash)
{
    if (n == 0) return 0; /* out->data may still be NULL: no pointer arithmetic on it */
    /* Worst case triples the size: reserve once so the loop never reallocates. */
    int rc = hg_buf_reserve(out, n * 3);
    if (rc) return rc;
    char *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = HEX[c >> 4];
            *d++ = HEX[c & 15];
        }
    }
    out->len = (size_t)(d - out->data);
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; /* not a hex digit */
}

int hg_pct_decode(hg_buf_t *out, const char *p, size_t n)
{
    if (n == 0) return 0;
    int rc = hg_buf_reserve(out, n);
    if (rc) return rc;
    size_t start = out->len;
    char *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            *d++ = p[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)p[i + 1]) : -1;
        int lo = i + 2 < n ? hexval((unsigned char)p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            out->len = start;
            return HG_EINVAL;
        }
        *d++ = (char)(hi << 4 | lo);
        i += 2;
    }
    out->len = (size_t)(d - out->data);
    return 0;
}
