#!/usr/bin/env bash
# Run every test: unit, SigV4 cross-check, integration (real nginx origin), end-to-end (Ceph RGW,
# Chromium, ffmpeg) and container tests, first on a normal build, then again on an ASan+UBSan
# build (LeakSanitizer fails any run of hlsgate that leaks); then each fuzz target for a minute.
# Prints one closing line: "test.sh: N passed, M failed".
#
# A run leaves the tree and the temp folder as it found them, and that is checked: the tests run
# with TMPDIR set to a folder of their own, which must be empty at the end; /tmp must have no new
# hg-* / hlsgate-* entries; `git status --porcelain --ignored` must show nothing new except the
# build folders (build/, build-asan/, which hold their build.log) and the fuzzers' build folder.
set -uo pipefail
cd "$(dirname "$0")/.."
# Installs only what is missing (a no-op on a prepared machine), so this one command also works
# on a fresh Debian 12 machine.
bash scripts/setup.sh test || exit 1
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

tree_state() { git status --porcelain --ignored 2>/dev/null | grep -vE '^!! (build|build-asan|build-fuzz)/$' | sort; }
tmp_state() { find /tmp -mindepth 1 -maxdepth 1 \( -name 'hg-*' -o -name 'hlsgate-*' \) 2>/dev/null | sort; }
tree_before=$(tree_state)
tmp_before=$(tmp_state)
# short name: Ceph puts its admin sockets (at most 107-byte paths) a few folders below it
HG_TEST_TMP=$(mktemp -d /tmp/hg-test.XXXXXX) || exit 1
export TMPDIR=$HG_TEST_TMP
# no __pycache__ folders in the tree: on a clean clone they would be new files (leftovers)
export PYTHONDONTWRITEBYTECODE=1

run_suite() { # name builddir cmake-args...
  local name=$1 dir=$2
  shift 2
  echo "== $name: configure and build ($dir)"
  if ! cmake -S . -B "$dir" "$@" >/dev/null || ! cmake --build "$dir" -j"$JOBS" >"$dir/build.log" 2>&1; then
    tail -40 "$dir/build.log" 2>/dev/null
    echo "== $name: BUILD FAILED"
    failed=$((failed + 1))
    return
  fi
  echo "== $name: ctest"
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j1 2>&1 | tee "$log"
  local line total bad
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then total=0; bad=1; fi
  passed=$((passed + total - bad))
  failed=$((failed + bad))
  rm -f "$log"
}

run_suite "release" build -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DHG_SANITIZE=ON
# Fuzzing: each libFuzzer target for FUZZ_SECONDS (60 by default) under ASan+UBSan, after
# replaying the seed corpora and the regression inputs.
echo "== fuzz: tests/fuzz/run.sh ${FUZZ_SECONDS:-60}"
if bash tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
# Left behind?
left=$(find "$HG_TEST_TMP" -mindepth 1 -maxdepth 1 2>/dev/null | sort)
tmp_new=$(comm -13 <(echo "$tmp_before") <(tmp_state | grep -vxF "$HG_TEST_TMP"))
tree_new=$(comm -13 <(echo "$tree_before") <(tree_state))
rm -rf "$HG_TEST_TMP"
if [ -n "$left$tmp_new$tree_new" ]; then
  echo "== leftovers: the run left files behind:"
  printf '%s\n' $left $tmp_new "$tree_new" | sed '/^$/d; s/^/   /'
  failed=$((failed + 1))
else
  echo "== leftovers: none (temp folder and tree as before)"
  passed=$((passed + 1))
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
