#include "origin.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"

struct hg_origin {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;  /* curl's single timeout */
    uv_timer_t reaper; /* 0-ms timer that removes cancelled handles outside curl callbacks */
    hg_fetch_t *cancelled;
    const hg_config_t *cfg;
    unsigned long started;
    int closing;
    int handles_open; /* uv handles not yet closed: timer + reaper */
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

static void fetch_free(hg_fetch_t *f)
{
    curl_multi_remove_handle(f->o->multi, f->easy);
    curl_easy_cleanup(f->easy);
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

static void on_timer(uv_timer_t *t)
{
    hg_origin_t *o = t->data;
    int running;
    curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(o);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hg_origin_t *o = userp;
    /* A 0 ms timer started inside libuv's timer phase would run again in that same phase (loop
     * time does not move there), and curl can ask for 0 ms over and over: the loop would stop
     * polling I/O. 1 ms lets every other handle have its turn first. */
    if (timeout_ms < 0) uv_timer_stop(&o->timer);
    else uv_timer_start(&o->timer, on_timer, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
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
        char detail[CURL_ERROR_SIZE];
        snprintf(detail, sizeof detail, "%s", rc == CURLE_OK ? "" : f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
        char etag[sizeof f->etag], lm[sizeof f->last_modified];
        memcpy(etag, f->etag, sizeof etag);
        memcpy(lm, f->last_modified, sizeof lm);
        hg_fetch_done_t d = {status, detail, hg_fetch_ms(f), etag, lm};
        curl_easy_cleanup(easy);
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
    uv_timer_init(loop, &o->timer);
    uv_timer_init(loop, &o->reaper);
    o->timer.data = o->reaper.data = o;
    o->handles_open = 2;
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
    reap(o);
    /* Owners cancel their fetches before the worker closes the origin, so every easy handle
     * left is on the cancelled list that reap() just emptied. */
    curl_multi_cleanup(o->multi); /* triggers CURL_POLL_REMOVE for every socket */
    o->multi = NULL;
    uv_timer_stop(&o->timer);
    uv_timer_stop(&o->reaper);
    uv_close((uv_handle_t *)&o->timer, on_origin_handle_closed);
    uv_close((uv_handle_t *)&o->reaper, on_origin_handle_closed);
}

hg_fetch_t *hg_fetch_start(hg_origin_t *o, const char *url, const char *const *headers,
                           const hg_fetch_cb_t *cb, void *ud)
{
    if (o->closing) return NULL;
    hg_fetch_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->o = o;
    f->cb = *cb;
    f->ud = ud;
    f->first_byte_ms = -1;
    f->t0 = uv_hrtime();
    CURL *e = f->easy = curl_easy_init();
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
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->origin_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->origin_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->origin_low_speed_seconds);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hlsgate");
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
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
