/* SigV4 canonical query for URIs that carry their own query parameters (see sigv4_int.h).
 * The common case, no extra parameters, never comes here: sigv4.c emits the cached query. */
#include <stdlib.h>
#include <string.h>

#include "sigv4_int.h"

#include "../common/query.h"

typedef struct {
    const char *n, *v;
    size_t noff, nl, voff, vl; /* offsets into the scratch buffer while it may still move */
} qpair_t;

/* Indexed by byte: 1 unreserved, 2 '/', 0 anything else. */
const unsigned char hg_sigv4_cls[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['/'] = 2,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static const char HEXU[] = "0123456789ABCDEF";

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode p[0..n) leniently and re-encode it with SigV4 rules (everything but unreserved
 * escaped, upper-case hex). Playlist authors write queries loosely: '+' stays a literal '+', and
 * a '%' that starts no valid escape is taken literally (so it becomes "%25"), rather than failing
 * a whole playlist over one odd URI. */
static int reencode(hg_buf_t *b, const char *p, size_t n)
{
    if (n == 0) return 0;
    int rc = hg_buf_reserve(b, n * 3);
    if (rc) return rc;
    char *d = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' && i + 2 < n) {
            int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
        }
        if (hg_sigv4_cls[c] & 1) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = HEXU[c >> 4];
            *d++ = HEXU[c & 15];
        }
    }
    b->len = (size_t)(d - b->data);
    return 0;
}

static int pair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    size_t n = x->nl < y->nl ? x->nl : y->nl;
    int c = memcmp(x->n, y->n, n);
    if (c || x->nl != y->nl) return c ? c : (x->nl < y->nl ? -1 : 1);
    n = x->vl < y->vl ? x->vl : y->vl;
    c = memcmp(x->v, y->v, n);
    if (c || x->vl != y->vl) return c ? c : (x->vl < y->vl ? -1 : 1);
    return 0;
}

static int add_pair(hg_signer_t *s, const char *n, size_t nl, const char *v, size_t vl)
{
    qpair_t p = {n, v, 0, nl, 0, vl};
    return hg_buf_append(&s->pairs, &p, sizeof p);
}

/* Parameters we generate ourselves. A playlist copied from a presigned origin may carry stale
 * ones; keeping them would put each name in the query twice, which S3 rejects. */
static int is_auth_param(const char *n, size_t nl)
{
    static const char *const names[] = {
        "X-Amz-Algorithm",      "X-Amz-Credential",    "X-Amz-Date",     "X-Amz-Expires",
        "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature"};
    if (nl < 10 || n[0] != 'X') return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == nl && memcmp(names[i], n, nl) == 0) return 1;
    return 0;
}

int hg_sigv4_append_query(hg_signer_t *s, hg_buf_t *out, const char *q, size_t qlen,
                          const char *amz, const char *exp, size_t explen)
{
    hg_buf_reset(&s->scratch);
    hg_buf_reset(&s->pairs);
    int rc = hg_buf_reserve(&s->scratch, 1); /* so pair pointers are never NULL + 0 */
    hg_query_iter_t it;
    const char *seg, *val;
    size_t nraw, vraw;
    hg_query_iter(&it, q, qlen);
    while (!rc && hg_query_next(&it, &seg, &nraw, &val, &vraw)) {
        size_t noff = s->scratch.len;
        rc = reencode(&s->scratch, seg, nraw);
        size_t voff = s->scratch.len;
        if (!rc && val) rc = reencode(&s->scratch, val, vraw);
        if (rc) break;
        if (is_auth_param(s->scratch.data + noff, voff - noff)) {
            s->scratch.len = noff;
            continue;
        }
        qpair_t p = {NULL, NULL, noff, voff - noff, voff, s->scratch.len - voff};
        rc = hg_buf_append(&s->pairs, &p, sizeof p);
    }
    if (rc) return rc;
    size_t nextra = s->pairs.len / sizeof(qpair_t);
    if (nextra == 0) { /* only empty segments or stale auth parameters: our parameters alone */
        rc = hg_buf_append(out, s->q_head.data, s->q_head.len);
        if (!rc) rc = hg_buf_append(out, amz, HG_AMZ_DATE_LEN);
        if (!rc) rc = hg_buf_append(out, s->q_exp.data, s->q_exp.len);
        return rc;
    }
    qpair_t *pp = (qpair_t *)(void *)s->pairs.data;
    for (size_t i = 0; i < nextra; i++) { /* scratch no longer moves: offsets become pointers */
        pp[i].n = s->scratch.data + pp[i].noff;
        pp[i].v = s->scratch.data + pp[i].voff;
    }
    rc = add_pair(s, "X-Amz-Algorithm", 15, HG_SIGV4_ALGO, sizeof HG_SIGV4_ALGO - 1);
    if (!rc) rc = add_pair(s, "X-Amz-Credential", 16, s->q_head.data + s->cred_off, s->cred_len);
    if (!rc) rc = add_pair(s, "X-Amz-Date", 10, amz, HG_AMZ_DATE_LEN);
    if (!rc) rc = add_pair(s, "X-Amz-Expires", 13, exp, explen);
    if (!rc && s->tok_len)
        rc = add_pair(s, "X-Amz-Security-Token", 20, s->q_tail.data + s->tok_off, s->tok_len);
    if (!rc) rc = add_pair(s, "X-Amz-SignedHeaders", 19, "host", 4);
    if (rc) return rc;
    size_t np = s->pairs.len / sizeof(qpair_t), total = 0;
    pp = (qpair_t *)(void *)s->pairs.data;
    qsort(pp, np, sizeof *pp, pair_cmp);
    for (size_t i = 0; i < np; i++)
        total += pp[i].nl + pp[i].vl + 2;
    rc = hg_buf_reserve(out, total - 1);
    if (rc) return rc;
    char *d = out->data + out->len;
    for (size_t i = 0; i < np; i++) {
        if (i) *d++ = '&';
        memcpy(d, pp[i].n, pp[i].nl);
        d += pp[i].nl;
        *d++ = '=';
        memcpy(d, pp[i].v, pp[i].vl);
        d += pp[i].vl;
    }
    out->len = (size_t)(d - out->data);
    return 0;
}
