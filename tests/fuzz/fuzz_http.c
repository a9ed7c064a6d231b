/* libFuzzer target: HTTP requests through the real connection code (src/http/), routing and
 * handlers (gateway.c, hls/playlist.c), and the fills (hls/fill.c, fill_io.c: single-flight,
 * rewrite pump, streaming, cache, revalidation) against a scripted origin (fuzz_origin.h).
 *
 * Input: the bytes a client sends, optionally followed by FO_SEP and an origin script (see
 * fuzz_origin.h): status, gzip (valid or broken), framing, validators, early close and timing
 * of the origin's answer to each playlist key. Seeds without a script get a small VOD playlist.
 *
 * One worker without a listener lives for the whole process; the origin is served by the same
 * thread from the same loops (no threads, no races). The cache is emptied before each input, so
 * an input always replays the same way. The client bytes are delivered over fresh socketpairs
 * adopted by the worker (hg_worker_adopt):
 *   1. whole, in one write, keeping the write side open, then the loop runs until it is quiet;
 *   2. in 2..5 pieces at offsets derived from a hash of the input, either "fast" (one loop turn
 *      between pieces, so the server parses each piece with its own llhttp_execute) or "slow"
 *      (the loop goes quiet between pieces), then either kept open or shut down for writing
 *      right after the last piece (EOF while requests are still in flight);
 *   3. on 2 or 3 connections at once, interleaved piece by piece (fast), kept open; the first
 *      sends the bytes as they are, the others start at their 1st/2nd request (rotated at the end
 *      of a request head): requests for the same key meet in one fill (single-flight), late ones
 *      join a streaming fill or hit the cache, and different keys at once use up the origin slot
 *      and its queue (ORIGIN_MAX_FETCHES=1, ORIGIN_QUEUE_MAX=1: 503).
 * After each delivery our ends are closed and the loop runs until the connections are gone.
 *
 * Invariants checked:
 *   - every response starts with "HTTP/1.1 " and a 3-digit status, its header block is CRLF
 *     framed with printable bytes only (no response splitting), it carries exactly one way of
 *     delimiting its body, and nothing follows a "Connection: close" response;
 *   - when the client keeps its side open and the loop is quiet, responses are complete; a
 *     connection the server closed ended with a "Connection: close" response or a truncated
 *     (aborted) streamed body; a response that announced "Connection: close" was followed by
 *     the server closing;
 *   - a complete 200 playlist body (after de-chunking and gunzip) starts with #EXTM3U (or a BOM
 *     and #EXTM3U); no error body names the origin's address;
 *   - the sequence of statuses does not depend on how the request bytes were split, nor on
 *     whether other connections asked for the same or other keys at the same time (a 503 from
 *     the origin slot limit excepted; rotated connections are not compared), unless the origin served something whose outcome depends on
 *     timing (fo_sensitive: a 200 broken mid-body, a body near PLAYLIST_MAX_BYTES);
 *   - after the client closes, the server closes the connection (no connection left behind);
 *   - ASan/UBSan/LSan: no memory error, no UB, no leak. At exit the worker is stopped and its loop
 *     run to the end (hg_worker_stop + hg_worker_run), so everything the worker owns is freed.
 *
 * Quiet: no callback pending, no timer due within QUIET_MS (connection timers are configured to an
 * hour, curl's are seconds, so an in-flight origin fetch is never "quiet"), no origin write
 * pending and no fd ready in the loop's epoll set or the origin's sockets. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"
#include "config.h"
#include "fuzz_common.h"
#include "fuzz_origin.h"
#include "hls/playlist.h"
#include "worker.h"

#define QUIET_MS 600000
#define SETTLE_LIMIT_NS (20ull * 1000000000ull)
#define OUT_MAX (2u << 20)
#define MAX_RESP 4096
#define NCL 3

static hg_config_t CFG;
static hg_worker_t W;
static int READY;
static int VERBOSE; /* FUZZ_VERBOSE=1: print what each delivery sent and got */
static char ORIGIN_ADDR[32]; /* "127.0.0.1:port": must never appear in an error body */

/* Our end of a socketpair and what the server sent on it. */
typedef struct {
    int fd;
    int eof;      /* the server closed (read returned 0, or the connection was reset) */
    int wclosed;  /* a write failed: the server no longer reads */
    int overflow; /* more than OUT_MAX bytes: too much to check */
    size_t len;
    char out[OUT_MAX];
} client_t;

/* What one connection of a delivery produced. */
typedef struct {
    int n;                 /* responses */
    int status[MAX_RESP];
    int last_close;        /* the last response said "Connection: close" */
    int aborted;           /* the output ends in a truncated body and the server closed */
    int eof;
    int settled;           /* kept open and every request byte written: complete answers due */
    int checked;           /* 0 when the output was too large to check */
} result_t;

static client_t CL[NCL];
static const uint8_t *IN; /* current input, for diagnostics */
static size_t IN_LEN;
static int CUR = 0; /* the client being checked, for diagnostics */
static char BODY[OUT_MAX]; /* a de-chunked body */

static void fail_dump(void)
{
    fz_dump("input", IN, IN_LEN);
    fz_dump("server output", CL[CUR].out, CL[CUR].len);
}

static void drain(client_t *cl)
{
    if (cl->fd < 0 || cl->eof) return;
    for (;;) {
        char tmp[16384];
        ssize_t r = read(cl->fd, tmp, sizeof tmp);
        if (r > 0) {
            size_t room = OUT_MAX - cl->len;
            size_t take = (size_t)r < room ? (size_t)r : room;
            memcpy(cl->out + cl->len, tmp, take);
            cl->len += take;
            if (take < (size_t)r) cl->overflow = 1;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        cl->eof = 1; /* 0: orderly close; ECONNRESET: closed with our bytes unread */
        return;
    }
}

/* One turn of everything: the worker's loop, the origin, our sockets. */
static void turn(void)
{
    uv_run(&W.loop, UV_RUN_NOWAIT);
    fo_service();
    for (int i = 0; i < NCL; i++) drain(&CL[i]);
}

/* Run the worker's loop and the origin, draining our sockets, until nothing more can happen
 * without new input. */
static void settle(const char *phase)
{
    uint64_t t0 = uv_hrtime();
    for (;;) {
        turn();
        int t = uv_backend_timeout(&W.loop);
        int ow = fo_wait_ms();
        struct pollfd p[FO_MAXCONN + 2];
        p[0] = (struct pollfd){uv_backend_fd(&W.loop), POLLIN, 0};
        int np = 1 + fo_pollfds(p + 1);
        if ((t < 0 || t >= QUIET_MS) && ow < 0) {
            if (poll(p, (nfds_t)np, 0) == 0) return;
        } else {
            int wait = t >= 0 && t < QUIET_MS ? t : 20;
            if (ow >= 0 && ow < wait) wait = ow;
            if (wait > 20) wait = 20;
            if (wait > 0) poll(p, (nfds_t)np, wait); /* a timer soon (curl, origin): wait for it or for I/O */
        }
        if (uv_hrtime() - t0 > SETTLE_LIMIT_NS) {
            FZ_CHECK(0, "worker loop still busy after 20 s (%s), next timer in %d ms, origin wait %d ms",
                     phase, uv_backend_timeout(&W.loop), fo_wait_ms());
        }
    }
}

static void send_bytes(client_t *cl, const uint8_t *p, size_t n)
{
    uint64_t t0 = uv_hrtime();
    while (n > 0 && !cl->wclosed) {
        ssize_t r = send(cl->fd, p, n, MSG_NOSIGNAL);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* The server has not read our earlier bytes yet: let it run. */
            turn();
            if (uv_hrtime() - t0 > SETTLE_LIMIT_NS) {
                FZ_CHECK(0, "server stopped reading: %zu request bytes unsent after 20 s", n);
            }
        } else {
            cl->wclosed = 1; /* EPIPE/ECONNRESET: the server closed */
        }
    }
}

/* ---- response checks ---------------------------------------------------------------------- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n') return p;
    return NULL;
}

static int ieq(const char *a, size_t al, const char *b)
{
    return al == strlen(b) && strncasecmp(a, b, al) == 0;
}

/* A complete 200 playlist body (identity or gzip) starts with #EXTM3U, after an optional BOM. */
static void check_playlist_body(const char *b, size_t n, int gzip)
{
    char head[16];
    size_t hl = 0;
    if (gzip) {
        z_stream z;
        memset(&z, 0, sizeof z);
        FZ_CHECK(inflateInit2(&z, 15 + 16) == Z_OK, "inflateInit2");
        z.next_in = (unsigned char *)(uintptr_t)b;
        z.avail_in = (uInt)n;
        z.next_out = (unsigned char *)head;
        z.avail_out = sizeof head;
        int rc = inflate(&z, Z_SYNC_FLUSH);
        hl = sizeof head - z.avail_out;
        inflateEnd(&z);
        FZ_CHECK(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "gzip body does not inflate (%d)", rc);
    } else {
        hl = n < sizeof head ? n : sizeof head;
        memcpy(head, b, hl);
    }
    const char *h = head;
    if (hl >= 3 && memcmp(h, "\xEF\xBB\xBF", 3) == 0) h += 3, hl -= 3;
    FZ_CHECK(hl >= 7 && memcmp(h, "#EXTM3U", 7) == 0, "200 playlist body does not start with #EXTM3U");
}

/* Parse the server's output into responses and check their framing. `settled` means the client
 * kept its side open and the loop went quiet: every response must then be complete. */
static void check_responses(const client_t *cl, int settled, result_t *res)
{
    memset(res, 0, sizeof *res);
    res->eof = cl->eof;
    if (cl->overflow) return;
    res->checked = 1;
    const char *p = cl->out, *end = cl->out + cl->len;
    while (p < end) {
        FZ_CHECK(!res->last_close, "bytes after a \"Connection: close\" response");
        const char *line_end = find_crlf(p, end);
        if (!line_end) {
            /* Partial head: only acceptable when the client left before the response ended. */
            FZ_CHECK(!settled, "incomplete status line");
            FZ_CHECK((size_t)(end - p) < 9 ? memcmp(p, "HTTP/1.1 ", (size_t)(end - p)) == 0
                                           : memcmp(p, "HTTP/1.1 ", 9) == 0,
                     "response does not start with HTTP/1.1");
            return;
        }
        FZ_CHECK(line_end - p >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[9] >= '1' && p[9] <= '5' &&
                     p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9' && p[12] == ' ',
                 "bad status line at offset %zu", (size_t)(p - cl->out));
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        for (const char *r = p + 13; r < line_end; r++)
            FZ_CHECK(*r >= 0x20 && *r < 0x7f, "unprintable reason phrase");
        if (res->n < MAX_RESP) res->status[res->n] = status;
        res->n++;

        /* Header lines. */
        long long clen = -1;
        int chunked = 0, close = 0, playlist = 0, gzip = 0;
        const char *h = line_end + 2;
        for (;;) {
            const char *e = find_crlf(h, end);
            if (!e) {
                FZ_CHECK(!settled, "incomplete header block");
                return;
            }
            if (e == h) {
                h = e + 2;
                break;
            }
            const char *colon = memchr(h, ':', (size_t)(e - h));
            FZ_CHECK(colon && colon > h, "header line without a name");
            for (const char *q = h; q < colon; q++)
                FZ_CHECK(is_tchar((unsigned char)*q), "bad byte in a header name");
            for (const char *q = colon + 1; q < e; q++)
                FZ_CHECK((*q >= 0x20 && *q < 0x7f) || *q == '\t',
                         "control or non-ASCII byte 0x%02x in a header value",
                          (unsigned char)*q);
            const char *v = colon + 1;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            size_t nl = (size_t)(colon - h), vl = (size_t)(e - v);
            if (ieq(h, nl, "content-length")) {
                FZ_CHECK(clen < 0, "two Content-Length headers");
                FZ_CHECK(vl > 0 && vl < 12, "bad Content-Length");
                clen = 0;
                for (size_t i = 0; i < vl; i++) {
                    FZ_CHECK(v[i] >= '0' && v[i] <= '9', "bad Content-Length");
                    clen = clen * 10 + (v[i] - '0');
                }
            } else if (ieq(h, nl, "transfer-encoding")) {
                FZ_CHECK(ieq(v, vl, "chunked"), "unexpected Transfer-Encoding");
                chunked = 1;
            } else if (ieq(h, nl, "connection")) {
                if (ieq(v, vl, "close")) close = 1;
            } else if (ieq(h, nl, "content-type")) {
                playlist = vl >= 6 && strncasecmp(v, "application/vnd.apple.mpegurl", vl) == 0;
            } else if (ieq(h, nl, "content-encoding")) {
                FZ_CHECK(ieq(v, vl, "gzip"), "unexpected Content-Encoding");
                gzip = 1;
            }
            h = e + 2;
        }
        FZ_CHECK(!(chunked && clen >= 0), "both chunked and Content-Length");
        int bodiless = status < 200 || status == 204 || status == 304;
        /* Close-delimited: a streamed answer to HTTP/1.0, announced with "Connection: close". */
        FZ_CHECK(bodiless || chunked || clen >= 0 || close,
                 "response %d has no Content-Length, is not chunked and does not close", status);
        p = h;
        /* A HEAD response announces its body without sending it: recognised by the next
         * response (or the end) following the head directly. Our bodies never start with
         * "HTTP/1.1 " (chunked ones start with a hex digit). */
        size_t rest = (size_t)(end - p);
        int head = rest == 0 || (rest >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0);
        const char *body = NULL;
        size_t blen = 0;
        if (bodiless) {
            FZ_CHECK(!chunked && clen <= 0, "%d with a body", status);
        } else if (chunked && !head) {
            blen = 0;
            for (;;) {
                const char *e = find_crlf(p, end);
                if (!e) {
                    /* Truncated chunked body: the server's way to signal a mid-stream failure, so
                     * only acceptable when it closed; a hanging half response is a bug. */
                    FZ_CHECK(!settled || cl->eof, "incomplete chunked body");
                    res->aborted = cl->eof;
                    return;
                }
                unsigned long long sz = 0;
                FZ_CHECK(e > p && e - p <= 16, "bad chunk size line");
                for (const char *q = p; q < e; q++) {
                    int d = *q >= '0' && *q <= '9' ? *q - '0' : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                          : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10 : -1;
                    FZ_CHECK(d >= 0, "bad chunk size");
                    sz = sz * 16 + (unsigned)d;
                }
                p = e + 2;
                if ((unsigned long long)(end - p) < sz + 2) {
                    FZ_CHECK(!settled || cl->eof, "incomplete chunk");
                    res->aborted = cl->eof;
                    return;
                }
                memcpy(BODY + blen, p, sz); /* blen + sz <= the output's length */
                blen += sz;
                p += sz;
                FZ_CHECK(p[0] == '\r' && p[1] == '\n', "chunk not followed by CRLF");
                p += 2;
                if (sz == 0) break;
            }
            body = BODY;
        } else if (!chunked && clen < 0 && !head) {
            /* Runs to the end of the connection. */
            FZ_CHECK(!settled || cl->eof, "close-delimited body but the connection stays open");
            if (cl->eof) body = p, blen = rest;
            p = end;
        } else if (clen > 0 && !head) {
            if (rest < (unsigned long long)clen) {
                FZ_CHECK(!settled, "body shorter than its Content-Length");
                return;
            }
            body = p;
            blen = (size_t)clen;
            p += clen;
        }
        if (body && status == 200 && playlist) check_playlist_body(body, blen, gzip);
        if (body && status >= 400 && ORIGIN_ADDR[0])
            FZ_CHECK(!memmem(body, blen, ORIGIN_ADDR, strlen(ORIGIN_ADDR)),
                     "a %d body names the origin's address", status);
        res->last_close = close;
    }
}

/* ---- one delivery ------------------------------------------------------------------------- */

/* Send d[j][0..n) on connection j of k fresh connections at once, cut at cuts[] (the same
 * offsets on each, in turn), then check every connection's output into res[0..k). */
static void deliver(int k, const uint8_t *const *d, size_t n, const size_t *cuts, size_t ncuts, int slow,
                    int shut, result_t *res)
{
    for (int j = 0; j < k; j++) {
        int sv[2];
        FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
                 strerror(errno));
        FZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
        client_t *cl = &CL[j];
        cl->fd = sv[1];
        cl->eof = cl->wclosed = cl->overflow = 0;
        cl->len = 0;
        hg_worker_adopt(&W, sv[0]);
    }

    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        for (int j = 0; j < k; j++) {
            send_bytes(&CL[j], d[j] + at, to - at);
            if (j + 1 < k) turn();
        }
        at = to;
        if (i == ncuts) break;
        if (slow) settle("between pieces");
        else turn();
    }
    if (shut)
        for (int j = 0; j < k; j++) shutdown(CL[j].fd, SHUT_WR);
    settle("after the request bytes");
    for (int j = 0; j < k; j++) {
        client_t *cl = &CL[j];
        result_t *r = &res[j];
        CUR = j;
        int settled = !shut && !cl->wclosed;
        if (VERBOSE) {
            fprintf(stderr, "--- delivery: connection %d of %d, %zu pieces, %s, %s\n", j + 1, k, ncuts + 1,
                    slow ? "slow" : "fast", shut ? "shutdown" : "kept open");
            fz_dump("server output", cl->out, cl->len);
        }
        check_responses(cl, settled, r);
        r->settled = settled;
        if (settled && r->checked && r->last_close && !cl->eof) {
            /* A loaded machine can leave the close one scheduling step behind the response: give
             * the loop a bounded grace period before calling it a bug. */
            uint64_t t0 = uv_hrtime();
            while (!cl->eof && uv_hrtime() - t0 < 2000000000ull) {
                turn();
                struct pollfd p = {cl->fd, POLLIN, 0};
                poll(&p, 1, 10);
            }
        }
        if (settled && r->checked) {
            FZ_CHECK(!cl->eof || (r->n > 0 && r->last_close) || r->aborted,
                     "server closed without a \"Connection: close\" response");
            FZ_CHECK(!r->last_close || cl->eof,
                     "\"Connection: close\" response but the connection stays open");
        }
    }
    CUR = 0;
    for (int j = 0; j < k; j++) {
        close(CL[j].fd);
        CL[j].fd = -1;
    }
    settle("after the client closed");
    FZ_CHECK(W.http.conns == NULL, "connection still open after the client closed");
}

/* Same statuses in a and b. any503: a 503 in b (origin slots taken) matches anything, and ends
 * the comparison (what follows on that connection may differ). */
static int same_statuses(const result_t *a, const result_t *b, int any503)
{
    for (int i = 0; i < b->n && i < MAX_RESP; i++)
        if (any503 && b->status[i] == 503) return 1;
    if (a->n != b->n || a->last_close != b->last_close || a->eof != b->eof || a->aborted != b->aborted)
        return 0;
    for (int i = 0; i < a->n && i < MAX_RESP; i++)
        if (a->status[i] != b->status[i]) return 0;
    return 1;
}

static void report_diff(const char *what, const result_t *a, const result_t *b)
{
    const result_t *r[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        fprintf(stderr, "%s: %d responses, close=%d eof=%d aborted=%d:", k ? what : "whole", r[k]->n,
                r[k]->last_close, r[k]->eof, r[k]->aborted);
        for (int i = 0; i < r[k]->n && i < MAX_RESP; i++) fprintf(stderr, " %d", r[k]->status[i]);
        fprintf(stderr, "\n");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!READY) return 0;
    fz_on_fail = fail_dump;
    IN = data;
    IN_LEN = size;
    /* Nothing cached from an earlier input: an input always replays the same way. */
    hg_playlists_reload(W.ctx.pl);
    size_t n = fo_set_input(data, size);

    result_t whole, split, conc[NCL];
    const uint8_t *dd[NCL] = {data, data, data};
    deliver(1, dd, n, NULL, 0, 0, 0, &whole);

    uint64_t s = fz_hash(data, size);
    size_t cuts[4];
    size_t ncuts = fz_cuts(&s, n, cuts, 1 + (size_t)(fz_next(&s) % 4));
    uint64_t m = fz_next(&s);
    int slow = (int)(m & 1);
    int shut = (m >> 1) % 4 == 0;
    int k = 2 + (int)((m >> 3) % (NCL - 1));
    /* FUZZ_SPLIT=a,b,...: split there instead (ascending offsets); FUZZ_SLOW=0/1, FUZZ_SHUT=0/1,
     * FUZZ_CONNS=0|2|3.
     * For reproducing and exploring split-dependent behaviour by hand. */
    const char *env = getenv("FUZZ_SPLIT");
    if (env) {
        ncuts = 0;
        for (char *e; *env && ncuts < 4; env = *e ? e + 1 : e) {
            unsigned long v = strtoul(env, &e, 10);
            if (e == env) break;
            if (v > 0 && v < n && (ncuts == 0 || v > cuts[ncuts - 1])) cuts[ncuts++] = v;
        }
    }
    if (getenv("FUZZ_SLOW")) slow = atoi(getenv("FUZZ_SLOW")) != 0;
    if (getenv("FUZZ_SHUT")) shut = atoi(getenv("FUZZ_SHUT")) != 0;
    if (getenv("FUZZ_CONNS")) { /* 0 or 1: no concurrent delivery */
        k = atoi(getenv("FUZZ_CONNS"));
        k = k < 2 ? 0 : k > NCL ? NCL : k;
    }
    deliver(1, dd, n, cuts, ncuts, slow, shut, &split);
    /* Connection 0 sends the bytes as they are; connection j > 0 starts at the j-th request
     * (rotated at the end of a head), so different keys are fetched at the same time and the
     * origin slots and their queue fill up. */
    uint8_t *rot[NCL] = {NULL, NULL, NULL};
    size_t heads[64], nheads = 0;
    for (size_t i = 0; i + 4 < n && nheads < 64; i++)
        if (!memcmp(data + i, "\r\n\r\n", 4)) heads[nheads++] = i + 4;
    for (int j = 1; j < k && nheads; j++) {
        size_t b = heads[(size_t)(j - 1) % nheads];
        rot[j] = malloc(n);
        FZ_CHECK(rot[j], "out of memory");
        memcpy(rot[j], data + b, n - b);
        memcpy(rot[j] + (n - b), data, b);
        dd[j] = rot[j];
    }
    if (k) deliver(k, dd, n, cuts, ncuts, 0, 0, conc);
    for (int j = 0; j < NCL; j++) free(rot[j]);

    /* Outcomes that legitimately depend on timing are not compared (see fuzz_origin.h). */
    if (fo_sensitive() || !whole.settled || !whole.checked) return 0;
    if (split.settled && split.checked && !same_statuses(&whole, &split, 0)) {
        fprintf(stderr, "split at:");
        for (size_t i = 0; i < ncuts; i++) fprintf(stderr, " %zu", cuts[i]);
        fprintf(stderr, " (%s)\n", slow ? "slow" : "fast");
        report_diff("split", &whole, &split);
        FZ_CHECK(0, "the answer depends on how the request bytes were split");
    }
    for (int j = 0; j < k; j++) {
        if (dd[j] != data) continue; /* rotated: nothing to compare with */
        if (!conc[j].settled || !conc[j].checked || same_statuses(&whole, &conc[j], 1)) continue;
        fprintf(stderr, "connection %d of %d:\n", j + 1, k);
        report_diff("concurrent", &whole, &conc[j]);
        CUR = j;
        FZ_CHECK(0, "the answer depends on another connection asking at the same time");
    }
    return 0;
}

/* ---- setup and teardown ------------------------------------------------------------------- */

static void cleanup(void)
{
    if (!READY) return;
    READY = 0;
    hg_worker_stop(&W);
    hg_worker_run(&W); /* drains, closes every handle, frees the worker's state */
    /* Forget the worker: whatever it did not free is now unreachable, so LeakSanitizer's check at
     * exit reports it. */
    memset(&W, 0, sizeof W);
    curl_global_cleanup();
    fo_shutdown();
    hg_config_free(&CFG);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const env[][2] = {
        {"S3_BUCKET", "fuzzbucket"},
        {"S3_ACCESS_KEY_ID", "AKIAFUZZFUZZFUZZFUZZ"},
        {"S3_SECRET_ACCESS_KEY", "fuzzsecretfuzzsecretfuzzsecretfuzzsecre"},
        {"S3_REGION", "us-east-1"},
        {"S3_KEY_PREFIX", "media"},
        {"LOG_LEVEL", "error"},
        /* Small: entries up to 128 KiB (a quarter) are cached, so a streamed playlist can be
         * cached too, and a few large ones evict each other. */
        {"PLAYLIST_CACHE_BYTES", "524288"},
        {"PLAYLIST_MAX_BYTES", "131072"}, /* FO_LIMIT_BYTES; the origin may send more */
        {"PLAYLIST_MAX_URIS", "1000"},
        {"ORIGIN_MAX_FETCHES", "1"},
        {"ORIGIN_QUEUE_MAX", "1"},
        {"MAX_QUEUED_OUTPUT_BYTES", "65536"},
        {"WORKERS", "1"},
        /* Smallest limits, so 414/431 are reachable with small inputs. */
        {"MAX_HEADER_BYTES", "1024"},
        {"MAX_URL_BYTES", "256"},
        /* Client timers far away (see QUIET_MS); origin timers short. */
        {"HEADER_TIMEOUT_MS", "3600000"},
        {"KEEPALIVE_TIMEOUT_MS", "3600000"},
        {"WRITE_TIMEOUT_MS", "3600000"},
        {"ORIGIN_CONNECT_TIMEOUT_MS", "2000"},
        {"ORIGIN_TIMEOUT_MS", "5000"},
        {"DRAIN_TIMEOUT_MS", "1000"},
        {"TRUST_PROXY", "true"}, /* parse X-Forwarded-For/-Proto too (ignored by older configs) */
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) setenv(env[i][0], env[i][1], 1);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", fo_init());
    setenv("S3_ENDPOINT", endpoint, 1);
    snprintf(ORIGIN_ADDR, sizeof ORIGIN_ADDR, "127.0.0.1:%d", FO.port);
    static const char *const unset[] = {"PUBLIC_BASE_URL", "S3_SESSION_TOKEN", "AWS_SESSION_TOKEN",
                                        "VULTR_BUCKET",    "SEG_EXTENSIONS",   "S3_ADDRESSING_STYLE",
                                        "http_proxy",      "HTTP_PROXY",       "https_proxy",
                                        "HTTPS_PROXY",     "all_proxy",        "ALL_PROXY"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++) unsetenv(unset[i]);

    char *args[] = {(char *)"fuzz_http", NULL};
    char err[512];
    if (hg_config_load(&CFG, 1, args, err, sizeof err) != HG_CONFIG_OK) {
        fprintf(stderr, "fuzz_http: configuration error: %s\n", err);
        abort();
    }
    /* Quiet unless asked: the origin's scripted 403s are logged at level error. */
    hg_log_level = !getenv("FUZZ_VERBOSE") ? HG_LOG_ERROR + 1 : atoi(getenv("FUZZ_VERBOSE")) >= 2 ? HG_LOG_INFO : CFG.log_level;
    signal(SIGPIPE, SIG_IGN); /* the server writes to sockets we have closed */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) abort();
    if (hg_worker_init(&W, &CFG, 0, -1) != 0) abort();
    for (int i = 0; i < NCL; i++) CL[i].fd = -1;
    VERBOSE = getenv("FUZZ_VERBOSE") && *getenv("FUZZ_VERBOSE") == '1';
    READY = 1;
    atexit(cleanup);
    return 0;
}
