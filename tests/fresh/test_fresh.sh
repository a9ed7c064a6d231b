#!/usr/bin/env bash
# test_fresh.sh - "works on a fresh Debian 12", tested: in a podman container from the locally
# built Debian base (docker/make-base-image.sh: debootstrap minbase bookworm), with nothing but a
# clean clone of the repository's HEAD, run what the README says:
#
#     scripts/setup.sh e2e           (Debian's own Node.js 18 and npm, from Debian's mirror)
#     cmake -S . -B build && cmake --build build
#     ctest -R e2e.rgw_players       (Ceph RGW, ffmpeg, hls.js in Debian's Chromium)
#
# and check that the Node.js that ran the player test is Debian's; then scripts/demo.sh until its
# banner (tests/fresh/demo_check.sh). The container uses the host network (this machine reaches
# only Debian's and npm's registries). It trusts what the host trusts (CA files, proxies) and sees
# the host's apt download cache as a throw-away overlay (tests/fresh/lib.sh, shared with
# tests/fresh/full.sh); nothing else of the host is visible inside.
#
# usage: tests/fresh/test_fresh.sh
# env:   HG_FRESH_COMMIT   commit or ref to test instead of HEAD (e.g. main)
#        HG_FRESH_PROFILE  setup profile to run [e2e]
# Exit 0 pass, 1 fail, 77 skipped (not root, or podman/debootstrap/git missing).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROFILE=${HG_FRESH_PROFILE:-e2e}
say() { echo "fresh: $*"; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
t_start=$SECONDS
fresh_prepare 0
args=("${fresh_args[@]}" --network host)

# Inside: exactly the README's steps, timed; then which node ran the player test.
cat >"$work/inside.sh" <<EOF
set -euo pipefail
t=\$SECONDS
echo "inside: Debian \$(cat /etc/debian_version), \$(dpkg-query -W -f='\${binary:Package}\n' | wc -l) packages"
bash scripts/setup.sh $PROFILE
echo "inside: setup $PROFILE took \$((SECONDS - t)) s, \$(dpkg-query -W -f='\${binary:Package}\n' | wc -l) packages, \$(du -sxm /usr | cut -f1) MB in /usr"
t=\$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >build/build.log 2>&1 || { tail -40 build/build.log; exit 1; }
echo "inside: build took \$((SECONDS - t)) s"
t=\$SECONDS
ctest --test-dir build -R '^e2e\.rgw_players\$' --output-on-failure
echo "inside: e2e.rgw_players took \$((SECONDS - t)) s"
echo "inside: node \$(node --version) from \$(dpkg-query -S "\$(readlink -f "\$(command -v node)")" | cut -d: -f1) \$(dpkg-query -W -f='\${Version}' nodejs)"
echo "inside: playwright-core \$(node -p 'require("./tests/e2e/node_modules/playwright-core/package.json").version'), chromium \$(dpkg-query -W -f='\${Version}' chromium)"
bash /run/demo_check.sh
EOF
args+=(-v "$work/inside.sh:/run/inside.sh:ro" -v "$HERE/demo_check.sh:/run/demo_check.sh:ro"
  "$IMAGE" bash /run/inside.sh)

say "podman ${args[*]}"
podman "${args[@]}" 2>&1 | tee "$work/out.log"
rc=${PIPESTATUS[0]}
fail=0
if [ "$rc" != 0 ]; then
  say "FAILED: the README's steps failed in the fresh container (exit $rc)"
  fail=1
fi
if [ "$fail" = 0 ]; then
  # the player test must have run on Debian's own Node.js 18, not on something else
  grep -Eq '^inside: node v18\.[0-9.]+ from nodejs [0-9.]+\+dfsg' "$work/out.log" ||
    { say "FAILED: the player test did not run on Debian's nodejs 18"; fail=1; }
  grep -Eq '100% tests passed, 0 tests failed out of 1' "$work/out.log" ||
    { say "FAILED: e2e.rgw_players did not pass"; fail=1; }
  grep -q '^inside: demo.sh came up' "$work/out.log" ||
    { say "FAILED: scripts/demo.sh did not run as the README says"; fail=1; }
  ! grep -q 'The following tests did not run' "$work/out.log" ||
    { say "FAILED: e2e.rgw_players was skipped"; fail=1; }
fi
say "took $((SECONDS - t_start)) s"
[ "$fail" = 0 ] && say "PASSED" || say "FAILED"
exit "$fail"
