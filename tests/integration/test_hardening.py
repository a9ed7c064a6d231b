#!/usr/bin/env python3
"""Integration tests of the hardening work: client limits and timeouts, hostile playlists and
failing origins. Real binary, real nginx origin and a scriptable raw-socket origin on loopback.

usage: test_hardening.py PATH/TO/hlsgate"""
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Nginx, ScriptedOrigin, eq, http, ok, parse_responses, raw_request, run_tests  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"
ROOT = tempfile.mkdtemp(prefix="hg-hard-origin-")


def put(key, data):
    p = os.path.join(ROOT, BUCKET, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


put("ok.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n")
put("longline.m3u8", b"#EXTM3U\n#EXTINF:2,\n" + b"a" * (2 * 1024 * 1024) + b".ts\n")
put("manylines.m3u8", b"#EXTM3U\n" + b"#c\n" * 1000000 + b"#EXTINF:2,\nlast.ts\n#EXT-X-ENDLIST\n")
put("nul.m3u8", b"#EXTM3U\n#EXT-X-X:\x00\x01\n#EXTINF:2,\nse\x00g.ts\n#EXTINF:2,\ngood.ts\n")
put("unterminated.m3u8", b'#EXTM3U\n#EXT-X-MAP:URI="init.mp4\n#EXTINF:2,\na.ts\n')
put("badutf8.m3u8", b"#EXTM3U\n#EXT-X-SESSION-DATA:DATA-ID=\"x\",VALUE=\"\xff\xfe\"\n#EXTINF:2,\n\xc0\xafx.ts\n#EXTINF:2,\nok\xc3\xa9.ts\n")
NGINX = Nginx(ROOT)


def gw(**env):
    env.setdefault("PLAYLIST_CACHE_BYTES", 0)
    return Gateway(BIN, NGINX.endpoint, BUCKET, **env)


def closes_within(s, seconds):
    """Read until EOF; True when the server closed the connection within `seconds`."""
    s.settimeout(seconds)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True, data
            data += d
    except (socket.timeout, ConnectionResetError):
        return False, data


# ---- client limits and timeouts -------------------------------------------------------------

def test_slowloris_header_timeout():
    g = gw(HEADER_TIMEOUT_MS=600)
    try:
        s = socket.create_connection(("127.0.0.1", g.port))
        t0 = time.time()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):
            time.sleep(0.1)
            s.sendall(b"X-Drip: 1\r\n")  # bytes keep coming, but the deadline does not move
        closed, data = closes_within(s, 3)
        ok(closed, "closed")
        ok(data.startswith(b"HTTP/1.1 408"), "408: %r" % data[:40])
        ok(time.time() - t0 < 1.5, "within the header timeout")
        # an idle connection that never sends a byte is dropped too
        s2 = socket.create_connection(("127.0.0.1", g.port))
        closed, _ = closes_within(s2, 3)
        ok(closed, "silent connection dropped")
        eq(http(g.port, "GET", "/healthz")[0], 200, "still serving")
    finally:
        eq(g.stop(), 0, "exit")


def test_keepalive_idle_timeout():
    g = gw(KEEPALIVE_TIMEOUT_MS=500)
    try:
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.time()
        closed, data = closes_within(s, 3)
        ok(data.startswith(b"HTTP/1.1 200"), "answered")
        ok(closed and time.time() - t0 < 1.5, "idle keep-alive connection closed after the timeout")
    finally:
        eq(g.stop(), 0, "exit")


def test_max_connections_503():
    g = gw(MAX_CONNECTIONS=5, WORKERS=1)
    try:
        time.sleep(0.3)  # let the harness's readiness probe connection close first
        held = [socket.create_connection(("127.0.0.1", g.port)) for _ in range(5)]
        for s in held:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            ok(s.recv(4096).startswith(b"HTTP/1.1 200"), "within the limit")
        extra = socket.create_connection(("127.0.0.1", g.port))
        closed, data = closes_within(extra, 3)
        ok(data.startswith(b"HTTP/1.1 503"), "503 past the limit: %r" % data[:30])
        ok(closed, "and closed")
        ok(g.wait_log("connection limit reached"), "logged")
        for s in held:
            s.close()
        time.sleep(0.2)
        eq(http(g.port, "GET", "/healthz")[0], 200, "accepting again")
    finally:
        eq(g.stop(), 0, "exit")


def test_client_that_never_reads_is_dropped():
    seg = b"#EXTINF:2.000,\nsegment_%08d.ts\n"
    body = b"#EXTM3U\n" + b"".join(seg % i for i in range(200000))

    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        c.sendall(body)
    o = ScriptedOrigin(serve)
    g = Gateway(BIN, o.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=0, WRITE_TIMEOUT_MS=800,
                ORIGIN_LOW_SPEED_SECONDS=60)
    try:
        s = socket.create_connection(("127.0.0.1", g.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /hls/x.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.time() + 6
        while "phase=write" not in g.logtext() and time.time() < deadline:
            time.sleep(0.1)
        ok(g.wait_log("phase=write"), "dropped after the write timeout")
        ok(g.wait_log("status=499"), "its origin transfer was abandoned")
        s.close()
        eq(http(g.port, "GET", "/healthz")[0], 200, "still serving")
    finally:
        eq(g.stop(), 0, "exit")
        o.stop()


# ---- hostile playlists ----------------------------------------------------------------------

def test_megabyte_line_502():
    g = gw()
    try:
        st, _, body = http(g.port, "GET", "/hls/longline.m3u8")
        eq(st, 502, "status")
        ok(b"line too long" in body, "reason")
    finally:
        eq(g.stop(), 0, "exit")


def test_million_lines_streams_in_bounded_memory():
    g = gw()
    try:
        st, h, body = http(g.port, "GET", "/hls/manylines.m3u8", timeout=60)
        eq(st, 200, "status")
        eq(h.get("transfer-encoding"), "chunked", "streamed")
        eq(body.count(b"\n#c"), 1000000, "every line kept")
        ok(b"X-Amz-Signature" in body.split(b"\n")[-3], "last segment signed")
        with open("/proc/%d/status" % g.proc.pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]
        ok(hwm < 200 * 1024, "peak RSS bounded: %d KiB" % hwm)
    finally:
        eq(g.stop(), 0, "exit")


def test_nul_unterminated_and_invalid_utf8_have_defined_outcomes():
    g = gw()
    try:
        st, _, body = http(g.port, "GET", "/hls/nul.m3u8")
        eq(st, 200, "NUL bytes: status")
        lines = body.split(b"\n")
        eq(lines[1], b"#EXT-X-X:\x00\x01", "tag bytes kept")
        eq(lines[3], b"se\x00g.ts", "URI with a NUL is never signed")
        ok(b"X-Amz-Signature" in lines[5], "the next segment is signed")
        st, _, body = http(g.port, "GET", "/hls/unterminated.m3u8")
        eq(st, 200, "unterminated quote: status")
        eq(body.split(b"\n")[1], b'#EXT-X-MAP:URI="init.mp4', "broken tag left as it was")
        st, _, body = http(g.port, "GET", "/hls/badutf8.m3u8")
        eq(st, 200, "invalid UTF-8: status")
        lines = body.split(b"\n")
        eq(lines[1], b"#EXT-X-SESSION-DATA:DATA-ID=\"x\",VALUE=\"\xff\xfe\"", "bytes kept")
        eq(lines[3], b"\xc0\xafx.ts", "overlong UTF-8 URI never signed")
        ok(b"ok%C3%A9.ts?" in lines[5], "valid UTF-8 URI signed")
        eq(http(g.port, "GET", "/hls/ok.m3u8")[0], 200, "next request fine")
    finally:
        eq(g.stop(), 0, "exit")


# ---- origin faults --------------------------------------------------------------------------

def fault(behave, want_status, want_log, **env):
    o = ScriptedOrigin(behave)
    g = Gateway(BIN, o.endpoint, BUCKET, PLAYLIST_CACHE_BYTES=0, **env)
    try:
        t0 = time.time()
        data = raw_request(g.port, b"GET /hls/x.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=20)
        st, h, body = parse_responses(data)[0]
        if want_status is None:
            # failed after the response had started: a chunked body without its last chunk
            eq((st, h.get("transfer-encoding"), body), (200, "chunked", None), "truncated stream")
        else:
            eq(st, want_status, "status")
        ok(g.wait_log(want_log), "log names the cause (%s): %s" % (want_log, g.logtext()[-600:]))
        eq(http(g.port, "GET", "/healthz")[0], 200, "next request works")
        return time.time() - t0
    finally:
        eq(g.stop(), 0, "exit (no leak)")
        o.stop()


def test_origin_reset_mid_body():
    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n#EXTM3U\n#EXTINF:2,\n")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    fault(serve, 502, "origin transfer failed")


def test_origin_slow_one_byte_per_second():
    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for ch in b"#EXTM3U\n#EXTINF:2,\n":
            c.sendall(bytes([ch]))
            time.sleep(1)
    took = fault(serve, 504, "origin timeout", ORIGIN_TIMEOUT_MS=3000)
    ok(took < 6, "bounded by ORIGIN_TIMEOUT_MS (%.1fs)" % took)


def test_origin_stalled_low_speed():
    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n#EXTM3U\n")
        time.sleep(10)
    took = fault(serve, 504, "origin timeout", ORIGIN_LOW_SPEED_SECONDS=2)
    # curl averages the speed over a few seconds, so a stall is noticed a little after the limit
    ok(took < 12, "bounded by ORIGIN_LOW_SPEED_SECONDS (%.1fs)" % took)


def test_origin_hanging_after_headers():
    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        time.sleep(10)
    fault(serve, 504, "origin timeout", ORIGIN_TIMEOUT_MS=1000)


def test_origin_503_and_html_error_page():
    def s503(o, c, req):
        c.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Length: 9\r\n\r\nslow down")
    fault(s503, 502, "origin answered 503")

    def html(o, c, req):
        page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
    fault(html, 502, "not a playlist")


def test_origin_invalid_gzip():
    def serve(o, c, req):
        junk = b"\x1f\x8b\x08\x00this is not deflate data at all"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk)
    fault(serve, 502, "origin transfer failed")


def test_origin_oversize_body():
    big = b"#EXTM3U\n" + b"#c\n" * 999997

    def serve(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
    # past the head window the response has started, so the limit truncates the stream
    fault(serve, None, "PLAYLIST_MAX_BYTES", PLAYLIST_MAX_BYTES=1048576)

    def small(o, c, req):
        body = b"#EXTM3U\n" + b"#c\n" * 3000
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    # within the head window nothing was sent yet, so the client gets a clean 502
    fault(small, 502, "PLAYLIST_MAX_BYTES", PLAYLIST_MAX_BYTES=4096)


# ---- lifecycle ------------------------------------------------------------------------------

def test_sigterm_lets_inflight_response_finish():
    def slow(o, c, req):
        body = b"#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n"
        time.sleep(1.0)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    o = ScriptedOrigin(slow)
    g = Gateway(BIN, o.endpoint, BUCKET, DRAIN_TIMEOUT_MS=5000)
    try:
        result = {}

        def client():
            result["r"] = http(g.port, "GET", "/hls/x.m3u8", timeout=10)
        t = threading.Thread(target=client)
        t.start()
        time.sleep(0.3)
        g.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            socket.create_connection(("127.0.0.1", g.port), 0.5).close()
            refused = False
        except OSError:
            refused = True
        ok(refused, "no new connections once draining")
        t.join(10)
        st, _, body = result["r"]
        eq(st, 200, "in-flight response completed")
        ok(body.endswith(b"#EXT-X-ENDLIST\n") and b"X-Amz-Signature" in body, "whole playlist")
        eq(g.proc.wait(10), 0, "exit 0 after the drain")
    finally:
        g.stop()
        o.stop()


def test_sighup_reloads_rotated_credentials():
    import re
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sigcheck
    conf = tempfile.mktemp(prefix="hg-conf-")
    with open(conf, "w") as f:
        f.write("# rotated by the deploy tool\nS3_ACCESS_KEY_ID=AKIDOLDOLDOLD\nexport S3_SECRET_ACCESS_KEY='old/secret'\n")
    g = Gateway(BIN, NGINX.endpoint, BUCKET, workers=2, args=["--config", conf], WORKERS=2,
                S3_ACCESS_KEY_ID="AKIDFROMENV", SIGN_WINDOW_SECONDS=300)
    stop = threading.Event()
    statuses = []
    errors = []

    def hammer():
        while not stop.is_set():
            try:
                statuses.append(http(g.port, "GET", "/hls/ok.m3u8")[0])
            except Exception as e:  # a dropped connection would show up here
                errors.append(repr(e))
    t = threading.Thread(target=hammer)
    try:
        body = http(g.port, "GET", "/hls/ok.m3u8")[2].decode()
        url = [l for l in body.splitlines() if "X-Amz" in l][0]
        ok("X-Amz-Credential=AKIDOLDOLDOLD%2F" in url, "the file wins over the environment: %s" % url)
        ok(sigcheck.verify(url, "old/secret")[0], "signed with the old secret")
        ka = socket.create_connection(("127.0.0.1", g.port))
        ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(ka.recv(1000).startswith(b"HTTP/1.1 200"), "keep-alive connection open")
        t.start()
        time.sleep(0.3)
        with open(conf, "w") as f:
            f.write("S3_ACCESS_KEY_ID=AKIDNEWNEWNEW\nS3_SECRET_ACCESS_KEY=\"new/secret\"\n")
        g.proc.send_signal(signal.SIGHUP)
        ok(g.wait_log('configuration reloaded" worker=0') and g.wait_log('configuration reloaded" worker=1'),
           "both workers reloaded")
        time.sleep(0.3)
        body = http(g.port, "GET", "/hls/ok.m3u8")[2].decode()
        url = [l for l in body.splitlines() if "X-Amz" in l][0]
        ok("X-Amz-Credential=AKIDNEWNEWNEW%2F" in url, "new URLs use the new key: %s" % url)
        ok(sigcheck.verify(url, "new/secret")[0], "signed with the new secret")
        ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(ka.recv(1000).startswith(b"HTTP/1.1 200"), "connection from before the reload still served")
        # a broken file is refused and the running configuration stays
        with open(conf, "w") as f:
            f.write("S3_ACCESS_KEY_ID=AKIDBROKEN\nPRESIGN_EXPIRES_SECONDS=soon\n")
        g.proc.send_signal(signal.SIGHUP)
        ok(g.wait_log("reload failed, keeping the running configuration"), "refused")
        ok(g.wait_log("PRESIGN_EXPIRES_SECONDS"), "names the variable")
        body = http(g.port, "GET", "/hls/ok.m3u8")[2].decode()
        ok("AKIDNEWNEWNEW" in body, "still the last good configuration")
        stop.set()
        t.join(10)
        ok(len(statuses) > 20, "requests kept flowing during the reloads (%d)" % len(statuses))
        eq(set(statuses), {200}, "all succeeded")
        eq(errors, [], "no connection errors")
        ka.close()
    finally:
        stop.set()
        eq(g.stop(), 0, "exit")
        os.unlink(conf)


def cleanup():
    NGINX.stop()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    run_tests("hardening", globals(), cleanup)
