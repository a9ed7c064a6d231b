#!/usr/bin/env bash
# One-command demo: install (scripts/setup.sh demo), build, start a real S3 (Ceph RGW) on loopback
# with a generated multi-rendition stream, start hlsgate in front of it and serve the demo page
# (hls.js player plus what hlsgate did for every request) from a third origin. Runs until Ctrl-C,
# then stops everything it started.
#
# Ports (all on 127.0.0.1):
#   DEMO_GATEWAY_PORT  hlsgate                                     [8002]
#   DEMO_PAGE_PORT     the demo page                               [8080]
#   RGW                7480 if free, else any free port (scripts/rgw.sh picks it)
# Before it prints anything it checks that each port is free and, once started, that every child
# is alive and is the only listener on its port; otherwise it stops everything, names the taken
# port and the variable that moves it, and exits 1.
#
# Other settings: DEMO_SECONDS (length of the stream, 30), DEMO_BIN (an hlsgate binary to use
# instead of building build-release/hlsgate), DEMO_NO_PRECHECK=1 (tests only: skip the early port
# check, so that the check after start is the one that must catch a taken port).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
GW_PORT=${DEMO_GATEWAY_PORT:-8002}
PAGE_PORT=${DEMO_PAGE_PORT:-8080}
SECONDS_OF_VIDEO=${DEMO_SECONDS:-30}
PY=/usr/bin/python3

bash scripts/setup.sh demo

die() { echo "demo: error: $*" >&2; exit 1; }
# listeners PORT -> the PIDs listening on PORT (IPv4 loopback or any address), one per line
listeners() {
  "$PY" - "$1" <<'EOF'
import os, sys
port = int(sys.argv[1])
inodes = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(f[9])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        continue
    for fd in fds:
        try:
            link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            print(pid)
            break
EOF
}
describe() { # describe PID -> "pid N (name)"
  echo "pid $1 ($(cat "/proc/$1/comm" 2>/dev/null || echo '?'))"
}
port_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
taken() { # taken PORT VARIABLE WHAT
  local who
  who=$(listeners "$1" | while read -r p; do describe "$p"; done | paste -sd, - | sed 's/,/, /g')
  echo "demo: error: port 127.0.0.1:$1 for $3 is taken${who:+ by $who}; set $2 to another port" >&2
  echo "demo:        (for example $2=$(free_port) scripts/demo.sh)" >&2
}
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[ "$GW_PORT" != "$PAGE_PORT" ] || die "DEMO_GATEWAY_PORT and DEMO_PAGE_PORT are both $GW_PORT"
bad=0
[ "${DEMO_NO_PRECHECK:-0}" = 1 ] ||
port_free "$GW_PORT" || { taken "$GW_PORT" DEMO_GATEWAY_PORT hlsgate; bad=1; }
[ "${DEMO_NO_PRECHECK:-0}" = 1 ] ||
port_free "$PAGE_PORT" || { taken "$PAGE_PORT" DEMO_PAGE_PORT "the demo page"; bad=1; }
[ "$bad" = 0 ] || exit 1

if [ -n "${DEMO_BIN:-}" ]; then
  BIN=$DEMO_BIN
else
  echo "demo: building hlsgate (Release)"
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-release -j"$(nproc)" >/dev/null
  BIN=./build-release/hlsgate
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hlsgate-demo.XXXXXX")
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
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: starting Ceph RGW (a real S3 that verifies SigV4) on loopback"
bash scripts/rgw.sh start "$WORK/rgw" >/dev/null
# shellcheck disable=SC1091
set -a; . "$WORK/rgw/env"; set +a

echo "demo: starting hlsgate on 127.0.0.1:$GW_PORT and the demo page on 127.0.0.1:$PAGE_PORT"
LISTEN="127.0.0.1:$GW_PORT" S3_ENDPOINT="$RGW_ENDPOINT" S3_BUCKET=media S3_KEY_PREFIX=videos \
  S3_ACCESS_KEY_ID="$RGW_ACCESS_KEY" S3_SECRET_ACCESS_KEY="$RGW_SECRET_KEY" S3_REGION="$RGW_REGION" \
  setsid "$BIN" >"$WORK/hlsgate.log" 2>&1 &
GW_PID=$!
# Own sessions, so a terminal Ctrl-C reaches only this script, which then stops each child once.
HG_DEMO_BUCKET=media HG_DEMO_PREFIX=videos setsid node tests/e2e/player-server.mjs "$PAGE_PORT" \
  >"$WORK/page.log" 2>&1 &
PAGE_PID=$!

# Ready means: alive, answering, and the only listener on its port (another program on the same
# port, even one sharing it with SO_REUSEPORT, would answer some of the requests).
alive() { # alive PID: running (an exited child stays a zombie until waited for)
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}
owns() { # owns PID PORT
  local l
  l=$(listeners "$2")
  [ -n "$l" ] && [ "$l" = "$1" ]
}
ready=0
for _ in $(seq 100); do
  alive "$GW_PID" || break
  alive "$PAGE_PID" || break
  # (bounded: a program that holds the port may accept and never answer)
  if curl -sf --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 &&
    curl -sf --max-time 1 "http://127.0.0.1:$PAGE_PORT/" >/dev/null 2>&1 &&
    owns "$GW_PID" "$GW_PORT" && owns "$PAGE_PID" "$PAGE_PORT"; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" = 0 ]; then
  if ! alive "$GW_PID" || ! owns "$GW_PID" "$GW_PORT"; then
    tail -n 5 "$WORK/hlsgate.log" | sed 's/^/demo: hlsgate: /' >&2
    taken "$GW_PORT" DEMO_GATEWAY_PORT hlsgate
  fi
  if ! alive "$PAGE_PID" || ! owns "$PAGE_PID" "$PAGE_PORT"; then
    grep -m1 -E 'Error|EADDRINUSE' "$WORK/page.log" | sed 's/^/demo: page server: /' >&2 || true
    taken "$PAGE_PORT" DEMO_PAGE_PORT "the demo page"
  fi
  exit 1
fi

echo "demo: generating a ${SECONDS_OF_VIDEO}s stream (2 MPEG-TS + 2 fMP4 variants) with ffmpeg"
bash scripts/make-stream.sh "$WORK/stream" "$SECONDS_OF_VIDEO" >/dev/null 2>&1
"$PY" scripts/s3util.py mb media >/dev/null
"$PY" scripts/s3util.py put-tree media "$WORK/stream" videos/demo >/dev/null
"$PY" scripts/s3util.py cors media >/dev/null
alive "$GW_PID" && alive "$PAGE_PID" || die "hlsgate or the page server stopped"

MASTER="http://127.0.0.1:$GW_PORT/hls/demo/master.m3u8"
ENC=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$MASTER")
cat <<EOT

  hlsgate demo is running (Ctrl-C stops everything)

  demo page        http://127.0.0.1:$PAGE_PORT/?src=$ENC
  master playlist  $MASTER
  storage (RGW)    $RGW_ENDPOINT  bucket "media", keys under "videos/demo/"

  try:
    curl -s $MASTER
    curl -s http://127.0.0.1:$GW_PORT/hls/demo/v0/index.m3u8
    curl -sI http://127.0.0.1:$GW_PORT/hls-seg/demo/v0/seg_000.ts

  hlsgate's access log follows:
EOT
tail -n +1 -f "$WORK/hlsgate.log" --pid="$GW_PID" &
wait "$GW_PID"
