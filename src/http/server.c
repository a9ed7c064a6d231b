#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../common/log.h"
#include "../common/rbuf.h"
#include "../gateway.h"
#include "../origin/origin.h"
#include "../origin/creds.h" /* [storage hook] */
#include "../sign/sigv4.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Output backlog limits: above HIGH the producer pauses, below LOW it resumes. */
#define WRITE_HIGH (256 * 1024)
#define WRITE_LOW (64 * 1024)
/* Input buffered while a response is in progress (pipelined requests) before we stop reading. */
#define PIPELINE_MAX (64 * 1024)

typedef enum { C_IDLE, C_HEADERS, C_BUSY } conn_state_t;

struct hg_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    hg_worker_t *w;
    hg_conn_t *prev, *next; /* worker's list */
    llhttp_t parser;
    hg_buf_t in;   /* received, not yet parsed bytes (pipelining); in_off..len unparsed */
    size_t in_off;
    hg_request_t req;
    hg_buf_t hname;  /* current header name, for matching */
    hg_buf_t aenc;   /* Accept-Encoding value */
    hg_buf_t *hval;  /* where the current header value goes, or NULL to ignore it */
    size_t header_bytes;
    int err_status;  /* status to answer when a callback rejected the request */
    int saw_host;
    int val_pieces;         /* pieces of the current header value seen so far */
    int val_at_end;         /* the last piece ended at the end of the parsed input */
    const char *exec_end;   /* end of the bytes given to llhttp_execute */
    conn_state_t state;
    int has_reply;
    hg_reply_t reply;
    size_t pending; /* bytes queued for writing */
    int closing;
    int doomed; /* a write failed: closing on the next loop turn */
    int close_when_flushed;
    int in_parse;
    int reading;
    int handles; /* open uv handles: tcp + timer */
    char peer[64];
};

/* One queued write: up to three pieces (head, data, tail) so a response or a chunk is always a
 * single uv_write. `data` is either owned (malloc'd) or a slice of a shared, counted buffer. */
typedef struct {
    uv_write_t req;
    hg_conn_t *c;
    char *data;     /* owned bytes, or NULL */
    hg_rbuf_t *rb;  /* shared bytes, or NULL */
    size_t len;     /* bytes this write adds to the connection's backlog */
    char head[HG_WRITE_HEAD_MAX];
} wreq_t;

static llhttp_settings_t SETTINGS;
static void parse_loop(hg_conn_t *c);
static void conn_close(hg_conn_t *c);
static void arm_timer(hg_conn_t *c);

hg_worker_t *hg_conn_worker(const hg_conn_t *c)
{
    return c->w;
}

const char *hg_conn_peer(const hg_conn_t *c)
{
    return c->peer;
}

size_t hg_conn_pending(const hg_conn_t *c)
{
    return c->pending;
}

int hg_conn_congested(const hg_conn_t *c)
{
    return c->pending > WRITE_HIGH;
}

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

static void refresh_date(hg_worker_t *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec) return;
    w->date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

int hg_response_head(hg_worker_t *w, hg_buf_t *out, int status)
{
    refresh_date(w);
    return hg_buf_appendf(out,
                          "HTTP/1.1 %d %s\r\nServer: hlsgate\r\n%sAccess-Control-Allow-Origin: *\r\n",
                          status, hg_status_reason(status), w->date);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void on_close_now(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_write(uv_write_t *r, int status)
{
    wreq_t *wr = container_of(r, wreq_t, req);
    hg_conn_t *c = wr->c;
    c->pending -= wr->len;
    free(wr->data);
    hg_rbuf_unref(wr->rb);
    free(wr);
    if (status < 0) {
        if (status != UV_ECANCELED)
            hg_log(HG_LOG_DEBUG, "msg=\"client write failed\" client=%s err=%s", c->peer, uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->closing) return;
    if (c->close_when_flushed && c->pending == 0) {
        conn_close(c);
        return;
    }
    arm_timer(c);
    if (c->has_reply && c->reply.on_drain && c->pending < WRITE_LOW) c->reply.on_drain(c->reply.ctx);
}

/* Queue head (copied into the request), then data (owned) or rb[off..off+len) (shared), then
 * "\r\n" when `chunk_tail`. Consumes `data` and one reference of `rb` in every case. */
static int queue_write(hg_conn_t *c, const char *head, size_t hlen, char *data, hg_rbuf_t *rb,
                       const char *p, size_t len, int chunk_tail)
{
    if (c->closing || hlen > HG_WRITE_HEAD_MAX) {
        free(data);
        hg_rbuf_unref(rb);
        return UV_ECANCELED;
    }
    wreq_t *wr = malloc(sizeof *wr);
    if (!wr) {
        free(data);
        hg_rbuf_unref(rb);
        return UV_ENOMEM;
    }
    wr->c = c;
    wr->data = data;
    wr->rb = rb;
    wr->len = hlen + len + (chunk_tail ? 2 : 0);
    uv_buf_t bufs[3];
    unsigned n = 0;
    if (hlen) {
        memcpy(wr->head, head, hlen);
        bufs[n++] = uv_buf_init(wr->head, (unsigned)hlen);
    }
    if (len) bufs[n++] = uv_buf_init((char *)p, (unsigned)len);
    if (chunk_tail) bufs[n++] = uv_buf_init("\r\n", 2);
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, n, on_write);
    if (rc < 0) {
        free(data);
        hg_rbuf_unref(rb);
        free(wr);
        /* Callers may be iterating over their subscribers: close on the next loop turn, not
         * from inside their loop. */
        c->doomed = 1;
        uv_timer_start(&c->timer, on_close_now, 0, 0);
        return rc;
    }
    c->pending += wr->len;
    hg_count(&c->w->metrics.bytes_out, wr->len);
    arm_timer(c);
    return 0;
}

int hg_conn_write(hg_conn_t *c, char *data, size_t len)
{
    return queue_write(c, NULL, 0, data, NULL, data, len, 0);
}

int hg_conn_write_chunk(hg_conn_t *c, char *data, size_t len)
{
    if (len == 0) {
        free(data);
        return 0;
    }
    char head[24];
    int hl = snprintf(head, sizeof head, "%zx\r\n", len);
    return queue_write(c, head, (size_t)hl, data, NULL, data, len, 1);
}

int hg_conn_write_ref(hg_conn_t *c, const char *head, size_t hlen, hg_rbuf_t *rb, size_t off,
                      size_t len, int chunked)
{
    char tmp[HG_WRITE_HEAD_MAX];
    if (chunked) {
        if (len == 0 && hlen == 0) {
            hg_rbuf_unref(rb);
            return 0;
        }
        if (hlen + 24 > sizeof tmp) {
            hg_rbuf_unref(rb);
            return UV_EINVAL;
        }
        if (hlen) memcpy(tmp, head, hlen);
        if (len) hlen += (size_t)snprintf(tmp + hlen, 24, "%zx\r\n", len);
        head = tmp;
    }
    return queue_write(c, head, hlen, NULL, rb, rb ? rb->data + off : NULL, len, chunked && len);
}

/* ---- connection lifecycle ----------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    hg_conn_t *c = h->data;
    if (--c->handles > 0) return;
    hg_buf_free(&c->in);
    hg_buf_free(&c->req.target);
    hg_buf_free(&c->req.host);
    hg_buf_free(&c->req.acr_headers);
    hg_buf_free(&c->hname);
    hg_buf_free(&c->req.if_none_match);
    hg_buf_free(&c->req.xff);
    hg_buf_free(&c->req.xfp);
    hg_buf_free(&c->aenc);
    free(c);
}

static void conn_close(hg_conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    hg_worker_t *w = c->w;
    if (c->has_reply) {
        /* The handler is still working on a response: tell it the client is gone. */
        c->has_reply = 0;
        if (c->reply.on_close) c->reply.on_close(c->reply.ctx);
    }
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nconns--;
    hg_gauge(&w->metrics.conns_open, w->nconns);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    hg_conn_t *c = t->data;
    const char *what = c->state == C_BUSY ? "write" : c->state == C_HEADERS ? "header" : "idle";
    hg_log(c->state == C_IDLE ? HG_LOG_DEBUG : HG_LOG_INFO, "msg=\"client timeout\" phase=%s client=%s", what, c->peer);
    if (c->state == C_HEADERS && c->pending == 0) {
        /* Slowloris: tell the client why, then close. */
        c->state = C_BUSY;
        hg_conn_send_simple(c, NULL, 408, NULL, "request header timeout\n", 1);
        return;
    }
    conn_close(c);
}

static void arm_timer(hg_conn_t *c)
{
    if (c->closing || c->doomed) return;
    const hg_config_t *cfg = c->w->cfg;
    switch (c->state) {
    case C_IDLE:
        uv_timer_start(&c->timer, on_timeout, (uint64_t)cfg->keepalive_timeout_ms, 0);
        break;
    case C_HEADERS:
        break; /* started once when the request began; more bytes do not extend it */
    case C_BUSY:
        if (c->pending) uv_timer_start(&c->timer, on_timeout, (uint64_t)cfg->write_timeout_ms, 0);
        else uv_timer_stop(&c->timer);
        break;
    }
}

void hg_conn_set_reply(hg_conn_t *c, const hg_reply_t *r)
{
    c->reply = *r;
    c->has_reply = 1;
}

void hg_conn_finish(hg_conn_t *c, int close_after)
{
    c->has_reply = 0;
    if (c->closing) return;
    if (close_after || !c->req.keep_alive || c->w->stopping) {
        c->close_when_flushed = 1;
        if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp), c->reading = 0;
        if (c->pending == 0) conn_close(c);
        return;
    }
    c->state = C_IDLE;
    arm_timer(c);
    if (!c->in_parse) parse_loop(c);
}

void hg_conn_abort(hg_conn_t *c)
{
    c->has_reply = 0;
    conn_close(c);
}

void hg_conn_send_simple(hg_conn_t *c, const hg_request_t *req, int status, const char *extra,
                         const char *body, int close_after)
{
    hg_buf_t b;
    hg_buf_init(&b, 0);
    size_t blen = body ? strlen(body) : 0;
    int head_only = req && req->method == HTTP_HEAD;
    int rc = hg_response_head(c->w, &b, status);
    if (!rc && extra) rc = hg_buf_appends(&b, extra);
    if (!rc && status != 204 && status != 304)
        rc = hg_buf_appendf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n", blen);
    if (!rc && (close_after || (req && !req->keep_alive))) rc = hg_buf_appends(&b, "Connection: close\r\n");
    if (!rc) rc = hg_buf_append(&b, "\r\n", 2);
    if (!rc && !head_only && status != 204 && status != 304) rc = hg_buf_append(&b, body, blen);
    if (rc) {
        hg_buf_free(&b);
        conn_close(c);
        return;
    }
    size_t len = b.len;
    hg_conn_write(c, hg_buf_steal(&b), len);
    hg_conn_finish(c, close_after);
}

/* ---- parsing ------------------------------------------------------------------------------ */

static int reject(hg_conn_t *c, int status)
{
    if (!c->err_status) c->err_status = status;
    return -1;
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
    hg_buf_reset(&c->hname);
    c->hval = NULL;
    c->header_bytes = 0;
    c->err_status = 0;
    c->saw_host = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    if (hg_buf_append(&c->req.target, at, len)) return reject(c, 414);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    c->header_bytes += len;
    if (c->header_bytes > c->w->cfg->max_header_bytes) return reject(c, 431);
    /* Names longer than the buffer cannot be one we look for: keep the prefix only. */
    size_t room = c->hname.max - c->hname.len;
    hg_buf_append(&c->hname, at, len < room ? len : room);
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    hg_conn_t *c = p->data;
    const char *n = c->hname.data;
    size_t nl = c->hname.len;
    c->hval = NULL;
    c->val_pieces = 0;
    if (nl == 4 && strncasecmp(n, "host", 4) == 0) {
        if (c->saw_host++) return reject(c, 400); /* two Host headers: ambiguous target */
        c->hval = &c->req.host;
    } else if (nl == 30 && strncasecmp(n, "access-control-request-headers", 30) == 0) {
        c->hval = &c->req.acr_headers;
    } else if (nl == 13 && strncasecmp(n, "if-none-match", 13) == 0) {
        c->hval = &c->req.if_none_match;
    } else if (nl == 15 && strncasecmp(n, "accept-encoding", 15) == 0) {
        c->hval = &c->aenc;
    } else if (nl == 15 && strncasecmp(n, "x-forwarded-for", 15) == 0) {
        /* Several X-Forwarded-For lines form one list: keep them comma-joined. */
        if (c->req.xff.len) hg_buf_appendc(&c->req.xff, ',');
        c->hval = &c->req.xff;
    } else if (nl == 17 && strncasecmp(n, "x-forwarded-proto", 17) == 0) {
        c->hval = &c->req.xfp;
    }
    hg_buf_reset(&c->hname);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    hg_conn_t *c = p->data;
    c->header_bytes += len;
    if (c->header_bytes > c->w->cfg->max_header_bytes) return reject(c, 431);
    /* llhttp accepts obs-fold (a value continued on the next line) and reports the
     * continuation as a second piece of the same value. A value may also arrive in pieces because
     * the read ended mid-value; only then does a piece end exactly at the end of the input. A
     * second piece after one that did not end there is a fold: RFC 9112 lets a server reject it,
     * and folded values are a classic smuggling vector, so we do. */
    if (c->val_pieces++ && !c->val_at_end) return reject(c, 400);
    c->val_at_end = at + len == c->exec_end;
    if (c->hval && hg_buf_append(c->hval, at, len)) return reject(c, 431);
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
    if (p->http_major != 1) return reject(c, 505);
    if (p->method == HTTP_CONNECT) return reject(c, 400);
    /* Requests with a body are not part of this API; refusing them also shuts the door on
     * body-based smuggling tricks. */
    if ((p->flags & F_CHUNKED) || p->content_length > 0) return reject(c, 413);
    if (p->http_minor >= 1 && !c->saw_host) return reject(c, 400);
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

static void begin_request(hg_conn_t *c)
{
    c->state = C_HEADERS;
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->w->cfg->header_timeout_ms, 0);
}

static void update_reading(hg_conn_t *c);

static void parse_error(hg_conn_t *c, llhttp_errno_t e)
{
    int status = c->err_status ? c->err_status : 400;
    char body[160];
    if (c->err_status == 414) snprintf(body, sizeof body, "request target too long\n");
    else if (c->err_status == 431) snprintf(body, sizeof body, "request headers too large\n");
    else if (c->err_status == 413) snprintf(body, sizeof body, "request bodies are not accepted\n");
    else if (c->err_status == 505) snprintf(body, sizeof body, "only HTTP/1.x is supported\n");
    else if (c->err_status == 400 && c->saw_host > 1) snprintf(body, sizeof body, "duplicate Host header\n");
    else if (c->err_status == 400 && c->parser.method == HTTP_CONNECT) snprintf(body, sizeof body, "CONNECT is not supported\n");
    else if (c->err_status == 400 && !c->saw_host) snprintf(body, sizeof body, "missing Host header\n");
    else if (c->err_status == 400) snprintf(body, sizeof body, "malformed header\n");
    else snprintf(body, sizeof body, "malformed request: %s\n", llhttp_errno_name(e));
    hg_log(HG_LOG_INFO, "msg=\"bad request\" status=%d reason=%s client=%s", status,
           c->err_status ? "limit" : llhttp_errno_name(e), c->peer);
    c->state = C_BUSY;
    hg_metrics_request(&c->w->metrics, HG_ROUTE_OTHER, status);
    hg_conn_send_simple(c, NULL, status, NULL, body, 1);
}

static void parse_loop(hg_conn_t *c)
{
    c->in_parse = 1;
    while (!c->closing && !c->doomed && !c->close_when_flushed && c->state != C_BUSY && c->in_off < c->in.len) {
        const char *d = c->in.data + c->in_off;
        size_t n = c->in.len - c->in_off;
        if (c->state == C_IDLE) begin_request(c);
        c->exec_end = d + n;
        llhttp_errno_t e = llhttp_execute(&c->parser, d, n);
        if (e == HPE_OK) {
            c->in_off = c->in.len;
            break;
        }
        if (e == HPE_PAUSED) {
            c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - d);
            llhttp_resume(&c->parser);
            c->state = C_BUSY;
            uv_timer_stop(&c->timer);
            c->req.t_start = uv_hrtime();
            hg_gateway_dispatch(c, &c->req);
            continue;
        }
        parse_error(c, e);
        break;
    }
    if (c->in_off >= c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    c->in_parse = 0;
    update_reading(c);
}

/* ---- reading ------------------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    hg_conn_t *c = h->data;
    /* One read buffer per worker: libuv hands it back in on_read before the next alloc. */
    static _Thread_local char rbuf[64 * 1024];
    (void)c;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hg_conn_t *c = s->data;
    if (c->closing) return;
    if (nread < 0) {
        /* EOF or error. Mid-response, this means the client went away: stop its work. */
        if (nread != UV_EOF)
            hg_log(HG_LOG_DEBUG, "msg=\"client read error\" client=%s err=%s", c->peer, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    if (hg_buf_append(&c->in, buf->base, (size_t)nread)) {
        conn_close(c);
        return;
    }
    if (c->state != C_BUSY) parse_loop(c);
    else update_reading(c);
}

static void update_reading(hg_conn_t *c)
{
    if (c->closing) return;
    int want = !c->close_when_flushed && c->in.len - c->in_off < PIPELINE_MAX;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* ---- accepting ---------------------------------------------------------------------------- */

/* Set up a connection around an accepted (server != NULL) or adopted (fd >= 0) socket. */
static void conn_start(hg_worker_t *w, uv_stream_t *server, int fd)
{
    hg_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        if (fd >= 0) close(fd);
        return;
    }
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    hg_buf_init(&c->in, 0);
    hg_buf_init(&c->req.target, w->cfg->max_url_bytes);
    hg_buf_init(&c->req.host, 1024);
    hg_buf_init(&c->req.acr_headers, 1024);
    hg_buf_init(&c->hname, 64);
    hg_buf_init(&c->req.if_none_match, 1024);
    hg_buf_init(&c->req.xff, 1024);
    hg_buf_init(&c->req.xfp, 64);
    hg_buf_init(&c->aenc, 1024);
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    hg_gauge(&w->metrics.conns_open, w->nconns);
    hg_count(&w->metrics.conns_total, 1);
    int rc = server ? uv_accept(server, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
        if (!server) close(fd);
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    snprintf(c->peer, sizeof c->peer, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
        else if (ss.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &SETTINGS);
    c->parser.data = c;
    if (w->nconns > (unsigned long)w->cfg->max_connections) {
        hg_log(HG_LOG_WARN, "msg=\"connection limit reached\" limit=%d client=%s", w->cfg->max_connections, c->peer);
        c->state = C_BUSY;
        hg_conn_send_simple(c, NULL, 503, "Retry-After: 1\r\n", "too many connections\n", 1);
        return;
    }
    c->state = C_IDLE;
    arm_timer(c);
    /* The first request gets the header timeout, not the longer keep-alive one. */
    uv_timer_start(&c->timer, on_timeout, (uint64_t)w->cfg->header_timeout_ms, 0);
    update_reading(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    hg_worker_t *w = server->data;
    if (status < 0) {
        hg_log(HG_LOG_WARN, "msg=\"accept failed\" err=%s", uv_strerror(status));
        return;
    }
    conn_start(w, server, -1);
}

void hg_worker_adopt(hg_worker_t *w, int fd)
{
    conn_start(w, NULL, fd);
}

/* ---- worker ------------------------------------------------------------------------------- */

static void on_log_prepare(uv_prepare_t *p)
{
    (void)p;
    hg_log_flush();
}

static void on_log_check(uv_check_t *p)
{
    (void)p;
    hg_log_flush();
}

static void on_worker_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void finish_stop(hg_worker_t *w)
{
    if (w->stopping != 1) return;
    w->stopping = 2;
    hg_playlist_worker_free(w);
    hg_origin_close(w->origin);
    w->origin = NULL;
    uv_timer_stop(&w->drain_timer);
    uv_close((uv_handle_t *)&w->drain_timer, on_worker_handle_closed);
    uv_close((uv_handle_t *)&w->wakeup, on_worker_handle_closed);
    uv_close((uv_handle_t *)&w->reload, on_worker_handle_closed);
    uv_close((uv_handle_t *)&w->log_prepare, on_worker_handle_closed);
    uv_close((uv_handle_t *)&w->log_check, on_worker_handle_closed);
}

static void on_drain_check(uv_timer_t *t)
{
    hg_worker_t *w = t->data;
    /* Connections between requests close now; busy ones close after their response. */
    hg_conn_t *c = w->conns;
    while (c) {
        hg_conn_t *next = c->next;
        if (c->state != C_BUSY && c->pending == 0) conn_close(c);
        c = next;
    }
    if (w->conns && uv_now(&w->loop) >= w->drain_deadline) {
        int n = 0;
        for (c = w->conns; c; c = c->next) n++;
        hg_log(HG_LOG_WARN, "msg=\"drain timeout, closing connections\" worker=%d open=%d", w->id, n);
        while (w->conns) conn_close(w->conns);
    }
    if (!w->conns) {
        finish_stop(w);
        return;
    }
    uv_timer_start(&w->drain_timer, on_drain_check, 20, 0);
}

static void on_wakeup(uv_async_t *a)
{
    hg_worker_t *w = a->data;
    if (w->stopping) return;
    w->stopping = 1;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, on_worker_handle_closed);
        w->listening = 0;
    }
    uv_update_time(&w->loop);
    w->drain_deadline = uv_now(&w->loop) + (uint64_t)w->cfg->drain_timeout_ms;
    uv_timer_start(&w->drain_timer, on_drain_check, 0, 0);
}

static void on_reload(uv_async_t *a)
{
    hg_worker_t *w = a->data;
    const hg_config_t *cfg = atomic_exchange(&w->next_cfg, NULL);
    if (!cfg || w->stopping) return;
    /* [storage hook] a signer for the new cfg with the current shared credentials. */
    hg_signer_t *signer = NULL;
    unsigned long gen = 0;
    time_t exp = 0;
    if (hg_creds_sync(hg_creds_shared(), cfg, &signer, &gen, &exp, NULL, 0) == HG_CREDS_ERROR) {
        hg_log(HG_LOG_ERROR, "msg=\"reload failed: cannot create signer\" worker=%d", w->id);
        return;
    }
    hg_signer_free(w->signer);
    w->signer = signer;
    w->creds_gen = gen;
    w->creds_expiration = exp;
    w->cfg = cfg;
    w->cfg_gen++;
    hg_origin_set_config(w->origin, cfg);
    hg_playlist_worker_reconfigure(w);
    hg_log(HG_LOG_INFO, "msg=\"configuration reloaded\" worker=%d access_key=%s bucket=%s", w->id,
           cfg->access_key ? cfg->access_key : "(platform credentials)", cfg->s3_bucket);
}

void hg_worker_reload(hg_worker_t *w, const hg_config_t *cfg)
{
    atomic_store(&w->next_cfg, cfg);
    uv_async_send(&w->reload);
}

void hg_worker_stop(hg_worker_t *w)
{
    uv_async_send(&w->wakeup);
}

/* A listening socket of our own so SO_REUSEPORT can be set before bind (libuv 1.44 has no flag
 * for it). Every worker binds its own socket and the kernel spreads connections across them. */
static int open_listener(hg_worker_t *w, int port)
{
    const hg_config_t *cfg = w->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (strchr(cfg->listen_host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, cfg->listen_host, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, cfg->listen_host, &a->sin_addr);
        sl = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listener, 4096, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        return rc;
    }
    w->listening = 1;
    return 0;
}

int hg_worker_init(hg_worker_t *w, const hg_config_t *cfg, int id, int port)
{
    if (!SETTINGS.on_message_complete) {
        /* Written once by the main thread before any worker runs; read-only afterwards. */
        llhttp_settings_init(&SETTINGS);
        SETTINGS.on_message_begin = on_message_begin;
        SETTINGS.on_url = on_url;
        SETTINGS.on_header_field = on_header_field;
        SETTINGS.on_header_field_complete = on_header_field_complete;
        SETTINGS.on_header_value = on_header_value;
        SETTINGS.on_header_value_complete = on_header_value_complete;
        SETTINGS.on_headers_complete = on_headers_complete;
        SETTINGS.on_message_complete = on_message_complete;
    }
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->id = id;
    int rc = uv_loop_init(&w->loop);
    if (rc) return rc;
    /* [storage hook] the signer follows the shared credentials (origin/creds.h). With platform
     * credentials it may still be NULL here (first fetch pending): requests answer 503 until then. */
    if (hg_creds_sync(hg_creds_shared(), cfg, &w->signer, &w->creds_gen, &w->creds_expiration, NULL, 0) ==
        HG_CREDS_ERROR) {
        uv_loop_close(&w->loop);
        return UV_ENOMEM;
    }
    w->origin = hg_origin_new(&w->loop, cfg);
    if (!w->origin) {
        hg_signer_free(w->signer);
        uv_loop_close(&w->loop);
        return UV_ENOMEM;
    }
    if (hg_playlist_worker_init(w) != 0) {
        hg_origin_close(w->origin);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        hg_signer_free(w->signer);
        uv_loop_close(&w->loop);
        return UV_ENOMEM;
    }
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_async_init(&w->loop, &w->reload, on_reload);
    w->reload.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_prepare_init(&w->loop, &w->log_prepare);
    uv_check_init(&w->loop, &w->log_check);
    uv_prepare_start(&w->log_prepare, on_log_prepare);
    uv_check_start(&w->log_check, on_log_check);
    rc = port < 0 ? 0 : open_listener(w, port);
    if (rc) {
        hg_log(HG_LOG_ERROR, "msg=\"cannot listen\" listen=%s:%d err=\"%s\"", cfg->listen_host, port, uv_strerror(rc));
        w->stopping = 1;
        finish_stop(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        hg_signer_free(w->signer);
        return rc;
    }
    return 0;
}

void hg_worker_run(hg_worker_t *w)
{
    hg_log_buffer_begin();
    uv_run(&w->loop, UV_RUN_DEFAULT);
    hg_log_buffer_end();
    if (uv_loop_close(&w->loop) != 0) {
        /* Should not happen: every handle is closed before the loop ends. */
        hg_log(HG_LOG_ERROR, "msg=\"loop closed with open handles\" worker=%d", w->id);
    }
    hg_signer_free(w->signer);
    w->signer = NULL;
}
