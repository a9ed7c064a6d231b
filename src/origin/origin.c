#include "origin.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"
#include "clock.h"

#define EASY_IDLE_MAX 16

struct hg_origin {
    uv_loop_t *loop;
    CURLM *multi;
    CURLSH *share; /* the process-wide share (TLS sessions, DNS); one reference */
    uv_timer_t timer;  /* curl's single timeout */
    uv_timer_t reaper; /* 0-ms timer that removes cancelled handles outside curl callbacks */
    uv_idle_t kick;    /* curl's "0 ms": run on the next loop turn, after I/O was polled */
    hg_fetch_t *cancelled;
    hg_fetch_t *warm; /* hg_origin_warm's fetch while it runs */
    size_t warm_bytes;
    const hg_config_t *cfg;
    unsigned long started;
    int closing;
    int handles_open; /* uv handles not yet closed: timer, reaper and kick */
    /* Easy handles of finished transfers, reset and kept for the next ones: setting one up
     * from scratch costs more than a cold request's whole origin exchange on a warm connection. */
    CURL *idle[EASY_IDLE_MAX];
    unsigned nidle;
};

struct hg_fetch {
    hg_origin_t *o;
    CURL *easy;
    hg_fetch_cb_t cb;
    void *ud;
    hg_fetch_t *next_cancelled;
    uint64_t t0;
    double first_byte_ms;
    int cancelled;
    int paused;
    struct curl_slist *headers;
    int tls_verify; /* the failure was a certificate verification failure */
    char etag[256];
    char last_modified[64];
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct {
    uv_poll_t poll;
    hg_origin_t *o;
    curl_socket_t fd;
} sock_t;

static void check_done(hg_origin_t *o);

/* A finished transfer's easy handle (already removed from the multi handle). */
static void easy_release(hg_origin_t *o, CURL *e)
{
    if (o->nidle < EASY_IDLE_MAX && !o->closing) {
        curl_easy_reset(e); /* every option back to its default; connections live in the multi */
        o->idle[o->nidle++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void fetch_free(hg_fetch_t *f)
{
    curl_multi_remove_handle(f->o->multi, f->easy);
    easy_release(f->o, f->easy);
    curl_slist_free_all(f->headers);
    free(f);
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *s = p->data;
    hg_origin_t *o = s->o;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (!status && (events & UV_READABLE)) flags |= CURL_CSELECT_IN;
    if (!status && (events & UV_WRITABLE)) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(o->multi, s->fd, flags, &running);
    check_done(o);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    hg_origin_t *o = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            /* Stop at once: curl may close the fd right after and reuse the number. */
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
            curl_multi_assign(o->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return -1;
        s->o = o;
        s->fd = fd;
        if (uv_poll_init_socket(o->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(o->multi, fd, s);
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

/* curl's timeouts are due: let it run them, then collect finished transfers. */
static void run_timeouts(hg_origin_t *o)
{
    int running;
    curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(o);
}

static void on_timer(uv_timer_t *t)
{
    run_timeouts(t->data);
}

static void on_kick(uv_idle_t *i)
{
    uv_idle_stop(i);
    run_timeouts(i->data);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hg_origin_t *o = userp;
    /* "0 ms" (a new transfer, mostly) runs from an idle handle on the next loop turn: a 0 ms
     * timer started inside libuv's timer phase would run again in that same phase (loop time
     * does not move there), and curl can ask for 0 ms over and over, so the loop would stop
     * polling I/O; an idle handle restarted in its own callback waits for the next turn, and
     * the poll in between does not block. (A 1 ms timer here cost every cold request a
     * millisecond before its origin request was even sent.) */
    if (timeout_ms == 0) {
        uv_timer_stop(&o->timer);
        uv_idle_start(&o->kick, on_kick);
        return 0;
    }
    uv_idle_stop(&o->kick);
    if (timeout_ms < 0) uv_timer_stop(&o->timer);
    else uv_timer_start(&o->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void reap(hg_origin_t *o)
{
    while (o->cancelled) {
        hg_fetch_t *f = o->cancelled;
        o->cancelled = f->next_cancelled;
        fetch_free(f);
    }
}

static void on_reaper(uv_timer_t *t)
{
    reap(t->data);
}

/* Certificate verification failures: named apart from other connect errors so the 502's log
 * line says what to fix (S3_CA_FILE) instead of "unreachable". */
static int is_tls_verify(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return 1;
    default:
        return 0;
    }
}

/* One CURLSH for the process: TLS sessions and DNS answers are shared by every origin (every
 * worker and the credential refresher). Each fetch is a new easy handle; without the share each
 * new connection would start a full TLS handshake even to an origin another worker (or the
 * startup probe) talked to a moment ago. Locked per data kind; lookups happen only when a
 * connection is made, so the locks are not on the per-request path of kept-alive connections. */
static uv_once_t g_share_once = UV_ONCE_INIT;
static uv_mutex_t g_share_mu;                 /* guards g_share and g_share_refs */
static uv_mutex_t g_share_data[CURL_LOCK_DATA_LAST];
static CURLSH *g_share;
static int g_share_refs;

static void share_init_once(void)
{
    uv_mutex_init(&g_share_mu);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) uv_mutex_init(&g_share_data[i]);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)h, (void)access, (void)userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) uv_mutex_lock(&g_share_data[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    (void)h, (void)userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) uv_mutex_unlock(&g_share_data[data]);
}

static CURLSH *share_acquire(void)
{
    uv_once(&g_share_once, share_init_once);
    uv_mutex_lock(&g_share_mu);
    if (!g_share && (g_share = curl_share_init())) {
        curl_share_setopt(g_share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(g_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(g_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(g_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    if (g_share) g_share_refs++;
    CURLSH *s = g_share;
    uv_mutex_unlock(&g_share_mu);
    return s;
}

static void share_release(void)
{
    uv_mutex_lock(&g_share_mu);
    if (g_share && --g_share_refs == 0) {
        curl_share_cleanup(g_share);
        g_share = NULL;
    }
    uv_mutex_unlock(&g_share_mu);
}

static hg_fetch_result_t classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return HG_FETCH_OK;
    case CURLE_OPERATION_TIMEDOUT: return HG_FETCH_E_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CERTPROBLEM:
        return HG_FETCH_E_CONNECT;
    case CURLE_WRITE_ERROR: return HG_FETCH_E_ABORTED;
    default: return HG_FETCH_E_TRANSFER;
    }
}

/* Drain finished transfers. Runs after socket_action returned, so calling back into user code
 * (which may start or cancel fetches) is safe here. */
static void check_done(hg_origin_t *o)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(o->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result; /* copy before remove_handle invalidates m */
        hg_fetch_t *f = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (!f || f->cancelled) continue; /* the reaper frees it */
        curl_multi_remove_handle(o->multi, easy);
        hg_fetch_cb_t cb = f->cb;
        void *ud = f->ud;
        char detail[CURL_ERROR_SIZE + 32];
        int tls = is_tls_verify(rc);
        snprintf(detail, sizeof detail, "%s%s", tls ? "TLS verification failed: " : "",
                 rc == CURLE_OK ? "" : f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
        char etag[sizeof f->etag], lm[sizeof f->last_modified];
        memcpy(etag, f->etag, sizeof etag);
        memcpy(lm, f->last_modified, sizeof lm);
        hg_fetch_done_t d = {status, detail, hg_fetch_ms(f), etag, lm, tls};
        easy_release(o, easy);
        curl_slist_free_all(f->headers);
        free(f);
        cb.on_done(ud, classify(rc), &d);
    }
}

/* Keep the validators of the final response (a new status line starts a new response). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *userp)
{
    hg_fetch_t *f = userp;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        f->etag[0] = f->last_modified[0] = 0;
        return n;
    }
    if (n > 5 && strncasecmp(p, "date:", 5) == 0) {
        /* A sample of the origin's clock (clock skew). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        size_t l = n - 5;
        while (l && (p[5 + l - 1] == '\r' || p[5 + l - 1] == '\n')) l--;
        hg_clock_observe(p + 5, l, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
        return n;
    }
    char *dst = NULL;
    size_t cap = 0, skip = 0;
    if (n > 5 && strncasecmp(p, "etag:", 5) == 0) dst = f->etag, cap = sizeof f->etag, skip = 5;
    else if (n > 14 && strncasecmp(p, "last-modified:", 14) == 0)
        dst = f->last_modified, cap = sizeof f->last_modified, skip = 14;
    if (dst) {
        const char *v = p + skip, *e = p + n;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
        size_t l = (size_t)(e - v);
        if (l < cap) {
            memcpy(dst, v, l);
            dst[l] = 0;
        }
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *userp)
{
    hg_fetch_t *f = userp;
    size_t n = size * nmemb;
    if (f->cancelled) return 0;
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->first_byte_ms < 0) f->first_byte_ms = (double)(uv_hrtime() - f->t0) / 1e6;
    size_t r = f->cb.on_data(f->ud, status, p, n);
    if (r == HG_FETCH_PAUSE) {
        f->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r == HG_FETCH_ABORT) return 0;
    return r;
}

hg_origin_t *hg_origin_new(uv_loop_t *loop, const hg_config_t *cfg)
{
    hg_origin_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->loop = loop;
    o->cfg = cfg;
    o->multi = curl_multi_init();
    if (!o->multi) {
        free(o);
        return NULL;
    }
    o->share = share_acquire();
    hg_origin_set_config(o, cfg);
    uv_timer_init(loop, &o->timer);
    uv_timer_init(loop, &o->reaper);
    uv_idle_init(loop, &o->kick);
    o->timer.data = o->reaper.data = o->kick.data = o;
    o->handles_open = 3;
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
    /* Keep origin connections alive between requests; bound the pool. */
    curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, 64L);
    return o;
}

void hg_origin_set_config(hg_origin_t *o, const hg_config_t *cfg)
{
    o->cfg = cfg;
    hg_clock_configure(cfg->clock_skew_warn, cfg->clock_skew_correct);
    if (cfg->tls_verify_unsafe_off) {
        /* Loud, and once per process (every worker has an origin). */
        static atomic_int warned;
        if (atomic_exchange(&warned, 1) == 0)
            hg_log(HG_LOG_WARN, "msg=\"UNSAFE: TLS certificate verification of the origin is DISABLED "
                                "(S3_TLS_VERIFY_UNSAFE_DISABLE=true): anyone on the network path can read "
                                "and forge storage responses; use S3_CA_FILE instead\"");
    }
}

static void on_origin_handle_closed(uv_handle_t *h)
{
    hg_origin_t *o = h->data;
    if (--o->handles_open == 0) free(o);
}

void hg_origin_close(hg_origin_t *o)
{
    if (!o || o->closing) return;
    o->closing = 1;
    if (o->warm) hg_fetch_cancel(o->warm);
    o->warm = NULL;
    reap(o);
    /* Owners cancel their fetches before the worker closes the origin, so every easy handle
     * left is on the cancelled list that reap() just emptied. */
    while (o->nidle) curl_easy_cleanup(o->idle[--o->nidle]);
    curl_multi_cleanup(o->multi); /* triggers CURL_POLL_REMOVE for every socket */
    o->multi = NULL;
    if (o->share) share_release(); /* no easy handle of this origin uses it any more */
    o->share = NULL;
    uv_timer_stop(&o->timer);
    uv_timer_stop(&o->reaper);
    uv_idle_stop(&o->kick);
    uv_close((uv_handle_t *)&o->timer, on_origin_handle_closed);
    uv_close((uv_handle_t *)&o->reaper, on_origin_handle_closed);
    uv_close((uv_handle_t *)&o->kick, on_origin_handle_closed);
}

hg_fetch_t *hg_fetch_start(hg_origin_t *o, const char *url, const char *const *headers,
                           const hg_fetch_cb_t *cb, void *ud)
{
    hg_fetch_req_t r = {NULL, url, headers, NULL, 0, 0, 0};
    return hg_fetch_request(o, &r, cb, ud);
}

hg_fetch_t *hg_fetch_request(hg_origin_t *o, const hg_fetch_req_t *r, const hg_fetch_cb_t *cb, void *ud)
{
    const char *url = r->url;
    const char *const *headers = r->headers;
    if (o->closing) return NULL;
    hg_fetch_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->o = o;
    f->cb = *cb;
    f->ud = ud;
    f->first_byte_ms = -1;
    f->t0 = uv_hrtime();
    CURL *e = f->easy = o->nidle ? o->idle[--o->nidle] : curl_easy_init();
    if (!e) {
        free(f);
        return NULL;
    }
    const hg_config_t *c = o->cfg;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    for (const char *const *h = headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(f->headers, *h);
        if (!l) break;
        f->headers = l;
    }
    if (f->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl can decode */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms ? r->connect_timeout_ms : c->origin_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms ? r->timeout_ms : c->origin_timeout_ms);
    if (r->method && strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (r->body || (r->method && strcmp(r->method, "GET") != 0)) {
        /* A body (possibly empty: IMDSv2's token PUT wants Content-Length: 0). */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(r->body ? r->body_len : 0));
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? r->body : "");
        if (r->method && strcmp(r->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (o->share) curl_easy_setopt(e, CURLOPT_SHARE, o->share);
    /* Verification stays on (curl's default) unless the unsafe setting says otherwise. The CA
     * file is added to the system store: CURLOPT_CAINFO replaces the compiled-in bundle file,
     * but Debian's libcurl still consults its CA path (/etc/ssl/certs). */
    if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->tls_verify_unsafe_off) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->origin_low_speed_seconds);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hlsgate");
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK) {
        easy_release(o, e);
        curl_slist_free_all(f->headers);
        free(f);
        return NULL;
    }
    o->started++;
    return f;
}

void hg_fetch_cancel(hg_fetch_t *f)
{
    if (!f || f->cancelled) return;
    f->cancelled = 1;
    f->next_cancelled = f->o->cancelled;
    f->o->cancelled = f;
    /* Removal happens on the next loop turn: we may be inside one of curl's callbacks. */
    uv_timer_start(&f->o->reaper, on_reaper, 0, 0);
}

void hg_fetch_resume(hg_fetch_t *f)
{
    if (!f->paused || f->cancelled) return;
    f->paused = 0;
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
}

const char *hg_fetch_etag(const hg_fetch_t *f)
{
    return f->etag;
}

double hg_fetch_ms(const hg_fetch_t *f)
{
    if (f->first_byte_ms >= 0) return f->first_byte_ms;
    return (double)(uv_hrtime() - f->t0) / 1e6;
}

unsigned long hg_origin_started(const hg_origin_t *o)
{
    return o->started;
}

/* Probe and warm-up are GETs whose (small: S3 answers a 403 document) body is read and
 * dropped, so the connection stays reusable. A HEAD would be cheaper, but an origin that
 * wrongly sends a body after a HEAD leaves bytes that poison the next request on that
 * connection. Past 64 KiB the transfer is cut off (the connection is then closed). */
#define PROBE_BODY_MAX (64 * 1024)

typedef struct {
    size_t bytes; /* first: on_probe_data counts here */
    int done;
} probe_t;

/* ud: a size_t byte counter (the probe's is the first member of probe_t). */
static size_t on_probe_data(void *ud, long status, const char *p, size_t n)
{
    (void)status, (void)p;
    size_t *bytes = ud;
    *bytes += n;
    return *bytes > PROBE_BODY_MAX ? HG_FETCH_ABORT : n;
}

static void on_probe_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d)
{
    probe_t *pr = ud;
    pr->done = d->status > 0 && (res == HG_FETCH_OK || res == HG_FETCH_E_ABORTED) ? 1 : -1;
}

int hg_origin_probe_clock(hg_origin_t *o, uv_loop_t *loop, const char *url, long timeout_ms)
{
    static const hg_fetch_cb_t CB = {on_probe_data, on_probe_done};
    probe_t pr = {0, 0};
    /* Whatever happens below, no callback may run once this frame is gone: the fetch is
     * cancelled unless on_probe_done already ran. */
    hg_fetch_req_t r = {"GET", url, NULL, NULL, 0, timeout_ms, timeout_ms};
    hg_fetch_t *f = hg_fetch_request(o, &r, &CB, &pr);
    if (!f) return -1;
    uint64_t deadline = uv_now(loop) + (uint64_t)timeout_ms + 100;
    while (!pr.done && uv_now(loop) < deadline) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
    if (!pr.done) hg_fetch_cancel(f);
    return pr.done == 1 ? 0 : -1;
}

int hg_origin_base_url(const hg_config_t *cfg, char *out, size_t cap)
{
    const char *ep = cfg->s3_endpoint, *sep = strstr(ep, "://");
    if (!sep) return -1;
    int n = cfg->virtual_host ? snprintf(out, cap, "%.*s%s.%s/", (int)(sep + 3 - ep), ep, cfg->s3_bucket, sep + 3)
                              : snprintf(out, cap, "%s/%s/", ep, cfg->s3_bucket);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void on_warm_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d)
{
    (void)res, (void)d;
    hg_origin_t *o = (hg_origin_t *)((char *)ud - offsetof(hg_origin_t, warm_bytes));
    o->warm = NULL;
}

void hg_origin_warm(hg_origin_t *o, const char *url)
{
    static const hg_fetch_cb_t CB = {on_probe_data, on_warm_done};
    if (o->warm || o->closing) return;
    o->warm_bytes = 0;
    o->warm = hg_fetch_start(o, url, NULL, &CB, &o->warm_bytes);
}
