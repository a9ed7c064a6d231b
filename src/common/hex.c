#include "hex.h"

#include <string.h>

#include "err.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long hg_hex_decode(const char *hex, char *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2) return HG_EINVAL;
    if (n / 2 > cap) return HG_EOVERFLOW;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0) return HG_EINVAL;
        out[i / 2] = (char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

void hg_hex_encode(char *dst, const unsigned char *src, size_t n)
{
    static const char H[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = H[src[i] >> 4];
        dst[2 * i + 1] = H[src[i] & 15];
    }
}
