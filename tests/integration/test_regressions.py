#!/usr/bin/env python3
"""Regression tests for defects found in the request layer (issue 9) and by the second hardening
round (issue 10). Each test failed on the code before the fix. Real binary, nginx origin and a
scriptable raw-socket origin on loopback.

usage: test_regressions.py PATH/TO/hlsgate"""
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (dripping, Gateway, Nginx, ScriptedOrigin, eq, http, ok, parse_responses,  # noqa: E402
                     raw_request, run_tests)

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"
ROOT = tempfile.mkdtemp(prefix="hg-regr-origin-")


def put(key, data):
    p = os.path.join(ROOT, BUCKET, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def vod(n, name="s"):
    lines = [b"#EXTM3U", b"#EXT-X-TARGETDURATION:4", b"#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(n):
        lines += [b"#EXTINF:4,", b"%s%05d.ts" % (name.encode(), i)]
    return b"\n".join(lines + [b"#EXT-X-ENDLIST", b""])


for k in "abcd":
    put("uaf/%s.m3u8" % k, vod(40, k))
put("big.m3u8", vod(12000))            # ~0.9 MB rewritten: streamed, over the cache's limit
put("huge.m3u8", vod(150000))          # many URIs: the pump's slicing is what keeps /healthz quick
put("ok.m3u8", vod(3))
put("pq/master.m3u8", b'#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv1.m3u8?x=1#frag\n'
    b'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio.m3u8"\n')
put("pq/v0.m3u8", vod(2))
put("bomb.m3u8", b'#EXTM3U\n#EXT-X-DEFINE:NAME="a",VALUE="' + b"x" * 60000 + b'"\n#EXTINF:4,\n' + b"{$a}" * 200000 + b"\n")
put("qp.m3u8", b'#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM="sess"\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.ts?s={$sess}\n#EXT-X-ENDLIST\n')
put("im/master.m3u8", b'#EXTM3U\n#EXT-X-DEFINE:NAME="cdn",VALUE="x1"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n')
put("im/v.m3u8", b'#EXTM3U\n#EXT-X-DEFINE:IMPORT="cdn"\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts?c={$cdn}\n#EXT-X-ENDLIST\n')
put("q.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.ts?response-content-type=text/html&v=1\n"
    b"#EXTINF:4,\nb.ts?acl\n#EXTINF:4,\nc.ts?x-amz-expires=999999&X-AMZ-DATE=1&tagging\n"
    b"#EXTINF:4,\nd.ts?versionId=7&torrent\n#EXT-X-ENDLIST\n")
put("spaces.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n   seg.ts   \n#EXTINF:4,\n\tb.ts\t\n#EXT-X-ENDLIST\n")
NGINX = Nginx(ROOT)


def gw(**env):
    env.setdefault("PLAYLIST_CACHE_BYTES", 0)
    return Gateway(BIN, NGINX.endpoint, BUCKET, **env)


def sanitized(g):
    """True when the gateway runs under ASan: freed memory sits in its quarantine, so RSS says
    nothing about leaks or bounds there (LeakSanitizer covers leaks at exit instead)."""
    with open("/proc/%d/maps" % g.proc.pid) as f:
        return "libasan" in f.read()


def metric(g, name):
    st, _, body = http(g.port, "GET", "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
    return int(m.group(1)) if m else None


def pipelined(port, paths, headers="", timeout=10.0):
    data = "".join("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (p, port, headers) for p in paths)
    data = data[:-2] + "Connection: close\r\n\r\n"
    return parse_responses(raw_request(port, data.encode(), timeout))


def slow_origin(delay, paths_slow, serve):
    """A raw origin that answers from ROOT, after `delay` seconds for paths containing one of
    paths_slow; `serve(path)` may override (return (status, body) or None)."""
    def behave(o, c, req):
        line = req.split(b"\r\n")[0].decode()
        path = line.split(" ")[1].split("?")[0]
        if path.endswith(".m3u8"):  # not the startup clock probe of the bucket
            o.paths.append(path)
        if any(s in path for s in paths_slow):
            time.sleep(delay)
        r = serve(path) if serve else None
        if r is None:
            try:
                with open(os.path.join(ROOT, path.lstrip("/")), "rb") as f:
                    r = (200, f.read())
            except OSError:
                r = (404, b"nope")
        st, body = r
        c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (st, len(body)) + body)
    o = ScriptedOrigin(behave)
    o.paths = []
    return o


# ---- issue 9 ---------------------------------------------------------------------------------

def test_fill_completion_never_runs_the_next_pipelined_request():
    """Defect 9.1: answering the subscribers of a finished fill ran a connection's next
    pipelined request (a gzip hit that grows the cache) inside that loop, where eviction could
    free the entry in use. Connection Y and connection X wait on one fill of a.m3u8; X has c, d
    and b pipelined behind it. Every answer must be whole, and both answers for a.m3u8 must be
    logged before any of X's next requests run."""
    origin = slow_origin(0.6, ["/a.m3u8"], None)
    probe = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=64 << 20, LOG_LEVEL="warn")
    try:
        for k in "bcd":
            http(probe.port, "GET", "/hls/uaf/%s.m3u8" % k)
        three = metric(probe, "hlsgate_cache_bytes")
        http(probe.port, "GET", "/hls/uaf/b.m3u8", {"Accept-Encoding": "gzip"})
        gz = metric(probe, "hlsgate_cache_bytes") - three
    finally:
        probe.stop()
    entry = three // 3
    # A tight cache (entries plus some gzip variants: growth evicts) and a roomy one.
    for size in (4 * entry + 3 * gz, 64 << 20):
        g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=size, LOG_LEVEL="info")
        try:
            for k in "bcd":
                eq(http(g.port, "GET", "/hls/uaf/%s.m3u8" % k)[0], 200, "warm " + k)
            got = {}

            def y():
                got["y"] = http(g.port, "GET", "/hls/uaf/a.m3u8")

            t = threading.Thread(target=y)
            t.start()
            time.sleep(0.15)
            rs = pipelined(g.port, ["/hls/uaf/a.m3u8", "/hls/uaf/c.m3u8", "/hls/uaf/d.m3u8", "/hls/uaf/b.m3u8"],
                           "Accept-Encoding: gzip\r\n")
            t.join(10)
            eq([r[0] for r in rs], [200, 200, 200, 200], "X's pipelined answers")
            for r, k in zip(rs, "acdb"):
                body = gzip.decompress(r[2]) if r[1].get("content-encoding") == "gzip" else r[2]
                ok(body.startswith(b"#EXTM3U") and (b"%s00039.ts" % k.encode()) in body, "X's %s complete" % k)
            eq(got["y"][0], 200, "Y answered")
            ok(b"a00039.ts" in got["y"][2], "Y's body complete")
            eq(http(g.port, "GET", "/healthz")[0], 200, "still alive")
            ok(g.wait_log(re.compile(r"path=/hls/uaf/b.m3u8 status=200.*\n(.*\n)*.*path=/healthz")), "X's last request logged")
            order = re.findall(r"path=/hls/uaf/(\w)\.m3u8 status=200", g.logtext())[3:]
            if size > 4 * entry + 3 * gz:
                eq(order[:2], ["a", "a"], "both answers of the fill come first (%s)" % order)
        finally:
            eq(g.stop(), 0, "exit status (sanitizers report here)")
    origin.stop()


def test_pipelined_request_does_not_join_a_failed_fill():
    """Defect 9.2: a failed fill answered its subscribers while still registered, so the next
    pipelined request for the same key got the same 502 without an origin request."""
    origin = slow_origin(0.3, ["/fail.m3u8"], lambda p: (500, b"boom") if p.endswith("fail.m3u8") else None)
    g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=1 << 20)
    try:
        rs = pipelined(g.port, ["/hls/fail.m3u8", "/hls/fail.m3u8"])
        eq([r[0] for r in rs], [502, 502], "statuses")
        eq(origin.paths.count("/%s/fail.m3u8" % BUCKET), 2, "each request asked the origin")
    finally:
        g.stop()
        origin.stop()


def test_head_gzip_of_streamed_playlist_has_no_false_length():
    """Defect 9.3: HEAD with gzip on a streamed playlist said Content-Length: 20 (gzip of
    nothing) while GET sent the whole body."""
    g = gw()
    try:
        st, h, _ = http(g.port, "HEAD", "/hls/big.m3u8", {"Accept-Encoding": "gzip"})
        st2, h2, body = http(g.port, "GET", "/hls/big.m3u8", {"Accept-Encoding": "gzip"})
        eq((st, st2), (200, 200), "statuses")
        ok(len(gzip.decompress(body)) > 800000, "GET sends the whole playlist")
        if "content-length" in h:
            eq(int(h["content-length"]), len(body), "HEAD's length is GET's")
        eq(h.get("content-encoding"), h2.get("content-encoding"), "same encoding")
        eq(h.get("transfer-encoding"), h2.get("transfer-encoding"), "same framing")
    finally:
        g.stop()


def test_second_sigterm_exits_at_once():
    """Defect 9.4: after the first signal the main loop stopped, so a second one waited out the
    whole DRAIN_TIMEOUT_MS."""
    origin = slow_origin(30, ["/hang.m3u8"], None)
    g = Gateway(BIN, origin.endpoint, BUCKET, DRAIN_TIMEOUT_MS=20000, ORIGIN_TIMEOUT_MS=60000,
                ORIGIN_LOW_SPEED_SECONDS=60)
    s = socket.create_connection(("127.0.0.1", g.port))
    try:
        s.sendall(b"GET /hls/hang.m3u8 HTTP/1.1\r\nHost: h\r\n\r\n")
        time.sleep(0.3)
        g.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        ok(g.proc.poll() is None, "first signal drains (the request is in flight)")
        t0 = time.time()
        g.proc.send_signal(signal.SIGTERM)
        g.proc.wait(5)
        ok(time.time() - t0 < 2, "second signal exits at once")
    finally:
        s.close()
        if g.proc.poll() is None:
            g.proc.kill()
            g.proc.wait()
        g.log.close()
        origin.stop()


def test_counters_never_go_backwards_on_reload():
    """Defect 9.5: SIGHUP zeroed the cache's hits/misses/evictions, exported as *_total."""
    d = tempfile.mkdtemp(prefix="hg-regr-cfg-")
    cfgp = os.path.join(d, "env")
    with open(cfgp, "w") as f:
        f.write("PLAYLIST_CACHE_BYTES=1048576\n")
    g = gw(args=["--config", cfgp], PLAYLIST_CACHE_BYTES=1 << 20)
    try:
        for _ in range(3):
            http(g.port, "GET", "/hls/ok.m3u8")
        before = {n: metric(g, n) for n in ("hlsgate_cache_hits_total", "hlsgate_cache_misses_total")}
        ok(before["hlsgate_cache_hits_total"] >= 2, "hits counted")
        g.proc.send_signal(signal.SIGHUP)
        ok(g.wait_log("configuration reloaded"), "reloaded")
        http(g.port, "GET", "/hls/ok.m3u8")
        for n, v in before.items():
            ok(metric(g, n) >= v, "%s went backwards" % n)
    finally:
        g.stop()
        shutil.rmtree(d)


def test_reloads_free_old_configurations_and_change_log_level():
    """Defect 9.6: every old configuration was kept until exit, and the log level was written
    by one thread while workers read it. Many reloads keep memory flat; a new LOG_LEVEL applies."""
    d = tempfile.mkdtemp(prefix="hg-regr-cfg-")
    cfgp = os.path.join(d, "env")
    exts = ",".join("e%d" % i for i in range(2000))  # a large configuration makes a leak visible
    with open(cfgp, "w") as f:
        f.write("SEG_EXTENSIONS=%s\nLOG_LEVEL=info\n" % exts)
    g = gw(args=["--config", cfgp], WORKERS=2)

    def rss():
        with open("/proc/%d/status" % g.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    try:
        for i in range(60):
            g.proc.send_signal(signal.SIGHUP)
            time.sleep(0.01)
        time.sleep(0.5)
        base = rss()
        for i in range(300):
            g.proc.send_signal(signal.SIGHUP)
            time.sleep(0.005)
        time.sleep(0.5)
        grown = rss() - base
        if sanitized(g):
            print("     (RSS bound not checked under ASan)")
        else:
            ok(grown < 4000, "RSS grew %d KiB over 300 reloads" % grown)
        with open(cfgp, "w") as f:
            f.write("LOG_LEVEL=warn\n")
        g.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        n = g.logtext().count("path=/healthz")
        http(g.port, "GET", "/healthz")
        time.sleep(0.3)
        eq(g.logtext().count("path=/healthz"), n, "access lines stop at LOG_LEVEL=warn")
    finally:
        g.stop()
        shutil.rmtree(d)


def test_largest_heads_fit():
    """Defect 9.7: the worst-case playlist head (HTTP/1.0 close, gzip, chunked, ETag, long Date)
    was 309 bytes against a 320-byte write buffer, and an overflow was silently an empty answer."""
    g = gw(PLAYLIST_CACHE_BYTES=1 << 20)
    try:
        for method in ("GET", "HEAD"):
            req = "%s /hls/big.m3u8 HTTP/1.0\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n" % method
            data = raw_request(g.port, req.encode(), 10)
            head = data.split(b"\r\n\r\n")[0]
            ok(head.startswith(b"HTTP/1.1 200"), "%s answered: %r" % (method, data[:80]))
            ok(b"ETag:" in head and b"Content-Encoding: gzip" in head, "full head")
    finally:
        g.stop()


# ---- issue 10 --------------------------------------------------------------------------------

def test_pipelining_without_reading_is_bounded():
    """10.1: pipelined requests from a client that never reads grew memory without limit."""
    g = gw(WRITE_TIMEOUT_MS=1500)
    try:
        with open("/proc/%d/status" % g.proc.pid) as f:
            base = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", g.port))
        s.settimeout(0.2)
        req = b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n" * 1000
        sent = 0
        t0 = time.time()
        while sent < 60000 and time.time() - t0 < 20:
            try:
                s.sendall(req)
                sent += 1000
            except (socket.timeout, BlockingIOError):
                break
            except OSError:
                break
        time.sleep(0.5)
        with open("/proc/%d/status" % g.proc.pid) as f:
            grown = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) - base
        if sanitized(g):
            print("     (RSS bound not checked under ASan)")
        else:
            ok(grown < 16000, "RSS grew %d KiB for %d pipelined requests" % (grown, sent))
        # the write timeout applies: the connection is dropped
        closed = False
        t1 = time.time()
        while time.time() - t1 < 8:
            try:
                s.sendall(b"x" * 1024)
            except OSError:
                closed = True
                break
            time.sleep(0.2)
        ok(closed or g.wait_log("phase=write", 1), "connection dropped after the write timeout")
        s.close()
        eq(http(g.port, "GET", "/healthz")[0], 200, "alive")
    finally:
        g.stop()


def test_head_of_a_huge_playlist_does_not_freeze_the_worker():
    """10.2: HEAD of a huge playlist rewrote it in one loop turn: /healthz waited seconds."""
    g = gw(WORKERS=1)
    try:
        lat = []
        done = threading.Event()

        def probe():
            while not done.is_set():
                t0 = time.time()
                http(g.port, "GET", "/healthz")
                lat.append(time.time() - t0)
                time.sleep(0.005)
        t = threading.Thread(target=probe)
        t.start()
        t0 = time.time()
        # The big transfers run in curl processes, so this process's probe thread is not slowed
        # down by reading 45 MB in Python.
        url = "http://127.0.0.1:%d/hls/huge.m3u8" % g.port
        head = subprocess.run(["curl", "-sI", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True, text=True, timeout=60)
        get = subprocess.run(["curl", "-s", url], capture_output=True, timeout=60)
        done.set()
        t.join()
        eq((head.stdout, get.returncode), ("200", 0), "answered")
        ok(get.stdout.count(b"X-Amz-Signature") == 150000, "GET complete")
        ok(lat and max(lat) < 0.25, "worst /healthz latency %.3f s during the rewrite" % max(lat or [0]))
    finally:
        g.stop()


def test_origin_fetches_are_limited_with_a_bounded_queue():
    """10.3: every cold request opened an origin connection; now ORIGIN_MAX_FETCHES, a bounded
    queue and 503 + Retry-After past it."""
    origin = slow_origin(1.0, ["/slow"], lambda p: (200, vod(2)) if "/slow" in p else None)
    g = Gateway(BIN, origin.endpoint, BUCKET, ORIGIN_MAX_FETCHES=2, ORIGIN_QUEUE_MAX=2, WORKERS=1)
    try:
        res = {}

        def get(i):
            res[i] = http(g.port, "GET", "/hls/slow%d.m3u8" % i, timeout=15)
        ts = [threading.Thread(target=get, args=(i,)) for i in range(6)]
        for t in ts:
            t.start()
            time.sleep(0.05)
        time.sleep(0.3)
        ok(metric(g, "hlsgate_origin_active") <= 2, "at most 2 transfers")
        for t in ts:
            t.join()
        sts = sorted(r[0] for r in res.values())
        eq(sts, [200, 200, 200, 200, 503, 503], "statuses")
        busy = [r for r in res.values() if r[0] == 503]
        ok(all(r[1].get("retry-after") == "1" for r in busy), "Retry-After")
        ok(metric(g, "hlsgate_origin_rejected_total") == 2, "rejections counted")
        ok(len(origin.paths) == 4, "4 origin requests, not 6")
    finally:
        g.stop()
        origin.stop()


def test_non_delivery_hls_parameters_stay_out_of_cache_key():
    """10.3: any _HLS_ parameter bypassed the cache (and went to the origin)."""
    origin = slow_origin(0, [], None)
    g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=1 << 20)
    try:
        for q in ("", "?_HLS_foo=1", "?_HLS_pathway=B", "?_HLS_throughput=3"):
            eq(http(g.port, "GET", "/hls/ok.m3u8" + q)[0], 200, q)
        eq(len(origin.paths), 1, "one origin request")
        http(g.port, "GET", "/hls/ok.m3u8?_HLS_msn=5")
        eq(len(origin.paths), 2, "delivery directives still go to the origin")
    finally:
        g.stop()
        origin.stop()


def test_token_cli_refuses_injection_and_overflow():
    """10.4: the CLI minted acl=...~acl=/* and overflowed on a huge --ttl."""
    env = dict(os.environ, TOKEN_SECRET="00112233445566778899aabbccddeeff")
    r = subprocess.run([BIN, "token", "--acl", "/hls/nothing/*~acl=/*"], env=env, capture_output=True, text=True)
    eq(r.returncode, 2, "~ in --acl refused")
    ok("~" in r.stderr, "message says why")
    r = subprocess.run([BIN, "token", "--acl", "/hls/*", "--ttl", "9223372036854775807"], env=env,
                       capture_output=True, text=True)
    eq(r.returncode, 2, "overflowing --ttl refused")
    r = subprocess.run([BIN, "token", "--acl", "/hls/*", "--ttl", "60"], env=env, capture_output=True, text=True)
    eq(r.returncode, 0, "a good one works")


def bad_request(port, raw, want):
    """Send raw bytes; the server may answer and close before it read them all (a reset then
    cuts our send short): keep whatever answer arrived."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    data = b""
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass
        s.settimeout(5)
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            data += d
    finally:
        s.close()
    wants = want if isinstance(want, tuple) else (want,)
    ok(any(data.startswith(b"HTTP/1.1 %d" % w) for w in wants), "want %s for %r, got %r" % (wants, raw[:60], data[:60]))


def test_obs_fold_after_an_empty_value_is_refused():
    """10.5: the obs-fold check missed folds whose first line was empty."""
    g = gw()
    try:
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A:\r\n folded\r\n\r\n", 400)
        bad_request(g.port, b"GET /hls/ok.m3u8 HTTP/1.1\r\nHost:\r\n evil.example\r\n\r\n", 400)
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400)
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfold\r\n\r\n", 400)
    finally:
        g.stop()


def test_field_name_with_space_is_refused():
    """10.6: "X A: 1" was accepted (RFC 9112 5.1: 400)."""
    g = gw()
    try:
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX A: 1\r\n\r\n", 400)
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400)
        bad_request(g.port, b"GET /hls/ok.m3u8#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400)
    finally:
        g.stop()


def test_header_bytes_are_counted_on_the_wire():
    """10.7: MAX_HEADER_BYTES counted only name and value bytes after whitespace stripping."""
    g = gw(MAX_HEADER_BYTES=16384)
    try:
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + b":\r\n" * 100000 + b"\r\n", (400, 431))
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A:" + b" " * 100000 + b"x\r\n\r\n", 431)
        bad_request(g.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + b"X-B: 1\r\n" * 200 + b"\r\n", 431)
        eq(http(g.port, "GET", "/healthz", {"X-A": "y" * 8000})[0], 200, "a big but allowed header")
    finally:
        g.stop()


def test_502_body_does_not_reveal_the_origin():
    """10.8: "origin unreachable: Failed to connect to 127.0.0.1 port N" went to the client."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    g = Gateway(BIN, "http://127.0.0.1:%d" % port, BUCKET)
    try:
        st, _, body = http(g.port, "GET", "/hls/ok.m3u8")
        eq(st, 502, "status")
        ok(b"unreachable" in body, "generic reason kept")
        ok(b"127.0.0.1" not in body and str(port).encode() not in body, "no address: %r" % body)
        ok(g.wait_log(str(port)), "the detail is logged")
    finally:
        g.stop()


def test_s3_special_query_parameters_are_not_signed():
    """10.9: response-*, ?acl, any-case x-amz-* and other sub-resources went into signed URLs."""
    for allow, keep_version in (("", False), ("versionId", True)):
        g = gw(S3_QUERY_ALLOW=allow) if allow else gw()
        try:
            st, _, body = http(g.port, "GET", "/hls/q.m3u8")
            eq(st, 200, "status")
            urls = [l for l in body.decode().splitlines() if l.startswith("http")]
            eq(len(urls), 4, "four URLs")
            for u in urls:
                low = u.lower()
                for bad in ("response-content-type", "acl", "tagging", "torrent", "x-amz-expires=999999",
                            "x-amz-date=1&"):
                    ok(bad not in low.split("?", 1)[1], "%s signed in %s" % (bad, u))
                ok(low.count("x-amz-expires=") == 1 and low.count("x-amz-date=") == 1, "one of each: " + u)
            ok("v=1" in urls[0], "an ordinary parameter stays signed")
            eq("versionId=7" in urls[3], keep_version, "S3_QUERY_ALLOW")
        finally:
            g.stop()


def test_uri_line_spaces_are_not_kept_around_urls():
    """10.10: "  seg.ts  " kept the spaces around the presigned URL."""
    g = gw()
    try:
        st, _, body = http(g.port, "GET", "/hls/spaces.m3u8")
        eq(st, 200, "status")
        urls = [l for l in body.decode().splitlines() if "X-Amz-Signature" in l]
        eq(len(urls), 2, "both signed")
        ok(all(u == u.strip() and u.startswith("http") for u in urls), "URL alone: %r" % urls)
    finally:
        g.stop()


def test_live_playlist_keeps_known_segment_urls_across_windows():
    """Issue 13: a live playlist may only grow at the tail and drop from the head (RFC 8216
    6.2.1); re-signing at a window boundary changed the URI of segments the player knew."""
    def live(first, last):
        body = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n" % first
        body += "".join("#EXTINF:1,\nlive%03d.ts\n" % i for i in range(first, last + 1))
        put("live/index.m3u8", body.encode())
    live(1, 3)
    g = gw(PLAYLIST_CACHE_BYTES=1 << 20, SIGN_WINDOW_SECONDS=2)
    try:
        def urls():
            st, _, body = http(g.port, "GET", "/hls/live/index.m3u8")
            eq(st, 200, "status")
            return {re.search(r"live(\d+)\.ts", l).group(1): l for l in body.decode().splitlines() if "X-Amz" in l}
        v1 = urls()
        time.sleep(2.2)  # the next window, and past the half target duration
        live(2, 4)
        os.utime(os.path.join(ROOT, BUCKET, "live/index.m3u8"), (time.time() + 5, time.time() + 5))
        v2 = urls()
        eq(sorted(v2), ["002", "003", "004"], "segments")
        eq(v2["002"], v1["002"], "a known segment keeps its URL")
        eq(v2["003"], v1["003"], "a known segment keeps its URL")
        ok(re.search(r"X-Amz-Date=(\w+)", v2["004"]).group(1) != re.search(r"X-Amz-Date=(\w+)", v1["002"]).group(1),
           "a new segment is signed in the new window")
        time.sleep(2.2)  # unchanged at the origin (304), new window again: every URL stays
        v3 = urls()
        eq(v3, v2, "unchanged playlist, same URLs")
        ok(metric(g, "hlsgate_live_urls_kept_total") >= 5, "kept URLs counted")
    finally:
        g.stop()


def test_define_queryparam_and_import_are_signed_per_request():
    """Issue 13: URIs with {$var} from QUERYPARAM or IMPORT reached players unsigned; now they
    are substituted per request (and cached per query), and a missing value is a 502."""
    g = gw(PLAYLIST_CACHE_BYTES=1 << 20)
    try:
        for sess in ("abc", "xyz", "abc"):
            st, _, body = http(g.port, "GET", "/hls/qp.m3u8?sess=" + sess)
            eq(st, 200, "status")
            url = [l for l in body.decode().splitlines() if "X-Amz-Signature" in l]
            eq(len(url), 1, "signed")
            ok(("s=" + sess) in url[0] and "{$" not in url[0], "substituted for %s: %s" % (sess, url[0]))
        eq(http(g.port, "GET", "/hls/qp.m3u8")[0], 502, "missing QUERYPARAM")
        st, _, body = http(g.port, "GET", "/hls/im/master.m3u8")
        eq(st, 200, "master")
        nested = [l for l in body.decode().splitlines() if "/hls/im/v.m3u8" in l][0]
        ok("hgv-cdn=x1" in nested, "variable carried: " + nested)
        st, _, body = http(g.port, "GET", nested[nested.index("/hls/"):])
        eq(st, 200, "variant")
        ok(any("c=x1" in l and "X-Amz-Signature" in l for l in body.decode().splitlines()), "IMPORT substituted")
    finally:
        g.stop()


def test_sha256_implementation_is_reported_and_can_be_forced():
    """Issue 11: the startup log and /metrics say which SHA-256 runs; HG_SHA256=generic forces
    mbedTLS, and both give the same playlist bytes."""
    bodies = []
    for impl in (None, "generic"):
        env = {"PLAYLIST_CACHE_BYTES": 0, "SIGN_WINDOW_SECONDS": 3600}
        if impl:
            env["HG_SHA256"] = impl
        g = gw(**env)
        try:
            st, _, body = http(g.port, "GET", "/metrics")
            m = re.search(r'hlsgate_sha256_impl_info\{impl="([^"]+)"\} 1', body.decode())
            ok(m, "metric present")
            if impl:
                eq(m.group(1), impl, "forced")
            ok(re.search(r"sha256=%s" % re.escape(m.group(1)), g.logtext()), "startup log names it")
            st, _, b = http(g.port, "GET", "/hls/big.m3u8")
            eq(st, 200, "status")
            bodies.append(b)
        finally:
            g.stop()
    eq(bodies[0] == bodies[1], True, "same bytes from every implementation")


def test_variable_substitution_is_bounded():
    """A URI of 200,000 references to a 60 KB variable would be 12 GB after substitution:
    it is refused with a 502 at once, in bounded memory."""
    g = gw()
    try:
        t0 = time.time()
        st, _, body = http(g.port, "GET", "/hls/bomb.m3u8")
        eq(st, 502, "refused")
        ok(time.time() - t0 < 5, "quickly")
        eq(http(g.port, "GET", "/healthz")[0], 200, "alive")
    finally:
        g.stop()


def test_many_gzip_streams_stay_bounded():
    """Every streamed gzip answer had its own zlib encoder (~270 KB): a thousand clients of one
    cold playlist held hundreds of MB. Past 64 encoders per worker, streams go uncompressed."""
    body = vod(12000)

    origin = ScriptedOrigin(dripping(body, 65536, 0.15))
    g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=0, WORKERS=1, LOG_LEVEL="warn")
    try:
        import selectors
        base = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % g.proc.pid).read()).group(1))
        sel = selectors.DefaultSelector()
        socks = []
        for i in range(400):
            s = socket.create_connection(("127.0.0.1", g.port))
            s.sendall(b"GET /hls/big.m3u8 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        peak, done, t0 = base, 0, time.time()
        while done < len(socks) and time.time() - t0 < 60:
            for key, _ in sel.select(0.1):
                try:
                    d = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not d:
                    sel.unregister(key.fileobj)
                    done += 1
            peak = max(peak, int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % g.proc.pid).read()).group(1)))
        for s in socks:
            s.close()
        eq(done, len(socks), "every answer finished")
        if sanitized(g):
            print("     (RSS bound not checked under ASan)")
        else:
            ok(peak - base < 60000, "RSS grew %d KiB for %d concurrent gzip streams" % (peak - base, len(socks)))
    finally:
        g.stop()
        origin.stop()


def test_pass_query_into_nested_and_segment_urls():
    """Issue 13: PASS_QUERY parameters of the player's request go into nested playlist URLs
    (and with PASS_QUERY_SEGMENTS into segment URLs, signed); they stay out of the cache key
    unless listed in CACHE_KEY_QUERY."""
    origin = slow_origin(0, [], None)
    g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=1 << 20, PASS_QUERY="sid,uid", CACHE_KEY_QUERY="uid")
    try:
        for sid in ("A1", "B2", "A1"):
            st, h, body = http(g.port, "GET", "/hls/pq/master.m3u8?sid=%s&other=1" % sid)
            eq(st, 200, "status")
            nested = [u for u in uris_of(body)]
            eq(len(nested), 3, "three nested URLs: %r" % nested)
            ok(all(("sid=" + sid) in u and "other=" not in u for u in nested), "sid carried, others not: %r" % nested)
            ok(any(u.endswith("?x=1&sid=%s#frag" % sid) for u in nested), "joined to an existing query, before the fragment")
        eq(origin.paths.count("/media/pq/master.m3u8"), 1, "sid stays out of the cache key")
        st, _, body = http(g.port, "GET", "/hls/pq/master.m3u8")
        ok(st == 200 and b"sid=" not in body, "no parameter, none written")
        http(g.port, "GET", "/hls/pq/master.m3u8?uid=7")
        st, _, body = http(g.port, "GET", "/hls/pq/master.m3u8?uid=8&sid=Z")
        ok(all("uid=8" in u and "sid=Z" in u for u in uris_of(body)), "keyed and per-response together")
        eq(origin.paths.count("/media/pq/master.m3u8"), 3, "uid keys the cache")
    finally:
        g.stop()
    g = Gateway(BIN, origin.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=1 << 20, PASS_QUERY="sid", PASS_QUERY_SEGMENTS="true")
    try:
        st, _, body = http(g.port, "GET", "/hls/pq/v0.m3u8?sid=S9")
        urls = [u for u in uris_of(body) if "X-Amz-Signature" in u]
        ok(urls and all("sid=S9" in u.split("X-Amz-Signature")[0] for u in urls), "signed with the parameter: %r" % urls[:1])
        st, _, body = http(g.port, "GET", "/hls/pq/v0.m3u8?sid=T0")
        ok(all("sid=T0" in u for u in uris_of(body)), "per viewer")
    finally:
        g.stop()
        origin.stop()


# ---- issue 11 --------------------------------------------------------------------------------

def test_gathered_output_with_vanishing_and_pipelining_clients():
    """Issue 11: a streamed answer's pieces are gathered during a loop turn and written with one
    writev per turn; other answers go out at once. 600 clients that reset (half of them at once
    after two requests, a cached answer first; half after the first byte of a streamed answer) run
    beside 24 that pipeline three requests and read: every answer read is whole and in order, the
    worker stays up and exits cleanly. (unit.test_http_write checks the gathering itself, and
    that pieces still gathered when a connection closes are freed.)"""
    g = gw(WORKERS=1, PLAYLIST_CACHE_BYTES=1 << 20)
    results, errors = [], []

    def vanish():
        for i in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", g.port), 5)
                if i % 2:
                    # reset while the streamed answer is being produced: its pieces of the
                    # current loop turn are gathered when the reset is read
                    s.sendall(b"GET /hls/big.m3u8 HTTP/1.1\r\nHost: h\r\n\r\n")
                    s.recv(1)
                else:
                    s.sendall(b"GET /hls/ok.m3u8 HTTP/1.1\r\nHost: h\r\n\r\nGET /hls/big.m3u8 HTTP/1.1\r\nHost: h\r\n\r\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError as e:
                errors.append(repr(e))

    def reader():
        try:
            results.append(pipelined(g.port, ["/hls/ok.m3u8", "/hls/big.m3u8", "/hls/ok.m3u8"], timeout=30))
        except OSError as e:
            errors.append(repr(e))

    try:
        eq(http(g.port, "GET", "/hls/ok.m3u8")[0], 200, "ok.m3u8 cached: answered while its request is read")
        threads = [threading.Thread(target=vanish) for _ in range(30)] + \
                  [threading.Thread(target=reader) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        eq(errors, [], "clients could connect and send")
        eq(len(results), 24, "every reader finished")
        for rs in results:
            eq([r[0] for r in rs], [200, 200, 200], "three answers, in order")
            ok(all(r[2] is not None for r in rs), "no answer cut short")
            eq([r[2].count(b"X-Amz-Signature=") for r in rs], [3, 12000, 3], "every URL of every answer")
            ok(all(r[2].endswith(b"#EXT-X-ENDLIST\n") for r in rs), "each answer ends where its playlist ends")
        eq(http(g.port, "GET", "/healthz")[0], 200, "the worker still answers")
    finally:
        eq(g.stop(), 0, "clean exit (no leak of dropped pieces)")


def test_fast_lane_output_is_byte_identical():
    """Issue 11: plain segment names take a fast lane (hg_rewriter_set_plain / hg_fill_emit_plain)
    that signs the folder's key and the name without joining them first. Its output must be the
    general path's, byte for byte (HG_FAST_URIS=0 turns the lane off): with and without
    S3_KEY_PREFIX, at the bucket root and in folders (one the encoder escapes), for names the S3
    encoder escapes, next to
    URIs the lane must leave to the general path (absolute, dot segments, queries, escapes,
    variables, nested playlists), for live playlists (URL spans kept) and with PASS_QUERY_SEGMENTS."""
    names = [b"s00001.ts", b"x+y=1!$&'()*,;@.ts", b"a/b/c.ts", b"/abs/z.ts", b"../up.ts", b"q.ts?x=1",
             b"%41b.ts", b"  sp.ts\t", b"{$v}.ts", b"n.m3u8", b"UPPER.M3U8", b"~t_i-l.d.e.ts", b"a//b.ts"]
    body = b'#EXTM3U\n#EXT-X-DEFINE:NAME="v",VALUE="var"\n#EXT-X-TARGETDURATION:4\n'
    for n in names:
        body += b"#EXTINF:4,\n" + n + b"\n"
    for key in ("fl/d/vod.m3u8", "flroot.m3u8", "pre/fl/d/vod.m3u8", "pre/flroot.m3u8",
                "fl/sp ace+%/vod.m3u8", "pre/fl/sp ace+%/vod.m3u8"):
        # VOD: no URL spans to keep, so the lane is taken; live: spans are kept, the lane declines
        put(key, body.replace(b"#EXTM3U\n", b"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n") + b"#EXT-X-ENDLIST\n")
        put(key.replace("vod", "live").replace("flroot", "flrootlive"), body)
    configs = [({}, ""), ({"S3_KEY_PREFIX": "pre"}, ""),
               ({"PASS_QUERY": "sid", "PASS_QUERY_SEGMENTS": "true"}, "?sid=S1")]
    paths = ["/hls/fl/d/vod.m3u8", "/hls/flroot.m3u8", "/hls/fl/d/live.m3u8", "/hls/flrootlive.m3u8",
             "/hls/fl/sp%20ace%2B%25/vod.m3u8"]  # a folder the URL encoder escapes
    for env, q in configs:
        fast = gw(PUBLIC_BASE_URL="https://gw.test", **env)  # the same nested URLs from both
        slow = gw(PUBLIC_BASE_URL="https://gw.test", HG_FAST_URIS=0, **env)
        try:
            for path in paths:
                for attempt in range(3):  # both answers in one signing window
                    a = http(fast.port, "GET", path + q)
                    b = http(slow.port, "GET", path + q)
                    if a[2] == b[2]:
                        break
                eq(a[0], 200, "%s%s %r: status" % (path, q, env))
                ok(a[2].count(b"X-Amz-Signature=") >= 8, "%s: signed URLs in the answer" % path)
                eq(a[2], b[2], "%s%s %r: the fast lane's answer is the general path's" % (path, q, env))
            eq(metric(fast, "hlsgate_presigned_urls_total"), metric(slow, "hlsgate_presigned_urls_total"),
               "the same number of presigned URLs counted")
        finally:
            fast.stop()
            slow.stop()


def uris_of(body):
    return [l for l in body.decode().splitlines() if l and not l.startswith("#")] + \
        re.findall(r'URI="([^"]+)"', body.decode())


def cleanup():
    NGINX.stop()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    run_tests("regressions", dict(globals()), cleanup=cleanup)
