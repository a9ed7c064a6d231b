/* SHA-256 compression with run-time choice of implementation (SHA-NI, AVX-512 or ARMv8 crypto
 * extensions, or mbedTLS as the portable fallback and reference), single-message and multi-lane.
 *
 * The signer works on raw states (8 words, FIPS 180-4 order H0..H7) and pre-padded messages, so
 * that work shared by many URLs (HMAC pad blocks, the constant first block of the string to sign)
 * is absorbed once. Implementations:
 *   "generic"   mbedTLS 2.28's compression function, one message at a time (any CPU)
 *   "shani"     x86-64 SHA extensions, one message at a time
 *   "shani-x2"  SHA extensions, two independent messages interleaved in hg_sha256_many
 *   "shani-x4"  SHA extensions, four independent messages interleaved in hg_sha256_many
 *   "avx512"    AVX-512, sixteen messages in the lanes of zmm registers in hg_sha256_many (needs
 *               SHA-NI too: single messages and stragglers use it)
 *   "armv8-x2"  aarch64 SHA-256 instructions, two messages interleaved in hg_sha256_many
 *   "armv8"     aarch64 SHA-256 instructions, one message at a time
 * Every implementation gives bit-identical results; they differ only in speed. The choice is
 * process-wide: hg_sha256_select() at startup (before worker threads), or lazily on first use. */
#ifndef HG_SHA256_H
#define HG_SHA256_H

#include <stddef.h>
#include <stdint.h>

/** One message of a multi-lane call: `st` is updated in place with `nblocks` 64-byte blocks read
 *  from `p` (caller owns both; distinct jobs must not share a state). */
typedef struct {
    uint32_t *st;
    const unsigned char *p;
    size_t nblocks;
} hg_sha256_job_t;

/** Choose the implementation: HG_SHA256 from the environment when set (an unknown or unsupported
 *  name falls back to "generic" with a warning in the log), otherwise the fastest one this CPU
 *  supports. Call once at startup before threads start; later calls are harmless. */
void hg_sha256_select(void);

/** Name of the implementation in use (selects lazily if needed), e.g. "shani-x4" or "generic".
 *  Static string, for the startup log and /metrics. */
const char *hg_sha256_impl(void);

/** Force implementation `name` (tests, benchmarks). Returns 0, -1 for an unknown name, -2 when
 *  this CPU lacks the instructions (the current choice is then unchanged). Not thread-safe with
 *  concurrent hashing. */
int hg_sha256_force(const char *name);

/** The i-th implementation name (i from 0), or NULL past the end; for tests and benchmarks. */
const char *hg_sha256_impl_name(size_t i);

/** Lanes interleaved by hg_sha256_many in the current implementation (1, 2, 4 or 16). */
int hg_sha256_lanes(void);

/** The SHA-256 initial state H0..H7. */
extern const uint32_t hg_sha256_iv[8];

/** Absorb `nblocks` 64-byte blocks from p into st with the current implementation. */
void hg_sha256_blocks(uint32_t st[8], const unsigned char *p, size_t nblocks);

/** Run every job to completion; independent jobs are interleaved in the implementation's lanes.
 *  Jobs may have different block counts (0 is allowed). */
void hg_sha256_many(hg_sha256_job_t *jobs, size_t n);

/** Pad a message tail in place: buf[0..len) is the tail of a message of which `prefix` bytes
 *  (a multiple of 64) were already absorbed. Appends 0x80, zeros and the 64-bit bit length;
 *  buf must have room for len + 72 bytes. Returns the number of 64-byte blocks to absorb. */
size_t hg_sha256_pad(unsigned char *buf, size_t len, uint64_t prefix);

/** Write a state as the 32-byte big-endian digest. */
void hg_sha256_digest(const uint32_t st[8], unsigned char out[32]);

/** One-shot SHA-256 of p[0..n) with the current implementation (tests, setup paths). */
void hg_sha256(const void *p, size_t n, unsigned char out[32]);

#endif
