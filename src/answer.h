/* Ending a request, for every handler: count it in the metrics (by the route the router chose)
 * and write its access-log line; answer errors with a short plain-text body. */
#ifndef HG_ANSWER_H
#define HG_ANSWER_H

#include <stddef.h>

#include "ctx.h"
#include "http/http.h"

/** Count and log a finished request (the response itself is the caller's). */
void hg_answer_done(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status, size_t bytes,
                    double origin_ms, long presigned, const char *extra);
/** Answer with status and a short text body, count and log it; `why` is a short cause for the
 *  log. Protocol errors (400, 413, 414, 431) close the connection. */
void hg_answer_error(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status,
                     const char *body, const char *why);
/** The same with extra header lines (each ending in CRLF), e.g. Retry-After. */
void hg_answer_error_x(hg_ctx_t *ctx, hg_conn_t *c, const hg_request_t *req, int status,
                       const char *extra, const char *body, const char *why);

#endif
