/* hlsgate: flags/env -> config, one worker thread per core, signals. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "config.h"
#include "origin/creds.h"
#include "origin/origin.h"
#include "common/hex.h"
#include "common/map.h"
#include "sign/sha256.h"
#include "token.h"
#include "worker.h"

typedef struct {
    hg_worker_t *workers;
    int n;
    int signals;
    int argc;
    char **argv;
    hg_config_t *cfg;  /* the configuration in force */
    hg_config_t **old; /* replaced configurations some worker may still use */
    int nold;
    unsigned next_gen;
    uv_async_t done;     /* a worker thread finished */
    uv_async_t switched; /* a worker switched configuration: old ones may be freed */
    atomic_int finished;
} app_t;

static app_t *g_app;

static void worker_main(void *arg)
{
    hg_worker_t *w = arg;
    hg_worker_run(w);
    atomic_fetch_add(&g_app->finished, 1);
    uv_async_send(&g_app->done);
}

/* Free replaced configurations that no worker uses any more (each worker reports the
 * generation it runs with; generations only grow). */
static void free_unused_configs(app_t *app, int all)
{
    unsigned min_seen = ~0u;
    for (int i = 0; i < app->n; i++) {
        unsigned g = atomic_load(&app->workers[i].cfg_seen);
        if (g < min_seen) min_seen = g;
    }
    int k = 0;
    for (int i = 0; i < app->nold; i++) {
        hg_config_t *c = app->old[i];
        if (all || c->gen < min_seen) {
            hg_config_free(c);
            free(c);
        } else {
            app->old[k++] = c;
        }
    }
    app->nold = k;
}

static void on_switched(uv_async_t *a)
{
    free_unused_configs(a->data, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    app_t *app = s->data;
    if (app->signals++ == 0) {
        hg_log(HG_LOG_INFO, "msg=\"shutting down: draining connections\" signal=%d", signum);
        for (int i = 0; i < app->n; i++) hg_worker_stop(&app->workers[i]);
    } else {
        /* The main loop keeps running during the drain precisely so this can happen. */
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
    if (app->signals) return; /* shutting down */
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
    atomic_store(&hg_log_level, next->log_level);
    next->gen = ++app->next_gen;
    app->old[app->nold++] = app->cfg;
    app->cfg = next;
    hg_creds_reload(hg_creds_shared(), next); /* static keys and the shared file follow the reload */
    for (int i = 0; i < app->n; i++) hg_worker_reload(&app->workers[i], next);
    hg_log(HG_LOG_INFO, "msg=\"reloading configuration\" file=%s", next->config_file ? next->config_file : "-");
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* `hlsgate token --acl PATTERN [--ttl SECONDS] [--start UNIXTIME]`: mint an access token with
 * TOKEN_SECRET from the environment and print "PARAM=TOKEN". */
/* A whole number in [min, max], or -1 (not a number, junk after it, out of range). */
static int parse_range(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int token_command(int argc, char **argv)
{
    const char *acl = NULL, *secret = getenv("TOKEN_SECRET"), *param = getenv("TOKEN_PARAM");
    long long ttl = 3600, start = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--acl") && i + 1 < argc) {
            acl = argv[++i];
        } else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) {
            if (parse_range(argv[++i], 1, 10LL * 366 * 86400, &ttl)) {
                fprintf(stderr, "hlsgate token: --ttl must be a whole number of seconds in 1..%lld\n", 10LL * 366 * 86400);
                return 2;
            }
        } else if (!strcmp(argv[i], "--start") && i + 1 < argc) {
            if (parse_range(argv[++i], 0, 253402300799LL, &start)) {
                fprintf(stderr, "hlsgate token: --start must be a Unix time in 0..253402300799\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: TOKEN_SECRET=HEX %s token --acl PATTERN [--ttl SECONDS] [--start UNIXTIME]\n", argv[0]);
            return 2;
        }
    }
    if (!acl || !*acl) {
        fprintf(stderr, "hlsgate token: --acl PATTERN is required (for example '/hls/show1/*')\n");
        return 2;
    }
    if (strchr(acl, '~')) {
        /* '~' separates token fields: an ACL holding one could carry a second acl= field. */
        fprintf(stderr, "hlsgate token: --acl must not contain '~' (it separates token fields)\n");
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
    long long now = (long long)time(NULL);
    int rc = hg_token_mint(&out, key, (size_t)klen, acl, (time_t)start, (time_t)((start ? start : now) + ttl));
    memset(key, 0, sizeof key);
    if (rc) {
        hg_buf_free(&out);
        fprintf(stderr, "hlsgate token: cannot mint a token for that ACL\n");
        return 1;
    }
    printf("%s=%.*s\n", param && *param ? param : "hdnts", (int)out.len, out.data);
    hg_buf_free(&out);
    return 0;
}

static void on_done(uv_async_t *a)
{
    app_t *app = a->data;
    if (atomic_load(&app->finished) < app->n) return;
    /* Every worker has stopped: let the main loop end. */
    uv_close((uv_handle_t *)&app->done, on_closed);
    uv_close((uv_handle_t *)&app->switched, on_closed);
    uv_stop(a->loop);
}

/* A cold playlist's rewritten bytes go out in ~100 KB buffers that are freed as soon as the
 * kernel has them. With glibc's defaults, freeing one at the top of a heap returns the memory to
 * the kernel (trim threshold 128 KiB), and the next one is faulted in and zeroed again: about a
 * tenth of a cold request's kernel time. Keep up to 8 MiB of free heap per arena instead. Setting
 * it also fixes the mmap threshold at its default (128 KiB), so blocks of that size and more (big
 * cache entries) keep their own mappings and go back to the kernel when freed.
 * HG_MALLOC_DEFAULTS=1 skips this (for comparison). */
static void tune_malloc(void)
{
    const char *v = getenv("HG_MALLOC_DEFAULTS");
    if (v && v[0] == '1') return;
    mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "token")) return token_command(argc, argv);
    char err[512];
    int check = argc > 1 && strcmp(argv[1], "--healthcheck") == 0;
    if (check) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    hg_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return 1;
    int rc = check ? hg_config_load_probe(cfg, argc, argv, err, sizeof err)
                   : hg_config_load(cfg, argc, argv, err, sizeof err);
    if (rc != HG_CONFIG_OK) {
        hg_config_free(cfg);
        free(cfg);
        if (rc == HG_CONFIG_EXIT) return 0;
        fprintf(stderr, "hlsgate: configuration error: %s\n", err);
        return 2;
    }
    if (check) {
        rc = healthcheck(cfg);
        hg_config_free(cfg);
        free(cfg);
        return rc;
    }
    atomic_store(&hg_log_level, cfg->log_level);
    signal(SIGPIPE, SIG_IGN);
    tune_malloc();
    hg_hash_seed();
    hg_sha256_select(); /* honours HG_SHA256=generic|shani|... before any worker signs */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hlsgate: curl_global_init failed\n");
        hg_config_free(cfg);
        free(cfg);
        return 1;
    }

    /* The credential chain: chosen once, shared by every worker (origin/creds.h). */
    hg_creds_t *creds = NULL;
    if (hg_creds_new(&creds, cfg, err, sizeof err)) {
        fprintf(stderr, "hlsgate: configuration error: %s\n", err);
        curl_global_cleanup();
        hg_config_free(cfg);
        free(cfg);
        return 2;
    }
    hg_creds_set_shared(creds);

    app_t app = {0};
    g_app = &app;
    app.argc = argc;
    app.argv = argv;
    app.cfg = cfg;
    app.workers = calloc((size_t)cfg->workers, sizeof *app.workers);
    uv_thread_t *threads = calloc((size_t)cfg->workers, sizeof *threads);
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* Platform credentials are fetched and refreshed on this (main) loop through an origin of its
     * own, before any worker listens, so waiting for the first answer (bounded) holds no client
     * up. One request to the bucket first: its Date header measures clock skew, so even the
     * first URLs are signed with a corrected clock, and its TLS session is shared with workers. */
    hg_origin_t *creds_origin = hg_origin_new(&loop, cfg);
    if (creds_origin) {
        char probe[1100];
        if (hg_origin_base_url(cfg, probe, sizeof probe) == 0) hg_origin_probe_clock(creds_origin, &loop, probe, 1500);
        if (hg_creds_start(creds, &loop, creds_origin) == 0) hg_creds_wait_first(creds, &loop, 5000);
    }
    uv_async_init(&loop, &app.done, on_done);
    uv_async_init(&loop, &app.switched, on_switched);
    app.done.data = app.switched.data = &app;
    int port = cfg->listen_port;
    int status = 0;
    for (int i = 0; i < cfg->workers && app.workers && threads; i++) {
        if (hg_worker_init(&app.workers[i], cfg, i, port) != 0) {
            status = 1;
            break;
        }
        app.workers[i].on_switch = &app.switched;
        port = app.workers[i].port; /* LISTEN=...:0 picks a port once; the others share it */
        app.n++;
    }
    if (!app.workers || !threads) status = 1;
    hg_metrics_t **slots = calloc((size_t)(app.n ? app.n : 1), sizeof *slots);
    for (int i = 0; i < app.n && slots; i++) slots[i] = &app.workers[i].metrics;
    if (slots) hg_metrics_register(slots, app.n);
    if (status == 0) {
        hg_log(HG_LOG_INFO, "msg=\"listening\" addr=%s port=%d workers=%d bucket=%s endpoint=%s style=%s prefix=\"%s\" sha256=%s credentials=%s",
               cfg->listen_host, port, cfg->workers, cfg->s3_bucket, cfg->s3_endpoint,
               cfg->virtual_host ? "virtual" : "path", cfg->key_prefix, hg_sha256_impl(), hg_creds_source(creds));
    }

    uv_signal_t sigterm, sigint, sighup;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sighup);
    sigterm.data = sigint.data = sighup.data = &app;
    if (status == 0 && app.n) {
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sighup, on_hup, SIGHUP);
        for (int i = 0; i < app.n; i++) uv_thread_create(&threads[i], worker_main, &app.workers[i]);
        /* The main loop keeps handling signals while the workers drain (a second SIGTERM exits
         * at once); it ends when the last worker thread reports that it finished. */
        uv_run(&loop, UV_RUN_DEFAULT);
        for (int i = 0; i < app.n; i++) uv_thread_join(&threads[i]);
    } else {
        for (int i = 0; i < app.n; i++) {
            hg_worker_stop(&app.workers[i]);
            hg_worker_run(&app.workers[i]);
        }
        uv_close((uv_handle_t *)&app.done, on_closed);
        uv_close((uv_handle_t *)&app.switched, on_closed);
    }
    hg_creds_stop(creds);
    hg_origin_close(creds_origin);
    uv_close((uv_handle_t *)&sigterm, on_closed);
    uv_close((uv_handle_t *)&sigint, on_closed);
    uv_close((uv_handle_t *)&sighup, on_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    hg_metrics_register(NULL, 0);
    hg_creds_set_shared(NULL);
    hg_creds_free(creds);
    free(slots);
    free_unused_configs(&app, 1);
    free(app.old);
    free(app.workers);
    free(threads);
    curl_global_cleanup();
    if (status == 0) hg_log(HG_LOG_INFO, "msg=\"stopped\"");
    hg_config_free(app.cfg);
    free(app.cfg);
    return status;
}
