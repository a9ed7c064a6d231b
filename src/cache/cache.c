#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "../common/err.h"

struct hg_cnode {
    hg_cnode_t *prev, *next;
    void *payload;
    size_t bytes;
    size_t klen;
    char key[];
};

void hg_cache_init(hg_cache_t *c, size_t max_bytes, hg_cache_free_fn free_fn)
{
    memset(c, 0, sizeof *c);
    hg_map_init(&c->map);
    c->max_bytes = max_bytes;
    c->free_fn = free_fn;
}

static void unlink_node(hg_cache_t *c, hg_cnode_t *n)
{
    if (n->prev) n->prev->next = n->next;
    else c->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else c->tail = n->prev;
    n->prev = n->next = NULL;
}

static void push_front(hg_cache_t *c, hg_cnode_t *n)
{
    n->prev = NULL;
    n->next = c->head;
    if (c->head) c->head->prev = n;
    c->head = n;
    if (!c->tail) c->tail = n;
}

/* Remove a node from every structure and return its payload. */
static void *remove_node(hg_cache_t *c, hg_cnode_t *n)
{
    void *p = n->payload;
    hg_map_del(&c->map, n->key, n->klen);
    unlink_node(c, n);
    c->bytes -= n->bytes;
    free(n);
    return p;
}

void hg_cache_clear(hg_cache_t *c)
{
    while (c->head) {
        void *p = remove_node(c, c->head);
        if (c->free_fn) c->free_fn(p);
    }
}

void hg_cache_free(hg_cache_t *c)
{
    hg_cache_clear(c);
    hg_map_free(&c->map);
}

/* Evict from the LRU end until `need` more bytes fit; `keep` is never evicted. */
static void evict_until(hg_cache_t *c, size_t need, const hg_cnode_t *keep)
{
    hg_cnode_t *victim = c->tail;
    while (victim && c->bytes + need > c->max_bytes) {
        hg_cnode_t *prev = victim->prev;
        if (victim != keep) {
            void *p = remove_node(c, victim);
            if (c->free_fn) c->free_fn(p);
            c->evictions++;
        }
        victim = prev;
    }
}

void hg_cache_set_max(hg_cache_t *c, size_t max_bytes)
{
    c->max_bytes = max_bytes;
    evict_until(c, 0, NULL);
}

void *hg_cache_get(hg_cache_t *c, const char *key, size_t len)
{
    hg_cnode_t *n = hg_map_get(&c->map, key, len);
    if (!n) return NULL;
    if (c->head != n) {
        unlink_node(c, n);
        push_front(c, n);
    }
    return n->payload;
}

void *hg_cache_lookup(hg_cache_t *c, const char *key, size_t len, hg_cache_fresh_fn fresh,
                      void *arg, void **stale)
{
    void *p = hg_cache_get(c, key, len);
    if (stale) *stale = NULL;
    if (p && (!fresh || fresh(p, arg))) {
        c->hits++;
        return p;
    }
    c->misses++;
    if (stale) *stale = p;
    return NULL;
}

int hg_cache_put(hg_cache_t *c, const char *key, size_t len, void *payload, size_t bytes)
{
    if (bytes > c->max_bytes / 4) return HG_EOVERFLOW;
    hg_cnode_t *old = hg_map_get(&c->map, key, len);
    if (old) {
        void *p = remove_node(c, old);
        if (p != payload && c->free_fn) c->free_fn(p);
    }
    hg_cnode_t *n = malloc(sizeof *n + (len ? len : 1));
    if (!n) return HG_ENOMEM;
    memcpy(n->key, key, len);
    n->klen = len;
    n->payload = payload;
    n->bytes = bytes + sizeof *n + len;
    evict_until(c, n->bytes, NULL);
    if (hg_map_put(&c->map, n->key, len, n)) {
        free(n);
        return HG_ENOMEM;
    }
    push_front(c, n);
    c->bytes += n->bytes;
    return 0;
}

void *hg_cache_take(hg_cache_t *c, const char *key, size_t len)
{
    hg_cnode_t *n = hg_map_get(&c->map, key, len);
    return n ? remove_node(c, n) : NULL;
}

int hg_cache_resize(hg_cache_t *c, const char *key, size_t len, size_t bytes)
{
    hg_cnode_t *n = hg_map_get(&c->map, key, len);
    if (!n) return 0;
    size_t want = bytes + sizeof *n + len;
    if (want > c->max_bytes) return HG_EOVERFLOW;
    if (want > n->bytes) evict_until(c, want - n->bytes, n);
    c->bytes = c->bytes - n->bytes + want;
    n->bytes = want;
    return 0;
}

size_t hg_cache_entries(const hg_cache_t *c)
{
    return c->map.n;
}
