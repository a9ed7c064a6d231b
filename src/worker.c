#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway.h"
#include "hls/playlist.h"
#include "hls/segment.h"
#include "origin/clock.h"
#include "origin/creds.h"
#include "origin/origin.h"
#include "sign/segsign.h"
#include "sign/sigv4.h"


static void limits_for(hg_worker_t *w, const hg_config_t *cfg, hg_http_limits_t *lim)
{
    lim->max_header_bytes = cfg->max_header_bytes;
    lim->max_header_lines = cfg->max_header_lines;
    lim->max_url_bytes = cfg->max_url_bytes;
    lim->max_output = cfg->max_output_bytes;
    lim->header_timeout_ms = cfg->header_timeout_ms;
    lim->keepalive_timeout_ms = cfg->keepalive_timeout_ms;
    lim->write_timeout_ms = cfg->write_timeout_ms;
    lim->max_connections = (unsigned long)cfg->max_connections;
    lim->common_headers = w->common_headers;
}

/* ---- drain and stop ------------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void finish_stop(hg_worker_t *w)
{
    if (w->stopping != 1) return;
    w->stopping = 2;
    hg_http_close_all(&w->http);
    hg_http_close(&w->http);
    hg_playlists_free(w->ctx.pl);
    w->ctx.pl = NULL;
    hg_segments_free(w->ctx.seg);
    w->ctx.seg = NULL;
    hg_origin_close(w->ctx.origin);
    w->ctx.origin = NULL;
    uv_timer_stop(&w->drain_timer);
    uv_close((uv_handle_t *)&w->drain_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->wakeup, on_handle_closed);
    uv_close((uv_handle_t *)&w->reload, on_handle_closed);
    uv_close((uv_handle_t *)&w->log_prepare, on_handle_closed);
    uv_close((uv_handle_t *)&w->log_check, on_handle_closed);
}

static void on_drain_check(uv_timer_t *t)
{
    hg_worker_t *w = t->data;
    hg_http_drain(&w->http);
    if (w->http.conns && uv_now(&w->loop) >= w->drain_deadline) {
        hg_log(HG_LOG_WARN, "msg=\"drain timeout, closing connections\" worker=%d open=%lu", w->id, w->http.nconns);
        hg_http_close_all(&w->http);
    }
    if (!w->http.conns) {
        finish_stop(w);
        return;
    }
    uv_timer_start(&w->drain_timer, on_drain_check, 20, 0);
}

static void on_wakeup(uv_async_t *a)
{
    hg_worker_t *w = a->data;
    if (w->stopping) return;
    w->stopping = 1;
    w->ctx.draining = 1;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, on_handle_closed);
        w->listening = 0;
    }
    uv_update_time(&w->loop);
    w->drain_deadline = uv_now(&w->loop) + (uint64_t)w->ctx.cfg->drain_timeout_ms;
    uv_timer_start(&w->drain_timer, on_drain_check, 0, 0);
}

void hg_worker_stop(hg_worker_t *w)
{
    uv_async_send(&w->wakeup);
}

/* ---- reload -------------------------------------------------------------------------------- */

static void on_reload(uv_async_t *a)
{
    hg_worker_t *w = a->data;
    const hg_config_t *cfg = atomic_exchange(&w->next_cfg, NULL);
    if (!cfg || w->stopping) return;
    /* New signers for the new configuration, with the current shared credentials. */
    hg_signer_t *signer = NULL;
    unsigned long gen = 0;
    time_t exp = 0;
    char err[256] = "out of memory";
    hg_segsigner_t *seg = NULL;
    if (hg_creds_sync(hg_creds_shared(), cfg, &signer, &gen, &exp, NULL, 0) != HG_CREDS_ERROR)
        seg = hg_segsigner_new(cfg, err, sizeof err);
    if (!seg) {
        hg_log(HG_LOG_ERROR, "msg=\"reload failed: cannot create the signers\" worker=%d error=\"%s\"", w->id, err);
        hg_signer_free(signer);
        return;
    }
    if (signer) hg_segsigner_use_s3(seg, signer);
    hg_segsigner_free(w->ctx.segsigner);
    w->ctx.segsigner = seg;
    hg_signer_free(w->ctx.signer);
    w->ctx.signer = signer;
    w->ctx.creds_gen = gen;
    w->ctx.creds_expiration = exp;
    w->ctx.cfg = cfg;
    w->ctx.cfg_gen++;
    hg_http_limits_t lim;
    limits_for(w, cfg, &lim);
    hg_http_set_limits(&w->http, &lim);
    hg_origin_set_config(w->ctx.origin, cfg);
    hg_playlists_reload(w->ctx.pl);
    hg_playlists_metrics(w->ctx.pl);
    hg_segments_reload(w->ctx.seg, cfg);
    atomic_store(&w->cfg_seen, cfg->gen);
    if (w->on_switch) uv_async_send(w->on_switch);
    hg_log(HG_LOG_INFO, "msg=\"configuration reloaded\" worker=%d access_key=%s bucket=%s", w->id,
           cfg->access_key ? cfg->access_key : "(platform credentials)", cfg->s3_bucket);
}

void hg_worker_reload(hg_worker_t *w, const hg_config_t *cfg)
{
    atomic_store(&w->next_cfg, cfg);
    uv_async_send(&w->reload);
}

/* ---- listening ----------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    hg_worker_t *w = server->data;
    if (status < 0) {
        hg_log(HG_LOG_WARN, "msg=\"accept failed\" err=%s", uv_strerror(status));
        return;
    }
    hg_http_accept(&w->http, server);
}

void hg_worker_adopt(hg_worker_t *w, int fd)
{
    hg_http_adopt(&w->http, fd);
}

/* A listening socket of our own so SO_REUSEPORT can be set before bind (libuv 1.44 has no flag
 * for it). Every worker binds its own socket and the kernel spreads connections across them. */
static int open_listener(hg_worker_t *w, const hg_config_t *cfg, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (strchr(cfg->listen_host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, cfg->listen_host, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, cfg->listen_host, &a->sin_addr);
        sl = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listener, 4096, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        return rc;
    }
    w->listening = 1;
    return 0;
}

/* ---- life ---------------------------------------------------------------------------------- */

static void on_log_prepare(uv_prepare_t *p)
{
    (void)p;
    hg_log_flush();
}

static void on_log_check(uv_check_t *p)
{
    (void)p;
    hg_log_flush();
}

int hg_worker_init(hg_worker_t *w, const hg_config_t *cfg, int id, int port)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    atomic_store(&w->cfg_seen, cfg->gen);
    snprintf(w->common_headers, sizeof w->common_headers, "Server: hlsgate\r\nAccess-Control-Allow-Origin: *\r\n");
    int rc = uv_loop_init(&w->loop);
    if (rc) return rc;
    hg_ctx_t *ctx = &w->ctx;
    ctx->loop = &w->loop;
    ctx->cfg = cfg;
    ctx->metrics = &w->metrics;
    ctx->worker_id = id;
    /* HG_FAST_URIS=0 sends every URI through the general path: for the tests that compare both
     * and for measurements. */
    const char *fast = getenv("HG_FAST_URIS");
    ctx->fast_uris = !(fast && !strcmp(fast, "0"));
    /* The signer follows the shared credentials (origin/creds.h). With platform credentials it
     * may still be NULL here (first fetch pending): media requests answer 503 until then. */
    char err[256] = "out of memory";
    int cs = hg_creds_sync(hg_creds_shared(), cfg, &ctx->signer, &ctx->creds_gen, &ctx->creds_expiration, NULL, 0);
    ctx->segsigner = cs != HG_CREDS_ERROR ? hg_segsigner_new(cfg, err, sizeof err) : NULL;
    if (!ctx->segsigner) hg_log(HG_LOG_ERROR, "msg=\"cannot create the segment signer\" error=\"%s\"", err);
    else if (ctx->signer) hg_segsigner_use_s3(ctx->segsigner, ctx->signer);
    ctx->origin = ctx->segsigner ? hg_origin_new(&w->loop, cfg) : NULL;
    ctx->pl = ctx->origin ? hg_playlists_new(ctx) : NULL;
    ctx->seg = ctx->pl ? hg_segments_new(cfg) : NULL;
    hg_http_limits_t lim;
    limits_for(w, cfg, &lim);
    hg_handler_t handler = {hg_gateway_handle, ctx};
    if (!ctx->seg || hg_http_init(&w->http, &w->loop, &lim, handler, &w->metrics)) {
        hg_segments_free(ctx->seg);
        hg_playlists_free(ctx->pl);
        hg_origin_close(ctx->origin);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        hg_segsigner_free(ctx->segsigner);
        hg_signer_free(ctx->signer);
        uv_loop_close(&w->loop);
        return UV_ENOMEM;
    }
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_async_init(&w->loop, &w->reload, on_reload);
    w->reload.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_prepare_init(&w->loop, &w->log_prepare);
    uv_check_init(&w->loop, &w->log_check);
    uv_prepare_start(&w->log_prepare, on_log_prepare);
    uv_check_start(&w->log_check, on_log_check);
    rc = port < 0 ? 0 : open_listener(w, cfg, port);
    if (rc) {
        hg_log(HG_LOG_ERROR, "msg=\"cannot listen\" listen=%s:%d err=\"%s\"", cfg->listen_host, port, uv_strerror(rc));
        w->stopping = 1;
        finish_stop(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        hg_segsigner_free(ctx->segsigner);
        hg_signer_free(ctx->signer);
        return rc;
    }
    return 0;
}

void hg_worker_run(hg_worker_t *w)
{
    hg_log_buffer_begin();
    uv_run(&w->loop, UV_RUN_DEFAULT);
    hg_log_buffer_end();
    if (uv_loop_close(&w->loop) != 0) {
        /* Should not happen: every handle is closed before the loop ends. */
        hg_log(HG_LOG_ERROR, "msg=\"loop closed with open handles\" worker=%d", w->id);
    }
    hg_signer_free(w->ctx.signer);
    w->ctx.signer = NULL;
    hg_segsigner_free(w->ctx.segsigner);
    w->ctx.segsigner = NULL;
}
