/* Which query parameters of a playlist URI may go into a presigned S3 URL. S3 gives meaning to
 * some parameters: sub-resources (?acl, ?tagging, ?torrent, ?uploads...), response overrides
 * (response-content-type=text/html would serve HTML from the bucket's domain) and any x-amz-*
 * parameter. Those are dropped from what is signed unless listed in S3_QUERY_ALLOW; every other
 * parameter is kept and covered by the signature. */
#ifndef HG_S3QUERY_H
#define HG_S3QUERY_H

#include <stddef.h>

#include "../common/buf.h"

/** True when S3 gives the parameter name[0..len) a meaning (compared ignoring case). */
int hg_s3_param_special(const char *name, size_t len);
/** Append to out the parameters of q[0..qlen) that may be signed, '&'-joined, as they were:
 *  special ones only when their exact name is in `allow` (NULL-terminated, may be NULL).
 *  Returns 0 or an hg_buf error. */
int hg_s3_query_filter(hg_buf_t *out, const char *q, size_t qlen, char *const *allow);

#endif
