/* Reference-counted immutable byte buffer. One worker thread owns every reference, so the count
 * is a plain int. Writers hold a reference until their uv_write completes; the cache holds one
 * while the entry lives. */
#ifndef HG_RBUF_H
#define HG_RBUF_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    int refs;
    size_t len;
    char data[];
} hg_rbuf_t;

/** New buffer of `len` bytes (contents undefined) with one reference; NULL on OOM. */
static inline hg_rbuf_t *hg_rbuf_new(size_t len)
{
    hg_rbuf_t *b = malloc(sizeof *b + (len ? len : 1));
    if (!b) return NULL;
    b->refs = 1;
    b->len = len;
    return b;
}

/** New buffer holding a copy of p[0..len). */
static inline hg_rbuf_t *hg_rbuf_copy(const void *p, size_t len)
{
    hg_rbuf_t *b = hg_rbuf_new(len);
    if (b && len) memcpy(b->data, p, len);
    return b;
}

static inline hg_rbuf_t *hg_rbuf_ref(hg_rbuf_t *b)
{
    if (b) b->refs++;
    return b;
}

static inline void hg_rbuf_unref(hg_rbuf_t *b)
{
    if (b && --b->refs == 0) free(b);
}

#endif
