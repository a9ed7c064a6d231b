/* Parsers for the answers of the credential providers (pure functions, no I/O): the container
 * endpoint's and IMDS's JSON, STS's XML, the shared credentials file (INI) and ISO 8601 times.
 * Every parser bounds what it copies and reports malformed input with a short reason that never
 * contains a secret. */
#ifndef HG_CREDS_PARSE_H
#define HG_CREDS_PARSE_H

#include <stddef.h>
#include <time.h>

#define HG_CREDS_KEY_MAX 256
#define HG_CREDS_TOKEN_MAX 8192

/** One set of credentials as read from a provider. */
typedef struct {
    char access_key[HG_CREDS_KEY_MAX];
    char secret_key[HG_CREDS_KEY_MAX];
    char session_token[HG_CREDS_TOKEN_MAX]; /* "" for long-lived keys */
    time_t expiration;                      /* 0: does not expire */
} hg_creds_parsed_t;

/** "2026-11-29T20:15:00Z", with optional fractional seconds and "Z" or "+00:00"/"-hh:mm".
 *  Returns 0 or -1. */
int hg_creds_parse_iso8601(const char *s, size_t len, time_t *out);

/** Container endpoint / IMDS JSON: AccessKeyId, SecretAccessKey, Token, Expiration (required),
 *  and Code when present must be "Success". Returns 0 or -1 with err set. */
int hg_creds_parse_json(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen);

/** STS AssumeRoleWithWebIdentity XML answer (Credentials/AccessKeyId, SecretAccessKey,
 *  SessionToken, Expiration). An ErrorResponse gives -1 with its Code and Message in err. */
int hg_creds_parse_sts(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen);

/** Shared credentials file text: the [profile] section's aws_access_key_id,
 *  aws_secret_access_key and optional aws_session_token. Returns 0, or -1 with err set. */
int hg_creds_parse_ini(const char *text, size_t len, const char *profile, hg_creds_parsed_t *out, char *err,
                       size_t errlen);

/** Wipe secrets (call before freeing or reusing a parsed set). */
void hg_creds_parsed_wipe(hg_creds_parsed_t *p);

#endif
