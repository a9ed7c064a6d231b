/* Percent-encoding helpers shared by the signer, the URI resolver and the router. */
#ifndef HG_PCT_H
#define HG_PCT_H

#include <stddef.h>

#include "buf.h"

/** Append p[0..n) to out, percent-encoding every byte except RFC 3986 unreserved characters
 *  (A-Z a-z 0-9 - . _ ~) and, when keep_slash is set, '/'. Upper-case hex, as SigV4 requires. */
int hg_pct_encode(hg_buf_t *out, const char *p, size_t n, int keep_slash);

/** Append the percent-decoded form of p[0..n) to out. '+' is kept as '+'. A '%' that is not
 *  followed by two hex digits is an error. Returns 0, HG_EINVAL on a bad escape (out unchanged),
 *  or an hg_buf error. */
int hg_pct_decode(hg_buf_t *out, const char *p, size_t n);

#endif
