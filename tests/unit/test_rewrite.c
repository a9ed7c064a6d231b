/* Streaming rewriter: fixture playlists (tests/fixtures/playlists/NAME.m3u8 with NAME.expected and
 * NAME.meta) fed whole, split in two at every point and byte by byte, plus unit cases.
 *
 * The fake emit writes "S3<key?query>" for media and "GW<key?query>" for playlists, so an expected
 * file shows exactly which key and kind every URI got. Fixtures are rewritten with base
 * "shows/ep1". Run from the tests/ directory (ctest does). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "hls/rewrite.h"
#include "test.h"

#define FIXTURES "fixtures/playlists"
#define BASE "shows/ep1"

static int fake_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                     const char *query, size_t query_len, hg_buf_t *out)
{
    int *fail_after = ud;
    if (fail_after && (*fail_after)-- == 0) return HG_ENOMEM;
    int rc = hg_buf_append(out, kind == HG_URI_PLAYLIST ? "GW<" : "S3<", 3);
    if (rc == 0) rc = hg_buf_append(out, key, key_len);
    if (rc == 0 && query) rc = hg_buf_appendc(out, '?');
    if (rc == 0 && query) rc = hg_buf_append(out, query, query_len);
    if (rc == 0) rc = hg_buf_appendc(out, '>');
    return rc;
}

/* The fast lane (hg_rewriter_set_plain), for the runs that set plain_mode: 1 writes every plain
 * name, 2 declines every other one (that name then goes through fake_emit). Either way the output
 * must be byte for byte the output without the lane. */
static int plain_mode;
static const char *plain_base;
static long plain_written;

static int fake_plain(void *ud, const char *name, size_t n, hg_buf_t *out)
{
    (void)ud;
    static unsigned calls;
    if (plain_mode == 2 && (calls++ & 1)) return HG_RW_DECLINE;
    plain_written++;
    int rc = hg_buf_append(out, "S3<", 3);
    if (rc == 0 && *plain_base) rc = hg_buf_appends(out, plain_base);
    if (rc == 0 && *plain_base) rc = hg_buf_appendc(out, '/');
    if (rc == 0) rc = hg_buf_append(out, name, n);
    if (rc == 0) rc = hg_buf_appendc(out, '>');
    return rc;
}

typedef struct {
    int rc;
    hg_rewriter_t rw; /* metadata after finish (storage already freed) */
} run_t;

/* Feed in[0..n) in pieces: cuts[0..ncuts) are the split offsets (ascending); step > 0 feeds
 * `step` bytes at a time instead. Output goes to out (reset first). */
static void run(const char *base, size_t max_line, const char *in, size_t n, const size_t *cuts,
                size_t ncuts, size_t step, hg_buf_t *out, run_t *r)
{
    hg_buf_reset(out);
    CHECK(hg_rewriter_init(&r->rw, base, strlen(base), max_line, fake_emit, NULL) == 0);
    if (plain_mode) {
        hg_rewriter_set_plain(&r->rw, fake_plain);
        plain_base = base;
    }
    int rc = 0;
    size_t at = 0;
    if (step) {
        for (; at < n && rc == 0; at += step)
            rc = hg_rewriter_feed(&r->rw, in + at, at + step <= n ? step : n - at, out);
    } else {
        for (size_t i = 0; i <= ncuts && rc == 0; i++) {
            size_t to = i < ncuts ? cuts[i] : n;
            rc = hg_rewriter_feed(&r->rw, in + at, to - at, out);
            at = to;
        }
    }
    if (rc == 0) rc = hg_rewriter_finish(&r->rw, out);
    r->rc = rc;
    /* NUL-terminate for CHECK_STR without counting it */
    if (hg_buf_appendc(out, '\0') == 0) out->len--;
    hg_rewriter_free(&r->rw);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    hg_buf_t b;
    hg_buf_init(&b, 0);
    char tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        hg_buf_append(&b, tmp, got);
    fclose(f);
    hg_buf_appendc(&b, '\0');
    *len = b.len - 1;
    return hg_buf_steal(&b);
}

static long meta_get(const char *meta, const char *name, long dflt)
{
    size_t nl = strlen(name);
    for (const char *p = meta; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') return strtol(p + nl + 1, NULL, 10);
    }
    return dflt;
}

static int meta_result(const char *meta)
{
    const char *p = strstr(meta, "result=");
    if (!p) return 0;
    p += 7;
    if (strncmp(p, "NOT_PLAYLIST", 12) == 0) return HG_ENOTPLAYLIST;
    if (strncmp(p, "LINE_TOO_LONG", 13) == 0) return HG_ELINE;
    if (strncmp(p, "EMPTY", 5) == 0) return HG_EEMPTY;
    return 0;
}

static int same_run(const run_t *a, const run_t *b)
{
    return a->rc == b->rc && a->rw.presigned == b->rw.presigned && a->rw.gateway == b->rw.gateway &&
           a->rw.kept == b->rw.kept && a->rw.refused == b->rw.refused &&
           a->rw.line_no == b->rw.line_no && a->rw.is_master == b->rw.is_master &&
           a->rw.has_extinf == b->rw.has_extinf && a->rw.has_endlist == b->rw.has_endlist;
}

/* Rewrite in[0..n) again (at once when step is 0, else step bytes per feed): the same result and
 * bytes as the whole run's. */
static void same_as_whole(const char *in, size_t n, size_t step, hg_buf_t *out, const run_t *whole,
                          const hg_buf_t *got)
{
    run_t r;
    run(BASE, 0, in, n, NULL, 0, step, out, &r);
    CHECK(same_run(&r, whole));
    CHECK_MEM(out->data, out->len, got->data, got->len);
}

static void check_fixture(const char *name)
{
    char path[512];
    size_t n, elen, mlen;
    snprintf(path, sizeof path, FIXTURES "/%s.m3u8", name);
    char *in = read_file(path, &n);
    snprintf(path, sizeof path, FIXTURES "/%s.expected", name);
    char *want = read_file(path, &elen);
    snprintf(path, sizeof path, FIXTURES "/%s.meta", name);
    char *meta = read_file(path, &mlen);
    CHECK(in && want && meta);
    if (!in || !want || !meta) {
        fprintf(stderr, "fixture %s: missing file\n", name);
        goto out;
    }

    hg_buf_t out, got;
    hg_buf_init(&out, 0);
    hg_buf_init(&got, 0);
    run_t whole, r;
    run(BASE, 0, in, n, NULL, 0, 0, &got, &whole);
    int want_rc = meta_result(meta);
    if (whole.rc != want_rc) fprintf(stderr, "fixture %s: rc %d\n", name, whole.rc);
    CHECK(whole.rc == want_rc);
    if (want_rc == 0) {
        if (got.len != elen || memcmp(got.data, want, elen) != 0)
            fprintf(stderr, "fixture %s: output differs from .expected:\n%.*s\n", name,
                    (int)got.len, got.data);
        CHECK_MEM(got.data, got.len, want, elen);
        CHECK(whole.rw.presigned == meta_get(meta, "presigned", -1));
        CHECK(whole.rw.gateway == meta_get(meta, "gateway", -1));
        CHECK(whole.rw.kept == meta_get(meta, "kept", -1));
        CHECK(whole.rw.refused == meta_get(meta, "refused", -1));
        CHECK(whole.rw.is_master == meta_get(meta, "master", -1));
        CHECK(whole.rw.has_extinf == meta_get(meta, "extinf", -1));
        CHECK(whole.rw.has_endlist == meta_get(meta, "endlist", -1));
        CHECK(whole.rw.type_vod == meta_get(meta, "vod", -1));
        CHECK(whole.rw.type_event == meta_get(meta, "event", -1));
        CHECK(whole.rw.target_duration == (double)meta_get(meta, "target", -2));
        CHECK(hg_rewriter_is_live(&whole.rw) == meta_get(meta, "live", -1));
    }

    /* Two pieces, at every split point: the output may not depend on where the input was cut. */
    int bad_splits = 0;
    for (size_t i = 0; i <= n; i++) {
        run(BASE, 0, in, n, &i, 1, 0, &out, &r);
        if (!same_run(&r, &whole) || out.len != got.len || memcmp(out.data, got.data, got.len)) {
            if (bad_splits++ == 0) fprintf(stderr, "fixture %s: split at %zu differs\n", name, i);
        }
    }
    CHECK(bad_splits == 0);
    same_as_whole(in, n, 1, &out, &whole, &got);
    same_as_whole(in, n, 3, &out, &whole, &got);
    /* The fast lane changes nothing, whole or split, writing or declining. */
    for (plain_mode = 1; plain_mode <= 2; plain_mode++) {
        same_as_whole(in, n, 0, &out, &whole, &got);
        same_as_whole(in, n, 7, &out, &whole, &got);
    }
    plain_mode = 0;
    hg_buf_free(&out);
    hg_buf_free(&got);
out:
    free(in);
    free(want);
    free(meta);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_fixtures(void)
{
    DIR *d = opendir(FIXTURES);
    CHECK(d != NULL);
    if (!d) return;
    char *names[256];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".m3u8") == 0) {
            names[count] = malloc(l - 4);
            memcpy(names[count], e->d_name, l - 5);
            names[count][l - 5] = '\0';
            count++;
        }
    }
    closedir(d);
    qsort(names, count, sizeof names[0], cmp_str);
    for (size_t i = 0; i < count; i++) {
        check_fixture(names[i]);
        free(names[i]);
    }
    CHECK(count >= 12);
    printf("fixtures checked: %zu\n", count);
}

/* Rewrite a string in one piece with base BASE; returns rc and leaves output in out. */
static int rewrite_str(const char *in, size_t n, size_t max_line, hg_buf_t *out, run_t *r)
{
    run(BASE, max_line, in, n, NULL, 0, 0, out, r);
    return r->rc;
}

#define RW(s, out, r) rewrite_str((s), sizeof(s) - 1, 0, (out), (r))

static void test_header(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    hg_rewriter_t rw;
    /* decided at the first wrong byte, without waiting for the newline */
    const char *bad[] = {"X",
                         "#EXTM3X",
                         "#extm3u",
                         "#EXTM3U8",
                         "#EXTM3U x",
                         "\xEF\xBB\xBE",
                         "\xEF\xBB\xBF\xEF\xBB\xBF",
                         " #EXTM3U",
                         "\xEF#"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hg_rewriter_init(&rw, "", 0, 0, fake_emit, NULL);
        CHECK(hg_rewriter_feed(&rw, bad[i], strlen(bad[i]), &out) == HG_ENOTPLAYLIST);
        CHECK(hg_rewriter_feed(&rw, "\n", 1, &out) == HG_ENOTPLAYLIST); /* sticky */
        CHECK(hg_rewriter_finish(&rw, &out) == HG_ENOTPLAYLIST);
        hg_rewriter_free(&rw);
    }
    /* prefixes stay undecided until the line ends */
    const char *partial[] = {"#",    "#EXT",         "#EXTM3U",
                             "\xEF", "\xEF\xBB\xBF", "\xEF\xBB\xBF#EXTM3U \t"};
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        hg_rewriter_init(&rw, "", 0, 0, fake_emit, NULL);
        CHECK(hg_rewriter_feed(&rw, partial[i], strlen(partial[i]), &out) == 0);
        int fin = hg_rewriter_finish(&rw, &out);
        int complete = strstr(partial[i], "#EXTM3U") != NULL;
        CHECK(fin == (complete ? 0 : HG_ENOTPLAYLIST));
        hg_rewriter_free(&rw);
    }
    run_t r;
    CHECK(rewrite_str("", 0, 0, &out, &r) == HG_EEMPTY);
    CHECK(RW("\n", &out, &r) == HG_ENOTPLAYLIST);
    CHECK(RW("\r\n#EXTM3U\n", &out, &r) == HG_ENOTPLAYLIST);
    CHECK(RW("#EXTM3U", &out, &r) == 0);
    CHECK_STR(out.data, "#EXTM3U");
    CHECK(RW("#EXTM3U\r", &out, &r) == 0);
    CHECK(RW("\xEF\xBB\xBF#EXTM3U\r\nx.ts", &out, &r) == 0);
    CHECK_STR(out.data, "\xEF\xBB\xBF#EXTM3U\r\nS3<shows/ep1/x.ts>");
    hg_buf_free(&out);
}

static void test_line_too_long(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    run_t r;
    /* 16 bytes per line is fine, 17 is not, whatever the line ending and wherever the cut */
    const char ok[] = "#EXTM3U\n0123456789abcdef\r\n#EXTINF:1,\n";
    const char bad[] = "#EXTM3U\n0123456789abcdefg\r\n#EXTINF:1,\n";
    CHECK(rewrite_str(ok, sizeof ok - 1, 16, &out, &r) == 0);
    CHECK(rewrite_str(bad, sizeof bad - 1, 16, &out, &r) == HG_ELINE);
    CHECK_STR(out.data, "#EXTM3U\n"); /* what came before is out, nothing after */
    for (size_t i = 0; i <= sizeof bad - 1; i++) {
        run(BASE, 16, bad, sizeof bad - 1, &i, 1, 0, &out, &r);
        CHECK(r.rc == HG_ELINE);
    }
    /* detected before the newline arrives: a hostile origin cannot make us buffer without end */
    hg_rewriter_t rw;
    hg_rewriter_init(&rw, "", 0, 16, fake_emit, NULL);
    CHECK(hg_rewriter_feed(&rw, "#EXTM3U\nseg", 11, &out) == 0);
    CHECK(hg_rewriter_feed(&rw, "0123456789abcdef", 16, &out) == HG_ELINE);
    CHECK(hg_rewriter_feed(&rw, "\n", 1, &out) == HG_ELINE);
    CHECK(hg_rewriter_finish(&rw, &out) == HG_ELINE);
    hg_rewriter_free(&rw);
    /* first line: a wrong byte within max_line wins over the length, whatever the split */
    const char longhdr[] = "#EXTM3U        x        \n";
    for (size_t i = 0; i <= sizeof longhdr - 1; i++) {
        run(BASE, 12, longhdr, sizeof longhdr - 1, &i, 1, 0, &out, &r);
        CHECK(r.rc == HG_ELINE);
        run(BASE, 15, longhdr, sizeof longhdr - 1, &i, 1, 0, &out, &r);
        CHECK(r.rc == HG_ENOTPLAYLIST);
    }
    hg_buf_free(&out);
}

static void test_hostile(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    run_t r;
    /* NUL bytes: tags and comments are copied, URIs holding NUL are refused */
    const char nul[] = "#EXTM3U\n#EXTINF:1,\0x\nseg\0.ts\n\0\n# \0\n#EXT-X-KEY:URI=\"k\0\"\n";
    CHECK(rewrite_str(nul, sizeof nul - 1, 0, &out, &r) == 0);
    CHECK_MEM(out.data, out.len, nul, sizeof nul - 1);
    CHECK(r.rw.refused == 3 && r.rw.presigned == 0);
    /* unterminated quotes: the line is left unchanged, and the next line is not affected */
    const char unterminated[] = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\n"
                                "#EXT-X-MEDIA:NAME=\"x,URI=\"y.m3u8\"\n"
                                "#EXT-X-MAP:URI=\"\n"
                                "#EXT-X-MAP:URI=\"i.mp4\"\n";
    CHECK(rewrite_str(unterminated, sizeof unterminated - 1, 0, &out, &r) == 0);
    CHECK_STR(out.data, "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\n"
                        "#EXT-X-MEDIA:NAME=\"x,URI=\"y.m3u8\"\n"
                        "#EXT-X-MAP:URI=\"\n"
                        "#EXT-X-MAP:URI=\"S3<shows/ep1/i.mp4>\"\n");
    CHECK(r.rw.refused == 3 && r.rw.presigned == 1);
    /* invalid UTF-8 outside URIs is copied */
    const char utf[] = "#EXTM3U\n#EXTINF:1,\xff\xfe\xc0\n# \xed\xa0\x80\nok.ts\n";
    CHECK(rewrite_str(utf, sizeof utf - 1, 0, &out, &r) == 0);
    CHECK_STR(out.data, "#EXTM3U\n#EXTINF:1,\xff\xfe\xc0\n# \xed\xa0\x80\nS3<shows/ep1/ok.ts>\n");
    /* an attribute list that is only junk */
    const char junk[] =
        "#EXTM3U\n#EXT-X-KEY:\n#EXT-X-KEY\n#EXT-X-KEY:,,,=,URI\n#EXT-X-KEY:URI=\"a\",URI=\"b\"\n";
    CHECK(rewrite_str(junk, sizeof junk - 1, 0, &out, &r) == 0);
    CHECK_STR(out.data, "#EXTM3U\n#EXT-X-KEY:\n#EXT-X-KEY\n#EXT-X-KEY:,,,=,URI\n"
                        "#EXT-X-KEY:URI=\"S3<shows/ep1/a>\",URI=\"S3<shows/ep1/b>\"\n");
    hg_buf_free(&out);
}

/* Random inputs built from the bytes that matter to the parser: never a crash (ASan), and the
 * same output and counters for whole, split and byte-by-byte feeding. */
static void test_fuzz(void)
{
    static const char *atoms[] = {"\n",
                                  "\r",
                                  "\r\n",
                                  " ",
                                  "\t",
                                  "\"",
                                  ",",
                                  "=",
                                  "#",
                                  "/",
                                  "..",
                                  ".",
                                  "%",
                                  "%2e",
                                  "%2F",
                                  "%00",
                                  "?",
                                  "{$",
                                  "URI",
                                  "URI=\"",
                                  "SERVER-URI=\"",
                                  "#EXT-X-KEY:",
                                  "#EXT-X-MEDIA:",
                                  "#EXT-X-STREAM-INF:",
                                  "#EXTINF:1,",
                                  "#EXT-X-CONTENT-STEERING:",
                                  "a.ts",
                                  "b.m3u8",
                                  "http:",
                                  "//",
                                  "\0",
                                  "\xff",
                                  "\xc3\xa9",
                                  "#EXT-X-ENDLIST",
                                  "#EXT-X-TARGETDURATION:",
                                  "7"};
    const size_t natoms = sizeof atoms / sizeof atoms[0];
    unsigned seed = 12345;
    hg_buf_t in, a, b;
    hg_buf_init(&in, 0);
    hg_buf_init(&a, 0);
    hg_buf_init(&b, 0);
    int bad = 0, bad_plain = 0;
    long written_before = plain_written;
    for (int iter = 0; iter < 3000; iter++) {
        hg_buf_reset(&in);
        hg_buf_appends(&in, iter % 7 ? "#EXTM3U\n" : "#EXTM3");
        int len = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 60;
        for (int k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *atom = atoms[(seed >> 16) % natoms];
            hg_buf_append(&in, atom, atom[0] ? strlen(atom) : 1);
        }
        size_t max_line = iter % 5 ? 0 : 24;
        run_t whole, r;
        run(BASE, max_line, in.data, in.len, NULL, 0, 0, &a, &whole);
        seed = seed * 1103515245u + 12345u;
        size_t cuts[3] = {(seed >> 16) % (in.len + 1), 0, 0};
        cuts[1] = cuts[0] + (seed >> 8) % (in.len + 1 - cuts[0]);
        cuts[2] = cuts[1] + (seed >> 4) % (in.len + 1 - cuts[1]);
        run(BASE, max_line, in.data, in.len, cuts, 3, 0, &b, &r);
        if (!same_run(&r, &whole) || a.len != b.len || memcmp(a.data, b.data, a.len)) bad++;
        run(BASE, max_line, in.data, in.len, NULL, 0, 1, &b, &r);
        if (!same_run(&r, &whole) || a.len != b.len || memcmp(a.data, b.data, a.len)) bad++;
        /* the fast lane, writing or declining, at the folder and at the root */
        const char *base = iter & 1 ? BASE : "";
        plain_mode = 0;
        run(base, max_line, in.data, in.len, NULL, 0, 0, &a, &whole);
        for (plain_mode = 1; plain_mode <= 2; plain_mode++) {
            run(base, max_line, in.data, in.len, cuts, 3, 0, &b, &r);
            if (!same_run(&r, &whole) || a.len != b.len || memcmp(a.data, b.data, a.len)) bad_plain++;
        }
        plain_mode = 0;
    }
    CHECK(bad == 0);
    CHECK(bad_plain == 0);
    printf("fast lane in the random playlists: %ld names\n", plain_written - written_before);
    CHECK(plain_written - written_before > 100); /* the lane was taken, many times */
    hg_buf_free(&in);
    hg_buf_free(&a);
    hg_buf_free(&b);
}

static void test_metadata(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    run_t r;
    CHECK(RW("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n", &out, &r) == 0);
    CHECK(hg_rewriter_is_live(&r.rw) && r.rw.target_duration == 6 && !r.rw.is_master);
    CHECK(RW("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6,\na.ts\n", &out, &r) == 0);
    CHECK(!hg_rewriter_is_live(&r.rw) && r.rw.type_vod && r.rw.target_duration == -1);
    CHECK(RW("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT \n#EXTINF:6,\na.ts\n", &out, &r) == 0);
    CHECK(hg_rewriter_is_live(&r.rw) && r.rw.type_event && !r.rw.type_vod);
    CHECK(RW("#EXTM3U\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n", &out, &r) == 0);
    CHECK(!hg_rewriter_is_live(&r.rw) && r.rw.has_endlist);
    CHECK(RW("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", &out, &r) == 0);
    CHECK(!hg_rewriter_is_live(&r.rw) && r.rw.is_master && r.rw.gateway == 1);
    CHECK(RW("#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n", &out, &r) == 0);
    CHECK(r.rw.target_duration == 2.5);
    CHECK(RW("#EXTM3U\n#EXT-X-TARGETDURATION:-10\n#EXT-X-TARGETDURATION:x\n", &out, &r) == 0);
    CHECK(r.rw.target_duration == -1);
    CHECK(RW("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:vod\n#EXTINF-X:1\n#EXT-X-ENDLISTX\n", &out, &r) == 0);
    CHECK(!r.rw.type_vod && !r.rw.has_extinf && !r.rw.has_endlist);
    CHECK(RW("#EXTM3U\r\nA.ts\r\n\r\n", &out, &r) == 0);
    CHECK(r.rw.line_no == 3);
    /* root base: nothing can climb above it */
    run(BASE, 0, "#EXTM3U\n../x.ts\n", 16, NULL, 0, 0, &out, &r);
    CHECK(r.rc == 0 && r.rw.presigned == 1);
    run("", 0, "#EXTM3U\n../x.ts\n/y.ts\n", 22, NULL, 0, 0, &out, &r);
    CHECK(r.rc == 0 && r.rw.refused == 1 && r.rw.presigned == 1);
    CHECK_STR(out.data, "#EXTM3U\n../x.ts\nS3<y.ts>\n");
    hg_buf_free(&out);
}

static void test_errors(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    hg_rewriter_t rw;
    /* an emit failure aborts and sticks */
    int fail_after = 1;
    hg_rewriter_init(&rw, "", 0, 0, fake_emit, &fail_after);
    CHECK(hg_rewriter_feed(&rw, "#EXTM3U\na.ts\nb.ts\n", 18, &out) == HG_ENOMEM);
    CHECK(hg_rewriter_feed(&rw, "c.ts\n", 5, &out) == HG_ENOMEM);
    CHECK(hg_rewriter_finish(&rw, &out) == HG_ENOMEM);
    CHECK(rw.presigned == 1);
    hg_rewriter_free(&rw);
    /* a capped output buffer */
    hg_buf_t small;
    hg_buf_init(&small, 10);
    hg_rewriter_init(&rw, "", 0, 0, fake_emit, NULL);
    CHECK(hg_rewriter_feed(&rw, "#EXTM3U\na.ts\n", 13, &small) == HG_EOVERFLOW);
    CHECK(hg_rewriter_finish(&rw, &small) == HG_EOVERFLOW);
    hg_rewriter_free(&rw);
    hg_buf_free(&small);
    /* empty feeds change nothing */
    hg_rewriter_init(&rw, "", 0, 0, fake_emit, NULL);
    CHECK(hg_rewriter_feed(&rw, "", 0, &out) == 0);
    CHECK(hg_rewriter_finish(&rw, &out) == HG_EEMPTY);
    hg_rewriter_free(&rw);
    hg_buf_free(&out);
}

/* A 12-hour VOD with 1-second segments: every segment is signed, in one pass. */
static void test_large(void)
{
    hg_buf_t in, out;
    hg_buf_init(&in, 0);
    hg_buf_init(&out, 0);
    hg_buf_appends(&in, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    for (int i = 0; i < 43200; i++)
        hg_buf_appendf(&in, "#EXTINF:1.000,\nseg/%05d.ts\n", i);
    hg_buf_appends(&in, "#EXT-X-ENDLIST\n");
    run_t r;
    size_t cut = in.len / 2 + 3;
    run("media/show", 0, in.data, in.len, &cut, 1, 0, &out, &r);
    CHECK(r.rc == 0 && r.rw.presigned == 43200 && r.rw.refused == 0);
    CHECK(strstr(out.data, "\nS3<media/show/seg/43199.ts>\n#EXT-X-ENDLIST\n") != NULL);
    hg_buf_free(&in);
    hg_buf_free(&out);
}

int main(void)
{
    test_fixtures();
    test_header();
    test_line_too_long();
    test_hostile();
    test_fuzz();
    test_metadata();
    test_errors();
    test_large();
    TEST_DONE();
}
