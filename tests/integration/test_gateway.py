#!/usr/bin/env python3
"""Integration tests: the real hlsgate binary against a real nginx origin on loopback.

usage: test_gateway.py PATH/TO/hlsgate"""
import calendar
import concurrent.futures
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
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (dripping, ACCESS_KEY, SECRET_KEY, Gateway, Nginx, ScriptedOrigin, eq, free_port, http, ok,  # noqa: E402
                     parse_responses, raw_request, run_tests, wait_port)
import sigcheck  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"
PREFIX = "tenant/a"

VOD = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.key",IV=0x00000000000000000000000000000001
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
seg0.m4s
#EXTINF:4.0,
seg%201.m4s?v=2
#EXT-X-BYTERANGE:1000@0
#EXTINF:4.0,
/shared/seg2.m4s
#EXTINF:4.0,
https://cdn.example.com/abs.m4s
#EXTINF:4.0,
../../../../escape.m4s
#EXT-X-ENDLIST
"""

MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO="aud"
vod/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="vod/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1600000
https://other.example.com/x.m3u8
"""

LIVE = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:100
#EXTINF:6.0,
s100.ts
#EXTINF:6.0,
s101.ts
"""


def big_playlist(n):
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(n):
        lines += ["#EXTINF:2.000,", "segment_%05d.ts" % i]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def build_tree():
    root = tempfile.mkdtemp(prefix="hg-origin-")
    base = os.path.join(root, BUCKET, PREFIX)
    files = {
        "vod/index.m3u8": VOD,
        "vod/seg0.m4s": "segment zero bytes",
        "vod/init.mp4": "init",
        "master.m3u8": MASTER,
        "live/index.m3u8": LIVE,
        "crlf.m3u8": "\ufeff#EXTM3U\r\n#EXTINF:2,\r\na b.ts\r\n#EXT-X-ENDLIST\r\n",
        "big/index.m3u8": big_playlist(1800),
        "notpl.m3u8": "<html><body>Error</body></html>\n",
        "empty.m3u8": "",
        "forbidden/x.m3u8": "#EXTM3U\n",
        "broken/x.m3u8": "#EXTM3U\n",
        "unicode/\u00e9t\u00e9 1.m3u8": "#EXTM3U\n#EXTINF:1,\nd\u00e9j\u00e0 vu.ts\n#EXT-X-ENDLIST\n",
    }
    for k, v in files.items():
        p = os.path.join(base, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(v)
    return root, files


ROOT, FILES = build_tree()
PEER_DIR = os.environ.get("HG_PEER_DIR") or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared", "peer-playlists")
PEER_DIR = os.path.abspath(PEER_DIR)
extra = f"""
    location /{BUCKET}/{PREFIX}/forbidden/ {{ return 403 "<Error><Code>SignatureDoesNotMatch</Code></Error>"; }}
    location /{BUCKET}/{PREFIX}/broken/ {{ return 500; }}
"""
if os.path.isdir(PEER_DIR):
    extra += f"    location /{BUCKET}/{PREFIX}/peer/ {{ alias {PEER_DIR}/; }}\n"
NGINX = Nginx(ROOT, extra_locations=extra, gzip=True)
GW = Gateway(BIN, NGINX.endpoint, BUCKET, PREFIX, workers=2)
OBJ_BASE = "%s/%s/%s/" % (NGINX.endpoint, BUCKET, PREFIX)


def get(path, headers=None, gw=None):
    g = gw or GW
    return http(g.port, "GET", path, headers)


def check_presigned(url, want_key):
    ok(url.startswith(NGINX.endpoint + "/"), "presigned URL points at the endpoint: %s" % url)
    good, path = sigcheck.verify(url, SECRET_KEY)
    ok(good, "signature verifies for %s" % url)
    eq(path, "/%s/%s" % (BUCKET, want_key), "signed path")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    eq(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256", "algorithm")
    eq(q["X-Amz-SignedHeaders"], "host", "signed headers")
    ok(q["X-Amz-Credential"].startswith(ACCESS_KEY + "/"), "credential")
    # SIGN_WINDOW_SECONDS=300: dated at the window's start, valid PRESIGN_EXPIRES_SECONDS + window
    eq(q["X-Amz-Expires"], "7500", "expires")
    t = time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    ok(calendar.timegm(t) % 300 == 0, "X-Amz-Date at a window start: %s" % q["X-Amz-Date"])


# ---- endpoints and rewriting ----------------------------------------------------------------

def test_vod_playlist():
    st, h, body = get("/hls/vod/index.m3u8")
    eq(st, 200, "status")
    eq(h["content-type"], "application/vnd.apple.mpegurl", "content type")
    eq(h["access-control-allow-origin"], "*", "cors")
    eq(h["cache-control"], "public, max-age=300", "cache control")
    eq(int(h["content-length"]), len(body), "content length")
    lines = body.decode().split("\n")
    src = VOD.split("\n")
    eq(len(lines), len(src), "line count")
    key_url = re.search(r'URI="([^"]+)"', lines[4]).group(1)
    check_presigned(key_url, PREFIX + "/vod/keys/k1.key")
    ok(lines[4].startswith('#EXT-X-KEY:METHOD=AES-128,URI="') and lines[4].endswith('",IV=0x00000000000000000000000000000001'), "KEY tag kept")
    check_presigned(re.search(r'URI="([^"]+)"', lines[5]).group(1), PREFIX + "/vod/init.mp4")
    check_presigned(lines[7], PREFIX + "/vod/seg0.m4s")
    check_presigned(lines[9], PREFIX + "/vod/seg 1.m4s")
    ok("v=2" in lines[9], "segment query kept and signed")
    eq(lines[10], "#EXT-X-BYTERANGE:1000@0", "byterange untouched")
    check_presigned(lines[12], PREFIX + "/shared/seg2.m4s")
    eq(lines[14], "https://cdn.example.com/abs.m4s", "absolute URI kept")
    eq(lines[16], "../../../../escape.m4s", "escaping URI never signed")
    for i in (0, 1, 2, 3, 6, 8, 11, 13, 15, 17):
        eq(lines[i], src[i], "line %d unchanged" % i)
    ok(GW.wait_log("presigned_urls=5"), "access log counts presigned URLs")


def test_presigned_urls_fetch_from_origin():
    _, _, body = get("/hls/vod/index.m3u8")
    seg = body.decode().split("\n")[7]
    out = subprocess.run(["curl", "-sf", seg], capture_output=True)
    eq(out.returncode, 0, "curl status")
    eq(out.stdout, FILES["vod/seg0.m4s"].encode(), "segment bytes")


def test_head_matches_get():
    st, h, body = http(GW.port, "HEAD", "/hls/vod/index.m3u8")
    eq(st, 200, "status")
    eq(body, b"", "no body")
    _, hg, bg = get("/hls/vod/index.m3u8")
    eq(h["content-length"], hg["content-length"], "same length")
    eq(h["cache-control"], hg["cache-control"], "same cache control")


def test_master_gateway_urls():
    st, h, body = get("/hls/master.m3u8")
    eq(st, 200, "status")
    eq(h["cache-control"], "public, max-age=300", "master cache control")
    text = body.decode()
    base = "http://127.0.0.1:%d/hls/" % GW.port
    ok('URI="%saudio/en.m3u8"' % base in text, "MEDIA URI -> gateway")
    ok("\n%svod/index.m3u8\n" % base in text, "variant -> gateway")
    ok('URI="%svod/iframe.m3u8"' % base in text, "I-FRAME URI -> gateway")
    ok("\nhttps://other.example.com/x.m3u8\n" in text, "absolute variant kept")
    ok("X-Amz" not in text, "master has nothing to presign")


def test_public_base_url():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PREFIX, PUBLIC_BASE_URL="https://video.example.com/")
    try:
        _, _, body = get("/hls/master.m3u8", gw=g)
        ok("\nhttps://video.example.com/hls/vod/index.m3u8\n" in body.decode(), "public base used")
    finally:
        eq(g.stop(), 0, "exit status")


def test_live_max_age():
    st, h, body = get("/hls/live/index.m3u8")
    eq(st, 200, "status")
    eq(h["cache-control"], "public, max-age=3", "half the target duration")


def test_bom_crlf_and_unicode():
    st, _, body = get("/hls/crlf.m3u8")
    eq(st, 200, "status")
    ok(body.startswith("\ufeff#EXTM3U\r\n".encode()), "BOM and CRLF kept")
    line = body.split(b"\r\n")[2].decode()
    check_presigned(line, PREFIX + "/a b.ts")
    st, _, body = get("/hls/unicode/%C3%A9t%C3%A9%201.m3u8")
    eq(st, 200, "unicode key status")
    check_presigned(body.decode().split("\n")[2], PREFIX + "/unicode/d\u00e9j\u00e0 vu.ts")


def test_big_playlist_streams_chunked():
    st, h, body = get("/hls/big/index.m3u8")
    eq(st, 200, "status")
    eq(h.get("transfer-encoding"), "chunked", "streamed")
    ok(body is not None, "complete chunked body")
    lines = body.decode().split("\n")
    eq(len(lines), len(FILES["big/index.m3u8"].split("\n")), "line count")
    check_presigned(lines[4], PREFIX + "/big/segment_00000.ts")
    check_presigned(lines[-3], PREFIX + "/big/segment_01799.ts")
    eq(sum(1 for l in lines if "X-Amz-Signature=" in l), 1800, "every segment signed")


def test_curl_reads_whole_big_playlist():
    out = subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                          GW.base + "/hls/big/index.m3u8"], capture_output=True, text=True)
    eq(out.returncode, 0, "curl exit: " + out.stderr)
    ok(out.stdout.startswith("200 "), out.stdout)


def test_segment_redirect():
    st, h, _ = get("/hls-seg/vod/seg0.m4s")
    eq(st, 302, "status")
    eq(h["cache-control"], "private, max-age=60", "cache control")
    check_presigned(h["location"], PREFIX + "/vod/seg0.m4s")
    out = subprocess.run(["curl", "-sfL", GW.base + "/hls-seg/vod/seg0.m4s"], capture_output=True)
    eq(out.stdout, FILES["vod/seg0.m4s"].encode(), "redirect leads to the bytes")
    st, h, _ = http(GW.port, "HEAD", "/hls-seg/vod/seg0.m4s")
    eq(st, 302, "HEAD status")
    ok("location" in h, "HEAD location")
    st, h, _ = get("/hls-seg/vod/seg0.m4s?response-content-type=text/html")
    ok("response-content-type" not in h["location"], "client query is never signed")


def test_segment_oracle_refused():
    for path, want in [("/hls-seg/master.m3u8", 403), ("/hls-seg/secret.json", 403),
                       ("/hls-seg/noext", 403), ("/hls-seg/../x.ts", 403),
                       ("/hls-seg/%2e%2e/x.ts", 403), ("/hls-seg/a/..%2fx.ts", 403),
                       ("/hls-seg/a%00.ts", 400), ("/hls-seg/", 400), ("/hls-seg/a\\b.ts", 400),
                       ("/hls-seg/%zz.ts", 400), ("/hls-seg/%C0%AE%C0%AE/x.ts", 400)]:
        st, _, _ = get(path)
        eq(st, want, path)
    st, _, _ = get("/hls-seg/VOD/SEG.TS")
    eq(st, 302, "extension match is case-insensitive")


def test_playlist_path_attacks():
    for path, want in [("/hls/../etc/passwd", 403), ("/hls/%2e%2e/x.m3u8", 403), ("/hls/", 400),
                       ("/hls/a//b.m3u8", 400), ("/hls/%00.m3u8", 400)]:
        st, _, _ = get(path)
        eq(st, want, path)
    ok("/etc/passwd" not in "\n".join(NGINX.access_lines()), "nothing outside the namespace was fetched")


def test_options_healthz_404_405():
    st, h, _ = http(GW.port, "OPTIONS", "/hls/master.m3u8",
                    {"Origin": "https://player.example", "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "range"})
    eq(st, 204, "preflight")
    eq(h["access-control-allow-origin"], "*", "allow origin")
    ok("GET" in h["access-control-allow-methods"], "allow methods")
    eq(h["access-control-allow-headers"], "range", "allow headers echo")
    st, _, body = get("/healthz")
    eq((st, body), (200, b"ok\n"), "healthz")
    st, _, _ = get("/nope")
    eq(st, 404, "unknown path")
    st, h, _ = http(GW.port, "DELETE", "/hls/master.m3u8")
    eq(st, 405, "method")
    ok("GET" in h.get("allow", ""), "Allow header")


# ---- HTTP handling --------------------------------------------------------------------------

def test_pipelining_in_order():
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in
                    (b"/hls/live/index.m3u8", b"/healthz", b"/hls/master.m3u8", b"/nope"))
    reqs += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    rs = parse_responses(raw_request(GW.port, reqs))
    eq([r[0] for r in rs], [200, 200, 200, 404, 200], "statuses in order")
    ok(b"s100.ts" in rs[0][2], "first is the live playlist")
    ok(b"#EXT-X-STREAM-INF" in rs[2][2], "third is the master")


def test_request_split_at_every_byte():
    req = b"GET /hls/live/index.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    rs = parse_responses(raw_request(GW.port, req, chunks=[req[i:i + 1] for i in range(len(req))], delay=0.002))
    eq([r[0] for r in rs], [200], "split request")
    for cut in range(1, len(req)):
        rs = parse_responses(raw_request(GW.port, req, chunks=[req[:cut], req[cut:]], delay=0.001))
        eq(len(rs) and rs[0][0], 200, "split at %d" % cut)


def test_bad_requests():
    cases = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", 431),
        (b"GET http://evil/hls/x.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"CONNECT evil:443 HTTP/1.1\r\nHost: evil\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ]
    for req, want in cases:
        t0 = time.time()
        data = raw_request(GW.port, req + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        rs = parse_responses(data)
        ok(rs, "a response for %r" % req[:60])
        eq(rs[0][0], want, "status for %r" % req[:60])
        eq(rs[0][1].get("connection"), "close", "connection closed for %r" % req[:60])
        eq(len(rs), 1, "nothing after the error for %r" % req[:60])
        ok(time.time() - t0 < 2.5, "closed promptly")


def test_http10_and_keepalive():
    data = raw_request(GW.port, b"GET /hls/live/index.m3u8 HTTP/1.0\r\n\r\n")
    rs = parse_responses(data)
    eq(rs[0][0], 200, "HTTP/1.0 status")
    ok(b"s100.ts" in rs[0][2], "body")
    # keep-alive: two requests on one connection, the second sent after the first answer
    s = socket.create_connection(("127.0.0.1", GW.port), 5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(4096)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rest = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        rest += b
    s.close()
    eq([r[0] for r in parse_responses(first + rest)], [200, 200], "keep-alive")


def test_concurrent_clients():
    def one(i):
        path = ["/hls/vod/index.m3u8", "/hls/big/index.m3u8", "/hls/master.m3u8", "/hls-seg/vod/seg0.m4s"][i % 4]
        st, h, body = get(path)
        return st, len(body or b"")
    with concurrent.futures.ThreadPoolExecutor(100) as ex:
        results = list(ex.map(one, range(100)))
    eq(sorted(set(r[0] for r in results)), [200, 302], "all succeeded")
    big = [r[1] for i, r in enumerate(results) if i % 4 == 1]
    ok(min(big) > 100000, "big playlists complete")


def test_origin_keepalive():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PREFIX, PLAYLIST_CACHE_BYTES=0)
    try:
        before = len(NGINX.access_lines())
        for _ in range(6):
            eq(get("/hls/live/index.m3u8", gw=g)[0], 200, "status")
        deadline = time.time() + 3
        while len(NGINX.access_lines()) - before < 6 and time.time() < deadline:
            time.sleep(0.02)  # nginx logs just after the response went out
        lines = NGINX.access_lines()[before:]
        conns = set(l.split()[0] for l in lines)
        eq(len(lines), 6, "six origin requests with the cache off")
        ok(len(conns) <= 2, "origin connections reused: %s" % conns)
    finally:
        eq(g.stop(), 0, "exit status")


def test_origin_gzip_decoded():
    # nginx compresses playlists for clients that accept gzip; hlsgate asks for it and decodes.
    st, _, body = get("/hls/big/index.m3u8")
    ok(body.startswith(b"#EXTM3U\n"), "decoded body")


# ---- origin faults --------------------------------------------------------------------------

def test_origin_status_mapping():
    st, _, body = get("/hls/missing.m3u8")
    eq(st, 404, "origin 404")
    st, _, body = get("/hls/forbidden/x.m3u8")
    eq(st, 502, "origin 403")
    ok(re.search(r"origin denied access: check S3 credentials", GW.logtext()), "credentials log line")
    ok(GW.wait_log("SignatureDoesNotMatch"), "origin error code logged")
    st, _, _ = get("/hls/broken/x.m3u8")
    eq(st, 502, "origin 500")
    st, _, body = get("/hls/notpl.m3u8")
    eq(st, 502, "not a playlist")
    ok(b"not a playlist" in body, "clear reason")
    st, _, _ = get("/hls/empty.m3u8")
    eq(st, 502, "empty object")
    ok(SECRET_KEY not in GW.logtext(), "secret never logged")


def test_origin_oversize():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PREFIX, PLAYLIST_MAX_BYTES=4096)
    try:
        st, _, body = get("/hls/big/index.m3u8", gw=g)
        eq(st, 502, "oversize")
        ok(b"PLAYLIST_MAX_BYTES" in body, "reason names the limit")
        eq(get("/hls/live/index.m3u8", gw=g)[0], 200, "small one still fine")
    finally:
        eq(g.stop(), 0, "exit status")


def test_origin_timeout_504():
    def hang(o, c, req):
        time.sleep(3)
    o = ScriptedOrigin(hang)
    g = Gateway(BIN, "http://127.0.0.1:%d" % o.port, BUCKET, ORIGIN_TIMEOUT_MS=500)
    try:
        t0 = time.time()
        st, _, body = get("/hls/x.m3u8", gw=g)
        eq(st, 504, "timeout status")
        ok(time.time() - t0 < 2.5, "bounded by ORIGIN_TIMEOUT_MS")
        ok(g.wait_log("origin timeout"), "log names the cause")
    finally:
        eq(g.stop(), 0, "exit status")
        o.stop()


def test_origin_down_502():
    port = free_port()
    g = Gateway(BIN, "http://127.0.0.1:%d" % port, BUCKET)
    try:
        st, _, body = get("/hls/x.m3u8", gw=g)
        eq(st, 502, "unreachable")
        ok(b"unreachable" in body, "reason")
    finally:
        eq(g.stop(), 0, "exit status")


def test_midstream_failure_aborts_chunked():
    body = big_playlist(3000).encode()

    def cut(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
        time.sleep(0.3)
    o = ScriptedOrigin(cut)
    g = Gateway(BIN, "http://127.0.0.1:%d" % o.port, BUCKET)
    try:
        data = raw_request(g.port, b"GET /hls/x.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        rs = parse_responses(data)
        eq(rs[0][0], 200, "headers were sent")
        eq(rs[0][1].get("transfer-encoding"), "chunked", "chunked")
        ok(rs[0][2] is None, "no final chunk: the client can tell the body is truncated")
        ok(not data.endswith(b"0\r\n\r\n"), "no terminator")
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", g.base + "/hls/x.m3u8"])
        ok(out.returncode != 0, "curl reports the truncated transfer (exit %d)" % out.returncode)
        ok(g.wait_log("aborted=1"), "logged as aborted")
    finally:
        eq(g.stop(), 0, "exit status")
        o.stop()


def test_client_disconnect_cancels_origin():
    body = big_playlist(20000).encode()

    o = ScriptedOrigin(dripping(body, 8192, 0.05))
    g = Gateway(BIN, "http://127.0.0.1:%d" % o.port, BUCKET)
    try:
        s = socket.create_connection(("127.0.0.1", g.port), 5)
        s.sendall(b"GET /hls/x.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(1000)
        ok(got.startswith(b"HTTP/1.1 200"), "stream started")
        s.close()
        ok(o.closed_early.wait(5), "origin transfer was cancelled")
        deadline = time.time() + 3
        while "status=499" not in g.logtext() and time.time() < deadline:
            time.sleep(0.05)
        ok(g.wait_log("status=499"), "logged as client closed")
        eq(get("/healthz", gw=g)[0], 200, "still serving")
    finally:
        eq(g.stop(), 0, "exit status")
        o.stop()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_client_backpressure():
    """A client that stops reading: the origin transfer is paused and memory stays bounded."""
    seg = b"#EXTINF:2.000,\nsegment_with_a_fairly_long_name_%08d.ts\n"
    total = 40 * 1024 * 1024
    head = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
    count = (total - len(head)) // len(seg % 0)
    sent = [0]

    def flood(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(head) + count * len(seg % 0)) + head)
        block = b"".join(seg % i for i in range(1000))
        for i in range(0, count, 1000):
            c.sendall(block if i + 1000 <= count else b"".join(seg % j for j in range(i, count)))
            sent[0] += len(block)
    o = ScriptedOrigin(flood)
    g = Gateway(BIN, "http://127.0.0.1:%d" % o.port, BUCKET, PLAYLIST_MAX_BYTES=64 * 1024 * 1024,
                ORIGIN_LOW_SPEED_SECONDS=30, WRITE_TIMEOUT_MS=60000)
    try:
        s = socket.create_connection(("127.0.0.1", g.port), 5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /hls/x.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(s.recv(100).startswith(b"HTTP/1.1 200"), "stream started")
        time.sleep(2.0)
        stalled_at = sent[0]
        rss = rss_kb(g.proc.pid)
        time.sleep(1.0)
        ok(sent[0] < total // 2, "origin paused: %d of %d bytes sent while the client read nothing" % (sent[0], total))
        ok(sent[0] - stalled_at < 2 * 1024 * 1024, "origin stays paused (%d -> %d)" % (stalled_at, sent[0]))
        ok(rss_kb(g.proc.pid) - rss < 16 * 1024, "gateway memory flat while paused")
        # now read for a while: the transfer resumes
        got = 0
        deadline = time.time() + 3
        s.settimeout(1)
        try:
            while time.time() < deadline:
                got += len(s.recv(1 << 20))
        except socket.timeout:
            pass  # the whole playlist arrived; the connection stays open (keep-alive)
        ok(sent[0] > stalled_at + 1024 * 1024, "origin resumed once the client read (%d -> %d)" % (stalled_at, sent[0]))
        s.close()
        eq(get("/healthz", gw=g)[0], 200, "still serving")
    finally:
        eq(g.stop(), 0, "exit status")
        o.stop()


# ---- peer playlists -------------------------------------------------------------------------

def test_peer_playlists_through_gateway():
    if not os.path.isdir(PEER_DIR):
        print("  (no peer-playlists folder at %s)" % PEER_DIR)
        return
    count = 0
    for dirpath, _, names in os.walk(PEER_DIR):
        for n in sorted(names):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, PEER_DIR)
            raw = open(p, "rb").read()
            st, h, body = get("/hls/peer/" + urllib.parse.quote(rel))
            is_pl = raw.lstrip(b"\xef\xbb\xbf").startswith(b"#EXTM3U")
            if not is_pl:
                eq(st, 502, "non-playlist %s" % rel)
                continue
            eq(st, 200, "playlist %s" % rel)
            src, out = raw.split(b"\n"), body.split(b"\n")
            eq(len(out), len(src), "line count of %s" % rel)
            for a, b in zip(src, out):
                if a.lstrip().startswith(b"#") and b"URI=" not in a:
                    eq(b, a, "tag line of %s" % rel)
                elif not a.strip():
                    eq(b, a, "blank line of %s" % rel)
            count += 1
    ok(count > 50, "checked %d peer playlists" % count)


# ---- configuration and lifecycle ------------------------------------------------------------

def run_bin(env, args=()):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
    e.update(env)
    return subprocess.run([BIN] + list(args), env=e, capture_output=True, text=True, timeout=10)


def test_config_errors():
    base = {"S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "topsecretvalue",
            "LISTEN": "127.0.0.1:%d" % free_port()}
    cases = [
        ({"S3_BUCKET": ""}, "S3_BUCKET"),
        ({"S3_ACCESS_KEY_ID": ""}, "S3_ACCESS_KEY_ID"),
        ({"S3_SECRET_ACCESS_KEY": ""}, "S3_SECRET_ACCESS_KEY"),
        ({"PRESIGN_EXPIRES_SECONDS": "999999"}, "PRESIGN_EXPIRES_SECONDS"),
        ({"PRESIGN_EXPIRES_SECONDS": "abc"}, "PRESIGN_EXPIRES_SECONDS"),
        ({"S3_ENDPOINT": "ftp://x"}, "S3_ENDPOINT"),
        ({"S3_ENDPOINT": "http://host/path"}, "S3_ENDPOINT"),
        ({"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
        ({"LISTEN": "nowhere"}, "LISTEN"),
        ({"S3_KEY_PREFIX": "a/../b"}, "S3_KEY_PREFIX"),
        ({"PUBLIC_BASE_URL": "video.example.com"}, "PUBLIC_BASE_URL"),
        ({"SEG_EXTENSIONS": "ts,m 4s"}, "SEG_EXTENSIONS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"S3_BUCKET": "bad/bucket"}, "S3_BUCKET"),
    ]
    for over, name in cases:
        env = dict(base)
        env.update(over)
        r = run_bin(env)
        eq(r.returncode, 2, "exit code for %s" % over)
        ok(name in r.stderr, "message names %s: %r" % (name, r.stderr))
        ok("topsecretvalue" not in r.stderr + r.stdout, "secret not echoed")
    r = run_bin(base, ["--presign-expires-seconds=0"])
    ok(r.returncode == 2 and "--presign-expires-seconds" in r.stderr, "flag named: %r" % r.stderr)
    r = run_bin(base, ["--bogus"])
    ok(r.returncode == 2 and "--bogus" in r.stderr, "unknown flag named")
    r = run_bin({}, ["--help"])
    eq(r.returncode, 0, "--help exit")
    for name in ("LISTEN", "S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                 "S3_SESSION_TOKEN", "S3_ADDRESSING_STYLE", "S3_KEY_PREFIX", "PRESIGN_EXPIRES_SECONDS",
                 "PUBLIC_BASE_URL", "--s3-bucket", "AWS_ACCESS_KEY_ID"):
        ok(name in r.stdout, "--help documents " + name)


def test_flags_override_env_and_vultr_bucket():
    # VULTR_BUCKET is the bucket and the default key prefix, as in the old gateway.
    os.makedirs(os.path.join(ROOT, "oldbucket", "oldbucket"), exist_ok=True)
    with open(os.path.join(ROOT, "oldbucket", "oldbucket", "p.m3u8"), "w") as f:
        f.write("#EXTM3U\n#EXTINF:1,\ns.ts\n#EXT-X-ENDLIST\n")
    port = free_port()
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
    e.update({"VULTR_BUCKET": "oldbucket", "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
              "S3_ENDPOINT": "http://127.0.0.1:1", "LISTEN": "127.0.0.1:1", "WORKERS": "1"})
    p = subprocess.Popen([BIN, "--s3-endpoint", NGINX.endpoint, "--listen=127.0.0.1:%d" % port],
                         env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=p)
        st, _, body = http(port, "GET", "/hls/p.m3u8")
        eq(st, 200, "served from VULTR_BUCKET with its default prefix")
        good, path = sigcheck.verify(body.decode().split("\n")[2], SECRET_KEY)
        ok(good, "signature")
        eq(path, "/oldbucket/oldbucket/s.ts", "bucket and prefix")
    finally:
        p.send_signal(signal.SIGTERM)
        eq(p.wait(20), 0, "exit status")


def test_virtual_host_style():
    g = Gateway(BIN, NGINX.endpoint.replace("127.0.0.1", "localhost"), BUCKET, PREFIX, S3_ADDRESSING_STYLE="virtual")
    try:
        _, h, _ = get("/hls-seg/vod/seg0.m4s", gw=g)
        u = urllib.parse.urlsplit(h["location"])
        eq(u.netloc, "%s.localhost:%d" % (BUCKET, NGINX.port), "bucket in the host")
        eq(u.path, "/%s/vod/seg0.m4s" % PREFIX, "key is the path")
        good, _ = sigcheck.verify(h["location"], SECRET_KEY)
        ok(good, "signature over the virtual host")
    finally:
        eq(g.stop(), 0, "exit status")


def test_healthcheck_mode_and_readyz():
    env = dict(GW.env)
    r = subprocess.run([BIN, "--healthcheck"], env=env, capture_output=True, text=True, timeout=10)
    eq(r.returncode, 0, "healthy gateway: " + r.stderr)
    env["LISTEN"] = "0.0.0.0:%d" % free_port()
    r = subprocess.run([BIN, "--healthcheck"], env=env, capture_output=True, text=True, timeout=10)
    eq(r.returncode, 1, "nothing listening")
    ok("FAILED" in r.stderr, "says so")
    st, _, body = get("/readyz")
    eq((st, body), (200, b"ok\n"), "ready")


def test_sigterm_clean_exit():
    g = Gateway(BIN, NGINX.endpoint, BUCKET, PREFIX)
    eq(get("/hls/vod/index.m3u8", gw=g)[0], 200, "served")
    # An idle keep-alive connection must not hold up shutdown.
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1000)
    t0 = time.time()
    eq(g.stop(), 0, "exit 0 (and, under sanitizers, no leak report)")
    ok(time.time() - t0 < 5, "prompt")
    s.close()


def cleanup():
    NGINX.stop()
    if GW.proc.poll() is None:
        GW.stop()
    shutil.rmtree(ROOT, ignore_errors=True)


def final_clean_exit():
    eq(GW.stop(), 0, "main gateway exit status")
    tail = GW.logtext()[-2000:]
    ok("ERROR: AddressSanitizer" not in tail and "LeakSanitizer" not in tail, "sanitizer clean")


if __name__ == "__main__":
    run_tests("integration", globals(), cleanup, last=final_clean_exit)
