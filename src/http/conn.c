/* Connections: accept, read, the parse loop, deferred pipelining, timeouts, drain, close. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"

static void parse_loop(hg_conn_t *c);
static void update_reading(hg_conn_t *c);

hg_http_t *hg_conn_server(const hg_conn_t *c)
{
    return c->h;
}

const char *hg_conn_peer(const hg_conn_t *c)
{
    return c->peer;
}

/* ---- close -------------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *hd)
{
    hg_conn_t *c = hd->data;
    if (--c->handles > 0) return;
    if (c->is_ready) {
        /* Still waiting for its next request to run: leave the server's list before going. */
        for (hg_conn_t **pp = &c->h->ready; *pp; pp = &(*pp)->next_ready) {
            if (*pp == c) {
                *pp = c->next_ready;
                break;
            }
        }
    }
    hg_buf_free(&c->in);
    hg_buf_free(&c->req.target);
    hg_buf_free(&c->req.host);
    hg_buf_free(&c->req.acr_headers);
    hg_buf_free(&c->req.if_none_match);
    hg_buf_free(&c->req.xff);
    hg_buf_free(&c->req.xfp);
    hg_buf_free(&c->aenc);
    free(c);
}

void hg_conn_close(hg_conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    hg_http_t *h = c->h;
    if (c->has_reply) {
        /* The application still works on a response: tell it the client is gone. */
        c->has_reply = 0;
        if (c->reply.on_close) c->reply.on_close(c->reply.ctx);
    }
    if (c->prev) c->prev->next = c->next;
    else h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    h->nconns--;
    if (h->metrics) hg_gauge(&h->metrics->conns_open, h->nconns);
    hg_write_drop_gathered(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_doom(uv_timer_t *t)
{
    hg_conn_close(t->data);
}

void hg_conn_doom(hg_conn_t *c)
{
    if (c->doomed || c->closing) return;
    /* Callers may be iterating over their subscribers: close on the next loop turn. */
    c->doomed = 1;
    c->timer_kind = T_DOOM;
    uv_timer_start(&c->timer, on_doom, 0, 0);
}

/* ---- timers ------------------------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    hg_conn_t *c = t->data;
    timer_kind_t k = c->timer_kind;
    c->timer_kind = T_NONE;
    const char *what = k == T_WRITE ? "write" : k == T_HEADER ? "header" : "idle";
    hg_log(k == T_IDLE ? HG_LOG_DEBUG : HG_LOG_INFO, "msg=\"client timeout\" phase=%s client=%s", what, c->peer);
    if (k == T_HEADER && c->pending == 0) {
        /* Slowloris: tell the client why, then close. */
        c->state = C_BUSY;
        if (c->h->metrics) hg_metrics_request(c->h->metrics, HG_ROUTE_OTHER, 408);
        hg_conn_send_simple(c, NULL, 408, NULL, "request header timeout\n", 1);
        return;
    }
    hg_conn_close(c);
}

/* One timer per connection, by what the connection waits for: the client to read queued output
 * (write timeout, restarted only on progress), the rest of a request head (header timeout, never
 * extended by more bytes), or a next request (keep-alive). Waiting for the application needs no
 * timer: the origin has its own. */
void hg_conn_update_timer(hg_conn_t *c, int progress)
{
    if (c->closing || c->doomed) return;
    const hg_http_limits_t *lim = &c->h->lim;
    timer_kind_t k = c->pending ? T_WRITE : c->state == C_HEADERS ? T_HEADER
                   : c->state == C_IDLE ? T_IDLE : T_NONE;
    if (k == c->timer_kind && !(progress && k == T_WRITE)) return;
    c->timer_kind = k;
    long ms = k == T_WRITE ? lim->write_timeout_ms : k == T_HEADER ? lim->header_timeout_ms
            : lim->keepalive_timeout_ms;
    if (k == T_NONE) uv_timer_stop(&c->timer);
    else uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
}

/* ---- pipelining ---------------------------------------------------------------------------- */

static void on_proceed(uv_idle_t *i)
{
    hg_http_t *h = container_of(i, hg_http_t, proceed);
    /* Only the connections scheduled before this turn: ones finished while we run wait for the
     * next turn, so the work of one turn stays bounded. */
    hg_conn_t *list = h->ready;
    h->ready = NULL;
    while (list) {
        hg_conn_t *c = list;
        list = c->next_ready;
        c->next_ready = NULL;
        c->is_ready = 0;
        if (!c->closing && c->state != C_BUSY) parse_loop(c);
    }
    if (!h->ready) uv_idle_stop(&h->proceed);
}

void hg_conn_schedule(hg_conn_t *c)
{
    hg_http_t *h = c->h;
    if (c->is_ready || c->closing || h->closed) return;
    c->is_ready = 1;
    c->next_ready = h->ready;
    h->ready = c;
    uv_idle_start(&h->proceed, on_proceed);
}

void hg_conn_set_reply(hg_conn_t *c, const hg_reply_t *r)
{
    if (!r) {
        c->has_reply = 0;
        return;
    }
    c->reply = *r;
    c->has_reply = 1;
}

void hg_conn_finish(hg_conn_t *c, int close_after)
{
    c->has_reply = 0;
    if (c->closing) return;
    hg_conn_stream(c, 0); /* the next answer on this connection is written at once */
    if (close_after || !c->req.keep_alive || c->h->draining) {
        c->close_when_flushed = 1;
        update_reading(c);
        if (c->pending == 0) hg_conn_close(c);
        return;
    }
    c->state = C_IDLE;
    hg_conn_update_timer(c, 0);
    /* Never run the next pipelined request here: our caller may be answering a list of
     * connections and must not be re-entered. It runs on a later loop turn. Without bytes
     * already waiting, the next request comes through on_read as usual (no extra turn). */
    if (c->in_off < c->in.len) hg_conn_schedule(c);
    update_reading(c);
}

void hg_conn_abort(hg_conn_t *c)
{
    c->has_reply = 0;
    hg_conn_close(c);
}

static void begin_request(hg_conn_t *c)
{
    c->state = C_HEADERS;
    hg_parse_reset(c);
    c->timer_kind = T_HEADER;
    if (!c->pending) uv_timer_start(&c->timer, on_timeout, (uint64_t)c->h->lim.header_timeout_ms, 0);
    else hg_conn_update_timer(c, 0);
}

static void parse_loop(hg_conn_t *c)
{
    hg_http_t *h = c->h;
    if (h->draining && c->state == C_IDLE && !c->closing) {
        if (c->pending == 0) hg_conn_close(c);
        else c->close_when_flushed = 1;
        return;
    }
    /* One request per call: the next one runs after this one's response is finished. Parsing
     * also waits while too much output is queued (a client that sends but never reads). */
    if (!c->closing && !c->doomed && !c->close_when_flushed && c->state != C_BUSY &&
        c->in_off < c->in.len && c->pending <= h->lim.max_output) {
        const char *d = c->in.data + c->in_off;
        size_t n = c->in.len - c->in_off;
        if (c->state == C_IDLE) begin_request(c);
        int bad = c->scan_done ? 0 : hg_scan_head(c, d, n);
        llhttp_errno_t e = HPE_USER;
        if (bad) {
            /* llhttp sees the bytes before the violation first: when it refuses them, its
             * answer wins, so the status never depends on how the bytes were split. */
            llhttp_errno_t first = c->scan_stop ? llhttp_execute(&c->parser, d, c->scan_stop) : HPE_OK;
            if (first == HPE_OK || first == HPE_PAUSED) c->err_status = bad;
            else e = first;
            hg_parse_error(c, e);
        } else if ((e = llhttp_execute(&c->parser, d, n)) == HPE_OK) {
            c->in_off = c->in.len;
        } else if (e == HPE_PAUSED) {
            c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - d);
            llhttp_resume(&c->parser);
            c->state = C_BUSY;
            hg_conn_update_timer(c, 0);
            c->req.t_start = uv_hrtime();
            c->req.route = 0;
            h->handler.fn(h->handler.ctx, c, &c->req);
        } else {
            hg_parse_error(c, e);
        }
    }
    if (c->in_off >= c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    update_reading(c);
}

/* ---- reading ------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)hd;
    (void)suggested;
    /* One read buffer per thread: libuv hands it back in on_read before the next alloc. */
    static _Thread_local char rbuf[64 * 1024];
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hg_conn_t *c = s->data;
    if (c->closing) return;
    if (nread < 0) {
        /* EOF or error. Mid-response this means the client went away: stop its work. */
        if (nread != UV_EOF)
            hg_log(HG_LOG_DEBUG, "msg=\"client read error\" client=%s err=%s", c->peer, uv_strerror((int)nread));
        hg_conn_close(c);
        return;
    }
    if (nread == 0) return;
    if (hg_buf_append(&c->in, buf->base, (size_t)nread)) {
        hg_conn_close(c);
        return;
    }
    if (c->state != C_BUSY) parse_loop(c);
    else update_reading(c);
}

static void update_reading(hg_conn_t *c)
{
    if (c->closing) return;
    int want = !c->close_when_flushed && c->in.len - c->in_off < HG_PIPELINE_MAX &&
               c->pending <= c->h->lim.max_output;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void hg_conn_output_drained(hg_conn_t *c)
{
    update_reading(c);
    if (c->state != C_BUSY && c->in_off < c->in.len) hg_conn_schedule(c);
}

/* ---- accepting ----------------------------------------------------------------------------- */

static void conn_start(hg_http_t *h, uv_stream_t *server, int fd)
{
    hg_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        if (fd >= 0) close(fd);
        return;
    }
    c->gather_tail = &c->gather;
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    hg_buf_init(&c->in, HG_PIPELINE_MAX + 64 * 1024);
    hg_buf_init(&c->req.target, h->lim.max_url_bytes);
    hg_buf_init(&c->req.host, 1024);
    hg_buf_init(&c->req.acr_headers, 1024);
    hg_buf_init(&c->req.if_none_match, 1024);
    hg_buf_init(&c->req.xff, 1024);
    hg_buf_init(&c->req.xfp, 64);
    hg_buf_init(&c->aenc, 1024);
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    if (h->metrics) {
        hg_gauge(&h->metrics->conns_open, h->nconns);
        hg_count(&h->metrics->conns_total, 1);
    }
    int rc = server ? uv_accept(server, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
        if (!server) close(fd);
        hg_conn_close(c);
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
    llhttp_init(&c->parser, HTTP_REQUEST, &hg_http_settings);
    c->parser.data = c;
    if (h->nconns > h->lim.max_connections || h->draining) {
        hg_log(HG_LOG_WARN, "msg=\"connection limit reached\" limit=%lu client=%s", h->lim.max_connections, c->peer);
        c->state = C_BUSY;
        if (h->metrics) hg_metrics_request(h->metrics, HG_ROUTE_OTHER, 503);
        hg_conn_send_simple(c, NULL, 503, "Retry-After: 1\r\n", "too many connections\n", 1);
        return;
    }
    c->state = C_IDLE;
    /* The first request gets the header timeout, not the longer keep-alive one. */
    c->timer_kind = T_HEADER;
    uv_timer_start(&c->timer, on_timeout, (uint64_t)h->lim.header_timeout_ms, 0);
    update_reading(c);
}

void hg_http_accept(hg_http_t *h, uv_stream_t *server)
{
    conn_start(h, server, -1);
}

void hg_http_adopt(hg_http_t *h, int fd)
{
    conn_start(h, NULL, fd);
}

/* ---- the server ---------------------------------------------------------------------------- */

int hg_http_init(hg_http_t *h, uv_loop_t *loop, const hg_http_limits_t *lim, hg_handler_t handler,
                 hg_metrics_t *metrics)
{
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->lim = *lim;
    h->handler = handler;
    h->metrics = metrics;
    int rc = uv_idle_init(loop, &h->proceed);
    return rc ? rc : hg_write_init(h);
}

void hg_http_set_limits(hg_http_t *h, const hg_http_limits_t *lim)
{
    h->lim = *lim;
}

void hg_http_drain(hg_http_t *h)
{
    h->draining = 1;
    hg_conn_t *c = h->conns;
    while (c) {
        hg_conn_t *next = c->next;
        if (c->state != C_BUSY && c->pending == 0) hg_conn_close(c);
        c = next;
    }
}

void hg_http_close_all(hg_http_t *h)
{
    while (h->conns) hg_conn_close(h->conns);
}

static void on_idle_closed(uv_handle_t *hd)
{
    (void)hd;
}

void hg_http_close(hg_http_t *h)
{
    if (h->closed) return;
    h->closed = 1;
    h->ready = NULL;
    uv_close((uv_handle_t *)&h->proceed, on_idle_closed);
    hg_write_close(h);
}
