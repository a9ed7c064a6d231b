#!/usr/bin/env bash
# Install everything a fresh Debian 12 machine needs to build hlsgate, run its tests and the demo.
# Idempotent; run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(
  # build
  build-essential cmake pkg-config git
  libuv1-dev libcurl4-openssl-dev libmbedtls-dev node-llhttp zlib1g-dev
  # tests
  curl ca-certificates python3 python3-botocore python3-cryptography nginx-light valgrind procps
  # storage tests: a test CA (openssl), a faked clock (libfaketime)
  openssl faketime
  # sanitizers and fuzzing
  clang libclang-rt-14-dev
  # demo and end-to-end tests: sample stream, real S3 (Ceph RGW), real player (hls.js in Chromium)
  ffmpeg radosgw ceph-mon ceph-osd ceph-common uuid-runtime chromium fonts-dejavu-core
  # benchmarks: load generator, chart, and the reference model of the old Python gateway
  wrk gnuplot-nox python3-fastapi python3-uvicorn python3-boto3
  # container image tests (podman instead of a Docker engine) and manifest checks
  podman buildah debootstrap runc uidmap fuse-overlayfs slirp4netns python3-yaml
  # ARMv8 SHA-256 path: cross compiler, arm64 mbedTLS (multiarch) and qemu-user to run the tests
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libmbedtls-dev:arm64
)
# libmbedtls-dev:arm64 needs the arm64 architecture in dpkg (harmless for everything else).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then $SUDO dpkg --add-architecture arm64; fi

missing=()
# Node.js for the player tests: Debian's nodejs+npm, unless a node with npm is already installed
# (another nodejs build may bundle npm, and Debian's npm package would conflict with it).
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs npm); fi
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx-light enables a system service on install; our tests start their own nginx on loopback.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
# hls.js and playwright-core for the player tests and the demo page (versions pinned in the lock).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/e2e/node_modules/hls.js" ] || [ ! -d "$here/tests/e2e/node_modules/playwright-core" ]; then
  echo "setup: npm ci in tests/e2e"
  (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
# @aws-sdk/cloudfront-signer, the independent CloudFront oracle (tests/cdn, version pinned in the lock).
if [ ! -d "$here/tests/cdn/node_modules/@aws-sdk/cloudfront-signer" ]; then
  echo "setup: npm ci in tests/cdn"
  (cd "$here/tests/cdn" && npm ci --no-audit --no-fund --loglevel=error)
fi
# AWS SDK v3 for the Node.js benchmark reference (bench/reference/node; versions pinned in the lock).
if [ ! -d "$here/bench/reference/node/node_modules/@aws-sdk/s3-request-presigner" ]; then
  echo "setup: npm ci in bench/reference/node"
  (cd "$here/bench/reference/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: all packages present"
