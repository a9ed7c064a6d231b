#!/usr/bin/env bash
# Install what a fresh Debian 12 machine needs for hlsgate, by profile. Idempotent: installs only
# what is missing. Run as root (or with sudo available).
#
# usage: scripts/setup.sh [PROFILE...]        (no profile: all)
#        scripts/setup.sh --list [PROFILE...]  print the Debian packages of the profiles, install nothing
#
#   build  compiler, CMake, libuv, libcurl, mbedTLS, llhttp (node-llhttp), zlib     108 pkgs  530 MB
#   demo   build + Ceph RGW (a real S3), ffmpeg, Debian's Node.js + npm, hls.js     737 pkgs  1.5 GB
#   e2e    demo + Chromium and playwright-core: the end-to-end player tests          803 pkgs  1.9 GB
#   test   e2e + nginx, valgrind, clang (sanitizers, fuzzing), podman, buildah,
#          debootstrap, an arm64 cross compiler and qemu-user, the CloudFront
#          oracle (npm): everything scripts/test.sh runs                            891 pkgs  3.0 GB
#   bench  build + wrk, gnuplot, nginx, FastAPI/uvicorn/boto3 and the AWS SDK (npm):
#          the reference models (Debian's npm alone is 340 packages)               554 pkgs  820 MB
#   all    test + bench                                                              917 pkgs  3.0 GB
#
# (Packages and disk space as apt-get reports them ("N newly installed", "After this operation")
# on a debootstrap minbase bookworm, the base of tests/fresh, measured 2026-11-29 with
# `apt-get install --no-install-recommends --assume-no $(scripts/setup.sh --list PROFILE)` in it;
# downloads: build 128 MB, demo 346 MB, e2e 485 MB, test 703 MB, bench 179 MB, all 706 MB.
# node-llhttp alone pulls in Node.js. The npm part, hls.js and playwright-core
# without any browser download, is about 45 MB in tests/e2e/node_modules.)
#
# Node.js: Debian's nodejs (18) and npm, unless a node with npm is already installed. The npm
# packages are installed with `npm ci --engine-strict` from tests/e2e/package-lock.json, so a
# package whose "engines" excludes the running Node.js stops set-up with npm's error; for the
# player profiles, loading playwright-core is then tried once, so its own runtime check fails
# here too and not later in a test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

BUILD=(build-essential cmake pkg-config git ca-certificates
  libuv1-dev libcurl4-openssl-dev libmbedtls-dev node-llhttp zlib1g-dev)
# Ceph RGW for a real S3 that verifies SigV4 (scripts/rgw.sh), a sample stream (make-stream.sh),
# the upload tool (s3util.py, botocore), the player page server (node)
DEMO=(curl python3 python3-botocore ffmpeg radosgw ceph-mon ceph-osd ceph-common uuid-runtime procps)
# njs (nginx's JavaScript module): the CDN stand-in of tests/e2e/test_cdn_e2e.py
E2E=(chromium fonts-dejavu-core nginx-light libnginx-mod-http-js)
TEST=(nginx-light valgrind clang libclang-rt-14-dev python3-cryptography python3-boto3
  # storage tests: a test CA (openssl), a faked clock (libfaketime)
  openssl faketime
  podman buildah debootstrap runc uidmap fuse-overlayfs slirp4netns python3-yaml
  # ARMv8 SHA-256 path: cross compiler, arm64 mbedTLS (multiarch) and qemu-user to run the tests
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libmbedtls-dev:arm64)
BENCH=(curl python3 nginx-light wrk gnuplot-nox python3-fastapi python3-uvicorn python3-boto3 procps)

list=0
if [ "${1:-}" = --list ]; then list=1; shift; fi
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(all)
pkgs=()
want_node=0
want_player=0
npm_dirs=()   # npm projects to install (npm ci), relative to the repository
for p in "${profiles[@]}"; do
  case $p in
    build) pkgs+=("${BUILD[@]}") ;;
    demo) pkgs+=("${BUILD[@]}" "${DEMO[@]}"); want_node=1; npm_dirs+=(tests/e2e) ;;
    e2e) pkgs+=("${BUILD[@]}" "${DEMO[@]}" "${E2E[@]}"); want_node=1; want_player=1; npm_dirs+=(tests/e2e) ;;
    test) pkgs+=("${BUILD[@]}" "${DEMO[@]}" "${E2E[@]}" "${TEST[@]}"); want_node=1; want_player=1
      npm_dirs+=(tests/e2e tests/cdn) ;;
    bench) pkgs+=("${BUILD[@]}" "${BENCH[@]}"); want_node=1; npm_dirs+=(bench/reference/node) ;;
    all) pkgs+=("${BUILD[@]}" "${DEMO[@]}" "${E2E[@]}" "${TEST[@]}" "${BENCH[@]}"); want_node=1; want_player=1
      npm_dirs+=(tests/e2e tests/cdn bench/reference/node) ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown profile '$p' (build, demo, e2e, test, bench, all)" >&2; exit 2 ;;
  esac
done
# Another Node.js build (nodesource) bundles npm, and Debian's npm package would conflict with it.
if ((want_node)) && { ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; }; then
  pkgs+=(nodejs npm)
fi

if ((list)); then
  printf '%s\n' "${pkgs[@]}" | sort -u
  exit 0
fi
# libmbedtls-dev:arm64 needs the arm64 architecture in dpkg (harmless for everything else).
if printf '%s\n' "${pkgs[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
missing=()
declare -A seen=()
for p in "${pkgs[@]}"; do
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup (${profiles[*]}): installing ${missing[*]}"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
      --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: apt-get failed" >&2
    exit 1
  fi
  # apt's own summary and every warning, not the progress lines
  grep -E '^(W:|E:|[0-9]+ upgraded|Need to get|After this operation)' "$log" | sed 's/^/setup: apt: /' || true
  rm -f "$log"
  trap - EXIT
fi
# nginx-light enables a system service on install; our tests start their own nginx on loopback.
if [ -n "${seen[nginx-light]:-}" ] && command -v systemctl >/dev/null 2>&1 \
    && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi

if ((want_node)); then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$node_major" -lt 18 ]; then
    echo "setup: Node.js $(node --version) is too old: hlsgate's tests need 18 or later" >&2
    exit 1
  fi
  # npm projects, versions pinned in their locks: tests/e2e (hls.js for the demo page and the
  # player tests, playwright-core for the player tests), tests/cdn (the CloudFront oracle),
  # bench/reference/node (the AWS SDK reference). Reinstalled whenever the lock or the Node.js
  # version changes.
  declare -A done_dirs=()
  for d in "${npm_dirs[@]}"; do
    [ -n "${done_dirs[$d]:-}" ] && continue
    done_dirs[$d]=1
    dir=$here/$d
    stamp="$(sha256sum <"$dir/package-lock.json" | cut -c1-64) node $(node --version)"
    [ "$(cat "$dir/node_modules/.hg-setup" 2>/dev/null)" = "$stamp" ] && continue
    echo "setup: npm ci --engine-strict in $d (Node.js $(node --version), npm $(npm --version))"
    # no --loglevel=error: npm's warnings are shown, and an engine mismatch is an error
    (cd "$dir" && npm ci --engine-strict --no-audit --no-fund) || {
      echo "setup: npm ci failed in $d (see npm's message above)" >&2
      exit 1
    }
    echo "$stamp" >"$dir/node_modules/.hg-setup"
  done
  if ((want_player)) && ! (cd "$here/tests/e2e" && node -e 'require("playwright-core")' >/dev/null); then
    echo "setup: playwright-core does not load on Node.js $(node --version) (message above)" >&2
    exit 1
  fi
fi
echo "setup (${profiles[*]}): all packages present"
