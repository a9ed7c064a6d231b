/* The namespace key of a request path, checked, or the request answered with the reason. */
#ifndef HG_KEY_H
#define HG_KEY_H

#include <stddef.h>

#include "../common/buf.h"
#include "../ctx.h"
#include "../http/http.h"

/** Percent-decode p[0..n) (the path after the route prefix) into key and check it (hls/uri.h).
 *  Returns 0, or -1 after answering 400 (bad escape, invalid key) or 403 (dot segment). */
int hg_key_from_path(hg_ctx_t *ctx, hg_conn_t *c, hg_request_t *req, const char *p, size_t n,
                     hg_buf_t *key);

#endif
