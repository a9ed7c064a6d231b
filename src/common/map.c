#include "map.h"

#include <stdlib.h>
#include <string.h>

uint64_t hg_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
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
    if (!b) return -1;
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
    if (m->n + 1 > m->nb && grow(m)) return -1;
    hg_map_node_t **pp = find(m, key, klen, h);
    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    hg_map_node_t *n = malloc(sizeof *n + klen);
    if (!n) return -1;
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
