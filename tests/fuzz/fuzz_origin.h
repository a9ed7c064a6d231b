/* A scripted S3 origin for fuzz_http, served from the fuzzing thread itself (no threads): a
 * non-blocking listener on 127.0.0.1 whose connections are serviced by fo_service(), which the
 * harness calls from every loop it runs (settle, send). Its fds join the harness's poll set
 * (fo_pollfds) and its pending timed writes bound the poll timeout (fo_wait_ms), so "quiet"
 * means quiet for the gateway and the origin alike.
 *
 * What it answers comes from the fuzz input: the bytes after FO_SEP are a script of records
 * separated by FO_NEXT. A request's path (without query: the signature changes with time)
 * picks record hash(path) % nrecords, so one key always gets the same answer within an input:
 * a cache hit, a joined fill and a fresh fetch must then agree. No script: a small VOD playlist.
 *
 * A record is 6 control bytes (missing ones read as 0) and a body template:
 *   c0  bits 0-3: status (STATUS[]); bit 4: 304 when the request is conditional;
 *       bit 5: ETag; bit 6: Last-Modified; bit 7: "Connection: close"
 *   c1  bits 0-1: framing: 0 Content-Length, 1 chunked, 2 close-delimited, 3 Content-Length
 *       larger than the body (the origin closes early); bit 2: gzip; bit 3: broken gzip (one
 *       byte flipped, or the stream truncated); bit 4: close the connection after c4/256 of the
 *       bytes; bit 5: a bad chunk-size line; bit 6: a "100 Continue" first; bit 7: odd but legal
 *       headers (Content-Type: text/html, an empty X- header, a folded-free long header)
 *   c2  repeat: the template after its first line is repeated c2*c2 times (at most FO_BODY_MAX
 *       bytes in all), so playlists pass the gateway's 64 KiB head window and the size limits
 *   c3  bits 0-2: first byte after that many ms when bit 3 is set; bits 4-5: drip mode (0: one
 *       write; 1: pieces of c5+1 bytes, one per poll turn; 2: pieces of (c5+1)*64 bytes 1 ms
 *       apart; 3: pieces of (c5+1)*16 bytes, every other one 1 ms later); total drip time is
 *       capped at FO_DRIP_MS
 *   c4  where bit 4 of c1 cuts the response (fraction of its bytes, /256)
 *   c5  drip piece size, chunk size for chunked framing ((c5+1)*8 bytes)
 *
 * fo_sensitive() tells the harness that this input served something whose status at the gateway
 * legitimately depends on timing (a 200 broken mid-body: 502 before the gateway's head window
 * filled, a truncated 200 after; a body over PLAYLIST_MAX_BYTES), so statuses are not compared. */
#ifndef HG_FUZZ_ORIGIN_H
#define HG_FUZZ_ORIGIN_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/gz.h"
#include "fuzz_common.h"

#define FO_SEP "\n--origin--\n"
#define FO_NEXT "\n--next--\n"
#define FO_MAXCONN 16
#define FO_REQ_MAX 16384
#define FO_BODY_MAX (160 * 1024)
#define FO_DRIP_MS 40
#define FO_POLL_MS 20
#define FO_LIMIT_BYTES (128 * 1024) /* the harness's PLAYLIST_MAX_BYTES */

static const int FO_STATUS[16] = {200, 200, 200, 200, 200, 200, 404, 403,
                                  500, 304, 200, 301, 206, 401, 503, 200};

typedef struct {
    int fd;
    char req[FO_REQ_MAX];
    size_t rlen;
    hg_buf_t resp;     /* the whole response, prepared at once */
    size_t off;        /* bytes written */
    size_t cut;        /* close after this many bytes (SIZE_MAX: no cut) */
    size_t piece;      /* bytes per write (0: all) */
    unsigned gap_ms;   /* between pieces */
    unsigned alt;      /* mode 3: gap on every other piece */
    uint64_t due;      /* uv_hrtime() of the next write */
    int close_after;   /* no keep-alive */
    int busy;          /* a response is pending */
} fo_conn_t;

static struct {
    int lfd;
    int port;
    fo_conn_t c[FO_MAXCONN];
    const uint8_t *rec[64];
    size_t rec_len[64];
    int nrec;
    int sensitive;
    unsigned long requests;
} FO = {.lfd = -1};

/* Start listening (once, at initialisation). Returns the port. */
static int fo_init(void)
{
    FO.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FZ_CHECK(FO.lfd >= 0, "origin socket: %s", strerror(errno));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FZ_CHECK(bind(FO.lfd, (struct sockaddr *)&a, sizeof a) == 0, "origin bind: %s", strerror(errno));
    FZ_CHECK(listen(FO.lfd, 64) == 0, "origin listen: %s", strerror(errno));
    socklen_t al = sizeof a;
    getsockname(FO.lfd, (struct sockaddr *)&a, &al);
    FO.port = ntohs(a.sin_port);
    for (int i = 0; i < FO_MAXCONN; i++) FO.c[i].fd = -1;
    return FO.port;
}

static void fo_close(fo_conn_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->rlen = 0;
    c->busy = 0;
    hg_buf_free(&c->resp);
}

/* Close everything (process exit). */
static void fo_shutdown(void)
{
    for (int i = 0; i < FO_MAXCONN; i++) fo_close(&FO.c[i]);
    if (FO.lfd >= 0) close(FO.lfd);
    FO.lfd = -1;
}

static const uint8_t *fo_memmem(const uint8_t *h, size_t hl, const char *n)
{
    size_t nl = strlen(n);
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == (uint8_t)n[0] && memcmp(h + i, n, nl) == 0) return h + i;
    return NULL;
}

/* Take a new input: returns the length of its client part; the rest becomes the script. */
static size_t fo_set_input(const uint8_t *d, size_t n)
{
    FO.nrec = 0;
    FO.sensitive = 0;
    const uint8_t *sep = fo_memmem(d, n, FO_SEP);
    if (!sep) return n;
    size_t client = (size_t)(sep - d);
    const uint8_t *p = sep + strlen(FO_SEP), *end = d + n;
    while (FO.nrec < 64) {
        const uint8_t *nx = fo_memmem(p, (size_t)(end - p), FO_NEXT);
        FO.rec[FO.nrec] = p;
        FO.rec_len[FO.nrec] = (size_t)((nx ? nx : end) - p);
        FO.nrec++;
        if (!nx) break;
        p = nx + strlen(FO_NEXT);
    }
    return client;
}

static int fo_sensitive(void)
{
    return FO.sensitive;
}

static const char FO_DEFAULT[] = "\x00\x00\x00\x00\x00\x00"
                                 "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
                                 "#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nhi/seg1.ts?x=1\n#EXT-X-ENDLIST\n";

/* Build the answer to one request (its head is c->req[0..hl)). */
static void fo_answer(fo_conn_t *c, size_t hl)
{
    FO.requests++;
    const char *r = c->req;
    const char *sp = memchr(r, ' ', hl);
    const char *path = sp ? sp + 1 : r;
    size_t pl = 0;
    while (path + pl < r + hl && path[pl] != ' ' && path[pl] != '?') pl++;
    int cond = fo_memmem((const uint8_t *)r, hl, "\r\nIf-None-Match:") != NULL ||
               fo_memmem((const uint8_t *)r, hl, "\r\nIf-Modified-Since:") != NULL;

    const uint8_t *rec = (const uint8_t *)FO_DEFAULT;
    size_t rl = sizeof FO_DEFAULT - 1;
    if (FO.nrec) {
        uint64_t h = fz_hash((const uint8_t *)path, pl);
        int i = (int)(h % (uint64_t)FO.nrec);
        rec = FO.rec[i];
        rl = FO.rec_len[i];
    }
    uint8_t k[6] = {0};
    for (size_t i = 0; i < 6 && i < rl; i++) k[i] = rec[i];
    const char *tpl = rl > 6 ? (const char *)rec + 6 : "";
    size_t tl = rl > 6 ? rl - 6 : 0;

    int status = FO_STATUS[k[0] & 15];
    if ((k[0] & 0x10) && cond) status = 304;
    int framing = k[1] & 3, gzip = (k[1] & 4) != 0, broken_gz = (k[1] & 8) != 0;
    int cut = (k[1] & 0x10) != 0, bad_chunk = (k[1] & 0x20) != 0;
    int bodiless = status == 304;

    /* The body: template, its tail repeated. */
    hg_buf_t body, enc, *b = &c->resp;
    hg_buf_init(&body, 0);
    hg_buf_init(&enc, 0);
    if (!bodiless) {
        hg_buf_append(&body, tpl, tl);
        unsigned rep = (unsigned)k[2] * k[2];
        const char *nl = memchr(tpl, '\n', tl);
        const char *unit = nl ? nl + 1 : tpl;
        size_t ul = tl - (size_t)(unit - tpl);
        if (!ul) unit = tpl, ul = tl;
        for (unsigned i = 0; i < rep && ul && body.len + ul <= FO_BODY_MAX; i++) hg_buf_append(&body, unit, ul);
    }
    const char *payload = body.data ? body.data : "";
    size_t plen = body.len;
    int broken = 0;
    if (gzip && !bodiless) {
        hg_gzip(&enc, payload, plen);
        if (broken_gz && enc.len > 12) {
            if (k[4] & 1) enc.len = 10 + (enc.len - 10) * k[4] / 256; /* truncated */
            else enc.data[10 + (enc.len - 10) * k[4] / 256] ^= (char)(1 + (k[5] | 1));
            broken = 1;
        }
        payload = enc.data;
        plen = enc.len;
    }

    c->close_after = (k[0] & 0x80) || framing == 2 || framing == 3;
    hg_buf_reset(b);
    char line[256];
    if (k[1] & 0x40) hg_buf_appends(b, "HTTP/1.1 100 Continue\r\n\r\n");
    snprintf(line, sizeof line, "HTTP/1.1 %d Fuzz\r\nServer: fuzz-origin\r\nx-amz-request-id: 1\r\n", status);
    hg_buf_appends(b, line);
    if (k[0] & 0x20) {
        snprintf(line, sizeof line, "ETag: \"%08x\"\r\n", (unsigned)fz_hash((const uint8_t *)tpl, tl));
        hg_buf_appends(b, line);
    }
    if (k[0] & 0x40) hg_buf_appends(b, "Last-Modified: Tue, 15 Nov 1994 12:45:26 GMT\r\n");
    if (k[1] & 0x80) hg_buf_appends(b, "Content-Type: text/html\r\nX-Empty:\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    else hg_buf_appends(b, "Content-Type: application/vnd.apple.mpegurl\r\n");
    if (gzip && !bodiless) hg_buf_appends(b, "Content-Encoding: gzip\r\n");
    if (c->close_after) hg_buf_appends(b, "Connection: close\r\n");
    if (bodiless) {
        hg_buf_appends(b, "\r\n");
    } else if (framing == 1) {
        hg_buf_appends(b, "Transfer-Encoding: chunked\r\n\r\n");
        size_t csz = ((size_t)k[5] + 1) * 8;
        for (size_t at = 0; at < plen; at += csz) {
            size_t m = plen - at < csz ? plen - at : csz;
            if (bad_chunk && at + m >= plen / 2 && at <= plen / 2) {
                hg_buf_appends(b, "zz\r\n");
                broken = 1;
            }
            snprintf(line, sizeof line, "%zx\r\n", m);
            hg_buf_appends(b, line);
            hg_buf_append(b, payload + at, m);
            hg_buf_appends(b, "\r\n");
        }
        hg_buf_appends(b, "0\r\n\r\n");
    } else if (framing == 2) {
        hg_buf_appends(b, "\r\n");
        hg_buf_append(b, payload, plen);
    } else {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", plen + (framing == 3 ? 1 + k[4] : 0));
        hg_buf_appends(b, line);
        hg_buf_append(b, payload, plen);
        if (framing == 3) broken = 1;
    }
    c->cut = SIZE_MAX;
    if (cut) {
        c->cut = b->len * k[4] / 256;
        c->close_after = 1;
        broken = 1;
    }
    if (status == 200 && (broken || body.len > FO_LIMIT_BYTES - 4096)) FO.sensitive = 1;

    int mode = (k[3] >> 4) & 3;
    c->piece = 0;
    c->gap_ms = 0;
    c->alt = 0;
    if (mode == 1) c->piece = (size_t)k[5] + 1;
    else if (mode == 2) c->piece = ((size_t)k[5] + 1) * 64, c->gap_ms = 1;
    else if (mode == 3) c->piece = ((size_t)k[5] + 1) * 16, c->gap_ms = 1, c->alt = 1;
    if (c->piece && b->len / c->piece > 400) c->piece = b->len / 400 + 1; /* bounded turns */
    if (c->gap_ms && b->len / c->piece > FO_DRIP_MS) c->gap_ms = 0;
    c->due = uv_hrtime() + ((k[3] & 8) ? (uint64_t)(k[3] & 7) * 1000000ull : 0);
    c->off = 0;
    c->busy = 1;
    hg_buf_free(&body);
    hg_buf_free(&enc);
}

/* Read what curl sent; answer a complete request head. Requests carry no body. */
static void fo_read(fo_conn_t *c)
{
    for (;;) {
        if (c->rlen == FO_REQ_MAX) {
            fo_close(c);
            return;
        }
        ssize_t r = read(c->fd, c->req + c->rlen, FO_REQ_MAX - c->rlen);
        if (r > 0) {
            c->rlen += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        fo_close(c); /* curl closed (or reset) */
        return;
    }
    if (c->busy) return;
    const uint8_t *e = fo_memmem((const uint8_t *)c->req, c->rlen, "\r\n\r\n");
    if (!e) return;
    size_t hl = (size_t)(e - (const uint8_t *)c->req) + 4;
    fo_answer(c, hl);
    memmove(c->req, c->req + hl, c->rlen - hl);
    c->rlen -= hl;
}

static void fo_write(fo_conn_t *c)
{
    uint64_t now = uv_hrtime();
    while (c->busy && c->fd >= 0 && now >= c->due) {
        size_t end = c->resp.len < c->cut ? c->resp.len : c->cut;
        size_t n = end - c->off;
        if (c->piece && n > c->piece) n = c->piece;
        ssize_t w = n ? send(c->fd, c->resp.data + c->off, n, MSG_NOSIGNAL) : 0;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return; /* curl paused: POLLOUT */
        if (w < 0) {
            fo_close(c);
            return;
        }
        c->off += (size_t)w;
        if (c->off >= end) {
            c->busy = 0;
            if (c->close_after) {
                fo_close(c);
                return;
            }
            hg_buf_reset(&c->resp);
            /* A request that arrived meanwhile (curl does not pipeline, but be safe). */
            const uint8_t *e = fo_memmem((const uint8_t *)c->req, c->rlen, "\r\n\r\n");
            if (e) {
                size_t hl = (size_t)(e - (const uint8_t *)c->req) + 4;
                fo_answer(c, hl);
                memmove(c->req, c->req + hl, c->rlen - hl);
                c->rlen -= hl;
                continue;
            }
            return;
        }
        if (c->piece) {
            /* One piece per poll turn, so the gateway sees it as its own read. */
            static unsigned k;
            unsigned gap = c->alt ? (k++ & 1) * c->gap_ms : c->gap_ms;
            c->due = uv_hrtime() + (uint64_t)gap * 1000000ull;
            return;
        }
    }
}

/* Accept, read and write whatever is ready or due. Never blocks. */
static void fo_service(void)
{
    for (;;) {
        int fd = accept4(FO.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int slot = -1;
        for (int i = 0; i < FO_MAXCONN && slot < 0; i++)
            if (FO.c[i].fd < 0) slot = i;
        if (slot < 0) {
            close(fd);
            continue;
        }
        FO.c[slot].fd = fd;
        FO.c[slot].rlen = 0;
        FO.c[slot].busy = 0;
        hg_buf_init(&FO.c[slot].resp, 0);
    }
    for (int i = 0; i < FO_MAXCONN; i++) {
        fo_conn_t *c = &FO.c[i];
        if (c->fd < 0) continue;
        fo_read(c);
        if (c->fd >= 0 && c->busy) fo_write(c);
    }
}

/* Add the origin's fds to a poll set; returns how many were added (at most FO_MAXCONN + 1). */
static int fo_pollfds(struct pollfd *p)
{
    int n = 0;
    uint64_t now = uv_hrtime();
    p[n++] = (struct pollfd){FO.lfd, POLLIN, 0};
    for (int i = 0; i < FO_MAXCONN; i++) {
        fo_conn_t *c = &FO.c[i];
        if (c->fd < 0) continue;
        short ev = POLLIN;
        if (c->busy && now >= c->due) ev |= POLLOUT;
        p[n++] = (struct pollfd){c->fd, ev, 0};
    }
    return n;
}

/* -1: nothing pending (quiet as far as the origin goes); else how long the harness may poll:
 * until the next timed write, or FO_POLL_MS while a due write waits for curl to read (POLLOUT
 * wakes the poll earlier). */
static int fo_wait_ms(void)
{
    int best = -1;
    uint64_t now = uv_hrtime();
    for (int i = 0; i < FO_MAXCONN; i++) {
        fo_conn_t *c = &FO.c[i];
        if (c->fd < 0 || !c->busy) continue;
        int ms = c->due > now ? (int)((c->due - now) / 1000000ull) + 1 : FO_POLL_MS;
        if (best < 0 || ms < best) best = ms;
    }
    return best;
}

#endif
