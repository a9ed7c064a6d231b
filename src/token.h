/* Access tokens in the widely deployed EdgeAuth layout, so existing token generators work:
 *
 *     [st=START~]exp=END~acl=PATTERN[!PATTERN...][~id=..][~data=..]~hmac=HEX
 *
 * hmac is HMAC-SHA256, keyed with the hex-decoded TOKEN_SECRET, over every byte of the token
 * before "~hmac=". An ACL pattern matches the request path, where '*' matches any run of
 * characters (including '/'). Verification runs in constant time over the MAC. */
#ifndef HG_TOKEN_H
#define HG_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"

typedef enum {
    HG_TOKEN_OK = 0,
    HG_TOKEN_MISSING,
    HG_TOKEN_MALFORMED,
    HG_TOKEN_EXPIRED,
    HG_TOKEN_NOT_YET_VALID,
    HG_TOKEN_BAD_HMAC,
    HG_TOKEN_ACL,
} hg_token_result_t;

/** Check token[0..tlen) for request path[0..plen) at time now. */
hg_token_result_t hg_token_verify(const char *key, size_t klen, const char *token, size_t tlen,
                                  const char *path, size_t plen, time_t now);
/** Short text for a result, for 403 bodies and logs. */
const char *hg_token_reason(hg_token_result_t r);
/** Append a token for the ACL pattern list `acl`, valid from start (0: no st field) until
 *  exp. Returns 0, HG_EINVAL when acl is empty or holds '~' (a field separator) or exp < start,
 *  or an hg_buf error. */
int hg_token_mint(hg_buf_t *out, const char *key, size_t klen, const char *acl, time_t start,
                  time_t exp);
#endif
