/* EXT-X-DEFINE (RFC 8216bis 4.4.2.3) for the rewriter: definitions, substitution of "{$name}"
 * references before a URI is resolved and signed, and variables carried to nested playlists. */
#include "rewrite.h"
#include "rewrite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pct.h"
#include "../common/query.h"

/* ---- EXT-X-DEFINE variables ------------------------------------------------------------------ */

static int var_fail(hg_rewriter_t *rw, const char *what, const char *name, size_t nl)
{
    snprintf(rw->var_error, sizeof rw->var_error, "%s '%.*s'", what, (int)(nl > 64 ? 64 : nl), name);
    return hg_rw_fail(rw, HG_EVAR);
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
 * to out. Returns 1 found, 0 not found, or a negative error (HG_EINVAL for a bad escape). */
static int query_param(const hg_rewriter_t *rw, const char *prefix, const char *name, size_t nl, hg_buf_t *out)
{
    size_t pl = strlen(prefix);
    hg_query_iter_t it;
    const char *n, *v;
    size_t nlen, vl;
    hg_query_iter(&it, rw->req_query, rw->req_qlen);
    while (hg_query_next(&it, &n, &nlen, &v, &vl)) {
        if (nlen != pl + nl || memcmp(n, prefix, pl) != 0 || memcmp(n + pl, name, nl) != 0) continue;
        size_t start = out->len;
        int rc = v ? hg_pct_decode(out, v, vl) : 0;
        if (rc) return rc;
        for (size_t k = start; k < out->len; k++)
            if (out->data[k] == '+') out->data[k] = ' ';
        return 1;
    }
    return 0;
}

/* #EXT-X-DEFINE: NAME+VALUE, IMPORT or QUERYPARAM, each a quoted-string. The line is copied. */
int hg_rw_define(hg_rewriter_t *rw, const char *s, size_t n, size_t colon)
{
    hg_rw_attr_t a;
    size_t pos = colon + 1;
    int r;
    const char *name = NULL, *value = NULL, *imp = NULL, *qp = NULL;
    size_t name_len = 0, value_len = 0, imp_len = 0, qp_len = 0;
    while ((r = hg_rw_attr_next(s, n, &pos, &a)) > 0) {
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
        if (!v) return hg_rw_fail(rw, HG_ENOMEM);
        rw->vars = v;
        rw->vars_cap = cap;
    }
    struct hg_rw_var v = {rw->varbuf.len, vl, 0, 0, 0, imp != NULL};
    int rc = hg_buf_append(&rw->varbuf, vn, vl);
    if (rc) return hg_rw_fail(rw, rc);
    v.val = rw->varbuf.len;
    if (name) {
        rc = hg_buf_append(&rw->varbuf, value, value_len);
    } else if (!rw->req_query) {
        v.deferred = 1;
    } else {
        rc = query_param(rw, imp ? HG_RW_IMPORT_PREFIX : "", vn, vl, &rw->varbuf);
        if (rc == 0) return var_fail(rw, imp ? "IMPORT of a variable the multivariant playlist does not define:"
                                              : "QUERYPARAM missing from the request:", vn, vl);
        if (rc == HG_EINVAL) return var_fail(rw, "bad percent-escape in the request's value of", vn, vl);
        if (rc < 0) return hg_rw_fail(rw, rc);
        rc = 0;
        rw->uses_query = 1;
    }
    if (rc) return hg_rw_fail(rw, rc);
    v.val_len = rw->varbuf.len - v.val;
    rw->vars[rw->nvars++] = v;
    return 0;
}

/* Substitute every "{$name}" of u[0..n) into rw->subst. Returns 0, 1 when a reference names a
 * deferred variable (the URI is left for the player), or an error (undefined variable). */
int hg_rw_substitute(hg_rewriter_t *rw, const char *u, size_t n)
{
    hg_buf_reset(&rw->subst);
    size_t i = 0;
    while (i < n) {
        const char *ref = memmem(u + i, n - i, "{$", 2);
        size_t at = ref ? (size_t)(ref - u) : n;
        int rc = hg_buf_append(&rw->subst, u + i, at - i);
        if (rc) return hg_rw_fail(rw, rc);
        if (!ref) break;
        size_t j = at + 2;
        while (j < n && var_name_char(u[j]))
            j++;
        if (j == at + 2 || j >= n || u[j] != '}') { /* not a reference: copied as it is */
            rc = hg_buf_append(&rw->subst, "{$", 2);
            if (rc) return hg_rw_fail(rw, rc);
            i = at + 2;
            continue;
        }
        struct hg_rw_var *v = var_find(rw, u + at + 2, j - at - 2);
        if (!v) return var_fail(rw, "reference to undefined variable", u + at + 2, j - at - 2);
        if (v->deferred) return 1;
        rc = hg_buf_append(&rw->subst, rw->varbuf.data + v->val, v->val_len);
        if (rc) return hg_rw_fail(rw, rc);
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
int hg_rw_carry_vars(hg_rewriter_t *rw, const char **q, size_t *qn)
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

