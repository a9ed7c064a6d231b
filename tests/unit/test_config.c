/* Configuration parsing: defaults, env vs flag precedence, fallbacks, and errors that name the
 * variable without echoing secrets. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "config.h"
#include "test.h"

static const char *VARS[] = {"LISTEN", "WORKERS", "S3_ENDPOINT", "S3_BUCKET", "VULTR_BUCKET", "S3_REGION",
                             "AWS_REGION", "S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                             "AWS_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN", "AWS_SESSION_TOKEN",
                             "S3_ADDRESSING_STYLE", "S3_KEY_PREFIX", "PRESIGN_EXPIRES_SECONDS",
                             "PUBLIC_BASE_URL", "SEG_EXTENSIONS", "PLAYLIST_MAX_BYTES", "LOG_LEVEL", NULL};

static void clean_env(void)
{
    for (int i = 0; VARS[i]; i++) unsetenv(VARS[i]);
    setenv("S3_BUCKET", "media", 1);
    setenv("S3_ACCESS_KEY_ID", "AKID", 1);
    setenv("S3_SECRET_ACCESS_KEY", "supersecret", 1);
}

static int load(hg_config_t *c, char *err, int argc, char **argv)
{
    err[0] = 0;
    return hg_config_load(c, argc, argv, err, 256);
}

/* Expect an error whose message starts with `name`. */
static void expect_error(const char *var, const char *value, const char *name)
{
    clean_env();
    if (value) setenv(var, value, 1);
    else unsetenv(var);
    hg_config_t c;
    char err[256];
    char *argv[] = {"hlsgate"};
    int rc = load(&c, err, 1, argv);
    CHECK(rc == HG_CONFIG_ERROR);
    CHECK(strncmp(err, name, strlen(name)) == 0);
    CHECK(strstr(err, "supersecret") == NULL);
    if (rc != HG_CONFIG_ERROR || strncmp(err, name, strlen(name)) != 0)
        fprintf(stderr, "  for %s=%s got rc=%d err=[%s]\n", var, value ? value : "(unset)", rc, err);
    hg_config_free(&c);
}

int main(void)
{
    hg_config_t c;
    char err[256];
    char *argv0[] = {"hlsgate"};

    /* defaults */
    clean_env();
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_OK);
    CHECK_STR(c.listen_host, "0.0.0.0");
    CHECK(c.listen_port == 8002);
    CHECK_STR(c.s3_region, "us-east-1");
    CHECK_STR(c.s3_endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK(c.virtual_host == 0);
    CHECK_STR(c.key_prefix, "");
    CHECK(c.presign_expires == 7200);
    CHECK(c.public_base_url == NULL);
    CHECK(c.session_token == NULL);
    CHECK(c.playlist_max_bytes == 16u * 1024 * 1024);
    CHECK(c.workers >= 1);
    CHECK(hg_config_seg_ext_allowed(&c, "ts", 2));
    CHECK(hg_config_seg_ext_allowed(&c, "M4S", 3));
    CHECK(hg_config_seg_ext_allowed(&c, "webvtt", 6));
    CHECK(!hg_config_seg_ext_allowed(&c, "m3u8", 4));
    CHECK(!hg_config_seg_ext_allowed(&c, "t", 1));
    hg_config_free(&c);

    /* every value from the environment, normalised */
    clean_env();
    setenv("LISTEN", "[::1]:9000", 1);
    setenv("S3_ENDPOINT", "https://ewr1.vultrobjects.com/", 1);
    setenv("S3_REGION", "ewr1", 1);
    setenv("S3_ADDRESSING_STYLE", "virtual", 1);
    setenv("S3_KEY_PREFIX", "/videos/hls/", 1);
    setenv("PRESIGN_EXPIRES_SECONDS", "600", 1);
    setenv("PUBLIC_BASE_URL", "https://gw.example.com/", 1);
    setenv("SEG_EXTENSIONS", " .TS, m4s ", 1);
    setenv("S3_SESSION_TOKEN", "tok", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_OK);
    CHECK_STR(c.listen_host, "::1");
    CHECK(c.listen_port == 9000);
    CHECK_STR(c.s3_endpoint, "https://ewr1.vultrobjects.com");
    CHECK(c.virtual_host == 1);
    CHECK_STR(c.key_prefix, "videos/hls");
    CHECK(c.presign_expires == 600);
    CHECK_STR(c.public_base_url, "https://gw.example.com");
    CHECK_STR(c.session_token, "tok");
    CHECK(hg_config_seg_ext_allowed(&c, "ts", 2));
    CHECK(hg_config_seg_ext_allowed(&c, "m4s", 3));
    CHECK(!hg_config_seg_ext_allowed(&c, "mp4", 3));
    hg_config_free(&c);

    /* flags win over the environment, in both spellings */
    clean_env();
    setenv("PRESIGN_EXPIRES_SECONDS", "600", 1);
    char *argv1[] = {"hlsgate", "--presign-expires-seconds=900", "--s3-bucket", "other", "--listen=127.0.0.1:1"};
    CHECK(load(&c, err, 5, argv1) == HG_CONFIG_OK);
    CHECK(c.presign_expires == 900);
    CHECK_STR(c.s3_bucket, "other");
    CHECK(c.listen_port == 1);
    hg_config_free(&c);

    /* AWS_* fallbacks, and VULTR_BUCKET as bucket and default prefix */
    clean_env();
    unsetenv("S3_BUCKET");
    unsetenv("S3_ACCESS_KEY_ID");
    unsetenv("S3_SECRET_ACCESS_KEY");
    setenv("VULTR_BUCKET", "oldbucket", 1);
    setenv("AWS_ACCESS_KEY_ID", "AK2", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SK2", 1);
    setenv("AWS_SESSION_TOKEN", "TK2", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_OK);
    CHECK_STR(c.s3_bucket, "oldbucket");
    CHECK_STR(c.key_prefix, "oldbucket");
    CHECK_STR(c.access_key, "AK2");
    CHECK_STR(c.secret_key, "SK2");
    CHECK_STR(c.session_token, "TK2");
    hg_config_free(&c);
    /* ... but an explicit prefix (even the root) wins */
    setenv("S3_KEY_PREFIX", "/", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_OK);
    CHECK_STR(c.key_prefix, "");
    hg_config_free(&c);
    /* S3_* beats AWS_* */
    setenv("S3_ACCESS_KEY_ID", "AK1", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_OK);
    CHECK_STR(c.access_key, "AK1");
    hg_config_free(&c);

    /* --help and --version */
    clean_env();
    char *argv2[] = {"hlsgate", "--version"};
    CHECK(load(&c, err, 2, argv2) == HG_CONFIG_EXIT);
    hg_config_free(&c);

    /* errors name the variable */
    expect_error("S3_BUCKET", NULL, "S3_BUCKET");
    expect_error("S3_BUCKET", "a/b", "S3_BUCKET");
    expect_error("S3_ACCESS_KEY_ID", NULL, "S3_ACCESS_KEY_ID");
    expect_error("S3_SECRET_ACCESS_KEY", NULL, "S3_SECRET_ACCESS_KEY");
    expect_error("S3_SECRET_ACCESS_KEY", "has space", "S3_SECRET_ACCESS_KEY");
    expect_error("PRESIGN_EXPIRES_SECONDS", "0", "PRESIGN_EXPIRES_SECONDS");
    expect_error("PRESIGN_EXPIRES_SECONDS", "604801", "PRESIGN_EXPIRES_SECONDS");
    expect_error("PRESIGN_EXPIRES_SECONDS", "12x", "PRESIGN_EXPIRES_SECONDS");
    expect_error("PRESIGN_EXPIRES_SECONDS", "-5", "PRESIGN_EXPIRES_SECONDS");
    expect_error("LISTEN", "localhost:80", "LISTEN");
    expect_error("LISTEN", "127.0.0.1:99999", "LISTEN");
    expect_error("LISTEN", "127.0.0.1", "LISTEN");
    expect_error("S3_ENDPOINT", "s3.amazonaws.com", "S3_ENDPOINT");
    expect_error("S3_ENDPOINT", "https://host/path", "S3_ENDPOINT");
    expect_error("S3_ENDPOINT", "https://user@host", "S3_ENDPOINT");
    expect_error("S3_ADDRESSING_STYLE", "dns", "S3_ADDRESSING_STYLE");
    expect_error("S3_KEY_PREFIX", "a/../b", "S3_KEY_PREFIX");
    expect_error("S3_KEY_PREFIX", "a//b", "S3_KEY_PREFIX");
    expect_error("S3_REGION", "us east", "S3_REGION");
    expect_error("PUBLIC_BASE_URL", "gw.example.com", "PUBLIC_BASE_URL");
    expect_error("SEG_EXTENSIONS", "ts,m/4s", "SEG_EXTENSIONS");
    expect_error("SEG_EXTENSIONS", ",", "SEG_EXTENSIONS");
    expect_error("PLAYLIST_MAX_BYTES", "10", "PLAYLIST_MAX_BYTES");
    expect_error("WORKERS", "0", "WORKERS");
    expect_error("LOG_LEVEL", "chatty", "LOG_LEVEL");

    /* virtual-host style needs a DNS-compatible bucket */
    clean_env();
    setenv("S3_BUCKET", "My_Bucket", 1);
    setenv("S3_ADDRESSING_STYLE", "virtual", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "S3_ADDRESSING_STYLE") != NULL);
    hg_config_free(&c);

    /* flag errors name the flag */
    clean_env();
    char *argv3[] = {"hlsgate", "--workers=abc"};
    CHECK(load(&c, err, 2, argv3) == HG_CONFIG_ERROR);
    CHECK(strncmp(err, "--workers", 9) == 0);
    hg_config_free(&c);
    char *argv4[] = {"hlsgate", "--s3-bucket"};
    CHECK(load(&c, err, 2, argv4) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "--s3-bucket") != NULL);
    hg_config_free(&c);
    char *argv8[] = {"hlsgate", "--s3-access-key-id", "--s3-secret-access-key", "supersecret"};
    CHECK(load(&c, err, 4, argv8) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "supersecret") == NULL);
    hg_config_free(&c);
    char *argv5[] = {"hlsgate", "--nope=1"};
    CHECK(load(&c, err, 2, argv5) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "--nope") != NULL);
    hg_config_free(&c);

    /* LISTEN: each kind of mistake gets its own message */
    clean_env();
    setenv("LISTEN", "127.0.0.1:99999", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "port must be a number from 0 to 65535") != NULL);
    CHECK(strstr(err, "numeric") == NULL);
    hg_config_free(&c);
    setenv("LISTEN", "[::1]:http", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "port must be") != NULL);
    hg_config_free(&c);
    setenv("LISTEN", "localhost:8002", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "address must be numeric") != NULL);
    hg_config_free(&c);
    setenv("LISTEN", "8002", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "is not ADDRESS:PORT") != NULL);
    hg_config_free(&c);
    char *argv9[] = {"hlsgate", "--listen=127.0.0.1:70000"};
    CHECK(load(&c, err, 2, argv9) == HG_CONFIG_ERROR);
    CHECK(strncmp(err, "--listen", 8) == 0 && strstr(err, "port must be") != NULL);
    hg_config_free(&c);

    /* --healthcheck's configuration: no S3 settings needed, LISTEN still checked */
    clean_env();
    unsetenv("S3_BUCKET");
    unsetenv("S3_ACCESS_KEY_ID");
    unsetenv("S3_SECRET_ACCESS_KEY");
    setenv("S3_ADDRESSING_STYLE", "virtual", 1);
    setenv("LISTEN", "127.0.0.1:9123", 1);
    CHECK(load(&c, err, 1, argv0) == HG_CONFIG_ERROR); /* the gateway itself needs them */
    hg_config_free(&c);
    CHECK(hg_config_load_probe(&c, 1, argv0, err, 256) == HG_CONFIG_OK);
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK(c.listen_port == 9123);
    hg_config_free(&c);
    setenv("LISTEN", "127.0.0.1:99999", 1);
    CHECK(hg_config_load_probe(&c, 1, argv0, err, 256) == HG_CONFIG_ERROR);
    CHECK(strncmp(err, "LISTEN", 6) == 0);
    hg_config_free(&c);

    /* --help names every way to run hlsgate and every endpoint */
    clean_env();
    {
        char hpath[512];
        const char *tmp = getenv("TMPDIR");
        snprintf(hpath, sizeof hpath, "%s/hg-test-help-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int hfd = mkstemp(hpath);
        CHECK(hfd >= 0);
        fflush(stdout);
        int saved = dup(1);
        dup2(hfd, 1);
        char *argvh[] = {"hlsgate", "--help"};
        int hrc = load(&c, err, 2, argvh);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        hg_config_free(&c);
        CHECK(hrc == HG_CONFIG_EXIT);
        char help[16384];
        ssize_t hn = pread(hfd, help, sizeof help - 1, 0);
        close(hfd);
        unlink(hpath);
        help[hn > 0 ? hn : 0] = 0;
        const char *want[] = {"--healthcheck", "token --acl PATTERN", "--version", "--config FILE",
                              "/hls/{key}", "/hls-seg/{key}", "OPTIONS", "/healthz", "/readyz", "/metrics",
                              "no S3 settings needed", NULL};
        for (int i = 0; want[i]; i++) {
            CHECK(strstr(help, want[i]) != NULL);
            if (!strstr(help, want[i])) fprintf(stderr, "  --help lacks [%s]\n", want[i]);
        }
    }

    /* --config env file: it beats the environment, flags beat it */
    clean_env();
    char path[] = "/tmp/hg-test-config-XXXXXX"; /* removed at the end */
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "# comment\n\nexport S3_BUCKET=frombucket\nPRESIGN_EXPIRES_SECONDS=\"900\"\r\n"
                       "S3_KEY_PREFIX='a/b'\n  S3_REGION=eu-west-1  \n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    char *argv6[] = {"hlsgate", "--config", path, "--s3-region=ap-south-1"};
    CHECK(load(&c, err, 4, argv6) == HG_CONFIG_OK);
    CHECK_STR(c.s3_bucket, "frombucket");
    CHECK(c.presign_expires == 900);
    CHECK_STR(c.key_prefix, "a/b");
    CHECK_STR(c.s3_region, "ap-south-1");
    CHECK_STR(c.access_key, "AKID"); /* not in the file: from the environment */
    CHECK_STR(c.config_file, path);
    hg_config_free(&c);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "S3_BUCKET\n", 10) == 10);
    close(fd);
    char *argv7[] = {"hlsgate", "--config=/nonexistent/file"};
    CHECK(load(&c, err, 2, argv7) == HG_CONFIG_ERROR);
    CHECK(strncmp(err, "--config", 8) == 0);
    hg_config_free(&c);
    argv6[2] = path;
    CHECK(load(&c, err, 3, argv6) == HG_CONFIG_ERROR);
    CHECK(strstr(err, "line 1") != NULL);
    hg_config_free(&c);
    unlink(path);

    TEST_DONE();
}
