/* sign_bench: steady-state cost of hg_presign, the per-segment work of a playlist rewrite.
 * Usage: sign_bench [iterations]   (build with CMAKE_BUILD_TYPE=Release for meaningful numbers) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign/sigv4.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run(hg_signer_t *s, hg_buf_t *out, long iters, const char *key, const char *q,
                  size_t *sink)
{
    size_t klen = strlen(key), qlen = q ? strlen(q) : 0;
    time_t when = 1700000000;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        hg_buf_reset(out);
        if (hg_presign(s, out, key, klen, q, qlen, when, 3600) != 0) {
            fputs("sign_bench: hg_presign failed\n", stderr);
            exit(1);
        }
        *sink += (unsigned char)out->data[out->len - 1];
    }
    return (now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (iters <= 0) iters = 100000;
    hg_sigv4_config_t cfg = {
        .endpoint = "https://s3.eu-west-1.amazonaws.com",
        .bucket = "media-bucket",
        .region = "eu-west-1",
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    hg_signer_t *s = hg_signer_new(&cfg);
    cfg.session_token = "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQD+example+token==";
    hg_signer_t *st = hg_signer_new(&cfg);
    if (!s || !st) return 1;
    hg_buf_t out;
    hg_buf_init(&out, 0);
    size_t sink = 0;
    const char *key = "shows/ep1/1080p/segment_000123456789.ts"; /* 40 bytes */
    run(s, &out, iters / 10 + 1, key, NULL, &sink); /* warm up: day key, buffer growth */
    printf("path style, 40-byte key:        %8.0f ns/presign\n",
           run(s, &out, iters, key, NULL, &sink));
    printf("  + session token:              %8.0f ns/presign\n",
           run(st, &out, iters, key, NULL, &sink));
    printf("  + extra query (2 params):     %8.0f ns/presign\n",
           run(s, &out, iters, key, "v=2&token=a%2Fb", &sink));
    printf("(%ld iterations each, sink %zu)\n", iters, sink);
    hg_buf_free(&out);
    hg_signer_free(s);
    hg_signer_free(st);
    return 0;
}
