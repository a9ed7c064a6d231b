/* Credential parsers (JSON, STS XML, INI, ISO 8601), HTTP dates, the expiry cap, the clock-skew
 * estimate and the snapshot/sync logic of origin/creds.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "origin/clock.h"
#include "origin/creds.h"
#include "origin/creds_parse.h"
#include "test.h"

static hg_creds_parsed_t P;
static char err[300];

static int json(const char *s)
{
    err[0] = 0;
    return hg_creds_parse_json(s, strlen(s), &P, err, sizeof err);
}

static int sts(const char *s)
{
    err[0] = 0;
    return hg_creds_parse_sts(s, strlen(s), &P, err, sizeof err);
}

static void test_iso8601(void)
{
    time_t t;
    CHECK(hg_creds_parse_iso8601("2026-11-29T20:15:00Z", 20, &t) == 0 && t == 1795983300);
    CHECK(hg_creds_parse_iso8601("2026-11-29T20:15:00.123Z", 24, &t) == 0 && t == 1795983300);
    CHECK(hg_creds_parse_iso8601("2026-11-29T22:15:00+02:00", 25, &t) == 0 && t == 1795983300);
    CHECK(hg_creds_parse_iso8601("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0);
    CHECK(hg_creds_parse_iso8601("2024-02-29T00:00:00Z", 20, &t) == 0 && t == 1709164800);
    CHECK(hg_creds_parse_iso8601("2026-11-29T20:15:00", 19, &t) < 0);
    CHECK(hg_creds_parse_iso8601("2026-13-29T20:15:00Z", 20, &t) < 0);
    CHECK(hg_creds_parse_iso8601("2026-11-29T20:15:00Zjunk", 24, &t) < 0);
    CHECK(hg_creds_parse_iso8601("yesterday", 9, &t) < 0);
}

static void test_http_date(void)
{
    time_t t;
    const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(hg_clock_parse_http_date(d, strlen(d), &t) == 0 && t == 784111777);
    d = "Sun, 06 Nov 1994 08:49:37 UTC";
    CHECK(hg_clock_parse_http_date(d, strlen(d), &t) < 0);
    d = "Sunday, 06-Nov-94 08:49:37 GMT";
    CHECK(hg_clock_parse_http_date(d, strlen(d), &t) < 0);
    d = "Sun, 06 Foo 1994 08:49:37 GMT";
    CHECK(hg_clock_parse_http_date(d, strlen(d), &t) < 0);
}

static void test_json(void)
{
    CHECK(json("{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-29T19:15:00Z\",\"Type\":\"AWS-HMAC\","
               "\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"se\\/cret+key=\",\"Token\":\"tok\\u0041en\","
               "\"Expiration\":\"2026-11-29T20:15:00Z\",\"Nested\":{\"a\":[1,2,{\"b\":null}]},\"n\":12.5}") == 0);
    CHECK_STR(P.access_key, "ASIAEXAMPLE");
    CHECK_STR(P.secret_key, "se/cret+key=");
    CHECK_STR(P.session_token, "tokAen");
    CHECK(P.expiration == 1795983300);
    /* Pod Identity / ECS answers carry no Code */
    CHECK(json(" {\n \"AccessKeyId\" : \"AK\", \"SecretAccessKey\" : \"SK\", \"Token\" : \"T\", \"Expiration\" : \"2026-11-29T20:15:00Z\" }\n") == 0);
    CHECK_STR(P.session_token, "T");
    /* malformed */
    CHECK(json("") < 0);
    CHECK(json("[]") < 0);
    CHECK(json("{}") < 0 && strstr(err, "AccessKeyId"));
    CHECK(json("{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\"}") < 0 && strstr(err, "Expiration"));
    CHECK(json("{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Expiration\":\"soon\"}") < 0);
    CHECK(json("{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Expiration\":\"2026-11-29T20:15:00Z\"") < 0);
    CHECK(json("{\"AccessKeyId\":\"AK\" \"SecretAccessKey\":\"SK\"}") < 0);
    CHECK(json("{\"AccessKeyId\":12,\"SecretAccessKey\":\"SK\",\"Expiration\":\"2026-11-29T20:15:00Z\"}") < 0);
    CHECK(json("{\"AccessKeyId\":\"A\\u00e9\",\"SecretAccessKey\":\"SK\",\"Expiration\":\"2026-11-29T20:15:00Z\"}") < 0);
    CHECK(json("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no role\"}") < 0 &&
          strstr(err, "AssumeRoleUnauthorizedAccess"));
    /* a secret never appears in an error */
    CHECK(json("{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"TOPSECRET\",\"Expiration\":\"bad\"}") < 0 &&
          !strstr(err, "TOPSECRET"));
    CHECK(P.secret_key[0] == 0); /* wiped on failure */
    /* ... whatever the failure (found by fuzz_creds: an over-long key after the secret) */
    char longkey[200];
    snprintf(longkey, sizeof longkey, "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"TOPSECRET\",\"%090d\":1}", 0);
    CHECK(json(longkey) < 0 && P.secret_key[0] == 0 && P.access_key[0] == 0);
    /* a too-long value is refused, not truncated */
    char big[HG_CREDS_TOKEN_MAX + 200];
    snprintf(big, sizeof big, "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Token\":\"%0*d\",\"Expiration\":\"2026-11-29T20:15:00Z\"}",
             HG_CREDS_TOKEN_MAX, 7);
    CHECK(json(big) < 0);
    /* every prefix of a valid answer fails cleanly (no over-read under ASan) */
    const char *ok = "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Token\":\"T\",\"Expiration\":\"2026-11-29T20:15:00Z\"}";
    for (size_t n = 0; n < strlen(ok); n++) {
        char *cut = malloc(n + 1);
        memcpy(cut, ok, n);
        CHECK(hg_creds_parse_json(cut, n, &P, err, sizeof err) < 0);
        free(cut);
    }
}

static void test_sts(void)
{
    const char *ok =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <SubjectFromWebIdentityToken>system:serviceaccount:media:hlsgate</SubjectFromWebIdentityToken>\n"
        "    <AssumedRoleUser><Arn>arn:aws:sts::123:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <SessionToken>Fwo&amp;Token&lt;x&gt;</SessionToken>\n"
        "      <SecretAccessKey>wJalr/K7MDENG+bPxRfiCY</SecretAccessKey>\n"
        "      <Expiration>2026-11-29T20:15:00Z</Expiration>\n"
        "      <AccessKeyId>ASIASTS</AccessKeyId>\n"
        "    </Credentials>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";
    CHECK(sts(ok) == 0);
    CHECK_STR(P.access_key, "ASIASTS");
    CHECK_STR(P.secret_key, "wJalr/K7MDENG+bPxRfiCY");
    CHECK_STR(P.session_token, "Fwo&Token<x>");
    CHECK(P.expiration == 1795983300);
    CHECK(sts("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>token expired</Message></Error></ErrorResponse>") < 0 &&
          strstr(err, "InvalidIdentityToken") && strstr(err, "token expired"));
    CHECK(sts("<AssumeRoleWithWebIdentityResponse/>") < 0);
    CHECK(sts("<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey></Credentials>") < 0);
    CHECK(sts("<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
              "<Expiration>never</Expiration></Credentials>") < 0);
    CHECK(sts("<Credentials><AccessKeyId>A&bogus;</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
              "<Expiration>2026-11-29T20:15:00Z</Expiration></Credentials>") < 0);
    /* every cut before the end of the AccessKeyId (the last field) fails cleanly */
    size_t last = (size_t)(strstr(ok, "ASIASTS</AccessKeyId>") - ok) + 7;
    for (size_t n = 0; n < last; n += 3) {
        char *cut = malloc(n + 1);
        memcpy(cut, ok, n);
        CHECK(hg_creds_parse_sts(cut, n, &P, err, sizeof err) < 0);
        free(cut);
    }
}

static void test_ini(void)
{
    const char *f = "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key=SKDEF\r\n\n"
                    "[prod]\n; note\n  aws_access_key_id=AKPROD  \naws_secret_access_key = SK/PROD=\naws_session_token = TOK\n"
                    "[profile other]\naws_access_key_id=AKO\naws_secret_access_key=SKO\n[empty]\nregion=eu\n";
    size_t n = strlen(f);
    CHECK(hg_creds_parse_ini(f, n, "default", &P, err, sizeof err) == 0);
    CHECK_STR(P.access_key, "AKDEF");
    CHECK_STR(P.secret_key, "SKDEF");
    CHECK_STR(P.session_token, "");
    CHECK(hg_creds_parse_ini(f, n, "prod", &P, err, sizeof err) == 0);
    CHECK_STR(P.access_key, "AKPROD");
    CHECK_STR(P.secret_key, "SK/PROD=");
    CHECK_STR(P.session_token, "TOK");
    CHECK(hg_creds_parse_ini(f, n, "other", &P, err, sizeof err) == 0);
    CHECK_STR(P.access_key, "AKO");
    CHECK(hg_creds_parse_ini(f, n, "missing", &P, err, sizeof err) < 0 && strstr(err, "not found"));
    CHECK(hg_creds_parse_ini(f, n, "empty", &P, err, sizeof err) < 0 && strstr(err, "aws_access_key_id"));
    CHECK(hg_creds_parse_ini(f, n, "pro", &P, err, sizeof err) < 0);
}

static void test_cap(void)
{
    long s;
    CHECK(hg_creds_cap_expires(0, 1000, 7200, &s) == 7200 && s == 0);
    CHECK(hg_creds_cap_expires(1000 + 9000, 1000, 7200, &s) == 7200 && s == 0);
    CHECK(hg_creds_cap_expires(1000 + 3600, 1000, 7200, &s) == 3600 && s == 3600);
    CHECK(hg_creds_cap_expires(1000, 1000, 7200, &s) == 1 && s == 7199);
    CHECK(hg_creds_cap_expires(500, 1000, 7200, NULL) == 1);
}

static void test_clock(void)
{
    hg_clock_reset();
    hg_clock_configure(30, 1);
    time_t now = time(NULL);
    CHECK(hg_signing_now() - now <= 1);
    CHECK(hg_clock_skew_warning() == 0);
    /* origin 100 s ahead */
    char d[64];
    time_t o = now + 100;
    struct tm tm;
    gmtime_r(&o, &tm);
    strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK(hg_clock_observe(d, strlen(d), (double)now * 1000.0) == 0);
    CHECK(hg_origin_clock_offset() > 99 && hg_origin_clock_offset() < 101.5);
    CHECK(hg_clock_skew_warning() == 1);
    time_t sn = hg_signing_now();
    CHECK(sn - time(NULL) >= 99 && sn - time(NULL) <= 102);
    /* correction off: our own clock */
    hg_clock_configure(30, 0);
    CHECK(hg_signing_now() - time(NULL) <= 1);
    /* small offsets are not corrected (Date has whole seconds) */
    hg_clock_reset();
    hg_clock_configure(30, 1);
    gmtime_r(&now, &tm);
    strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK(hg_clock_observe(d, strlen(d), (double)now * 1000.0 + 900) == 0);
    CHECK(hg_signing_now() - time(NULL) <= 1 && hg_signing_now() - time(NULL) >= 0);
    CHECK(hg_clock_observe("garbage", 7, 0) < 0);
    CHECK(hg_clock_samples() == 1);
    hg_clock_reset();
}

static hg_config_t base_cfg(void)
{
    hg_config_t c;
    memset(&c, 0, sizeof c);
    c.s3_endpoint = "http://127.0.0.1:9";
    c.s3_bucket = "media";
    c.s3_region = "us-east-1";
    c.imds_disabled = 1;
    return c;
}

static void test_chain(void)
{
    hg_config_t cfg = base_cfg();
    hg_creds_t *c = NULL;
    setenv("HOME", "/nonexistent-hlsgate-test", 1);
    /* nothing configured and IMDS off: an error that lists the sources */
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) < 0 && strstr(err, "no credentials") && !c);
    /* half a web identity */
    cfg.role_arn = "arn:aws:iam::1:role/r";
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) < 0 && strstr(err, "AWS_WEB_IDENTITY_TOKEN_FILE"));
    cfg.role_arn = NULL;
    /* a container endpoint over plain http on a foreign host is refused */
    cfg.container_full_uri = "http://10.1.2.3/creds";
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) < 0 && strstr(err, "https"));
    cfg.container_full_uri = "http://127.0.0.1:9/creds";
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) == 0 && c);
    CHECK_STR(hg_creds_source(c), "container");
    CHECK(hg_creds_needs_loop(c) == 1);
    char why[300];
    CHECK(hg_creds_status(c, time(NULL), why, sizeof why) == HG_CREDS_PENDING && strstr(why, "provider=container"));
    hg_signer_t *signer = NULL;
    unsigned long gen = 0;
    time_t exp = 0;
    CHECK(hg_creds_sync(c, &cfg, &signer, &gen, &exp, why, sizeof why) == HG_CREDS_PENDING && !signer);
    hg_creds_free(c);
    cfg.container_full_uri = NULL;

    /* shared credentials file, then explicit keys win over it */
    char path[] = "/tmp/hg-creds-XXXXXX";
    int fd = mkstemp(path);
    const char *ini = "[default]\naws_access_key_id=AKFILE\naws_secret_access_key=SKFILE\n[p2]\naws_access_key_id=AKP2\naws_secret_access_key=SKP2\n";
    CHECK(fd >= 0 && write(fd, ini, strlen(ini)) == (ssize_t)strlen(ini));
    close(fd);
    cfg.shared_creds_file = path;
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) == 0);
    CHECK_STR(hg_creds_source(c), "shared-file");
    CHECK(hg_creds_needs_loop(c) == 0);
    CHECK(hg_creds_generation(c) == 1);
    CHECK(hg_creds_status(c, time(NULL), NULL, 0) == HG_CREDS_OK);
    CHECK(hg_creds_seconds_left(c, time(NULL)) == -1);
    hg_creds_snap_t *s = hg_creds_acquire(c);
    CHECK(s && !strcmp(s->access_key, "AKFILE") && !s->session_token && s->expiration == 0);
    hg_creds_release(s);
    CHECK(hg_creds_sync(c, &cfg, &signer, &gen, &exp, why, sizeof why) == HG_CREDS_OK && signer && gen == 1);
    hg_signer_t *first = signer;
    CHECK(hg_creds_sync(c, &cfg, &signer, &gen, &exp, why, sizeof why) == HG_CREDS_OK && signer == first);
    /* rewriting the file and reloading publishes a new generation; the worker follows */
    cfg.aws_profile = "p2";
    hg_creds_free(c);
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) == 0);
    s = hg_creds_acquire(c);
    CHECK(s && !strcmp(s->access_key, "AKP2"));
    hg_creds_release(s);
    cfg.aws_profile = "nope";
    hg_creds_t *bad = NULL;
    CHECK(hg_creds_new(&bad, &cfg, err, sizeof err) < 0 && strstr(err, "nope") && !strstr(err, "SKFILE"));
    hg_creds_free(c);
    cfg.aws_profile = NULL;
    unlink(path);
    cfg.shared_creds_file = "/nonexistent/credentials";
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) < 0 && strstr(err, "AWS_SHARED_CREDENTIALS_FILE"));
    cfg.shared_creds_file = NULL;

    /* explicit keys; reload with new keys bumps the generation and the signer is rebuilt */
    cfg.access_key = "AKSTATIC";
    cfg.secret_key = "SKSTATIC";
    CHECK(hg_creds_new(&c, &cfg, err, sizeof err) == 0);
    CHECK_STR(hg_creds_source(c), "static");
    unsigned long g1 = hg_creds_generation(c);
    hg_creds_reload(c, &cfg); /* unchanged: no new generation */
    CHECK(hg_creds_generation(c) == g1);
    cfg.access_key = "AKSTATIC2";
    hg_creds_reload(c, &cfg);
    CHECK(hg_creds_generation(c) == g1 + 1);
    gen = 0;
    CHECK(hg_creds_sync(c, &cfg, &signer, &gen, &exp, why, sizeof why) == HG_CREDS_OK && gen == g1 + 1 && exp == 0);
    hg_creds_free(c);
    hg_signer_free(signer);

    /* without a shared object: keys from cfg */
    signer = NULL;
    gen = 0;
    CHECK(hg_creds_sync(NULL, &cfg, &signer, &gen, &exp, NULL, 0) == HG_CREDS_OK && signer && gen == 1);
    hg_signer_free(signer);
}

/* The storage settings in config.c: defaults, fallbacks, booleans that refuse anything else,
 * and platform credentials (no keys at all) accepted while half a key pair is not. */
static void test_config_storage(void)
{
    static const char *VARS[] = {"S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY",
                                 "S3_CA_FILE", "AWS_CA_BUNDLE", "S3_TLS_VERIFY_UNSAFE_DISABLE", "CLOCK_SKEW_CORRECT",
                                 "CLOCK_SKEW_WARN_SECONDS", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                 "AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_AUTHORIZATION_TOKEN", NULL};
    for (int i = 0; VARS[i]; i++) unsetenv(VARS[i]);
    setenv("S3_BUCKET", "media", 1);
    char *argv[] = {"hlsgate"};
    hg_config_t c;
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_OK);
    CHECK(!c.access_key && !c.ca_file && !c.tls_verify_unsafe_off && c.clock_skew_correct == 1 &&
          c.clock_skew_warn == 30 && c.creds_refresh_ahead == 300 && !c.imds_disabled);
    CHECK(c.imds_endpoint && !strcmp(c.imds_endpoint, "http://169.254.169.254"));
    hg_config_free(&c);
    setenv("AWS_CA_BUNDLE", "/etc/ca.pem", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.internal/v1/credentials?x=1", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc", 1);
    setenv("CLOCK_SKEW_CORRECT", "off", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_OK);
    CHECK(c.ca_file && !strcmp(c.ca_file, "/etc/ca.pem"));
    CHECK(c.role_arn && !strcmp(c.role_arn, "arn:aws:iam::1:role/r"));
    CHECK(c.container_full_uri && !strcmp(c.container_full_uri, "https://creds.internal/v1/credentials?x=1"));
    CHECK(c.container_auth_token && !strcmp(c.container_auth_token, "Bearer abc"));
    CHECK(c.clock_skew_correct == 0 && c.imds_disabled == 1);
    hg_config_free(&c);
    setenv("S3_CA_FILE", "/etc/other.pem", 1); /* S3_ wins over AWS_ */
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_OK && !strcmp(c.ca_file, "/etc/other.pem"));
    hg_config_free(&c);
    setenv("S3_TLS_VERIFY_UNSAFE_DISABLE", "disable", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_ERROR && strstr(err, "S3_TLS_VERIFY_UNSAFE_DISABLE"));
    hg_config_free(&c);
    setenv("S3_TLS_VERIFY_UNSAFE_DISABLE", "true", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_OK && c.tls_verify_unsafe_off == 1);
    hg_config_free(&c);
    unsetenv("S3_TLS_VERIFY_UNSAFE_DISABLE");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://x", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_ERROR && strstr(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    hg_config_free(&c);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("CLOCK_SKEW_WARN_SECONDS", "0", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_ERROR && strstr(err, "CLOCK_SKEW_WARN_SECONDS"));
    hg_config_free(&c);
    unsetenv("CLOCK_SKEW_WARN_SECONDS");
    /* half a key pair is still an error; the secret is never echoed */
    setenv("S3_SECRET_ACCESS_KEY", "verysecretvalue", 1);
    CHECK(hg_config_load(&c, 1, argv, err, sizeof err) == HG_CONFIG_ERROR && strstr(err, "S3_ACCESS_KEY_ID") &&
          !strstr(err, "verysecretvalue"));
    hg_config_free(&c);
    for (int i = 0; VARS[i]; i++) unsetenv(VARS[i]);
}

int main(void)
{
    test_iso8601();
    test_http_date();
    test_json();
    test_sts();
    test_ini();
    test_cap();
    test_clock();
    test_chain();
    test_config_storage();
    hg_creds_parsed_wipe(&P);
    TEST_DONE();
}
