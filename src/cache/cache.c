#include "cache.h"

#include <stdlib.h>
#include <string.h>

void hg_cache_init(hg_cache_t *c, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    hg_map_init(&c->map);
    c->max_bytes = max_bytes;
}

static void lru_unlink(hg_cache_t *c, hg_entry_t *e)
{
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else c->head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else c->tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(hg_cache_t *c, hg_entry_t *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->head;
    if (c->head) c->head->lru_prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

void hg_cache_detach(hg_cache_t *c, hg_entry_t *e)
{
    if (!e->cached) return;
    hg_map_del(&c->map, e->key, e->key_len);
    lru_unlink(c, e);
    c->bytes -= e->bytes;
    e->cached = 0;
}

void hg_cache_free(hg_cache_t *c)
{
    while (c->head) {
        hg_entry_t *e = c->head;
        hg_cache_detach(c, e);
        hg_entry_free(e);
    }
    hg_map_free(&c->map);
}

hg_entry_t *hg_cache_get(hg_cache_t *c, const char *key, size_t len)
{
    hg_entry_t *e = hg_map_get(&c->map, key, len);
    if (e && c->head != e) {
        lru_unlink(c, e);
        lru_push_front(c, e);
    }
    return e;
}

static void evict_until(hg_cache_t *c, size_t need, const hg_entry_t *keep)
{
    while (c->tail && c->bytes + need > c->max_bytes) {
        hg_entry_t *victim = c->tail;
        if (victim == keep) {
            if (!victim->lru_prev) break;
            victim = victim->lru_prev;
        }
        hg_cache_detach(c, victim);
        hg_entry_free(victim);
        c->evictions++;
    }
}

int hg_cache_put(hg_cache_t *c, hg_entry_t *e)
{
    if (e->bytes > c->max_bytes / 4) return -1;
    hg_entry_t *old = hg_map_get(&c->map, e->key, e->key_len);
    if (old && old != e) {
        hg_cache_detach(c, old);
        hg_entry_free(old);
    }
    evict_until(c, e->bytes, NULL);
    if (hg_map_put(&c->map, e->key, e->key_len, e)) return -1;
    lru_push_front(c, e);
    c->bytes += e->bytes;
    e->cached = 1;
    return 0;
}

void hg_cache_grow(hg_cache_t *c, hg_entry_t *e, size_t delta)
{
    if (!e->cached) {
        e->bytes += delta;
        return;
    }
    evict_until(c, delta, e);
    e->bytes += delta;
    c->bytes += delta;
}

hg_entry_t *hg_entry_new(const char *key, size_t len)
{
    hg_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = malloc(len ? len : 1);
    if (!e->key) {
        free(e);
        return NULL;
    }
    memcpy(e->key, key, len);
    e->key_len = len;
    return e;
}

void hg_entry_account(hg_entry_t *e)
{
    e->bytes = sizeof *e + e->key_len + (e->resp ? e->resp->len : 0) + (e->gz ? e->gz->len : 0) +
               (e->origin ? e->origin->len : 0);
}

void hg_entry_free(hg_entry_t *e)
{
    if (!e) return;
    hg_rbuf_unref(e->resp);
    hg_rbuf_unref(e->gz);
    hg_rbuf_unref(e->origin);
    free(e->key);
    free(e);
}
