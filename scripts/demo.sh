#!/usr/bin/env bash
# One-command demo: install, build, start a real S3 (Ceph RGW) on loopback with a generated
# multi-rendition stream, start hlsgate in front of it and serve an hls.js player page from a
# third origin. Runs until Ctrl-C, then stops everything it started.
#
# Ports (all on 127.0.0.1): hlsgate DEMO_GATEWAY_PORT (8002), player page DEMO_PAGE_PORT (8080),
# RGW 7480 or a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
GW_PORT=${DEMO_GATEWAY_PORT:-8002}
PAGE_PORT=${DEMO_PAGE_PORT:-8080}
SECONDS_OF_VIDEO=${DEMO_SECONDS:-30}

bash scripts/setup.sh demo
echo "demo: building hlsgate (Release)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null

WORK=$(mktemp -d /tmp/hlsgate-demo.XXXXXX)
GW_PID=""
PAGE_PID=""
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  [ -n "$GW_PID" ] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  [ -n "$PAGE_PID" ] && kill -TERM "$PAGE_PID" 2>/dev/null && wait "$PAGE_PID" 2>/dev/null || true
  bash scripts/rgw.sh stop "$WORK/rgw" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  echo "demo: everything stopped"
}
trap cleanup INT TERM EXIT

echo "demo: starting Ceph RGW (a real S3 that verifies SigV4) on loopback"
bash scripts/rgw.sh start "$WORK/rgw" >/dev/null
# shellcheck disable=SC1091
set -a; . "$WORK/rgw/env"; set +a
echo "demo: generating a ${SECONDS_OF_VIDEO}s stream (2 TS variants + 1 fMP4 variant) with ffmpeg"
bash scripts/make-stream.sh "$WORK/stream" "$SECONDS_OF_VIDEO" >/dev/null 2>&1
/usr/bin/python3 scripts/s3util.py mb media >/dev/null
/usr/bin/python3 scripts/s3util.py put-tree media "$WORK/stream" videos/demo >/dev/null
/usr/bin/python3 scripts/s3util.py cors media >/dev/null

echo "demo: starting hlsgate on 127.0.0.1:$GW_PORT"
LISTEN="127.0.0.1:$GW_PORT" S3_ENDPOINT="$RGW_ENDPOINT" S3_BUCKET=media S3_KEY_PREFIX=videos \
  S3_ACCESS_KEY_ID="$RGW_ACCESS_KEY" S3_SECRET_ACCESS_KEY="$RGW_SECRET_KEY" S3_REGION="$RGW_REGION" \
  setsid ./build-release/hlsgate &
GW_PID=$!
# Own sessions, so a terminal Ctrl-C reaches only this script, which then stops each child once.
setsid node tests/e2e/player-server.mjs "$PAGE_PORT" >/dev/null &
PAGE_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$PAGE_PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$GW_PORT/healthz" >/dev/null || { echo "demo: hlsgate did not start" >&2; exit 1; }

MASTER="http://127.0.0.1:$GW_PORT/hls/demo/master.m3u8"
ENC=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$MASTER")
cat <<EOT

  hlsgate demo is running (Ctrl-C stops everything)

  player page      http://127.0.0.1:$PAGE_PORT/?src=$ENC
  master playlist  $MASTER
  storage (RGW)    $RGW_ENDPOINT  bucket "media", keys under "videos/demo/"

  try:
    curl -s $MASTER
    curl -s http://127.0.0.1:$GW_PORT/hls/demo/v0/index.m3u8
    curl -sI http://127.0.0.1:$GW_PORT/hls-seg/demo/v0/seg_000.ts

  hlsgate's access log follows:
EOT
wait "$GW_PID"
