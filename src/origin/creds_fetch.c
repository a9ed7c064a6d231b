/* The network credential sources (web identity through STS, the container endpoint, IMDSv2),
 * fetched and refreshed through an hg_origin_t on one uv loop: a one-shot timer starts each
 * attempt, the answer arrives through the fetch callbacks, nothing blocks. Small local files
 * (the web identity token, the container authorization token) are read at each attempt: the
 * platform rotates them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/pct.h"
#include "clock.h"
#include "creds_int.h"

#define IMDS_TOKEN_TTL "21600"
#define RETRY_MAX_S 60

static void attempt(hg_creds_t *c);

static hg_creds_t *timer_owner(uv_timer_t *t)
{
    return (hg_creds_t *)((char *)t - offsetof(hg_creds_t, timer));
}

static void on_timer(uv_timer_t *t)
{
    attempt(timer_owner(t));
}

static void schedule(hg_creds_t *c, double seconds)
{
    if (c->stopping) return;
    if (seconds < 0.05) seconds = 0.05;
    uv_timer_start(&c->timer, on_timer, (uint64_t)(seconds * 1000), 0);
}

/* Log, keep the last good snapshot, retry with exponential back-off (1 s .. 60 s). */
static void failed(hg_creds_t *c, const char *msg)
{
    hg_creds_set_error(c, msg);
    atomic_store(&c->attempted, 1);
    unsigned long n = hg_creds_failures(c);
    long long e = atomic_load(&c->exp);
    time_t now = hg_signing_now();
    int have = atomic_load(&c->gen) != 0;
    int expired = have && e && now >= e;
    double delay = 1;
    for (unsigned long i = 1; i < c->retry && delay < RETRY_MAX_S; i++) delay *= 2;
    if (delay > RETRY_MAX_S) delay = RETRY_MAX_S;
    char q[360];
    hg_log(have && !expired ? HG_LOG_WARN : HG_LOG_ERROR,
           "msg=\"credentials refresh failed%s\" provider=%s error=%s retry_in_s=%.0f %s=%lld attempts_failed=%lu",
           !have ? ": no credentials yet, requests get 503" : expired ? ": credentials EXPIRED, requests get 503" : ", keeping the current credentials",
           hg_creds_src_name(c->src), hg_log_quote(q, sizeof q, msg, strlen(msg)), delay,
           have ? "expires_in_s" : "have_credentials", have ? (long long)(e ? e - now : -1) : 0LL, n);
    c->retry++;
    schedule(c, delay);
}

static void succeeded(hg_creds_t *c, hg_creds_parsed_t *p)
{
    time_t now = hg_signing_now();
    if (p->expiration && p->expiration <= now) {
        failed(c, "the endpoint handed out credentials that have already expired");
        return;
    }
    if (hg_creds_publish(c, p)) {
        failed(c, "out of memory");
        return;
    }
    atomic_store(&c->attempted, 1);
    c->retry = 1;
    long life = p->expiration ? (long)(p->expiration - now) : 3600;
    long ahead = c->refresh_ahead < life / 2 ? c->refresh_ahead : life / 2;
    hg_log(HG_LOG_INFO, "msg=\"credentials refreshed\" provider=%s access_key=%s generation=%lu expires_in_s=%ld next_refresh_in_s=%ld",
           hg_creds_src_name(c->src), p->access_key, hg_creds_generation(c), life, life - ahead);
    schedule(c, (double)(life - ahead));
}

/* ---- one HTTP exchange --------------------------------------------------------------------- */

static size_t on_data(void *ud, long status, const char *p, size_t n)
{
    (void)status;
    hg_creds_t *c = ud;
    return hg_buf_append(&c->body, p, n) ? HG_FETCH_ABORT : n;
}

static void on_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d);
static const hg_fetch_cb_t CB = {on_data, on_done};

static void start(hg_creds_t *c, const char *method, const char *url, const char *const *headers, const char *body,
                  size_t body_len, long timeout_ms)
{
    c->body.len = 0;
    hg_fetch_req_t r = {method, url, headers, body, body_len, timeout_ms, timeout_ms < 3000 ? timeout_ms : 3000};
    c->fetch = hg_fetch_request(c->origin, &r, &CB, c);
    if (!c->fetch) failed(c, "cannot start the request");
}

/* Read a small secret file (token), trimmed. Returns 0 or -1 with msg set. */
static int read_token(const char *path, hg_buf_t *out, char *msg, size_t msglen)
{
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(msg, msglen, "cannot read token file %s", path), -1;
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && !rc) rc = hg_buf_append(out, chunk, n);
    fclose(f);
    memset(chunk, 0, sizeof chunk);
    if (rc) return snprintf(msg, msglen, "token file %s is too large", path), -1;
    while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r' ||
                        out->data[out->len - 1] == ' '))
        out->len--;
    if (!out->len) return snprintf(msg, msglen, "token file %s is empty", path), -1;
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->data[i] < 0x20 || (unsigned char)out->data[i] == 0x7f)
            return snprintf(msg, msglen, "token file %s holds control characters", path), -1;
    return hg_buf_appendc(out, 0) ? (snprintf(msg, msglen, "out of memory"), -1) : 0;
}

static void start_sts(hg_creds_t *c)
{
    char msg[300];
    hg_buf_t tok, form;
    hg_buf_init(&tok, 64 * 1024);
    hg_buf_init(&form, 128 * 1024);
    if (read_token(c->token_file, &tok, msg, sizeof msg)) {
        hg_buf_free(&tok);
        hg_buf_free(&form);
        failed(c, msg);
        return;
    }
    int rc = hg_buf_appends(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    if (!rc) rc = hg_pct_encode(&form, c->role_arn, strlen(c->role_arn), 0);
    if (!rc) rc = hg_buf_appends(&form, "&RoleSessionName=");
    if (!rc) rc = hg_pct_encode(&form, c->session_name, strlen(c->session_name), 0);
    if (!rc) rc = hg_buf_appends(&form, "&WebIdentityToken=");
    if (!rc) rc = hg_pct_encode(&form, tok.data, tok.len - 1, 0);
    memset(tok.data, 0, tok.len);
    hg_buf_free(&tok);
    if (rc) {
        hg_buf_free(&form);
        failed(c, "web identity token too large");
        return;
    }
    static const char *const H[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                    "Accept: application/xml", NULL};
    char url[1100];
    snprintf(url, sizeof url, "%s/", c->sts_url);
    start(c, "POST", url, H, form.data, form.len, 10000);
    memset(form.data, 0, form.len);
    hg_buf_free(&form);
}

static void start_container(hg_creds_t *c)
{
    char msg[300], auth[8300];
    const char *h[3] = {"Accept: application/json", NULL, NULL};
    if (c->auth_token_file) {
        hg_buf_t tok;
        hg_buf_init(&tok, 8192);
        if (read_token(c->auth_token_file, &tok, msg, sizeof msg)) {
            hg_buf_free(&tok);
            failed(c, msg);
            return;
        }
        snprintf(auth, sizeof auth, "Authorization: %s", tok.data);
        memset(tok.data, 0, tok.len);
        hg_buf_free(&tok);
        h[1] = auth;
    } else if (c->auth_token) {
        snprintf(auth, sizeof auth, "Authorization: %s", c->auth_token);
        h[1] = auth;
    }
    start(c, "GET", c->container_url, h, NULL, 0, 5000);
    memset(auth, 0, sizeof auth);
}

static void start_imds(hg_creds_t *c)
{
    char url[1200], th[200];
    if (c->step == 0) {
        static const char *const H[] = {"X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL};
        snprintf(url, sizeof url, "%s/latest/api/token", c->imds_url);
        start(c, "PUT", url, H, NULL, 0, 2000);
        return;
    }
    snprintf(th, sizeof th, "X-aws-ec2-metadata-token: %s", c->imds_token);
    const char *const H[] = {th, NULL};
    if (c->step == 1) snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", c->imds_url);
    else snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", c->imds_url, c->imds_role);
    start(c, "GET", url, H, NULL, 0, 2000);
}

static void attempt(hg_creds_t *c)
{
    if (c->stopping || c->fetch) return;
    switch (c->src) {
    case SRC_WEB_IDENTITY: start_sts(c); break;
    case SRC_CONTAINER: start_container(c); break;
    case SRC_IMDS:
        c->step = 0;
        start_imds(c);
        break;
    default: break;
    }
}

/* A word of the answer for the log: printable ASCII, at most 160 bytes (never the whole body:
 * a misbehaving endpoint could put anything there). */
static void snippet(const hg_buf_t *b, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len && n + 1 < cap && n < 160; i++) {
        char ch = b->data[i];
        out[n++] = (ch >= 0x20 && ch < 0x7f) ? ch : ' ';
    }
    out[n] = 0;
}

static void on_done(void *ud, hg_fetch_result_t res, const hg_fetch_done_t *d)
{
    hg_creds_t *c = ud;
    c->fetch = NULL;
    if (c->stopping) return;
    char msg[300], snip[170];
    const char *where = c->src == SRC_WEB_IDENTITY ? c->sts_url : c->src == SRC_CONTAINER ? c->container_url : c->imds_url;
    if (res != HG_FETCH_OK) {
        snprintf(msg, sizeof msg, "%s: %s", where, d->detail[0] ? d->detail : "transfer failed");
        failed(c, msg);
        return;
    }
    if (d->status != 200) {
        hg_creds_parsed_t *p = NULL;
        if (c->src == SRC_WEB_IDENTITY && (p = calloc(1, sizeof *p)) &&
            hg_creds_parse_sts(c->body.data ? c->body.data : "", c->body.len, p, snip, sizeof snip)) {
            snprintf(msg, sizeof msg, "%s answered %ld: %s", where, d->status, snip);
        } else {
            snippet(&c->body, snip, sizeof snip);
            snprintf(msg, sizeof msg, "%s answered %ld: %s", where, d->status, snip);
        }
        if (p) hg_creds_parsed_wipe(p);
        free(p);
        failed(c, msg);
        return;
    }
    if (c->src == SRC_IMDS && c->step < 2) {
        /* token, then the role name (first line) */
        size_t n = c->body.len;
        const char *b = c->body.data ? c->body.data : "";
        const char *nl = memchr(b, '\n', n);
        if (c->step == 1 && nl) n = (size_t)(nl - b);
        while (n && (b[n - 1] == '\r' || b[n - 1] == ' ')) n--;
        char *dst = c->step == 0 ? c->imds_token : c->imds_role;
        size_t cap = c->step == 0 ? sizeof c->imds_token : sizeof c->imds_role;
        int ok = n > 0 && n < cap;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char ch = (unsigned char)b[i];
            ok = ch > 0x20 && ch < 0x7f && ch != '/' && ch != '?' && ch != '#' && ch != '%';
        }
        if (!ok) {
            snprintf(msg, sizeof msg, "%s: malformed %s", where, c->step == 0 ? "session token" : "role name");
            failed(c, msg);
            return;
        }
        memcpy(dst, b, n);
        dst[n] = 0;
        c->step++;
        start_imds(c);
        return;
    }
    hg_creds_parsed_t *p = calloc(1, sizeof *p);
    char why[200];
    int rc = !p ? (snprintf(why, sizeof why, "out of memory"), -1)
           : c->src == SRC_WEB_IDENTITY ? hg_creds_parse_sts(c->body.data ? c->body.data : "", c->body.len, p, why, sizeof why)
                                        : hg_creds_parse_json(c->body.data ? c->body.data : "", c->body.len, p, why, sizeof why);
    if (c->body.data) memset(c->body.data, 0, c->body.len);
    if (rc) {
        snprintf(msg, sizeof msg, "%s: %s", where, why);
        failed(c, msg);
    } else {
        succeeded(c, p);
    }
    if (p) {
        hg_creds_parsed_wipe(p);
        free(p);
    }
}

/* ---- life cycle ------------------------------------------------------------------------------ */

int hg_creds_start(hg_creds_t *c, uv_loop_t *loop, hg_origin_t *origin)
{
    if (!hg_creds_needs_loop(c)) return 0;
    c->loop = loop;
    c->origin = origin;
    c->retry = 1;
    int rc = uv_timer_init(loop, &c->timer);
    if (rc) return rc;
    c->timer_open = 1;
    schedule(c, 0);
    return 0;
}

int hg_creds_wait_first(hg_creds_t *c, uv_loop_t *loop, long timeout_ms)
{
    uint64_t deadline = uv_now(loop) + (uint64_t)timeout_ms;
    while (hg_creds_needs_loop(c) && !atomic_load(&c->attempted) && uv_now(loop) < deadline) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
    return hg_creds_status(c, hg_signing_now(), NULL, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void hg_creds_stop(hg_creds_t *c)
{
    if (!c || !c->timer_open || c->stopping) return;
    c->stopping = 1;
    if (c->fetch) hg_fetch_cancel(c->fetch);
    c->fetch = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
