#!/usr/bin/env bash
# test_fresh.sh - "works on a fresh Debian 12", tested: in a podman container from the locally
# built Debian base (docker/make-base-image.sh: debootstrap minbase bookworm), with nothing but a
# clean clone of the repository's HEAD, run what the README says:
#
#     scripts/setup.sh e2e           (Debian's own Node.js 18 and npm, from Debian's mirror)
#     cmake -S . -B build && cmake --build build
#     ctest -R e2e.rgw_players       (Ceph RGW, ffmpeg, hls.js in Debian's Chromium)
#
# and check that the Node.js that ran the player test is Debian's. The container uses the host
# network (this machine reaches only Debian's and npm's registries). It trusts what the host
# trusts: the files named by SSL_CERT_FILE and NODE_EXTRA_CA_CERTS are mounted read-only and the
# variables passed through, as are http(s)_proxy / no_proxy and apt's proxy settings.
#
# Download cache: the host's /var/cache/apt/archives is mounted as an overlay (podman ":O"): apt
# finds the .deb files the host already has (it checks their hashes against the fresh package
# lists), anything else comes from the mirror, and every write is thrown away with the container.
# Nothing else of the host is visible inside.
#
# usage: tests/fresh/test_fresh.sh
# env:   HG_FRESH_COMMIT   commit or ref to test instead of HEAD (e.g. main)
#        HG_FRESH_PROFILE  setup profile to run [e2e]
# Exit 0 pass, 1 fail, 77 skipped (not root, or podman/debootstrap/git missing).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
IMAGE=docker.io/library/debian:bookworm-slim
PROFILE=${HG_FRESH_PROFILE:-e2e}
say() { echo "fresh: $*"; }

[ "$(id -u)" = 0 ] || { say "SKIPPED: needs root (podman storage and debootstrap)"; exit 77; }
for c in podman debootstrap git; do
  command -v "$c" >/dev/null || { say "FAILED: $c missing (scripts/setup.sh test installs it)"; exit 1; }
done

# shellcheck source=../../docker/podman.sh
source "$REPO/docker/podman.sh"
hg_podman_env || { say "FAILED: podman storage"; exit 1; }

t_start=$SECONDS
work=$(mktemp -d /var/tmp/hg-fresh.XXXXXX)
name="hg-fresh-$$-$(date +%s)"
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# containers of earlier runs that were killed before their clean-up (the label names the PID)
podman ps -a --filter label=hlsgate-fresh --format '{{.Names}} {{index .Labels "hlsgate-fresh"}}' 2>/dev/null |
  while read -r n pid; do
    [ -n "$pid" ] && [ ! -e "/proc/$pid" ] && podman rm -f -t 0 "$n" >/dev/null 2>&1
  done

bash "$REPO/docker/make-base-image.sh" || { say "FAILED: base image"; exit 1; }

commit=$(git -C "$REPO" rev-parse --verify "${HG_FRESH_COMMIT:-HEAD}^{commit}") ||
  { say "FAILED: no commit ${HG_FRESH_COMMIT:-HEAD}"; exit 1; }
git clone -q --no-checkout "$REPO" "$work/src" && git -C "$work/src" checkout -q "$commit" ||
  { say "FAILED: git clone"; exit 1; }
rm -rf "$work/src/.git" # the container gets the files of one commit, nothing else
say "clean clone of $(git -C "$REPO" log -1 --format='%h %s' "$commit")"

args=(run --name "$name" --label "hlsgate-fresh=$$" --network host --shm-size 1g
  -v "$work/src:/src" -w /src
  -v /var/cache/apt/archives:/var/cache/apt/archives:O)
ca=0
for var in SSL_CERT_FILE NODE_EXTRA_CA_CERTS; do
  f=${!var:-}
  if [ -n "$f" ] && [ -r "$f" ]; then
    ca=$((ca + 1))
    args+=(-v "$(readlink -f "$f"):/run/host-ca/$ca.pem:ro" -e "$var=/run/host-ca/$ca.pem")
  fi
done
for var in http_proxy https_proxy HTTP_PROXY HTTPS_PROXY; do
  [ -n "${!var:-}" ] && args+=(-e "$var=${!var}")
done
if [ -n "${http_proxy:-}${https_proxy:-}${HTTP_PROXY:-}${HTTPS_PROXY:-}" ]; then
  np="${no_proxy:-${NO_PROXY:-}}"
  args+=(-e "no_proxy=${np:+$np,}localhost,127.0.0.1,.localhost" -e "NO_PROXY=${np:+$np,}localhost,127.0.0.1,.localhost")
fi
apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' >"$work/apt-proxy.conf" || true
[ -s "$work/apt-proxy.conf" ] && args+=(-v "$work/apt-proxy.conf:/etc/apt/apt.conf.d/99host-proxy:ro")

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
# The README's first command, exactly as written: scripts/demo.sh, until its banner; then the
# master playlist through it, then TERM (a background job of a script ignores SIGINT; demo.sh
# traps both) and a clean stop.
t=\$SECONDS
bash scripts/demo.sh >demo.out 2>&1 &
demo=\$!
for i in \$(seq 300); do grep -q 'hlsgate demo is running' demo.out && break; kill -0 \$demo 2>/dev/null || break; sleep 1; done
grep -q 'hlsgate demo is running' demo.out || { cat demo.out; echo "inside: demo.sh did not come up"; exit 1; }
master=\$(sed -n 's/^  master playlist  //p' demo.out)
curl -sf "\$master" | grep -q '^#EXTM3U' || { echo "inside: the demo's master playlist did not load"; exit 1; }
kill -TERM \$demo; wait \$demo || true
grep -q 'everything stopped' demo.out || { cat demo.out; echo "inside: demo.sh did not stop cleanly"; exit 1; }
echo "inside: demo.sh came up, served \$master and stopped in \$((SECONDS - t)) s"
EOF
args+=(-v "$work/inside.sh:/run/inside.sh:ro" "$IMAGE" bash /run/inside.sh)

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
