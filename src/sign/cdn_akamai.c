/* Akamai EdgeAuth v2 tokens: "exp=N~acl=ACL~hmac=HEX", the hmac being HMAC-SHA256 with the
 * binary (hex-decoded) key over the fields before it, joined by '~'. */
#include <inttypes.h>
#include <stdio.h>

#include <mbedtls/md.h>

#include "cdn.h"

int hg_akamai_token(hg_buf_t *out, const unsigned char *key, size_t klen, int64_t expires,
                    const char *acl, size_t acl_len)
{
    size_t start = out->len;
    int rc = hg_buf_appendf(out, "exp=%" PRId64 "~acl=", expires);
    if (!rc) rc = hg_buf_append(out, acl, acl_len);
    if (rc) return rc;
    unsigned char mac[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (mbedtls_md_hmac(md, key, klen, (const unsigned char *)out->data + start, out->len - start, mac))
        return -1;
    rc = hg_buf_appends(out, "~hmac=");
    if (!rc) rc = hg_buf_reserve(out, 64);
    if (rc) return rc;
    static const char HEX[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out->data[out->len++] = HEX[mac[i] >> 4];
        out->data[out->len++] = HEX[mac[i] & 15];
    }
    return 0;
}
