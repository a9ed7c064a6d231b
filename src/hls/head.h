/* The one builder of playlist response heads: cached entries, streams, gzip variants and 304s
 * all get their headers here, so they can never disagree. */
#ifndef HG_PL_HEAD_H
#define HG_PL_HEAD_H

#include <stddef.h>

#define PLAYLIST_CONTENT_TYPE "application/vnd.apple.mpegurl"
/** Longest head hg_pl_head writes (with a 47-byte ETag). */
#define HG_PL_HEAD_MAX 384

typedef struct {
    int status;       /* 200, or 304 (validators only, no body headers) */
    long max_age;     /* Cache-Control: public, max-age=N */
    const char *etag; /* identity ETag with its quotes; NULL or "" when unknown */
    int gzip;         /* the body is gzip: Content-Encoding, and the ETag gets "-gz" */
    int chunked;      /* Transfer-Encoding: chunked (no length) */
    long long length; /* Content-Length when >= 0 and not chunked */
} hg_pl_head_t;

/** Write the headers that follow the per-request prefix (Content-Type, Cache-Control, ETag,
 *  Vary, Content-Encoding, Content-Length or Transfer-Encoding) and the blank line into
 *  dst[0..cap). Returns the length, or 0 when it does not fit (cap >= HG_PL_HEAD_MAX always
 *  fits when the ETag is at most 47 bytes). */
size_t hg_pl_head(char *dst, size_t cap, const hg_pl_head_t *h);
/** The gzip variant's ETag: the identity ETag with -gz inside the quotes ("" for ""). */
void hg_gz_etag(const char *etag, char *out, size_t cap);
/** Does the If-None-Match list inm[0..len) name etag (or "*")? Weak and strong forms match. */
int hg_etag_matches(const char *inm, size_t len, const char *etag);

#endif
