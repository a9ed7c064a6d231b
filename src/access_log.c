#include "access_log.h"

#include <string.h>

#include "common/log.h"
#include "common/query.h"

void hg_access_log(int worker_id, const char *client, size_t client_len, const hg_request_t *req,
                   int status, size_t bytes, double origin_ms, long presigned, const char *extra)
{
    if (hg_log_level > HG_LOG_INFO) return;
    const char *t = req->target.data ? req->target.data : "";
    size_t tl = hg_target_split(t, req->target.len, NULL, NULL);
    char path[512], cl[80];
    double dur = (double)(uv_hrtime() - req->t_start) / 1e6;
    hg_log(HG_LOG_INFO, "method=%s path=%s status=%d bytes=%zu dur_ms=%.2f origin_ms=%.2f presigned_urls=%ld worker=%d client=%s%s%s",
           llhttp_method_name((llhttp_method_t)req->method), hg_log_quote(path, sizeof path, t, tl), status,
           bytes, dur, origin_ms, presigned, worker_id, hg_log_quote(cl, sizeof cl, client, client_len),
           extra ? " " : "", extra ? extra : "");
}
