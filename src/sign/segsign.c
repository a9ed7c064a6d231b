/* SEGMENT_SIGNER dispatch: the s3 adapter over hg_presign, the CDN URL layout, and the cache of
 * folder-level signatures (one per folder and expiry). */
#include "segsign.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pct.h"
#include "../common/query.h"
#include "cdn.h"
#include "sigv4.h"

#define FOLDER_CACHE 16
#define BUNNY_MAX_PARAMS 32

typedef struct {
    char *folder; /* the folder's encoded URL (cache key, with exp) */
    size_t flen;
    int64_t exp;
    char *params; /* what goes after '?' or '&' */
    size_t plen;
} folder_sig_t;

struct hg_segsigner {
    int kind;
    hg_signer_t *s3;
    int s3_owned; /* s3 is ours (static keys), else lent by the worker */
    char *base; /* SEGMENT_BASE_URL, no trailing '/' */
    size_t base_len, path_off; /* base + path_off: the base's path ("" or "/..."), encoded */
    hg_cf_key_t *cf;
    int cf_canned;
    unsigned char *ak_key;
    size_t ak_len;
    char *ak_name;
    unsigned char gkey[16];
    char *gname;
    char *bkey;
    hg_buf_t tmp, tmp2, furl, bout; /* scratch, reused: no allocation per URL once warm */
    folder_sig_t cache[FOLDER_CACHE];
    unsigned next;
};

static const char *const NAMES[] = {"s3", "cloudfront", "akamai", "gcdn", "bunny"};

const char *hg_segsigner_name(const hg_segsigner_t *s)
{
    return NAMES[s->kind];
}

static hg_segsigner_t *fail(hg_segsigner_t *s, char *err, size_t errlen, const char *msg)
{
    if (msg) snprintf(err, errlen, "%s", msg);
    hg_segsigner_free(s);
    return NULL;
}

hg_segsigner_t *hg_segsigner_new(const hg_config_t *cfg, char *err, size_t errlen)
{
    hg_segsigner_t *s = calloc(1, sizeof *s);
    if (!s) return fail(NULL, err, errlen, "SEGMENT_SIGNER: out of memory");
    hg_buf_init(&s->tmp, 0);
    hg_buf_init(&s->tmp2, 0);
    hg_buf_init(&s->furl, 0);
    hg_buf_init(&s->bout, 0);
    s->kind = cfg->seg_signer;
    if (s->kind < HG_SEG_S3 || s->kind > HG_SEG_BUNNY) return fail(s, err, errlen, "SEGMENT_SIGNER: unknown signer");
    if (s->kind == HG_SEG_S3) {
        /* With static keys the signer has its own SigV4 signer; with platform credentials the
         * worker lends it one (hg_segsigner_use_s3) once the credentials are there. */
        if (!cfg->access_key || !cfg->secret_key) return s;
        hg_sigv4_config_t sc = {cfg->s3_endpoint, cfg->s3_bucket,   cfg->s3_region,   cfg->access_key,
                                cfg->secret_key,  cfg->session_token, cfg->virtual_host};
        if (!(s->s3 = hg_signer_new(&sc)))
            return fail(s, err, errlen, "SEGMENT_SIGNER: s3 needs S3_ENDPOINT, S3_BUCKET, S3_REGION and the access keys");
        s->s3_owned = 1;
        return s;
    }
    char msg[160];
    if (!cfg->seg_base_url || !*cfg->seg_base_url) {
        snprintf(msg, sizeof msg, "SEGMENT_BASE_URL: must be set when SEGMENT_SIGNER=%s", NAMES[s->kind]);
        return fail(s, err, errlen, msg);
    }
    if (!(s->base = strdup(cfg->seg_base_url))) return fail(s, err, errlen, "SEGMENT_BASE_URL: out of memory");
    s->base_len = strlen(s->base);
    const char *host = strstr(s->base, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;
    s->path_off = path ? (size_t)(path - s->base) : s->base_len;
    switch (s->kind) {
    case HG_SEG_CLOUDFRONT:
        if (!cfg->cf_key_pair_id) return fail(s, err, errlen, "CLOUDFRONT_KEY_PAIR_ID: must be set when SEGMENT_SIGNER=cloudfront");
        if (!cfg->cf_key_file) return fail(s, err, errlen, "CLOUDFRONT_PRIVATE_KEY_FILE: must be set when SEGMENT_SIGNER=cloudfront");
        if (!(s->cf = hg_cf_key_load(cfg->cf_key_file, cfg->cf_key_pair_id, cfg->cf_sha256, err, errlen)))
            return fail(s, err, errlen, NULL);
        s->cf_canned = cfg->cf_canned;
        break;
    case HG_SEG_AKAMAI:
        if (!cfg->akamai_key || !cfg->akamai_key_len)
            return fail(s, err, errlen, "AKAMAI_TOKEN_KEY: must be set when SEGMENT_SIGNER=akamai");
        s->ak_key = malloc(cfg->akamai_key_len);
        s->ak_name = strdup(cfg->akamai_token_name ? cfg->akamai_token_name : "__token__");
        if (!s->ak_key || !s->ak_name) return fail(s, err, errlen, "AKAMAI_TOKEN_KEY: out of memory");
        memcpy(s->ak_key, cfg->akamai_key, cfg->akamai_key_len);
        s->ak_len = cfg->akamai_key_len;
        break;
    case HG_SEG_GCDN:
        if (!cfg->gcdn_key_name) return fail(s, err, errlen, "GCDN_KEY_NAME: must be set when SEGMENT_SIGNER=gcdn");
        if (!cfg->gcdn_key_set) return fail(s, err, errlen, "GCDN_KEY: must be set when SEGMENT_SIGNER=gcdn");
        if (!(s->gname = strdup(cfg->gcdn_key_name))) return fail(s, err, errlen, "GCDN_KEY_NAME: out of memory");
        memcpy(s->gkey, cfg->gcdn_key, 16);
        break;
    case HG_SEG_BUNNY:
        if (!cfg->bunny_key || !*cfg->bunny_key)
            return fail(s, err, errlen, "BUNNY_TOKEN_KEY: must be set when SEGMENT_SIGNER=bunny");
        if (!(s->bkey = strdup(cfg->bunny_key))) return fail(s, err, errlen, "BUNNY_TOKEN_KEY: out of memory");
        break;
    }
    return s;
}

int hg_segsigner_check(const hg_config_t *cfg, char *err, size_t errlen)
{
    hg_segsigner_t *s = hg_segsigner_new(cfg, err, errlen);
    if (!s) return -1;
    hg_segsigner_free(s);
    return 0;
}

void hg_segsigner_free(hg_segsigner_t *s)
{
    if (!s) return;
    if (s->s3_owned) hg_signer_free(s->s3);
    free(s->base);
    hg_cf_key_free(s->cf);
    if (s->ak_key) {
        memset(s->ak_key, 0, s->ak_len);
        free(s->ak_key);
    }
    free(s->ak_name);
    memset(s->gkey, 0, sizeof s->gkey);
    free(s->gname);
    if (s->bkey) {
        memset(s->bkey, 0, strlen(s->bkey));
        free(s->bkey);
    }
    for (int i = 0; i < FOLDER_CACHE; i++) {
        free(s->cache[i].folder);
        free(s->cache[i].params);
    }
    hg_buf_free(&s->tmp);
    hg_buf_free(&s->tmp2);
    hg_buf_free(&s->furl);
    hg_buf_free(&s->bout);
    free(s);
}

/* Bunny signs its parameters decoded (form style: '+' is a space); the path it signs is decoded
 * too, but there '+' stays '+'. A malformed escape in a playlist's query is kept as written
 * rather than failing the whole playlist. */
static int bunny_decode(hg_buf_t *out, const char *p, size_t n, int form)
{
    size_t start = out->len;
    int rc = hg_pct_decode(out, p, n);
    if (rc == HG_EINVAL) rc = hg_buf_append(out, p, n);
    for (size_t i = start; !rc && form && i < out->len; i++)
        if (out->data[i] == '+') out->data[i] = ' ';
    return rc;
}

typedef struct {
    const char *k, *v;
    size_t kl, vl;
} kv_t;

static int kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* Bunny parameters for one URL (or a folder when query is NULL): "token=..&<sorted
 * params>&expires=N", where the params are the URI's query plus token_path. */
static int bunny_params(hg_segsigner_t *s, hg_buf_t *out, const char *folder_url, size_t flen,
                        const char *query, size_t qlen, int64_t exp)
{
    /* tmp: decoded values, laid out back to back; tmp2: the signed text */
    hg_buf_t *dec = &s->tmp, *sig = &s->tmp2;
    hg_buf_reset(dec);
    hg_buf_reset(sig);
    /* token_path: the folder's path, decoded (the base's path + '/' + raw folder) */
    size_t path_at = s->path_off;
    int rc = bunny_decode(dec, folder_url + path_at, flen - path_at, 0);
    if (!rc && !dec->len) rc = hg_buf_appendc(dec, '/');
    size_t tp_len = dec->len;
    kv_t kv[BUNNY_MAX_PARAMS + 1];
    size_t nkv = 0;
    size_t offs[BUNNY_MAX_PARAMS][4]; /* offsets into dec: key start/len, value start/len */
    hg_query_iter_t it;
    const char *pn, *pv;
    size_t pnl, pvl;
    hg_query_iter(&it, query, query ? qlen : 0);
    while (!rc && hg_query_next(&it, &pn, &pnl, &pv, &pvl)) {
        if (nkv == BUNNY_MAX_PARAMS) return -1;
        offs[nkv][0] = dec->len;
        rc = bunny_decode(dec, pn, pnl, 1);
        offs[nkv][1] = dec->len - offs[nkv][0];
        offs[nkv][2] = dec->len;
        if (!rc && pv) rc = bunny_decode(dec, pv, pvl, 1);
        offs[nkv][3] = dec->len - offs[nkv][2];
        nkv++;
    }
    if (rc) return rc;
    /* dec no longer moves: turn offsets into pointers */
    for (size_t i = 0; i < nkv; i++)
        kv[i] = (kv_t){dec->data + offs[i][0], dec->data + offs[i][2], offs[i][1], offs[i][3]};
    kv[nkv++] = (kv_t){"token_path", dec->data, 10, tp_len};
    qsort(kv, nkv, sizeof kv[0], kv_cmp);
    for (size_t i = 0; !rc && i < nkv; i++) {
        if (i) rc = hg_buf_appendc(sig, '&');
        if (!rc) rc = hg_buf_append(sig, kv[i].k, kv[i].kl);
        if (!rc) rc = hg_buf_appendc(sig, '=');
        if (!rc) rc = hg_buf_append(sig, kv[i].v, kv[i].vl);
    }
    if (!rc) rc = hg_buf_appends(out, "token=");
    if (!rc) rc = hg_bunny_token(out, s->bkey, strlen(s->bkey), dec->data, tp_len, exp, sig->data, sig->len);
    for (size_t i = 0; !rc && i < nkv; i++) {
        rc = hg_buf_appendc(out, '&');
        if (!rc) rc = hg_pct_encode(out, kv[i].k, kv[i].kl, 0);
        if (!rc) rc = hg_buf_appendc(out, '=');
        if (!rc) rc = hg_pct_encode(out, kv[i].v, kv[i].vl, 0);
    }
    if (!rc) rc = hg_buf_appendf(out, "&expires=%" PRId64, exp);
    return rc;
}

/* The folder-level parameters for folder_url (the folder's full URL, ending in '/'). */
static int folder_params(hg_segsigner_t *s, hg_buf_t *out, const char *folder_url, size_t flen, int64_t exp)
{
    for (int i = 0; i < FOLDER_CACHE; i++) {
        folder_sig_t *c = &s->cache[i];
        if (c->params && c->exp == exp && c->flen == flen && !memcmp(c->folder, folder_url, flen))
            return hg_buf_append(out, c->params, c->plen);
    }
    hg_buf_t *p = &s->bout;
    hg_buf_reset(p);
    int rc = 0;
    switch (s->kind) {
    case HG_SEG_CLOUDFRONT:
        hg_buf_reset(&s->tmp);
        rc = hg_buf_append(&s->tmp, folder_url, flen);
        if (!rc) rc = hg_buf_appendc(&s->tmp, '*');
        if (!rc) rc = hg_cf_custom(s->cf, p, s->tmp.data, s->tmp.len, exp);
        break;
    case HG_SEG_AKAMAI:
        hg_buf_reset(&s->tmp);
        rc = hg_buf_append(&s->tmp, folder_url + s->path_off, flen - s->path_off);
        if (!rc) rc = hg_buf_appendc(&s->tmp, '*');
        if (!rc) rc = hg_buf_appends(p, s->ak_name);
        if (!rc) rc = hg_buf_appendc(p, '=');
        if (!rc) rc = hg_akamai_token(p, s->ak_key, s->ak_len, exp, s->tmp.data, s->tmp.len);
        break;
    case HG_SEG_GCDN: rc = hg_gcdn_prefix(p, s->gkey, s->gname, folder_url, flen, exp); break;
    default: rc = bunny_params(s, p, folder_url, flen, NULL, 0, exp); break;
    }
    if (rc) return rc;
    folder_sig_t *c = &s->cache[s->next++ % FOLDER_CACHE];
    char *f = malloc(flen ? flen : 1), *pp = malloc(p->len ? p->len : 1);
    if (f && pp) {
        free(c->folder);
        free(c->params);
        memcpy(f, folder_url, flen);
        memcpy(pp, p->data, p->len);
        *c = (folder_sig_t){f, flen, exp, pp, p->len};
    } else {
        free(f);
        free(pp);
    }
    return hg_buf_append(out, p->data, p->len);
}

/* Percent-encode a key for the URL path. Akamai tokens use '~' as their field delimiter, so with
 * that signer '~' is encoded too (the URL and the acl then agree; the bucket decodes it). */
static int encode_path(const hg_segsigner_t *s, hg_buf_t *out, const char *p, size_t n)
{
    if (s->kind != HG_SEG_AKAMAI || !memchr(p, '~', n)) return hg_pct_encode(out, p, n, 1);
    int rc = 0;
    for (size_t i = 0; !rc && i < n;) {
        const char *t = memchr(p + i, '~', n - i);
        size_t end = t ? (size_t)(t - p) : n;
        rc = hg_pct_encode(out, p + i, end - i, 1);
        if (!rc && t) rc = hg_buf_append(out, "%7E", 3);
        i = end + (t != NULL);
    }
    return rc;
}

static int cdn_url(hg_segsigner_t *s, hg_buf_t *out, const char *key, size_t klen, const char *query,
                   size_t qlen, int64_t exp)
{
    size_t url_at = out->len;
    const char *slash = klen ? memrchr(key, '/', klen) : NULL;
    size_t folder = slash ? (size_t)(slash - key) + 1 : 0;
    int rc = hg_buf_append(out, s->base, s->base_len);
    if (!rc) rc = hg_buf_appendc(out, '/');
    if (!rc) rc = encode_path(s, out, key, folder);
    size_t folder_end = out->len;
    if (!rc) rc = encode_path(s, out, key + folder, klen - folder);
    if (rc) return rc;
    int has_query = query && qlen;
    if (s->kind == HG_SEG_BUNNY && has_query) {
        /* Bunny signs the query: this URL gets its own token, with its parameters re-encoded. */
        hg_buf_reset(&s->furl);
        rc = hg_buf_append(&s->furl, out->data + url_at, folder_end - url_at);
        if (!rc) rc = hg_buf_appendc(out, '?');
        if (!rc) rc = bunny_params(s, out, s->furl.data, s->furl.len, query, qlen, exp);
        return rc;
    }
    if (has_query) {
        rc = hg_buf_appendc(out, '?');
        if (!rc) rc = hg_buf_append(out, query, qlen);
    }
    if (!rc) rc = hg_buf_appendc(out, has_query ? '&' : '?');
    if (rc) return rc;
    if (s->kind == HG_SEG_CLOUDFRONT && s->cf_canned) {
        /* The canned policy's Resource is the URL without CloudFront's parameters. */
        hg_buf_reset(&s->tmp);
        rc = hg_buf_append(&s->tmp, out->data + url_at, out->len - 1 - url_at);
        if (!rc) rc = hg_cf_canned(s->cf, out, s->tmp.data, s->tmp.len, exp);
        return rc;
    }
    /* out may move while appending: copy the folder's URL first */
    hg_buf_reset(&s->furl);
    rc = hg_buf_append(&s->furl, out->data + url_at, folder_end - url_at);
    if (!rc) rc = folder_params(s, out, s->furl.data, s->furl.len, exp);
    return rc;
}

int hg_segsigner_url_batched(hg_segsigner_t *s, hg_buf_t *out, const char *object_key, size_t key_len,
                             const char *query, size_t qlen, int64_t window_start, long expires)
{
    if (s->kind == HG_SEG_S3 && !s->s3) return HG_EINVAL;
    if (s->kind == HG_SEG_S3)
        return hg_presign_defer(s->s3, out, object_key, key_len, query, qlen, (time_t)window_start, expires);
    return hg_segsigner_url(s, out, object_key, key_len, query, qlen, window_start, expires);
}

int hg_segsigner_batched_in(hg_segsigner_t *s, hg_buf_t *out, const char *dir, size_t dlen,
                            const char *name, size_t nlen, int64_t window_start, long expires)
{
    if (s->kind != HG_SEG_S3 || !s->s3) return 1;
    return hg_presign_defer_in(s->s3, out, dir, dlen, name, nlen, (time_t)window_start, expires);
}

int hg_segsigner_flush(hg_segsigner_t *s, hg_buf_t *out)
{
    return s->kind == HG_SEG_S3 && s->s3 ? hg_presign_flush(s->s3, out) : 0;
}

void hg_segsigner_use_s3(hg_segsigner_t *s, hg_signer_t *signer)
{
    if (s->kind != HG_SEG_S3 || s->s3 == signer) return;
    if (s->s3_owned) hg_signer_free(s->s3);
    s->s3 = signer;
    s->s3_owned = 0;
}

int hg_segsigner_url(hg_segsigner_t *s, hg_buf_t *out, const char *object_key, size_t key_len,
                     const char *query, size_t qlen, int64_t window_start, long expires)
{
    if (s->kind == HG_SEG_S3 && !s->s3) return HG_EINVAL;
    if (s->kind == HG_SEG_S3)
        return hg_presign(s->s3, out, object_key, key_len, query, qlen, (time_t)window_start, expires);
    size_t start = out->len;
    int rc = cdn_url(s, out, object_key, key_len, query, qlen, window_start + expires);
    if (rc) {
        out->len = start;
        return rc < 0 ? rc : -1;
    }
    return 0;
}
