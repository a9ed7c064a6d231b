/* The access log: one logfmt line per finished request (never the query string: it may carry
 * tokens). It counts nothing; see answer.h for the call that counts and logs. */
#ifndef HG_ACCESS_LOG_H
#define HG_ACCESS_LOG_H

#include <stddef.h>

#include "http/http.h"

/** Log one finished request. `client` is the address to show (peer or X-Forwarded-For hop),
 *  `extra` optional further key=value pairs. */
void hg_access_log(int worker_id, const char *client, size_t client_len, const hg_request_t *req,
                   int status, size_t bytes, double origin_ms, long presigned, const char *extra);

#endif
