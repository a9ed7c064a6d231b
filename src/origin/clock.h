/* Clock skew against the origin: every origin response's Date header is a sample of the origin's
 * clock. The process keeps one smoothed offset (origin minus local, in milliseconds) in atomics,
 * so any worker may feed samples and anyone may read the figure without locks.
 *
 * SigV4 URLs carry X-Amz-Date; when our clock is off by minutes S3 answers "Request is not yet
 * valid" or RequestTimeTooSkewed. hg_signing_now() is "now" as the origin sees it (when
 * CLOCK_SKEW_CORRECT is on and the offset is at least HG_CLOCK_CORRECT_MIN_MS). */
#ifndef HG_CLOCK_H
#define HG_CLOCK_H

#include <time.h>

/** A Date header has whole seconds and is truncated, so smaller offsets are noise. */
#define HG_CLOCK_CORRECT_MIN_MS 2000

/** Set the warning threshold (seconds, <= 0: 30) and whether signing uses the origin's clock.
 *  Thread-safe; the last call wins (configuration reload). */
void hg_clock_configure(long warn_seconds, int correct);
/** Feed one Date header value (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", not NUL-terminated)
 *  received at local wall-clock time `local_ms` (milliseconds since the epoch). Logs a warning,
 *  at most once a minute, while the offset is past the threshold. Returns 0, or -1 when the
 *  value does not parse (ignored). */
int hg_clock_observe(const char *date, size_t len, double local_ms);
/** Parse an IMF-fixdate into seconds since the epoch. Returns 0 or -1. */
int hg_clock_parse_http_date(const char *s, size_t len, time_t *out);
/** Origin clock minus ours, in seconds (smoothed; 0 before the first sample). */
double hg_origin_clock_offset(void);
/** Number of Date samples seen. */
unsigned long hg_clock_samples(void);
/** 1 while |offset| is above CLOCK_SKEW_WARN_SECONDS (for /metrics and /readyz), else 0. */
int hg_clock_skew_warning(void);
/** "now" for signing and for comparing with credential expiry times (which are in AWS's clock):
 *  time(NULL) plus the measured offset when correction is on and the offset is significant. */
time_t hg_signing_now(void);
/** Seconds since the epoch of a UTC calendar time (month 1..12); no range checks. */
time_t hg_clock_utc(int year, int month, int day, int hh, int mm, int ss);
/** Forget every sample (tests). */
void hg_clock_reset(void);

#endif
