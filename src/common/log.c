#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Atomic int hg_log_level = HG_LOG_INFO;

/* Worker threads collect lines and write them once per loop turn: one write(2) for many
 * access-log lines instead of one per request. Other threads write each line at once. */
#define LOG_BUF (64 * 1024)
static _Thread_local char *tl_buf;
static _Thread_local size_t tl_len;

void hg_log_buffer_begin(void)
{
    if (!tl_buf) tl_buf = malloc(LOG_BUF);
    tl_len = 0;
}

void hg_log_flush(void)
{
    size_t off = 0;
    while (off < tl_len) {
        ssize_t w = write(STDERR_FILENO, tl_buf + off, tl_len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    tl_len = 0;
}

void hg_log_buffer_end(void)
{
    hg_log_flush();
    free(tl_buf);
    tl_buf = NULL;
}

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
    if (tl_buf) {
        if (tl_len + len > LOG_BUF) hg_log_flush();
        memcpy(tl_buf + tl_len, line, len);
        tl_len += len;
        /* Warnings and errors should not wait for the end of the loop turn. */
        if (level >= HG_LOG_WARN) hg_log_flush();
        return;
    }
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
