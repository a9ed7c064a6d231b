/* Hexadecimal text <-> bytes. */
#ifndef HG_HEX_H
#define HG_HEX_H

#include <stddef.h>

/** Decode the NUL-terminated hex text into out (at most cap bytes). Returns the byte count, or
 *  HG_EINVAL for an odd length or a non-hex digit, HG_EOVERFLOW when it does not fit. */
long hg_hex_decode(const char *hex, char *out, size_t cap);
/** Write 2*n lower-case hex digits of src[0..n) to dst (no NUL). */
void hg_hex_encode(char *dst, const unsigned char *src, size_t n);

#endif
