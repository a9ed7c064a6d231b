/* presign_cli: print one presigned GET URL per object key read from stdin.
 *
 * Used by tests/sigv4_botocore.py to cross-check hg_presign against botocore, and handy for
 * producing a URL by hand. Options (each falls back to the environment variable in brackets):
 *   --endpoint URL [HG_S3_ENDPOINT]   --bucket NAME [HG_S3_BUCKET]   --region R [HG_S3_REGION]
 *   --ak ID [AWS_ACCESS_KEY_ID]       --sk SECRET [AWS_SECRET_ACCESS_KEY]
 *   --token T [AWS_SESSION_TOKEN]     --style path|virtual (default path)
 *   --time UNIX (default now)         --expires SECONDS (default 3600)
 *   --tab-query   each line is KEY<TAB>RAW-QUERY; the last tab splits, so keys may hold tabs
 *   --object-url  print hg_object_url (unsigned) instead
 *   --defer N     sign through hg_presign_defer into one buffer, calling hg_presign_flush after
 *                 every N lines (and at the end); the output must not differ from the default
 *   --print-impl  print the SHA-256 implementation in use and exit
 * HG_SHA256 chooses the SHA-256 implementation (sha256.h), as in the gateway.
 * Keys are raw bytes, one per line ("\n" ends a line; no other byte is special). Prefer the
 * environment for the secret so it does not show up in process listings. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign/sha256.h"
#include "sign/sigv4.h"

static void usage(void)
{
    fputs(
        "usage: presign_cli --endpoint URL --bucket B --region R --ak ID --sk SECRET [--token T]\n"
        "       [--style path|virtual] [--time UNIX] [--expires N] [--tab-query] [--object-url]\n"
        "       [--defer N] [--print-impl]\n"
        "       < keys\n",
        stderr);
}

static int parse_long(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    hg_sigv4_config_t cfg = {
        .endpoint = getenv("HG_S3_ENDPOINT"),
        .bucket = getenv("HG_S3_BUCKET"),
        .region = getenv("HG_S3_REGION"),
        .access_key = getenv("AWS_ACCESS_KEY_ID"),
        .secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .session_token = getenv("AWS_SESSION_TOKEN"),
    };
    long long when = (long long)time(NULL), expires = 3600;
    int tab_query = 0, object_url = 0;
    long long defer = 0;
    hg_sha256_select();

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tab-query")) {
            tab_query = 1;
            continue;
        }
        if (!strcmp(a, "--object-url")) {
            object_url = 1;
            continue;
        }
        if (!strcmp(a, "--print-impl")) {
            printf("%s\n", hg_sha256_impl());
            return 0;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--endpoint"))
            cfg.endpoint = v;
        else if (!strcmp(a, "--bucket"))
            cfg.bucket = v;
        else if (!strcmp(a, "--region"))
            cfg.region = v;
        else if (!strcmp(a, "--ak"))
            cfg.access_key = v;
        else if (!strcmp(a, "--sk"))
            cfg.secret_key = v;
        else if (!strcmp(a, "--token"))
            cfg.session_token = v;
        else if (!strcmp(a, "--style") && !strcmp(v, "path"))
            cfg.virtual_host = 0;
        else if (!strcmp(a, "--style") && !strcmp(v, "virtual"))
            cfg.virtual_host = 1;
        else if (!strcmp(a, "--time") && !parse_long(v, &when))
            continue;
        else if (!strcmp(a, "--expires") && !parse_long(v, &expires))
            continue;
        else if (!strcmp(a, "--defer") && !parse_long(v, &defer) && defer > 0)
            continue;
        else {
            usage();
            return 2;
        }
    }
    /* Out-of-range expiries go through unchanged (within a long) so the signer's clamp is tested.
     */
    if (expires > LONG_MAX) expires = LONG_MAX;
    if (expires < LONG_MIN) expires = LONG_MIN;

    hg_signer_t *s = hg_signer_new(&cfg);
    if (!s) {
        fputs("presign_cli: invalid or incomplete configuration\n", stderr);
        usage();
        return 2;
    }
    hg_buf_t out;
    hg_buf_init(&out, 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    size_t lines = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        const char *q = NULL;
        size_t qlen = 0;
        if (tab_query) {
            char *tab = memrchr(line, '\t', len);
            if (tab) {
                q = tab + 1;
                qlen = len - (size_t)(q - line);
                len = (size_t)(tab - line);
            }
        }
        if (!defer) hg_buf_reset(&out);
        int rc;
        if (object_url)
            rc = hg_object_url(s, &out, line, len);
        else if (defer)
            rc = hg_presign_defer(s, &out, line, len, q, qlen, (time_t)when, (long)expires);
        else
            rc = hg_presign(s, &out, line, len, q, qlen, (time_t)when, (long)expires);
        if (!rc) rc = hg_buf_appendc(&out, '\n');
        if (!rc && defer && ++lines % (size_t)defer == 0) rc = hg_presign_flush(s, &out);
        if (rc) {
            fprintf(stderr, "presign_cli: signing failed (%d)\n", rc);
            status = 1;
            break;
        }
        if (!defer) fwrite(out.data, 1, out.len, stdout);
    }
    if (defer && !status) {
        if (hg_presign_flush(s, &out) == 0)
            fwrite(out.data, 1, out.len, stdout);
        else
            status = 1;
    }
    free(line);
    hg_buf_free(&out);
    hg_signer_free(s);
    if (fflush(stdout) != 0) status = 1;
    return status;
}
