/* A string-keyed hash map (chaining, power-of-two buckets, grows at load 1). The map owns its
 * nodes and copies of the keys; it never owns the values. */
#ifndef HG_MAP_H
#define HG_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hg_map_node {
    struct hg_map_node *next;
    uint64_t hash;
    void *val;
    size_t klen;
    char key[];
} hg_map_node_t;

typedef struct {
    hg_map_node_t **b;
    size_t nb; /* buckets, a power of two (0 before the first insert) */
    size_t n;  /* entries */
} hg_map_t;

/** 64-bit FNV-1a. */
uint64_t hg_hash(const void *p, size_t n);
void hg_map_init(hg_map_t *m);
/** Free the nodes (not the values). */
void hg_map_free(hg_map_t *m);
/** The value stored under key, or NULL. */
void *hg_map_get(const hg_map_t *m, const char *key, size_t klen);
/** Store val under key, replacing any value. Returns 0 or -1 on OOM. */
int hg_map_put(hg_map_t *m, const char *key, size_t klen, void *val);
/** Remove key; returns its value or NULL. */
void *hg_map_del(hg_map_t *m, const char *key, size_t klen);
/** Call fn for every value (fn must not modify the map). */
void hg_map_each(const hg_map_t *m, void (*fn)(void *val, void *arg), void *arg);

#endif
