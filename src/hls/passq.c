#include "passq.h"

#include <string.h>

#include "../common/query.h"

static int listed(char *const *list, const char *n, size_t nl)
{
    for (; list && *list; list++)
        if (strlen(*list) == nl && memcmp(*list, n, nl) == 0) return 1;
    return 0;
}

static int add(hg_buf_t *out, const char *p, size_t n)
{
    if (!out) return 0;
    int rc = out->len ? hg_buf_appendc(out, '&') : 0;
    return rc ? rc : hg_buf_append(out, p, n);
}

int hg_passq_split(const hg_config_t *cfg, const char *q, size_t qlen, hg_buf_t *kq, hg_buf_t *sq)
{
    if (!cfg->pass_query) return 0;
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl;
    hg_query_iter(&it, q, qlen);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        if (!listed(cfg->pass_query, n, nl)) continue;
        size_t whole = v ? (size_t)(v + vl - n) : nl;
        int keyed = cfg->pass_query_segments || listed(cfg->cache_key_query, n, nl);
        int rc = add(keyed ? kq : sq, n, whole);
        if (rc) return rc;
    }
    return 0;
}
