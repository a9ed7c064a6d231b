#include "gz.h"

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

struct hg_gz_stream {
    z_stream z;
};

/* Run deflate over all input with `flush`, growing out as needed. */
static int pump(z_stream *z, const char *p, size_t n, int flush, hg_buf_t *out)
{
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    for (;;) {
        size_t room = deflateBound(z, z->avail_in) + 64;
        int rc = hg_buf_reserve(out, room);
        if (rc) return rc;
        z->next_out = (Bytef *)(out->data + out->len);
        z->avail_out = (uInt)(out->cap - out->len);
        uInt before = z->avail_out;
        int zr = deflate(z, flush);
        out->len += before - z->avail_out;
        if (zr == Z_STREAM_END) return 0;
        if (zr != Z_OK && zr != Z_BUF_ERROR) return -1;
        if (z->avail_in == 0 && z->avail_out != 0) return 0;
    }
}

int hg_gzip(hg_buf_t *out, const char *p, size_t n)
{
    z_stream z = {0};
    /* windowBits 15 + 16 selects the gzip wrapper. */
    if (deflateInit2(&z, HG_GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t start = out->len;
    int rc = pump(&z, p, n, Z_FINISH, out);
    deflateEnd(&z);
    if (rc) out->len = start;
    return rc;
}

hg_gz_stream_t *hg_gz_stream_new(void)
{
    hg_gz_stream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (deflateInit2(&s->z, HG_GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(s);
        return NULL;
    }
    return s;
}

int hg_gz_stream_write(hg_gz_stream_t *s, const char *p, size_t n, int finish, hg_buf_t *out)
{
    return pump(&s->z, p, n, finish ? Z_FINISH : Z_SYNC_FLUSH, out);
}

void hg_gz_stream_free(hg_gz_stream_t *s)
{
    if (!s) return;
    deflateEnd(&s->z);
    free(s);
}
