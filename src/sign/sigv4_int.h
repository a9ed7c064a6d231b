/* Internal to src/sign/sigv4*.c: the signer's layout and the helpers shared between its files. */
#ifndef HG_SIGV4_INT_H
#define HG_SIGV4_INT_H

#include <stdint.h>

#include <mbedtls/md.h>

#include "sigv4.h"

#define HG_SIGV4_ALGO "AWS4-HMAC-SHA256"
#define HG_AMZ_DATE_LEN 16 /* yyyymmddTHHMMSSZ */
#define HG_SIG_HEX_LEN 64  /* hex SHA-256 */

/* One URL whose signature is still to be computed. Everything is an offset: `out` and the arena
 * may move between hg_presign_defer and hg_presign_flush. */
typedef struct {
    size_t sig_off;       /* the 64 placeholder hex digits in out */
    size_t arena_off;     /* canonical request, string-to-sign tail, outer block (all padded) */
    uint32_t cr_blocks;   /* 64-byte blocks of the padded canonical request */
    uint32_t m2_blocks;   /* blocks of the padded string-to-sign tail (inner HMAC) */
    uint32_t st[8];       /* working state */
    uint32_t inner[8];    /* inner HMAC state after the ipad block [and the sts first block] */
    uint32_t outer[8];    /* outer HMAC state after the opad block */
} hg_sigjob_t;

struct hg_signer {
    hg_buf_t url_base;    /* "scheme://[bucket.]host[:port]" as emitted in URLs */
    hg_buf_t path_prefix; /* "/" or "/enc(bucket)/" */
    hg_buf_t cr_tail;     /* "\nhost:<canonical host>\n\nhost\nUNSIGNED-PAYLOAD" */
    hg_buf_t cred_head;   /* enc(access key) "%2F" */
    hg_buf_t region;
    hg_buf_t secret;           /* "AWS4" + secret key */
    hg_buf_t q_tail;           /* ["&X-Amz-Security-Token=" enc(token)] "&X-Amz-SignedHeaders=host" */
    size_t tok_off, tok_len;   /* encoded token inside q_tail (tok_len 0: no token) */
    hg_buf_t q_head;           /* per day: "X-Amz-Algorithm=..&X-Amz-Credential=<cred>&X-Amz-Date=" */
    size_t cred_off, cred_len; /* encoded credential inside q_head */
    hg_buf_t q_exp;            /* "&X-Amz-Expires=<win_exp>" q_tail */
    hg_buf_t sts;              /* string to sign; date and hash slots are overwritten per URL */
    size_t sts_hash_off;
    size_t sts_skip;           /* 64 when the sts has a constant first block (absorbed in inner_mid) */
    hg_buf_t scratch;          /* re-encoded extra query parameters */
    hg_buf_t pairs;            /* qpair array over scratch + auth parameters */
    int64_t day;               /* day number whose signing key is cached; INT64_MIN: none */
    char ymd[8];               /* yyyymmdd of `day` */
    mbedtls_md_context_t hmac; /* HMAC used to derive the day's signing key */
    /* Per-URL hashing works on raw SHA-256 states, so work shared by every URL is done once:
     * the HMAC's ipad and opad blocks per day, and the first 64 bytes of the string to sign
     * (algorithm, date, scope: constant within a signing window) per X-Amz-Date. */
    uint32_t inner0[8], outer0[8];
    /* The signing window: everything that depends on X-Amz-Date and the expiry but not on the
     * key, rebuilt when either changes (once a second at most) or the day rolls. */
    hg_buf_t url_head;  /* url_base path_prefix: one copy per URL */
    hg_buf_t utail;     /* "?" q_head amz q_exp "&X-Amz-Signature=" 64 x '0' */
    hg_buf_t crs;       /* "\n" q_head amz q_exp cr_tail: canonical request after the path */
    hg_buf_t m2t;       /* sts[sts_skip..] padded, hash slot to fill: inner HMAC message */
    uint32_t inner_mid[8]; /* inner0 after the sts first block (when sts_skip) */
    char win_amz[HG_AMZ_DATE_LEN];
    long win_exp;
    int win_ok;
    time_t last_when;   /* set_time's cache: last `when` and its X-Amz-Date */
    char last_amz[HG_AMZ_DATE_LEN];
    /* Deferred signatures: jobs[0..npend) target pend_out; their padded messages live in arena.
     * jobs[HG_PRESIGN_BATCH] is the slot of the immediate hg_presign. */
    hg_buf_t arena;
    const hg_buf_t *pend_out;
    size_t npend;
    hg_sigjob_t jobs[HG_PRESIGN_BATCH + 1];
};

/** Append the canonical query for extra parameters q[0..qlen) merged with ours (sorted, SigV4
 *  encoded, stale X-Amz-* auth parameters dropped) to out. amz is the X-Amz-Date, exp/explen the
 *  X-Amz-Expires digits. Returns 0 or an hg_buf error. */
int hg_sigv4_append_query(hg_signer_t *s, hg_buf_t *out, const char *q, size_t qlen,
                          const char *amz, const char *exp, size_t explen);

/** Write the URL of one presign into out with a placeholder signature and stage job j (in
 *  sigv4.c). The object key is dir "/" name, or name alone when dlen is 0; dir comes encoded as
 *  in a URL path (hg_pct_encode keeping '/'), name raw. On error out and the arena are back to
 *  their lengths before the call. */
int hg_sigv4_build(hg_signer_t *s, hg_buf_t *out, hg_sigjob_t *j, const char *dir, size_t dlen,
                   const char *name, size_t nlen, const char *query, size_t qlen, time_t when,
                   long expires);

/** Lay out job j's padded messages in the arena from the URL just written to out: the canonical
 *  request "GET\n" out[path_off..+plen) then, with q_off == 0, the window's cached suffix, else
 *  "\n" out[q_off..+qlen) cr_tail; then the inner HMAC message. Returns 0 or an hg_buf error. */
int hg_sigv4_stage_job(hg_signer_t *s, const hg_buf_t *out, hg_sigjob_t *j, size_t path_off,
                       size_t plen, size_t q_off, size_t qlen);

/** Hash jobs[0..n) (three stages, independent jobs in the SHA-256 lanes) and write each
 *  signature as 64 hex digits at out + sig_off. */
void hg_sigv4_run_jobs(hg_signer_t *s, hg_sigjob_t *jobs, size_t n, char *out);

/** Byte classes for encoding: bit 0 unreserved (A-Z a-z 0-9 - . _ ~), bit 1 '/'. */
extern const unsigned char hg_sigv4_cls[256];

#endif
