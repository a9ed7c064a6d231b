/* sign_bench: cost of one presigned URL, the per-segment work of a cold playlist rewrite, for
 * every SHA-256 implementation side by side in one run.
 *
 * Usage: sign_bench [iterations] [runs]     (defaults 50000 and 5; build Release/RelWithDebInfo)
 *        sign_bench --profile N [immediate]  only N deferred (or hg_presign) URLs with the
 *                                            selected implementation, for callgrind / perf
 *
 * Each run measures every implementation in turn (round robin, so a noisy neighbour hits all of
 * them alike) on a playlist-like stream of distinct 40-byte segment keys; the table shows the
 * median over the runs, in ns per URL:
 *   presign   hg_presign, one URL at a time (one SHA-256 message in flight)
 *   deferred  hg_presign_defer + hg_presign_flush every 64 URLs into one growing buffer, as the
 *             rewriter does per feed (reset every 1,800 URLs: one playlist)
 *   hash      the same SHA-256 blocks alone (6 + 2 + 1 per URL here), single / multi-lane
 *   other     presign - hash(single) and deferred - hash(lanes): the signer's non-hashing work
 * Below the table, for the implementation hg_sha256_select picks (HG_SHA256 or CPUID), deferred:
 * plain, with a session token, with an extra query (the lines bench/run reads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign/sha256.h"
#include "sign/sigv4.h"

#define NKEYS 1800
#define FEED 64
#define MAXRUNS 31
#define MAXIMPL 8

static char keys[NKEYS][48];
static size_t klen[NKEYS];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "sign_bench: %s failed\n", what);
    exit(1);
}

static double run_presign(hg_signer_t *s, hg_buf_t *out, long iters, const char *q, size_t *sink)
{
    size_t qlen = q ? strlen(q) : 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        int k = (int)(i % NKEYS);
        hg_buf_reset(out);
        if (hg_presign(s, out, keys[k], klen[k], q, qlen, 1700000000, 3600) != 0) die("presign");
        *sink += (unsigned char)out->data[out->len - 1];
    }
    return (now_ns() - t0) / (double)iters;
}

static double run_deferred(hg_signer_t *s, hg_buf_t *out, long iters, const char *q,
                           size_t *sink)
{
    size_t qlen = q ? strlen(q) : 0;
    double t0 = now_ns();
    hg_buf_reset(out);
    for (long i = 0; i < iters; i++) {
        int k = (int)(i % NKEYS);
        if (k == 0) hg_buf_reset(out);
        if (hg_buf_appends(out, "#EXTINF:4.000,\n") ||
            hg_presign_defer(s, out, keys[k], klen[k], q, qlen, 1700000000, 3600) ||
            hg_buf_appendc(out, '\n'))
            die("defer");
        if ((k + 1) % FEED == 0 || k == NKEYS - 1) {
            if (hg_presign_flush(s, out)) die("flush");
            *sink += (unsigned char)out->data[out->len - 2];
        }
    }
    if (hg_presign_flush(s, out)) die("flush");
    return (now_ns() - t0) / (double)iters;
}

/* The hashing alone: per URL a 6-block, a 2-block and a 1-block message, each stage over a batch
 * of 16 URLs (the deferred case) or one URL (lanes == 1). */
static double run_hash(long iters, int batch)
{
    static unsigned char msg[16][9 * 64];
    uint32_t st[16][8];
    hg_sha256_job_t j[16];
    static const size_t stage_blocks[3] = {6, 2, 1}, stage_off[3] = {0, 6 * 64, 8 * 64};
    memset(msg, 0x5a, sizeof msg);
    long groups = iters / batch;
    double t0 = now_ns();
    for (long g = 0; g < groups; g++)
        for (int stage = 0; stage < 3; stage++) {
            for (int i = 0; i < batch; i++) {
                memcpy(st[i], hg_sha256_iv, sizeof st[i]);
                j[i] = (hg_sha256_job_t){st[i], msg[i] + stage_off[stage], stage_blocks[stage]};
            }
            hg_sha256_many(j, (size_t)batch);
            msg[g % batch][0] = (unsigned char)st[0][0]; /* keep the result alive */
        }
    return (now_ns() - t0) / (double)(groups * batch);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int profile = argc > 2 && strcmp(argv[1], "--profile") == 0;
    if (profile) argv++, argc--;
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 50000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (iters <= 0) iters = 50000;
    if (runs <= 0 || runs > MAXRUNS) runs = 5;
    for (int i = 0; i < NKEYS; i++)
        klen[i] = (size_t)snprintf(keys[i], sizeof keys[i], "shows/ep1/1080p/segment_%015d.ts", i);
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

    hg_sha256_select();
    if (profile) {
        if (argc > 2)
            run_presign(s, &out, iters, NULL, &sink);
        else
            run_deferred(s, &out, iters, NULL, &sink);
        printf("%s: %ld URLs (sink %zu)\n", hg_sha256_impl(), iters, sink);
        hg_buf_free(&out);
        hg_signer_free(s);
        hg_signer_free(st);
        return 0;
    }
    const char *selected = hg_sha256_impl();
    const char *names[MAXIMPL];
    int nimpl = 0;
    for (size_t i = 0; hg_sha256_impl_name(i) && nimpl < MAXIMPL; i++)
        if (hg_sha256_force(hg_sha256_impl_name(i)) == 0) names[nimpl++] = hg_sha256_impl_name(i);

    double pre[MAXIMPL][MAXRUNS], def[MAXIMPL][MAXRUNS], h1[MAXIMPL][MAXRUNS], hl[MAXIMPL][MAXRUNS];
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < nimpl; i++) {
            hg_sha256_force(names[i]);
            run_presign(s, &out, iters / 20 + 1, NULL, &sink); /* warm up */
            pre[i][r] = run_presign(s, &out, iters, NULL, &sink);
            def[i][r] = run_deferred(s, &out, iters, NULL, &sink);
            h1[i][r] = run_hash(iters, 1);
            hl[i][r] = run_hash(iters, 16);
        }
    printf("ns per presigned URL, median of %d runs x %ld URLs (40-byte keys, path style)\n", runs,
           iters);
    printf("%-10s %5s %9s %9s %11s %11s %9s %9s\n", "impl", "lanes", "presign", "deferred",
           "hash(1)", "hash(lanes)", "other(1)", "other(N)");
    for (int i = 0; i < nimpl; i++) {
        hg_sha256_force(names[i]);
        double p = median(pre[i], runs), d = median(def[i], runs), a = median(h1[i], runs),
               b = median(hl[i], runs);
        printf("%-10s %5d %9.0f %9.0f %11.0f %11.0f %9.0f %9.0f\n", names[i], hg_sha256_lanes(), p,
               d, a, b, p - a, d - b);
    }
    /* The lines bench/run reads: the selected implementation, the way the rewriter signs. */
    hg_sha256_force(selected);
    double path[MAXRUNS], tok[MAXRUNS], q[MAXRUNS];
    for (int r = 0; r < runs; r++) {
        path[r] = run_deferred(s, &out, iters, NULL, &sink);
        tok[r] = run_deferred(st, &out, iters, NULL, &sink);
        q[r] = run_deferred(s, &out, iters, "v=2&token=a%2Fb", &sink);
    }
    printf("selected implementation %s, deferred (median of %d runs):\n", selected, runs);
    printf("path style, 40-byte key:        %8.0f ns/presign\n", median(path, runs));
    printf("  + session token:              %8.0f ns/presign\n", median(tok, runs));
    printf("  + extra query (2 params):     %8.0f ns/presign\n", median(q, runs));
    printf("(sink %zu)\n", sink);
    hg_buf_free(&out);
    hg_signer_free(s);
    hg_signer_free(st);
    return 0;
}
