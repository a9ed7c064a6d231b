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
} hg_config_t;

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
