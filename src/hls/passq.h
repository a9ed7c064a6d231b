/* Query pass-through (PASS_QUERY): which of a request's parameters are carried into the URLs
 * hlsgate writes, and how. */
#ifndef HG_PASSQ_H
#define HG_PASSQ_H

#include <stddef.h>

#include "../common/buf.h"
#include "../config.h"

/** Split the request's query q[0..qlen) into the PASS_QUERY parameters that key the cache and
 *  are written into the rewritten bytes (kq: those in CACHE_KEY_QUERY, or all of them with
 *  PASS_QUERY_SEGMENTS, since segment signatures cover them) and those added to nested playlist
 *  URLs per response (sq). Each is appended "name=value&..." as it arrived. Either out may be
 *  NULL. Returns 0 or an hg_buf error. */
int hg_passq_split(const hg_config_t *cfg, const char *q, size_t qlen, hg_buf_t *kq, hg_buf_t *sq);

#endif
