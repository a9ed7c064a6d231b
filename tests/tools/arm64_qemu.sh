#!/usr/bin/env bash
# Cross-compile the SHA-256 and SigV4 unit tests for aarch64 (Debian's gcc-aarch64-linux-gnu and
# libmbedtls-dev:arm64) and run them under qemu-user: the ARMv8 SHA-256 path (sha256_armv8.c)
# against mbedTLS, and the presigner's known answers and batch API on every implementation.
#
#   tests/tools/arm64_qemu.sh OUTDIR        (ctest: sha256.arm64.qemu)
#
# Exits 77 (skipped) when the cross compiler, the arm64 mbedTLS or qemu-aarch64-static is missing
# (scripts/setup.sh installs them); otherwise the tests' own status.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:?usage: arm64_qemu.sh OUTDIR}
cc=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu
if ! command -v "$cc" >/dev/null || ! command -v qemu-aarch64-static >/dev/null ||
   [ ! -e /usr/lib/aarch64-linux-gnu/libmbedcrypto.so ]; then
    echo "arm64: $cc, qemu-aarch64-static or libmbedtls-dev:arm64 missing (scripts/setup.sh test installs them)"
    exit 1
fi
mkdir -p "$out"
flags=(-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Werror
       -I"$root/src" -I"$root/tests/unit")
sign=("$root"/src/sign/sha256*.c)
common=("$root/src/common/log.c" "$root/src/common/buf.c" "$root/src/common/pct.c" "$root/src/common/query.c")
"$cc" "${flags[@]}" "$root/tests/unit/test_sha256.c" "${sign[@]}" "${common[@]}" -lmbedcrypto \
    -o "$out/test_sha256.arm64"
"$cc" "${flags[@]}" "$root/tests/unit/test_sigv4.c" "${sign[@]}" "$root"/src/sign/sigv4*.c \
    "${common[@]}" -lmbedcrypto -o "$out/test_sigv4.arm64"
status=0
for t in test_sha256 test_sigv4; do
    # unset: the implementation list is the test's own, not the caller's HG_SHA256
    env -u HG_SHA256 qemu-aarch64-static -L "$sysroot" "$out/$t.arm64" || status=$?
done
exit $status
