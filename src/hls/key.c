#include "key.h"

#include "../answer.h"
#include "../common/pct.h"
#include "uri.h"

int hg_key_from_path(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req, const char *p, size_t n,
                     hg_buf_t *key)
{
    if (hg_pct_decode(key, p, n) != 0) {
        hg_answer_error(ctx, c, req, 400, "bad percent-encoding in path\n", "bad escape");
        return -1;
    }
    hg_uri_result_t r = hg_key_check(key->data ? key->data : "", key->len);
    if (r == HG_URI_ESCAPES) {
        hg_answer_error(ctx, c, req, 403, "path leaves the key namespace\n", "dot segment");
        return -1;
    }
    if (r != HG_URI_RESOLVED) {
        hg_answer_error(ctx, c, req, 400, key->len ? "invalid key in path\n" : "empty key\n", "invalid key");
        return -1;
    }
    return 0;
}
