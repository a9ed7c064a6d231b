/* Minimal unit-test helpers: each check prints a line only when it fails; main() returns the
 * failure count so ctest sees the result. */
#ifndef HG_TEST_H
#define HG_TEST_H

#include <stdio.h>
#include <string.h>

static int hg_test_failures;
static int hg_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        hg_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            hg_test_failures++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(got, got_len, want, want_len)                                                    \
    do {                                                                                           \
        hg_test_checks++;                                                                          \
        size_t gl_ = (got_len), wl_ = (want_len);                                                  \
        if (gl_ != wl_ || memcmp((got), (want), gl_) != 0) {                                       \
            hg_test_failures++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: got [%.*s] want [%.*s]\n", __FILE__, __LINE__, (int)gl_,  \
                    (const char *)(got), (int)wl_, (const char *)(want));                          \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want) CHECK_MEM((got), strlen(got), (want), strlen(want))

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%s: %d checks, %d failed\n", __FILE__, hg_test_checks, hg_test_failures);         \
        return hg_test_failures ? 1 : 0;                                                           \
    } while (0)

#endif
