/* libFuzzer target: configuration parsing (src/config.h hg_config_load).
 *
 * The input is a list of entries separated by NUL or newline. An entry NAME=value whose NAME is
 * upper case letters, digits and '_' (S3_BUCKET=b) sets an environment variable for this input;
 * every other entry is one argv word (--s3-bucket=b, --workers, 4, --help, junk...). Variables
 * are set with putenv() on buffers owned here and removed again after the call, so the process
 * environment does not grow from input to input. Before each input every variable the loader may
 * read is removed, whatever the outer environment holds.
 *
 * Invariants: no crash, leak or UB (hg_config_free after every call, whatever the outcome);
 * the same argv and environment give the same outcome and message twice; an error has a
 * non-empty one-line message that never contains the value of a secret given in the input;
 * a successful load has every required field set and its values inside their documented ranges. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_common.h"

#define MAX_WORDS 64
#define MAX_INPUT 4096

/* Every variable hg_config_load reads, primary names and fallbacks (see the table in config.c).
 * A name missing here is still fuzzed when an input sets it; it is only not cleared up front. */
static const char *const VARS[] = {
    "LISTEN", "WORKERS", "S3_ENDPOINT", "S3_BUCKET", "VULTR_BUCKET", "S3_REGION", "AWS_REGION",
    "S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY",
    "S3_SESSION_TOKEN", "AWS_SESSION_TOKEN", "S3_ADDRESSING_STYLE", "S3_KEY_PREFIX",
    "PRESIGN_EXPIRES_SECONDS", "SIGN_WINDOW_SECONDS", "PLAYLIST_CACHE_BYTES", "PUBLIC_BASE_URL",
    "SEG_EXTENSIONS", "PLAYLIST_MAX_BYTES", "ORIGIN_CONNECT_TIMEOUT_MS", "ORIGIN_TIMEOUT_MS",
    "ORIGIN_LOW_SPEED_SECONDS", "MAX_HEADER_BYTES", "MAX_URL_BYTES", "HEADER_TIMEOUT_MS",
    "KEEPALIVE_TIMEOUT_MS", "WRITE_TIMEOUT_MS", "DRAIN_TIMEOUT_MS", "MAX_CONNECTIONS", "LOG_LEVEL",
    "TRUST_PROXY", "TOKEN_SECRET", "TOKEN_PARAM", "MAX_HEADER_LINES", "MAX_QUEUED_OUTPUT_BYTES",
    "ORIGIN_MAX_FETCHES", "ORIGIN_QUEUE_MAX", "PLAYLIST_MAX_URIS", "S3_QUERY_ALLOW", "SEGMENT_SIGNER",
    "SEGMENT_BASE_URL", "CLOUDFRONT_KEY_PAIR_ID", "CLOUDFRONT_PRIVATE_KEY_FILE", "CLOUDFRONT_POLICY",
    "CLOUDFRONT_HASH", "AKAMAI_TOKEN_KEY", "AKAMAI_TOKEN_NAME", "GCDN_KEY_NAME", "GCDN_KEY",
    "BUNNY_TOKEN_KEY",
};

/* Names whose values are secrets: they must never appear in an error message. Only NAME=value
 * variables and --flag=value words are tracked: a value in the word after a bare flag may be
 * consumed by a different flag ("--s3-access-key-id --s3-secret-access-key S" makes S a stray,
 * unknown argument, which the error quotes). */
static const char *const SECRET_VARS[] = {"S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY",
                                          "S3_SESSION_TOKEN", "AWS_SESSION_TOKEN", "TOKEN_SECRET",
                                          "AKAMAI_TOKEN_KEY", "GCDN_KEY", "BUNNY_TOKEN_KEY"};
static const char *const SECRET_FLAGS[] = {"--s3-secret-access-key", "--s3-session-token", "--token-secret",
                                           "--akamai-token-key", "--gcdn-key", "--bunny-token-key"};

static const uint8_t *IN;
static size_t IN_LEN;

static void fail_dump(void)
{
    fz_dump("input", IN, IN_LEN);
}

static int env_name(const char *s, size_t *name_len)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || eq - s > 64) return 0;
    for (const char *p = s; p < eq; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    *name_len = (size_t)(eq - s);
    return 1;
}

static int in_list(const char *name, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0) return 1;
    return 0;
}

/* Count occurrences of needle in the raw input. */
static size_t occurrences(const char *needle, size_t nl)
{
    size_t count = 0;
    for (size_t i = 0; nl && i + nl <= IN_LEN; i++)
        if (memcmp(IN + i, needle, nl) == 0) count++;
    return count;
}

static void check_ok(const hg_config_t *c)
{
    FZ_CHECK(c->listen_host && c->s3_endpoint && c->s3_bucket && c->s3_region && c->key_prefix &&
                 c->seg_exts && c->seg_exts[0],
             "a required field is unset after a successful load");
    /* Explicit keys come in pairs; with neither, credentials come from the platform. */
    FZ_CHECK(!c->access_key == !c->secret_key, "an access key without its secret (or the reverse)");
    FZ_CHECK(c->listen_port >= 0 && c->listen_port <= 65535, "listen port %d", c->listen_port);
    FZ_CHECK(c->workers >= 1 && c->workers <= 256, "workers %d", c->workers);
    FZ_CHECK(!strncmp(c->s3_endpoint, "http://", 7) || !strncmp(c->s3_endpoint, "https://", 8),
             "endpoint scheme");
    size_t el = strlen(c->s3_endpoint);
    FZ_CHECK(c->s3_endpoint[el - 1] != '/', "endpoint ends in '/'");
    FZ_CHECK(!c->public_base_url || c->public_base_url[strlen(c->public_base_url) - 1] != '/',
             "public base URL ends in '/'");
    size_t pl = strlen(c->key_prefix);
    FZ_CHECK(pl == 0 || (c->key_prefix[0] != '/' && c->key_prefix[pl - 1] != '/'),
             "key prefix with a leading or trailing '/'");
    size_t start = 0;
    for (size_t i = 0; pl && i <= pl; i++) {
        if (i < pl) {
            unsigned char ch = (unsigned char)c->key_prefix[i];
            FZ_CHECK(ch >= 0x20 && ch != 0x7f && ch != '\\', "key prefix holds byte 0x%02x", ch);
            if (ch != '/') continue;
        }
        size_t seg = i - start;
        FZ_CHECK(seg > 0 && !(seg == 1 && c->key_prefix[start] == '.') &&
                     !(seg == 2 && c->key_prefix[start] == '.' && c->key_prefix[start + 1] == '.'),
                 "key prefix has an empty, \".\" or \"..\" segment");
        start = i + 1;
    }
    for (char **e = c->seg_exts; *e; e++) {
        FZ_CHECK(**e, "empty extension");
        for (const char *p = *e; *p; p++)
            FZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'), "extension not lower-case alphanumeric");
    }
    FZ_CHECK(c->presign_expires >= 1 && c->presign_expires <= 604800, "presign expires %ld", c->presign_expires);
    FZ_CHECK(c->sign_window >= 0 && c->sign_window <= 86400, "sign window %ld", c->sign_window);
    FZ_CHECK(c->playlist_max_bytes >= 1024, "playlist max bytes");
    FZ_CHECK(c->max_header_bytes >= 1024 && c->max_header_bytes <= (1u << 20), "max header bytes");
    FZ_CHECK(c->max_url_bytes >= 256 && c->max_url_bytes <= (1u << 20), "max url bytes");
    FZ_CHECK(c->origin_connect_timeout_ms >= 1 && c->origin_timeout_ms >= 1 && c->origin_low_speed_seconds >= 1,
             "origin timeouts");
    FZ_CHECK(c->header_timeout_ms >= 100 && c->keepalive_timeout_ms >= 100 && c->write_timeout_ms >= 100 &&
                 c->drain_timeout_ms >= 0,
             "client timeouts");
    FZ_CHECK(c->max_connections >= 1, "max connections");
    FZ_CHECK(c->log_level >= 0 && c->log_level <= 3, "log level %d", c->log_level);
    FZ_CHECK(c->max_header_lines >= 1 && c->max_output_bytes >= 4096 && c->origin_max_fetches >= 1 &&
                 c->origin_queue_max >= 0 && c->playlist_max_uris >= 1,
             "request/origin limits out of range");
    FZ_CHECK(c->seg_signer == HG_SEG_S3 || c->seg_base_url, "a CDN segment signer without SEGMENT_BASE_URL");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    fz_on_fail = fail_dump;
    IN = data;
    IN_LEN = size;

    /* Split into NUL-terminated words in a copy we own (putenv keeps pointers into it). */
    static char buf[MAX_INPUT + 1];
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = (char *)"hlsgate";
    char *envs[MAX_WORDS];
    size_t nenv = 0;
    const char *secrets[MAX_WORDS * 2];
    const char *secret_word[MAX_WORDS * 2]; /* the --flag=value word that held it, or NULL */
    size_t nsecrets = 0;

    /* Words are the pieces between separators; a final separator ends the last word. */
    size_t i = 0;
    while (i < size && argc < MAX_WORDS + 1 && nenv < MAX_WORDS) {
        char *w = buf + i;
        size_t l = 0;
        while (i + l < size && buf[i + l] != 0 && buf[i + l] != '\n') l++;
        w[l] = 0;
        i += l + 1;
        size_t nl;
        if (env_name(w, &nl)) {
            if (in_list(w, nl, SECRET_VARS, sizeof SECRET_VARS / sizeof SECRET_VARS[0]))
                secret_word[nsecrets] = NULL, secrets[nsecrets++] = w + nl + 1;
            envs[nenv++] = w;
            putenv(w);
        } else {
            for (size_t k = 0; k < sizeof SECRET_FLAGS / sizeof SECRET_FLAGS[0]; k++) {
                size_t fl = strlen(SECRET_FLAGS[k]);
                if (strncmp(w, SECRET_FLAGS[k], fl) == 0 && w[fl] == '=')
                    secret_word[nsecrets] = w, secrets[nsecrets++] = w + fl + 1;
            }
            argv[argc++] = w;
        }
    }
    argv[argc] = NULL;

    hg_config_t cfg;
    char err[512], err2[512];
    memset(err, 0x55, sizeof err);
    int rc = hg_config_load(&cfg, argc, argv, err, sizeof err);
    FZ_CHECK(rc == HG_CONFIG_OK || rc == HG_CONFIG_EXIT || rc == HG_CONFIG_ERROR, "hg_config_load returned %d", rc);
    if (rc == HG_CONFIG_OK) check_ok(&cfg);
    hg_config_free(&cfg);
    if (rc == HG_CONFIG_ERROR) {
        size_t el = strnlen(err, sizeof err);
        FZ_CHECK(el > 0 && el < sizeof err, "error message empty or not terminated");
        FZ_CHECK(!memchr(err, '\n', el), "error message spans several lines: %s", err);
        for (size_t s = 0; s < nsecrets; s++) {
            size_t sl = strlen(secrets[s]);
            /* Short values and values written elsewhere in the input can match by accident. */
            if (sl < 8 || occurrences(secrets[s], sl) != 1) continue;
            /* "unknown argument '--flag=...'" quotes the word the user typed (up to 64 bytes):
             * a loader without that flag cannot know the value is a secret. */
            if (secret_word[s]) {
                char head[65];
                snprintf(head, sizeof head, "%s", secret_word[s]);
                if (strstr(err, head)) continue;
            }
            if (!strstr(err, secrets[s])) continue;
            /* The secret's text is in the message. It leaks only if it came from the input:
             * run again with every byte of the secret changed; a message that still holds the
             * old text got it from fixed wording (e.g. a secret "AWS_ACCE"). */
            char *sec = (char *)secrets[s], saved[512], err3[512];
            if (sl >= sizeof saved) continue;
            memcpy(saved, sec, sl);
            saved[sl] = 0;
            for (size_t k = 0; k < sl; k++) sec[k] = sec[k] == 'Q' ? 'R' : 'Q';
            hg_config_t cfg3;
            hg_config_load(&cfg3, argc, argv, err3, sizeof err3);
            hg_config_free(&cfg3);
            memcpy(sec, saved, sl);
            FZ_CHECK(strstr(err3, saved) != NULL, "error message reveals a secret: %s", err);
        }
    }

    /* Same input, same outcome. */
    int rc2 = hg_config_load(&cfg, argc, argv, err2, sizeof err2);
    hg_config_free(&cfg);
    FZ_CHECK(rc2 == rc, "second load returned %d, first %d", rc2, rc);
    if (rc == HG_CONFIG_ERROR) FZ_CHECK(strcmp(err, err2) == 0, "different messages: \"%s\" / \"%s\"", err, err2);

    for (size_t k = 0; k < nenv; k++) {
        char name[65];
        size_t nl = (size_t)(strchr(envs[k], '=') - envs[k]);
        memcpy(name, envs[k], nl);
        name[nl] = 0;
        unsetenv(name);
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) unsetenv(VARS[i]);
    /* --help and --version print to stdout: keep the fuzzer's output readable. */
    if (!freopen("/dev/null", "w", stdout)) return 0;
    return 0;
}
