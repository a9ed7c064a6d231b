#include "map.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* SipHash-1-3 with a key drawn once per process: attacker-chosen keys (request paths, Host
 * headers) cannot be made to collide without knowing it, so no bucket can be flooded. */
static uint64_t K0, K1;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed(void)
{
    uint64_t k[2] = {0x736f6d6570736575ULL, 0x646f72616e646f6dULL};
    if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
        /* No entropy source: still unpredictable enough across processes. */
        k[0] ^= (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL;
        k[1] ^= (uint64_t)(uintptr_t)&k ^ (uint64_t)getpid();
    }
    K0 = k[0];
    K1 = k[1];
}

void hg_hash_seed(void)
{
    pthread_once(&seed_once, seed);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                  \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                     \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                     \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                  \
    } while (0)

uint64_t hg_hash(const void *p, size_t n)
{
    hg_hash_seed();
    const unsigned char *s = p;
    uint64_t v0 = K0 ^ 0x736f6d6570736575ULL, v1 = K1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = K0 ^ 0x6c7967656e657261ULL, v3 = K1 ^ 0x7465646279746573ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m;
        memcpy(&m, s + i, 8);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)n << 56;
    for (size_t j = 0; i + j < n; j++) b |= (uint64_t)s[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void hg_map_init(hg_map_t *m)
{
    m->b = NULL;
    m->nb = m->n = 0;
}

void hg_map_free(hg_map_t *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        hg_map_node_t *n = m->b[i];
        while (n) {
            hg_map_node_t *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->b);
    hg_map_init(m);
}

static hg_map_node_t **find(const hg_map_t *m, const char *key, size_t klen, uint64_t h)
{
    if (!m->nb) return NULL;
    hg_map_node_t **pp = &m->b[h & (m->nb - 1)];
    while (*pp) {
        hg_map_node_t *n = *pp;
        if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0) return pp;
        pp = &n->next;
    }
    return pp;
}

void *hg_map_get(const hg_map_t *m, const char *key, size_t klen)
{
    hg_map_node_t **pp = find(m, key, klen, hg_hash(key, klen));
    return pp && *pp ? (*pp)->val : NULL;
}

static int grow(hg_map_t *m)
{
    size_t nb = m->nb ? m->nb * 2 : 64;
    hg_map_node_t **b = calloc(nb, sizeof *b);
    if (!b) return HG_ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        hg_map_node_t *n = m->b[i];
        while (n) {
            hg_map_node_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

int hg_map_put(hg_map_t *m, const char *key, size_t klen, void *val)
{
    uint64_t h = hg_hash(key, klen);
    if (m->n + 1 > m->nb && grow(m)) return HG_ENOMEM;
    hg_map_node_t **pp = find(m, key, klen, h);
    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    hg_map_node_t *n = malloc(sizeof *n + klen);
    if (!n) return HG_ENOMEM;
    n->next = NULL;
    n->hash = h;
    n->val = val;
    n->klen = klen;
    memcpy(n->key, key, klen);
    *pp = n;
    m->n++;
    return 0;
}

void *hg_map_del(hg_map_t *m, const char *key, size_t klen)
{
    hg_map_node_t **pp = find(m, key, klen, hg_hash(key, klen));
    if (!pp || !*pp) return NULL;
    hg_map_node_t *n = *pp;
    void *v = n->val;
    *pp = n->next;
    free(n);
    m->n--;
    return v;
}

void hg_map_each(const hg_map_t *m, void (*fn)(void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nb; i++)
        for (hg_map_node_t *n = m->b[i]; n; n = n->next) fn(n->val, arg);
}

uint64_t hg_hash_stable(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}
