/* common/: buf (hard caps), map (seeded hash), pct, query, hex, gz; the generic cache; the
 * playlist response-head builder. Each case is named, so a failure says which. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cache/cache.h"
#include "common/buf.h"
#include "common/gz.h"
#include "common/hex.h"
#include "common/map.h"
#include "common/pct.h"
#include "common/query.h"
#include "hls/head.h"
#include "http/http.h"
#include "test.h"

#define CASE(name) fprintf(stderr, "-- %s\n", name)

static void test_buf(void)
{
    CASE("buf: cap is hard and an append past it changes nothing");
    hg_buf_t b;
    hg_buf_init(&b, 10);
    CHECK(hg_buf_append(&b, "12345", 5) == 0);
    CHECK(hg_buf_append(&b, "678901", 6) == HG_EOVERFLOW);
    CHECK_MEM(b.data, b.len, "12345", 5);
    CHECK(hg_buf_appendf(&b, "%s", "abcde") == 0);
    CHECK(hg_buf_appendc(&b, 'x') == HG_EOVERFLOW);
    CHECK(b.len == 10);
    char *s = hg_buf_steal(&b);
    CHECK(s && !memcmp(s, "12345abcde", 10) && b.len == 0 && b.data == NULL);
    free(s);
    CHECK(hg_buf_reserve(&b, (size_t)-1) == HG_EOVERFLOW);
    hg_buf_free(&b);
}

/* hg_copy_short: every length 0..96 at every source/destination misalignment 0..7, against a
 * byte loop; the bytes around the destination stay untouched. */
static void test_copy_short(void)
{
    unsigned char src[128], dst[160], want[160];
    for (int i = 0; i < 128; i++) src[i] = (unsigned char)(i * 37 + 11);
    int bad = 0;
    for (size_t n = 0; n <= 96; n++)
        for (int so = 0; so < 8; so++)
            for (int dof = 0; dof < 8; dof++) {
                memset(dst, 0xA5, sizeof dst);
                memset(want, 0xA5, sizeof want);
                for (size_t i = 0; i < n; i++) want[16 + dof + i] = src[so + i];
                hg_copy_short(dst + 16 + dof, src + so, n);
                bad += memcmp(dst, want, sizeof dst) != 0;
            }
    CHECK(bad == 0);
}

static void test_map(void)
{
    CASE("map: put/get/del/replace, growth, keyed hash");
    hg_map_t m;
    hg_map_init(&m);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(k, sizeof k, "key%d", i);
        CHECK(hg_map_put(&m, k, (size_t)n, (void *)(long)(i + 1)) == 0);
    }
    CHECK(m.n == 1000);
    CHECK(hg_map_get(&m, "key500", 6) == (void *)501L);
    CHECK(hg_map_put(&m, "key500", 6, (void *)7L) == 0 && m.n == 1000);
    CHECK(hg_map_get(&m, "key500", 6) == (void *)7L);
    CHECK(hg_map_del(&m, "key500", 6) == (void *)7L && !hg_map_get(&m, "key500", 6));
    CHECK(hg_map_get(&m, "nope", 4) == NULL);
    hg_map_free(&m);
    /* Unkeyed FNV-1a of "a" is af63dc4c8601ec8c: the table hash must not be it (hash flooding
     * needs the key to be predictable), and another process must get another value. */
    CHECK(hg_hash_stable("a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(hg_hash("a", 1) != 0xaf63dc4c8601ec8cULL);
    uint64_t mine = hg_hash("same key", 8);
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* A fresh process: exec ourselves to draw a new key. */
        dup2(fd[1], 1);
        execl("/proc/self/exe", "test_common", "--hash", (char *)NULL);
        _exit(2);
    }
    close(fd[1]);
    char out[64] = {0};
    ssize_t n = read(fd[0], out, sizeof out - 1);
    close(fd[0]);
    waitpid(pid, NULL, 0);
    CHECK(n > 0);
    CHECK(strtoull(out, NULL, 16) != mine);
}

static void test_pct(void)
{
    CASE("pct: encode keeps unreserved (and '/'), decode rejects bad escapes");
    hg_buf_t b;
    hg_buf_init(&b, 0);
    CHECK(hg_pct_encode(&b, "a b/c~+", 7, 1) == 0);
    CHECK_MEM(b.data, b.len, "a%20b/c~%2B", 11);
    hg_buf_reset(&b);
    CHECK(hg_pct_encode(&b, "a/b", 3, 0) == 0);
    CHECK_MEM(b.data, b.len, "a%2Fb", 5);
    hg_buf_reset(&b);
    CHECK(hg_pct_decode(&b, "a%2Fb%20+", 9) == 0);
    CHECK_MEM(b.data, b.len, "a/b +", 5);
    hg_buf_reset(&b);
    CHECK(hg_pct_decode(&b, "a%2", 3) == HG_EINVAL && b.len == 0);
    CHECK(hg_pct_decode(&b, "%zz", 3) == HG_EINVAL);
    hg_buf_free(&b);
}

static void test_query(void)
{
    CASE("query: split, iterate, find, case-insensitive names");
    const char *q;
    size_t ql;
    CHECK(hg_target_split("/a/b?x=1&y", 10, &q, &ql) == 4 && ql == 5 && !memcmp(q, "x=1&y", 5));
    CHECK(hg_target_split("/a", 2, &q, &ql) == 2 && q == NULL && ql == 0);
    CHECK(hg_target_is("/metrics?x", 10, "/metrics") && !hg_target_is("/metricsx", 9, "/metrics"));
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl;
    int count = 0;
    hg_query_iter(&it, "a=1&&b&c=", 9);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        count++;
        if (count == 1) CHECK(nl == 1 && *n == 'a' && vl == 1 && *v == '1');
        if (count == 2) CHECK(nl == 1 && *n == 'b' && v == NULL);
        if (count == 3) CHECK(nl == 1 && *n == 'c' && v && vl == 0);
    }
    CHECK(count == 3);
    hg_buf_t b;
    hg_buf_init(&b, 0);
    const char *raw;
    size_t rl;
    CHECK(hg_query_find("x=1&t=a%20b&t=2", 15, "t", &b, &raw, &rl) == 1);
    CHECK_MEM(b.data, b.len, "a b", 3);
    CHECK(hg_query_find("x=1", 3, "t", &b, &raw, &rl) == 0);
    CHECK(hg_query_find("t=%zz", 5, "t", &b, &raw, &rl) == HG_EINVAL);
    CHECK(hg_name_eq_ci("X-Amz-Date", 10, "x-amz-date") && !hg_name_eq_ci("X-Amz", 5, "x-amz-date"));
    hg_buf_free(&b);
}

static void test_hex(void)
{
    CASE("hex: decode and encode");
    char out[4];
    CHECK(hg_hex_decode("00ff10", out, sizeof out) == 3 && (unsigned char)out[1] == 0xff);
    CHECK(hg_hex_decode("0g", out, sizeof out) == HG_EINVAL);
    CHECK(hg_hex_decode("abc", out, sizeof out) == HG_EINVAL);
    CHECK(hg_hex_decode("0011223344", out, sizeof out) == HG_EOVERFLOW);
    char h[7];
    hg_hex_encode(h, (const unsigned char *)"\x00\xab\x10", 3);
    CHECK_MEM(h, 6, "00ab10", 6);
}

static void test_gz(void)
{
    CASE("gz: one-shot and streamed outputs decode to the input");
    char in[5000];
    for (size_t i = 0; i < sizeof in; i++) in[i] = (char)('a' + i % 7);
    hg_buf_t z;
    hg_buf_init(&z, 0);
    CHECK(hg_gzip(&z, in, sizeof in) == 0 && z.len > 18 && z.len < sizeof in);
    unsigned char back[6000];
    z_stream s;
    memset(&s, 0, sizeof s);
    CHECK(inflateInit2(&s, 16 + MAX_WBITS) == Z_OK);
    s.next_in = (unsigned char *)z.data;
    s.avail_in = (unsigned)z.len;
    s.next_out = back;
    s.avail_out = sizeof back;
    CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END && s.total_out == sizeof in && !memcmp(back, in, sizeof in));
    inflateEnd(&s);
    hg_buf_reset(&z);
    hg_gz_stream_t *st = hg_gz_stream_new();
    CHECK(st != NULL);
    CHECK(hg_gz_stream_write(st, in, 2000, 0, &z) == 0);
    CHECK(hg_gz_stream_write(st, in + 2000, 3000, 1, &z) == 0);
    hg_gz_stream_free(st);
    memset(&s, 0, sizeof s);
    CHECK(inflateInit2(&s, 16 + MAX_WBITS) == Z_OK);
    s.next_in = (unsigned char *)z.data;
    s.avail_in = (unsigned)z.len;
    s.next_out = back;
    s.avail_out = sizeof back;
    CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END && s.total_out == sizeof in && !memcmp(back, in, sizeof in));
    inflateEnd(&s);
    hg_buf_free(&z);
}

static int freed;
static void count_free(void *p)
{
    freed++;
    free(p);
}
static int fresh_even(const void *p, void *arg)
{
    (void)arg;
    return *(const int *)p % 2 == 0;
}

static void test_cache(void)
{
    CASE("cache: LRU eviction, monotonic counters, take, resize, clear keeps counters");
    hg_cache_t c;
    hg_cache_init(&c, 4000, count_free);
    int *v[10];
    char k[8];
    for (int i = 0; i < 10; i++) {
        v[i] = malloc(sizeof(int));
        *v[i] = i;
        snprintf(k, sizeof k, "k%d", i);
        CHECK(hg_cache_put(&c, k, 2, v[i], 800) == 0);
    }
    CHECK(c.bytes <= 4000 && hg_cache_entries(&c) < 10 && c.evictions > 0);
    CHECK(hg_cache_get(&c, "k9", 2) == v[9]);
    CHECK(hg_cache_get(&c, "k0", 2) == NULL);
    void *stale;
    CHECK(hg_cache_lookup(&c, "k8", 2, fresh_even, NULL, &stale) == v[8] && c.hits == 1);
    CHECK(hg_cache_lookup(&c, "k9", 2, fresh_even, NULL, &stale) == NULL && stale == v[9] && c.misses == 1);
    CHECK(hg_cache_lookup(&c, "zz", 2, NULL, NULL, &stale) == NULL && stale == NULL && c.misses == 2);
    int *t = hg_cache_take(&c, "k9", 2);
    CHECK(t == v[9] && hg_cache_get(&c, "k9", 2) == NULL);
    free(t);
    int *big = malloc(sizeof(int));
    *big = 42;
    CHECK(hg_cache_put(&c, "big", 3, big, 1500) == HG_EOVERFLOW); /* over a quarter */
    free(big);
    /* Growing one entry evicts others, never itself. */
    CHECK(hg_cache_resize(&c, "k8", 2, 3000) == 0 && hg_cache_get(&c, "k8", 2) == v[8]);
    CHECK(c.bytes <= 4000);
    CHECK(hg_cache_resize(&c, "k8", 2, 5000) == HG_EOVERFLOW);
    unsigned long h = c.hits, m = c.misses, e = c.evictions;
    int before = freed;
    hg_cache_clear(&c);
    CHECK(hg_cache_entries(&c) == 0 && c.bytes == 0 && freed > before);
    CHECK(c.hits == h && c.misses == m && c.evictions == e);
    hg_cache_free(&c);
}

static void test_head(void)
{
    CASE("head: every playlist head, and the worst case fits the write buffer");
    char b[HG_PL_HEAD_MAX];
    hg_pl_head_t h = {200, 300, "\"0123456789abcdef\"", 0, 0, 1234};
    size_t n = hg_pl_head(b, sizeof b, &h);
    CHECK(n > 0);
    CHECK(strstr(b, "Content-Type: application/vnd.apple.mpegurl\r\n") && strstr(b, "Content-Length: 1234\r\n") &&
          strstr(b, "ETag: \"0123456789abcdef\"\r\n") && strstr(b, "Vary: Accept-Encoding\r\n") &&
          !strstr(b, "Content-Encoding") && !memcmp(b + n - 4, "\r\n\r\n", 4));
    hg_pl_head_t g = {200, 2, "\"0123456789abcdef\"", 1, 1, -1};
    n = hg_pl_head(b, sizeof b, &g);
    CHECK(n > 0 && strstr(b, "ETag: \"0123456789abcdef-gz\"\r\n") && strstr(b, "Content-Encoding: gzip\r\n") &&
          strstr(b, "Transfer-Encoding: chunked\r\n") && !strstr(b, "Content-Length"));
    hg_pl_head_t nm = {304, 60, "\"x\"", 1, 0, 5};
    n = hg_pl_head(b, sizeof b, &nm);
    CHECK(n > 0 && strstr(b, "ETag: \"x-gz\"") && !strstr(b, "Content-Length") && !strstr(b, "Content-Type"));
    hg_pl_head_t none = {200, 1, NULL, 0, 0, 0};
    n = hg_pl_head(b, sizeof b, &none);
    CHECK(n > 0 && !strstr(b, "ETag"));
    /* Worst case: 47-byte ETag, gzip, chunked, the longest max-age; plus the longest prefix. */
    hg_pl_head_t worst = {200, 2147483647L, "\"0123456789012345678901234567890123456789012\"", 1, 1, -1};
    size_t wn = hg_pl_head(b, sizeof b, &worst);
    CHECK(wn > 0);
    size_t prefix = strlen("HTTP/1.1 200 OK\r\nDate: Wed, 30 Sep 2026 23:59:59 GMT\r\nServer: hlsgate\r\n"
                           "Access-Control-Allow-Origin: *\r\nConnection: close\r\n");
    CHECK(prefix + wn + 64 < HG_WRITE_HEAD_MAX);
    CHECK(hg_pl_head(b, 40, &h) == 0); /* too small: 0, never a truncated head */
    CHECK(hg_etag_matches("W/\"a\", \"b\"", 10, "\"b\"") && hg_etag_matches("*", 1, "\"z\"") &&
          !hg_etag_matches("\"a\"", 3, "\"b\"") && !hg_etag_matches("", 0, "\"b\""));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--hash")) {
        printf("%llx\n", (unsigned long long)hg_hash("same key", 8));
        return 0;
    }
    test_buf();
    test_copy_short();
    test_map();
    test_pct();
    test_query();
    test_hex();
    test_gz();
    test_cache();
    test_head();
    TEST_DONE();
}
