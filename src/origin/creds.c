/* The credential chain: choosing the source, static and file sources, the shared snapshot and
 * the worker-side hooks. The network refresher lives in creds_fetch.c. */
#include "creds_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/log.h"
#include "clock.h"

static _Atomic(hg_creds_t *) g_shared;

static int efail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int efail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

const char *hg_creds_src_name(src_t s)
{
    switch (s) {
    case SRC_STATIC: return "static";
    case SRC_FILE: return "shared-file";
    case SRC_WEB_IDENTITY: return "web-identity";
    case SRC_CONTAINER: return "container";
    case SRC_IMDS: return "imds";
    }
    return "?";
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (!s) return;
    volatile char *v = s;
    for (size_t i = 0; s[i]; i++) v[i] = 0;
    free(s);
}

static void snap_free(hg_creds_snap_t *s)
{
    wipe_free(s->access_key);
    wipe_free(s->secret_key);
    wipe_free(s->session_token);
    free(s);
}

int hg_creds_publish(hg_creds_t *c, const hg_creds_parsed_t *p)
{
    hg_creds_snap_t *s = calloc(1, sizeof *s);
    if (!s) return -1;
    atomic_init(&s->refs, 1);
    s->expiration = p->expiration;
    s->source = hg_creds_src_name(c->src);
    s->access_key = strdup(p->access_key);
    s->secret_key = strdup(p->secret_key);
    s->session_token = p->session_token[0] ? strdup(p->session_token) : NULL;
    if (!s->access_key || !s->secret_key || (p->session_token[0] && !s->session_token)) {
        snap_free(s);
        return -1;
    }
    uv_mutex_lock(&c->mu);
    hg_creds_snap_t *old = c->cur;
    s->generation = atomic_load(&c->gen) + 1;
    c->cur = s;
    c->last_error[0] = 0;
    atomic_store(&c->exp, (long long)s->expiration);
    atomic_store(&c->gen, s->generation); /* last: a reader that sees it finds the snapshot */
    uv_mutex_unlock(&c->mu);
    hg_creds_release(old);
    atomic_fetch_add(&c->refreshes, 1);
    return 0;
}

void hg_creds_set_error(hg_creds_t *c, const char *msg)
{
    uv_mutex_lock(&c->mu);
    snprintf(c->last_error, sizeof c->last_error, "%s", msg);
    uv_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->failures, 1);
}

static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    size_t n = fread(buf, 1, cap, f);
    int big = n == cap && fgetc(f) != EOF;
    fclose(f);
    if (big) return -EFBIG;
    *len = n;
    return 0;
}

/* Static keys from the configuration, or the shared credentials file. */
static int load_local(hg_creds_t *c, const hg_config_t *cfg, char *err, size_t errlen)
{
    hg_creds_parsed_t *p = calloc(1, sizeof *p);
    if (!p) return efail(err, errlen, "out of memory");
    int rc = 0;
    if (c->src == SRC_STATIC) {
        snprintf(p->access_key, sizeof p->access_key, "%s", cfg->access_key);
        snprintf(p->secret_key, sizeof p->secret_key, "%s", cfg->secret_key);
        snprintf(p->session_token, sizeof p->session_token, "%s", cfg->session_token ? cfg->session_token : "");
    } else {
        size_t cap = 1 << 20, len = 0;
        char *text = malloc(cap);
        int e = text ? read_file(c->file, text, cap, &len) : -ENOMEM;
        if (e) {
            snprintf(err, errlen, "AWS_SHARED_CREDENTIALS_FILE: cannot read '%.200s': %s", c->file, strerror(-e));
            rc = -1;
        } else {
            char why[200];
            if (hg_creds_parse_ini(text, len, c->profile, p, why, sizeof why)) {
                snprintf(err, errlen, "AWS_SHARED_CREDENTIALS_FILE '%.200s': %s", c->file, why);
                rc = -1;
            }
        }
        if (text) {
            memset(text, 0, len);
            free(text);
        }
    }
    if (!rc && hg_creds_publish(c, p)) rc = efail(err, errlen, "out of memory");
    hg_creds_parsed_wipe(p);
    free(p);
    return rc;
}

/* http:// is allowed only to the addresses the platforms use and to loopback (the SDKs' rule):
 * anything else could hand the credentials to the network. */
static int container_url_ok(const char *u)
{
    if (!strncmp(u, "https://", 8)) return 1;
    if (strncmp(u, "http://", 7)) return 0;
    const char *h = u + 7;
    static const char *OK[] = {"127.", "localhost", "[::1]", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"};
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        size_t l = strlen(OK[i]);
        if (strncasecmp(h, OK[i], l) != 0) continue;
        char next = h[l];
        if (OK[i][l - 1] == '.' || next == 0 || next == ':' || next == '/') return 1;
    }
    return 0;
}

int hg_creds_new(hg_creds_t **out, const hg_config_t *cfg, char *err, size_t errlen)
{
    *out = NULL;
    hg_creds_t *c = calloc(1, sizeof *c);
    if (!c) return efail(err, errlen, "out of memory");
    uv_mutex_init(&c->mu);
    hg_buf_init(&c->body, 64 * 1024);
    c->refresh_ahead = cfg->creds_refresh_ahead > 0 ? cfg->creds_refresh_ahead : 300;
    c->region = strdup(cfg->s3_region ? cfg->s3_region : "us-east-1");
    const char *home = getenv("HOME");
    char deffile[512];
    snprintf(deffile, sizeof deffile, "%s/.aws/credentials", home && *home ? home : "/nonexistent");
    int explicit_file = cfg->shared_creds_file || cfg->aws_profile;
    const char *file = cfg->shared_creds_file ? cfg->shared_creds_file : deffile;
    int rc = 0;
    if (cfg->access_key) {
        c->src = SRC_STATIC;
    } else if (explicit_file || access(file, R_OK) == 0) {
        c->src = SRC_FILE;
        c->file = strdup(file);
        c->profile = strdup(cfg->aws_profile ? cfg->aws_profile : "default");
    } else if (cfg->web_identity_token_file || cfg->role_arn) {
        c->src = SRC_WEB_IDENTITY;
        if (!cfg->web_identity_token_file || !cfg->role_arn)
            rc = efail(err, errlen, "%s: must be set together with %s",
                          cfg->role_arn ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                          cfg->role_arn ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
        c->token_file = dup_or_null(cfg->web_identity_token_file);
        c->role_arn = dup_or_null(cfg->role_arn);
        char name[64];
        snprintf(name, sizeof name, "hlsgate-%ld", (long)time(NULL));
        c->session_name = strdup(cfg->role_session_name ? cfg->role_session_name : name);
        char def[200];
        snprintf(def, sizeof def, "https://sts.%s.amazonaws.com", c->region);
        c->sts_url = strdup(cfg->sts_endpoint ? cfg->sts_endpoint : def);
    } else if (cfg->container_full_uri || cfg->container_relative_uri) {
        c->src = SRC_CONTAINER;
        if (cfg->container_relative_uri) {
            char u[1024];
            snprintf(u, sizeof u, "http://169.254.170.2%s%s", cfg->container_relative_uri[0] == '/' ? "" : "/",
                     cfg->container_relative_uri);
            c->container_url = strdup(u);
        } else {
            c->container_url = strdup(cfg->container_full_uri);
            if (!container_url_ok(c->container_url))
                rc = efail(err, errlen,
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, "
                              "169.254.170.2 and 169.254.170.23 (use https)");
        }
        c->auth_token = dup_or_null(cfg->container_auth_token);
        c->auth_token_file = dup_or_null(cfg->container_auth_token_file);
    } else if (!cfg->imds_disabled) {
        c->src = SRC_IMDS;
        c->imds_url = strdup(cfg->imds_endpoint ? cfg->imds_endpoint : "http://169.254.169.254");
        size_t l = strlen(c->imds_url);
        while (l > 8 && c->imds_url[l - 1] == '/') c->imds_url[--l] = 0;
    } else {
        rc = efail(err, errlen,
                      "no credentials: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, a shared credentials file, "
                      "AWS_WEB_IDENTITY_TOKEN_FILE+AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_FULL_URI, or allow "
                      "instance metadata");
    }
    if (!rc && (c->src == SRC_STATIC || c->src == SRC_FILE)) rc = load_local(c, cfg, err, errlen);
    if (rc) {
        hg_creds_free(c);
        return -1;
    }
    hg_log(HG_LOG_INFO, "msg=\"credentials source chosen\" source=%s%s%s", hg_creds_src_name(c->src),
           c->src == SRC_FILE ? " profile=" : "", c->src == SRC_FILE ? c->profile : "");
    *out = c;
    return 0;
}

int hg_creds_needs_loop(const hg_creds_t *c)
{
    return c && c->src != SRC_STATIC && c->src != SRC_FILE;
}

void hg_creds_free(hg_creds_t *c)
{
    if (!c) return;
    hg_creds_release(c->cur);
    hg_buf_free(&c->body);
    uv_mutex_destroy(&c->mu);
    free(c->file);
    free(c->profile);
    free(c->token_file);
    free(c->role_arn);
    free(c->session_name);
    free(c->sts_url);
    free(c->region);
    free(c->container_url);
    wipe_free(c->auth_token);
    free(c->auth_token_file);
    free(c->imds_url);
    memset(c->imds_token, 0, sizeof c->imds_token);
    free(c);
}

void hg_creds_reload(hg_creds_t *c, const hg_config_t *cfg)
{
    if (!c || (c->src != SRC_STATIC && c->src != SRC_FILE)) return;
    if (c->src == SRC_STATIC && !cfg->access_key) {
        hg_log(HG_LOG_WARN, "msg=\"reload: explicit keys removed; switching credential sources needs a restart, keeping the old keys\"");
        return;
    }
    hg_creds_snap_t *s = hg_creds_acquire(c);
    int same = s && c->src == SRC_STATIC && !strcmp(s->access_key, cfg->access_key) &&
               !strcmp(s->secret_key, cfg->secret_key) &&
               !strcmp(s->session_token ? s->session_token : "", cfg->session_token ? cfg->session_token : "");
    hg_creds_release(s);
    if (same) return;
    char err[300];
    if (load_local(c, cfg, err, sizeof err)) hg_log(HG_LOG_ERROR, "msg=\"reload: keeping the old credentials\" error=\"%s\"", err);
}

hg_creds_snap_t *hg_creds_acquire(hg_creds_t *c)
{
    uv_mutex_lock(&c->mu);
    hg_creds_snap_t *s = c->cur;
    if (s) atomic_fetch_add(&s->refs, 1);
    uv_mutex_unlock(&c->mu);
    return s;
}

void hg_creds_release(hg_creds_snap_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) snap_free(s);
}

unsigned long hg_creds_generation(const hg_creds_t *c)
{
    return atomic_load(&((hg_creds_t *)c)->gen);
}

/* "credentials expired: provider=container error=..." without double quotes (the access log
 * quotes the whole text). */
static void describe(hg_creds_t *c, const char *state, char *why, size_t whylen)
{
    if (!why || !whylen) return;
    uv_mutex_lock(&c->mu);
    snprintf(why, whylen, "credentials %s: provider=%s error=%s", state, hg_creds_src_name(c->src),
             c->last_error[0] ? c->last_error : atomic_load(&c->attempted) ? "none" : "first fetch still running");
    uv_mutex_unlock(&c->mu);
    for (char *p = why; *p; p++)
        if (*p == '"' || *p == '\\') *p = '\'';
}

int hg_creds_status(hg_creds_t *c, time_t now, char *why, size_t whylen)
{
    if (atomic_load(&c->gen) == 0) {
        describe(c, "not yet available", why, whylen);
        return HG_CREDS_PENDING;
    }
    long long e = atomic_load(&c->exp);
    if (e && now >= e) {
        describe(c, "expired", why, whylen);
        return HG_CREDS_EXPIRED;
    }
    return HG_CREDS_OK;
}

const char *hg_creds_source(const hg_creds_t *c)
{
    return hg_creds_src_name(c->src);
}

long hg_creds_seconds_left(const hg_creds_t *c, time_t now)
{
    long long e = atomic_load(&((hg_creds_t *)c)->exp);
    if (!e || atomic_load(&((hg_creds_t *)c)->gen) == 0) return -1;
    return (long)(e - now);
}

unsigned long hg_creds_refreshes(const hg_creds_t *c)
{
    return atomic_load(&((hg_creds_t *)c)->refreshes);
}

unsigned long hg_creds_failures(const hg_creds_t *c)
{
    return atomic_load(&((hg_creds_t *)c)->failures);
}

int hg_creds_sync(hg_creds_t *c, const hg_config_t *cfg, hg_signer_t **signer, unsigned long *gen,
                  time_t *expiration, char *why, size_t whylen)
{
    hg_sigv4_config_t sc = {cfg->s3_endpoint, cfg->s3_bucket,  cfg->s3_region,   cfg->access_key,
                            cfg->secret_key,  cfg->session_token, cfg->virtual_host};
    if (!c) {
        if (*signer && *gen) return HG_CREDS_OK;
        hg_signer_t *ns = hg_signer_new(&sc);
        if (!ns) return HG_CREDS_ERROR;
        hg_signer_free(*signer);
        *signer = ns;
        *gen = 1;
        *expiration = 0;
        return HG_CREDS_OK;
    }
    if (atomic_load(&c->gen) != *gen || !*signer) {
        hg_creds_snap_t *s = hg_creds_acquire(c);
        if (s) {
            sc.access_key = s->access_key;
            sc.secret_key = s->secret_key;
            sc.session_token = s->session_token;
            hg_signer_t *ns = hg_signer_new(&sc);
            if (ns) {
                hg_signer_free(*signer);
                *signer = ns;
                *gen = s->generation;
                *expiration = s->expiration;
            }
            hg_creds_release(s);
            if (!ns) return HG_CREDS_ERROR;
        }
    }
    if (!*signer) {
        describe(c, "not yet available", why, whylen);
        return HG_CREDS_PENDING;
    }
    if (*expiration && hg_signing_now() >= *expiration) {
        describe(c, "expired", why, whylen);
        return HG_CREDS_EXPIRED;
    }
    return HG_CREDS_OK;
}

long hg_creds_cap_expires(time_t expiration, time_t sign_time, long wanted, long *shortfall)
{
    long r = wanted;
    if (expiration) {
        long long left = (long long)expiration - (long long)sign_time;
        if (left < r) r = left < 1 ? 1 : (long)left;
    }
    if (shortfall) *shortfall = wanted - r;
    return r;
}

void hg_creds_set_shared(hg_creds_t *c)
{
    atomic_store(&g_shared, c);
}

hg_creds_t *hg_creds_shared(void)
{
    return atomic_load(&g_shared);
}

static atomic_ulong g_capped;
static atomic_long g_last_shortfall;
static _Atomic long long g_capped_warned;

void hg_creds_note_shortfall(long shortfall_s)
{
    if (shortfall_s <= 0) return;
    atomic_fetch_add(&g_capped, 1);
    atomic_store(&g_last_shortfall, shortfall_s);
    long long now = (long long)time(NULL), last = atomic_load(&g_capped_warned);
    if (now - last >= 60 && atomic_compare_exchange_strong(&g_capped_warned, &last, now))
        hg_log(HG_LOG_WARN,
               "msg=\"presigned URLs expire sooner than PRESIGN_EXPIRES_SECONDS: capped at the credentials' remaining lifetime\" shortfall_s=%ld",
               shortfall_s);
}

int hg_storage_metrics_render(hg_buf_t *out)
{
    hg_creds_t *c = hg_creds_shared();
    time_t now = hg_signing_now();
    int rc = 0;
    if (c) {
        int st = hg_creds_status(c, now, NULL, 0);
        rc = hg_buf_appendf(out,
                            "# HELP hlsgate_credentials_info Where the signing credentials come from.\n"
                            "# TYPE hlsgate_credentials_info gauge\nhlsgate_credentials_info{source=\"%s\"} 1\n"
                            "# HELP hlsgate_credentials_valid 1 while usable credentials are held.\n"
                            "# TYPE hlsgate_credentials_valid gauge\nhlsgate_credentials_valid %d\n"
                            "# HELP hlsgate_credentials_expiry_seconds Seconds until the credentials expire (-1: never, or none yet).\n"
                            "# TYPE hlsgate_credentials_expiry_seconds gauge\nhlsgate_credentials_expiry_seconds %ld\n"
                            "# HELP hlsgate_credentials_generation Credential sets fetched since start.\n"
                            "# TYPE hlsgate_credentials_generation gauge\nhlsgate_credentials_generation %lu\n"
                            "# HELP hlsgate_credentials_refreshes_total Successful credential fetches.\n"
                            "# TYPE hlsgate_credentials_refreshes_total counter\nhlsgate_credentials_refreshes_total %lu\n"
                            "# HELP hlsgate_credentials_refresh_failures_total Failed credential fetch attempts.\n"
                            "# TYPE hlsgate_credentials_refresh_failures_total counter\nhlsgate_credentials_refresh_failures_total %lu\n",
                            hg_creds_source(c), st == HG_CREDS_OK, hg_creds_seconds_left(c, now), hg_creds_generation(c),
                            hg_creds_refreshes(c), hg_creds_failures(c));
    }
    if (!rc)
        rc = hg_buf_appendf(out,
                            "# HELP hlsgate_origin_clock_offset_seconds Origin clock minus ours, from its Date headers.\n"
                            "# TYPE hlsgate_origin_clock_offset_seconds gauge\nhlsgate_origin_clock_offset_seconds %.3f\n"
                            "# HELP hlsgate_origin_clock_skew_warning 1 while the offset is past CLOCK_SKEW_WARN_SECONDS.\n"
                            "# TYPE hlsgate_origin_clock_skew_warning gauge\nhlsgate_origin_clock_skew_warning %d\n"
                            "# HELP hlsgate_presign_capped_total Responses whose URLs were capped at the credentials' lifetime.\n"
                            "# TYPE hlsgate_presign_capped_total counter\nhlsgate_presign_capped_total %lu\n"
                            "# HELP hlsgate_presign_shortfall_seconds How much sooner than promised the last capped URLs expire.\n"
                            "# TYPE hlsgate_presign_shortfall_seconds gauge\nhlsgate_presign_shortfall_seconds %ld\n",
                            hg_origin_clock_offset(), hg_clock_skew_warning(), atomic_load(&g_capped),
                            atomic_load(&g_last_shortfall));
    return rc;
}
