#!/usr/bin/env python3
"""Worst stall of a worker: how long /healthz waits while one request makes the gateway rewrite
the most expensive playlists its defaults allow (PLAYLIST_MAX_BYTES 16 MiB, PLAYLIST_MAX_URIS
200,000, 1 MiB lines).

usage: bench/stall.py PATH/TO/hlsgate [OUT.md]

One worker (WORKERS=1). A separate process probes GET /healthz on a keep-alive connection every
2 ms while curl fetches the playlist (GET, GET with gzip, HEAD); the table gives the probe's
median, p99 and maximum latency during each transfer, next to the same probe on an idle gateway."""
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Gateway, Nginx  # noqa: E402

BUCKET = "media"


def playlists(root):
    d = os.path.join(root, BUCKET)
    os.makedirs(d)
    # 200,000 URIs (the default PLAYLIST_MAX_URIS), keys as long as 16 MiB allows.
    name = "k" * 60
    with open(os.path.join(d, "uris.m3u8"), "wb") as f:
        f.write(b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n")
        for i in range(199990):
            f.write(b"#EXTINF:1,\n%s%08d.ts\n" % (name.encode(), i))
        f.write(b"#EXT-X-ENDLIST\n")
    # 15 lines of almost 1 MiB (the line cap): resolution and encoding of huge URIs.
    with open(os.path.join(d, "lines.m3u8"), "wb") as f:
        f.write(b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
        for i in range(15):
            f.write(b"#EXTINF:1,\n" + b"%02d" % i + b"x" * (1024 * 1024 - 64) + b".ts\n")
        f.write(b"#EXT-X-ENDLIST\n")
    # 16 MiB of comments: the byte cap, nothing to sign.
    with open(os.path.join(d, "bytes.m3u8"), "wb") as f:
        f.write(b"#EXTM3U\n")
        f.write(b"#c\n" * ((16 * 1024 * 1024 - 64) // 3))


def probe(port, stop, out):
    s = socket.create_connection(("127.0.0.1", port))
    req = b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"
    lat = []
    while not stop.is_set():
        t0 = time.perf_counter()
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"ok\n"):
            buf += s.recv(4096)
        lat.append(time.perf_counter() - t0)
        time.sleep(0.002)
    s.close()
    out.put(lat)


def measure(port, cmd):
    stop = multiprocessing.Event()
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=probe, args=(port, stop, q))
    p.start()
    time.sleep(0.3)
    t0 = time.time()
    if cmd:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=300)
    else:
        time.sleep(2)
    took = time.time() - t0
    stop.set()
    lat = q.get()
    p.join()
    lat.sort()
    return took, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000, lat[-1] * 1000, len(lat)


def main():
    binary = os.path.abspath(sys.argv[1])
    out = sys.argv[2] if len(sys.argv) > 2 else None
    root = tempfile.mkdtemp(prefix="hg-stall-")
    try:
        playlists(root)
        nginx = Nginx(root)
        g = Gateway(binary, nginx.endpoint, BUCKET, WORKERS=1, LOG_LEVEL="warn", PLAYLIST_CACHE_BYTES=0)
        rows = []
        try:
            base = "http://127.0.0.1:%d/hls/" % g.port
            cases = [("idle gateway", None)]
            for key in ("uris", "lines", "bytes"):
                cases += [("GET %s.m3u8" % key, ["curl", "-s", "-o", "/dev/null", base + key + ".m3u8"]),
                          ("GET %s.m3u8, gzip" % key, ["curl", "-s", "-o", "/dev/null", "-H", "Accept-Encoding: gzip",
                                                       base + key + ".m3u8"]),
                          ("HEAD %s.m3u8" % key, ["curl", "-s", "-I", "-o", "/dev/null", base + key + ".m3u8"])]
            for name, cmd in cases:
                rows.append((name,) + measure(g.port, cmd))
        finally:
            g.stop()
            nginx.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = ["| request | transfer s | /healthz median ms | p99 ms | max ms | probes |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %d |" % r)
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
