/* Runtime configuration: environment variables, each overridable by a command-line flag.
 * The table in config.c is the single source for parsing, validation and --help. */
#ifndef HG_CONFIG_H
#define HG_CONFIG_H

#include <stddef.h>

typedef struct {
    char *config_file; /* --config FILE, reloaded on SIGHUP; NULL when not given */
    char *listen_host; /* numeric IPv4/IPv6 address */
    int listen_port;
    int workers;

    char *s3_endpoint; /* scheme://host[:port] */
    char *s3_bucket;
    char *s3_region;
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL when unset */
    int virtual_host;
    char *key_prefix; /* no leading/trailing '/'; "" for the bucket root */

    long presign_expires;
    long sign_window;     /* SIGN_WINDOW_SECONDS: 0 signs at request time */
    size_t cache_bytes;   /* PLAYLIST_CACHE_BYTES over all workers; 0 disables the cache */
    char *public_base_url; /* NULL: derived from the request's Host header */
    char **seg_exts;       /* NULL-terminated, lower case, no dot */

    size_t playlist_max_bytes;
    long origin_connect_timeout_ms;
    long origin_timeout_ms;
    long origin_low_speed_seconds;

    size_t max_header_bytes;
    size_t max_url_bytes;
    long header_timeout_ms;
    long keepalive_timeout_ms;
    long write_timeout_ms;
    long drain_timeout_ms;
    int max_connections;
    int log_level;
    int trust_proxy; /* log X-Forwarded-For and honour X-Forwarded-Proto */
    char *token_secret;     /* TOKEN_SECRET (hex), NULL when tokens are off */
    size_t token_secret_len;
    char *token_param;      /* query parameter carrying the token (hdnts) */
    size_t max_header_lines;  /* header lines per request (431) */
    size_t max_output_bytes;  /* unsent output per connection past which parsing pauses */
    int origin_max_fetches;   /* origin transfers per worker */
    int origin_queue_max;     /* fills waiting for a transfer slot per worker (past it: 503) */
    unsigned long playlist_max_uris; /* URIs rewritten per playlist (past it: 502) */
    char **s3_query_allow;    /* S3 special query parameters allowed into signed URLs */
    char **pass_query;        /* PASS_QUERY: request parameters carried into nested URLs */
    int pass_query_segments;  /* PASS_QUERY_SEGMENTS: ... and into segment URLs (signed) */
    char **cache_key_query;   /* CACHE_KEY_QUERY: pass-through parameters that key the cache */
    unsigned gen;             /* reload generation (set by main: 0 for the first) */

    /* Segment signers (src/sign/segsign.h). Keys are decoded here and never logged. */
    int seg_signer;          /* HG_SEG_S3 (default), HG_SEG_CLOUDFRONT, _AKAMAI, _GCDN, _BUNNY */
    char *seg_base_url;      /* SEGMENT_BASE_URL: scheme://host[:port][/path], no trailing '/' */
    char *cf_key_pair_id;    /* CLOUDFRONT_KEY_PAIR_ID */
    char *cf_key_file;       /* CLOUDFRONT_PRIVATE_KEY_FILE (PEM RSA 2048 or ECDSA P-256) */
    int cf_canned;           /* CLOUDFRONT_POLICY: 0 custom (folder + '*'), 1 canned (per URL) */
    int cf_sha256;           /* CLOUDFRONT_HASH: 0 sha1, 1 sha256 */
    unsigned char *akamai_key; /* AKAMAI_TOKEN_KEY, decoded from hex */
    size_t akamai_key_len;
    char *akamai_token_name; /* AKAMAI_TOKEN_NAME (__token__) */
    char *gcdn_key_name;     /* GCDN_KEY_NAME */
    unsigned char gcdn_key[16]; /* GCDN_KEY, decoded from base64url */
    int gcdn_key_set;
    char *bunny_key;         /* BUNNY_TOKEN_KEY */

    /* Storage: TLS to the origin, clock skew, platform credentials (src/origin/creds.c). */
    char *ca_file;               /* S3_CA_FILE / AWS_CA_BUNDLE: extra CA bundle (PEM), NULL: system */
    int tls_verify_unsafe_off;   /* S3_TLS_VERIFY_UNSAFE_DISABLE: never verify the origin (unsafe) */
    long clock_skew_warn;        /* CLOCK_SKEW_WARN_SECONDS */
    int clock_skew_correct;      /* CLOCK_SKEW_CORRECT: sign with the origin's clock */
    long creds_refresh_ahead;    /* CREDENTIALS_REFRESH_AHEAD_SECONDS */
    char *shared_creds_file;     /* AWS_SHARED_CREDENTIALS_FILE */
    char *aws_profile;           /* AWS_PROFILE */
    char *web_identity_token_file; /* AWS_WEB_IDENTITY_TOKEN_FILE */
    char *role_arn;              /* AWS_ROLE_ARN */
    char *role_session_name;     /* AWS_ROLE_SESSION_NAME */
    char *sts_endpoint;          /* AWS_ENDPOINT_URL_STS */
    char *container_full_uri;    /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
    char *container_relative_uri; /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI */
    char *container_auth_token;  /* AWS_CONTAINER_AUTHORIZATION_TOKEN (secret) */
    char *container_auth_token_file; /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE */
    char *imds_endpoint;         /* AWS_EC2_METADATA_SERVICE_ENDPOINT */
    int imds_disabled;           /* AWS_EC2_METADATA_DISABLED */
} hg_config_t;

/** SEGMENT_SIGNER values. */
enum { HG_SEG_S3 = 0, HG_SEG_CLOUDFRONT, HG_SEG_AKAMAI, HG_SEG_GCDN, HG_SEG_BUNNY };

/** Outcome of hg_config_load. */
enum { HG_CONFIG_OK = 0, HG_CONFIG_EXIT = 1, HG_CONFIG_ERROR = -1 };

/** Fill cfg from the environment, then the --config env file, then argv flags (later wins). On HG_CONFIG_ERROR, err holds
 *  a one-line message naming the variable and what is wrong (never the secret's value).
 *  HG_CONFIG_EXIT means --help or --version was printed to stdout. */
int hg_config_load(hg_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/** As hg_config_load, for `hlsgate --healthcheck`: S3_BUCKET and the credentials may be unset
 *  (the probe only needs LISTEN); every value that is set is still checked. Same results. */
int hg_config_load_probe(hg_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/** Free every string the configuration owns. */
void hg_config_free(hg_config_t *cfg);

/** Print the --help text. */
void hg_config_usage(const char *argv0);

/** Case-insensitive check of a file extension (no dot) against SEG_EXTENSIONS. */
int hg_config_seg_ext_allowed(const hg_config_t *cfg, const char *ext, size_t len);

#endif
