/* gzip (RFC 1952) encoding with zlib: one-shot for cached bodies, streaming for responses that
 * are sent while the origin is still arriving. */
#ifndef HG_GZ_H
#define HG_GZ_H

#include <stddef.h>

#include "buf.h"

#define HG_GZ_LEVEL 6

/** Append the gzip encoding of p[0..n) to out. Returns 0 or an hg_buf / zlib error (< 0). */
int hg_gzip(hg_buf_t *out, const char *p, size_t n);

typedef struct hg_gz_stream hg_gz_stream_t;

/** A streaming gzip encoder; NULL on OOM. */
hg_gz_stream_t *hg_gz_stream_new(void);
/** Compress p[0..n) and append everything decodable so far to out (a sync flush, so the client
 *  can start parsing at once); `finish` writes the trailer. Returns 0 or < 0. */
int hg_gz_stream_write(hg_gz_stream_t *z, const char *p, size_t n, int finish, hg_buf_t *out);
void hg_gz_stream_free(hg_gz_stream_t *z);

#endif
