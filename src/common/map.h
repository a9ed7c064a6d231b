/* A string-keyed hash map (chaining, power-of-two buckets, grows at load 1). The map owns its
 * nodes and copies of the keys; it never owns the values. */
#ifndef HG_MAP_H
#define HG_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

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

/** 64-bit keyed hash (SipHash-1-3) with a key drawn once per process, so attacker-chosen keys
 *  cannot flood one bucket. The value differs between processes: never persist it. */
uint64_t hg_hash(const void *p, size_t n);
/** 64-bit FNV-1a: the same value in every process and on every replica (for ETags). Not for
 *  hash tables fed by peers: it is unkeyed. */
uint64_t hg_hash_stable(const void *p, size_t n);
/** Draw the process's hash key now (optional: hg_hash does it on first use). Thread-safe. */
void hg_hash_seed(void);
void hg_map_init(hg_map_t *m);
/** Free the nodes (not the values). */
void hg_map_free(hg_map_t *m);
/** The value stored under key, or NULL. */
void *hg_map_get(const hg_map_t *m, const char *key, size_t klen);
/** Store val under key, replacing any value. Returns 0 or HG_ENOMEM. */
int hg_map_put(hg_map_t *m, const char *key, size_t klen, void *val);
/** Remove key; returns its value or NULL. */
void *hg_map_del(hg_map_t *m, const char *key, size_t klen);
/** Call fn for every value (fn must not modify the map). */
void hg_map_each(const hg_map_t *m, void (*fn)(void *val, void *arg), void *arg);

#endif
