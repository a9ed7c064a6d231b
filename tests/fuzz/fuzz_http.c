/* libFuzzer target: HTTP requests through the real connection code (src/http/server.c, routing and
 * handlers in gateway.c / playlist.c, origin fetches through curl on the same loop).
 *
 * One worker without a listener lives for the whole process. Each input is sent twice over a
 * fresh socketpair adopted by the worker (hg_worker_adopt):
 *   1. whole, in one write, keeping the write side open, then the loop runs until it is quiet;
 *   2. in 2..5 pieces at offsets derived from a hash of the input, either "fast" (one loop turn
 *      between pieces, so the server parses each piece with its own llhttp_execute) or "slow"
 *      (the loop goes quiet between pieces), then either kept open or shut down for writing
 *      right after the last piece (EOF while requests are still in flight).
 * After each delivery our end is closed and the loop runs until the connection is gone.
 *
 * Invariants checked:
 *   - every response starts with "HTTP/1.1 " and a 3-digit status, its header block is CRLF
 *     framed with printable bytes only (no response splitting), it carries exactly one way of
 *     delimiting its body, and nothing follows a "Connection: close" response;
 *   - when the client keeps its side open and the loop is quiet, responses are complete; a
 *     connection the server closed ended with a "Connection: close" response; a response that
 *     announced "Connection: close" was followed by the server closing;
 *   - the sequence of statuses does not depend on how the request bytes were split (keep-open
 *     deliveries only);
 *   - after the client closes, the server closes the connection (no connection left behind);
 *   - ASan/UBSan/LSan: no memory error, no UB, no leak. At exit the worker is stopped and its loop
 *     run to the end (hg_worker_stop + hg_worker_run), so everything the worker owns is freed.
 *
 * Quiet: no callback pending, no timer due within QUIET_MS (connection timers are configured to an
 * hour, curl's are seconds, so an in-flight origin fetch is never "quiet") and no fd ready in the
 * loop's epoll set. The origin is a closed local port, so /hls/ requests end in 502 after curl
 * fails to connect: asynchronous, but within a few loop turns. */
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

#include "common/log.h"
#include "config.h"
#include "fuzz_common.h"
#include "worker.h"

#define QUIET_MS 600000
#define SETTLE_LIMIT_NS (20ull * 1000000000ull)
#define OUT_MAX (1u << 20)
#define MAX_RESP 4096

static hg_config_t CFG;
static hg_worker_t W;
static int READY;
static int VERBOSE; /* FUZZ_VERBOSE=1: print what each delivery sent and got */

/* Our end of the socketpair and what the server sent on it. */
typedef struct {
    int fd;
    int eof;      /* the server closed (read returned 0, or the connection was reset) */
    int wclosed;  /* a write failed: the server no longer reads */
    int overflow; /* more than OUT_MAX bytes: too much to check */
    size_t len;
    char out[OUT_MAX];
} client_t;

/* What one delivery produced. */
typedef struct {
    int n;                 /* responses */
    int status[MAX_RESP];
    int last_close;        /* the last response said "Connection: close" */
    int eof;
    int settled;           /* kept open and every request byte written: complete answers due */
    int checked;           /* 0 when the output was too large to check */
} result_t;

static client_t CL;
static const uint8_t *IN; /* current input, for diagnostics */
static size_t IN_LEN;

static void fail_dump(void)
{
    fz_dump("input", IN, IN_LEN);
    fz_dump("server output", CL.out, CL.len);
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

/* Run the worker's loop, draining our socket, until nothing more can happen without new input. */
static void settle(client_t *cl, const char *phase)
{
    uint64_t t0 = uv_hrtime();
    for (;;) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        drain(cl);
        int t = uv_backend_timeout(&W.loop);
        struct pollfd p = {uv_backend_fd(&W.loop), POLLIN, 0};
        if (t < 0 || t >= QUIET_MS) {
            if (poll(&p, 1, 0) == 0) return;
        } else if (t > 0) {
            poll(&p, 1, t < 20 ? t : 20); /* a timer soon (curl): wait for it or for I/O */
        }
        if (uv_hrtime() - t0 > SETTLE_LIMIT_NS) {
            FZ_CHECK(0, "worker loop still busy after 20 s (%s), next timer in %d ms", phase,
                     uv_backend_timeout(&W.loop));
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
            uv_run(&W.loop, UV_RUN_NOWAIT);
            drain(cl);
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
        int chunked = 0, close = 0;
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
            }
            h = e + 2;
        }
        FZ_CHECK(!(chunked && clen >= 0), "both chunked and Content-Length");
        int bodiless = status < 200 || status == 204 || status == 304;
        FZ_CHECK(bodiless || chunked || clen >= 0,
                 "response %d has no Content-Length and is not chunked", status);
        p = h;
        if (bodiless) {
            FZ_CHECK(!chunked && clen <= 0, "%d with a body", status);
        } else if (chunked) {
            for (;;) {
                const char *e = find_crlf(p, end);
                if (!e) {
                    /* Truncated chunked body: the server's way to signal a mid-stream failure, so
                     * only acceptable when it closed; a hanging half response is a bug. */
                    FZ_CHECK(!settled || cl->eof, "incomplete chunked body");
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
                    return;
                }
                p += sz;
                FZ_CHECK(p[0] == '\r' && p[1] == '\n', "chunk not followed by CRLF");
                p += 2;
                if (sz == 0) break;
            }
        } else if (clen > 0) {
            /* A HEAD response announces the length without a body: recognised by the next
             * response (or the end) following the head directly. Our bodies never start with
             * "HTTP/1.1 ". */
            size_t rest = (size_t)(end - p);
            int head = rest == 0 || (rest >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0);
            if (!head) {
                if (rest < (unsigned long long)clen) {
                    FZ_CHECK(!settled, "body shorter than its Content-Length");
                    return;
                }
                p += clen;
            }
        }
        res->last_close = close;
    }
}

/* ---- one delivery ------------------------------------------------------------------------- */

static void deliver(const uint8_t *d, size_t n, const size_t *cuts, size_t ncuts, int slow, int shut,
                    result_t *res)
{
    int sv[2];
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
             strerror(errno));
    FZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
    CL.fd = sv[1];
    CL.eof = CL.wclosed = CL.overflow = 0;
    CL.len = 0;
    hg_worker_adopt(&W, sv[0]);

    size_t at = 0;
    for (size_t i = 0; i <= ncuts && !CL.wclosed; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        send_bytes(&CL, d + at, to - at);
        at = to;
        if (i == ncuts) break;
        if (slow) {
            settle(&CL, "between pieces");
        } else {
            uv_run(&W.loop, UV_RUN_NOWAIT);
            drain(&CL);
        }
    }
    if (shut) shutdown(CL.fd, SHUT_WR);
    settle(&CL, "after the request bytes");
    int settled = !shut && !CL.wclosed;
    if (VERBOSE) {
        fprintf(stderr, "--- delivery: %zu pieces, %s, %s\n", ncuts + 1, slow ? "slow" : "fast",
                shut ? "shutdown" : "kept open");
        fz_dump("server output", CL.out, CL.len);
    }
    check_responses(&CL, settled, res);
    res->settled = settled;
    if (settled && res->checked && res->last_close && !CL.eof) {
        /* A loaded machine can leave the close one scheduling step behind the response: give
         * the loop a bounded grace period before calling it a bug. */
        uint64_t t0 = uv_hrtime();
        while (!CL.eof && uv_hrtime() - t0 < 2000000000ull) {
            uv_run(&W.loop, UV_RUN_NOWAIT);
            drain(&CL);
            struct pollfd p = {CL.fd, POLLIN, 0};
            poll(&p, 1, 10);
        }
    }
    if (settled && res->checked) {
        FZ_CHECK(!CL.eof || (res->n > 0 && res->last_close),
                 "server closed without a \"Connection: close\" response");
        FZ_CHECK(!res->last_close || CL.eof,
                 "\"Connection: close\" response but the connection stays open");
    }

    close(CL.fd);
    CL.fd = -1;
    settle(&CL, "after the client closed");
    FZ_CHECK(W.http.conns == NULL, "connection still open after the client closed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!READY) return 0;
    fz_on_fail = fail_dump;
    IN = data;
    IN_LEN = size;

    result_t whole, split;
    deliver(data, size, NULL, 0, 0, 0, &whole);

    uint64_t s = fz_hash(data, size);
    size_t cuts[4];
    size_t ncuts = fz_cuts(&s, size, cuts, 1 + (size_t)(fz_next(&s) % 4));
    uint64_t m = fz_next(&s);
    int slow = (int)(m & 1);
    int shut = (m >> 1) % 4 == 0;
    /* FUZZ_SPLIT=a,b,...: split there instead (ascending offsets); FUZZ_SLOW=0/1, FUZZ_SHUT=0/1.
     * For reproducing and exploring split-dependent behaviour by hand. */
    const char *env = getenv("FUZZ_SPLIT");
    if (env) {
        ncuts = 0;
        for (char *e; *env && ncuts < 4; env = *e ? e + 1 : e) {
            unsigned long v = strtoul(env, &e, 10);
            if (e == env) break;
            if (v > 0 && v < size && (ncuts == 0 || v > cuts[ncuts - 1])) cuts[ncuts++] = v;
        }
    }
    if (getenv("FUZZ_SLOW")) slow = atoi(getenv("FUZZ_SLOW")) != 0;
    if (getenv("FUZZ_SHUT")) shut = atoi(getenv("FUZZ_SHUT")) != 0;
    deliver(data, size, cuts, ncuts, slow, shut, &split);

    if (whole.settled && split.settled && whole.checked && split.checked) {
        int same = whole.n == split.n && whole.last_close == split.last_close && whole.eof == split.eof;
        for (int i = 0; same && i < whole.n && i < MAX_RESP; i++) same = whole.status[i] == split.status[i];
        if (!same) {
            fprintf(stderr, "split at:");
            for (size_t i = 0; i < ncuts; i++) fprintf(stderr, " %zu", cuts[i]);
            fprintf(stderr, " (%s)\nwhole: %d responses, close=%d eof=%d:", slow ? "slow" : "fast",
                    whole.n, whole.last_close, whole.eof);
            for (int i = 0; i < whole.n && i < MAX_RESP; i++) fprintf(stderr, " %d", whole.status[i]);
            fprintf(stderr, "\nsplit: %d responses, close=%d eof=%d:", split.n, split.last_close, split.eof);
            for (int i = 0; i < split.n && i < MAX_RESP; i++) fprintf(stderr, " %d", split.status[i]);
            fprintf(stderr, "\n");
            FZ_CHECK(0, "the answer depends on how the request bytes were split");
        }
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
        {"S3_ENDPOINT", "http://127.0.0.1:1"}, /* closed port: origin fetches fail at once */
        {"S3_REGION", "us-east-1"},
        {"S3_KEY_PREFIX", "media"},
        {"LOG_LEVEL", "error"},
        {"PLAYLIST_CACHE_BYTES", "1048576"},
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
    hg_log_level = CFG.log_level;
    signal(SIGPIPE, SIG_IGN); /* the server writes to sockets we have closed */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) abort();
    if (hg_worker_init(&W, &CFG, 0, -1) != 0) abort();
    CL.fd = -1;
    VERBOSE = getenv("FUZZ_VERBOSE") && *getenv("FUZZ_VERBOSE") == '1';
    READY = 1;
    atexit(cleanup);
    return 0;
}
