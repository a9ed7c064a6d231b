/* Access tokens: EdgeAuth layout, HMAC, expiry, start time, ACL globs, query extraction. */
#include <string.h>

#include "test.h"
#include "token.h"
#include "common/hex.h"
#include "common/query.h"
#include <mbedtls/md.h>

static const char KEY[] = "0123456789abcdef";

static hg_token_result_t check(const char *tok, const char *path, time_t now)
{
    return hg_token_verify(KEY, 16, tok, strlen(tok), path, strlen(path), now);
}

int main(void)
{
    hg_buf_t t;
    hg_buf_init(&t, 0);
    CHECK(hg_token_mint(&t, KEY, 16, "/hls/show1/*!/hls-seg/show1/*", 0, 2000) == 0);
    CHECK(hg_buf_appendc(&t, 0) == 0);
    CHECK(strncmp(t.data, "exp=2000~acl=/hls/show1/*!/hls-seg/show1/*~hmac=", 48) == 0);
    CHECK(strlen(t.data) == 48 + 64);
    CHECK(check(t.data, "/hls/show1/master.m3u8", 1000) == HG_TOKEN_OK);
    CHECK(check(t.data, "/hls/show1/v0/index.m3u8", 2000) == HG_TOKEN_OK);
    CHECK(check(t.data, "/hls-seg/show1/v0/a.ts", 1000) == HG_TOKEN_OK);
    CHECK(check(t.data, "/hls/show2/master.m3u8", 1000) == HG_TOKEN_ACL);
    CHECK(check(t.data, "/hls/show1", 1000) == HG_TOKEN_ACL);
    CHECK(check(t.data, "/hls/show1/master.m3u8", 2001) == HG_TOKEN_EXPIRED);

    /* any change to a signed field, or to the MAC, is a forgery */
    char forged[256];
    snprintf(forged, sizeof forged, "%s", t.data);
    forged[4] = '3'; /* exp=3000 */
    CHECK(check(forged, "/hls/show1/master.m3u8", 1000) == HG_TOKEN_BAD_HMAC);
    snprintf(forged, sizeof forged, "%s", t.data);
    forged[strlen(forged) - 1] ^= 1;
    CHECK(check(forged, "/hls/show1/master.m3u8", 1000) == HG_TOKEN_BAD_HMAC);
    /* upper-case hex MACs are accepted (some generators emit them) */
    snprintf(forged, sizeof forged, "%s", t.data);
    for (char *p = strstr(forged, "~hmac=") + 6; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    CHECK(check(forged, "/hls/show1/master.m3u8", 1000) == HG_TOKEN_OK);
    /* a different key */
    CHECK(hg_token_verify("another key 1234", 16, t.data, strlen(t.data), "/hls/show1/a", 12, 1000) == HG_TOKEN_BAD_HMAC);

    /* start time */
    hg_buf_reset(&t);
    CHECK(hg_token_mint(&t, KEY, 16, "/hls/*", 1500, 2000) == 0);
    hg_buf_appendc(&t, 0);
    CHECK(strncmp(t.data, "st=1500~exp=2000~acl=/hls/*~hmac=", 33) == 0);
    CHECK(check(t.data, "/hls/x.m3u8", 1400) == HG_TOKEN_NOT_YET_VALID);
    CHECK(check(t.data, "/hls/x.m3u8", 1600) == HG_TOKEN_OK);

    /* malformed */
    CHECK(check("", "/hls/x", 1) == HG_TOKEN_MISSING);
    CHECK(check("exp=5~acl=/*", "/hls/x", 1) == HG_TOKEN_MALFORMED);
    CHECK(check("exp=5~acl=/*~hmac=abc", "/hls/x", 1) == HG_TOKEN_MALFORMED);
    CHECK(check("acl=/*~hmac=0000000000000000000000000000000000000000000000000000000000000000", "/x", 1) == HG_TOKEN_MALFORMED);
    CHECK(check("exp=x~acl=/*~hmac=0000000000000000000000000000000000000000000000000000000000000000", "/x", 1) == HG_TOKEN_MALFORMED);
    CHECK(check("exp=5~noequals~hmac=0000000000000000000000000000000000000000000000000000000000000000", "/x", 1) == HG_TOKEN_MALFORMED);

    /* glob: many stars on a long path stay fast and correct */
    hg_buf_reset(&t);
    CHECK(hg_token_mint(&t, KEY, 16, "/*a*a*a*a*a*a*a*a*b", 0, 9) == 0);
    hg_buf_appendc(&t, 0);
    char path[4096];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    CHECK(check(t.data, path, 1) == HG_TOKEN_ACL);
    path[sizeof path - 2] = 'b';
    CHECK(check(t.data, path, 1) == HG_TOKEN_OK);

    /* query extraction */
    hg_buf_t v;
    hg_buf_init(&v, 0);
    const char *raw;
    size_t rl;
    const char *tgt = "x=1&hdnts=exp%3D5~acl%3D%2F*&y=2";
    CHECK(hg_query_find(tgt, strlen(tgt), "hdnts", &v, &raw, &rl) == 1);
    CHECK_MEM(v.data, v.len, "exp=5~acl=/*", 12);
    CHECK_MEM(raw, rl, "exp%3D5~acl%3D%2F*", 18);

    /* Issue 10.4: a token with any field twice is refused, whichever copy would be believed. */
    {
        const char *key = "0123456789abcdef";
        hg_buf_t m;
        hg_buf_init(&m, 0);
        CHECK(hg_token_mint(&m, key, 16, "/hls/nothing/*~acl=/*", 0, 2000000000) == HG_EINVAL);
        CHECK(m.len == 0);
        CHECK(hg_token_mint(&m, key, 16, "", 0, 2000000000) == HG_EINVAL);
        /* Forge what a naive issuer would produce, with a valid MAC over all of it. */
        const char *fields[] = {"exp=2000000000~acl=/hls/nothing/*~acl=/*", "exp=2000000000~exp=1~acl=/*",
                                "st=1~st=2~exp=2000000000~acl=/*", "exp=2000000000~acl=/*~id=a~id=b"};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            unsigned char mac[32];
            char hex[65], tok[256];
            mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)key, 16,
                            (const unsigned char *)fields[i], strlen(fields[i]), mac);
            hg_hex_encode(hex, mac, 32);
            hex[64] = 0;
            snprintf(tok, sizeof tok, "%s~hmac=%s", fields[i], hex);
            CHECK(hg_token_verify(key, 16, tok, strlen(tok), "/hls/x/a.m3u8", 13, 1000) == HG_TOKEN_MALFORMED);
        }
        /* The same token without the repeat is accepted (the check above can fail). */
        CHECK(hg_token_mint(&m, key, 16, "/*", 0, 2000000000) == 0);
        CHECK(hg_token_verify(key, 16, m.data, m.len, "/hls/x/a.m3u8", 13, 1000) == HG_TOKEN_OK);
        hg_buf_free(&m);
    }

    hg_buf_free(&t);
    hg_buf_free(&v);
    TEST_DONE();
}
