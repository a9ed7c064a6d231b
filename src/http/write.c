/* The write queue: every response piece is one uv_write of up to three buffers (head, data,
 * tail), so a response or a chunk never needs a copy of its body. Queued bytes are counted:
 * producers pause above HG_WRITE_HIGH, parsing stops above the server's max_output, and the
 * write timeout runs while anything is queued. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

typedef struct {
    uv_write_t req;
    hg_conn_t *c;
    char *data;    /* owned bytes, or NULL */
    hg_rbuf_t *rb; /* shared bytes, or NULL */
    size_t len;    /* bytes this write adds to the connection's backlog */
    char head[HG_WRITE_HEAD_MAX + 24];
} wreq_t;

size_t hg_conn_pending(const hg_conn_t *c)
{
    return c->pending;
}

int hg_conn_congested(const hg_conn_t *c)
{
    return c->pending > HG_WRITE_HIGH;
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
        hg_conn_close(c);
        return;
    }
    if (c->closing) return;
    if (c->close_when_flushed && c->pending == 0) {
        hg_conn_close(c);
        return;
    }
    hg_conn_update_timer(c, 1);
    hg_conn_output_drained(c);
    if (c->has_reply && c->reply.on_drain && c->pending < HG_WRITE_LOW) c->reply.on_drain(c->reply.ctx);
}

/* Queue head (copied), then data (owned) or rb[p..p+len) (shared), then "\r\n" when
 * `chunk_tail`. Consumes `data` and one reference of `rb` in every case. A write that cannot be
 * queued dooms the connection (closed on the next loop turn). */
static void queue_write(hg_conn_t *c, const char *head, size_t hlen, char *data, hg_rbuf_t *rb,
                        const char *p, size_t len, int chunk_tail)
{
    wreq_t *wr = NULL;
    if (c->closing || c->doomed) goto drop;
    if (hlen > sizeof wr->head) {
        hg_log(HG_LOG_ERROR, "msg=\"response head too large\" len=%zu client=%s", hlen, c->peer);
        goto doom;
    }
    wr = malloc(sizeof *wr);
    if (!wr) goto doom;
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
    if (n == 0) {
        free(wr);
        goto drop;
    }
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, n, on_write) < 0) {
        free(wr);
        goto doom;
    }
    int was_idle = c->pending == 0;
    c->pending += wr->len;
    if (c->h->metrics) hg_count(&c->h->metrics->bytes_out, wr->len);
    if (was_idle) hg_conn_update_timer(c, 1);
    return;
doom:
    hg_conn_doom(c);
drop:
    free(data);
    hg_rbuf_unref(rb);
}

void hg_conn_write(hg_conn_t *c, char *data, size_t len)
{
    queue_write(c, NULL, 0, data, NULL, data, len, 0);
}

void hg_conn_write_chunk(hg_conn_t *c, char *data, size_t len)
{
    if (len == 0) {
        free(data);
        return;
    }
    char head[24];
    int hl = snprintf(head, sizeof head, "%zx\r\n", len);
    queue_write(c, head, (size_t)hl, data, NULL, data, len, 1);
}

void hg_conn_write_ref(hg_conn_t *c, const char *head, size_t hlen, hg_rbuf_t *rb, size_t off,
                       size_t len, int chunked)
{
    char tmp[HG_WRITE_HEAD_MAX + 24];
    if (chunked && len) {
        if (hlen > HG_WRITE_HEAD_MAX) {
            hg_rbuf_unref(rb);
            hg_conn_doom(c);
            return;
        }
        if (hlen) memcpy(tmp, head, hlen);
        hlen += (size_t)snprintf(tmp + hlen, 24, "%zx\r\n", len);
        head = tmp;
    }
    queue_write(c, head, hlen, NULL, rb, rb ? rb->data + off : NULL, len, chunked && len);
}
