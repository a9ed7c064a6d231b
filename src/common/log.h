/* logfmt logging to stderr: one line per event, `ts=... level=... ` followed by the caller's
 * key=value pairs. Thread-safe (each line is one write(2)). */
#ifndef HG_LOG_H
#define HG_LOG_H

#include <stddef.h>

enum { HG_LOG_DEBUG = 0, HG_LOG_INFO = 1, HG_LOG_WARN = 2, HG_LOG_ERROR = 3 };

/** Lines below this level are dropped (LOG_LEVEL). Atomic: the main thread changes it on reload
 *  while workers read it. */
extern _Atomic int hg_log_level;

/** Parse "debug|info|warn|error"; returns the level or -1. */
int hg_log_parse_level(const char *s);

/** Write one line: the caller's format must produce space-separated key=value pairs. */
void hg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** In this thread, collect lines in a buffer until hg_log_flush (worker threads call this at
 *  the end of every loop turn). */
void hg_log_buffer_begin(void);
/** Write the lines collected by this thread. */
void hg_log_flush(void);
/** Flush and stop buffering in this thread. */
void hg_log_buffer_end(void);

/** Append `s` to dst[0..cap) as a logfmt value: quoted when it contains spaces, quotes, '=' or
 *  control bytes, with control and non-ASCII bytes escaped as \xNN so log lines stay one line.
 *  Always NUL-terminates; truncates with "..." when too long. Returns dst. */
char *hg_log_quote(char *dst, size_t cap, const char *s, size_t len);

#endif
