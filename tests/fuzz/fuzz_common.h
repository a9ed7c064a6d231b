/* Helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Split points and modes are derived from a hash of the whole input, so an input file always
 * replays exactly the same way (a crash file is a complete reproducer) while seed files stay plain
 * HTTP requests, playlists, URIs or argv lists. */
#ifndef HG_FUZZ_COMMON_H
#define HG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Called before an invariant failure is reported (a target may print its input and state). */
static void (*fz_on_fail)(void);

/* Abort (a libFuzzer crash) with a message when an invariant does not hold. */
#define FZ_CHECK(cond, ...)                                                                     \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            if (fz_on_fail) fz_on_fail();                                                       \
            fprintf(stderr, "\n*** fuzz invariant failed at %s:%d: %s\n*** ", __FILE__, __LINE__, \
                    #cond);                                                                     \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* FNV-1a over the input. */
static inline uint64_t fz_hash(const uint8_t *d, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= d[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* xorshift64*: deterministic pseudo-random numbers seeded from the input hash. */
static inline uint64_t fz_next(uint64_t *s)
{
    if (*s == 0) *s = 0x9e3779b97f4a7c15ull;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Up to `want` distinct split offsets in (0, n), ascending, written to cuts; returns how many. */
static inline size_t fz_cuts(uint64_t *s, size_t n, size_t *cuts, size_t want)
{
    size_t k = 0;
    if (n < 2) return 0;
    for (size_t i = 0; i < want; i++) {
        size_t c = 1 + (size_t)(fz_next(s) % (n - 1));
        size_t j = k;
        while (j > 0 && cuts[j - 1] > c) j--;
        if (j > 0 && cuts[j - 1] == c) continue;
        for (size_t m = k; m > j; m--) cuts[m] = cuts[m - 1];
        cuts[j] = c;
        k++;
    }
    return k;
}

/* Print bytes for a diagnostic, escaping anything unprintable. */
static inline void fz_dump(const char *label, const void *p, size_t n)
{
    const unsigned char *b = p;
    fprintf(stderr, "%s (%zu bytes): \"", label, n);
    for (size_t i = 0; i < n && i < 4096; i++) {
        if (b[i] == '\\') fputs("\\\\", stderr);
        else if (b[i] == '\r') fputs("\\r", stderr);
        else if (b[i] == '\n') fputs("\\n\"\n  \"", stderr);
        else if (b[i] >= 0x20 && b[i] < 0x7f) fputc(b[i], stderr);
        else fprintf(stderr, "\\x%02x", b[i]);
    }
    fputs(n > 4096 ? "\"...\n" : "\"\n", stderr);
}

#endif
