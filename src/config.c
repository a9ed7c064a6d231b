#include "config.h"
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/base64.h"
#include "common/log.h"
#include "sign/segsign.h"

#ifndef HG_VERSION
#define HG_VERSION "0.1.0"
#endif

typedef enum { K_STR, K_SECRET, K_LONG, K_SIZE, K_LISTEN, K_URL, K_STYLE, K_LEVEL, K_EXTS, K_BOOL } kind_t;

typedef struct {
    const char *env;      /* primary variable name */
    const char *fallback; /* accepted alternative name, or NULL */
    const char *def;      /* default as text, or NULL */
    kind_t kind;
    long min, max;        /* for K_LONG / K_SIZE */
    const char *help;
} opt_t;

enum {
    O_LISTEN, O_WORKERS, O_ENDPOINT, O_BUCKET, O_REGION, O_AK, O_SK, O_TOKEN, O_STYLE, O_PREFIX,
    O_EXPIRES, O_WINDOW, O_CACHE, O_BASE, O_EXTS, O_PLMAX, O_OCONN, O_OTIME, O_OLOW, O_MAXHDR, O_MAXURL, O_HDRTO,
    O_KATO, O_WRTO, O_DRAIN, O_MAXCONN, O_LOGLEVEL, O_TRUST, O_TOKEN_SECRET, O_TOKEN_PARAM,
    O_MAXLINES, O_MAXOUT, O_OFETCH, O_OQUEUE, O_MAXURIS, O_QALLOW, O_PASSQ, O_PASSQSEG, O_CKEYQ,
    O_SEG_SIGNER, O_SEG_BASE, O_CF_KPID, O_CF_KEYFILE, O_CF_POLICY, O_CF_HASH, O_AK_KEY, O_AK_NAME, O_GCDN_NAME,
    O_GCDN_KEY, O_BUNNY_KEY,
    /* storage (TLS, clock skew, platform credentials) */
    O_CAFILE, O_TLSOFF, O_SKEWWARN, O_SKEWFIX, O_CRAHEAD, O_SHCRED, O_PROFILE, O_WITOKEN, O_ROLEARN,
    O_ROLESESS, O_STSURL, O_CFULL, O_CREL, O_CTOKEN, O_CTOKFILE, O_IMDSURL, O_IMDSOFF, O_COUNT
};

static const opt_t OPTS[O_COUNT] = {
    [O_LISTEN] = {"LISTEN", NULL, "0.0.0.0:8002", K_LISTEN, 0, 0, "address:port to listen on ([v6]:port for IPv6)"},
    [O_WORKERS] = {"WORKERS", NULL, NULL, K_LONG, 1, 256, "worker threads, each with its own event loop (default: number of cores)"},
    [O_ENDPOINT] = {"S3_ENDPOINT", NULL, NULL, K_URL, 0, 0, "S3 endpoint, scheme://host[:port] (default https://s3.REGION.amazonaws.com)"},
    [O_BUCKET] = {"S3_BUCKET", "VULTR_BUCKET", NULL, K_STR, 0, 0, "bucket holding the playlists and segments (required)"},
    [O_REGION] = {"S3_REGION", "AWS_REGION", "us-east-1", K_STR, 0, 0, "signing region"},
    [O_AK] = {"S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", NULL, K_STR, 0, 0, "access key id (required)"},
    [O_SK] = {"S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", NULL, K_SECRET, 0, 0, "secret access key (required; never logged)"},
    [O_TOKEN] = {"S3_SESSION_TOKEN", "AWS_SESSION_TOKEN", NULL, K_SECRET, 0, 0, "session token for temporary credentials"},
    [O_STYLE] = {"S3_ADDRESSING_STYLE", NULL, "path", K_STYLE, 0, 0, "path (endpoint/bucket/key) or virtual (bucket.endpoint/key)"},
    [O_PREFIX] = {"S3_KEY_PREFIX", NULL, NULL, K_STR, 0, 0, "key namespace inside the bucket, joined with '/' (default: VULTR_BUCKET when that is set, else the bucket root)"},
    [O_EXPIRES] = {"PRESIGN_EXPIRES_SECONDS", NULL, "7200", K_LONG, 1, 604800, "lifetime of presigned URLs, 1..604800"},
    [O_WINDOW] = {"SIGN_WINDOW_SECONDS", NULL, "300", K_LONG, 0, 86400, "signing window: URLs carry the window's start as X-Amz-Date, so playlists are byte-identical within a window (0 signs at request time)"},
    [O_CACHE] = {"PLAYLIST_CACHE_BYTES", NULL, "268435456", K_SIZE, 0, 1L << 40, "memory for rewritten playlists, split over the workers (0 disables the cache)"},
    [O_BASE] = {"PUBLIC_BASE_URL", NULL, NULL, K_URL, 0, 0, "public URL of this gateway for nested playlists (default: http://HOST from the request)"},
    [O_EXTS] = {"SEG_EXTENSIONS", NULL, "ts,m4s,mp4,m4a,m4v,aac,ac3,ec3,eac3,mp3,vtt,webvtt,srt,key,jpg,jpeg,png,cmfv,cmfa,m2ts,mts", K_EXTS, 0, 0, "extensions /hls-seg may presign (comma separated)"},
    [O_PLMAX] = {"PLAYLIST_MAX_BYTES", NULL, "16777216", K_SIZE, 1024, 1L << 30, "largest playlist accepted from the origin (bigger: 502)"},
    [O_OCONN] = {"ORIGIN_CONNECT_TIMEOUT_MS", NULL, "3000", K_LONG, 1, 600000, "origin connect timeout"},
    [O_OTIME] = {"ORIGIN_TIMEOUT_MS", NULL, "20000", K_LONG, 1, 3600000, "origin total transfer timeout (504 before the response starts)"},
    [O_OLOW] = {"ORIGIN_LOW_SPEED_SECONDS", NULL, "10", K_LONG, 1, 3600, "abort an origin transfer that stalls (under 1 byte/s) this long"},
    [O_MAXHDR] = {"MAX_HEADER_BYTES", NULL, "16384", K_SIZE, 1024, 1L << 20, "largest request header block (bigger: 431)"},
    [O_MAXURL] = {"MAX_URL_BYTES", NULL, "8192", K_SIZE, 256, 1L << 20, "longest request target (longer: 414)"},
    [O_HDRTO] = {"HEADER_TIMEOUT_MS", NULL, "10000", K_LONG, 100, 3600000, "time allowed to send a request's headers (slowloris guard)"},
    [O_KATO] = {"KEEPALIVE_TIMEOUT_MS", NULL, "30000", K_LONG, 100, 3600000, "idle keep-alive connection lifetime"},
    [O_WRTO] = {"WRITE_TIMEOUT_MS", NULL, "30000", K_LONG, 100, 3600000, "drop a client that accepts no response bytes for this long"},
    [O_DRAIN] = {"DRAIN_TIMEOUT_MS", NULL, "10000", K_LONG, 0, 3600000, "on SIGTERM, how long in-flight responses may take to finish"},
    [O_MAXCONN] = {"MAX_CONNECTIONS", NULL, "10000", K_LONG, 1, 1000000, "open client connections per worker; past it new ones get 503"},
    [O_LOGLEVEL] = {"LOG_LEVEL", NULL, "info", K_LEVEL, 0, 0, "debug, info, warn or error"},
    [O_TRUST] = {"TRUST_PROXY", NULL, "false", K_BOOL, 0, 0, "behind a trusted proxy: log X-Forwarded-For as the client and honour X-Forwarded-Proto"},
    [O_TOKEN_SECRET] = {"TOKEN_SECRET", NULL, NULL, K_SECRET, 0, 0, "hex key: when set, /hls and /hls-seg require an hdnts=exp=..~acl=..~hmac=.. token"},
    [O_TOKEN_PARAM] = {"TOKEN_PARAM", NULL, "hdnts", K_STR, 0, 0, "query parameter that carries the access token"},
    [O_MAXLINES] = {"MAX_HEADER_LINES", NULL, "100", K_LONG, 1, 10000, "most header lines in one request (more: 431)"},
    [O_MAXOUT] = {"MAX_QUEUED_OUTPUT_BYTES", NULL, "262144", K_SIZE, 4096, 1L << 30, "unsent response bytes per connection past which pipelined requests wait (a client that never reads is dropped after WRITE_TIMEOUT_MS)"},
    [O_OFETCH] = {"ORIGIN_MAX_FETCHES", NULL, "64", K_LONG, 1, 100000, "origin transfers per worker; further playlist fetches wait in a queue"},
    [O_OQUEUE] = {"ORIGIN_QUEUE_MAX", NULL, "256", K_LONG, 0, 1000000, "playlist fetches waiting for a transfer slot per worker; past it: 503 with Retry-After"},
    [O_MAXURIS] = {"PLAYLIST_MAX_URIS", NULL, "200000", K_LONG, 1, 100000000, "most URIs rewritten in one playlist (more: 502)"},
    [O_QALLOW] = {"S3_QUERY_ALLOW", NULL, NULL, K_STR, 0, 0, "S3 special query parameters (sub-resources, response-*, x-amz-*) that playlist URIs may carry into signed URLs, comma separated, e.g. versionId (default: none)"},
    [O_PASSQ] = {"PASS_QUERY", NULL, NULL, K_STR, 0, 0, "request query parameters (comma separated names, e.g. session ids) copied into the nested playlist URLs hlsgate writes"},
    [O_PASSQSEG] = {"PASS_QUERY_SEGMENTS", NULL, "false", K_BOOL, 0, 0, "also copy PASS_QUERY parameters into segment URLs (covered by their signatures, so they key the cache too)"},
    [O_CKEYQ] = {"CACHE_KEY_QUERY", NULL, NULL, K_STR, 0, 0, "PASS_QUERY parameters that are part of the cache key (written into cached bytes; the others are added per response)"},
    [O_SEG_SIGNER] = {"SEGMENT_SIGNER", NULL, "s3", K_STR, 0, 0, "how segment URLs are signed: s3 (presigned bucket URLs), cloudfront, akamai, gcdn or bunny (CDN URLs under SEGMENT_BASE_URL)"},
    [O_SEG_BASE] = {"SEGMENT_BASE_URL", NULL, NULL, K_STR, 0, 0, "CDN base URL for segments, scheme://host[:port][/path], needed by every signer but s3; a segment's URL is this plus its full object key"},
    [O_CF_KPID] = {"CLOUDFRONT_KEY_PAIR_ID", NULL, NULL, K_STR, 0, 0, "CloudFront public key id (Key-Pair-Id)"},
    [O_CF_KEYFILE] = {"CLOUDFRONT_PRIVATE_KEY_FILE", NULL, NULL, K_STR, 0, 0, "PEM private key (RSA 2048 or ECDSA P-256) matching CLOUDFRONT_KEY_PAIR_ID"},
    [O_CF_POLICY] = {"CLOUDFRONT_POLICY", NULL, "custom", K_STR, 0, 0, "custom (one signature per folder and window) or canned (one per URL)"},
    [O_CF_HASH] = {"CLOUDFRONT_HASH", NULL, "sha1", K_STR, 0, 0, "sha1 or sha256 (adds Hash-Algorithm=SHA256)"},
    [O_AK_KEY] = {"AKAMAI_TOKEN_KEY", NULL, NULL, K_SECRET, 0, 0, "Akamai EdgeAuth v2 key (hex; never logged)"},
    [O_AK_NAME] = {"AKAMAI_TOKEN_NAME", NULL, "__token__", K_STR, 0, 0, "query parameter carrying the Akamai token"},
    [O_GCDN_NAME] = {"GCDN_KEY_NAME", NULL, NULL, K_STR, 0, 0, "Google Cloud CDN signing key name"},
    [O_GCDN_KEY] = {"GCDN_KEY", NULL, NULL, K_SECRET, 0, 0, "Google Cloud CDN signing key, base64url of 16 bytes (never logged)"},
    [O_BUNNY_KEY] = {"BUNNY_TOKEN_KEY", NULL, NULL, K_SECRET, 0, 0, "Bunny pull zone URL token authentication key (never logged)"},
    [O_CAFILE] = {"S3_CA_FILE", "AWS_CA_BUNDLE", NULL, K_STR, 0, 0, "PEM file of extra CA certificates trusted for HTTPS origins and credential endpoints"},
    [O_TLSOFF] = {"S3_TLS_VERIFY_UNSAFE_DISABLE", NULL, "false", K_BOOL, 0, 0, "UNSAFE: do not verify origin TLS certificates (anyone on the path can read and forge responses)"},
    [O_SKEWWARN] = {"CLOCK_SKEW_WARN_SECONDS", NULL, "30", K_LONG, 1, 86400, "warn when the origin's Date header differs from our clock by more than this"},
    [O_SKEWFIX] = {"CLOCK_SKEW_CORRECT", NULL, "true", K_BOOL, 0, 0, "sign with the origin's clock (measured from its Date headers) when ours is off by 2 s or more"},
    [O_CRAHEAD] = {"CREDENTIALS_REFRESH_AHEAD_SECONDS", NULL, "300", K_LONG, 10, 3600, "refresh temporary credentials this long before they expire (at most half their lifetime)"},
    [O_SHCRED] = {"AWS_SHARED_CREDENTIALS_FILE", NULL, NULL, K_STR, 0, 0, "shared credentials file (default ~/.aws/credentials)"},
    [O_PROFILE] = {"AWS_PROFILE", NULL, NULL, K_STR, 0, 0, "profile in the shared credentials file (default: default)"},
    [O_WITOKEN] = {"AWS_WEB_IDENTITY_TOKEN_FILE", NULL, NULL, K_STR, 0, 0, "OIDC token file for STS AssumeRoleWithWebIdentity (EKS IRSA); re-read on every refresh"},
    [O_ROLEARN] = {"AWS_ROLE_ARN", NULL, NULL, K_STR, 0, 0, "role to assume with the web identity token"},
    [O_ROLESESS] = {"AWS_ROLE_SESSION_NAME", NULL, NULL, K_STR, 0, 0, "STS role session name (default hlsgate-UNIXTIME)"},
    [O_STSURL] = {"AWS_ENDPOINT_URL_STS", NULL, NULL, K_URL, 0, 0, "STS endpoint (default https://sts.REGION.amazonaws.com)"},
    [O_CFULL] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL, NULL, K_URL, 0, 0, "container credentials endpoint URL (EKS Pod Identity, ECS)"},
    [O_CREL] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL, NULL, K_STR, 0, 0, "container credentials path on http://169.254.170.2 (ECS)"},
    [O_CTOKEN] = {"AWS_CONTAINER_AUTHORIZATION_TOKEN", NULL, NULL, K_STR, 0, 0, "Authorization header value for the container endpoint"},
    [O_CTOKFILE] = {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL, NULL, K_STR, 0, 0, "file holding the container endpoint's Authorization value (re-read on every refresh)"},
    [O_IMDSURL] = {"AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL, "http://169.254.169.254", K_URL, 0, 0, "EC2 instance metadata endpoint (IMDSv2)"},
    [O_IMDSOFF] = {"AWS_EC2_METADATA_DISABLED", NULL, "false", K_BOOL, 0, 0, "never ask the EC2 instance metadata service for credentials"},
};




void hg_config_usage(const char *argv0)
{
    printf("hlsgate %s: HLS gateway that serves playlists from S3 with presigned media URLs\n\n"
           "usage: %s [--FLAG=VALUE ...]\n"
           "           run the gateway\n"
           "       %s --healthcheck [--FLAG=VALUE ...]\n"
           "           probe GET /healthz on the LISTEN port of this host, exit 0 when healthy;\n"
           "           reads only LISTEN (no S3 settings needed): a container HEALTHCHECK without curl\n"
           "       TOKEN_SECRET=HEX %s token --acl PATTERN [--ttl SECONDS] [--start UNIXTIME]\n"
           "           mint an access token for TOKEN_SECRET and print PARAM=TOKEN\n"
           "       %s --version | --help\n\n"
           "Every setting is an environment variable; the matching flag overrides it.\n\n",
           HG_VERSION, argv0, argv0, argv0, argv0);
    for (int i = 0; i < O_COUNT; i++) {
        char flag[64];
        cfg_flag_name(OPTS[i].env, flag, sizeof flag);
        printf("  %-28s %s\n  %-28s   %s", flag, OPTS[i].env, "", OPTS[i].help);
        if (OPTS[i].def) printf(" [default %s]", OPTS[i].def);
        if (OPTS[i].fallback) printf(" (also read from %s)", OPTS[i].fallback);
        printf("\n");
    }
    printf("\n  %-28s read settings from an env file (NAME=VALUE lines); it wins over the\n"
           "  %-28s environment, flags win over it; SIGHUP reloads it\n", "--config FILE", "");
    printf("\nEndpoints: GET|HEAD /hls/{key}  GET|HEAD /hls-seg/{key}  OPTIONS *  GET /healthz  GET /readyz  GET /metrics\n"
           "  /hls/{key}      the playlist S3_KEY_PREFIX/{key}, media URIs presigned, nested playlists via hlsgate\n"
           "  /hls-seg/{key}  302 to a presigned URL for one media object (SEG_EXTENSIONS)\n"
           "  OPTIONS         CORS preflight (204)\n"
           "  /healthz        200 while the process runs (liveness)\n"
           "  /readyz         200 once listening, 503 while draining (readiness)\n"
           "  /metrics        Prometheus text\n");
}















static int load(hg_config_t *c, int argc, char **argv, char *err, size_t errlen, envfile_t *ef, int need_s3);

static int load_all(hg_config_t *c, int argc, char **argv, char *err, size_t errlen, int need_s3)
{
    envfile_t ef;
    memset(&ef, 0, sizeof ef);
    memset(c, 0, sizeof *c);
    int rc = HG_CONFIG_OK;
    for (int a = 1; a < argc && rc == HG_CONFIG_OK; a++) {
        const char *path = NULL;
        if (!strcmp(argv[a], "--config") && a + 1 < argc) path = argv[a + 1];
        else if (!strncmp(argv[a], "--config=", 9)) path = argv[a] + 9;
        else if (!strcmp(argv[a], "--config")) rc = cfg_fail(err, errlen, "--config: missing value");
        if (path) {
            /* The last --config wins. */
            free(ef.text);
            free(c->config_file);
            c->config_file = strdup(path);
            if (cfg_read_envfile(&ef, path, err, errlen)) rc = HG_CONFIG_ERROR;
        }
    }
    if (rc == HG_CONFIG_OK) rc = load(c, argc, argv, err, errlen, &ef, need_s3);
    if (ef.text) {
        /* The file may hold secrets: wipe it before letting go. */
        memset(ef.text, 0, strlen(ef.text));
        free(ef.text);
    }
    return rc;
}

int hg_config_load(hg_config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    return load_all(c, argc, argv, err, errlen, 1);
}

int hg_config_load_probe(hg_config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    return load_all(c, argc, argv, err, errlen, 0);
}

static int load(hg_config_t *c, int argc, char **argv, char *err, size_t errlen, envfile_t *ef, int need_s3)
{
    const char *raw[O_COUNT];
    const char *src[O_COUNT]; /* where each value came from, for error messages */
    char flags[O_COUNT][48];

    for (int i = 0; i < O_COUNT; i++) {
        cfg_flag_name(OPTS[i].env, flags[i], sizeof flags[i]);
        raw[i] = cfg_lookup(ef, OPTS[i].env);
        src[i] = OPTS[i].env;
        const char *fb = OPTS[i].fallback ? cfg_lookup(ef, OPTS[i].fallback) : NULL;
        if ((!raw[i] || !*raw[i]) && fb && *fb) {
            raw[i] = fb;
            src[i] = OPTS[i].fallback;
        }
        if (raw[i] && !*raw[i]) raw[i] = NULL; /* an empty variable counts as unset */
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--config")) {
            a++;
            continue;
        }
        if (!strncmp(arg, "--config=", 9)) continue;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            hg_config_usage(argv[0]);
            return HG_CONFIG_EXIT;
        }
        if (!strcmp(arg, "--version")) {
            printf("hlsgate %s\n", HG_VERSION);
            return HG_CONFIG_EXIT;
        }
        int found = -1;
        const char *val = NULL;
        for (int i = 0; i < O_COUNT && found < 0; i++) {
            size_t fl = strlen(flags[i]);
            if (strncmp(arg, flags[i], fl) != 0) continue;
            if (arg[fl] == '=') val = arg + fl + 1, found = i;
            else if (arg[fl] == 0) {
                if (a + 1 >= argc) return cfg_fail(err, errlen, "%s: missing value", flags[i]);
                val = argv[++a];
                found = i;
            }
        }
        if (found < 0 && arg[0] == '-') return cfg_fail(err, errlen, "unknown argument '%.64s' (see --help)", arg);
        /* A bare word may be a value whose flag was mistyped (possibly a secret): never echo it. */
        if (found < 0) return cfg_fail(err, errlen, "argument %d is not a --flag (see --help)", a);
        raw[found] = val;
        src[found] = flags[found];
    }

    /* VULTR_BUCKET (old deployments) is also the default key prefix, as the old gateway did. */
    const char *vultr = cfg_lookup(ef, "VULTR_BUCKET");
    if (!raw[O_PREFIX] && vultr && *vultr) raw[O_PREFIX] = vultr, src[O_PREFIX] = "VULTR_BUCKET";

    for (int i = 0; i < O_COUNT; i++) {
        const opt_t *o = &OPTS[i];
        const char *v = raw[i] ? raw[i] : o->def;
        const char *name = raw[i] ? src[i] : o->env;
        if (!v) continue;
        long n = 0;
        switch (o->kind) {
        case K_LONG:
        case K_SIZE:
            if (cfg_parse_long(v, &n) || n < o->min || n > o->max)
                return cfg_fail(err, errlen, "%s: '%.32s' is not a whole number in %ld..%ld", name, v,
                            o->min, o->max);
            break;
        case K_URL:
            if (!strchr(v, ':') || !(strncmp(v, "http", 4) == 0))
                return cfg_fail(err, errlen, "%s: '%.64s' must start with http:// or https://", name, v);
            break;
        case K_SECRET:
            if (!cfg_valid_token_chars(v))
                return cfg_fail(err, errlen, "%s: contains spaces or control characters", name);
            break;
        default:
            break;
        }
        switch (i) {
        case O_LISTEN:
            switch (cfg_parse_listen(c, v)) {
            case 0: break;
            case LISTEN_PORT:
                return cfg_fail(err, errlen, "%s: '%.64s': the port must be a number from 0 to 65535", name, v);
            case LISTEN_HOST:
                return cfg_fail(err, errlen, "%s: '%.64s': the address must be numeric (127.0.0.1, 0.0.0.0, [::1]); host names are not resolved", name, v);
            default:
                return cfg_fail(err, errlen, "%s: '%.64s' is not ADDRESS:PORT (or [IPv6]:PORT)", name, v);
            }
            break;
        case O_WORKERS: c->workers = (int)n; break;
        case O_ENDPOINT:
        case O_BASE: {
            char *u = cfg_parse_url(v);
            if (!u)
                return cfg_fail(err, errlen, "%s: '%.64s' must be scheme://host[:port] with no path, query or user", name, v);
            if (i == O_ENDPOINT) c->s3_endpoint = u;
            else c->public_base_url = u;
            break;
        }
        case O_BUCKET:
            if (!cfg_valid_bucket(v)) return cfg_fail(err, errlen, "%s: '%.64s' is not a valid bucket name", name, v);
            c->s3_bucket = strdup(v);
            break;
        case O_REGION:
            if (!cfg_valid_region(v)) return cfg_fail(err, errlen, "%s: '%.64s' is not a valid region", name, v);
            c->s3_region = strdup(v);
            break;
        case O_AK:
            if (!cfg_valid_token_chars(v)) return cfg_fail(err, errlen, "%s: contains spaces or control characters", name);
            c->access_key = strdup(v);
            break;
        case O_SK: c->secret_key = strdup(v); break;
        case O_TOKEN: c->session_token = strdup(v); break;
        case O_STYLE:
            if (!strcmp(v, "path")) c->virtual_host = 0;
            else if (!strcmp(v, "virtual")) c->virtual_host = 1;
            else return cfg_fail(err, errlen, "%s: '%.32s' must be 'path' or 'virtual'", name, v);
            break;
        case O_PREFIX:
            if (!(c->key_prefix = cfg_parse_prefix(v)))
                return cfg_fail(err, errlen, "%s: '%.64s' has an empty, '.' or '..' segment or control characters", name, v);
            break;
        case O_EXPIRES: c->presign_expires = n; break;
        case O_WINDOW: c->sign_window = n; break;
        case O_CACHE: c->cache_bytes = (size_t)n; break;
        case O_EXTS:
            if (!(c->seg_exts = cfg_parse_exts(v)) || !c->seg_exts[0])
                return cfg_fail(err, errlen, "%s: must be a comma-separated list of alphanumeric extensions", name);
            break;
        case O_PLMAX: c->playlist_max_bytes = (size_t)n; break;
        case O_OCONN: c->origin_connect_timeout_ms = n; break;
        case O_OTIME: c->origin_timeout_ms = n; break;
        case O_OLOW: c->origin_low_speed_seconds = n; break;
        case O_MAXHDR: c->max_header_bytes = (size_t)n; break;
        case O_MAXURL: c->max_url_bytes = (size_t)n; break;
        case O_HDRTO: c->header_timeout_ms = n; break;
        case O_KATO: c->keepalive_timeout_ms = n; break;
        case O_WRTO: c->write_timeout_ms = n; break;
        case O_DRAIN: c->drain_timeout_ms = n; break;
        case O_MAXCONN: c->max_connections = (int)n; break;
        case O_TRUST:
            if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) c->trust_proxy = 1;
            else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) c->trust_proxy = 0;
            else return cfg_fail(err, errlen, "%s: '%.16s' must be true or false", name, v);
            break;
        case O_TOKEN_SECRET: {
            size_t l = strlen(v);
            int hex = l >= 16 && l % 2 == 0;
            for (size_t k = 0; hex && k < l; k++) hex = isxdigit((unsigned char)v[k]) != 0;
            if (!hex) return cfg_fail(err, errlen, "%s: must be an even number (at least 16) of hex digits", name);
            c->token_secret = malloc(l / 2);
            if (!c->token_secret) return cfg_fail(err, errlen, "%s: out of memory", name);
            for (size_t k = 0; k < l / 2; k++) {
                char byte[3] = {v[2 * k], v[2 * k + 1], 0};
                c->token_secret[k] = (char)strtol(byte, NULL, 16);
            }
            c->token_secret_len = l / 2;
            break;
        }
        case O_MAXLINES: c->max_header_lines = (size_t)n; break;
        case O_MAXOUT: c->max_output_bytes = (size_t)n; break;
        case O_OFETCH: c->origin_max_fetches = (int)n; break;
        case O_OQUEUE: c->origin_queue_max = (int)n; break;
        case O_MAXURIS: c->playlist_max_uris = (unsigned long)n; break;
        case O_QALLOW:
            if (!(c->s3_query_allow = cfg_parse_names(v)))
                return cfg_fail(err, errlen, "%s: must be a comma-separated list of parameter names", name);
            break;
        case O_PASSQ:
            if (!(c->pass_query = cfg_parse_names(v)))
                return cfg_fail(err, errlen, "%s: must be a comma-separated list of parameter names", name);
            break;
        case O_CKEYQ:
            if (!(c->cache_key_query = cfg_parse_names(v)))
                return cfg_fail(err, errlen, "%s: must be a comma-separated list of parameter names", name);
            break;
        case O_PASSQSEG:
            if ((c->pass_query_segments = cfg_parse_bool(v)) < 0)
                return cfg_fail(err, errlen, "%s: '%.16s' must be true or false", name, v);
            break;
        case O_TOKEN_PARAM:
            for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
                    return cfg_fail(err, errlen, "%s: '%.32s' must be letters, digits, '_' or '-'", name, v);
            c->token_param = strdup(v);
            break;
        case O_SEG_SIGNER: {
            static const char *const names[] = {"s3", "cloudfront", "akamai", "gcdn", "bunny"};
            c->seg_signer = -1;
            for (int k = 0; k < 5; k++)
                if (!strcmp(v, names[k])) c->seg_signer = k;
            if (c->seg_signer < 0)
                return cfg_fail(err, errlen, "%s: '%.32s' must be s3, cloudfront, akamai, gcdn or bunny", name, v);
            break;
        }
        case O_SEG_BASE:
            if (!(c->seg_base_url = cfg_parse_base_url(v)))
                return cfg_fail(err, errlen, "%s: '%.64s' must be scheme://host[:port][/path] with no query, fragment or user", name, v);
            break;
        case O_CF_KPID:
            if (!cfg_valid_token_chars(v) || strpbrk(v, "&=?#%\"\\"))
                return cfg_fail(err, errlen, "%s: must be a key id without spaces, quotes or URL delimiters", name);
            c->cf_key_pair_id = strdup(v);
            break;
        case O_CF_KEYFILE: c->cf_key_file = strdup(v); break;
        case O_CF_POLICY:
            if (!strcmp(v, "custom")) c->cf_canned = 0;
            else if (!strcmp(v, "canned")) c->cf_canned = 1;
            else return cfg_fail(err, errlen, "%s: '%.32s' must be custom or canned", name, v);
            break;
        case O_CF_HASH:
            if (!strcasecmp(v, "sha1")) c->cf_sha256 = 0;
            else if (!strcasecmp(v, "sha256")) c->cf_sha256 = 1;
            else return cfg_fail(err, errlen, "%s: '%.32s' must be sha1 or sha256", name, v);
            break;
        case O_AK_KEY: {
            size_t l = strlen(v);
            int hex = l >= 2 && l % 2 == 0;
            for (size_t k = 0; hex && k < l; k++) hex = isxdigit((unsigned char)v[k]) != 0;
            if (!hex) return cfg_fail(err, errlen, "%s: must be an even number of hex digits", name);
            if (!(c->akamai_key = malloc(l / 2))) return cfg_fail(err, errlen, "%s: out of memory", name);
            for (size_t k = 0; k < l / 2; k++) {
                char byte[3] = {v[2 * k], v[2 * k + 1], 0};
                c->akamai_key[k] = (unsigned char)strtol(byte, NULL, 16);
            }
            c->akamai_key_len = l / 2;
            break;
        }
        case O_AK_NAME:
        case O_GCDN_NAME:
            for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
                    return cfg_fail(err, errlen, "%s: '%.32s' must be letters, digits, '_', '-' or '.'", name, v);
            if (i == O_AK_NAME) c->akamai_token_name = strdup(v);
            else c->gcdn_key_name = strdup(v);
            break;
        case O_GCDN_KEY:
            if (hg_b64_decode(c->gcdn_key, sizeof c->gcdn_key, v, strlen(v)) != 16)
                return cfg_fail(err, errlen, "%s: must be the base64url form of 16 bytes", name);
            c->gcdn_key_set = 1;
            break;
        case O_BUNNY_KEY: c->bunny_key = strdup(v); break;
        case O_LOGLEVEL:
            if ((c->log_level = hg_log_parse_level(v)) < 0)
                return cfg_fail(err, errlen, "%s: '%.32s' must be debug, info, warn or error", name, v);
            break;
        /* storage settings (TLS, clock skew, platform credentials) */
        case O_TLSOFF:
        case O_SKEWFIX:
        case O_IMDSOFF: {
            int b = cfg_parse_bool(v);
            if (b < 0) return cfg_fail(err, errlen, "%s: '%.16s' must be true or false", name, v);
            if (i == O_TLSOFF) c->tls_verify_unsafe_off = b;
            else if (i == O_SKEWFIX) c->clock_skew_correct = b;
            else c->imds_disabled = b;
            break;
        }
        case O_SKEWWARN: c->clock_skew_warn = n; break;
        case O_CRAHEAD: c->creds_refresh_ahead = n; break;
        case O_ROLEARN:
        case O_ROLESESS:
        case O_CREL:
            if (!cfg_valid_token_chars(v)) return cfg_fail(err, errlen, "%s: contains spaces or control characters", name);
            /* fall through */
        case O_CTOKEN:
            /* An Authorization header value: spaces are fine, control bytes are not. Never echoed. */
            for (const char *p = v; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                    return cfg_fail(err, errlen, "%s: contains control characters", name);
            /* fall through */
        case O_CAFILE:
        case O_SHCRED:
        case O_PROFILE:
        case O_WITOKEN:
        case O_CTOKFILE: {
            char **dst[] = {[O_CAFILE - O_CAFILE] = &c->ca_file, [O_SHCRED - O_CAFILE] = &c->shared_creds_file,
                            [O_PROFILE - O_CAFILE] = &c->aws_profile, [O_WITOKEN - O_CAFILE] = &c->web_identity_token_file,
                            [O_ROLEARN - O_CAFILE] = &c->role_arn, [O_ROLESESS - O_CAFILE] = &c->role_session_name,
                            [O_CREL - O_CAFILE] = &c->container_relative_uri, [O_CTOKEN - O_CAFILE] = &c->container_auth_token,
                            [O_CTOKFILE - O_CAFILE] = &c->container_auth_token_file};
            *dst[i - O_CAFILE] = strdup(v);
            break;
        }
        case O_STSURL:
        case O_CFULL:
        case O_IMDSURL: {
            /* Credential endpoints may carry a path (container endpoint), so only the scheme is checked. */
            for (const char *p = v; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                    return cfg_fail(err, errlen, "%s: contains spaces or control characters", name);
            char *u = strdup(v);
            if (i == O_STSURL) c->sts_endpoint = u;
            else if (i == O_CFULL) c->container_full_uri = u;
            else c->imds_endpoint = u;
            break;
        }
        }
    }

    if (!c->s3_bucket && need_s3) return cfg_fail(err, errlen, "S3_BUCKET: must be set (the bucket holding the playlists)");
    /* Explicit keys come in pairs; with neither, credentials come from the platform (creds.c). */
    if (!c->access_key && c->secret_key) return cfg_fail(err, errlen, "S3_ACCESS_KEY_ID: must be set (or AWS_ACCESS_KEY_ID)");
    if (c->access_key && !c->secret_key) return cfg_fail(err, errlen, "S3_SECRET_ACCESS_KEY: must be set (or AWS_SECRET_ACCESS_KEY)");
    if (!c->key_prefix) c->key_prefix = strdup("");
    if (!c->s3_endpoint) {
        char ep[128];
        snprintf(ep, sizeof ep, "https://s3.%s.amazonaws.com", c->s3_region);
        c->s3_endpoint = strdup(ep);
    }
    if (c->virtual_host && c->s3_bucket) {
        for (const char *p = c->s3_bucket; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '.')
                return cfg_fail(err, errlen, "S3_ADDRESSING_STYLE: virtual needs a DNS-compatible bucket name, '%.64s' is not", c->s3_bucket);
    }
    if (c->seg_signer != HG_SEG_S3) {
        int rc = hg_segsigner_check(c, err, errlen);
        if (rc) return HG_CONFIG_ERROR;
    }
    if (!c->workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = n < 1 ? 1 : n > 64 ? 64 : (int)n;
    }
    return HG_CONFIG_OK;
}

