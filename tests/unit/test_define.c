/* EXT-X-DEFINE (RFC 8216bis 4.4.2.3) in the rewriter: NAME/VALUE, QUERYPARAM and IMPORT,
 * substitution before resolving and signing, the errors the draft asks for, variables carried
 * from a multivariant playlist to its nested playlists and imported there, split invariance. */
#include <stdlib.h>

#include "hls/rewrite.h"
#include "test.h"

#define BASE "shows/ep1"

static int fake_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                     const char *query, size_t query_len, hg_buf_t *out)
{
    (void)ud;
    int rc = hg_buf_append(out, kind == HG_URI_PLAYLIST ? "GW<" : "S3<", 3);
    if (rc == 0) rc = hg_buf_append(out, key, key_len);
    if (rc == 0 && query) rc = hg_buf_appendc(out, '?');
    if (rc == 0 && query) rc = hg_buf_append(out, query, query_len);
    if (rc == 0) rc = hg_buf_appendc(out, '>');
    return rc;
}

typedef struct {
    int rc;
    long presigned, gateway, kept, refused, substituted;
    char err[160];
} res_t;

/* Rewrite in (fed `step` bytes at a time, 0: whole) with an optional request query. */
static res_t rw_run(const char *in, const char *query, size_t step, hg_buf_t *out)
{
    res_t r;
    hg_rewriter_t rw;
    hg_buf_reset(out);
    CHECK(hg_rewriter_init(&rw, BASE, strlen(BASE), 0, fake_emit, NULL) == 0);
    if (query) CHECK(hg_rewriter_set_request_query(&rw, query, strlen(query)) == 0);
    size_t n = strlen(in), at = 0;
    int rc = 0;
    if (!step) step = n ? n : 1;
    for (; at < n && rc == 0; at += step) rc = hg_rewriter_feed(&rw, in + at, at + step <= n ? step : n - at, out);
    if (rc == 0) rc = hg_rewriter_finish(&rw, out);
    r.rc = rc;
    r.presigned = rw.presigned;
    r.gateway = rw.gateway;
    r.kept = rw.kept;
    r.refused = rw.refused;
    r.substituted = rw.substituted;
    snprintf(r.err, sizeof r.err, "%s", rw.var_error);
    if (hg_buf_appendc(out, '\0') == 0) out->len--;
    hg_rewriter_free(&rw);
    return r;
}

#define H "#EXTM3U\n"

static void expect(const char *in, const char *query, const char *want)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    res_t r = rw_run(in, query, 0, &out);
    CHECK(r.rc == 0);
    if (r.rc) fprintf(stderr, "  rc %d (%s) for [%s]\n", r.rc, r.err, in);
    CHECK_STR(out.data ? out.data : "", want);
    /* byte at a time: same output */
    hg_buf_t one;
    hg_buf_init(&one, 0);
    res_t r1 = rw_run(in, query, 1, &one);
    CHECK(r1.rc == r.rc && one.len == out.len && !memcmp(one.data, out.data, out.len));
    hg_buf_free(&one);
    hg_buf_free(&out);
}

static void expect_error(const char *in, const char *query, const char *why)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);
    res_t r = rw_run(in, query, 0, &out);
    CHECK(r.rc == HG_EVAR);
    CHECK(strstr(r.err, why) != NULL);
    if (r.rc != HG_EVAR || !strstr(r.err, why))
        fprintf(stderr, "  got rc %d err [%s], want [%s] for [%s]\n", r.rc, r.err, why, in);
    hg_buf_free(&out);
}

int main(void)
{
    hg_buf_t out;
    hg_buf_init(&out, 0);

    /* NAME/VALUE: URI lines and URI attributes, substituted before resolving; the DEFINE stays */
    expect(H "#EXT-X-DEFINE:NAME=\"v\",VALUE=\"720p\"\n#EXT-X-MAP:URI=\"{$v}/init.mp4\"\n#EXTINF:4,\n{$v}/seg-{$v}.ts?x={$v}\n",
           NULL,
           H "#EXT-X-DEFINE:NAME=\"v\",VALUE=\"720p\"\n#EXT-X-MAP:URI=\"S3<shows/ep1/720p/init.mp4>\"\n#EXTINF:4,\n"
             "S3<shows/ep1/720p/seg-720p.ts?x=720p>\n");
    res_t r = rw_run(H "#EXT-X-DEFINE:NAME=\"a-b_9\",VALUE=\"x\"\n{$a-b_9}.ts\nplain.ts\n", NULL, 0, &out);
    CHECK(r.rc == 0 && r.presigned == 2 && r.substituted == 1 && r.kept == 0);
    /* a value climbing out of the namespace is refused; an absolute result is left to the player */
    expect(H "#EXT-X-DEFINE:NAME=\"up\",VALUE=\"../../..\"\n{$up}/x.ts\n", NULL,
           H "#EXT-X-DEFINE:NAME=\"up\",VALUE=\"../../..\"\n{$up}/x.ts\n");
    expect(H "#EXT-X-DEFINE:NAME=\"cdn\",VALUE=\"https://cdn.example.com\"\n{$cdn}/x.ts\n", NULL,
           H "#EXT-X-DEFINE:NAME=\"cdn\",VALUE=\"https://cdn.example.com\"\n{$cdn}/x.ts\n");
    /* not a reference: copied (and, containing "{$", left to the player) */
    r = rw_run(H "#EXT-X-DEFINE:NAME=\"v\",VALUE=\"1\"\na{$}.ts\n{$v\n", NULL, 0, &out);
    CHECK(r.rc == 0 && r.kept == 2 && r.presigned == 0);

    /* errors the draft asks for */
    expect_error(H "{$nope}.ts\n", NULL, "undefined variable 'nope'");
    expect_error(H "#EXT-X-MAP:URI=\"{$v}.mp4\"\n#EXT-X-DEFINE:NAME=\"v\",VALUE=\"1\"\n", NULL, "undefined variable 'v'");
    expect_error(H "#EXT-X-DEFINE:NAME=\"v\",VALUE=\"1\"\n#EXT-X-DEFINE:NAME=\"v\",VALUE=\"2\"\n", NULL, "defined twice");
    expect_error(H "#EXT-X-DEFINE:NAME=\"v\"\n", NULL, "NAME and VALUE");
    expect_error(H "#EXT-X-DEFINE:NAME=\"v\",VALUE=1\n", NULL, "malformed");
    expect_error(H "#EXT-X-DEFINE:NAME=\"v\",VALUE=\"1\",IMPORT=\"w\"\n", NULL, "NAME and VALUE");
    expect_error(H "#EXT-X-DEFINE:NAME=\"a b\",VALUE=\"1\"\n", NULL, "invalid variable name");
    expect_error(H "#EXT-X-DEFINE:NAME=\"\",VALUE=\"1\"\n", NULL, "empty name");
    expect_error(H "#EXT-X-DEFINE:NAME=\"v,VALUE=\"1\"\n", NULL, "malformed");

    /* QUERYPARAM and IMPORT: deferred (left for the player) until the caller gives a query */
    r = rw_run(H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n{$tok}/a.ts\nb.ts\n", NULL, 0, &out);
    CHECK(r.rc == 0 && r.kept == 1 && r.presigned == 1);
    CHECK_STR(out.data, H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n{$tok}/a.ts\nS3<shows/ep1/b.ts>\n");
    expect(H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n{$tok}/a.ts\n", "x=1&tok=ab%20c+d&hdnts=zz",
           H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\nS3<shows/ep1/ab c d/a.ts>\n");
    expect(H "#EXT-X-DEFINE:QUERYPARAM=\"e\"\nx{$e}.ts\n", "e", H "#EXT-X-DEFINE:QUERYPARAM=\"e\"\nS3<shows/ep1/x.ts>\n");
    expect_error(H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n", "", "QUERYPARAM missing from the request: 'tok'");
    expect_error(H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n", "tokx=1&xtok=2", "QUERYPARAM missing");
    expect_error(H "#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n", "tok=%zz", "bad percent-escape");
    expect(H "#EXT-X-DEFINE:IMPORT=\"base\"\n{$base}/a.ts\n", "hgv-base=x%2Fy",
           H "#EXT-X-DEFINE:IMPORT=\"base\"\nS3<shows/ep1/x/y/a.ts>\n");
    expect_error(H "#EXT-X-DEFINE:IMPORT=\"base\"\n", "base=1", "does not define: 'base'");

    /* carried from a multivariant playlist to its nested playlists, then imported there */
    const char *master = H "#EXT-X-DEFINE:NAME=\"r\",VALUE=\"a b&c=d/é\"\n#EXT-X-DEFINE:QUERYPARAM=\"sid\"\n"
                           "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/{$r}.m3u8\"\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8?q=1\n";
    r = rw_run(master, "sid=42", 0, &out);
    CHECK(r.rc == 0 && r.gateway == 2);
    const char *carry = "hgv-r=a%20b%26c%3Dd%2F%C3%A9&hgv-sid=42";
    char want[1024];
    snprintf(want, sizeof want,
             H "#EXT-X-DEFINE:NAME=\"r\",VALUE=\"a b&c=d/é\"\n#EXT-X-DEFINE:QUERYPARAM=\"sid\"\n"
               "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"GW<shows/ep1/audio/a b&c=d/é.m3u8?%s>\"\n"
               "#EXT-X-STREAM-INF:BANDWIDTH=1\nGW<shows/ep1/v0/index.m3u8?q=1&%s>\n",
             carry, carry);
    CHECK_STR(out.data, want);
    /* the nested playlist, requested with that query, imports both */
    char q[256];
    snprintf(q, sizeof q, "q=1&%s", carry);
    expect(H "#EXT-X-DEFINE:IMPORT=\"sid\"\n#EXT-X-DEFINE:IMPORT=\"r\"\n#EXT-X-DEFINE:NAME=\"own\",VALUE=\"o\"\n"
             "#EXTINF:4,\n{$sid}/{$own}.ts\n#EXT-X-RENDITION-REPORT:URI=\"../v1/i.m3u8\",LAST-MSN=1\n",
           q,
           H "#EXT-X-DEFINE:IMPORT=\"sid\"\n#EXT-X-DEFINE:IMPORT=\"r\"\n#EXT-X-DEFINE:NAME=\"own\",VALUE=\"o\"\n"
             "#EXTINF:4,\nS3<shows/ep1/42/o.ts>\n"
             "#EXT-X-RENDITION-REPORT:URI=\"GW<shows/v1/i.m3u8?hgv-sid=42&hgv-r=a%20b%26c%3Dd%2F%C3%A9>\",LAST-MSN=1\n");
    /* a media playlist's own variables are not carried; deferred ones cannot be */
    expect(H "#EXT-X-DEFINE:NAME=\"own\",VALUE=\"o\"\n#EXT-X-DEFINE:IMPORT=\"x\"\n#EXTINF:4,\na.ts\n"
             "#EXT-X-RENDITION-REPORT:URI=\"../v1/i.m3u8\"\n",
           NULL,
           H "#EXT-X-DEFINE:NAME=\"own\",VALUE=\"o\"\n#EXT-X-DEFINE:IMPORT=\"x\"\n#EXTINF:4,\nS3<shows/ep1/a.ts>\n"
             "#EXT-X-RENDITION-REPORT:URI=\"GW<shows/v1/i.m3u8>\"\n");
    /* without variables nothing changes */
    expect(H "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", "sid=1", H "#EXT-X-STREAM-INF:BANDWIDTH=1\nGW<shows/ep1/v.m3u8>\n");

    hg_buf_free(&out);
    TEST_DONE();
}
