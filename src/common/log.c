#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int hg_log_level = HG_LOG_INFO;

static const char *const LEVELS[] = {"debug", "info", "warn", "error"};

int hg_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, LEVELS[i]) == 0) return i;
    if (strcmp(s, "warning") == 0) return HG_LOG_WARN;
    return -1;
}

void hg_log(int level, const char *fmt, ...)
{
    if (level < hg_log_level) return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), LEVELS[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

char *hg_log_quote(char *dst, size_t cap, const char *s, size_t len)
{
    static const char HEX[] = "0123456789abcdef";
    int quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '=' || c >= 0x7f) quote = 1;
    }
    size_t o = 0;
    if (cap < 8) {
        if (cap) dst[0] = 0;
        return dst;
    }
    if (quote) dst[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= cap) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c < ' ' || c >= 0x7f || c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = HEX[c >> 4];
            dst[o++] = HEX[c & 15];
        } else {
            dst[o++] = (char)c;
        }
    }
    if (quote) dst[o++] = '"';
    dst[o] = 0;
    return dst;
}
