/* Streaming HLS playlist rewriter: a line state machine.
 *
 * Feed it origin bytes in pieces of any size; it appends rewritten bytes to an output buffer.
 * The output is byte-identical wherever the input is split. Every byte that is not a URI value is
 * copied unchanged (tags, attributes, comments, unknown tags, blank lines, CR/LF, a UTF-8 BOM).
 * For each URI that resolves inside the key namespace it calls the `emit` callback, which writes
 * the replacement (a presigned S3 URL for media, a gateway URL for playlists).
 *
 * The rewriter owns a line buffer capped at max_line bytes; the caller owns `out`. */
#ifndef HG_REWRITE_H
#define HG_REWRITE_H

#include <stddef.h>

#include "../common/buf.h"

typedef enum { HG_URI_MEDIA = 0, HG_URI_PLAYLIST = 1 } hg_uri_kind_t;

/** Write the replacement for namespace key `key` (decoded, normalised) with optional raw query
 *  into `out`. Return 0, or a negative hg_buf error which aborts the rewrite. */
typedef int (*hg_emit_fn)(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                          const char *query, size_t query_len, hg_buf_t *out);

/** Optional fast lane (hg_rewriter_set_plain): write the replacement for a media URI that is a
 *  plain relative name (hg_uri_plain: no escape, dot segment, query, fragment or variable; not a
 *  playlist), name[0..n), whose key is the playlist's folder "/" name. Return 0 when written,
 *  HG_RW_DECLINE to have it go through `emit` as usual, or a negative error. The output must be
 *  exactly what `emit` would write for that key. */
typedef int (*hg_emit_plain_fn)(void *ud, const char *name, size_t n, hg_buf_t *out);
#define HG_RW_DECLINE 1

/* max_line used when hg_rewriter_init is given 0 */
#define HG_RW_DEFAULT_MAX_LINE 65536

/* Errors: HG_ENOTPLAYLIST, HG_ELINE, HG_EEMPTY, HG_ETOOMANY (common/err.h), or an hg_buf error
 * (HG_ENOMEM, HG_EOVERFLOW). */

/* Variables of the multivariant playlist travel to its nested playlists (for IMPORT) as query
 * parameters of their gateway URLs, named this prefix + the variable's name. */
#define HG_RW_IMPORT_PREFIX "hgv-"

struct hg_rw_var;

typedef struct {
    /* configuration */
    hg_emit_fn emit;
    hg_emit_plain_fn emit_plain; /* NULL: every URI goes through emit */
    void *ud;
    char *base;      /* decoded namespace folder of this playlist (owned copy) */
    size_t base_len;
    size_t max_line; /* longest accepted line, in bytes, excluding the line ending */

    /* state */
    hg_buf_t line;   /* bytes of the current line when it straddles two feed() calls */
    hg_buf_t scratch; /* resolved key of the URI being rewritten (reused, no per-line malloc) */
    size_t bytes_in; /* bytes fed so far */
    int line_no;     /* lines completed so far */
    int next_is_playlist; /* saw EXT-X-STREAM-INF: the next URI line is a variant playlist */
    int failed;      /* sticky error code once something went wrong */
    int pending_cr;  /* internal: the last piece ended in CR, so a leading LF completes CRLF */

    /* what was learnt about the playlist, valid at any time for the bytes seen so far */
    int is_master;          /* saw EXT-X-STREAM-INF / EXT-X-MEDIA / I-FRAME-STREAM-INF ... */
    int has_extinf;         /* saw EXTINF */
    int has_endlist;        /* saw EXT-X-ENDLIST */
    int type_vod;           /* EXT-X-PLAYLIST-TYPE:VOD */
    int type_event;         /* EXT-X-PLAYLIST-TYPE:EVENT */
    double target_duration; /* EXT-X-TARGETDURATION, -1 until seen */
    long presigned;         /* media URIs replaced by presigned URLs */
    long gateway;           /* playlist URIs replaced by gateway URLs */
    long kept;              /* absolute, protocol-relative and deferred "{$var}" URIs left alone */
    long refused;           /* URIs left alone because they escape the namespace or are invalid */

    /* EXT-X-DEFINE (RFC 8216bis 4.4.2.3): variables in definition order */
    struct hg_rw_var *vars;
    size_t nvars, vars_cap;
    hg_buf_t varbuf;        /* names and values, back to back (vars hold offsets) */
    hg_buf_t subst;         /* the URI being rewritten, after substitution */
    hg_buf_t carry;         /* a nested playlist's query plus the variables carried to it */
    char *req_query;        /* request query for QUERYPARAM/IMPORT; NULL: not given (deferred) */
    size_t req_qlen;
    long substituted;       /* URIs whose variable references were resolved here */
    int uses_query;         /* a QUERYPARAM or IMPORT value came from the request's query */
    char var_error[160];    /* why HG_EVAR was returned */
} hg_rewriter_t;

/** Prepare a rewriter for a playlist whose decoded namespace folder is base[0..base_len).
 *  max_line 0 selects HG_RW_DEFAULT_MAX_LINE. Returns 0 or HG_ENOMEM. */
int hg_rewriter_init(hg_rewriter_t *rw, const char *base, size_t base_len, size_t max_line,
                     hg_emit_fn emit, void *ud);
/** Opt in to QUERYPARAM and IMPORT variables: q[0..qlen) is the raw query (after '?', may be
 *  empty) of the request for this playlist. QUERYPARAM="x" takes parameter x from it, IMPORT="x"
 *  takes HG_RW_IMPORT_PREFIX "x" (decoded, '+' read as a space); either missing is an error, as
 *  the draft requires. Without this call such variables are deferred: URIs that use them are left
 *  for the player, as before. Variables defined with NAME/VALUE are always substituted, and a
 *  reference to a variable that is not defined earlier is always HG_EVAR.
 *  Call before the first feed. Returns 0 or HG_ENOMEM. */
int hg_rewriter_set_request_query(hg_rewriter_t *rw, const char *q, size_t qlen);
/** Use `fn` for plain media names (see hg_emit_plain_fn); NULL turns the fast lane off. */
void hg_rewriter_set_plain(hg_rewriter_t *rw, hg_emit_plain_fn fn);
/** Consume data[0..len) and append rewritten output to out. Returns 0 or a negative error
 *  (HG_RW_* or hg_buf error); after an error every later call returns the same error and the
 *  caller must discard what was written to out. Lines end in LF, CRLF or a lone CR. */
int hg_rewriter_feed(hg_rewriter_t *rw, const char *data, size_t len, hg_buf_t *out);
/** Flush the last line (a playlist need not end with a newline). Returns 0 or an error;
 *  HG_EEMPTY when no byte was ever fed. */
int hg_rewriter_finish(hg_rewriter_t *rw, hg_buf_t *out);
/** True when the bytes seen so far describe a live media playlist: EXTINF present, no
 *  EXT-X-ENDLIST, not PLAYLIST-TYPE:VOD. */
int hg_rewriter_is_live(const hg_rewriter_t *rw);
/** Free the rewriter's own storage. */
void hg_rewriter_free(hg_rewriter_t *rw);

#endif
