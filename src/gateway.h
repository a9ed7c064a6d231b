/* Pieces shared by the request handlers (gateway.c: routing, /hls-seg, OPTIONS, health;
 * playlist.c: /hls with its cache and single-flight). */
#ifndef HG_GATEWAY_H
#define HG_GATEWAY_H

#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "config.h"
#include "http/server.h"

/** One logfmt access-log line for a finished request (the query string is never logged). */
void hg_access_log(hg_conn_t *c, const hg_request_t *req, int status, size_t bytes,
                   double origin_ms, long presigned, const char *extra);
/** Answer with a short plain-text error and log it; `why` is a short cause for the log. */
void hg_send_error(hg_conn_t *c, hg_request_t *req, int status, const char *body, const char *why);
/** Decode and check the namespace key after prefix_len bytes of the path; on failure the error
 *  response has been sent and -1 is returned. */
int hg_decode_key(hg_conn_t *c, hg_request_t *req, size_t prefix_len, hg_buf_t *key);
/** Full object key: S3_KEY_PREFIX + '/' + namespace key (replaces out's contents). */
int hg_object_key(const hg_config_t *cfg, hg_buf_t *out, const char *key, size_t len);
/** Start of the signing window that `now` falls in (now itself when SIGN_WINDOW_SECONDS=0). */
int64_t hg_window_start(const hg_config_t *cfg, time_t now);
/** X-Amz-Expires for window-signed URLs: PRESIGN_EXPIRES_SECONDS + the window, capped at 7 days,
 *  so a URL served at the end of its window still lives PRESIGN_EXPIRES_SECONDS. */
long hg_window_expires(const hg_config_t *cfg);

/** GET|HEAD /hls-seg/{key}: 302 to the presigned URL (cached per window). */
void hg_handle_segment(hg_conn_t *c, hg_request_t *req);
/** GET|HEAD /hls/{key}. */
void hg_handle_playlist(hg_conn_t *c, hg_request_t *req);
/** Per-worker playlist state (cache, in-flight fills): set up and torn down with the worker. */
int hg_playlist_worker_init(hg_worker_t *w);
void hg_playlist_worker_free(hg_worker_t *w);
/** After a configuration reload: empty the cache (its URLs carry the old signing identity) and
 *  keep fills already running from caching what they produce. */
void hg_playlist_worker_reconfigure(hg_worker_t *w);

#endif
