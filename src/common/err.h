/* The one error convention of hlsgate: functions return 0 (or a count) on success and one of
 * these negative codes on failure. libuv's own codes (UV_E*, also negative) pass through the
 * HTTP and worker layers unchanged; every header says which codes each function returns. */
#ifndef HG_ERR_H
#define HG_ERR_H

#define HG_OK 0
#define HG_ENOMEM (-12)      /* allocation failed */
#define HG_EINVAL (-22)      /* malformed input (bad escape, bad token, bad config value) */
#define HG_EOVERFLOW (-75)   /* a hard size cap was reached */
#define HG_ECRYPTO (-1100)   /* an mbedTLS call failed on a valid context (not expected) */

/* Playlist rewriting (hls/rewrite.h) */
#define HG_ENOTPLAYLIST (-1000) /* first line is not #EXTM3U (after an optional BOM) */
#define HG_ELINE (-1001)        /* a playlist line is longer than the cap */
#define HG_EEMPTY (-1002)       /* the origin sent no bytes */
#define HG_ETOOMANY (-1003)     /* more URIs than PLAYLIST_MAX_URIS */
#define HG_EVAR (-1004)         /* EXT-X-DEFINE: undefined variable or missing QUERYPARAM */

/** Short text for a code, for logs and error bodies (never NULL). */
const char *hg_strerror(int code);

#endif
