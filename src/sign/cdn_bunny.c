/* Bunny token authentication (the HMAC-SHA256 "HS256-" tokens). The maintainers' vectors sign
 * path + expires + the sorted "k=v&..." parameter text, keyed with the zone's token key. */
#include <inttypes.h>
#include <stdio.h>

#include <mbedtls/md.h>

#include "../common/base64.h"
#include "cdn.h"

int hg_bunny_token(hg_buf_t *out, const char *key, size_t klen, const char *path, size_t plen,
                   int64_t expires, const char *params, size_t params_len)
{
    char exp[24];
    int n = snprintf(exp, sizeof exp, "%" PRId64, expires);
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    unsigned char mac[32];
    int bad = mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) ||
              mbedtls_md_hmac_starts(&ctx, (const unsigned char *)key, klen) ||
              mbedtls_md_hmac_update(&ctx, (const unsigned char *)path, plen) ||
              mbedtls_md_hmac_update(&ctx, (const unsigned char *)exp, (size_t)n) ||
              mbedtls_md_hmac_update(&ctx, (const unsigned char *)params, params_len) ||
              mbedtls_md_hmac_finish(&ctx, mac);
    mbedtls_md_free(&ctx);
    if (bad) return -1;
    int rc = hg_buf_appends(out, "HS256-");
    if (!rc) rc = hg_b64_encode(out, mac, sizeof mac, HG_B64_URL_NOPAD);
    return rc;
}
