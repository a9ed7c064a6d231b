/* A worker: one thread's event loop with everything it owns: the HTTP server (src/http), the
 * listener, the signer, the origin (libcurl multi), the handlers' per-worker state, reload and
 * drain. Workers share nothing but the configuration (read-only) and the metrics registry. */
#ifndef HG_WORKER_H
#define HG_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "ctx.h"
#include "http/http.h"
#include "metrics.h"

typedef struct hg_worker {
    uv_loop_t loop;
    hg_http_t http;
    uv_tcp_t listener;
    int listening;
    int port; /* bound port (useful with LISTEN=...:0) */
    uv_async_t wakeup; /* another thread asked this worker to stop */
    uv_async_t reload; /* another thread handed over a new configuration */
    _Atomic(const hg_config_t *) next_cfg;
    atomic_uint cfg_seen;   /* generation (hg_config_t.gen) of the configuration in use */
    uv_async_t *on_switch;  /* told after each configuration switch (may be NULL) */
    uv_timer_t drain_timer;
    uv_prepare_t log_prepare; /* flush buffered log lines before the loop blocks ... */
    uv_check_t log_check;     /* ... and after each batch of I/O callbacks */
    hg_ctx_t ctx;
    hg_metrics_t metrics; /* this worker's slot: only this worker writes it */
    int id;
    int stopping;
    uint64_t drain_deadline;
    char common_headers[128];
} hg_worker_t;

/** Prepare a worker: loop, signer, origin, handlers' state and a listening socket (SO_REUSEPORT
 *  so several workers share the port; none when port < 0). Returns 0 or a negative uv error
 *  (logged); on error nothing is left to free. */
int hg_worker_init(hg_worker_t *w, const hg_config_t *cfg, int id, int port);
/** Serve a client on an already connected stream socket (tests and fuzzing, with a worker made
 *  with port < 0). The worker owns fd afterwards. */
void hg_worker_adopt(hg_worker_t *w, int fd);
/** Run the loop until the worker has stopped and every handle is closed; then free it all. */
void hg_worker_run(hg_worker_t *w);
/** Hand the worker a new configuration (SIGHUP). Thread-safe. The worker switches between
 *  requests: new signer, caches emptied (their URLs carry the old key), new limits. cfg must
 *  stay alive while cfg_seen is below its generation's successor. LISTEN and WORKERS cannot
 *  change this way. */
void hg_worker_reload(hg_worker_t *w, const hg_config_t *cfg);
/** Ask the worker to stop (graceful drain). Safe from any thread. */
void hg_worker_stop(hg_worker_t *w);

#endif
