/* URI resolution against the key namespace, and validation of namespace keys.
 *
 * Everything here runs once per URI of a playlist (43,200 times for a 12-hour VOD), so the work
 * is a few linear passes over the bytes, writing straight into the caller's buffer: no allocation
 * beyond growing that buffer. */
#include "uri.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../common/pct.h"

static int is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. A ':' after
 * any other byte (e.g. "a/b:c", "1x:y") belongs to a relative path instead. */
static int has_scheme(const char *u, size_t n)
{
    if (n == 0 || !is_alpha((unsigned char)u[0])) return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c == ':') return 1;
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return 0;
    }
    return 0;
}

/* "{$name}" is an EXT-X-DEFINE variable reference that only the client can expand. */
static int has_variable(const char *u, size_t n)
{
    const char *p = u, *end = u + n;
    while ((p = memchr(p, '{', (size_t)(end - p))) != NULL) {
        if (p + 1 < end && p[1] == '$') return 1;
        p++;
    }
    return 0;
}

/* Length of the well-formed UTF-8 sequence starting at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when it is malformed or truncated. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, overlong C0/C1, or F5..FF */
    }
    if (n < len) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

/* 0 when p[0..n) holds only well-formed UTF-8 without control bytes (C0, DEL) or backslashes:
 * bytes that would let one key be read two ways by S3, a log or a client. */
static int bytes_safe(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f || c == '\\') return -1;
            i++;
            continue;
        }
        size_t l = utf8_len(p + i, n - i);
        if (l == 0) return -1;
        i += l;
    }
    return 0;
}

/* Remove "." and ".." segments from d[0..*len) in place (the output never outgrows the input).
 * Unlike RFC 3986 5.2.4, climbing above the root is an error rather than being clamped, and a
 * result naming a folder (empty segment, trailing "." or "..") is invalid: no object has it. */
static hg_uri_result_t remove_dots(char *d, size_t *len)
{
    size_t n = *len, r = 0, w = 0;
    for (;;) {
        const char *slash = memchr(d + r, '/', n - r);
        size_t e = slash ? (size_t)(slash - d) : n;
        size_t seg = e - r;
        int last = slash == NULL;
        if (seg == 0) return HG_URI_INVALID;
        if (seg == 1 && d[r] == '.') {
            if (last) return HG_URI_INVALID;
        } else if (seg == 2 && d[r] == '.' && d[r + 1] == '.') {
            if (w == 0) return HG_URI_ESCAPES;
            while (w > 0 && d[w - 1] != '/')
                w--;
            if (w > 0) w--; /* drop the separator too */
            if (last) return HG_URI_INVALID;
        } else {
            if (w > 0) d[w++] = '/';
            memmove(d + w, d + r, seg);
            w += seg;
        }
        if (last) break;
        r = e + 1;
    }
    if (w == 0) return HG_URI_INVALID;
    *len = w;
    return HG_URI_RESOLVED;
}

/* Byte classes of hg_uri_plain(): PC_PLAIN, '/', '.', and PC_OTHER for every byte that needs the
 * full resolution: controls, space, '%', '?', '#', ':', '{', '\\', DEL and every byte >= 0x80. */
enum { PC_OTHER = 0, PC_PLAIN = 1, PC_SLASH = 2, PC_DOT = 3 };
static const unsigned char PLAIN_CLASS[256] = {
    ['!'] = 1, ['"'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1,
    ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 3, ['/'] = 2, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, [';'] = 1,
    ['<'] = 1, ['='] = 1, ['>'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['['] = 1, [']'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
};

int hg_uri_plain(const char *uri, size_t n)
{
    const unsigned char *p = (const unsigned char *)uri;
    int seg_start = 1; /* at the first byte of a segment */
    size_t i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time: every byte printable ASCII and none of the refused ones, then the
     * segment rules on bit masks (bit k: byte k of the block). */
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    const __m128i pc = _mm_set1_epi8('%'), qm = _mm_set1_epi8('?'), hs = _mm_set1_epi8('#');
    const __m128i co = _mm_set1_epi8(':'), br = _mm_set1_epi8('{'), bs = _mm_set1_epi8('\\');
    const __m128i sl = _mm_set1_epi8('/'), dt = _mm_set1_epi8('.');
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        /* signed compares: bytes >= 0x80 are negative, so they fail "greater than space" */
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(x, sp), _mm_cmplt_epi8(x, del));
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, pc), _mm_cmpeq_epi8(x, qm)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, hs), _mm_cmpeq_epi8(x, co)));
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(x, br), _mm_cmpeq_epi8(x, bs)));
        if ((unsigned)_mm_movemask_epi8(_mm_andnot_si128(bad, ok)) != 0xffff) return 0;
        unsigned s = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sl));
        unsigned d = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, dt));
        unsigned start = ((s << 1) | (unsigned)seg_start) & 0xffff; /* bytes that begin a segment */
        if (start & d) return 0;                                     /* a segment starting with '.' */
        if ((start & s) & ~(i == 0 ? 1u : 0u)) return 0;             /* empty segment or "//" */
        seg_start = (int)(s >> 15);
    }
#endif
    for (; i < n; i++) {
        switch (PLAIN_CLASS[p[i]]) {
        case PC_PLAIN:
            seg_start = 0;
            break;
        case PC_SLASH:
            if (seg_start && i > 0) return 0; /* empty segment, or "//" at the start */
            seg_start = 1;
            break;
        case PC_DOT:
            if (seg_start) return 0; /* ".", "..", or a name starting with '.' */
            break;
        default:
            return 0;
        }
    }
    return !seg_start; /* not empty, not "/" and no trailing '/' */
}

hg_uri_result_t hg_uri_resolve_plain(const char *base, size_t base_len, const char *uri, size_t n,
                                     hg_buf_t *key)
{
    int rc;
    if (uri[0] == '/') {
        rc = hg_buf_append(key, uri + 1, n - 1);
    } else if (base_len) {
        rc = hg_buf_reserve(key, base_len + 1 + n);
        if (!rc) {
            char *d = key->data + key->len;
            hg_copy_short(d, base, base_len);
            d[base_len] = '/';
            hg_copy_short(d + base_len + 1, uri, n);
            key->len += base_len + 1 + n;
        }
    } else {
        rc = hg_buf_append(key, uri, n);
    }
    return rc ? HG_URI_NOMEM : HG_URI_RESOLVED;
}

hg_uri_result_t hg_uri_resolve(const char *base, size_t base_len, const char *uri, size_t uri_len,
                               hg_buf_t *key, hg_uri_parts_t *parts)
{
    if (!hg_uri_plain(uri, uri_len)) return hg_uri_resolve_full(base, base_len, uri, uri_len, key, parts);
    parts->query = parts->fragment = NULL;
    parts->query_len = parts->fragment_len = 0;
    return hg_uri_resolve_plain(base, base_len, uri, uri_len, key);
}

hg_uri_result_t hg_uri_resolve_full(const char *base, size_t base_len, const char *uri, size_t uri_len,
                                    hg_buf_t *key, hg_uri_parts_t *parts)
{
    parts->query = parts->fragment = NULL;
    parts->query_len = parts->fragment_len = 0;

    if (has_variable(uri, uri_len) || has_scheme(uri, uri_len)) return HG_URI_KEEP;
    if (uri_len >= 2 && uri[0] == '/' && uri[1] == '/') return HG_URI_KEEP;

    const char *hash = memchr(uri, '#', uri_len);
    size_t path_len = hash ? (size_t)(hash - uri) : uri_len;
    const char *q = memchr(uri, '?', path_len);
    hg_uri_parts_t found = {NULL, 0, NULL, 0};
    if (hash) {
        found.fragment = hash + 1;
        found.fragment_len = uri_len - path_len - 1;
    }
    if (q) {
        found.query = q + 1;
        found.query_len = path_len - (size_t)(q - uri) - 1;
        path_len = (size_t)(q - uri);
    }
    if (path_len == 0) return HG_URI_INVALID; /* "?x" or "#x": names this playlist, not a key */

    const char *path = uri;
    size_t start = key->len;
    int rc = 0;
    if (path[0] == '/') {
        path++;
        path_len--;
        if (path_len == 0) return HG_URI_INVALID; /* "/": the root folder */
    } else if (base_len > 0) {
        rc = hg_buf_append(key, base, base_len);
        if (rc == 0) rc = hg_buf_appendc(key, '/');
    }
    size_t decoded = key->len;
    if (rc == 0) rc = hg_pct_decode(key, path, path_len);
    if (rc != 0) {
        key->len = start;
        return rc == HG_EINVAL ? HG_URI_INVALID : HG_URI_NOMEM;
    }
    /* Check the decoded path before removing dots, so that "bad%00/../x" is refused too. */
    if (bytes_safe(key->data + decoded, key->len - decoded) != 0) {
        key->len = start;
        return HG_URI_INVALID;
    }
    size_t klen = key->len - start; /* > 0: path_len > 0 and decoding never empties it */
    hg_uri_result_t res = remove_dots(key->data + start, &klen);
    if (res != HG_URI_RESOLVED) {
        key->len = start;
        return res;
    }
    key->len = start + klen;
    *parts = found;
    return HG_URI_RESOLVED;
}

hg_uri_result_t hg_key_check(const char *key, size_t len)
{
    if (len == 0 || bytes_safe(key, len) != 0) return HG_URI_INVALID;
    size_t r = 0;
    for (;;) {
        const char *slash = memchr(key + r, '/', len - r);
        size_t e = slash ? (size_t)(slash - key) : len;
        size_t seg = e - r;
        if (seg == 0) return HG_URI_INVALID; /* leading '/', trailing '/' or "a//b" */
        if (seg == 1 && key[r] == '.') return HG_URI_INVALID;
        if (seg == 2 && key[r] == '.' && key[r + 1] == '.') return HG_URI_ESCAPES;
        if (!slash) return HG_URI_RESOLVED;
        r = e + 1;
    }
}

static int ends_with_ci(const char *s, size_t n, const char *suffix, size_t sn)
{
    if (n < sn) return 0;
    s += n - sn;
    for (size_t i = 0; i < sn; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)suffix[i]) return 0;
    }
    return 1;
}

int hg_key_is_playlist(const char *key, size_t len)
{
    if (len == 0) return 0;
    char last = key[len - 1]; /* once per URI: most end in "s" (.ts), "4" (.m4s)... */
    if (last == '8') return ends_with_ci(key, len, ".m3u8", 5);
    if (last == 'u' || last == 'U') return ends_with_ci(key, len, ".m3u", 4);
    return 0;
}

int hg_object_key(const char *prefix, hg_buf_t *out, const char *key, size_t len)
{
    size_t pl = prefix ? strlen(prefix) : 0, sep = pl ? 1 : 0;
    hg_buf_reset(out);
    if (len > (size_t)-1 - pl - sep) return HG_EOVERFLOW;
    int rc = hg_buf_reserve(out, pl + sep + len);
    if (rc) return rc;
    if (pl) hg_copy_short(out->data, prefix, pl);
    if (sep) out->data[pl] = '/';
    hg_copy_short(out->data + pl + sep, key, len);
    out->len = pl + sep + len;
    return 0;
}
