/* Internal to the rewriter (rewrite.c: lines and tags; define.c: EXT-X-DEFINE variables). */
#ifndef HG_REWRITE_INT_H
#define HG_REWRITE_INT_H

#include "rewrite.h"

struct hg_rw_var {
    size_t name, name_len, val, val_len;
    int deferred; /* QUERYPARAM/IMPORT without a request query: value unknown here */
    int imported; /* defined by IMPORT */
};

#define MAX_VARS 256

typedef struct {
    size_t name, name_len; /* offsets into the line */
    size_t val, val_len;   /* for a quoted string: the bytes between the quotes */
    int quoted;
} hg_rw_attr_t;

/* Next attribute of an attribute list at *pos: 1 with *a filled, 0 at the end, -1 malformed. */
int hg_rw_attr_next(const char *s, size_t n, size_t *pos, hg_rw_attr_t *a);
int hg_rw_is_ws(char c);
/* Record a sticky error; returns rc. */
int hg_rw_fail(hg_rewriter_t *rw, int rc);
/* Append to out; a buffer error becomes the rewriter's sticky error. */
int hg_rw_put(hg_rewriter_t *rw, hg_buf_t *out, const char *p, size_t n);
/* An EXT-X-DEFINE line s[0..n) whose name ends at `colon`: record the variable. */
int hg_rw_define(hg_rewriter_t *rw, const char *s, size_t n, size_t colon);
/* Substitute the references of u[0..n) into rw->subst: 0 done, 1 deferred (left for the
 * player), or a negative error. */
int hg_rw_substitute(hg_rewriter_t *rw, const char *u, size_t n);
/* A nested playlist's query plus the variables carried to it (in rw->carry). */
int hg_rw_carry_vars(hg_rewriter_t *rw, const char **q, size_t *qn);

#endif
