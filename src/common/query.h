/* Request targets and query strings: the one place that splits "path?query" and walks
 * "a=1&b=2" parameters. Nothing here decodes unless asked; pointers point into the caller's
 * bytes. */
#ifndef HG_QUERY_H
#define HG_QUERY_H

#include <stddef.h>

#include "buf.h"

/** Split target[0..len) at the first '?': returns the path's length; *query and *qlen get the
 *  bytes after the '?' (NULL and 0 when there is no '?'). Either out pointer may be NULL. */
size_t hg_target_split(const char *target, size_t len, const char **query, size_t *qlen);

/** True when target[0..len) has exactly the path `path` (with or without a query). */
int hg_target_is(const char *target, size_t len, const char *path);

typedef struct {
    const char *p, *end;
} hg_query_iter_t;

/** Start walking q[0..qlen) (the part after '?'; q may be NULL when qlen is 0). */
void hg_query_iter(hg_query_iter_t *it, const char *q, size_t qlen);

/** The next non-empty parameter, raw (not decoded): name[0..nlen), value[0..vlen); *val is NULL
 *  when the parameter has no '='. (the whole parameter is name[0..] up to the value's end).
 *  Returns 1, or 0 at the end. */
int hg_query_next(hg_query_iter_t *it, const char **name, size_t *nlen, const char **val,
                  size_t *vlen);

/** Find the first parameter named `param` in q[0..qlen); *raw and *raw_len get its raw value.
 *  When out is not NULL the percent-decoded value is appended to it. Returns 1 when found, 0 when
 *  absent, HG_EINVAL on a bad escape, or an hg_buf error from out. */
int hg_query_find(const char *q, size_t qlen, const char *param, hg_buf_t *out, const char **raw,
                  size_t *raw_len);

/** True when name[0..nlen) equals lit, ignoring ASCII case. */
int hg_name_eq_ci(const char *name, size_t nlen, const char *lit);

#endif
