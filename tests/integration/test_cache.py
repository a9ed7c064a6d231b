#!/usr/bin/env python3
"""Integration tests of the performance features: signing windows, ETag/304, the playlist cache
with single-flight, live revalidation, LL-HLS bypass, gzip and the workers' shared listener.
Real binary, real nginx origin on loopback.

usage: test_cache.py PATH/TO/hlsgate"""
import calendar
import concurrent.futures
import gzip
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Nginx, eq, http, ok, run_tests  # noqa: E402
import sigcheck  # noqa: E402
from harness import SECRET_KEY  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"


def playlist(n, live=False, td=2, name="seg"):
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:%d" % td]
    if not live:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    for i in range(n):
        lines += ["#EXTINF:%d.000," % td, "%s_%05d.ts" % (name, i)]
    if not live:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


ROOT = tempfile.mkdtemp(prefix="hg-cache-origin-")


def put(key, text):
    p = os.path.join(ROOT, BUCKET, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p + ".tmp", "w") as f:
        f.write(text)
    os.replace(p + ".tmp", p)


put("vod/a.m3u8", playlist(30))
put("big/a.m3u8", playlist(3000))
put("slow/a.m3u8", playlist(3000))
put("live/a.m3u8", playlist(5, live=True, td=2))
put("ll/a.m3u8", playlist(5, live=True, td=2))
for i in range(60):
    put("many/p%02d.m3u8" % i, playlist(20, name="m%02d" % i))

NGINX = Nginx(ROOT, extra_locations="""
    location /media/slow/ { limit_rate 40k; }
    log_not_found off;
""")
# Every origin request, with its query string, for counting.
NGINX_LOG_FMT = None


def origin_requests(path_part, at_least=0, timeout=3.0):
    """nginx's access-log lines for a path. nginx writes a line just after the response went
    out, so wait (bounded) until at least `at_least` lines are there."""
    deadline = time.time() + timeout
    while True:
        lines = [l for l in NGINX.access_lines() if path_part in l]
        if len(lines) >= at_least or time.time() > deadline:
            return lines
        time.sleep(0.02)


def get(g, path, headers=None):
    return http(g.port, "GET", path, headers)


def x_amz_date(body):
    m = re.search(r"X-Amz-Date=(\d{8}T\d{6}Z)", body)
    return calendar.timegm(time.strptime(m.group(1), "%Y%m%dT%H%M%SZ"))


# ---- signing windows ------------------------------------------------------------------------

def test_window_determinism_across_workers_and_replicas():
    a = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=2, PUBLIC_BASE_URL="https://gw.example.com")
    b = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1, PLAYLIST_CACHE_BYTES=0, PUBLIC_BASE_URL="https://gw.example.com")
    try:
        # Avoid straddling a window boundary.
        while 300 - time.time() % 300 < 3:
            time.sleep(0.5)
        bodies = set()
        etags = set()
        for g in (a, b):
            for _ in range(8):
                st, h, body = get(g, "/hls/vod/a.m3u8")
                eq(st, 200, "status")
                bodies.add(body)
                etags.add(h.get("etag"))
        eq(len(bodies), 1, "byte-identical playlists from every worker and replica")
        eq(len(etags), 1, "one stable ETag")
        ok(list(etags)[0], "an ETag is sent")
        body = bodies.pop().decode()
        ok(x_amz_date(body) % 300 == 0, "X-Amz-Date is the window start")
        ok("X-Amz-Expires=7500&" in body, "expires covers the window")
        good, _ = sigcheck.verify(body.split("\n")[4], SECRET_KEY)
        ok(good, "still a valid signature")
    finally:
        eq(a.stop(), 0, "exit a")
        eq(b.stop(), 0, "exit b")


def test_window_zero_signs_at_request_time():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, SIGN_WINDOW_SECONDS=0, PLAYLIST_CACHE_BYTES=0)
    try:
        t0 = int(time.time())
        _, _, body = get(g, "/hls/vod/a.m3u8")
        d = x_amz_date(body.decode())
        ok(t0 <= d <= int(time.time()) + 1, "dated now, not at a window start")
        ok("X-Amz-Expires=7200&" in body.decode(), "expires is PRESIGN_EXPIRES_SECONDS")
    finally:
        eq(g.stop(), 0, "exit")


def test_window_expiry_capped_at_seven_days():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PRESIGN_EXPIRES_SECONDS=604800)
    try:
        _, _, body = get(g, "/hls/vod/a.m3u8")
        ok("X-Amz-Expires=604800&" in body.decode(), "capped")
    finally:
        eq(g.stop(), 0, "exit")


# ---- ETag / 304, gzip -----------------------------------------------------------------------

def test_etag_304_and_gzip():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1)
    try:
        st, h, body = get(g, "/hls/vod/a.m3u8")
        eq(st, 200, "status")
        eq(h.get("vary"), "Accept-Encoding", "Vary")
        etag = h["etag"]
        st, h2, b2 = get(g, "/hls/vod/a.m3u8", {"If-None-Match": etag})
        eq(st, 304, "conditional hit")
        eq(b2, b"", "no body")
        eq(h2["etag"], etag, "same ETag")
        st, _, _ = get(g, "/hls/vod/a.m3u8", {"If-None-Match": '"other"'})
        eq(st, 200, "other ETag")
        st, hz, bz = get(g, "/hls/vod/a.m3u8", {"Accept-Encoding": "br, gzip;q=0.8"})
        eq(hz.get("content-encoding"), "gzip", "compressed")
        eq(hz.get("vary"), "Accept-Encoding", "Vary on gzip")
        eq(gzip.decompress(bz), body, "gzip round trip")
        ok(len(bz) < len(body) / 3, "actually smaller")
        ok(hz["etag"] != etag, "gzip variant has its own ETag")
        st, _, _ = get(g, "/hls/vod/a.m3u8", {"Accept-Encoding": "gzip", "If-None-Match": hz["etag"]})
        eq(st, 304, "304 for the gzip variant")
        st, h0, b0 = get(g, "/hls/vod/a.m3u8", {"Accept-Encoding": "gzip;q=0, identity"})
        ok("content-encoding" not in h0, "q=0 refuses gzip")
        st, hh, bh = http(g.port, "HEAD", "/hls/vod/a.m3u8", {"Accept-Encoding": "gzip"})
        eq(hh["content-length"], str(len(bz)), "HEAD of the gzip variant")
        eq(len(origin_requests("/media/vod/a.m3u8")) >= 1, True, "fetched")
    finally:
        eq(g.stop(), 0, "exit")


def test_streamed_gzip_cache_off():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=0)
    try:
        st, h, plain = get(g, "/hls/big/a.m3u8")
        eq(h.get("transfer-encoding"), "chunked", "streamed")
        ok(g.wait_log(re.compile(r"path=/hls/big/a.m3u8 status=200 .*origin_ms=(?!0\.00 )[0-9.]+ .*streamed=1")),
           "streamed responses log the origin's time to first byte")
        st, hz, bz = get(g, "/hls/big/a.m3u8", {"Accept-Encoding": "gzip"})
        eq(hz.get("content-encoding"), "gzip", "compressed while streaming")
        eq(gzip.decompress(bz), plain, "same bytes")
    finally:
        eq(g.stop(), 0, "exit")


# ---- cache and single-flight ----------------------------------------------------------------

def test_vod_served_from_cache():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1)
    try:
        before = len(origin_requests("/media/big/a.m3u8"))
        bodies = set(get(g, "/hls/big/a.m3u8")[2] for _ in range(10))
        eq(len(bodies), 1, "identical")
        time.sleep(0.3)  # any extra origin request would be logged by now
        eq(len(origin_requests("/media/big/a.m3u8", at_least=before + 1)) - before, 1, "one origin request for ten clients")
        ok(g.wait_log("cache=hit"), "hits logged")
        st, h, b = http(g.port, "HEAD", "/hls/big/a.m3u8")
        eq(int(h["content-length"]), len(bodies.pop()), "HEAD from cache has the full length")
    finally:
        eq(g.stop(), 0, "exit")


def test_segment_redirects_cached_per_window():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1)
    try:
        locs = set(get(g, "/hls-seg/vod/seg_00001.ts")[1]["location"] for _ in range(5))
        eq(len(locs), 1, "one Location per window")
        m = parse_metrics(get(g, "/metrics")[2].decode())
        eq(m["hlsgate_presigned_urls_total"], 1, "signed once, then answered from the cache")
        st, h, body = http(g.port, "HEAD", "/hls-seg/vod/seg_00001.ts")
        eq((st, h["location"], body), (302, locs.pop(), b""), "HEAD from the cache")
    finally:
        eq(g.stop(), 0, "exit")


def test_single_flight_500_concurrent():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1, MAX_CONNECTIONS=2000, LOG_LEVEL="warn")
    try:
        before = len(origin_requests("/media/slow/a.m3u8"))
        barrier = threading.Barrier(100)

        def one(i):
            if i < 100:
                barrier.wait()
            st, h, body = get(g, "/hls/slow/a.m3u8")
            return st, body

        with concurrent.futures.ThreadPoolExecutor(500) as ex:
            results = list(ex.map(one, range(500)))
        eq(set(r[0] for r in results), {200}, "all served")
        eq(len(set(r[1] for r in results)), 1, "every waiter got the same complete stream")
        time.sleep(0.3)
        eq(len(origin_requests("/media/slow/a.m3u8", at_least=before + 1)) - before, 1, "exactly one origin request")
    finally:
        eq(g.stop(), 0, "exit")


def test_cache_is_bounded_lru():
    # 48 KiB per worker holds only a few of the 60 small playlists (~2 KiB of origin + ~9 KiB).
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1, PLAYLIST_CACHE_BYTES=48 * 1024)
    try:
        for i in range(60):
            eq(get(g, "/hls/many/p%02d.m3u8" % i)[0], 200, "status")
        eq(get(g, "/hls/many/p59.m3u8")[0], 200, "recent")
        eq(len(origin_requests("/media/many/p59.m3u8", at_least=1)), 1, "most recent one still cached")
        eq(get(g, "/hls/many/p00.m3u8")[0], 200, "old")
        eq(len(origin_requests("/media/many/p00.m3u8", at_least=2)), 2, "oldest one was evicted")
    finally:
        eq(g.stop(), 0, "exit")


def test_live_revalidation_304_and_change():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1)
    try:
        st, h, b1 = get(g, "/hls/live/a.m3u8")
        eq(h["cache-control"], "public, max-age=1", "half the target duration")
        eq(get(g, "/hls/live/a.m3u8")[2], b1, "fresh: from cache")
        eq(len(origin_requests("/media/live/a.m3u8", at_least=1)), 1, "one fetch so far")
        time.sleep(1.3)
        st, h, b2 = get(g, "/hls/live/a.m3u8")
        eq(b2, b1, "unchanged playlist")
        lines = origin_requests("/media/live/a.m3u8", at_least=2)
        eq(len(lines), 2, "revalidated once")
        ok(lines[-1].endswith(" 304"), "conditional GET answered 304: %s" % lines[-1])
        put("live/a.m3u8", playlist(6, live=True, td=2))
        time.sleep(1.3)
        st, h, b3 = get(g, "/hls/live/a.m3u8")
        ok(b"seg_00005.ts" in b3, "new segment visible after revalidation")
        ok(origin_requests("/media/live/a.m3u8", at_least=3)[-1].endswith(" 200"), "changed: full fetch")
    finally:
        eq(g.stop(), 0, "exit")


def test_llhls_blocking_requests_bypass_cache():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=1)
    try:
        for i in range(3):
            eq(get(g, "/hls/ll/a.m3u8?_HLS_msn=%d&_HLS_part=1&other=x" % (10 + i))[0], 200, "status")
        lines = origin_requests("/media/ll/a.m3u8", at_least=3)
        eq(len(lines), 3, "every blocking request went to the origin")
        ok(all("_HLS_msn=" in l and "other=" not in l for l in lines), "LL-HLS parameters forwarded: %s" % lines)
        ok(g.wait_log("cache=bypass"), "logged as bypass")
    finally:
        eq(g.stop(), 0, "exit")


def test_workers_share_the_port():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=2)
    try:
        for _ in range(60):
            eq(get(g, "/healthz")[0], 200, "status")
        g.wait_log(re.compile(r"(path=/healthz .*\n.*){60}"), timeout=2)
        workers = set(re.findall(r"path=/healthz .*?worker=(\d)", g.logtext()))
        eq(workers, {"0", "1"}, "both workers accepted connections on the one port")
    finally:
        eq(g.stop(), 0, "exit")


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def test_metrics_prometheus():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, WORKERS=2)
    try:
        for _ in range(5):
            eq(get(g, "/hls/vod/a.m3u8")[0], 200, "playlist")
        eq(get(g, "/hls-seg/vod/x.ts")[0], 302, "segment")
        eq(get(g, "/hls/missing.m3u8")[0], 404, "missing")
        eq(get(g, "/nope")[0], 404, "unknown")
        held = socket.create_connection(("127.0.0.1", g.port))
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        held.recv(1000)
        st, h, body = get(g, "/metrics")
        eq(st, 200, "status")
        ok(h["content-type"].startswith("text/plain"), "text format")
        m = parse_metrics(body.decode())
        eq(m['hlsgate_requests_total{route="hls",status="200"}'], 5, "playlist requests by route and status")
        eq(m['hlsgate_requests_total{route="hls-seg",status="302"}'], 1, "segment redirects")
        eq(m['hlsgate_requests_total{route="hls",status="404"}'], 1, "404s")
        eq(m['hlsgate_requests_total{route="other",status="404"}'], 1, "unknown paths")
        ok(m["hlsgate_origin_requests_total"] >= 2, "origin requests")
        eq(m["hlsgate_origin_duration_seconds_count"], m["hlsgate_origin_requests_total"], "histogram count")
        eq(m['hlsgate_origin_duration_seconds_bucket{le="+Inf"}'], m["hlsgate_origin_duration_seconds_count"], "+Inf bucket")
        eq(m["hlsgate_cache_hits_total"] + m["hlsgate_cache_misses_total"], 6, "every playlist request is a hit or a miss")
        ok(m["hlsgate_cache_bytes"] > 0 and m["hlsgate_cache_entries"] >= 1, "cache size")
        ok(m["hlsgate_presigned_urls_total"] >= 31, "presigned URLs counted")
        ok(m["hlsgate_open_connections"] >= 2, "open connections (the held one and this one)")
        ok(m["hlsgate_bytes_out_total"] > 5000, "bytes out")
        held.close()
    finally:
        eq(g.stop(), 0, "exit")


def cleanup():
    NGINX.stop()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    run_tests("cache", globals(), cleanup)
