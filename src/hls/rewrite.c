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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pct.h"
#include "uri.h"

/* One EXT-X-DEFINE variable; name and value are offsets into rw->varbuf. */
struct hg_rw_var {
    size_t name, name_len, val, val_len;
    int deferred; /* QUERYPARAM/IMPORT without a request query: value unknown here */
    int imported; /* defined by IMPORT */
};

#define MAX_VARS 256

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

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static int fail(hg_rewriter_t *rw, int rc)
{
    rw->failed = rc;
    return rc;
}

static int put(hg_rewriter_t *rw, hg_buf_t *out, const char *p, size_t n)
{
    int rc = hg_buf_append(out, p, n);
    return rc ? fail(rw, rc) : 0;
}

/* Is byte c acceptable at index i of the first line, whose first byte is `first`? Deciding byte by
 * byte lets feed() refuse a non-playlist as soon as its first wrong byte arrives. */
static int header_byte_ok(unsigned char first, size_t i, char c)
{
    const char *want = first == 0xEF ? HEADER_BOM : HEADER_BOM + 3;
    size_t want_len = first == 0xEF ? sizeof HEADER_BOM - 1 : sizeof HEADER_BOM - 4;
    if (i < want_len) return c == want[i];
    return is_ws(c);
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

static int substitute(hg_rewriter_t *rw, const char *u, size_t n);
static int carry_vars(hg_rewriter_t *rw, const char **q, size_t *qn);

/* Rewrite one URI: raw[0..n) is a whole URI line or the inside of a quoted attribute. Whitespace
 * around it is kept; the URI itself is replaced, or copied when it must be left alone. */
static int rewrite_uri(hg_rewriter_t *rw, const char *raw, size_t n, int ctx_playlist,
                       hg_buf_t *out)
{
    size_t a = 0, b = n;
    while (a < b && is_ws(raw[a]))
        a++;
    while (b > a && is_ws(raw[b - 1]))
        b--;
    int rc;

    /* Variables are substituted first (8216bis 4.3), then the result is resolved and signed. A
     * URI that is then left alone is copied as written: the player substitutes it the same way. */
    const char *u = raw + a;
    size_t un = b - a;
    int subst = memmem(u, un, "{$", 2) != NULL;
    if (subst) {
        rc = substitute(rw, u, un);
        if (rc < 0) return rc;
        if (rc == 1) {
            rw->kept++;
            return put(rw, out, raw, n);
        }
        u = rw->subst.data ? rw->subst.data : "";
        un = rw->subst.len;
    }
    hg_uri_parts_t parts;
    hg_buf_reset(&rw->scratch);
    hg_uri_result_t res = hg_uri_resolve(rw->base, rw->base_len, u, un, &rw->scratch, &parts);
    switch (res) {
    case HG_URI_RESOLVED: {
        /* The new URL stands alone: whitespace around a URI is not part of it, and some
         * players (ffmpeg) would take a leading space as part of the URL. */
        int playlist = ctx_playlist || hg_key_is_playlist(rw->scratch.data, rw->scratch.len);
        const char *q = parts.query;
        size_t qn = parts.query_len;
        if (playlist && rw->nvars && (rc = carry_vars(rw, &q, &qn)) != 0) return fail(rw, rc);
        rw->substituted += subst;
        rc = rw->emit(rw->ud, playlist ? HG_URI_PLAYLIST : HG_URI_MEDIA, rw->scratch.data,
                      rw->scratch.len, q, qn, out);
        if (rc) return fail(rw, rc);
        if (playlist)
            rw->gateway++;
        else
            rw->presigned++;
        /* The fragment is kept after the new URL: clients never send it, so it cannot break a
         * signature, and players that read it (e.g. "#t=10") still see it. */
        if (parts.fragment) {
            rc = put(rw, out, parts.fragment - 1, parts.fragment_len + 1);
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
        return fail(rw, HG_ENOMEM);
    }
    /* Left alone: every byte as it was. */
    return put(rw, out, raw, n);
}

typedef struct {
    size_t name, name_len; /* offsets into the line */
    size_t val, val_len;   /* for a quoted string: the bytes between the quotes */
    int quoted;
} attr_t;

/* Next attribute of an attribute list (RFC 8216 4.2) starting at *pos. Quoted strings may hold
 * ',' and '=', so names are only ever read at attribute boundaries. Spaces before a name or after
 * a closing quote are tolerated (seen in the wild). Returns 1 with *a filled, 0 at the end, -1
 * when the list is malformed (unterminated quote, quote inside a name, junk after a quote). */
static int attr_next(const char *s, size_t n, size_t *pos, attr_t *a)
{
    size_t i = *pos;
    while (i < n && is_ws(s[i]))
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
            while (i < n && is_ws(s[i]))
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

/* ---- EXT-X-DEFINE variables ------------------------------------------------------------------ */

static int var_fail(hg_rewriter_t *rw, const char *what, const char *name, size_t nl)
{
    snprintf(rw->var_error, sizeof rw->var_error, "%s '%.*s'", what, (int)(nl > 64 ? 64 : nl), name);
    return fail(rw, HG_EVAR);
}

static int var_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static struct hg_rw_var *var_find(hg_rewriter_t *rw, const char *name, size_t nl)
{
    for (size_t i = 0; i < rw->nvars; i++) {
        struct hg_rw_var *v = &rw->vars[i];
        if (v->name_len == nl && memcmp(rw->varbuf.data + v->name, name, nl) == 0) return v;
    }
    return NULL;
}

/* Find parameter prefix+name in the request query and append its decoded value ('+' is a space)
 * to out. Returns 1 found, 0 not found, or a negative error (-1 for a bad escape). */
static int query_param(const hg_rewriter_t *rw, const char *prefix, const char *name, size_t nl, hg_buf_t *out)
{
    size_t pl = strlen(prefix);
    const char *q = rw->req_query;
    size_t n = rw->req_qlen;
    for (size_t i = 0; i < n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *eq = memchr(q + i, '=', end - i);
        size_t kend = eq ? (size_t)(eq - q) : end;
        if (kend - i == pl + nl && memcmp(q + i, prefix, pl) == 0 && memcmp(q + i + pl, name, nl) == 0) {
            size_t start = out->len;
            int rc = eq ? hg_pct_decode(out, eq + 1, end - kend - 1) : 0;
            if (rc) return rc;
            for (size_t k = start; k < out->len; k++)
                if (out->data[k] == '+') out->data[k] = ' ';
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

/* #EXT-X-DEFINE: NAME+VALUE, IMPORT or QUERYPARAM, each a quoted-string. The line is copied. */
static int define_var(hg_rewriter_t *rw, const char *s, size_t n, size_t colon)
{
    attr_t a;
    size_t pos = colon + 1;
    int r;
    const char *name = NULL, *value = NULL, *imp = NULL, *qp = NULL;
    size_t name_len = 0, value_len = 0, imp_len = 0, qp_len = 0;
    while ((r = attr_next(s, n, &pos, &a)) > 0) {
        const char *an = s + a.name;
        const char **dst = NULL;
        size_t *dl = NULL;
        if (a.name_len == 4 && !memcmp(an, "NAME", 4)) dst = &name, dl = &name_len;
        else if (a.name_len == 5 && !memcmp(an, "VALUE", 5)) dst = &value, dl = &value_len;
        else if (a.name_len == 6 && !memcmp(an, "IMPORT", 6)) dst = &imp, dl = &imp_len;
        else if (a.name_len == 10 && !memcmp(an, "QUERYPARAM", 10)) dst = &qp, dl = &qp_len;
        if (!dst) continue;
        if (!a.quoted || *dst) return var_fail(rw, "malformed EXT-X-DEFINE near", an, a.name_len);
        *dst = s + a.val;
        *dl = a.val_len;
    }
    if (r < 0) return var_fail(rw, "malformed EXT-X-DEFINE", "", 0);
    int forms = (name != NULL) + (imp != NULL) + (qp != NULL);
    if (forms != 1 || (name != NULL) != (value != NULL))
        return var_fail(rw, "EXT-X-DEFINE needs NAME and VALUE, or IMPORT, or QUERYPARAM", "", 0);
    const char *vn = name ? name : imp ? imp : qp;
    size_t vl = name ? name_len : imp ? imp_len : qp_len;
    if (!vl) return var_fail(rw, "EXT-X-DEFINE with an empty name", "", 0);
    for (size_t i = 0; i < vl; i++)
        if (!var_name_char(vn[i])) return var_fail(rw, "EXT-X-DEFINE: invalid variable name", vn, vl);
    if (var_find(rw, vn, vl)) return var_fail(rw, "EXT-X-DEFINE: variable defined twice:", vn, vl);
    if (rw->nvars == MAX_VARS) return var_fail(rw, "EXT-X-DEFINE: too many variables at", vn, vl);
    if (rw->nvars == rw->vars_cap) {
        size_t cap = rw->vars_cap ? rw->vars_cap * 2 : 8;
        struct hg_rw_var *v = realloc(rw->vars, cap * sizeof *v);
        if (!v) return fail(rw, HG_ENOMEM);
        rw->vars = v;
        rw->vars_cap = cap;
    }
    struct hg_rw_var v = {rw->varbuf.len, vl, 0, 0, 0, imp != NULL};
    int rc = hg_buf_append(&rw->varbuf, vn, vl);
    if (rc) return fail(rw, rc);
    v.val = rw->varbuf.len;
    if (name) {
        rc = hg_buf_append(&rw->varbuf, value, value_len);
    } else if (!rw->req_query) {
        v.deferred = 1;
    } else {
        rc = query_param(rw, imp ? HG_RW_IMPORT_PREFIX : "", vn, vl, &rw->varbuf);
        if (rc == 0) return var_fail(rw, imp ? "IMPORT of a variable the multivariant playlist does not define:"
                                              : "QUERYPARAM missing from the request:", vn, vl);
        if (rc == -1) return var_fail(rw, "bad percent-escape in the request's value of", vn, vl);
        if (rc < 0) return fail(rw, rc);
        rc = 0;
    }
    if (rc) return fail(rw, rc);
    v.val_len = rw->varbuf.len - v.val;
    rw->vars[rw->nvars++] = v;
    return 0;
}

/* Substitute every "{$name}" of u[0..n) into rw->subst. Returns 0, 1 when a reference names a
 * deferred variable (the URI is left for the player), or an error (undefined variable). */
static int substitute(hg_rewriter_t *rw, const char *u, size_t n)
{
    hg_buf_reset(&rw->subst);
    size_t i = 0;
    while (i < n) {
        const char *ref = memmem(u + i, n - i, "{$", 2);
        size_t at = ref ? (size_t)(ref - u) : n;
        int rc = hg_buf_append(&rw->subst, u + i, at - i);
        if (rc) return fail(rw, rc);
        if (!ref) break;
        size_t j = at + 2;
        while (j < n && var_name_char(u[j]))
            j++;
        if (j == at + 2 || j >= n || u[j] != '}') { /* not a reference: copied as it is */
            rc = hg_buf_append(&rw->subst, "{$", 2);
            if (rc) return fail(rw, rc);
            i = at + 2;
            continue;
        }
        struct hg_rw_var *v = var_find(rw, u + at + 2, j - at - 2);
        if (!v) return var_fail(rw, "reference to undefined variable", u + at + 2, j - at - 2);
        if (v->deferred) return 1;
        rc = hg_buf_append(&rw->subst, rw->varbuf.data + v->val, v->val_len);
        if (rc) return fail(rw, rc);
        i = j + 1;
    }
    return 0;
}

/* Variables a playlist URI carries: all of a multivariant playlist's; from a media playlist
 * (rendition reports) only those it imported, which are the multivariant playlist's too. */
static int carried(const hg_rewriter_t *rw, const struct hg_rw_var *v)
{
    return !v->deferred && (rw->is_master || v->imported);
}

/* The query a nested playlist's gateway URL gets: its own, then the carried variables. Returns
 * 0 with *q and *qn set (unchanged when there is nothing to carry), or an hg_buf error. */
static int carry_vars(hg_rewriter_t *rw, const char **q, size_t *qn)
{
    size_t known = 0;
    for (size_t i = 0; i < rw->nvars; i++)
        known += carried(rw, &rw->vars[i]);
    if (!known) return 0;
    hg_buf_t *c = &rw->carry;
    hg_buf_reset(c);
    int rc = *q ? hg_buf_append(c, *q, *qn) : 0;
    for (size_t i = 0; !rc && i < rw->nvars; i++) {
        const struct hg_rw_var *v = &rw->vars[i];
        if (!carried(rw, v)) continue;
        if (c->len) rc = hg_buf_appendc(c, '&');
        if (!rc) rc = hg_buf_appends(c, HG_RW_IMPORT_PREFIX);
        if (!rc) rc = hg_buf_append(c, rw->varbuf.data + v->name, v->name_len);
        if (!rc) rc = hg_buf_appendc(c, '=');
        if (!rc) rc = hg_pct_encode(c, rw->varbuf.data + v->val, v->val_len, 0);
    }
    if (rc) return rc;
    *q = c->data;
    *qn = c->len;
    return 0;
}

/* A tag whose attribute `URI` (or `SERVER-URI`) may need rewriting. s[0..colon) is the name. */
static int rewrite_uri_tag(hg_rewriter_t *rw, const char *s, size_t n, size_t colon, unsigned flags,
                           hg_buf_t *out)
{
    const char *want = (flags & T_SERVER_URI) ? "SERVER-URI" : "URI";
    size_t want_len = strlen(want);
    attr_t a;
    size_t pos = colon + 1;
    int r;
    /* Validate the whole list first: a malformed line is copied untouched, not half rewritten. */
    while ((r = attr_next(s, n, &pos, &a)) > 0) {
    }
    if (r < 0) {
        rw->refused++;
        return put(rw, out, s, n);
    }
    size_t done = 0;
    pos = colon + 1;
    while (attr_next(s, n, &pos, &a) > 0) {
        if (a.name_len != want_len || memcmp(s + a.name, want, want_len) != 0) continue;
        if (!a.quoted) { /* the spec requires a quoted-string: do not guess */
            rw->refused++;
            continue;
        }
        int rc = put(rw, out, s + done, a.val - done);
        if (rc == 0) rc = rewrite_uri(rw, s + a.val, a.val_len, (flags & T_PLAYLIST) != 0, out);
        if (rc) return rc;
        done = a.val + a.val_len;
    }
    return put(rw, out, s + done, n - done);
}

/* Value of a tag after ':' without surrounding whitespace. */
static void tag_value(const char *s, size_t n, size_t colon, const char **v, size_t *vn)
{
    size_t a = colon < n ? colon + 1 : n, b = n;
    while (a < b && is_ws(s[a]))
        a++;
    while (b > a && is_ws(s[b - 1]))
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

static int rewrite_tag(hg_rewriter_t *rw, const char *s, size_t n, hg_buf_t *out)
{
    const char *c = memchr(s, ':', n);
    size_t colon = c ? (size_t)(c - s) : n;
    size_t name_len = colon;
    if (!c)
        while (name_len > 0 && is_ws(s[name_len - 1]))
            name_len--;

    const tag_def_t *t = NULL;
    for (size_t i = 0; i < sizeof TAGS / sizeof TAGS[0]; i++) {
        if (TAGS[i].len == name_len && memcmp(TAGS[i].name, s, name_len) == 0) {
            t = &TAGS[i];
            break;
        }
    }
    if (!t) return put(rw, out, s, n);

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
        int rc = define_var(rw, s, n, colon);
        if (rc) return rc;
    }
    if ((t->flags & (T_URI | T_SERVER_URI)) && c)
        return rewrite_uri_tag(rw, s, n, colon, t->flags, out);
    return put(rw, out, s, n);
}

/* One complete line s[0..n) without its line end term[0..tn). */
static int process_line(hg_rewriter_t *rw, const char *s, size_t n, const char *term, size_t tn,
                        hg_buf_t *out)
{
    int rc;
    if (rw->line_no == 0) {
        size_t need = (n > 0 && (unsigned char)s[0] == 0xEF) ? sizeof HEADER_BOM - 1 : 7;
        if (n < need || header_check(rw, n ? (unsigned char)s[0] : 0, 0, s, n) != 0)
            return fail(rw, HG_ENOTPLAYLIST);
        rc = put(rw, out, s, n);
    } else if (n > 0 && s[0] == '#') {
        if (n >= 4 && memcmp(s, "#EXT", 4) == 0)
            rc = rewrite_tag(rw, s, n, out);
        else
            rc = put(rw, out, s, n); /* comment */
    } else {
        size_t i = 0;
        while (i < n && is_ws(s[i]))
            i++;
        if (i == n) {
            rc = put(rw, out, s, n); /* blank */
        } else {
            rc = rewrite_uri(rw, s, n, rw->next_is_playlist, out);
            rw->next_is_playlist = 0;
        }
    }
    if (rc == 0) rc = put(rw, out, term, tn);
    rw->line_no++;
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
    hg_buf_init(&rw->varbuf, 0);
    hg_buf_init(&rw->subst, 0);
    hg_buf_init(&rw->carry, 0);
    rw->target_duration = -1;
    return 0;
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
            int rc = put(rw, out, p, 1);
            if (rc) return rc;
            p++;
        }
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *cr = memchr(p, '\r', (size_t)((nl ? nl : end) - p));
        const char *eol = cr ? cr : nl;
        size_t seg = (size_t)((eol ? eol : end) - p);
        size_t have = rw->line.len;

        if (rw->line_no == 0 && seg > 0) {
            unsigned char first = (unsigned char)(have ? rw->line.data[0] : p[0]);
            if (header_check(rw, first, have, p, seg) != 0) return fail(rw, HG_ENOTPLAYLIST);
        }
        if (seg > rw->max_line - have) return fail(rw, HG_ELINE);
        if (!eol) {
            int rc = hg_buf_append(&rw->line, p, seg);
            return rc ? fail(rw, rc) : 0;
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
            if (rc) return fail(rw, rc);
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
    if (rw->bytes_in == 0) return fail(rw, HG_EEMPTY);
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
