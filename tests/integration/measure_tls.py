#!/usr/bin/env python3
"""Measure what HTTPS to the origin costs: cold playlists (cache off, every request fetches from
the origin) over HTTP and HTTPS from the same nginx, with kept-alive origin connections and with a
new connection per request (nginx keepalive_requests 1: TLS session resumption), and the first
request after start. Prints medians and the HTTPS/HTTP ratio measured in the same run.

usage: measure_tls.py PATH/TO/hlsgate [requests]"""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, http  # noqa: E402
from storagelib import TlsNginx, make_ca, make_server_cert  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PL = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n" + "".join(
    "#EXTINF:4,\nseg%04d.ts\n" % i for i in range(100)) + "#EXT-X-ENDLIST\n"

tmp = tempfile.mkdtemp(prefix="hg-measure-")
root = os.path.join(tmp, "origin")
for i in range(N):
    p = os.path.join(root, "media", "cold", "p%04d.m3u8" % i)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(PL)
ca, ca_key = make_ca(tmp, "ca")
crt, key = make_server_cert(tmp, ca, ca_key)
servers = []


def timed(gw, path):
    t0 = time.perf_counter()
    st, _, _ = http(gw.port, "GET", path)
    dt = (time.perf_counter() - t0) * 1000
    if st != 200:
        raise SystemExit("status %s for %s" % (st, path))
    return dt


def cold(endpoint, n):
    gw = Gateway(BIN, endpoint, "media", S3_CA_FILE=ca, PLAYLIST_CACHE_BYTES="0", WORKERS="1", LOG_LEVEL="warn")
    timed(gw, "/hls/cold/p0000.m3u8")  # warm-up: first connection
    ms = [timed(gw, "/hls/cold/p%04d.m3u8" % (i % N)) for i in range(n)]
    gw.stop()
    os.unlink(gw.logpath)
    return ms


def first(endpoint, runs=7):
    out = []
    for _ in range(runs):
        gw = Gateway(BIN, endpoint, "media", S3_CA_FILE=ca, PLAYLIST_CACHE_BYTES="0", WORKERS="1", LOG_LEVEL="warn")
        out.append(timed(gw, "/hls/cold/p0001.m3u8"))
        gw.stop()
        os.unlink(gw.logpath)
    return out


def row(name, h, s):
    mh, ms_ = statistics.median(h), statistics.median(s)
    ph, ps = sorted(h)[int(len(h) * 0.9) - 1], sorted(s)[int(len(s) * 0.9) - 1]
    print("%-40s %8.2f %8.2f %8.2f %8.2f %7.2fx" % (name, mh, ph, ms_, ps, ms_ / mh))


try:
    keep = TlsNginx(root, crt, key)
    servers.append(keep)
    fresh = TlsNginx(root, crt, key, keepalive_requests=1)
    servers.append(fresh)
    print("%d cold playlists of %d bytes each, sequential, one worker; times in ms (client-observed)" % (N, len(PL)))
    print("%-40s %8s %8s %8s %8s %8s" % ("", "http p50", "http p90", "https p50", "https p90", "ratio"))
    row("cold playlist, kept-alive origin conn", cold(keep.http, N), cold(keep.https, N))
    row("cold playlist, new origin conn each", cold(fresh.http, N), cold(fresh.https, N))
    row("first request after start", first(keep.http), first(keep.https))
    reused = [l.split()[1] for l in fresh.access_lines() if "/media/cold/" in l]
    print("new-connection run: %d of %d TLS handshakes resumed a session" % (reused.count("r"), sum(1 for l in fresh.access_lines() if "TLSv1" in l and "/media/" in l)))
finally:
    for s in servers:
        s.stop()
    shutil.rmtree(tmp, ignore_errors=True)
