/* Growable byte buffer with a hard maximum.
 *
 * Owner: whoever embeds the hg_buf_t. The buffer owns `data` and frees it in hg_buf_free().
 * Every append checks `max`, so a hostile input can never grow a buffer without bound:
 * an append past the cap fails with HG_EOVERFLOW and leaves the buffer unchanged. */
#ifndef HG_BUF_H
#define HG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len; 0 means unlimited (only for internal, trusted data) */
} hg_buf_t;

/** Initialise an empty buffer that may grow to at most `max` bytes (0 = no limit). */
void hg_buf_init(hg_buf_t *b, size_t max);
/** Release the storage; the buffer is empty and reusable afterwards. */
void hg_buf_free(hg_buf_t *b);
/** hg_buf_reserve's slow path: grow (doubling) to hold `extra` more bytes. */
int hg_buf_grow(hg_buf_t *b, size_t extra);
/** Make room for `extra` more bytes. Returns 0, HG_EOVERFLOW past max, or HG_ENOMEM. Inline:
 *  it runs several times per URI of a playlist, and almost always has the room already (cap
 *  never exceeds max, so room within cap is always allowed). */
static inline int hg_buf_reserve(hg_buf_t *b, size_t extra)
{
    return extra <= b->cap - b->len ? 0 : hg_buf_grow(b, extra);
}
/** Make room for `extra` more bytes, growing to exactly len + extra when it must grow (not to a
 * power of two: a buffer sized to stay under malloc's mmap threshold keeps doing so). Returns 0,
 * HG_EOVERFLOW past max, or HG_ENOMEM. */
int hg_buf_reserve_exact(hg_buf_t *b, size_t extra);
/** Copy n bytes (no overlap). Inline for the short copies of the per-URI path (lines, names,
 *  keys): two overlapping moves instead of a call into memcpy's size dispatch. */
static inline void hg_copy_short(void *d, const void *s, size_t n)
{
    char *dp = d;
    const char *sp = s;
    if (n >= 16 && n <= 32) {
        uint64_t a[2], z[2];
        memcpy(a, sp, 16);
        memcpy(z, sp + n - 16, 16);
        memcpy(dp, a, 16);
        memcpy(dp + n - 16, z, 16);
    } else if (n >= 8 && n < 16) {
        uint64_t a, z;
        memcpy(&a, sp, 8);
        memcpy(&z, sp + n - 8, 8);
        memcpy(dp, &a, 8);
        memcpy(dp + n - 8, &z, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, z;
        memcpy(&a, sp, 4);
        memcpy(&z, sp + n - 4, 4);
        memcpy(dp, &a, 4);
        memcpy(dp + n - 4, &z, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) dp[i] = sp[i];
    } else {
        memcpy(dp, sp, n);
    }
}
/** Append n bytes. Returns 0, HG_EOVERFLOW or HG_ENOMEM (buffer unchanged on error). */
static inline int hg_buf_append(hg_buf_t *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    int rc = hg_buf_reserve(b, n);
    if (rc) return rc;
    hg_copy_short(b->data + b->len, p, n);
    b->len += n;
    return 0;
}
/** Append a NUL-terminated string (the NUL is not stored). */
int hg_buf_appends(hg_buf_t *b, const char *s);
/** Append one byte. */
int hg_buf_appendc(hg_buf_t *b, char c);
/** Append printf-formatted text. */
int hg_buf_appendf(hg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Forget the contents but keep the storage. */
static inline void hg_buf_reset(hg_buf_t *b)
{
    b->len = 0;
}
/** Take ownership of the storage: returns data (may be NULL when empty) and empties b. */
char *hg_buf_steal(hg_buf_t *b);

#endif
