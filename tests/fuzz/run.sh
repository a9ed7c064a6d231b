#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan+LSan) and fuzz each one for SECONDS (default 60).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]       TARGET: http rewrite uri config sha256 (default: all)
#
# For each target: replay tests/fuzz/regressions/<target>/ and the seed corpus once, then fuzz for
# SECONDS starting from a temporary copy of tests/fuzz/corpus/<target>/ (the repository is never
# written to). Exits non-zero when any target crashed, leaked, hit UB or broke an invariant.
# Crash inputs are kept in $HG_FUZZ_BUILD/artifacts/; reproduce one with
#   $HG_FUZZ_BUILD/tests/fuzz_<target> <file>
# Environment: HG_FUZZ_BUILD (build dir, default <repo>/build-fuzz), CC (default clang),
# FUZZ_JOBS (build parallelism, default: number of cores).
set -euo pipefail

SECONDS_PER_TARGET=${1:-60}
shift || true
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_DIR=$ROOT/tests/fuzz
BUILD=${HG_FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(http rewrite uri config sha256)
CC=${CC:-clang}
case "$CC" in *clang*) ;; *) CC=clang ;; esac

if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi

t0=$(date +%s)
if ! grep -qs '^HG_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
    CC=$CC cmake -S "$ROOT" -B "$BUILD" -DHG_TESTS=ON -DHG_FUZZ=ON -DHG_SANITIZE=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j "${FUZZ_JOBS:-$(nproc)}" --target fuzz >/dev/null
echo "fuzz: built in $(( $(date +%s) - t0 ))s ($BUILD)"

ARTIFACTS=$BUILD/artifacts
mkdir -p "$ARTIFACTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hg-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Extra libFuzzer flags per target.
flags_for() {
    case "$1" in
        http) echo "-max_len=8192" ;;
        rewrite) echo "-max_len=16384" ;;
        *) echo "" ;;
    esac
}

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    bin=$BUILD/tests/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: no target fuzz_$t" >&2
        failed+=("$t(missing)")
        continue
    fi
    dirs=()
    for d in "$FUZZ_DIR/regressions/$t" "$FUZZ_DIR/corpus/$t"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    dict=()
    [ -f "$FUZZ_DIR/$t.dict" ] && dict=(-dict="$FUZZ_DIR/$t.dict")
    log=$WORK/$t.log

    # 1. Known inputs, once each: a fixed bug stays fixed.
    if ! "$bin" -runs=0 -timeout=30 "${dirs[@]}" >"$log" 2>&1; then
        echo "fuzz: $t FAILED replaying regressions/ and corpus/:" >&2
        grep -E "ERROR|runtime error|invariant failed|Running:|#[0-9]+ 0x" "$log" | head -40 >&2 || tail -40 "$log" >&2
        failed+=("$t(replay)")
        continue
    fi

    # 2. Fuzz from a throw-away copy of the seed corpus.
    mkdir -p "$WORK/corpus-$t"
    [ -d "$FUZZ_DIR/corpus/$t" ] && cp -r "$FUZZ_DIR/corpus/$t/." "$WORK/corpus-$t/"
    # shellcheck disable=SC2046
    if "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" "${dict[@]}" $(flags_for "$t") \
        "$WORK/corpus-$t" >"$log" 2>&1; then
        line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 | sed -E "s/^#[0-9]+[[:space:]]+DONE +//; s/ lim: [0-9]+//" || true)
        summary+=("$t: ${line:-done}")
    else
        echo "fuzz: $t FAILED:" >&2
        grep -E -A30 "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant failed" "$log" | head -60 >&2 || tail -60 "$log" >&2
        grep -E "Test unit written" "$log" >&2 || true
        failed+=("$t")
    fi
done

for s in "${summary[@]}"; do echo "fuzz: $s"; done
echo "fuzz: total $(( $(date +%s) - t0 ))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $ARTIFACTS)" >&2
    exit 1
fi
echo "fuzz: all targets clean"
