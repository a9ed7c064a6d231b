/* libFuzzer target: the streaming playlist rewriter (src/hls/rewrite.h).
 *
 * The input is the playlist. A hash of it picks the playlist's folder (base) and sometimes a small
 * max_line, so HG_ELINE is reachable. The playlist is rewritten:
 *   - whole (one feed), the reference;
 *   - one byte per feed;
 *   - in two patterns of 1..8 pieces at offsets derived from the input, with some empty feeds;
 *   - whole again with an emit callback that fails at its k-th call (k from the hash);
 *   - in pieces with the fast lane for plain names (hg_rewriter_set_plain), which declines some
 *     names (a pattern from the hash): the output and metadata must be the general path's.
 * Checks:
 *   - same return code, output bytes and metadata (kind, counters, target duration, live) for every
 *     split; an error is sticky (a later feed/finish returns it again);
 *   - every key handed to emit passes hg_key_check (nothing outside the namespace is ever
 *     signed), contains no "." / ".." segment, and a key ending in .m3u8/.m3u is emitted as a
 *     playlist; the query never holds '#', CR or LF;
 *   - on success the output has the same line ends, in the same order, as the input, and every
 *     line that cannot carry a URI (header, comments, blank lines, tags other than the URI tags)
 *     is copied byte for byte; a URI line is either copied as written (left alone) or becomes
 *     the new URL alone, without the whitespace around it;
 *   - presigned + gateway equals the number of emit calls;
 *   - a failing emit makes the rewrite fail with that error.
 * The fake emit writes "<M:key?query>" (media) or "<P:key?query>" (playlist); the fast lane writes
 * "<M:base/name>" (name alone at the root), what the general path writes for that key. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "hls/rewrite.h"
#include "hls/uri.h"

typedef struct {
    long calls;
    long fail_at; /* return HG_ENOMEM on this call (0-based); -1: never */
} emit_state_t;

static const uint8_t *IN;
static int USE_PLAIN;          /* runs with the fast lane */
static uint32_t PLAIN_DECLINE; /* bit k: the lane declines its k-th name (mod 32) */
static size_t IN_LEN;
static const char *BASE;
static size_t MAX_LINE;

static void fail_dump(void)
{
    fz_dump("input", IN, IN_LEN);
    fprintf(stderr, "base \"%s\", max_line %zu\n", BASE, MAX_LINE);
}

static int fake_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len, const char *query,
                     size_t query_len, hg_buf_t *out)
{
    emit_state_t *st = ud;
    long call = st->calls++;
    FZ_CHECK(key != NULL && key_len > 0, "empty key emitted");
    FZ_CHECK(hg_key_check(key, key_len) == HG_URI_RESOLVED, "emitted key fails hg_key_check");
    FZ_CHECK(key[0] != '/' && key[key_len - 1] != '/', "emitted key with a leading/trailing '/'");
    FZ_CHECK(!hg_key_is_playlist(key, key_len) || kind == HG_URI_PLAYLIST,
             "playlist key emitted as media");
    for (size_t i = 0; query && i < query_len; i++)
        FZ_CHECK(query[i] != '#' && query[i] != '\r' && query[i] != '\n', "bad byte in emitted query");
    if (call == st->fail_at) return HG_ENOMEM;
    int rc = hg_buf_append(out, kind == HG_URI_PLAYLIST ? "<P:" : "<M:", 3);
    if (rc == 0) rc = hg_buf_append(out, key, key_len);
    if (rc == 0 && query) rc = hg_buf_appendc(out, '?');
    if (rc == 0 && query) rc = hg_buf_append(out, query, query_len);
    if (rc == 0) rc = hg_buf_appendc(out, '>');
    return rc;
}

static int fake_plain(void *ud, const char *name, size_t n, hg_buf_t *out)
{
    static unsigned calls;
    (void)ud;
    FZ_CHECK(n > 0 && hg_uri_plain(name, n), "fast lane given a name that is not plain");
    FZ_CHECK(name[0] != '/' && !hg_key_is_playlist(name, n), "fast lane given an absolute name or a playlist");
    if ((PLAIN_DECLINE >> (calls++ & 31)) & 1) return HG_RW_DECLINE;
    int rc = hg_buf_append(out, "<M:", 3);
    if (rc == 0 && *BASE) rc = hg_buf_appends(out, BASE);
    if (rc == 0 && *BASE) rc = hg_buf_appendc(out, '/');
    if (rc == 0) rc = hg_buf_append(out, name, n);
    if (rc == 0) rc = hg_buf_appendc(out, '>');
    return rc;
}

typedef struct {
    int rc;
    hg_buf_t out;
    emit_state_t emit;
    /* metadata after finish */
    int is_master, has_extinf, has_endlist, type_vod, type_event, live, lines;
    double target;
    long presigned, gateway, kept, refused;
} run_t;

/* Feed in[0..n): cuts (ascending) split it, or step > 0 feeds step bytes at a time. empties:
 * add a zero-length feed before piece i when bit i is set. */
static void run(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts, size_t step,
                unsigned empties, long fail_at, run_t *r)
{
    memset(r, 0, sizeof *r);
    hg_buf_init(&r->out, 0);
    r->emit.fail_at = fail_at;
    hg_rewriter_t rw;
    FZ_CHECK(hg_rewriter_init(&rw, BASE, strlen(BASE), MAX_LINE, fake_emit, &r->emit) == 0, "init");
    if (USE_PLAIN) hg_rewriter_set_plain(&rw, fake_plain);
    const char *d = (const char *)in;
    int rc = 0;
    if (step) {
        for (size_t at = 0; at < n && rc == 0; at += step)
            rc = hg_rewriter_feed(&rw, d + at, at + step <= n ? step : n - at, &r->out);
    } else {
        size_t at = 0;
        for (size_t i = 0; i <= ncuts && rc == 0; i++) {
            size_t to = i < ncuts ? cuts[i] : n;
            if (i < 32 && (empties >> i) & 1) rc = hg_rewriter_feed(&rw, d + at, 0, &r->out);
            if (rc == 0) rc = hg_rewriter_feed(&rw, d + at, to - at, &r->out);
            at = to;
        }
    }
    if (rc == 0) rc = hg_rewriter_finish(&rw, &r->out);
    r->rc = rc;
    if (rc != 0) {
        /* Errors are sticky. */
        FZ_CHECK(hg_rewriter_feed(&rw, "\n#EXTINF:1,\nx.ts\n", 17, &r->out) == rc, "error not sticky (feed)");
        FZ_CHECK(hg_rewriter_finish(&rw, &r->out) == rc, "error not sticky (finish)");
    }
    r->is_master = rw.is_master;
    r->has_extinf = rw.has_extinf;
    r->has_endlist = rw.has_endlist;
    r->type_vod = rw.type_vod;
    r->type_event = rw.type_event;
    r->live = hg_rewriter_is_live(&rw);
    r->lines = rw.line_no;
    r->target = rw.target_duration;
    r->presigned = rw.presigned;
    r->gateway = rw.gateway;
    r->kept = rw.kept;
    r->refused = rw.refused;
    hg_rewriter_free(&rw);
}

static void same(const run_t *a, const run_t *b, const char *what)
{
    FZ_CHECK(a->rc == b->rc, "%s: rc %d vs %d for the whole input", what, b->rc, a->rc);
    if (a->rc != 0) return;
    if (a->out.len != b->out.len || (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0)) {
        fz_dump("whole output", a->out.data, a->out.len);
        fz_dump(what, b->out.data, b->out.len);
        FZ_CHECK(0, "%s: output differs from the whole input's", what);
    }
    FZ_CHECK(a->is_master == b->is_master && a->has_extinf == b->has_extinf &&
                 a->has_endlist == b->has_endlist && a->type_vod == b->type_vod &&
                 a->type_event == b->type_event && a->live == b->live && a->lines == b->lines &&
                 a->target == b->target && a->presigned == b->presigned && a->gateway == b->gateway &&
                 a->kept == b->kept && a->refused == b->refused,
             "%s: metadata differs from the whole input's", what);
}

/* ---- line-by-line check of a successful rewrite --------------------------------------------- */

typedef struct {
    const char *s;
    size_t n;      /* line without its end */
    const char *t; /* line end: "\n", "\r\n", "\r" or "" at the very end */
    size_t tn;
} line_t;

/* Next line of p[*pos..n) with the rewriter's rules: LF, CRLF or a lone CR end a line. */
static int next_line(const char *p, size_t n, size_t *pos, line_t *l)
{
    size_t i = *pos;
    if (i >= n) return 0;
    l->s = p + i;
    while (i < n && p[i] != '\n' && p[i] != '\r') i++;
    l->n = (size_t)(p + i - l->s);
    l->t = p + i;
    l->tn = i >= n ? 0 : (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
    *pos = i + l->tn;
    return 1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Tags whose URI / SERVER-URI attribute is rewritten (RFC 8216 and its bis draft). */
static int uri_tag(const char *s, size_t n)
{
    static const char *const tags[] = {"#EXT-X-KEY", "#EXT-X-MAP", "#EXT-X-PART", "#EXT-X-PRELOAD-HINT",
                                       "#EXT-X-RENDITION-REPORT", "#EXT-X-MEDIA",
                                       "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-IMAGE-STREAM-INF",
                                       "#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY",
                                       "#EXT-X-CONTENT-STEERING"};
    const char *colon = memchr(s, ':', n);
    if (!colon) return 0; /* no attribute list */
    size_t name = (size_t)(colon - s);
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (strlen(tags[i]) == name && memcmp(tags[i], s, name) == 0) return 1;
    return 0;
}

static void check_lines(const run_t *r)
{
    const char *in = (const char *)IN, *out = r->out.data ? r->out.data : "";
    size_t ip = 0, op = 0, no = 0;
    line_t a, b;
    while (next_line(in, IN_LEN, &ip, &a)) {
        FZ_CHECK(next_line(out, r->out.len, &op, &b), "output has fewer lines than the input (%zu)", no);
        FZ_CHECK(a.tn == b.tn && memcmp(a.t, b.t, a.tn) == 0, "line %zu: line end changed", no);
        size_t ws = 0;
        while (ws < a.n && is_ws(a.s[ws])) ws++;
        int uri_line = no > 0 && ws < a.n && a.s[0] != '#';
        int may_change = uri_line || (no > 0 && a.n > 0 && a.s[0] == '#' && uri_tag(a.s, a.n));
        if (!may_change) {
            if (a.n != b.n || memcmp(a.s, b.s, a.n) != 0) {
                fz_dump("input line", a.s, a.n);
                fz_dump("output line", b.s, b.n);
                FZ_CHECK(0, "line %zu cannot hold a URI but was changed", no);
            }
        } else if (uri_line) {
            /* Left alone: copied as written. Rewritten: the URL alone, no whitespace around it
             * (a leading space would become part of the URL for ffmpeg). */
            int same_line = a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
            FZ_CHECK(same_line || (b.n > 0 && !is_ws(b.s[0]) && !is_ws(b.s[b.n - 1])),
                     "line %zu: a rewritten URI line keeps whitespace around the URL", no);
        } else {
            const char *colon = memchr(a.s, ':', a.n);
            size_t keep = (size_t)(colon - a.s) + 1;
            FZ_CHECK(b.n >= keep && memcmp(a.s, b.s, keep) == 0, "line %zu: tag name changed", no);
        }
        no++;
    }
    FZ_CHECK(!next_line(out, r->out.len, &op, &b), "output has more lines than the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const bases[] = {"shows/ep1", "", "a", "x/y/z", "\xc3\xa9t\xc3\xa9/2024"};
    fz_on_fail = fail_dump;
    IN = data;
    IN_LEN = size;
    uint64_t s = fz_hash(data, size);
    uint64_t m = fz_next(&s);
    BASE = bases[m % 5];
    MAX_LINE = ((m >> 8) & 3) == 0 ? 16 + (size_t)((m >> 16) % 240) : 0;

    run_t whole, other;
    run(data, size, NULL, 0, 0, 0, -1, &whole);
    FZ_CHECK(whole.presigned + whole.gateway == whole.emit.calls, "counters do not match emit calls");
    if (whole.rc == 0) check_lines(&whole);

    if (size <= 4096) {
        run(data, size, NULL, 0, 1, 0, -1, &other);
        same(&whole, &other, "one byte per feed");
        hg_buf_free(&other.out);
    }
    for (int k = 0; k < 2; k++) {
        size_t cuts[8];
        size_t ncuts = fz_cuts(&s, size, cuts, 1 + (size_t)(fz_next(&s) % 8));
        run(data, size, cuts, ncuts, 0, (unsigned)fz_next(&s), -1, &other);
        if (whole.rc != other.rc || whole.out.len != other.out.len) {
            fprintf(stderr, "split at:");
            for (size_t i = 0; i < ncuts; i++) fprintf(stderr, " %zu", cuts[i]);
            fprintf(stderr, "\n");
        }
        same(&whole, &other, "split input");
        hg_buf_free(&other.out);
    }
    {
        size_t cuts[8];
        size_t ncuts = fz_cuts(&s, size, cuts, 1 + (size_t)(fz_next(&s) % 8));
        PLAIN_DECLINE = (uint32_t)fz_next(&s) & (uint32_t)fz_next(&s); /* mostly taken */
        USE_PLAIN = 1;
        run(data, size, cuts, ncuts, 0, 0, -1, &other);
        USE_PLAIN = 0;
        same(&whole, &other, "fast lane for plain names");
        hg_buf_free(&other.out);
    }
    if (whole.emit.calls > 0) {
        long at = (long)(fz_next(&s) % (uint64_t)whole.emit.calls);
        run(data, size, NULL, 0, 0, 0, at, &other);
        FZ_CHECK(other.rc == HG_ENOMEM, "emit failed at call %ld but the rewrite returned %d", at, other.rc);
        hg_buf_free(&other.out);
    }
    hg_buf_free(&whole.out);
    return 0;
}
