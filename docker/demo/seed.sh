#!/bin/bash
# One-shot job of the demo stack (docker/demo/Dockerfile, target seed): waits for the S3,
# creates the bucket, uploads the sample stream and allows GET/HEAD from any origin (CORS), so
# the player page on another origin can fetch segments. Exits 0 when done; safe to run again.
#
# Environment: RGW_ENDPOINT (http://127.0.0.1:7480), RGW_ACCESS_KEY, RGW_SECRET_KEY,
# RGW_REGION (us-east-1), SEED_BUCKET (media), SEED_PREFIX (videos/demo),
# SEED_WAIT_SECONDS (300: how long to wait for the S3 to answer).
set -euo pipefail

export RGW_ENDPOINT=${RGW_ENDPOINT:-http://127.0.0.1:7480}
export RGW_REGION=${RGW_REGION:-us-east-1}
: "${RGW_ACCESS_KEY:?set RGW_ACCESS_KEY}" "${RGW_SECRET_KEY:?set RGW_SECRET_KEY}"
export RGW_ACCESS_KEY RGW_SECRET_KEY
BUCKET=${SEED_BUCKET:-media}
PREFIX=${SEED_PREFIX:-videos/demo}
WAIT=${SEED_WAIT_SECONDS:-300}
S3UTIL=(python3 /opt/hlsgate-demo/s3util.py)

echo "seed: waiting for $RGW_ENDPOINT"
deadline=$((SECONDS + WAIT))
until err=$("${S3UTIL[@]}" mb "$BUCKET" 2>&1 >/dev/null); do
    if ((SECONDS >= deadline)); then
        echo "seed: no answer from $RGW_ENDPOINT within ${WAIT}s; last error:" >&2
        echo "$err" | tail -n 5 >&2
        exit 1
    fi
    sleep 2
done
"${S3UTIL[@]}" put-tree "$BUCKET" /opt/hlsgate-demo/stream "$PREFIX" >/dev/null
"${S3UTIL[@]}" cors "$BUCKET"
echo "seed: uploaded the sample stream to s3://$BUCKET/$PREFIX/ (master.m3u8, v0 v1 v2)"
