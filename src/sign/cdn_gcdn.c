/* Google Cloud CDN signed URLs: HMAC-SHA1 with the 16-byte key, padded base64url throughout. */
#include <inttypes.h>
#include <string.h>

#include <mbedtls/md.h>

#include "../common/base64.h"
#include "cdn.h"

/* Sign out[start..len) and append "&Signature=..." */
static int sign_tail(hg_buf_t *out, size_t start, const unsigned char key[16])
{
    unsigned char mac[20];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    if (mbedtls_md_hmac(md, key, 16, (const unsigned char *)out->data + start, out->len - start, mac))
        return -1;
    int rc = hg_buf_appends(out, "&Signature=");
    if (!rc) rc = hg_b64_encode(out, mac, sizeof mac, HG_B64_URL);
    return rc;
}

int hg_gcdn_prefix(hg_buf_t *out, const unsigned char key[16], const char *key_name,
                   const char *prefix, size_t plen, int64_t expires)
{
    size_t start = out->len;
    int rc = hg_buf_appends(out, "URLPrefix=");
    if (!rc) rc = hg_b64_encode(out, prefix, plen, HG_B64_URL);
    if (!rc) rc = hg_buf_appendf(out, "&Expires=%" PRId64 "&KeyName=%s", expires, key_name);
    if (!rc) rc = sign_tail(out, start, key);
    return rc;
}

int hg_gcdn_url(hg_buf_t *out, const unsigned char key[16], const char *key_name, const char *url,
                size_t len, int64_t expires)
{
    /* The signed text is the whole URL with its parameters; only the parameters are appended. */
    hg_buf_t t;
    hg_buf_init(&t, 0);
    int rc = hg_buf_append(&t, url, len);
    if (!rc) rc = hg_buf_appendc(&t, memchr(url, '?', len) ? '&' : '?');
    size_t params = t.len;
    if (!rc) rc = hg_buf_appendf(&t, "Expires=%" PRId64 "&KeyName=%s", expires, key_name);
    if (!rc) rc = sign_tail(&t, 0, key);
    if (!rc) rc = hg_buf_append(out, t.data + params, t.len - params);
    hg_buf_free(&t);
    return rc;
}
