/* Response heads: status reasons, the per-request prefix, and small complete responses. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *hg_status_reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void refresh_date(hg_http_t *h)
{
    time_t now = time(NULL);
    if (now == h->date_sec) return;
    h->date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(h->date, sizeof h->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

size_t hg_http_prefix(hg_http_t *h, char *dst, size_t cap, int status, int close_after)
{
    refresh_date(h);
    const char *common = h->lim.common_headers ? h->lim.common_headers : "";
    int n = snprintf(dst, cap, "HTTP/1.1 %d %s\r\n%s%s%s", status, hg_status_reason(status), h->date,
                     common, close_after ? "Connection: close\r\n" : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void hg_conn_send_simple(hg_conn_t *c, const hg_request_t *req, int status, const char *extra,
                         const char *body, int close_after)
{
    size_t blen = body ? strlen(body) : 0;
    int head_only = req && req->method == HTTP_HEAD;
    int no_body = status == 204 || status == 304;
    close_after = close_after || (req && !req->keep_alive);
    size_t elen = extra ? strlen(extra) : 0;
    size_t cap = HG_WRITE_HEAD_MAX + elen + 128 + blen;
    char *b = malloc(cap);
    if (!b) {
        hg_conn_close(c);
        return;
    }
    size_t n = hg_http_prefix(c->h, b, HG_WRITE_HEAD_MAX, status, close_after);
    int m = n ? snprintf(b + n, cap - n, "%s", extra ? extra : "") : -1;
    if (m >= 0) n += (size_t)m;
    if (m >= 0 && !no_body) {
        m = snprintf(b + n, cap - n, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n", blen);
        if (m >= 0) n += (size_t)m;
    }
    if (m < 0 || n + 2 + blen > cap) {
        free(b);
        hg_conn_close(c);
        return;
    }
    memcpy(b + n, "\r\n", 2);
    n += 2;
    if (!head_only && !no_body && blen) {
        memcpy(b + n, body, blen);
        n += blen;
    }
    hg_conn_write(c, b, n);
    hg_conn_finish(c, close_after);
}
