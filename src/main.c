/* hlsgate: flags/env -> config, one worker thread per core, signals. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "config.h"
#include "http/server.h"
#include "token.h"

typedef struct {
    hg_worker_t *workers;
    int n;
    int signals;
    int argc;
    char **argv;
    hg_config_t *cfg;      /* the configuration in force */
    hg_config_t **old;     /* replaced configurations, freed at exit (workers may still read) */
    int nold;
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

/* `hlsgate --healthcheck`: GET /healthz on the configured LISTEN port of this host and exit 0
 * on a 200. Container HEALTHCHECKs need no curl or wget in the image this way. */
static int healthcheck(const hg_config_t *cfg)
{
    const char *host = cfg->listen_host;
    int v6 = strchr(host, ':') != NULL;
    if (!strcmp(host, "0.0.0.0")) host = "127.0.0.1";
    else if (!strcmp(host, "::")) host = "::1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET, host, &a->sin_addr);
        sl = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buf[256];
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        const char *req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            if (n > 12) {
                buf[n] = 0;
                ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
            }
        }
    }
    close(fd);
    fprintf(stderr, "hlsgate: healthcheck %s:%d %s\n", host, cfg->listen_port, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static void on_hup(uv_signal_t *s, int signum)
{
    (void)signum;
    app_t *app = s->data;
    hg_config_t *next = calloc(1, sizeof *next);
    hg_config_t **old = realloc(app->old, (size_t)(app->nold + 1) * sizeof *old);
    if (!next || !old) {
        free(next);
        if (old) app->old = old;
        hg_log(HG_LOG_ERROR, "msg=\"reload failed: out of memory\"");
        return;
    }
    app->old = old;
    char err[512];
    if (hg_config_load(next, app->argc, app->argv, err, sizeof err) != HG_CONFIG_OK) {
        char q[600];
        hg_log(HG_LOG_ERROR, "msg=\"reload failed, keeping the running configuration\" error=%s",
               hg_log_quote(q, sizeof q, err, strlen(err)));
        hg_config_free(next);
        free(next);
        return;
    }
    const hg_config_t *cur = app->cfg;
    if (strcmp(next->listen_host, cur->listen_host) || next->listen_port != cur->listen_port ||
        next->workers != cur->workers)
        hg_log(HG_LOG_WARN, "msg=\"LISTEN and WORKERS change only on restart; keeping the old values\"");
    free(next->listen_host);
    next->listen_host = strdup(cur->listen_host);
    next->listen_port = cur->listen_port;
    next->workers = cur->workers;
    hg_log_level = next->log_level;
    app->old[app->nold++] = app->cfg;
    app->cfg = next;
    for (int i = 0; i < app->n; i++) hg_worker_reload(&app->workers[i], next);
    hg_log(HG_LOG_INFO, "msg=\"reloading configuration\" file=%s", next->config_file ? next->config_file : "-");
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* `hlsgate token --acl PATTERN [--ttl SECONDS] [--start UNIXTIME]`: mint an access token with
 * TOKEN_SECRET from the environment and print "PARAM=TOKEN". */
static int token_command(int argc, char **argv)
{
    const char *acl = NULL, *secret = getenv("TOKEN_SECRET"), *param = getenv("TOKEN_PARAM");
    long ttl = 3600, start = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--acl") && i + 1 < argc) acl = argv[++i];
        else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) ttl = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--start") && i + 1 < argc) start = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: TOKEN_SECRET=HEX %s token --acl PATTERN [--ttl SECONDS] [--start UNIXTIME]\n", argv[0]);
            return 2;
        }
    }
    if (!acl || ttl <= 0) {
        fprintf(stderr, "hlsgate token: --acl PATTERN is required (for example '/hls/show1/*') and --ttl must be positive\n");
        return 2;
    }
    char key[512];
    long klen = secret ? hg_hex_decode(secret, key, sizeof key) : -1;
    if (klen < 8) {
        fprintf(stderr, "hlsgate token: TOKEN_SECRET must be set to an even number (at least 16) of hex digits\n");
        return 2;
    }
    hg_buf_t out;
    hg_buf_init(&out, 0);
    time_t now = time(NULL);
    int rc = hg_token_mint(&out, key, (size_t)klen, acl, (time_t)start, (start ? start : now) + ttl);
    memset(key, 0, sizeof key);
    if (rc) {
        hg_buf_free(&out);
        return 1;
    }
    printf("%s=%.*s\n", param && *param ? param : "hdnts", (int)out.len, out.data);
    hg_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "token")) return token_command(argc, argv);
    hg_config_t cfg;
    char err[512];
    int check = argc > 1 && strcmp(argv[1], "--healthcheck") == 0;
    if (check) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    int rc = check ? hg_config_load_probe(&cfg, argc, argv, err, sizeof err)
                   : hg_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc != HG_CONFIG_OK) {
        hg_config_free(&cfg);
        if (rc == HG_CONFIG_EXIT) return 0;
        fprintf(stderr, "hlsgate: configuration error: %s\n", err);
        return 2;
    }
    if (check) {
        rc = healthcheck(&cfg);
        hg_config_free(&cfg);
        return rc;
    }
    hg_log_level = cfg.log_level;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hlsgate: curl_global_init failed\n");
        hg_config_free(&cfg);
        return 1;
    }

    app_t app = {0};
    app.argc = argc;
    app.argv = argv;
    app.cfg = &cfg;
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
    hg_metrics_t **slots = calloc((size_t)(app.n ? app.n : 1), sizeof *slots);
    for (int i = 0; i < app.n && slots; i++) slots[i] = &app.workers[i].metrics;
    if (slots) hg_metrics_register(slots, app.n);
    if (status == 0) {
        hg_log(HG_LOG_INFO, "msg=\"listening\" addr=%s port=%d workers=%d bucket=%s endpoint=%s style=%s prefix=\"%s\"",
               cfg.listen_host, port, cfg.workers, cfg.s3_bucket, cfg.s3_endpoint,
               cfg.virtual_host ? "virtual" : "path", cfg.key_prefix);
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_t sigterm, sigint, sighup;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sighup);
    sigterm.data = sigint.data = sighup.data = &app;
    if (status == 0) {
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sighup, on_hup, SIGHUP);
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
    uv_close((uv_handle_t *)&sighup, on_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    hg_metrics_register(NULL, 0);
    free(slots);
    free(app.workers);
    free(threads);
    curl_global_cleanup();
    if (status == 0) hg_log(HG_LOG_INFO, "msg=\"stopped\"");
    if (app.cfg != &cfg) {
        hg_config_free(app.cfg);
        free(app.cfg);
    }
    for (int i = 0; i < app.nold; i++) {
        if (app.old[i] == &cfg) continue;
        hg_config_free(app.old[i]);
        free(app.old[i]);
    }
    free(app.old);
    hg_config_free(&cfg);
    return status;
}
