/* Internal to src/sign/sha256*.c: the architecture-specific kernels behind sha256.h. */
#ifndef HG_SHA256_INT_H
#define HG_SHA256_INT_H

#include "sha256.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HG_SHA256_HAVE_SHANI 1
#else
#define HG_SHA256_HAVE_SHANI 0
#endif

#if defined(__aarch64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define HG_SHA256_HAVE_ARMV8 1
#else
#define HG_SHA256_HAVE_ARMV8 0
#endif

#if HG_SHA256_HAVE_ARMV8
/** 1 when the kernel reports the ARMv8 SHA-256 instructions (HWCAP_SHA2). */
int hg_sha256_armv8_supported(void);
/** Absorb n blocks with the ARMv8 SHA-256 instructions, one message. */
void hg_sha256_armv8_blocks(uint32_t st[8], const unsigned char *p, size_t n);
/** Run jobs with two messages interleaved. */
void hg_sha256_armv8_many2(hg_sha256_job_t *jobs, size_t n);
#endif

#if HG_SHA256_HAVE_SHANI
/** 1 when CPUID reports SHA, SSSE3 and SSE4.1 (and the OS saves XMM state). */
int hg_sha256_shani_supported(void);
/** Absorb n blocks with the SHA extensions, one message. */
void hg_sha256_shani_blocks(uint32_t st[8], const unsigned char *p, size_t n);
/** Run jobs with two / four messages interleaved (fewer when fewer remain). */
void hg_sha256_shani_many2(hg_sha256_job_t *jobs, size_t n);
void hg_sha256_shani_many4(hg_sha256_job_t *jobs, size_t n);
/** 1 when the CPU has SHA-NI and AVX512F/BW and the OS enabled the ZMM state. */
int hg_sha256_avx512_supported(void);
/** Run jobs 16 lanes at a time on AVX-512 (stragglers on SHA-NI). */
void hg_sha256_avx512_many(hg_sha256_job_t *jobs, size_t n);
#endif

/* SHA-256 round constants (sha256.c), for every implementation. */
extern const uint32_t hg_sha256_k[64];

#endif
