/* The connection write queue (src/http/write.c), on a real loop and a socketpair:
 *   - a piece of an ordinary response is written at once (the peer can read it before the loop
 *     runs again);
 *   - while hg_conn_stream is on, pieces are gathered and go out together, in order, when the
 *     loop turns (one writev);
 *   - an ordinary piece after gathered ones takes them along, in order;
 *   - a connection closed with gathered pieces drops them (LeakSanitizer in the ASan build);
 *   - hg_conn_finish ends the streaming mode: what is gathered still goes out, and the next
 *     answer on the connection is written at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "test.h"

static hg_conn_t *last_conn;
static int requests;

static void handler(void *ctx, hg_conn_t *c, hg_request_t *req)
{
    (void)ctx, (void)req;
    last_conn = c;
    requests++;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

/* Everything the peer can read right now (non-blocking), appended to buf. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - n - 1, MSG_DONTWAIT);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

/* Queue s as an ordinary piece: the peer can read exactly s at once. */
static void write_now(hg_conn_t *c, int peer, const char *s)
{
    char buf[256];
    hg_conn_write(c, dup_str(s), strlen(s));
    size_t n = drain(peer, buf, sizeof buf);
    CHECK_MEM(buf, n, s, strlen(s));
}

/* Send a request and turn the loop until the handler saw it. */
static hg_conn_t *request(uv_loop_t *loop, int peer)
{
    int before = requests;
    const char *rq = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(send(peer, rq, strlen(rq), 0) == (ssize_t)strlen(rq));
    for (int i = 0; i < 100 && requests == before; i++) uv_run(loop, UV_RUN_NOWAIT);
    CHECK(requests == before + 1);
    return last_conn;
}

int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    hg_http_t h;
    hg_http_limits_t lim = {8192, 100, 4096, 1 << 20, 5000, 5000, 5000, 100, ""};
    hg_handler_t hd = {handler, NULL};
    CHECK(hg_http_init(&h, &loop, &lim, hd, NULL) == 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    hg_http_adopt(&h, sv[0]);
    int peer = sv[1];
    char buf[4096];

    /* 1. ordinary pieces: written at once */
    hg_conn_t *c = request(&loop, peer);
    write_now(c, peer, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    write_now(c, peer, "ok");
    hg_conn_finish(c, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    size_t n;

    /* 2. streaming: gathered until the loop turns, then all of it in order */
    c = request(&loop, peer);
    hg_conn_stream(c, 1);
    hg_conn_write(c, dup_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 47);
    hg_conn_write_chunk(c, dup_str("abc"), 3);
    hg_conn_write_chunk(c, dup_str("defg"), 4);
    CHECK(hg_conn_pending(c) == 47 + 8 + 9); /* counted while gathered */
    n = drain(peer, buf, sizeof buf);
    CHECK(n == 0); /* nothing written yet */
    uv_run(&loop, UV_RUN_NOWAIT);
    n = drain(peer, buf, sizeof buf);
    CHECK_MEM(buf, n, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n", 47 + 8 + 9);

    /* 2b. many pieces in one turn (more buffers than the flush keeps on its stack) */
    char want[1024];
    size_t wn = 0;
    for (int i = 0; i < 40; i++) {
        char piece[8];
        int pl = snprintf(piece, sizeof piece, "p%02d", i);
        hg_conn_write_chunk(c, dup_str(piece), (size_t)pl);
        wn += (size_t)snprintf(want + wn, sizeof want - wn, "3\r\n%s\r\n", piece);
    }
    CHECK(drain(peer, buf, sizeof buf) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    n = drain(peer, buf, sizeof buf);
    CHECK_MEM(buf, n, want, wn);

    /* 3. an ordinary piece after gathered ones takes them along, in order */
    hg_conn_write_chunk(c, dup_str("hi"), 2);
    CHECK(drain(peer, buf, sizeof buf) == 0);
    hg_conn_stream(c, 0);
    hg_conn_write(c, dup_str("0\r\n\r\n"), 5);
    n = drain(peer, buf, sizeof buf);
    CHECK_MEM(buf, n, "2\r\nhi\r\n0\r\n\r\n", 12);

    /* 4. hg_conn_finish ends the streaming mode: what was gathered goes at the end of the turn,
     * and the next answer on the connection is written at once again */
    hg_conn_stream(c, 1);
    hg_conn_write(c, dup_str("tail"), 4);
    hg_conn_finish(c, 0);
    CHECK(drain(peer, buf, sizeof buf) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    n = drain(peer, buf, sizeof buf);
    CHECK_MEM(buf, n, "tail", 4);
    uv_run(&loop, UV_RUN_NOWAIT);
    c = request(&loop, peer);
    write_now(c, peer, "next");
    hg_conn_finish(c, 0);
    uv_run(&loop, UV_RUN_NOWAIT);

    /* 5. closed with gathered pieces: they are dropped (and freed), the peer sees the end */
    c = request(&loop, peer);
    hg_conn_stream(c, 1);
    hg_conn_write(c, dup_str("never sent"), 10);
    hg_rbuf_t *rb = hg_rbuf_copy("shared bytes", 12);
    hg_conn_write_ref(c, "head", 4, rb, 0, 12, 1);
    hg_conn_abort(c);
    for (int i = 0; i < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);
    n = drain(peer, buf, sizeof buf);
    CHECK(n == 0);
    CHECK(recv(peer, buf, 1, MSG_DONTWAIT) == 0); /* EOF: the connection is gone */

    close(peer);
    hg_http_close_all(&h);
    hg_http_close(&h);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    TEST_DONE();
}
