#include "query.h"

#include <string.h>

#include "pct.h"

size_t hg_target_split(const char *t, size_t len, const char **query, size_t *qlen)
{
    const char *q = len ? memchr(t, '?', len) : NULL;
    if (query) *query = q ? q + 1 : NULL;
    if (qlen) *qlen = q ? (size_t)(t + len - q - 1) : 0;
    return q ? (size_t)(q - t) : len;
}

int hg_target_is(const char *t, size_t len, const char *path)
{
    size_t n = strlen(path);
    return len >= n && memcmp(t, path, n) == 0 && (len == n || t[n] == '?');
}

void hg_query_iter(hg_query_iter_t *it, const char *q, size_t qlen)
{
    it->p = qlen ? q : NULL;
    it->end = qlen ? q + qlen : NULL;
}

int hg_query_next(hg_query_iter_t *it, const char **name, size_t *nlen, const char **val,
                  size_t *vlen)
{
    while (it->p && it->p < it->end) {
        const char *s = it->p;
        const char *amp = memchr(s, '&', (size_t)(it->end - s));
        const char *e = amp ? amp : it->end;
        it->p = amp ? amp + 1 : it->end;
        if (e == s) continue; /* "a&&b" */
        const char *eq = memchr(s, '=', (size_t)(e - s));
        *name = s;
        *nlen = (size_t)((eq ? eq : e) - s);
        *val = eq ? eq + 1 : NULL;
        *vlen = eq ? (size_t)(e - eq - 1) : 0;
        return 1;
    }
    return 0;
}

int hg_query_find(const char *q, size_t qlen, const char *param, hg_buf_t *out, const char **raw,
                  size_t *raw_len)
{
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl, pn = strlen(param);
    hg_query_iter(&it, q, qlen);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        if (nl != pn || memcmp(n, param, pn) != 0) continue;
        if (!v) v = n + nl, vl = 0;
        *raw = v;
        *raw_len = vl;
        if (!out) return 1;
        int rc = hg_pct_decode(out, v, vl);
        return rc == 0 ? 1 : rc;
    }
    return 0;
}

int hg_name_eq_ci(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i], d = lit[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (d >= 'A' && d <= 'Z') d = (char)(d - 'A' + 'a');
        if (c != d) return 0;
    }
    return 1;
}
