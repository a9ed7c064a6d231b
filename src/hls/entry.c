#include "entry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/gz.h"
#include "head.h"

hg_pl_entry_t *hg_pl_entry_new(void)
{
    hg_pl_entry_t *e = calloc(1, sizeof *e);
    if (e) e->refs = 1;
    return e;
}

hg_pl_entry_t *hg_pl_entry_ref(hg_pl_entry_t *e)
{
    if (e) e->refs++;
    return e;
}

void hg_pl_entry_unref(hg_pl_entry_t *e)
{
    if (!e || --e->refs > 0) return;
    hg_rbuf_unref(e->resp);
    hg_rbuf_unref(e->gz);
    hg_rbuf_unref(e->origin);
    hg_map_free(&e->urls);
    free(e->ins);
    free(e);
}

void hg_pl_entry_release(void *e)
{
    hg_pl_entry_unref(e);
}

size_t hg_pl_entry_bytes(const hg_pl_entry_t *e)
{
    return sizeof *e + e->nins * sizeof *e->ins + (e->resp ? e->resp->len : 0) + (e->gz ? e->gz->len : 0) + (e->origin ? e->origin->len : 0);
}

int hg_pl_entry_set_resp(hg_pl_entry_t *e, const char *head, size_t hlen, const char *body, size_t len)
{
    hg_rbuf_t *r = hg_rbuf_new(hlen + len);
    if (!r) return HG_ENOMEM;
    memcpy(r->data, head, hlen);
    if (len) memcpy(r->data + hlen, body, len);
    hg_rbuf_unref(e->resp);
    e->resp = r;
    e->resp_hdr = hlen;
    return 0;
}

int hg_pl_entry_url(const hg_pl_entry_t *e, const char *k, size_t klen, int64_t now, long min_life,
                    const char **p, size_t *len)
{
    if (!e->urls.n || !e->resp || e->urls_expire - now < min_life) return 0;
    void *v = hg_map_get(&e->urls, k, klen);
    if (!v) return 0;
    uintptr_t packed = (uintptr_t)v;
    size_t off = packed >> 20, l = packed & ((1u << 20) - 1);
    if (e->resp_hdr + off + l > e->resp->len) return 0;
    *p = e->resp->data + e->resp_hdr + off;
    *len = l;
    return 1;
}

int hg_pl_entry_make_gz(hg_pl_entry_t *e)
{
    if (e->gz) return 0;
    if (!e->resp) return HG_EINVAL;
    hg_buf_t z;
    hg_buf_init(&z, 0);
    int rc = hg_gzip(&z, e->resp->data + e->resp_hdr, e->resp->len - e->resp_hdr);
    char head[HG_PL_HEAD_MAX];
    hg_pl_head_t h = {200, e->max_age, e->etag, 1, 0, (long long)z.len};
    size_t hl = rc ? 0 : hg_pl_head(head, sizeof head, &h);
    if (!rc && !hl) rc = HG_EOVERFLOW;
    if (!rc && !(e->gz = hg_rbuf_new(hl + z.len))) rc = HG_ENOMEM;
    if (!rc) {
        memcpy(e->gz->data, head, hl);
        memcpy(e->gz->data + hl, z.data, z.len);
        e->gz_hdr = hl;
    }
    hg_buf_free(&z);
    return rc;
}
