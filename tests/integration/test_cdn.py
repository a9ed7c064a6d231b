#!/usr/bin/env python3
"""Integration tests of the CDN segment signers (SEGMENT_SIGNER): the real hlsgate binary, a real
nginx origin, and a CDN stand-in on loopback that serves the bucket's files only to requests whose
signature it can verify with its own implementation of each scheme (Python hmac, and the public
key for CloudFront). For every signer: media playlists (segments, EXT-X-MAP, EXT-X-KEY, a query,
awkward names) point at the CDN and every URL plays through the stand-in; nested playlists stay
gateway URLs; playlists are byte-identical within a window; folder signatures are shared;
/hls-seg redirects with the same signer; a bad key file stops startup naming the setting.

usage: test_cdn.py PATH/TO/hlsgate"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Nginx, eq, free_port, http as hget, ok, run_tests, uris_in  # noqa: E402

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError:
    print("FAILED: python3-cryptography is missing (scripts/setup.sh test installs it)")
    sys.exit(1)

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"
PREFIX = "tenant/a"
AK_HEX = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
GCDN_KEY = base64.urlsafe_b64encode(b"0123456789abcdef").decode()
BUNNY_KEY = "bunny-zone-key-for-tests"

MEDIA = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.key",IV=0x00000000000000000000000000000001
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
seg0.m4s
#EXTINF:4.0,
seg%201+%C3%A9.m4s?v=2&who=a%20b
#EXTINF:4.0,
../shared/seg2.m4s
#EXT-X-ENDLIST
"""
MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"
vod/index.m3u8
"""
FILES = {
    "show/master.m3u8": MASTER,
    "show/vod/index.m3u8": MEDIA,
    "show/vod/keys/k1.key": "0123456789abcdef",
    "show/vod/init.mp4": "INIT-BYTES",
    "show/vod/seg0.m4s": "SEG0-BYTES",
    "show/vod/seg 1+é.m4s": "SEG1-BYTES",
    "show/shared/seg2.m4s": "SEG2-BYTES",
}

ROOT = tempfile.mkdtemp(prefix="hg-cdn-origin-")
for key, text in FILES.items():
    p = os.path.join(ROOT, BUCKET, PREFIX, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
NGINX = Nginx(ROOT)

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
KEYFILES = {}
for name, k, fmt in (("rsa", RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL),
                     ("ec", EC_KEY, serialization.PrivateFormat.PKCS8)):
    KEYFILES[name] = os.path.join(ROOT, name + ".pem")
    with open(KEYFILES[name], "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))


# ---- the CDN stand-in: each scheme verified independently ---------------------------------------

def cf_unb64(s):
    return base64.b64decode(s.replace("-", "+").replace("_", "=").replace("~", "/"))


def wildcard_match(pattern, text):
    """CloudFront Resource matching: '*' matches any run of characters, '?' one character."""
    import fnmatch
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))


class Cdn:
    def __init__(self, scheme, public_key=None, sha256=False):
        self.scheme, self.public_key, self.sha256 = scheme, public_key, sha256
        self.port = free_port()
        self.path = "/edge"
        self.hits = 0
        cdn = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                cdn.hits += 1
                why = cdn.verify(self.path)
                if why:
                    body = ("denied: %s\n" % why).encode()
                    self.send_response(403)
                else:
                    path = urllib.parse.unquote(self.path.split("?", 1)[0][len(cdn.path) + 1:])
                    try:
                        with open(os.path.join(ROOT, BUCKET, path), "rb") as f:
                            body = f.read()
                        self.send_response(200)
                    except OSError:
                        body = b"not found\n"
                        self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self):
        return "http://127.0.0.1:%d%s" % (self.port, self.path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def verify(self, target):
        """None when the request carries a valid signature for its own URL, else why not."""
        path, _, query = target.partition("?")
        pairs = [p.split("=", 1) if "=" in p else [p, ""] for p in query.split("&") if p]
        q = dict(pairs)
        now = time.time()
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if self.scheme == "cloudfront":
            h = hashes.SHA256() if q.get("Hash-Algorithm") == "SHA256" else hashes.SHA1()
            if self.sha256 != (q.get("Hash-Algorithm") == "SHA256"):
                return "hash algorithm"
            own = [p for p in pairs if p[0] not in ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm")]
            full = url + ("?" + "&".join("=".join(p) for p in own) if own else "")
            if "Policy" in q:
                policy = cf_unb64(q["Policy"])
                st = json.loads(policy)["Statement"][0]
                if not wildcard_match(st["Resource"], full):
                    return "resource %s does not cover %s" % (st["Resource"], full)
                exp = st["Condition"]["DateLessThan"]["AWS:EpochTime"]
            else:
                exp = int(q.get("Expires", "0"))
                policy = json.dumps({"Statement": [{"Resource": full, "Condition": {"DateLessThan": {"AWS:EpochTime": exp}}}]},
                                    separators=(",", ":")).encode()
            if q.get("Key-Pair-Id") != "KTESTKEYPAIR":
                return "key pair id"
            if exp <= now:
                return "expired"
            try:
                sig = cf_unb64(q.get("Signature", ""))
                if isinstance(self.public_key, rsa.RSAPublicKey):
                    self.public_key.verify(sig, policy, padding.PKCS1v15(), h)
                else:
                    self.public_key.verify(sig, policy, ec.ECDSA(h))
            except Exception:
                return "bad signature"
            return None
        if self.scheme == "akamai":
            tok = q.get("__token__", "")
            fields = dict(f.split("=", 1) for f in tok.split("~") if "=" in f)
            body = tok.rsplit("~hmac=", 1)[0]
            mac = hmac.new(bytes.fromhex(AK_HEX), body.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(mac, fields.get("hmac", "")):
                return "bad hmac"
            if int(fields.get("exp", "0")) <= now:
                return "expired"
            acl = fields.get("acl", "")
            if not (acl.endswith("*") and path.startswith(acl[:-1])):
                return "acl %s does not cover %s" % (acl, path)
            return None
        if self.scheme == "gcdn":
            text = "URLPrefix=%s&Expires=%s&KeyName=%s" % (q.get("URLPrefix"), q.get("Expires"), q.get("KeyName"))
            mac = hmac.new(base64.urlsafe_b64decode(GCDN_KEY), text.encode(), hashlib.sha1).digest()
            if not hmac.compare_digest(base64.urlsafe_b64encode(mac).decode(), q.get("Signature", "")):
                return "bad signature"
            if int(q.get("Expires", "0")) <= now or q.get("KeyName") != "test-key":
                return "expired or wrong key"
            prefix = base64.urlsafe_b64decode(q["URLPrefix"]).decode()
            if not url.startswith(prefix):
                return "prefix %s does not cover %s" % (prefix, url)
            return None
        if self.scheme == "bunny":
            params = {urllib.parse.unquote_plus(k): urllib.parse.unquote_plus(v) for k, v in pairs
                      if k not in ("token", "expires")}
            token_path = params.get("token_path", urllib.parse.unquote(path))
            signed = "&".join("%s=%s" % kv for kv in sorted(params.items()))
            mac = hmac.new(BUNNY_KEY.encode(), (token_path + q.get("expires", "") + signed).encode(), hashlib.sha256).digest()
            want = "HS256-" + base64.urlsafe_b64encode(mac).decode().rstrip("=")
            if not hmac.compare_digest(want, q.get("token", "")):
                return "bad token"
            if int(q.get("expires", "0")) <= now:
                return "expired"
            if not urllib.parse.unquote(path).startswith(token_path):
                return "token_path %s does not cover %s" % (token_path, path)
            return None
        return "unknown scheme"


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tamper(url):
    """Flip one character of the signature-bearing parameter's value."""
    for name in ("Signature=", "__token__=", "token="):
        i = url.find(name)
        if i >= 0:
            j = url.find("&", i)
            j = len(url) if j < 0 else j
            m = (i + len(name) + j) // 2  # the middle of the value, clear of any padding
            return url[:m] + ("A" if url[m] != "A" else "B") + url[m + 1:]
    raise AssertionError("no signature in " + url)


def settings_for(scheme, cdn, **extra):
    s = {"SEGMENT_SIGNER": scheme, "SEGMENT_BASE_URL": cdn.base, "S3_KEY_PREFIX": PREFIX}
    if scheme == "cloudfront":
        s.update(CLOUDFRONT_KEY_PAIR_ID="KTESTKEYPAIR")
    elif scheme == "akamai":
        s.update(AKAMAI_TOKEN_KEY=AK_HEX)
    elif scheme == "gcdn":
        s.update(GCDN_KEY_NAME="test-key", GCDN_KEY=GCDN_KEY)
    else:
        s.update(BUNNY_TOKEN_KEY=BUNNY_KEY)
    s.update(extra)
    return s


def exercise(scheme, public_key=None, sha256=False, **extra):
    cdn = Cdn(scheme, public_key, sha256)
    gw = Gateway(BIN, NGINX.endpoint, BUCKET, **settings_for(scheme, cdn, **extra))
    try:
        # the multivariant playlist: nested playlists stay gateway URLs
        st, _, body = hget(gw.port, "GET", "/hls/show/master.m3u8")
        eq(st, 200, "master")
        for u in uris_in(body.decode()):
            ok(u.startswith(gw.base + "/hls/show/"), "nested playlist stays a gateway URL: " + u)
        # the media playlist: every media URI is a CDN URL that plays through the stand-in
        st, _, body = hget(gw.port, "GET", "/hls/show/vod/index.m3u8")
        eq(st, 200, "media playlist")
        text = body.decode()
        uris = uris_in(text)
        eq(len(uris), 5, "URIs in the media playlist")
        want = {"keys/k1.key": b"0123456789abcdef", "init.mp4": b"INIT-BYTES", "seg0.m4s": b"SEG0-BYTES",
                "seg%201%2B%C3%A9.m4s": b"SEG1-BYTES", "shared/seg2.m4s": b"SEG2-BYTES"}
        for u in uris:
            ok(u.startswith(cdn.base + "/" + PREFIX + "/show/"), "CDN URL: " + u)
            st, got = fetch(u)
            eq(st, 200, "through the CDN stand-in: %s (%r)" % (u, got))
            name = u.split("?")[0].split("/show/", 1)[1].replace("vod/", "", 1)
            eq(got, want[name], "bytes of " + name)
        ok("v=2" in uris[3] and "who=" in uris[3], "the URI's own query is kept")
        eq(fetch(tamper(uris[2]))[0], 403, "a tampered signature is refused by the stand-in")
        # byte-identical within the window on every replica: a second gateway writes the same bytes
        gw2 = Gateway(BIN, NGINX.endpoint, BUCKET, **settings_for(scheme, cdn, **extra))
        try:
            st2, _, body2 = hget(gw2.port, "GET", "/hls/show/vod/index.m3u8")
            eq(st2, 200, "second replica")
            same = body2.decode().replace(gw2.base, gw.base) == text
            ok(same, "two replicas write the same playlist within a window")
        finally:
            eq(gw2.stop(), 0, "second gateway exit status")
            os.unlink(gw2.logpath)
        # folder signatures are shared (all but canned CloudFront)
        if not (scheme == "cloudfront" and extra.get("CLOUDFRONT_POLICY") == "canned"):
            tails = {u.split("?", 1)[1] for u in (uris[1], uris[2])}  # init.mp4 and seg0 in the same folder
            eq(len(tails), 1, "one signature per folder")
        # /hls-seg redirects with the same signer
        st, h, _ = hget(gw.port, "GET", "/hls-seg/show/vod/seg0.m4s")
        eq(st, 302, "/hls-seg")
        loc = h.get("location", "")
        ok(loc.startswith(cdn.base + "/" + PREFIX + "/show/vod/seg0.m4s?"), "/hls-seg Location: " + loc)
        eq(fetch(loc), (200, b"SEG0-BYTES"), "/hls-seg target through the stand-in")
        # no key material in the log
        log = gw.logtext()
        for secret in (AK_HEX, GCDN_KEY.rstrip("="), BUNNY_KEY):
            ok(secret not in log, "a key shows up in the log")
    finally:
        cdn.stop()
        rc = gw.stop()
        os.unlink(gw.logpath)
        eq(rc, 0, "gateway exit status")


def test_cloudfront_rsa_custom_sha1():
    exercise("cloudfront", RSA_KEY.public_key(), CLOUDFRONT_PRIVATE_KEY_FILE=KEYFILES["rsa"])


def test_cloudfront_ecdsa_canned_sha256():
    exercise("cloudfront", EC_KEY.public_key(), True, CLOUDFRONT_PRIVATE_KEY_FILE=KEYFILES["ec"],
             CLOUDFRONT_POLICY="canned", CLOUDFRONT_HASH="sha256")


def test_cloudfront_ecdsa_custom():
    exercise("cloudfront", EC_KEY.public_key(), CLOUDFRONT_PRIVATE_KEY_FILE=KEYFILES["ec"])


def test_akamai():
    exercise("akamai")


def test_gcdn():
    exercise("gcdn")


def test_bunny():
    exercise("bunny")


def test_bad_key_file_stops_startup():
    bad = os.path.join(ROOT, "not-a-key.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "SEGMENT_", "CLOUDFRONT_"))}
    env.update({"LISTEN": "127.0.0.1:%d" % free_port(), "S3_BUCKET": BUCKET, "S3_ACCESS_KEY_ID": "AKID",
                "S3_SECRET_ACCESS_KEY": "sk", "SEGMENT_SIGNER": "cloudfront",
                "SEGMENT_BASE_URL": "https://d1.cloudfront.net", "CLOUDFRONT_KEY_PAIR_ID": "K1",
                "CLOUDFRONT_PRIVATE_KEY_FILE": bad})
    p = subprocess.run([BIN], env=env, capture_output=True, timeout=30)
    ok(p.returncode != 0, "hlsgate started with a bad key file")
    out = (p.stdout + p.stderr).decode(errors="replace")
    ok("CLOUDFRONT_PRIVATE_KEY_FILE" in out, "the message names the setting: " + out)
    env.pop("CLOUDFRONT_PRIVATE_KEY_FILE")
    env.update({"SEGMENT_SIGNER": "akamai"})
    p = subprocess.run([BIN], env=env, capture_output=True, timeout=30)
    ok(p.returncode != 0 and b"AKAMAI_TOKEN_KEY" in p.stdout + p.stderr, "missing Akamai key names the setting")


def test_sighup_switches_signer_and_keeps_it_on_a_bad_key():
    """A reload swaps the segment signer; a reload with a bad key file keeps the running one."""
    conf = os.path.join(ROOT, "reload.env")
    with open(conf, "w") as f:
        f.write("SEGMENT_SIGNER=akamai\nAKAMAI_TOKEN_KEY=%s\n" % AK_HEX)
    cdn_a, cdn_g = Cdn("akamai"), Cdn("gcdn")
    gw = Gateway(BIN, NGINX.endpoint, BUCKET, args=["--config", conf], workers=2, WORKERS=2,
                 S3_KEY_PREFIX=PREFIX, SEGMENT_BASE_URL=cdn_a.base)
    try:
        def seg_url():
            st, h, _ = hget(gw.port, "GET", "/hls-seg/show/vod/seg0.m4s")
            eq(st, 302, "/hls-seg")
            return h["location"]
        ok("__token__=" in seg_url(), "akamai before the reload")
        eq(fetch(seg_url()), (200, b"SEG0-BYTES"), "akamai URL plays")
        with open(conf, "w") as f:
            f.write("SEGMENT_SIGNER=gcdn\nGCDN_KEY_NAME=test-key\nGCDN_KEY=%s\nSEGMENT_BASE_URL=%s\n" % (GCDN_KEY, cdn_g.base))
        gw.proc.send_signal(signal.SIGHUP)
        ok(gw.wait_log("configuration reloaded"), "reloaded")
        deadline = time.time() + 5
        while "URLPrefix=" not in seg_url() and time.time() < deadline:
            time.sleep(0.05)
        url = seg_url()
        ok("URLPrefix=" in url and url.startswith(cdn_g.base), "gcdn after the reload: " + url)
        eq(fetch(url), (200, b"SEG0-BYTES"), "gcdn URL plays")
        st, _, body = hget(gw.port, "GET", "/hls/show/vod/index.m3u8")
        ok(all("URLPrefix=" in u for u in uris_in(body.decode())), "playlists use the new signer")
        with open(conf, "w") as f:
            f.write("SEGMENT_SIGNER=cloudfront\nCLOUDFRONT_KEY_PAIR_ID=K\nCLOUDFRONT_PRIVATE_KEY_FILE=/nonexistent.pem\n")
        gw.proc.send_signal(signal.SIGHUP)
        ok(gw.wait_log(re.compile(r"reload failed.*CLOUDFRONT_PRIVATE_KEY_FILE")), "bad key file refused, named")
        ok("URLPrefix=" in seg_url(), "still gcdn after the refused reload")
        ok(gw.proc.poll() is None, "still running")
    finally:
        cdn_a.stop()
        cdn_g.stop()
        rc = gw.stop()
        os.unlink(gw.logpath)
        eq(rc, 0, "gateway exit status")


def test_s3_default_unchanged():
    gw = Gateway(BIN, NGINX.endpoint, BUCKET, S3_KEY_PREFIX=PREFIX)
    try:
        st, _, body = hget(gw.port, "GET", "/hls/show/vod/index.m3u8")
        eq(st, 200, "s3 playlist")
        for u in uris_in(body.decode()):
            ok(u.startswith(NGINX.endpoint + "/" + BUCKET + "/" + PREFIX + "/show/") and "X-Amz-Signature=" in u,
               "presigned S3 URL: " + u)
        st, h, _ = hget(gw.port, "GET", "/hls-seg/show/vod/seg0.m4s")
        ok(st == 302 and "X-Amz-Signature=" in h.get("location", ""), "/hls-seg presigns for S3")
    finally:
        rc = gw.stop()
        os.unlink(gw.logpath)
        eq(rc, 0, "gateway exit status")


def cleanup():
    NGINX.stop()
    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.rmtree(NGINX.dir, ignore_errors=True)


run_tests("integration.cdn", dict(globals()), cleanup)
