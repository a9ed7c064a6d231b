/* Internal to fill.c (lifecycle, subscribers, completion) and fill_io.c (origin callbacks,
 * rewrite pump, chunking, backpressure). */
#ifndef HG_FILL_INT_H
#define HG_FILL_INT_H

#include "../common/gz.h"
#include "../origin/origin.h"
#include "fill.h"
#include "rewrite.h"

#define FILL_ERROR_BODY_MAX 512

typedef struct sub sub_t;
struct sub {
    sub_t *next;
    hg_fill_t *f;
    hg_conn_t *c;
    hg_request_t *req;
    int head_only;
    int gzip;
    int streaming;   /* headers went out and chunks follow */
    int chunked;     /* HTTP/1.1 chunked framing (HTTP/1.0: raw bytes, then close) */
    size_t sent;     /* chunks already written */
    size_t bytes;    /* body bytes written */
    hg_gz_stream_t *z;
    const char *how; /* "miss", "joined", "stale", "bypass": for the access log */
};

/* How the origin transfer ended, kept until the pump has rewritten every byte before it. */
typedef struct {
    int have;
    hg_fetch_result_t res;
    long status;
    double ms;
    char detail[256];
    char etag[256];
    char lm[64];
} fill_end_t;

struct hg_fill {
    hg_playlists_t *pl;
    hg_ctx_t *ctx;
    hg_buf_t ckey, key, base, oquery, nquery;
    hg_buf_t fkey;     /* single-flight key: ckey, plus the request's query when it has one */
    hg_buf_t vkey;     /* cache key when the bytes depend on the query: ckey + "\n?" + query */
    hg_buf_t scratch;  /* full object key while presigning */
    int registered;    /* in pl->fills */
    int cacheable;     /* chunks and origin bytes are kept for the cache */
    unsigned gen;      /* configuration generation the fill started under */
    hg_fetch_t *fetch;
    int fetch_paused;  /* the transfer is paused (input buffer full or clients congested) */
    int queued;        /* waiting for a transfer slot */
    hg_fill_t *next_q;
    int pumping;       /* in pl->work */
    hg_fill_t *next_work;
    hg_buf_t in;       /* origin bytes not yet rewritten */
    size_t in_off;
    hg_rewriter_t rw;
    hg_buf_t out;      /* rewritten bytes not yet cut into a chunk */
    hg_buf_t origin;   /* the origin's bytes, while cacheable */
    hg_buf_t errbody;
    hg_rbuf_t **chunks;
    size_t nchunks, chunks_cap;
    size_t body_len, origin_bytes;
    int64_t window;
    long expires;
    int streaming;     /* the head window was exceeded: subscribers are streaming */
    long max_age;
    char etag[48];     /* "" when unknown while streaming */
    int fail_status;
    const char *fail_reason;
    hg_pl_entry_t *stale; /* entry being revalidated (taken out of the cache) */
    hg_pl_entry_t *prev;  /* the previous version of a live playlist, whose URLs are kept */
    hg_map_t urls;        /* media URL spans of this body ("key\0query" -> offset << 20 | len) */
    int urls_off;         /* too many URLs, or streamed: spans are not kept */
    hg_buf_t ukey;        /* scratch: "key\0query" */
    hg_buf_t ins;         /* size_t offsets where nested playlist URLs end (PASS_QUERY) */
    hg_buf_t segq;        /* PASS_QUERY parameters signed into segment URLs */
    hg_buf_t dir;         /* object key of the playlist's folder (KEY_PREFIX and folder, '/'-joined) */
    sub_t *subs;
    fill_end_t end;
    double origin_ms;  /* time to the origin's first byte (for the access log) */
};

extern const hg_fetch_cb_t hg_fill_origin_cb;

/* fill.c */
void fill_free(hg_fill_t *f);
void fill_unregister(hg_fill_t *f);
void fill_slot_done(hg_fill_t *f);
void fill_fail(hg_fill_t *f, int status, const char *why, double origin_ms);
void fill_complete(hg_fill_t *f, hg_pl_entry_t *e, double origin_ms);
void sub_start_stream(sub_t *s);
void sub_write(sub_t *s, hg_rbuf_t *chunk, int finish);
/* fill_io.c */
/* The rewriter's fast lane for plain media names (hg_emit_plain_fn). */
int hg_fill_emit_plain(void *ud, const char *name, size_t n, hg_buf_t *out);
int hg_fill_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len, const char *query,
                 size_t query_len, hg_buf_t *out);
void fill_resume(hg_fill_t *f);
void pump_remove(hg_fill_t *f);

#endif
