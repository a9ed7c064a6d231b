# shellcheck shell=bash
# demo_check.sh - run inside the fresh containers (tests/fresh/test_fresh.sh, full.sh) from the
# clone's root: the README's command scripts/demo.sh, exactly as written, until its banner; then
# the master playlist through it, then TERM (a background job of a script ignores SIGINT; demo.sh
# traps both) and a clean stop. Prints "inside: demo.sh came up, ..." on success; exit 1 otherwise.
set -euo pipefail
t=$SECONDS
scripts/demo.sh >demo.out 2>&1 &
demo=$!
for _ in $(seq 300); do grep -q 'hlsgate demo is running' demo.out && break; kill -0 $demo 2>/dev/null || break; sleep 1; done
grep -q 'hlsgate demo is running' demo.out || { cat demo.out; echo "inside: demo.sh did not come up"; exit 1; }
master=$(sed -n 's/^  master playlist  //p' demo.out)
curl -sf "$master" | grep -q '^#EXTM3U' || { echo "inside: the demo's master playlist did not load"; exit 1; }
kill -TERM $demo; wait $demo || true
grep -q 'everything stopped' demo.out || { cat demo.out; echo "inside: demo.sh did not stop cleanly"; exit 1; }
echo "inside: demo.sh came up, served $master and stopped in $((SECONDS - t)) s"
