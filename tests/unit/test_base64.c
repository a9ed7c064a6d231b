/* Base64 in the standard, url-safe and CloudFront alphabets: RFC 4648 section 10 vectors,
 * alphabet mapping, and a decode round trip over every length and byte. */
#include <stdlib.h>

#include "common/base64.h"
#include "test.h"

static void enc(hg_b64_alphabet_t a, const char *in, size_t n, const char *want)
{
    hg_buf_t b;
    hg_buf_init(&b, 0);
    CHECK(hg_b64_encode(&b, in, n, a) == 0);
    CHECK_MEM(b.data ? b.data : "", b.len, want, strlen(want));
    hg_buf_free(&b);
}

int main(void)
{
    /* RFC 4648 section 10 */
    const char *rfc[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},     {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        enc(HG_B64_STD, rfc[i][0], strlen(rfc[i][0]), rfc[i][1]);
        CHECK(hg_b64_encoded_len(strlen(rfc[i][0])) == strlen(rfc[i][1]));
    }
    /* 0xfb 0xff 0xbf: "+/+/" in standard, "-_-_" url-safe, "-~-~" CloudFront */
    const char hi[] = "\xfb\xff\xbf\xfb\xff\xbf";
    enc(HG_B64_STD, hi, 6, "+/+/+/+/");
    enc(HG_B64_URL, hi, 6, "-_-_-_-_");
    enc(HG_B64_CLOUDFRONT, hi, 6, "-~-~-~-~");
    enc(HG_B64_STD, "\xfb", 1, "+w==");
    enc(HG_B64_URL, "\xfb", 1, "-w==");
    enc(HG_B64_URL_NOPAD, "\xfb", 1, "-w");
    enc(HG_B64_CLOUDFRONT, "\xfb", 1, "-w__");
    enc(HG_B64_CLOUDFRONT, "\xfb\xff", 2, "-~8_");

    /* decode: both alphabets, with and without padding; errors */
    unsigned char d[64];
    CHECK(hg_b64_decode(d, sizeof d, "Zm9vYmE=", 8) == 5 && !memcmp(d, "fooba", 5));
    CHECK(hg_b64_decode(d, sizeof d, "Zm9vYmE", 7) == 5 && !memcmp(d, "fooba", 5));
    CHECK(hg_b64_decode(d, sizeof d, "-_-_", 4) == 3 && !memcmp(d, hi, 3));
    CHECK(hg_b64_decode(d, sizeof d, "+/+/", 4) == 3 && !memcmp(d, hi, 3));
    CHECK(hg_b64_decode(d, sizeof d, "nZtRohdNF9m3cKM24IcK4w==", 24) == 16);
    CHECK(hg_b64_decode(d, sizeof d, "Zm9v!", 5) == -1);
    CHECK(hg_b64_decode(d, sizeof d, "Z", 1) == -1);
    CHECK(hg_b64_decode(d, sizeof d, "Zm=9", 4) == -1);
    CHECK(hg_b64_decode(d, sizeof d, "Zm9vY===", 8) == -1);
    CHECK(hg_b64_decode(d, sizeof d, "Zh==", 4) == -1); /* non-zero trailing bits */
    CHECK(hg_b64_decode(d, 2, "Zm9v", 4) == -1);         /* dst too small */

    /* round trip over random input of every length up to 48, each alphabet but CloudFront */
    srand(7);
    for (size_t n = 0; n <= 48; n++) {
        unsigned char in[48];
        for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(rand() & 255);
        for (int a = HG_B64_STD; a <= HG_B64_URL_NOPAD; a++) {
            hg_buf_t b;
            hg_buf_init(&b, 0);
            CHECK(hg_b64_encode(&b, in, n, (hg_b64_alphabet_t)a) == 0);
            long got = hg_b64_decode(d, sizeof d, b.data ? b.data : "", b.len);
            CHECK(got == (long)n && !memcmp(d, in, n));
            hg_buf_free(&b);
        }
    }
    TEST_DONE();
}
