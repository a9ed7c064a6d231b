#!/usr/bin/env python3
"""Integration tests of access tokens (EdgeAuth hdnts layout) and TRUST_PROXY, with the real
binary against a real nginx origin. Tokens are minted here with Python's hmac, independently of
the gateway's own code, as any existing token generator would.

usage: test_tokens.py PATH/TO/hlsgate"""
import binascii
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Nginx, eq, http, ok, run_tests  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
SECRET_HEX = "6b8f0e3a91c24d7f5e6a7b8c9d0e1f2a"
ROOT = tempfile.mkdtemp(prefix="hg-token-origin-")
for key, text in {
    "show1/master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8?q=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv1/index.m3u8\n",
    "show1/v0/index.m3u8": "#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n",
    "show1/v1/index.m3u8": "#EXTM3U\n#EXTINF:2,\nb.ts\n#EXT-X-ENDLIST\n",
    "show2/master.m3u8": "#EXTM3U\n#EXTINF:2,\nc.ts\n",
}.items():
    p = os.path.join(ROOT, "media", key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(text)
NGINX = Nginx(ROOT)
GW = Gateway(BIN, NGINX.endpoint, "media", TOKEN_SECRET=SECRET_HEX)


def mint(acl, exp, st=None, key=SECRET_HEX):
    fields = ([("st", str(st))] if st else []) + [("exp", str(exp)), ("acl", acl)]
    body = "~".join("%s=%s" % kv for kv in fields)
    mac = hmac.new(binascii.a2b_hex(key), body.encode(), hashlib.sha256).hexdigest()
    return body + "~hmac=" + mac


def get(path, token=None, raw=False):
    if token is not None:
        sep = "&" if "?" in path else "?"
        path += sep + "hdnts=" + (token if raw else urllib.parse.quote(token, safe="=~/*!"))
    return http(GW.port, "GET", path)


def test_token_required_and_accepted():
    st, _, body = get("/hls/show1/master.m3u8")
    eq((st, body), (403, b"access token required\n"), "no token")
    tok = mint("/hls/show1/*", int(time.time()) + 60)
    st, _, body = get("/hls/show1/master.m3u8", tok)
    eq(st, 200, "valid token")
    st, h, _ = get("/hls-seg/show1/v0/a.ts", mint("/hls-seg/show1/*", int(time.time()) + 60))
    eq(st, 302, "segment fallback with a token")
    eq(get("/hls-seg/show1/v0/a.ts")[0], 403, "segment fallback without one")
    eq(get("/healthz")[0], 200, "health needs no token")


def test_expired_forged_and_out_of_acl():
    now = int(time.time())
    eq(get("/hls/show1/master.m3u8", mint("/hls/show1/*", now - 1))[0], 403, "expired")
    good = mint("/hls/show1/*", now + 60)
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    st, _, body = get("/hls/show1/master.m3u8", forged)
    eq((st, body), (403, b"access token signature invalid\n"), "forged MAC")
    longer = good.replace("exp=%d" % (now + 60), "exp=%d" % (now + 99999))
    eq(get("/hls/show1/master.m3u8", longer)[0], 403, "extended expiry without re-signing")
    other_key = mint("/hls/show1/*", now + 60, key="00" * 16)
    eq(get("/hls/show1/master.m3u8", other_key)[0], 403, "other key")
    st, _, body = get("/hls/show2/master.m3u8", good)
    eq((st, body), (403, b"path not allowed by the access token\n"), "outside the ACL")
    eq(get("/hls/show1/master.m3u8", mint("/hls/show1/*", now + 60, st=now + 30))[0], 403, "not valid yet")
    eq(get("/hls/show1/master.m3u8", "garbage")[0], 403, "malformed")
    ok(good[-64:] not in GW.logtext(), "tokens are never logged")


def test_token_propagates_to_nested_playlists():
    tok = mint("/hls/show1/*", int(time.time()) + 60)
    st, _, body = get("/hls/show1/master.m3u8", tok)
    eq(st, 200, "master")
    variants = [l for l in body.decode().splitlines() if l and not l.startswith("#")]
    eq(len(variants), 2, "two variants")
    ok(variants[0].endswith("/hls/show1/v0/index.m3u8?q=1&hdnts=" + urllib.parse.quote(tok, safe="=~/*!")), variants[0])
    for v in variants:
        ok("hdnts=" in v, "token carried: %s" % v)
        u = urllib.parse.urlsplit(v)
        st, _, vb = http(GW.port, "GET", u.path + "?" + u.query)
        eq(st, 200, "a player following the variant gets it")
        ok(b"X-Amz-Signature" in vb, "signed media")


def test_cached_playlists_keep_per_token_urls():
    now = int(time.time())
    t1 = mint("/hls/show1/*", now + 60)
    t2 = mint("/hls/show1/*", now + 120)
    b1 = get("/hls/show1/master.m3u8", t1)[2]
    b2 = get("/hls/show1/master.m3u8", t2)[2]
    ok(urllib.parse.quote(t1, safe="=~/*!") in b1.decode() and urllib.parse.quote(t2, safe="=~/*!") in b2.decode(),
       "each viewer gets nested URLs with their own token, cache or not")


def test_token_subcommand():
    env = dict(os.environ, TOKEN_SECRET=SECRET_HEX)
    r = subprocess.run([BIN, "token", "--acl", "/hls/show1/*", "--ttl", "60"], env=env, capture_output=True, text=True)
    eq(r.returncode, 0, "exit")
    line = r.stdout.strip()
    ok(line.startswith("hdnts=exp="), line)
    tok = line.split("=", 1)[1]
    body, mac = tok.split("~hmac=")
    eq(mac, hmac.new(binascii.a2b_hex(SECRET_HEX), body.encode(), hashlib.sha256).hexdigest(), "standard EdgeAuth MAC")
    eq(get("/hls/show1/master.m3u8", tok)[0], 200, "accepted by the gateway")
    r = subprocess.run([BIN, "token", "--acl", "/x"], env=dict(os.environ, TOKEN_SECRET="xyz"), capture_output=True, text=True)
    ok(r.returncode == 2 and "TOKEN_SECRET" in r.stderr, "bad secret named")


def test_bad_token_secret_config():
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
    e.update(S3_BUCKET="b", S3_ACCESS_KEY_ID="a", S3_SECRET_ACCESS_KEY="s", TOKEN_SECRET="not-hex")
    r = subprocess.run([BIN], env=e, capture_output=True, text=True, timeout=10)
    ok(r.returncode == 2 and "TOKEN_SECRET" in r.stderr and "not-hex" not in r.stderr, r.stderr)


def test_trust_proxy_forwarded_headers():
    plain = Gateway(BIN, NGINX.endpoint, "media")
    trusting = Gateway(BIN, NGINX.endpoint, "media", TRUST_PROXY="true")
    try:
        hdr = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "X-Forwarded-Proto": "https"}
        st, _, body = http(plain.port, "GET", "/hls/show1/master.m3u8", hdr)
        ok(b"\nhttp://127.0.0.1:" in body, "untrusted: forwarded proto ignored")
        ok(plain.wait_log("client=127.0.0.1"), "untrusted: socket address logged")
        ok("203.0.113.7" not in plain.logtext(), "untrusted: X-Forwarded-For ignored")
        st, _, body = http(trusting.port, "GET", "/hls/show1/master.m3u8", hdr)
        ok(b"\nhttps://127.0.0.1:" in body, "trusted: nested URLs keep the client's https")
        ok(trusting.wait_log("client=203.0.113.7 "), "trusted: first X-Forwarded-For hop logged")
    finally:
        eq(plain.stop(), 0, "exit")
        eq(trusting.stop(), 0, "exit")


def cleanup():
    if GW.proc.poll() is None:
        GW.stop()
    NGINX.stop()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    run_tests("tokens", globals(), cleanup, last=lambda: eq(GW.stop(), 0, "exit"))
