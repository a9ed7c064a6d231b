/* Credentials for signing, resolved in the order the AWS SDKs use:
 *   1. explicit settings (S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY / S3_SESSION_TOKEN, AWS_*);
 *   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials;
 *      AWS_PROFILE, default "default");
 *   3. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS
 *      AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS overrides the endpoint);
 *   4. the container endpoint (ECS, EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_FULL_URI or
 *      _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE;
 *   5. EC2 instance metadata, IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT; off with
 *      AWS_EC2_METADATA_DISABLED=true).
 * The first source whose settings are present is chosen once, at start.
 *
 * Threads: one hg_creds_t per process, shared by every worker. The refresher (sources 3-5) runs
 * on ONE uv loop through an hg_origin_t (curl multi) on that loop; it never blocks. Each
 * successful fetch publishes an immutable, reference-counted snapshot with a new generation
 * number; workers compare the generation (one atomic load) and rebuild their signer when it
 * moved. On failure the last good snapshot stays until it expires; then the state is EXPIRED
 * and requests should answer 503 with the provider and the error. */
#ifndef HG_CREDS_H
#define HG_CREDS_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "../config.h"
#include "../sign/sigv4.h"
#include "origin.h"

typedef struct hg_creds hg_creds_t;

/** Results of hg_creds_status / hg_creds_sync. */
enum { HG_CREDS_OK = 0, HG_CREDS_PENDING = 1, HG_CREDS_EXPIRED = 2, HG_CREDS_ERROR = -1 };

/** One immutable set of credentials. Readers hold a reference (hg_creds_acquire/release). */
typedef struct {
    atomic_int refs;
    unsigned long generation; /* 1, 2, ... in publication order */
    time_t expiration;        /* 0: never expires (static keys, shared file) */
    const char *source;       /* static string: "static", "shared-file", "web-identity", ... */
    char *access_key;
    char *secret_key;
    char *session_token;      /* NULL for long-lived keys */
} hg_creds_snap_t;

/** Choose the source from cfg (copied: cfg may be freed afterwards) and, for static keys and
 *  the shared file, load them now. Returns 0, or -1 with a one-line reason in err (no secrets). */
int hg_creds_new(hg_creds_t **out, const hg_config_t *cfg, char *err, size_t errlen);
/** 1 when the source is fetched over the network and needs hg_creds_start. */
int hg_creds_needs_loop(const hg_creds_t *c);
/** Start fetching and refreshing on `loop` through `origin` (created on that loop; it must stay
 *  open until hg_creds_stop). The first fetch starts on the next loop turn. No-op for static
 *  sources. Call on the loop's thread. Returns 0 or a negative uv error. */
int hg_creds_start(hg_creds_t *c, uv_loop_t *loop, hg_origin_t *origin);
/** Run `loop` until the first fetch has succeeded or failed, or timeout_ms passed (startup, before
 *  the workers take traffic; the loop serves nothing else then). Returns the hg_creds_status. */
int hg_creds_wait_first(hg_creds_t *c, uv_loop_t *loop, long timeout_ms);
/** Stop refreshing: cancel the fetch in flight and close the timer (on the loop's thread). Run
 *  the loop afterwards so the close callback runs, then hg_creds_free. */
void hg_creds_stop(hg_creds_t *c);
/** Free everything once no worker uses c any more. NULL is allowed. */
void hg_creds_free(hg_creds_t *c);
/** Configuration reload (SIGHUP): static keys and the shared file are read again and published
 *  as a new generation when they changed. Network sources keep running. Thread-safe. */
void hg_creds_reload(hg_creds_t *c, const hg_config_t *cfg);

/** Reference to the current snapshot, or NULL before the first success. Thread-safe. */
hg_creds_snap_t *hg_creds_acquire(hg_creds_t *c);
/** Drop a reference (frees and wipes the snapshot with the last one). NULL is allowed. */
void hg_creds_release(hg_creds_snap_t *s);
/** Generation of the current snapshot (0 before the first). One atomic load. */
unsigned long hg_creds_generation(const hg_creds_t *c);
/** State at `now` (hg_signing_now()): HG_CREDS_OK, PENDING (none yet) or EXPIRED. For anything but
 *  OK, why receives "provider=NAME error=..." (may be NULL). */
int hg_creds_status(hg_creds_t *c, time_t now, char *why, size_t whylen);

/** Metrics: the source's name ("static", "shared-file", "web-identity", "container", "imds"). */
const char *hg_creds_source(const hg_creds_t *c);
/** Metrics: seconds until the current credentials expire (negative once expired); -1 when they
 *  never expire or none were fetched yet (check hg_creds_generation). */
long hg_creds_seconds_left(const hg_creds_t *c, time_t now);
/** Metrics: successful fetches and failed attempts since start. */
unsigned long hg_creds_refreshes(const hg_creds_t *c);
unsigned long hg_creds_failures(const hg_creds_t *c);

/** Worker hook, on the worker's thread before signing for a request (cheap when nothing
 *  changed: one atomic load). Makes *signer (owned by the caller) match the current credentials
 *  and cfg: rebuilt when the generation moved or *gen is 0 (set *gen = 0 after a configuration
 *  reload to force it). *expiration receives the signer's credential expiry (0: never).
 *  With c == NULL the keys come from cfg (tests, fuzzers). Returns HG_CREDS_OK, PENDING or
 *  EXPIRED (answer 503: why names provider and error), or HG_CREDS_ERROR (out of memory; the old
 *  signer is kept). */
int hg_creds_sync(hg_creds_t *c, const hg_config_t *cfg, hg_signer_t **signer, unsigned long *gen,
                  time_t *expiration, char *why, size_t whylen);

/** X-Amz-Expires for a URL whose X-Amz-Date is sign_time, signed with credentials expiring at
 *  `expiration` (0: never): `wanted` capped so the URL does not outlive the credentials (at least
 *  1). *shortfall (may be NULL) receives wanted minus the result (0 when not capped). */
long hg_creds_cap_expires(time_t expiration, time_t sign_time, long wanted, long *shortfall);

/** Count one response whose URLs were capped by hg_creds_cap_expires: `shortfall_s` is how much
 *  sooner than PRESIGN_EXPIRES_SECONDS promised (from now) they expire. Logs a warning at most once
 *  a minute. Thread-safe. */
void hg_creds_note_shortfall(long shortfall_s);
/** Append the storage metrics (credential source, expiry, refreshes, clock offset, capped URLs)
 *  in Prometheus text format. Returns 0 or an hg_buf error. */
int hg_storage_metrics_render(hg_buf_t *out);

/** The process's credentials (set once by main before the workers start; NULL: cfg keys). */
void hg_creds_set_shared(hg_creds_t *c);
hg_creds_t *hg_creds_shared(void);

#endif
