/* Tables for hg_uri_resolve, hg_key_check and hg_key_is_playlist. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hls/uri.h"
#include "test.h"

#define R HG_URI_RESOLVED
#define K HG_URI_KEEP
#define E HG_URI_ESCAPES
#define I HG_URI_INVALID

typedef struct {
    const char *base;
    const char *uri;
    size_t uri_len; /* 0: strlen(uri); set for URIs holding a NUL byte */
    int want;
    const char *key;      /* on R */
    const char *query;    /* on R: NULL means no query */
    const char *fragment; /* on R: NULL means no fragment */
} resolve_case_t;

static const resolve_case_t RESOLVE[] = {
    /* relative paths */
    {"shows/ep1", "seg1.ts", 0, R, "shows/ep1/seg1.ts", NULL, NULL},
    {"shows/ep1", "hd/seg1.ts", 0, R, "shows/ep1/hd/seg1.ts", NULL, NULL},
    {"", "seg1.ts", 0, R, "seg1.ts", NULL, NULL},
    {"", "a/b/c.ts", 0, R, "a/b/c.ts", NULL, NULL},
    {"shows/ep1", "./seg.ts", 0, R, "shows/ep1/seg.ts", NULL, NULL},
    {"shows/ep1", "a/./b/./seg.ts", 0, R, "shows/ep1/a/b/seg.ts", NULL, NULL},
    {"shows/ep1", "../seg.ts", 0, R, "shows/seg.ts", NULL, NULL},
    {"shows/ep1", "../../seg.ts", 0, R, "seg.ts", NULL, NULL},
    {"shows/ep1", "../ep2/../ep3/x.ts", 0, R, "shows/ep3/x.ts", NULL, NULL},
    {"shows/ep1", "a/../b.ts", 0, R, "shows/ep1/b.ts", NULL, NULL},
    {"shows/ep1", "...ts", 0, R, "shows/ep1/...ts", NULL, NULL},
    {"shows/ep1", "..a/.b", 0, R, "shows/ep1/..a/.b", NULL, NULL},
    {"shows/ep1", "12:00.ts", 0, R, "shows/ep1/12:00.ts", NULL, NULL}, /* not a scheme */
    {"shows/ep1", "a/b:c.ts", 0, R, "shows/ep1/a/b:c.ts", NULL, NULL}, /* ':' after '/' */
    {"shows/ep1", "-x:y.ts", 0, R, "shows/ep1/-x:y.ts", NULL, NULL},   /* must start ALPHA */
    {"shows/ep1", "a b+c.ts", 0, R, "shows/ep1/a b+c.ts", NULL, NULL}, /* '+' stays '+' */
    /* root-relative */
    {"shows/ep1", "/x.ts", 0, R, "x.ts", NULL, NULL},
    {"shows/ep1", "/other/x.ts", 0, R, "other/x.ts", NULL, NULL},
    {"", "/x.ts", 0, R, "x.ts", NULL, NULL},
    {"shows/ep1", "/a/../b.ts", 0, R, "b.ts", NULL, NULL},
    /* percent-encoding: decoded before dots are removed */
    {"shows/ep1", "caf%C3%A9.ts", 0, R, "shows/ep1/caf\xC3\xA9.ts", NULL, NULL},
    {"shows/ep1", "caf\xC3\xA9.ts", 0, R, "shows/ep1/caf\xC3\xA9.ts", NULL, NULL},
    {"shows/ep1", "a%20b.ts", 0, R, "shows/ep1/a b.ts", NULL, NULL},
    {"shows/ep1", "a%2Fb.ts", 0, R, "shows/ep1/a/b.ts", NULL, NULL},
    {"shows/ep1", "a%2fb.ts", 0, R, "shows/ep1/a/b.ts", NULL, NULL},
    {"shows/ep1", "%2e%2e/x.ts", 0, R, "shows/x.ts", NULL, NULL},
    {"shows/ep1", "%2E/x.ts", 0, R, "shows/ep1/x.ts", NULL, NULL},
    {"shows/ep1", "a%2F..%2Fb.ts", 0, R, "shows/ep1/b.ts", NULL, NULL},
    {"shows/ep1", "%3F%23.ts", 0, R, "shows/ep1/?#.ts", NULL, NULL},
    {"shows/ep1", "%25.ts", 0, R, "shows/ep1/%.ts", NULL, NULL},
    {"shows/ep1", "%F0%9F%8E%AC.ts", 0, R, "shows/ep1/\xF0\x9F\x8E\xAC.ts", NULL, NULL},
    /* queries and fragments */
    {"shows/ep1", "seg.ts?a=1&b=2", 0, R, "shows/ep1/seg.ts", "a=1&b=2", NULL},
    {"shows/ep1", "seg.ts?", 0, R, "shows/ep1/seg.ts", "", NULL},
    {"shows/ep1", "seg.ts#t=10", 0, R, "shows/ep1/seg.ts", NULL, "t=10"},
    {"shows/ep1", "seg.ts?x=%2F#f?g", 0, R, "shows/ep1/seg.ts", "x=%2F", "f?g"},
    {"shows/ep1", "seg.ts#a?b", 0, R, "shows/ep1/seg.ts", NULL, "a?b"},
    {"shows/ep1", "../v.m3u8?token=a/../b", 0, R, "shows/v.m3u8", "token=a/../b", NULL},
    /* kept: schemes (any case), protocol-relative, variables */
    {"shows/ep1", "https://cdn.example.com/a.ts", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "HTTP://cdn.example.com/a.ts", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "Https://x/../../y", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "skd://key-id", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "data:text/plain;base64,AAAA", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "urn:uuid:1234", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "git+ssh.x-y:foo", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "a1:b", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "//cdn.example.com/a.ts", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "//", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "{$base}/seg.ts", 0, K, NULL, NULL, NULL},
    {"shows/ep1", "seg-{$n}.ts", 0, K, NULL, NULL, NULL},
    /* escapes */
    {"shows/ep1", "../../../x.ts", 0, E, NULL, NULL, NULL},
    {"", "../x.ts", 0, E, NULL, NULL, NULL},
    {"", "..", 0, E, NULL, NULL, NULL},
    {"shows/ep1", "/../x.ts", 0, E, NULL, NULL, NULL},
    {"shows/ep1", "%2e%2e/%2E%2E/%2e%2e/x.ts", 0, E, NULL, NULL, NULL},
    {"shows/ep1", "..%2F..%2F..%2Fetc/passwd", 0, E, NULL, NULL, NULL},
    {"shows/ep1", "a/../../../../x.ts", 0, E, NULL, NULL, NULL},
    {"shows/ep1", "../../../x.ts?q=1", 0, E, NULL, NULL, NULL},
    /* invalid */
    {"shows/ep1", "", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "?x=1", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "#frag", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "/", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "/?x", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "./", 0, I, NULL, NULL, NULL},
    {"shows/ep1", ".", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "dir/", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "dir/.", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "dir/..", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "..", 0, I, NULL, NULL, NULL}, /* the folder "shows": not an object */
    {"shows/ep1", "a//b.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a%2F%2Fb.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a%00b.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a\0b.ts", 6, I, NULL, NULL, NULL},
    {"shows/ep1", "a%0Ab.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a%0db.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a\tb.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a%7Fb.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a\\b.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "a%5Cb.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "..%5C..%5Cx.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "bad%zz.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "bad%4.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "bad%", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "x%00/../y.ts", 0, I, NULL, NULL, NULL},    /* unsafe even if popped */
    {"shows/ep1", "%C0%AF.ts", 0, I, NULL, NULL, NULL},       /* overlong '/' */
    {"shows/ep1", "%E0%80%AF.ts", 0, I, NULL, NULL, NULL},    /* overlong '/' */
    {"shows/ep1", "%ED%A0%80.ts", 0, I, NULL, NULL, NULL},    /* surrogate */
    {"shows/ep1", "%F4%90%80%80.ts", 0, I, NULL, NULL, NULL}, /* > U+10FFFF */
    {"shows/ep1", "%FF.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "%C3.ts", 0, I, NULL, NULL, NULL}, /* truncated sequence */
    {"shows/ep1", "\xC3(.ts", 0, I, NULL, NULL, NULL},
    {"shows/ep1", "\xE9t\xE9.ts", 0, I, NULL, NULL, NULL}, /* Latin-1, not UTF-8 */
};

static void test_resolve(void)
{
    hg_buf_t key;
    hg_buf_init(&key, 0);
    for (size_t i = 0; i < sizeof RESOLVE / sizeof RESOLVE[0]; i++) {
        const resolve_case_t *c = &RESOLVE[i];
        size_t ul = c->uri_len ? c->uri_len : strlen(c->uri);
        hg_uri_parts_t parts;
        /* Start from a non-empty buffer: the key must be appended, and left alone on failure. */
        hg_buf_reset(&key);
        hg_buf_appends(&key, "PFX|");
        int got = hg_uri_resolve(c->base, strlen(c->base), c->uri, ul, &key, &parts);
        if (got != c->want)
            fprintf(stderr, "case %zu [%s]: got %d want %d\n", i, c->uri, got, c->want);
        CHECK(got == c->want);
        if (got != R || c->want != R) {
            CHECK_MEM(key.data, key.len, "PFX|", 4);
            continue;
        }
        CHECK(key.len >= 4 && memcmp(key.data, "PFX|", 4) == 0);
        CHECK_MEM(key.data + 4, key.len - 4, c->key, strlen(c->key));
        CHECK(hg_key_check(key.data + 4, key.len - 4) == 0);
        if (c->query) {
            CHECK(parts.query != NULL);
            if (parts.query) CHECK_MEM(parts.query, parts.query_len, c->query, strlen(c->query));
        } else {
            CHECK(parts.query == NULL);
        }
        if (c->fragment) {
            CHECK(parts.fragment != NULL);
            if (parts.fragment)
                CHECK_MEM(parts.fragment, parts.fragment_len, c->fragment, strlen(c->fragment));
        } else {
            CHECK(parts.fragment == NULL);
        }
    }
    hg_buf_free(&key);
}

/* hg_uri_plain's shortcut against the full resolution: every URI of a small alphabet up to 6
 * bytes long (all the interesting neighbours: "/", ".", "..", "%", "?", "#", ":", "{", " "), and
 * pseudo-random longer ones, against two folders. The table above checks the full path itself. */
static void test_plain_shortcut(void)
{
    static const char ALPHA[] = "a./%?#:{ \\2F";
    static const char NEAR[] = "ab./_"; /* long URIs that are mostly plain: the 16-byte path */
    static const char *const BASES[] = {"shows/ep1", ""};
    const size_t na = sizeof ALPHA - 1;
    unsigned long long_plain = 0;
    hg_buf_t fast, full;
    hg_buf_init(&fast, 0);
    hg_buf_init(&full, 0);
    unsigned long plain = 0, total = 0, bad = 0;
    uint32_t rnd = 12345;
    for (size_t b = 0; b < 2; b++) {
        for (size_t len = 1; len <= 48; len++) {
            size_t count = 1, lim = len <= 5 ? 0 : 6000;
            for (size_t i = 0; i < len && !lim; i++) count *= na;
            if (lim) count = lim;
            for (size_t k = 0; k < count; k++) {
                char u[48];
                size_t x = k;
                int near = k & 1;
                for (size_t i = 0; i < len; i++) {
                    if (lim) {
                        rnd = rnd * 1103515245u + 12345u;
                        u[i] = near ? NEAR[(rnd >> 16) % (sizeof NEAR - 1)] : ALPHA[(rnd >> 16) % na];
                    } else {
                        u[i] = ALPHA[x % na];
                        x /= na;
                    }
                }
                hg_uri_parts_t p1, p2;
                hg_buf_reset(&fast);
                hg_buf_reset(&full);
                int r1 = hg_uri_resolve(BASES[b], strlen(BASES[b]), u, len, &fast, &p1);
                int r2 = hg_uri_resolve_full(BASES[b], strlen(BASES[b]), u, len, &full, &p2);
                int same = r1 == r2 && fast.len == full.len &&
                           (fast.len == 0 || memcmp(fast.data, full.data, fast.len) == 0) &&
                           p1.query_len == p2.query_len && p1.fragment_len == p2.fragment_len;
                if (hg_uri_plain(u, len)) {
                    plain++;
                    long_plain += len >= 16;
                    same = same && r2 == R && p2.query == NULL && p2.fragment == NULL;
                }
                if (!same && bad++ < 5) fprintf(stderr, "plain shortcut differs for [%.*s]\n", (int)len, u);
                total++;
            }
        }
    }
    CHECK(bad == 0);
    CHECK(plain > 1000);     /* the shortcut was taken, and not only for trivial inputs */
    CHECK(long_plain > 1000); /* ... and for URIs long enough for its 16-byte steps */
    CHECK(!hg_uri_plain("a//b", 4) && !hg_uri_plain("/", 1) && !hg_uri_plain("a/", 2) &&
          !hg_uri_plain("./a", 3) && !hg_uri_plain("a/.b", 4) && !hg_uri_plain("//a", 3) &&
          !hg_uri_plain("a%41", 4) && !hg_uri_plain("", 0) && !hg_uri_plain("a\x80", 2));
    CHECK(hg_uri_plain("seg_001.ts", 10) && hg_uri_plain("/a/b.c", 6) && hg_uri_plain("a.b/c..d", 8));
    /* the same rules across and at 16-byte boundaries */
    CHECK(hg_uri_plain("/0123456789abcde/g.ts", 21) && !hg_uri_plain("0123456789abcde//g.ts", 21) &&
          !hg_uri_plain("0123456789abcdef/.g", 19) && !hg_uri_plain("0123456789abcde/.g", 18) &&
          !hg_uri_plain("//23456789abcdef/g", 18) && !hg_uri_plain("0123456789abcdef/", 17) &&
          !hg_uri_plain("0123456789abcd\x80" "f/g", 18) && hg_uri_plain("0123456789abcdef", 16));
    hg_buf_free(&fast);
    hg_buf_free(&full);
    (void)total;
}

/* A capped key buffer reports HG_URI_NOMEM and is left unchanged. */
static void test_resolve_nomem(void)
{
    hg_buf_t key;
    hg_buf_init(&key, 8);
    hg_uri_parts_t parts;
    CHECK(hg_uri_resolve("shows/ep1", 9, "seg.ts", 6, &key, &parts) == HG_URI_NOMEM);
    CHECK(key.len == 0);
    CHECK(hg_uri_resolve("", 0, "/a.ts", 5, &key, &parts) == R);
    CHECK_MEM(key.data, key.len, "a.ts", 4);
    hg_buf_free(&key);
}

typedef struct {
    const char *key;
    size_t len; /* 0: strlen */
    int want;
} key_case_t;

static const key_case_t KEYS[] = {
    {"a", 0, 0},
    {"shows/ep1/index.m3u8", 0, 0},
    {"caf\xC3\xA9/\xF0\x9F\x8E\xAC.ts", 0, 0},
    {"a b+c/%41.ts", 0, 0}, /* already decoded: '%' is just a byte */
    {"...", 0, 0},
    {"..a/b..", 0, 0},
    {"a/.b", 0, 0},
    {"\xEF\xBF\xBD", 0, 0},     /* U+FFFD */
    {"\xF4\x8F\xBF\xBF", 0, 0}, /* U+10FFFF */
    {"", 0, I},
    {"/a", 0, I},
    {"a/", 0, I},
    {"a//b", 0, I},
    {"/", 0, I},
    {".", 0, I},
    {"a/./b", 0, I},
    {"a/.", 0, I},
    {"..", 0, E},
    {"../a", 0, E},
    {"a/../b", 0, E},
    {"a/..", 0, E},
    {"a\0b", 3, I},
    {"a\nb", 0, I},
    {"a\rb", 0, I},
    {"a\x1f", 0, I},
    {"a\x7f", 0, I},
    {"a\\b", 0, I},
    {"\xC0\xAF", 0, I},         /* overlong '/' */
    {"\xC1\xBF", 0, I},         /* overlong */
    {"\xE0\x80\xAF", 0, I},     /* overlong */
    {"\xE0\x9F\xBF", 0, I},     /* overlong */
    {"\xF0\x8F\xBF\xBF", 0, I}, /* overlong */
    {"\xED\xA0\x80", 0, I},     /* surrogate U+D800 */
    {"\xED\xBF\xBF", 0, I},     /* surrogate U+DFFF */
    {"\xF4\x90\x80\x80", 0, I}, /* U+110000 */
    {"\xF5\x80\x80\x80", 0, I},
    {"\xFF", 0, I},
    {"\x80", 0, I},     /* lone continuation */
    {"\xC3", 0, I},     /* truncated */
    {"\xE2\x82", 0, I}, /* truncated */
    {"\xE2\x82(", 0, I},
};

static void test_key_check(void)
{
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        size_t len = KEYS[i].len ? KEYS[i].len : strlen(KEYS[i].key);
        int got = hg_key_check(KEYS[i].key, len);
        if (got != KEYS[i].want) fprintf(stderr, "key case %zu: got %d\n", i, got);
        CHECK(got == KEYS[i].want);
    }
}

static void test_is_playlist(void)
{
    CHECK(hg_key_is_playlist("a/index.m3u8", 12));
    CHECK(hg_key_is_playlist("INDEX.M3U8", 10));
    CHECK(hg_key_is_playlist("x.M3u8", 6));
    CHECK(hg_key_is_playlist("old.m3u", 7));
    CHECK(hg_key_is_playlist(".m3u8", 5));
    CHECK(!hg_key_is_playlist("m3u8", 4));
    CHECK(!hg_key_is_playlist("a.m3u8.ts", 9));
    CHECK(!hg_key_is_playlist("a.m3u8x", 7));
    CHECK(!hg_key_is_playlist("a.ts", 4));
    CHECK(!hg_key_is_playlist("", 0));
}

int main(void)
{
    test_resolve();
    test_resolve_nomem();
    test_plain_shortcut();
    test_key_check();
    test_is_playlist();
    TEST_DONE();
}
