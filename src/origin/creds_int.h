/* Internals shared by creds.c (snapshot, state, sources chosen at start) and creds_fetch.c (the
 * network refresher). Not for other files. */
#ifndef HG_CREDS_INT_H
#define HG_CREDS_INT_H

#include "../common/buf.h"
#include "creds.h"
#include "creds_parse.h"

typedef enum { SRC_STATIC, SRC_FILE, SRC_WEB_IDENTITY, SRC_CONTAINER, SRC_IMDS } src_t;

struct hg_creds {
    src_t src;
    uv_mutex_t mu;              /* guards cur and last_error */
    hg_creds_snap_t *cur;
    char last_error[300];
    atomic_ulong gen;           /* generation of cur (0: none) */
    _Atomic long long exp;      /* expiration of cur (0: never) */
    atomic_ulong refreshes, failures;

    /* settings, copied from the configuration */
    char *file, *profile;                 /* shared credentials file */
    char *token_file, *role_arn, *session_name, *sts_url, *region;
    char *container_url, *auth_token, *auth_token_file;
    char *imds_url;
    long refresh_ahead;

    /* the refresher: touched only on the loop's thread */
    uv_loop_t *loop;
    hg_origin_t *origin;
    uv_timer_t timer;
    int timer_open, stopping;
    atomic_int attempted;       /* a first attempt finished (success or failure) */
    hg_fetch_t *fetch;
    int step;                   /* IMDS: 0 token, 1 role name, 2 credentials */
    unsigned retry;             /* attempt number since the last success (back-off) */
    hg_buf_t body;              /* answer being received */
    char imds_token[128];
    char imds_role[128];
};

/** Publish p (copied) as the next generation; clears the last error. */
int hg_creds_publish(hg_creds_t *c, const hg_creds_parsed_t *p);
/** Record a failed attempt (logged by the caller). */
void hg_creds_set_error(hg_creds_t *c, const char *msg);
/** Name of a source. */
const char *hg_creds_src_name(src_t s);

#endif
