/* The write queue. Every response piece (head, data, tail: a response or a chunk never needs a
 * copy of its body) becomes one piece on its connection.
 *
 * A response that is produced in pieces over several loop turns (a streamed playlist: the
 * rewriter cuts 64 KB chunks, several per turn) is marked with hg_conn_stream: its pieces are
 * gathered and written once per turn, as one uv_write (one writev), before the loop polls and
 * after its I/O callbacks. Written one by one, every chunk woke the client's reader again (a
 * cross-CPU wakeup per chunk, most of the kernel's time per cold request); gathered, the kernel
 * gets them back to back. Any other piece (a cached answer, an error, a 302) is written at once,
 * after whatever was gathered before it, so answers that are ready never wait for the rest of
 * the turn.
 *
 * Queued bytes are counted from the moment a piece is queued: producers pause above
 * HG_WRITE_HIGH, parsing stops above the server's max_output, and the write timeout runs while
 * anything is queued. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

typedef struct hg_piece {
    uv_write_t req;         /* used by the first piece of a write: it carries the others */
    hg_conn_t *c;
    struct hg_piece *next;
    char *data;    /* owned bytes, or NULL */
    hg_rbuf_t *rb; /* shared bytes, or NULL */
    size_t len;    /* bytes this piece adds to the connection's backlog */
    size_t write_len; /* first piece of a write: the bytes of all its pieces */
    unsigned nbufs;
    uv_buf_t bufs[3];
    char head[HG_WRITE_HEAD_MAX + 24];
} piece_t;

/* uv_write copies the buffer list, so it lives on the stack unless a write has more pieces. */
#define FLUSH_STACK_BUFS 48

size_t hg_conn_pending(const hg_conn_t *c)
{
    return c->pending;
}

int hg_conn_congested(const hg_conn_t *c)
{
    return c->pending > HG_WRITE_HIGH;
}

static void on_flush_prepare(uv_prepare_t *p);
static void on_flush_check(uv_check_t *p);

static void free_pieces(piece_t *p)
{
    while (p) {
        piece_t *next = p->next;
        free(p->data);
        hg_rbuf_unref(p->rb);
        free(p);
        p = next;
    }
}

static void on_write(uv_write_t *r, int status)
{
    piece_t *first = container_of(r, piece_t, req);
    hg_conn_t *c = first->c;
    c->pending -= first->write_len;
    free_pieces(first);
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

static void dirty_add(hg_conn_t *c)
{
    if (c->in_dirty) return;
    hg_http_t *h = c->h;
    c->in_dirty = 1;
    c->dirty_prev = NULL;
    c->dirty_next = h->dirty;
    if (h->dirty) {
        h->dirty->dirty_prev = c;
    } else {
        uv_prepare_start(&h->flush_prepare, on_flush_prepare);
        uv_check_start(&h->flush_check, on_flush_check);
    }
    h->dirty = c;
}

static void dirty_unlink(hg_conn_t *c)
{
    if (!c->in_dirty) return;
    hg_http_t *h = c->h;
    c->in_dirty = 0;
    if (c->dirty_prev) c->dirty_prev->dirty_next = c->dirty_next;
    else h->dirty = c->dirty_next;
    if (c->dirty_next) c->dirty_next->dirty_prev = c->dirty_prev;
    c->dirty_prev = c->dirty_next = NULL;
    if (!h->dirty) {
        uv_prepare_stop(&h->flush_prepare);
        uv_check_stop(&h->flush_check);
    }
}

/* The connection is closing: what was gathered is never written. */
void hg_write_drop_gathered(hg_conn_t *c)
{
    dirty_unlink(c);
    free_pieces(c->gather);
    c->gather = NULL;
    c->gather_tail = &c->gather;
    c->gather_bufs = 0;
}

/* Hand c's queued pieces to libuv as one write (the first piece's request carries them all). */
static void flush_conn(hg_conn_t *c)
{
    piece_t *first = c->gather;
    unsigned n = c->gather_bufs;
    dirty_unlink(c);
    if (!first) return;
    c->gather = NULL;
    c->gather_tail = &c->gather;
    c->gather_bufs = 0;
    uv_buf_t stack[FLUSH_STACK_BUFS], *bufs = n <= FLUSH_STACK_BUFS ? stack : malloc(n * sizeof *bufs);
    if (!bufs) {
        free_pieces(first);
        hg_conn_doom(c);
        return;
    }
    first->c = c;
    first->write_len = 0;
    unsigned k = 0;
    for (piece_t *p = first; p; p = p->next) {
        first->write_len += p->len;
        for (unsigned i = 0; i < p->nbufs; i++) bufs[k++] = p->bufs[i];
    }
    int rc = uv_write(&first->req, (uv_stream_t *)&c->tcp, bufs, k, on_write);
    if (bufs != stack) free(bufs);
    if (rc < 0) {
        free_pieces(first);
        hg_conn_doom(c);
    }
}

void hg_conn_stream(hg_conn_t *c, int on)
{
    c->stream_resp = on;
    if (!on && c->gather) dirty_add(c); /* what is gathered goes at the end of this turn */
}

static void flush_all(hg_http_t *h)
{
    while (h->dirty) flush_conn(h->dirty);
}

static void on_flush_prepare(uv_prepare_t *p)
{
    flush_all(container_of(p, hg_http_t, flush_prepare));
}

static void on_flush_check(uv_check_t *p)
{
    flush_all(container_of(p, hg_http_t, flush_check));
}

int hg_write_init(hg_http_t *h)
{
    int rc = uv_prepare_init(h->loop, &h->flush_prepare);
    if (!rc) rc = uv_check_init(h->loop, &h->flush_check);
    return rc;
}

static void on_flush_closed(uv_handle_t *hd)
{
    (void)hd;
}

void hg_write_close(hg_http_t *h)
{
    uv_close((uv_handle_t *)&h->flush_prepare, on_flush_closed);
    uv_close((uv_handle_t *)&h->flush_check, on_flush_closed);
}

/* Queue head (copied), then data (owned) or rb[p..p+len) (shared), then "\r\n" when
 * `chunk_tail`, as one piece. Consumes `data` and one reference of `rb` in every case. A piece
 * that cannot be queued dooms the connection (closed on the next loop turn). */
static void queue_write(hg_conn_t *c, const char *head, size_t hlen, char *data, hg_rbuf_t *rb,
                        const char *p, size_t len, int chunk_tail)
{
    piece_t *wr = NULL;
    if (c->closing || c->doomed) goto drop;
    if (hlen > sizeof wr->head) {
        hg_log(HG_LOG_ERROR, "msg=\"response head too large\" len=%zu client=%s", hlen, c->peer);
        goto doom;
    }
    if (!hlen && !len && !chunk_tail) goto drop;
    wr = malloc(sizeof *wr);
    if (!wr) goto doom;
    wr->next = NULL;
    wr->data = data;
    wr->rb = rb;
    wr->len = hlen + len + (chunk_tail ? 2 : 0);
    unsigned n = 0;
    if (hlen) {
        memcpy(wr->head, head, hlen);
        wr->bufs[n++] = uv_buf_init(wr->head, (unsigned)hlen);
    }
    if (len) wr->bufs[n++] = uv_buf_init((char *)p, (unsigned)len);
    if (chunk_tail) wr->bufs[n++] = uv_buf_init("\r\n", 2);
    wr->nbufs = n;
    hg_http_t *h = c->h;
    *c->gather_tail = wr;
    c->gather_tail = &wr->next;
    c->gather_bufs += n;
    int was_idle = c->pending == 0;
    c->pending += wr->len;
    if (h->metrics) hg_count(&h->metrics->bytes_out, wr->len);
    if (was_idle) hg_conn_update_timer(c, 1);
    if (c->stream_resp) dirty_add(c); /* written at the end of this loop turn */
    else flush_conn(c);               /* with whatever was gathered before it */
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
