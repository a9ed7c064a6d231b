/* Routing: decide a request's route once (kept in req->route for metrics and logs), check the
 * method and any access token, and hand the request to its handler. */
#ifndef HG_GATEWAY_H
#define HG_GATEWAY_H

#include "ctx.h"
#include "http/http.h"

/** The application's request handler for the HTTP library: ctx is the worker's hg_ctx_t. */
void hg_gateway_handle(void *ctx, hg_conn_t *c, hg_request_t *req);
/** The route of a request target (HG_ROUTE_*, metrics.h). */
int hg_gateway_route(const char *target, size_t len);

#endif
