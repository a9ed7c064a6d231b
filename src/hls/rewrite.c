/* Streaming HLS playlist rewriter (see rewrite.h).
 *
 * Lines are processed straight from the caller's piece when they end inside it; only a line that
 * straddles two pieces is copied into rw->line. Line ends are found with memchr, so the per-byte
 * work is done by libc, and a line is handed to the slow paths (tag lookup, URI resolution) once.
 *
 * Line ends are LF, CRLF or a lone CR (as several players accept). A CR always ends a line; when a
 * piece ends in CR, pending_cr makes a leading LF of the next piece part of that line end, so the
 * line count and the output do not depend on where the input was split. */
#include "rewrite.h"
#include "rewrite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../common/pct.h"
#include "uri.h"

/* One EXT-X-DEFINE variable; name and value are offsets into rw->varbuf. */

enum {
    T_URI = 1 << 0,        /* has a URI="..." attribute */
    T_SERVER_URI = 1 << 1, /* has a SERVER-URI="..." attribute (EXT-X-CONTENT-STEERING) */
    T_PLAYLIST = 1 << 2,   /* its URI names a playlist whatever the extension */
    T_MASTER = 1 << 3,     /* only found in master playlists */
    T_STREAM_INF = 1 << 4,
    T_EXTINF = 1 << 5,
    T_ENDLIST = 1 << 6,
    T_TYPE = 1 << 7,
    T_TARGET = 1 << 8,
    T_DEFINE = 1 << 9,
};

typedef struct {
    const char *name;
    size_t len;
    unsigned flags;
} tag_def_t;

#define TAG(s, f)                                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1, f                                                                        \
    }
/* Tags the rewriter looks at. Every other tag (BYTERANGE, DATERANGE, SKIP, unknown
 * ones...) is copied without even parsing its attributes, so a DATERANGE "X-URI" stays as is. */
static const tag_def_t TAGS[] = {
    TAG("#EXTINF", T_EXTINF),
    TAG("#EXT-X-KEY", T_URI),
    TAG("#EXT-X-MAP", T_URI),
    TAG("#EXT-X-PART", T_URI),
    TAG("#EXT-X-PRELOAD-HINT", T_URI),
    TAG("#EXT-X-RENDITION-REPORT", T_URI | T_PLAYLIST),
    TAG("#EXT-X-ENDLIST", T_ENDLIST),
    TAG("#EXT-X-PLAYLIST-TYPE", T_TYPE),
    TAG("#EXT-X-TARGETDURATION", T_TARGET),
    TAG("#EXT-X-DEFINE", T_DEFINE),
    TAG("#EXT-X-STREAM-INF", T_MASTER | T_STREAM_INF),
    TAG("#EXT-X-MEDIA", T_MASTER | T_URI | T_PLAYLIST),
    TAG("#EXT-X-I-FRAME-STREAM-INF", T_MASTER | T_URI | T_PLAYLIST),
    TAG("#EXT-X-IMAGE-STREAM-INF", T_MASTER | T_URI | T_PLAYLIST),
    TAG("#EXT-X-SESSION-DATA", T_MASTER | T_URI),
    TAG("#EXT-X-SESSION-KEY", T_MASTER | T_URI),
    /* SERVER-URI names a JSON steering manifest: presigned unless it ends in .m3u8 */
    TAG("#EXT-X-CONTENT-STEERING", T_MASTER | T_SERVER_URI),
};

/* The first line must be exactly this, optionally followed by spaces or tabs. */
static const char HEADER_BOM[] = "\xEF\xBB\xBF#EXTM3U";

int hg_rw_is_ws(char c)
{
    return c == ' ' || c == '\t';
}

int hg_rw_fail(hg_rewriter_t *rw, int rc)
{
    rw->failed = rc;
    return rc;
}

int hg_rw_put(hg_rewriter_t *rw, hg_buf_t *out, const char *p, size_t n)
{
    int rc = hg_buf_append(out, p, n);
    return rc ? hg_rw_fail(rw, rc) : 0;
}

/* Is byte c acceptable at index i of the first line, whose first byte is `first`? Deciding byte by
 * byte lets feed() refuse a non-playlist as soon as its first wrong byte arrives. */
static int header_byte_ok(unsigned char first, size_t i, char c)
{
    const char *want = first == 0xEF ? HEADER_BOM : HEADER_BOM + 3;
    size_t want_len = first == 0xEF ? sizeof HEADER_BOM - 1 : sizeof HEADER_BOM - 4;
    if (i < want_len) return c == want[i];
    return hg_rw_is_ws(c);
}

/* Check first-line bytes p[0..n), which sit at index `at` of the line. Bytes past max_line are
 * not looked at: that line fails as too long, whatever the split. Returns 0 or -1. */
static int header_check(const hg_rewriter_t *rw, unsigned char first, size_t at, const char *p,
                        size_t n)
{
    for (size_t i = 0; i < n && at + i <= rw->max_line; i++)
        if (!header_byte_ok(first, at + i, p[i])) return -1;
    return 0;
}


/* The first '\n' or '\r' in [p, end), or NULL: one pass for both (lines are short, so two
 * memchr calls per line cost more in calls than in scanning). */
static const char *find_eol(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    for (; p < end; p++)
        if (*p == '\n' || *p == '\r') return p;
    return NULL;
}

/* Rewrite one URI: raw[0..n) is a whole URI line or the inside of a quoted attribute. Whitespace
 * around it is kept; the URI itself is replaced, or copied when it must be left alone. */
static int rewrite_uri(hg_rewriter_t *rw, const char *raw, size_t n, int ctx_playlist,
                       hg_buf_t *out)
{
    size_t a = 0, b = n;
    while (a < b && hg_rw_is_ws(raw[a]))
        a++;
    while (b > a && hg_rw_is_ws(raw[b - 1]))
        b--;
    int rc;

    /* Variables are substituted first (8216bis 4.3), then the result is resolved and signed. A
     * URI that is then left alone is copied as written: the player substitutes it the same way. */
    const char *u = raw + a;
    size_t un = b - a;
    int plain = hg_uri_plain(u, un); /* the usual segment name: nothing to substitute or decode */
    /* Fast lane: a relative plain media name, whose key is base "/" name (so its suffix is the
     * name's: hg_key_is_playlist gives the same answer on either). */
    if (plain && rw->emit_plain && !ctx_playlist && u[0] != '/' &&
        (rw->base_len ? rw->base_len + 1 + un : un) <= HG_KEY_MAX && !hg_key_is_playlist(u, un)) {
        rc = rw->emit_plain(rw->ud, u, un, out);
        if (rc == 0) {
            rw->presigned++;
            return 0;
        }
        if (rc != HG_RW_DECLINE) return hg_rw_fail(rw, rc);
    }
    int subst = !plain && memmem(u, un, "{$", 2) != NULL;
    if (subst) {
        rc = hg_rw_substitute(rw, u, un);
        if (rc < 0) return rc;
        if (rc == 1) {
            rw->kept++;
            return hg_rw_put(rw, out, raw, n);
        }
        u = rw->subst.data ? rw->subst.data : "";
        un = rw->subst.len;
    }
    hg_uri_parts_t parts;
    hg_buf_reset(&rw->scratch);
    hg_uri_result_t res;
    if (plain) {
        parts = (hg_uri_parts_t){NULL, 0, NULL, 0};
        res = hg_uri_resolve_plain(rw->base, rw->base_len, u, un, &rw->scratch);
    } else {
        res = hg_uri_resolve(rw->base, rw->base_len, u, un, &rw->scratch, &parts);
    }
    /* S3 keys are at most 1,024 bytes: a longer one names no object, so it is never signed
     * (and a megabyte-long URI line costs no hashing). */
    if (res == HG_URI_RESOLVED && rw->scratch.len > HG_KEY_MAX) res = HG_URI_INVALID;
    switch (res) {
    case HG_URI_RESOLVED: {
        /* The new URL stands alone: whitespace around a URI is not part of it, and some
         * players (ffmpeg) would take a leading space as part of the URL. */
        int playlist = ctx_playlist || hg_key_is_playlist(rw->scratch.data, rw->scratch.len);
        const char *q = parts.query;
        size_t qn = parts.query_len;
        if (playlist && rw->nvars && (rc = hg_rw_carry_vars(rw, &q, &qn)) != 0) return hg_rw_fail(rw, rc);
        rw->substituted += subst;
        rc = rw->emit(rw->ud, playlist ? HG_URI_PLAYLIST : HG_URI_MEDIA, rw->scratch.data,
                      rw->scratch.len, q, qn, out);
        if (rc) return hg_rw_fail(rw, rc);
        if (playlist)
            rw->gateway++;
        else
            rw->presigned++;
        /* The fragment is kept after the new URL: clients never send it, so it cannot break a
         * signature, and players that read it (e.g. "#t=10") still see it. */
        if (parts.fragment) {
            rc = hg_rw_put(rw, out, parts.fragment - 1, parts.fragment_len + 1);
            if (rc) return rc;
        }
        return 0;
    }
    case HG_URI_KEEP:
        rw->kept++;
        break;
    case HG_URI_ESCAPES:
    case HG_URI_INVALID:
        rw->refused++;
        break;
    default:
        return hg_rw_fail(rw, HG_ENOMEM);
    }
    /* Left alone: every byte as it was. */
    return hg_rw_put(rw, out, raw, n);
}


/* Next attribute of an attribute list (RFC 8216 4.2) starting at *pos. Quoted strings may hold
 * ',' and '=', so names are only ever read at attribute boundaries. Spaces before a name or after
 * a closing quote are tolerated (seen in the wild). Returns 1 with *a filled, 0 at the end, -1
 * when the list is malformed (unterminated quote, quote inside a name, junk after a quote). */
int hg_rw_attr_next(const char *s, size_t n, size_t *pos, hg_rw_attr_t *a)
{
    size_t i = *pos;
    while (i < n && hg_rw_is_ws(s[i]))
        i++;
    if (i >= n) return 0;
    a->name = i;
    while (i < n && s[i] != '=' && s[i] != ',') {
        if (s[i] == '"') return -1;
        i++;
    }
    a->name_len = i - a->name;
    a->quoted = 0;
    a->val = i;
    a->val_len = 0;
    if (i < n && s[i] == '=') {
        i++;
        if (i < n && s[i] == '"') {
            const char *close = memchr(s + i + 1, '"', n - i - 1);
            if (!close) return -1;
            a->quoted = 1;
            a->val = i + 1;
            a->val_len = (size_t)(close - s) - a->val;
            i = (size_t)(close - s) + 1;
            while (i < n && hg_rw_is_ws(s[i]))
                i++;
            if (i < n && s[i] != ',') return -1;
        } else {
            const char *comma = memchr(s + i, ',', n - i);
            a->val = i;
            i = comma ? (size_t)(comma - s) : n;
            a->val_len = i - a->val;
        }
    }
    if (i < n) i++; /* the ',' */
    *pos = i;
    return 1;
}

/* A tag whose attribute `URI` (or `SERVER-URI`) may need rewriting. s[0..colon) is the name. */
static int rewrite_uri_tag(hg_rewriter_t *rw, const char *s, size_t n, size_t colon, unsigned flags,
                           hg_buf_t *out)
{
    const char *want = (flags & T_SERVER_URI) ? "SERVER-URI" : "URI";
    size_t want_len = strlen(want);
    hg_rw_attr_t a;
    size_t pos = colon + 1;
    int r;
    /* Validate the whole list first: a malformed line is copied untouched, not half rewritten. */
    while ((r = hg_rw_attr_next(s, n, &pos, &a)) > 0) {
    }
    if (r < 0) {
        rw->refused++;
        return hg_rw_put(rw, out, s, n);
    }
    size_t done = 0;
    pos = colon + 1;
    while (hg_rw_attr_next(s, n, &pos, &a) > 0) {
        if (a.name_len != want_len || memcmp(s + a.name, want, want_len) != 0) continue;
        if (!a.quoted) { /* the spec requires a quoted-string: do not guess */
            rw->refused++;
            continue;
        }
        int rc = hg_rw_put(rw, out, s + done, a.val - done);
        if (rc == 0) rc = rewrite_uri(rw, s + a.val, a.val_len, (flags & T_PLAYLIST) != 0, out);
        if (rc) return rc;
        done = a.val + a.val_len;
    }
    return hg_rw_put(rw, out, s + done, n - done);
}

/* Value of a tag after ':' without surrounding whitespace. */
static void tag_value(const char *s, size_t n, size_t colon, const char **v, size_t *vn)
{
    size_t a = colon < n ? colon + 1 : n, b = n;
    while (a < b && hg_rw_is_ws(s[a]))
        a++;
    while (b > a && hg_rw_is_ws(s[b - 1]))
        b--;
    *v = s + a;
    *vn = b - a;
}

/* decimal-integer or decimal-floating-point without sign; -1 when it is neither. */
static double parse_decimal(const char *v, size_t n)
{
    double x = 0, scale = 1;
    size_t i = 0, digits = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++)
        x = x * 10 + (v[i] - '0');
    if (i < n && v[i] == '.') {
        for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
            scale /= 10;
            x += (v[i] - '0') * scale;
        }
    }
    return (digits == 0 || i != n) ? -1 : x;
}

/* rewrite_tag's answer for a line that stays as it is: process_line copies it with its line end. */
#define COPY_LINE 1

static int rewrite_tag(hg_rewriter_t *rw, const char *s, size_t n, hg_buf_t *out)
{
    const char *c = memchr(s, ':', n);
    size_t colon = c ? (size_t)(c - s) : n;
    size_t name_len = colon;
    if (!c)
        while (name_len > 0 && hg_rw_is_ws(s[name_len - 1]))
            name_len--;

    const tag_def_t *t = NULL;
    for (size_t i = 0; i < sizeof TAGS / sizeof TAGS[0]; i++) {
        if (TAGS[i].len == name_len && memcmp(TAGS[i].name, s, name_len) == 0) {
            t = &TAGS[i];
            break;
        }
    }
    if (!t) return COPY_LINE;

    const char *v;
    size_t vn;
    if (t->flags & T_MASTER) rw->is_master = 1;
    if (t->flags & T_STREAM_INF) rw->next_is_playlist = 1;
    if (t->flags & T_EXTINF) rw->has_extinf = 1;
    if (t->flags & T_ENDLIST) rw->has_endlist = 1;
    if (t->flags & T_TYPE) {
        tag_value(s, n, colon, &v, &vn);
        if (vn == 3 && memcmp(v, "VOD", 3) == 0) rw->type_vod = 1;
        if (vn == 5 && memcmp(v, "EVENT", 5) == 0) rw->type_event = 1;
    }
    if (t->flags & T_TARGET) {
        tag_value(s, n, colon, &v, &vn);
        double d = parse_decimal(v, vn);
        if (d >= 0) rw->target_duration = d;
    }
    if ((t->flags & T_DEFINE) && c) {
        int rc = hg_rw_define(rw, s, n, colon);
        if (rc) return rc;
    }
    if ((t->flags & (T_URI | T_SERVER_URI)) && c)
        return rewrite_uri_tag(rw, s, n, colon, t->flags, out);
    return COPY_LINE;
}

/* One complete line s[0..n) without its line end term[0..tn). */
static int process_line(hg_rewriter_t *rw, const char *s, size_t n, const char *term, size_t tn,
                        hg_buf_t *out)
{
    int rc;
    if (rw->line_no == 0) {
        size_t need = (n > 0 && (unsigned char)s[0] == 0xEF) ? sizeof HEADER_BOM - 1 : 7;
        if (n < need || header_check(rw, n ? (unsigned char)s[0] : 0, 0, s, n) != 0)
            return hg_rw_fail(rw, HG_ENOTPLAYLIST);
        rc = COPY_LINE;
    } else if (n > 0 && s[0] == '#') {
        if (n >= 8 && memcmp(s, "#EXTINF:", 8) == 0) {
            rw->has_extinf = 1; /* every other line of a media playlist: no table lookup */
            rc = COPY_LINE;
        } else if (n >= 4 && memcmp(s, "#EXT", 4) == 0)
            rc = rewrite_tag(rw, s, n, out);
        else
            rc = COPY_LINE; /* comment */
    } else {
        size_t i = 0;
        while (i < n && hg_rw_is_ws(s[i]))
            i++;
        if (i == n) {
            rc = COPY_LINE; /* blank */
        } else {
            rc = rewrite_uri(rw, s, n, rw->next_is_playlist, out);
            rw->next_is_playlist = 0;
        }
    }
    rw->line_no++;
    if (rc == COPY_LINE) {
        /* One copy with the line end when they are adjacent in the input (the usual case). */
        if (term == s + n) return hg_rw_put(rw, out, s, n + tn);
        rc = hg_rw_put(rw, out, s, n);
    }
    if (rc == 0) rc = hg_rw_put(rw, out, term, tn);
    return rc;
}

int hg_rewriter_init(hg_rewriter_t *rw, const char *base, size_t base_len, size_t max_line,
                     hg_emit_fn emit, void *ud)
{
    memset(rw, 0, sizeof *rw);
    rw->base = malloc(base_len + 1);
    if (!rw->base) return HG_ENOMEM;
    if (base_len) memcpy(rw->base, base, base_len);
    rw->base[base_len] = '\0';
    rw->base_len = base_len;
    rw->max_line = max_line ? max_line : HG_RW_DEFAULT_MAX_LINE;
    rw->emit = emit;
    rw->ud = ud;
    hg_buf_init(&rw->line, 0); /* capped by max_line in feed() */
    hg_buf_init(&rw->scratch, 0);
    /* Variables are attacker-chosen: their values (all of them together) and a URI after
     * substitution are capped, so "{$a}{$a}..." cannot blow a line up into gigabytes. */
    hg_buf_init(&rw->varbuf, 1024 * 1024);
    hg_buf_init(&rw->subst, rw->max_line);
    hg_buf_init(&rw->carry, rw->max_line);
    rw->target_duration = -1;
    return 0;
}

void hg_rewriter_set_plain(hg_rewriter_t *rw, hg_emit_plain_fn fn)
{
    rw->emit_plain = fn;
}

int hg_rewriter_set_request_query(hg_rewriter_t *rw, const char *q, size_t qlen)
{
    char *copy = malloc(qlen + 1);
    if (!copy) return HG_ENOMEM;
    if (qlen) memcpy(copy, q, qlen);
    copy[qlen] = 0;
    free(rw->req_query);
    rw->req_query = copy;
    rw->req_qlen = qlen;
    return 0;
}

int hg_rewriter_feed(hg_rewriter_t *rw, const char *data, size_t len, hg_buf_t *out)
{
    if (rw->failed) return rw->failed;
    if (len == 0) return 0;
    const char *p = data, *end = data + len;
    rw->bytes_in += len;
    if (rw->pending_cr) {
        rw->pending_cr = 0;
        if (*p == '\n') {
            int rc = hg_rw_put(rw, out, p, 1);
            if (rc) return rc;
            p++;
        }
    }
    while (p < end) {
        const char *eol = find_eol(p, end);
        size_t seg = (size_t)((eol ? eol : end) - p);
        size_t have = rw->line.len;

        if (rw->line_no == 0 && seg > 0) {
            unsigned char first = (unsigned char)(have ? rw->line.data[0] : p[0]);
            if (header_check(rw, first, have, p, seg) != 0) return hg_rw_fail(rw, HG_ENOTPLAYLIST);
        }
        if (seg > rw->max_line - have) return hg_rw_fail(rw, HG_ELINE);
        if (!eol) {
            int rc = hg_buf_append(&rw->line, p, seg);
            return rc ? hg_rw_fail(rw, rc) : 0;
        }

        size_t tn = 1;
        if (*eol == '\r') {
            if (eol + 1 == end)
                rw->pending_cr = 1;
            else if (eol[1] == '\n')
                tn = 2;
        }
        int rc;
        if (have) {
            rc = hg_buf_append(&rw->line, p, seg);
            if (rc) return hg_rw_fail(rw, rc);
            rc = process_line(rw, rw->line.data, rw->line.len, eol, tn, out);
            hg_buf_reset(&rw->line);
        } else {
            rc = process_line(rw, p, seg, eol, tn, out);
        }
        if (rc) return rc;
        p = eol + tn;
    }
    return 0;
}

int hg_rewriter_finish(hg_rewriter_t *rw, hg_buf_t *out)
{
    if (rw->failed) return rw->failed;
    if (rw->bytes_in == 0) return hg_rw_fail(rw, HG_EEMPTY);
    if (rw->line.len > 0) {
        int rc = process_line(rw, rw->line.data, rw->line.len, "", 0, out);
        hg_buf_reset(&rw->line);
        if (rc) return rc;
    }
    return 0;
}

int hg_rewriter_is_live(const hg_rewriter_t *rw)
{
    return rw->has_extinf && !rw->has_endlist && !rw->type_vod;
}

void hg_rewriter_free(hg_rewriter_t *rw)
{
    free(rw->base);
    rw->base = NULL;
    hg_buf_free(&rw->line);
    hg_buf_free(&rw->scratch);
    hg_buf_free(&rw->varbuf);
    hg_buf_free(&rw->subst);
    hg_buf_free(&rw->carry);
    free(rw->vars);
    rw->vars = NULL;
    rw->nvars = rw->vars_cap = 0;
    free(rw->req_query);
    rw->req_query = NULL;
}
