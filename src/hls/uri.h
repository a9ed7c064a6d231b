/* Resolution of URIs found in playlists against the gateway's key namespace.
 *
 * A playlist lives at a namespace key such as "shows/ep1/index.m3u8"; its folder is "shows/ep1".
 * A URI in it is either kept as it is (it has a scheme, is protocol-relative "//host/...", or holds
 * an EXT-X-DEFINE variable reference "{$name}" that only the client can expand),
 * or resolved to a namespace key: relative paths against the folder, "/x" from the namespace root,
 * after percent-decoding, with "." and ".." segments removed (RFC 3986 section 5.2.4). A URI that
 * climbs above the namespace root, or decodes to something unsafe, is refused and never signed. */
#ifndef HG_URI_H
#define HG_URI_H

#include <stddef.h>

#include "../common/buf.h"

/* Longest object key S3 accepts (bytes of UTF-8). */
#define HG_KEY_MAX 1024

typedef enum {
    HG_URI_RESOLVED = 0,  /* key written to out; query/fragment returned separately */
    HG_URI_KEEP = 1,      /* absolute (scheme:), protocol-relative or "{$var}": leave byte for byte */
    HG_URI_ESCAPES = -1,  /* climbs out of the namespace: never sign */
    HG_URI_INVALID = -2,  /* empty, bad %-escape, NUL, control bytes, backslash...: never sign */
    HG_URI_NOMEM = -3,    /* output buffer error */
} hg_uri_result_t;

typedef struct {
    const char *query; /* raw query after '?', without '?' or fragment; NULL when absent */
    size_t query_len;
    const char *fragment; /* raw fragment after '#', without '#'; NULL when absent */
    size_t fragment_len;
} hg_uri_parts_t;

/** Resolve `uri` (raw bytes from the playlist, surrounding whitespace already trimmed) against
 *  the decoded namespace folder `base` (no leading or trailing '/', "" for the root).
 *  On HG_URI_RESOLVED the decoded, normalised namespace key (no leading '/', never empty, and
 *  acceptable to hg_key_check) is appended to `key`, and parts->query / parts->fragment point into
 *  `uri`. The fragment is never part of the key; the caller decides whether to keep it.
 *  The path is percent-decoded before "." and ".." are removed, so "%2e%2e" climbs like ".."
 *  and "%2F" separates segments. A trailing "/", "." or ".." (a folder, not an object) and empty
 *  segments ("a//b") are HG_URI_INVALID. On any result but HG_URI_RESOLVED `key` is unchanged. */
hg_uri_result_t hg_uri_resolve(const char *base, size_t base_len, const char *uri, size_t uri_len,
                               hg_buf_t *key, hg_uri_parts_t *parts);

/** True when uri[0..n) is a path that resolution leaves as it is: printable ASCII without '%',
 *  '?', '#', ':', '{', '\\' or spaces, no empty segment, no segment starting with '.', and not
 *  ending in '/' (one leading '/' is allowed). Such a URI needs no decoding, dot removal or
 *  further checks: hg_uri_resolve_plain() joins it to the folder directly. Table-driven, one pass;
 *  almost every segment URI in real playlists is plain. */
int hg_uri_plain(const char *uri, size_t n);

/** hg_uri_resolve() for a URI that hg_uri_plain() accepted: appends the key (base + '/' + uri,
 *  or uri without its leading '/') to `key` and returns HG_URI_RESOLVED, or HG_URI_NOMEM. The
 *  result is byte for byte what hg_uri_resolve() gives for the same input (tested, and checked
 *  by the fuzz_uri target). */
hg_uri_result_t hg_uri_resolve_plain(const char *base, size_t base_len, const char *uri, size_t n,
                                     hg_buf_t *key);

/** hg_uri_resolve() without the hg_uri_plain() shortcut: every URI takes the full path. The
 *  reference the shortcut is tested against (unit tests, fuzz_uri). */
hg_uri_result_t hg_uri_resolve_full(const char *base, size_t base_len, const char *uri, size_t uri_len,
                                    hg_buf_t *key, hg_uri_parts_t *parts);

/** Validate and normalise a namespace key taken from a request path (already percent-decoded):
 *  rejects empty keys, NUL and control bytes, backslashes, invalid or overlong UTF-8, and any
 *  "." or ".." segment or empty segment ("a//b"). Returns 0 when the key is acceptable as is,
 *  HG_URI_INVALID or HG_URI_ESCAPES otherwise. */
hg_uri_result_t hg_key_check(const char *key, size_t len);

/** True when the namespace key names a playlist by its extension (.m3u8 / .m3u, any case). */
int hg_key_is_playlist(const char *key, size_t len);

/** The full object key of namespace key[0..len): prefix + '/' + key (just key when prefix is
 *  NULL or ""). Replaces out's contents. Returns 0 or an hg_buf error. */
int hg_object_key(const char *prefix, hg_buf_t *out, const char *key, size_t len);

#endif
