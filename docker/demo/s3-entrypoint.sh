#!/bin/bash
# Entry point of the demo S3 image (docker/demo/Dockerfile, target s3).
#
# scripts/rgw.sh - the recipe the end-to-end tests use - starts a single-node Ceph cluster
# (mon, memstore osd, radosgw) whose radosgw listens on 127.0.0.1:RGW_INNER_PORT only. socat
# publishes it on 0.0.0.0:S3_PORT so other containers and published ports reach it; bytes pass
# through unchanged, so the Host header each client signed is the one radosgw checks.
#
# Environment: S3_PORT (7480), RGW_INNER_PORT (S3_PORT + 1), RGW_ACCESS_KEY, RGW_SECRET_KEY.
# SIGTERM stops socat and the cluster and exits 0. The data lives in RAM and is lost.
set -euo pipefail

DIR=/var/lib/hlsgate-rgw
PORT=${S3_PORT:-7480}
INNER=${RGW_INNER_PORT:-$((PORT + 1))}
RGW=/opt/hlsgate-demo/rgw.sh
socat_pid=""

stop() {
    trap - TERM INT
    echo "s3: stopping"
    if [[ -n $socat_pid ]]; then kill "$socat_pid" 2>/dev/null || true; fi
    bash "$RGW" stop "$DIR" || true
    exit "${1:-0}"
}
trap 'stop 0' TERM INT

echo "s3: starting Ceph RGW on 127.0.0.1:$INNER"
RGW_START_TIMEOUT=${RGW_START_TIMEOUT:-180} bash "$RGW" start "$DIR" "$INNER"
socat "TCP-LISTEN:$PORT,fork,reuseaddr,bind=0.0.0.0" "TCP:127.0.0.1:$INNER" &
socat_pid=$!
echo "s3: ready on port $PORT (access key $RGW_ACCESS_KEY)"

# Run until told to stop, or until radosgw or socat dies.
while bash "$RGW" status "$DIR" >/dev/null 2>&1 && kill -0 "$socat_pid" 2>/dev/null; do
    sleep 2 &
    wait $! || true
done
echo "s3: a daemon exited unexpectedly" >&2
tail -n 20 "$DIR"/log/*.log >&2 || true
stop 1
