/* Access tokens: EdgeAuth layout, HMAC, expiry, start time, ACL globs, query extraction. */
#include <string.h>

#include "test.h"
#include "token.h"

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
    const char *tgt = "/hls/a.m3u8?x=1&hdnts=exp%3D5~acl%3D%2F*&y=2";
    CHECK(hg_query_param(tgt, strlen(tgt), "hdnts", &v, &raw, &rl) == 1);
    CHECK_MEM(v.data, v.len, "exp=5~acl=/*", 12);
    CHECK_MEM(raw, rl, "exp%3D5~acl%3D%2F*", 18);
    hg_buf_reset(&v);
    CHECK(hg_query_param(tgt, strlen(tgt), "hdnt", &v, &raw, &rl) == 0);
    CHECK(hg_query_param("/a?hdnts=%zz", 12, "hdnts", &v, &raw, &rl) == -1);
    CHECK(hg_query_param("/a", 2, "hdnts", &v, &raw, &rl) == 0);

    char bytes[8];
    CHECK(hg_hex_decode("00ff10", bytes, sizeof bytes) == 3 && (unsigned char)bytes[1] == 0xff);
    CHECK(hg_hex_decode("0g", bytes, sizeof bytes) == -1);
    CHECK(hg_hex_decode("abc", bytes, sizeof bytes) == -1);

    hg_buf_free(&t);
    hg_buf_free(&v);
    TEST_DONE();
}
