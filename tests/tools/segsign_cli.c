/* segsign_cli: print one signed segment URL per object key read from stdin, with the signer
 * SEGMENT_SIGNER selects. Used by the oracle tests in tests/cdn/ to drive hg_segsigner_url.
 *
 *   segsign_cli [--window-start UNIX] [--expires SECONDS] [--tab-query] [--FLAG=VALUE ...]
 *
 * Every other argument goes to the configuration loader, which also reads the environment, so
 * secrets can stay out of the process list. --window-start defaults to now, --expires to 3600.
 * Input: raw object keys, one per line; with --tab-query each line is KEY<TAB>QUERY (the last
 * tab splits). Exit status 2 with the loader's message on a bad configuration. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "sign/segsign.h"

int main(int argc, char **argv)
{
    long long window = (long long)time(NULL), expires = 3600;
    int tab_query = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return 2;
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tab-query")) tab_query = 1;
        else if (!strcmp(argv[i], "--window-start") && i + 1 < argc) window = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--expires") && i + 1 < argc) expires = atoll(argv[++i]);
        else rest[nrest++] = argv[i];
    }
    hg_config_t cfg;
    char err[512];
    int rc = hg_config_load(&cfg, nrest, rest, err, sizeof err);
    free(rest);
    if (rc != HG_CONFIG_OK) {
        if (rc == HG_CONFIG_ERROR) fprintf(stderr, "segsign_cli: %s\n", err);
        hg_config_free(&cfg);
        return 2;
    }
    hg_segsigner_t *s = hg_segsigner_new(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "segsign_cli: %s\n", err);
        hg_config_free(&cfg);
        return 2;
    }
    hg_buf_t out;
    hg_buf_init(&out, 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
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
        hg_buf_reset(&out);
        rc = hg_segsigner_url(s, &out, line, len, q, qlen, (int64_t)window, (long)expires);
        if (!rc) rc = hg_buf_appendc(&out, '\n');
        if (rc) {
            fprintf(stderr, "segsign_cli: signing failed (%d)\n", rc);
            status = 1;
            break;
        }
        fwrite(out.data, 1, out.len, stdout);
    }
    free(line);
    hg_buf_free(&out);
    hg_segsigner_free(s);
    hg_config_free(&cfg);
    if (fflush(stdout) != 0) status = 1;
    return status;
}
