/* Base64 in the three alphabets the CDN signers need (RFC 4648 standard and url-safe, and
 * CloudFront's variant of the standard one), plus a lenient decoder for configured keys. */
#ifndef HG_BASE64_H
#define HG_BASE64_H

#include <stddef.h>

#include "buf.h"

typedef enum {
    HG_B64_STD,        /* A-Z a-z 0-9 + /, '=' padding */
    HG_B64_URL,        /* A-Z a-z 0-9 - _, '=' padding (Google Cloud CDN keeps it) */
    HG_B64_URL_NOPAD,  /* A-Z a-z 0-9 - _, no padding (Bunny) */
    HG_B64_CLOUDFRONT, /* standard, then '+' -> '-', '=' -> '_', '/' -> '~' */
} hg_b64_alphabet_t;

/** Bytes hg_b64_encode appends for n input bytes (with padding). */
size_t hg_b64_encoded_len(size_t n);

/** Append the base64 form of p[0..n) in `alpha` to out. Returns 0 or an hg_buf error (out is then
 *  unchanged). */
int hg_b64_encode(hg_buf_t *out, const void *p, size_t n, hg_b64_alphabet_t alpha);

/** Decode s[0..n) into dst (capacity cap), accepting both the standard and the url-safe
 *  alphabet, with or without '=' padding. Returns the number of bytes written, or -1 on a byte
 *  outside the alphabets, misplaced padding, a dangling single character or too small a dst. */
long hg_b64_decode(unsigned char *dst, size_t cap, const char *s, size_t n);

#endif
