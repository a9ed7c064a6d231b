#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hg_buf_init(hg_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void hg_buf_free(hg_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int hg_buf_grow(hg_buf_t *b, size_t extra)
{
    if (extra > (size_t)-1 - b->len) return HG_EOVERFLOW;
    size_t need = b->len + extra;
    if (b->max && need > b->max) return HG_EOVERFLOW;
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
    if (b->max && ncap > b->max) ncap = b->max;
    char *p = realloc(b->data, ncap);
    if (!p) return HG_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int hg_buf_reserve_exact(hg_buf_t *b, size_t extra)
{
    if (extra > (size_t)-1 - b->len) return HG_EOVERFLOW;
    size_t need = b->len + extra;
    if (b->max && need > b->max) return HG_EOVERFLOW;
    if (need <= b->cap) return 0;
    char *p = realloc(b->data, need);
    if (!p) return HG_ENOMEM;
    b->data = p;
    b->cap = need;
    return 0;
}

int hg_buf_appends(hg_buf_t *b, const char *s)
{
    return hg_buf_append(b, s, strlen(s));
}

int hg_buf_appendc(hg_buf_t *b, char c)
{
    if (b->len < b->cap) {
        if (b->max && b->len + 1 > b->max) return HG_EOVERFLOW;
        b->data[b->len++] = c;
        return 0;
    }
    return hg_buf_append(b, &c, 1);
}

int hg_buf_appendf(hg_buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return HG_EOVERFLOW;
    if ((size_t)n < sizeof tmp) return hg_buf_append(b, tmp, (size_t)n);
    int rc = hg_buf_reserve(b, (size_t)n + 1);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *hg_buf_steal(hg_buf_t *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
