#include "metrics.h"

#include <string.h>

#include "sign/sha256.h"

static hg_metrics_t *const *g_slots;
static int g_n;

static const int STATUSES[HG_STATUS_SLOTS] = {200, 204, 302, 304, 400, 403, 404, 405, 408, 413,
                                              414, 431, 499, 500, 502, 503, 504, 505, 206, 0};
static const char *const ROUTES[HG_ROUTES] = {"hls", "hls-seg", "options", "health", "metrics", "other"};
static const double LAT_LE[HG_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,   0.25,   0.5,   1,    2.5,   10};

void hg_metrics_register(hg_metrics_t *const *slots, int n)
{
    g_slots = slots;
    g_n = n;
}

void hg_metrics_request(hg_metrics_t *m, int route, int status)
{
    int slot = HG_STATUS_SLOTS - 1; /* "other" */
    for (int i = 0; i < HG_STATUS_SLOTS - 1; i++)
        if (STATUSES[i] == status) slot = i;
    hg_count(&m->requests[route][slot], 1);
}

void hg_metrics_origin(hg_metrics_t *m, double ms)
{
    hg_count(&m->origin_requests, 1);
    int b = HG_LAT_BUCKETS;
    for (int i = 0; i < HG_LAT_BUCKETS; i++) {
        if (ms / 1000.0 <= LAT_LE[i]) {
            b = i;
            break;
        }
    }
    hg_count(&m->origin_latency[b], 1);
    hg_count(&m->origin_latency_us_sum, (unsigned long)(ms * 1000.0));
}

static unsigned long sum(size_t offset)
{
    unsigned long s = 0;
    for (int i = 0; i < g_n; i++)
        s += atomic_load_explicit((hg_counter_t *)((char *)g_slots[i] + offset), memory_order_relaxed);
    return s;
}

#define SUM(field) sum(offsetof(hg_metrics_t, field))

static int metric(hg_buf_t *out, const char *name, const char *type, const char *help, unsigned long v)
{
    return hg_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lu\n", name, help, name, type, name, v);
}

int hg_metrics_render(hg_buf_t *out)
{
    int rc = hg_buf_appends(out, "# HELP hlsgate_requests_total Requests answered, by route and status.\n"
                                 "# TYPE hlsgate_requests_total counter\n");
    for (int r = 0; r < HG_ROUTES && !rc; r++) {
        for (int s = 0; s < HG_STATUS_SLOTS && !rc; s++) {
            unsigned long v = SUM(requests[r][s]);
            if (!v) continue;
            if (STATUSES[s]) rc = hg_buf_appendf(out, "hlsgate_requests_total{route=\"%s\",status=\"%d\"} %lu\n", ROUTES[r], STATUSES[s], v);
            else rc = hg_buf_appendf(out, "hlsgate_requests_total{route=\"%s\",status=\"other\"} %lu\n", ROUTES[r], v);
        }
    }
    if (!rc) rc = metric(out, "hlsgate_origin_requests_total", "counter", "Origin transfers completed.", SUM(origin_requests));
    if (!rc) rc = hg_buf_appends(out, "# HELP hlsgate_origin_duration_seconds Time to the origin's first byte.\n"
                                     "# TYPE hlsgate_origin_duration_seconds histogram\n");
    unsigned long cum = 0;
    for (int i = 0; i <= HG_LAT_BUCKETS && !rc; i++) {
        cum += SUM(origin_latency[i]);
        if (i < HG_LAT_BUCKETS) rc = hg_buf_appendf(out, "hlsgate_origin_duration_seconds_bucket{le=\"%g\"} %lu\n", LAT_LE[i], cum);
        else rc = hg_buf_appendf(out, "hlsgate_origin_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    }
    if (!rc) rc = hg_buf_appendf(out, "hlsgate_origin_duration_seconds_sum %.6f\nhlsgate_origin_duration_seconds_count %lu\n",
                                 (double)SUM(origin_latency_us_sum) / 1e6, cum);
    if (!rc) rc = metric(out, "hlsgate_cache_hits_total", "counter", "Playlist requests answered from the cache.", SUM(cache_hits));
    if (!rc) rc = metric(out, "hlsgate_cache_misses_total", "counter", "Playlist requests that needed the origin.", SUM(cache_misses));
    if (!rc) rc = metric(out, "hlsgate_cache_evictions_total", "counter", "Cache entries evicted to stay within PLAYLIST_CACHE_BYTES.", SUM(cache_evictions));
    if (!rc) rc = metric(out, "hlsgate_cache_bytes", "gauge", "Bytes held by the playlist cache.", SUM(cache_bytes));
    if (!rc) rc = metric(out, "hlsgate_cache_entries", "gauge", "Playlists in the cache.", SUM(cache_entries));
    if (!rc) rc = metric(out, "hlsgate_presigned_urls_total", "counter", "Media URLs presigned.", SUM(presigned));
    if (!rc) rc = metric(out, "hlsgate_open_connections", "gauge", "Client connections open.", SUM(conns_open));
    if (!rc) rc = metric(out, "hlsgate_connections_total", "counter", "Client connections accepted.", SUM(conns_total));
    if (!rc) rc = metric(out, "hlsgate_bytes_out_total", "counter", "Bytes written to clients.", SUM(bytes_out));
    if (!rc) rc = metric(out, "hlsgate_origin_active", "gauge", "Origin transfers running (limit ORIGIN_MAX_FETCHES per worker).", SUM(origin_active));
    if (!rc) rc = metric(out, "hlsgate_origin_queued", "gauge", "Playlist fills waiting for an origin transfer slot.", SUM(origin_queued));
    if (!rc) rc = metric(out, "hlsgate_origin_rejected_total", "counter", "Requests answered 503 because every origin slot and the queue were taken.", SUM(origin_rejected));
    if (!rc) rc = metric(out, "hlsgate_live_urls_kept_total", "counter", "Media URLs of live playlists kept from the previous version instead of re-signed.", SUM(urls_kept));
    if (!rc) rc = metric(out, "hlsgate_fill_joins_total", "counter", "Playlist requests that joined an origin fetch already in flight.", SUM(fill_joins));
    if (!rc) rc = hg_buf_appendf(out, "# HELP hlsgate_sha256_impl_info SHA-256 implementation signing URLs (HG_SHA256 forces one).\n"
                                     "# TYPE hlsgate_sha256_impl_info gauge\nhlsgate_sha256_impl_info{impl=\"%s\"} 1\n",
                                 hg_sha256_impl());
    return rc;
}
