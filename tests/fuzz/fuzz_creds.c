/* libFuzzer target: the parsers of credential-provider answers (src/origin/creds_parse.h) and
 * the HTTP Date parser (src/origin/clock.h). Their input comes from the network (container
 * endpoint, IMDS, STS, any origin's Date header) or from a file.
 *
 * Input layout: byte 0 picks the parser (mod 5: JSON, STS XML, INI with profile "default",
 * ISO 8601, HTTP date); the rest is the text.
 *
 * Invariants:
 *   - JSON/STS/INI: on success the access key and secret are non-empty, NUL-terminated inside
 *     their arrays, and (JSON/STS) the expiration is set; on failure the error message is
 *     non-empty and the secret field is empty (wiped);
 *   - ISO 8601 / HTTP date: a success gives a time in [1970, 10000); formatting it back and
 *     parsing again gives the same time (HTTP date). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fuzz_common.h"
#include "origin/clock.h"
#include "origin/creds_parse.h"

static hg_creds_parsed_t P;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 5;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char err[256] = "";
    time_t t = 0;
    int rc;
    switch (mode) {
    case 0:
    case 1:
    case 2:
        rc = mode == 0   ? hg_creds_parse_json(s, n, &P, err, sizeof err)
             : mode == 1 ? hg_creds_parse_sts(s, n, &P, err, sizeof err)
                         : hg_creds_parse_ini(s, n, "default", &P, err, sizeof err);
        FZ_CHECK(memchr(P.access_key, 0, sizeof P.access_key) && memchr(P.secret_key, 0, sizeof P.secret_key) &&
                     memchr(P.session_token, 0, sizeof P.session_token),
                 "unterminated field");
        if (rc == 0) {
            FZ_CHECK(P.access_key[0] && P.secret_key[0], "success without keys");
            FZ_CHECK(mode == 2 || P.expiration > 0, "success without expiration");
        } else {
            FZ_CHECK(rc == -1 && err[0], "failure without a reason");
            FZ_CHECK(!P.secret_key[0], "secret left behind after a failure");
        }
        hg_creds_parsed_wipe(&P);
        break;
    case 3:
        if (hg_creds_parse_iso8601(s, n, &t) == 0)
            FZ_CHECK(t >= -86400 && t < 253402300800LL + 86400, "time out of range: %lld", (long long)t);
        break;
    case 4:
        if (hg_clock_parse_http_date(s, n, &t) == 0) {
            FZ_CHECK(t >= 0 && t < 253402300800LL, "time out of range: %lld", (long long)t);
            /* Day names are not checked, so compare from the day on: "DD Mon YYYY HH:MM:SS GMT". */
            struct tm tm;
            char back[64];
            time_t t2;
            gmtime_r(&t, &tm);
            strftime(back, sizeof back, "Xxx, %d %b %Y %H:%M:%S GMT", &tm);
            FZ_CHECK(hg_clock_parse_http_date(back, strlen(back), &t2) == 0 && t2 == t, "round trip: %s", back);
        }
        break;
    }
    return 0;
}
