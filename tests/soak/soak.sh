#!/usr/bin/env bash
# Soak: wrk with many connections (default 10,000) for DURATION seconds (default 60) against a
# mixed workload on a Release hlsgate in front of a local nginx origin. Reports socket errors,
# status mix and RSS over time (flat within 10% from the end of warm-up to the end), then a
# shorter run against the ASan build whose clean exit proves no leaks (LeakSanitizer).
#
# usage: tests/soak/soak.sh [DURATION] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
DUR=${1:-60}
CONNS=${2:-10000}
WORK=$(mktemp -d /tmp/hlsgate-soak.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "soak: fd limit $(ulimit -n), $CONNS connections for ${DUR}s"

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHG_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null

# origin tree: bucket "media"
mkdir -p "$WORK/origin/media/vod" "$WORK/origin/media/live" "$WORK/nginx"
/usr/bin/python3 - "$WORK/origin/media" <<'PY'
import sys
root = sys.argv[1]
seg = "".join("#EXTINF:2.000,\nsegment_%05d.ts\n" % i for i in range(1800))
open(root + "/vod/index.m3u8", "w").write("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n" + seg + "#EXT-X-ENDLIST\n")
open(root + "/live/index.m3u8", "w").write("#EXTM3U\n#EXT-X-TARGETDURATION:6\n" + "".join("#EXTINF:6.0,\ns%d.ts\n" % i for i in range(10)))
open(root + "/master.m3u8", "w").write("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvod/index.m3u8\n")
PY
NGINX_PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$WORK/nginx/nginx.conf" <<EOC
daemon off; worker_processes 1; pid $WORK/nginx/pid; error_log $WORK/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root root;" )
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000;
  client_body_temp_path $WORK/nginx/b; proxy_temp_path $WORK/nginx/p; fastcgi_temp_path $WORK/nginx/f;
  uwsgi_temp_path $WORK/nginx/u; scgi_temp_path $WORK/nginx/s;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/origin; } }
EOC
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)

run_gateway() { # binary port logfile
  LISTEN="127.0.0.1:$2" S3_ENDPOINT="http://127.0.0.1:$NGINX_PORT" S3_BUCKET=media \
    S3_ACCESS_KEY_ID=AKIDSOAK S3_SECRET_ACCESS_KEY=soak/secret WORKERS=2 LOG_LEVEL=warn \
    MAX_CONNECTIONS=12000 KEEPALIVE_TIMEOUT_MS=120000 WRITE_TIMEOUT_MS=5000 "$1" >"$3" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "soak: gateway did not start"; cat "$3"; exit 1
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
run_gateway "$REPO/build-release/hlsgate" "$PORT" "$WORK/gw.log"
echo "soak: RSS at start $(rss "$GW_PID") KiB"
: >"$WORK/rss"
( while kill -0 "$GW_PID" 2>/dev/null; do echo "$(date +%s) $(rss "$GW_PID")" >>"$WORK/rss"; sleep 5; done ) &
SAMPLER=$!
WRK_CMD="wrk -t2 -c$CONNS -d${DUR}s --timeout 10s --latency -s tests/soak/mixed.lua http://127.0.0.1:PORT"
# Beside wrk: 50 clients that pipeline without ever reading (their output must stay bounded and
# they must be dropped after WRITE_TIMEOUT_MS, then they reconnect).
/usr/bin/python3 tests/soak/nonreader.py "$PORT" "$DUR" 50 >"$WORK/nonreader.txt" 2>&1 &
NONREADER=$!
wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s --latency -s tests/soak/mixed.lua "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
kill "$SAMPLER" 2>/dev/null || true
wait "$NONREADER" || true
cat "$WORK/nonreader.txt" | tee -a "$WORK/nonreader.sum"
/usr/bin/python3 - "$WORK/rss" "$WORK/wrk.txt" <<'PY' | tee "$WORK/summary"
import re, sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
t0 = samples[0][0]
# "minute 1" of the issue: the RSS at 60 s (or half-way through a shorter run) is the baseline
warm_s = min(60, (samples[-1][0] - t0) // 2)
warm = [r for t, r in samples if t - t0 >= warm_s] or [samples[-1][1]]
base, end, peak = warm[0], samples[-1][1], max(r for _, r in samples)
print("soak: RSS KiB by 5 s: %s" % " ".join(str(r) for _, r in samples))
print("soak: RSS at %d s %d KiB, at the end %d KiB (%+.1f%%), peak %d KiB" % (warm_s, base, end, 100.0 * (end - base) / base, peak))
w = open(sys.argv[2]).read()
err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", w)
print("soak: socket errors: %s" % (err.group(0) if err else "none"))
non2 = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
print("soak: non-2xx/3xx responses (expected: 404s and 403s of the mix): %s" % (non2.group(1) if non2 else 0))
PY
cat "$WORK/nonreader.txt" >>"$WORK/summary"
kill -TERM "$GW_PID"; wait "$GW_PID" || { echo "soak: release gateway exit $?"; exit 1; }

echo "soak: short run against the ASan+LSan build"
PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
ASAN_OPTIONS=detect_leaks=1 run_gateway "$REPO/build-asan/hlsgate" "$PORT" "$WORK/asan.log"
wrk -t2 -c500 -d10s --timeout 10s -s tests/soak/mixed.lua "http://127.0.0.1:$PORT" | grep -E "Requests/sec|Socket errors|Non-2xx" || true
kill -TERM "$GW_PID"
if wait "$GW_PID"; then echo "soak: ASan build exited 0: no leaks, no memory errors" | tee -a "$WORK/summary"; else echo "soak: ASan build exit $? — report:"; tail -40 "$WORK/asan.log"; exit 1; fi

# Record the figures in bench/RESULTS.md, in the section bench/run keeps.
/usr/bin/python3 - "$REPO/bench/RESULTS.md" "$WORK/summary" "$WORK/wrk.txt" "$WRK_CMD" "$DUR" "$CONNS" <<'PY'
import datetime, os, platform, subprocess, sys
path, summary, wrk, cmd, dur, conns = sys.argv[1:7]
marker = "<!-- soak: written by tests/soak/soak.sh; bench/run keeps it -->"
prev = open(path).read() if os.path.exists(path) else "# hlsgate benchmark results\n"
at = prev.find(marker)
head = prev[:at].rstrip("\n") if at >= 0 else prev.rstrip("\n")
cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True, text=True).stdout.strip()
lines = [marker, "## Soak", "",
         "`tests/soak/soak.sh %s %s` on %s UTC (%s, %d cores, Linux %s): a Release hlsgate (WORKERS=2, "
         "LOG_LEVEL=warn) in front of a local nginx, mixed workload (tests/soak/mixed.lua: hot playlists "
         "plain and gzip, master, live, /hls-seg, /healthz, 404s, a path attack), and beside it 50 clients that "
         "pipeline without ever reading (tests/soak/nonreader.py, WRITE_TIMEOUT_MS=5000)." %
         (dur, conns, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), cpu or platform.machine(),
          os.cpu_count(), platform.release()), "", "```"]
lines += [l.rstrip() for l in open(summary)]
lines += ["```", "", "wrk (`%s`):" % cmd, "", "```"]
lines += [l.rstrip() for l in open(wrk)]
lines += ["```", ""]
open(path, "w").write(head + "\n\n" + "\n".join(lines))
print("soak: figures written to bench/RESULTS.md")
PY
