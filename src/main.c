/* hlsgate: flags/env -> config, one worker thread per core, signals. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "config.h"
#include "http/server.h"

typedef struct {
    hg_worker_t *workers;
    int n;
    int signals;
} app_t;

static void worker_main(void *arg)
{
    hg_worker_run(arg);
}

static void on_signal(uv_signal_t *s, int signum)
{
    app_t *app = s->data;
    if (app->signals++ == 0) {
        hg_log(HG_LOG_INFO, "msg=\"shutting down: draining connections\" signal=%d", signum);
        for (int i = 0; i < app->n; i++) hg_worker_stop(&app->workers[i]);
    } else {
        hg_log(HG_LOG_WARN, "msg=\"second signal: exiting now\" signal=%d", signum);
        _exit(1);
    }
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

int main(int argc, char **argv)
{
    hg_config_t cfg;
    char err[512];
    int rc = hg_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc != HG_CONFIG_OK) {
        hg_config_free(&cfg);
        if (rc == HG_CONFIG_EXIT) return 0;
        fprintf(stderr, "hlsgate: configuration error: %s\n", err);
        return 2;
    }
    hg_log_level = cfg.log_level;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hlsgate: curl_global_init failed\n");
        hg_config_free(&cfg);
        return 1;
    }

    app_t app = {0};
    app.workers = calloc((size_t)cfg.workers, sizeof *app.workers);
    uv_thread_t *threads = calloc((size_t)cfg.workers, sizeof *threads);
    int port = cfg.listen_port;
    int status = 0;
    for (int i = 0; i < cfg.workers && app.workers && threads; i++) {
        if (hg_worker_init(&app.workers[i], &cfg, i, port) != 0) {
            status = 1;
            break;
        }
        port = app.workers[i].port; /* LISTEN=...:0 picks a port once; the others share it */
        app.n++;
    }
    if (status == 0) {
        hg_log(HG_LOG_INFO, "msg=\"listening\" addr=%s port=%d workers=%d bucket=%s endpoint=%s style=%s prefix=\"%s\"",
               cfg.listen_host, port, cfg.workers, cfg.s3_bucket, cfg.s3_endpoint,
               cfg.virtual_host ? "virtual" : "path", cfg.key_prefix);
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_t sigterm, sigint;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    sigterm.data = sigint.data = &app;
    if (status == 0) {
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        uv_signal_start(&sigint, on_signal, SIGINT);
        for (int i = 0; i < app.n; i++) uv_thread_create(&threads[i], worker_main, &app.workers[i]);
        /* The main loop only waits for signals; it stops once every worker has stopped. */
        while (app.signals == 0) uv_run(&loop, UV_RUN_ONCE);
        for (int i = 0; i < app.n; i++) uv_thread_join(&threads[i]);
    } else {
        for (int i = 0; i < app.n; i++) {
            hg_worker_stop(&app.workers[i]);
            hg_worker_run(&app.workers[i]);
        }
    }
    uv_close((uv_handle_t *)&sigterm, on_closed);
    uv_close((uv_handle_t *)&sigint, on_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(app.workers);
    free(threads);
    curl_global_cleanup();
    if (status == 0) hg_log(HG_LOG_INFO, "msg=\"stopped\"");
    hg_config_free(&cfg);
    return status;
}
