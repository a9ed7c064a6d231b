#include "clock.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "../common/log.h"

static _Atomic int64_t g_offset_ms;   /* smoothed origin - local */
static atomic_ulong g_samples;
static atomic_long g_warn_s = 30;
static atomic_int g_correct = 1;
static _Atomic int64_t g_last_warn_ms; /* local ms of the last warning line */

void hg_clock_configure(long warn_seconds, int correct)
{
    atomic_store(&g_warn_s, warn_seconds > 0 ? warn_seconds : 30);
    atomic_store(&g_correct, correct ? 1 : 0);
}

static int num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (no timegm: not C11). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

time_t hg_clock_utc(int year, int month, int day, int hh, int mm, int ss)
{
    return (time_t)(days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss);
}

int hg_clock_parse_http_date(const char *s, size_t len, time_t *out)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes, fixed positions. */
    static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (len < 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return -1;
    int day, year, hh, mm, ss, mon = -1;
    if (num(s + 5, 2, &day) || num(s + 12, 4, &year) || num(s + 17, 2, &hh) || num(s + 20, 2, &mm) ||
        num(s + 23, 2, &ss))
        return -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(MONTHS + 3 * i, s + 8, 3) == 0) mon = i + 1;
    if (mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970) return -1;
    *out = hg_clock_utc(year, mon, day, hh, mm, ss);
    return 0;
}

int hg_clock_observe(const char *date, size_t len, double local_ms)
{
    while (len && (*date == ' ' || *date == '\t')) date++, len--;
    time_t t;
    if (hg_clock_parse_http_date(date, len, &t)) return -1;
    /* The header is truncated to the second: on average the origin's clock was half a second
     * further along than the value says. */
    int64_t sample = (int64_t)t * 1000 + 500 - (int64_t)local_ms;
    int64_t cur = atomic_load(&g_offset_ms), next;
    do {
        unsigned long n = atomic_load(&g_samples);
        int64_t diff = sample - cur;
        /* First sample, or a step (NTP fixed one of the clocks): take it as it is. Otherwise
         * smooth, so the 1-second quantisation does not make the correction flap. */
        if (n == 0 || diff > 5000 || diff < -5000) next = sample;
        else next = cur + diff / 8;
    } while (!atomic_compare_exchange_weak(&g_offset_ms, &cur, next));
    atomic_fetch_add(&g_samples, 1);
    int64_t warn_ms = (int64_t)atomic_load(&g_warn_s) * 1000;
    if (next > warn_ms || next < -warn_ms) {
        int64_t last = atomic_load(&g_last_warn_ms);
        if ((int64_t)local_ms - last >= 60000 &&
            atomic_compare_exchange_strong(&g_last_warn_ms, &last, (int64_t)local_ms))
            hg_log(HG_LOG_WARN,
                   "msg=\"clock skew: the origin's clock differs from ours\" offset_seconds=%.1f threshold_seconds=%ld correcting=%s",
                   (double)next / 1000.0, (long)atomic_load(&g_warn_s), atomic_load(&g_correct) ? "yes" : "no");
    }
    return 0;
}

double hg_origin_clock_offset(void)
{
    return (double)atomic_load(&g_offset_ms) / 1000.0;
}

unsigned long hg_clock_samples(void)
{
    return atomic_load(&g_samples);
}

int hg_clock_skew_warning(void)
{
    int64_t off = atomic_load(&g_offset_ms), warn_ms = (int64_t)atomic_load(&g_warn_s) * 1000;
    return atomic_load(&g_samples) && (off > warn_ms || off < -warn_ms);
}

time_t hg_signing_now(void)
{
    time_t now = time(NULL);
    if (!atomic_load(&g_correct)) return now;
    int64_t off = atomic_load(&g_offset_ms);
    if (off < HG_CLOCK_CORRECT_MIN_MS && off > -HG_CLOCK_CORRECT_MIN_MS) return now;
    return now + (time_t)((off + (off >= 0 ? 500 : -500)) / 1000);
}

void hg_clock_reset(void)
{
    atomic_store(&g_offset_ms, 0);
    atomic_store(&g_samples, 0);
    atomic_store(&g_last_warn_ms, 0);
}
