/* Request parsing: llhttp callbacks (strict, no lenient flags) and a scanner that checks the
 * head as it arrives on the wire, before llhttp sees it: obs-fold continuation lines are
 * refused whatever the previous line held, and header bytes and lines are counted as sent
 * (whitespace and empty names included), not as llhttp reports them. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"

static int reject(hg_conn_t *c, int status, const char *why)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_why = why;
    }
    return -1;
}

void hg_parse_reset(hg_conn_t *c)
{
    c->scan_line_bytes = c->scan_header_bytes = c->scan_lines = 0;
    c->scan_at_line_start = 1;
    c->scan_cr = c->scan_done = 0;
}

int hg_scan_head(hg_conn_t *c, const char *p, size_t n)
{
    const hg_http_limits_t *lim = &c->h->lim;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (c->scan_lines > 0) {
            if (++c->scan_header_bytes > lim->max_header_bytes) {
                c->err_why = "request headers too large";
                c->scan_stop = i;
                return 431;
            }
        } else if (++c->scan_line_bytes > lim->max_url_bytes + 64) {
            c->err_why = "request target too long";
            c->scan_stop = i;
                return 414;
        }
        if (c->scan_cr && ch != '\n') {
            /* llhttp (lenient here) ends the head at CR + any byte; we must not disagree. */
            c->err_why = "bare CR in the request head";
            c->scan_stop = i;
                return 400;
        }
        if (c->scan_at_line_start) {
            if (ch == '\r') {
                c->scan_cr = 1;
                continue;
            }
            if (ch == '\n') {
                /* An empty line: the end of the head (blank lines before a request line are
                 * only skipped). */
                c->scan_cr = 0;
                if (c->scan_lines > 0) {
                    c->scan_done = 1;
                    return 0;
                }
                continue;
            }
            if (c->scan_lines > 0 && (ch == ' ' || ch == '\t')) {
                c->err_why = "obs-fold (a header line that starts with whitespace)";
                c->scan_stop = i;
                return 400;
            }
            c->scan_at_line_start = 0;
        }
        c->scan_cr = ch == '\r';
        if (ch == '\n') {
            c->scan_at_line_start = 1;
            if (++c->scan_lines > lim->max_header_lines + 1) {
                c->err_why = "too many header lines";
                c->scan_stop = i;
                return 431;
            }
        }
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    hg_buf_reset(&c->req.target);
    hg_buf_reset(&c->req.host);
    hg_buf_reset(&c->req.acr_headers);
    hg_buf_reset(&c->req.if_none_match);
    hg_buf_reset(&c->req.xff);
    hg_buf_reset(&c->req.xfp);
    hg_buf_reset(&c->aenc);
    c->req.accept_gzip = 0;
    c->hname_len = 0;
    c->hval = NULL;
    c->err_status = 0;
    c->err_why = NULL;
    c->saw_host = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    if (hg_buf_append(&c->req.target, at, len)) return reject(c, 414, "request target too long");
    return 0;
}

/* RFC 9110 tchar: the only bytes a field name may hold. */
static int tchar(unsigned char ch)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr(extra, ch));
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!tchar((unsigned char)at[i])) return reject(c, 400, "invalid header field name");
    /* Names longer than the buffer cannot be one we look for: keep the prefix only. */
    for (size_t i = 0; i < len && c->hname_len + i < sizeof c->hname; i++) c->hname[c->hname_len + i] = at[i];
    c->hname_len += len;
    return 0;
}

static int name_is(const hg_conn_t *c, const char *lit, size_t n)
{
    return c->hname_len == n && strncasecmp(c->hname, lit, n) == 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    c->hval = NULL;
    if (c->hname_len == 0) return reject(c, 400, "empty header field name");
    if (name_is(c, "host", 4)) {
        if (c->saw_host++) return reject(c, 400, "duplicate Host header");
        c->hval = &c->req.host;
    } else if (name_is(c, "access-control-request-headers", 30)) {
        c->hval = &c->req.acr_headers;
    } else if (name_is(c, "if-none-match", 13)) {
        c->hval = &c->req.if_none_match;
    } else if (name_is(c, "accept-encoding", 15)) {
        c->hval = &c->aenc;
    } else if (name_is(c, "x-forwarded-for", 15)) {
        /* Several X-Forwarded-For lines form one list: keep them comma-joined. */
        if (c->req.xff.len) hg_buf_appendc(&c->req.xff, ',');
        c->hval = &c->req.xff;
    } else if (name_is(c, "x-forwarded-proto", 17)) {
        c->hval = &c->req.xfp;
    }
    c->hname_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    if (c->hval && hg_buf_append(c->hval, at, len)) return reject(c, 431, "request header too large");
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    c->hval = NULL;
    return 0;
}

/* Accept-Encoding lists gzip (or *) without q=0. */
static int accepts_gzip(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == ',' || v[i] == '\t')) i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ';' && v[i] != ' ') i++;
        size_t tl = i - s;
        int match = (tl == 4 && strncasecmp(v + s, "gzip", 4) == 0) || (tl == 1 && v[s] == '*');
        int q0 = 0;
        while (i < n && v[i] != ',') {
            if (v[i] == '=' && i > 0 && (v[i - 1] == 'q' || v[i - 1] == 'Q')) {
                size_t k = i + 1;
                q0 = k < n && v[k] == '0';
                while (k < n && (v[k] == '0' || v[k] == '.')) k++;
                if (k < n && v[k] >= '1' && v[k] <= '9') q0 = 0;
            }
            i++;
        }
        if (match && !q0) return 1;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    if (p->http_major != 1) return reject(c, 505, "only HTTP/1.x is supported");
    if (p->method == HTTP_CONNECT) return reject(c, 400, "CONNECT is not supported");
    /* Requests with a body are not part of this API; refusing them also shuts the door on
     * body-based smuggling tricks. */
    if ((p->flags & F_CHUNKED) || p->content_length > 0) return reject(c, 413, "request bodies are not accepted");
    if (p->http_minor >= 1 && !c->saw_host) return reject(c, 400, "missing Host header");
    c->req.method = p->method;
    c->req.accept_gzip = accepts_gzip(c->aenc.data, c->aenc.len);
    c->req.http_major = p->http_major;
    c->req.http_minor = p->http_minor;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    c->req.keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    return HPE_PAUSED; /* one request at a time: answers stay in order */
}

const llhttp_settings_t hg_http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void hg_parse_error(hg_conn_t *c, llhttp_errno_t e)
{
    int status = c->err_status ? c->err_status : 400;
    char body[160];
    if (c->err_why) snprintf(body, sizeof body, "%s\n", c->err_why);
    else snprintf(body, sizeof body, "malformed request: %s\n", llhttp_errno_name(e));
    hg_log(HG_LOG_INFO, "msg=\"bad request\" status=%d reason=\"%s\" client=%s", status,
           c->err_why ? c->err_why : llhttp_errno_name(e), c->peer);
    c->state = C_BUSY;
    if (c->h->metrics) hg_metrics_request(c->h->metrics, HG_ROUTE_OTHER, status);
    hg_conn_send_simple(c, NULL, status, NULL, body, 1);
}
