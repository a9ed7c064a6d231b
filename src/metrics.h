/* Prometheus metrics. Each worker writes only its own slot (single writer, relaxed atomics, no
 * locks on the request path); GET /metrics sums every worker's slot. */
#ifndef HG_METRICS_H
#define HG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/buf.h"

enum { HG_ROUTE_HLS, HG_ROUTE_SEG, HG_ROUTE_OPTIONS, HG_ROUTE_HEALTH, HG_ROUTE_METRICS, HG_ROUTE_OTHER, HG_ROUTES };
#define HG_STATUS_SLOTS 20
#define HG_LAT_BUCKETS 12

typedef atomic_ulong hg_counter_t;

typedef struct {
    hg_counter_t requests[HG_ROUTES][HG_STATUS_SLOTS];
    hg_counter_t origin_requests;
    hg_counter_t origin_latency[HG_LAT_BUCKETS + 1]; /* cumulative at export; +Inf last */
    hg_counter_t origin_latency_us_sum;
    hg_counter_t cache_hits, cache_misses, cache_evictions;
    hg_counter_t cache_bytes, cache_entries; /* gauges */
    hg_counter_t presigned;
    hg_counter_t conns_open; /* gauge */
    hg_counter_t conns_total;
    hg_counter_t bytes_out;
    hg_counter_t origin_active, origin_queued; /* gauges: transfers running, fills waiting */
    hg_counter_t origin_rejected;              /* 503: every transfer slot and the queue taken */
    hg_counter_t fill_joins;                   /* requests that joined a fill in flight */
    hg_counter_t urls_kept;                    /* live: media URLs kept from the previous version */
} hg_metrics_t;

/** Register every worker's slot (called once by main before the workers start; the array must
 *  outlive them). */
void hg_metrics_register(hg_metrics_t *const *slots, int n);
/** Add v to a counter owned by the calling worker. */
static inline void hg_count(hg_counter_t *c, unsigned long v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
/** Set a gauge owned by the calling worker. */
static inline void hg_gauge(hg_counter_t *c, unsigned long v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}
/** Count one finished request. */
void hg_metrics_request(hg_metrics_t *m, int route, int status);
/** Count one origin transfer and its time to first byte. */
void hg_metrics_origin(hg_metrics_t *m, double ms);
/** Append the Prometheus text exposition of all workers to out. */
int hg_metrics_render(hg_buf_t *out);

#endif
