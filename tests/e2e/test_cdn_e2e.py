#!/usr/bin/env python3
"""End-to-end behind a CDN: hlsgate with SEGMENT_SIGNER=akamai, a CDN stand-in (nginx with njs
checking the Akamai EdgeAuth v2 token with its own HMAC, tests/e2e/cdn_edgeauth.js) in front of a
real S3 (Ceph RGW on loopback), and hls.js in headless Chromium playing through it.

    player ──playlists──> hlsgate ──SigV4──> RGW
       └────segments + __token__──> nginx (njs: hmac, exp, acl) ──Referer secret──> RGW

The bucket is not public: a bucket policy lets anonymous GETs through only with the stand-in's
secret Referer (the usual "origin secret header" set-up of a CDN in front of a bucket), so a
segment reaches the player only through the stand-in, and only with a token it accepted.

usage: test_cdn_e2e.py PATH/TO/hlsgate       (fails when something set-up installs is missing)"""
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import Gateway, Runner, eq, free_port, http, ok, uris_in, wait_port  # noqa: E402

NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
BUCKET, PREFIX, STREAM_KEY = "media", "videos", "demo"
PY = "/usr/bin/python3"
AKAMAI_KEY = secrets.token_hex(32)
REFERER = "hg-cdn-origin-" + secrets.token_hex(12)

missing = [what for what, there in (
    ("hlsgate binary", os.path.isfile(BIN)),
    ("nginx", shutil.which("nginx")),
    ("njs (libnginx-mod-http-js)", os.path.exists(NJS_MODULE)),
    ("radosgw", shutil.which("radosgw")),
    ("ffmpeg", shutil.which("ffmpeg")),
    ("chromium", os.path.exists("/usr/bin/chromium")),
    ("node", shutil.which("node")),
    ("tests/e2e/node_modules (scripts/setup.sh e2e)", os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core"))),
) if not there]
if missing:  # set-up installs all of these: a missing one is a failure, never a skip
    print("FAILED: missing %s (run scripts/setup.sh test)" % ", ".join(missing))
    sys.exit(1)

WORK = tempfile.mkdtemp(prefix="hg-cdn-")  # short: Ceph admin sockets live below it
RGW_DIR = os.path.join(WORK, "rgw")
STREAM_DIR = os.path.join(WORK, "stream")


def sh(*cmd, env=None, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
    return r


def load_env(path):
    env = {}
    for line in open(path):
        m = re.match(r"^(\w+)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip("'\"")
    return env


def fetch(url, headers=None):
    """GET with urllib (no redirects followed); returns (status, body)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def local_file(url):
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return os.path.join(STREAM_DIR, path.split("/%s/%s/" % (PREFIX, STREAM_KEY), 1)[1])


def edgeauth(exp, acl, key=AKAMAI_KEY):
    """An EdgeAuth v2 token computed here, independently of hlsgate and of the stand-in."""
    signed = "exp=%d~acl=%s" % (exp, acl)
    return signed + "~hmac=" + hmac.new(bytes.fromhex(key), signed.encode(), hashlib.sha256).hexdigest()


class CdnStandIn:
    """nginx on 127.0.0.1: njs checks the token, verified requests go to RGW (path style, token
    stripped, with the secret Referer the bucket policy asks for). Access log: one line per
    request, `METHOD URI STATUS VERDICT` (VERDICT is cdn_edgeauth.js's answer)."""

    def __init__(self, rgw_port):
        self.dir = os.path.join(WORK, "cdn")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.port = free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""load_module {NJS_MODULE};
{user}
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  js_path {HERE};
  js_import edgeauth from cdn_edgeauth.js;
  js_set $edgeauth edgeauth.verify;
  js_set $edgeauth_path edgeauth.path;
  log_format cdn '$request_method $request_uri $status $edgeauth';
  access_log {self.dir}/access.log cdn;
  client_body_temp_path {self.dir}/tmp; proxy_temp_path {self.dir}/tmp; fastcgi_temp_path {self.dir}/tmp;
  uwsgi_temp_path {self.dir}/tmp; scgi_temp_path {self.dir}/tmp;
  server {{
    listen 127.0.0.1:{self.port};
    set $edgeauth_key "{AKAMAI_KEY}";
    set $edgeauth_name "__token__";
    location / {{
      if ($edgeauth != "ok") {{
        add_header Access-Control-Allow-Origin "*" always;
        return 403 "token refused: $edgeauth\\n";
      }}
      proxy_pass http://127.0.0.1:{rgw_port}$edgeauth_path;
      proxy_set_header Host 127.0.0.1:{rgw_port};
      proxy_set_header Referer "{REFERER}";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-c", os.path.join(self.dir, "nginx.conf"), "-p", self.dir,
                                      "-e", os.path.join(self.dir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port, proc=self.proc)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def access(self):
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                return [line.split(" ") for line in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def wait_access(self, start, n, timeout=5.0):
        """The access-log lines after the first `start`, once there are at least n of them (nginx
        logs a request after its response is sent, so the last line can trail it)."""
        deadline = time.time() + timeout
        while True:
            lines = self.access()[start:]
            if len(lines) >= n or time.time() > deadline:
                return lines
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---- setup ------------------------------------------------------------------------------------

RGW = CDN = GW = None


def setup():
    global RGW, CDN, GW
    t0 = time.time()
    sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "start", RGW_DIR)
    RGW = load_env(os.path.join(RGW_DIR, "env"))
    s3env = dict(os.environ, **RGW)
    sh("bash", os.path.join(REPO, "scripts", "make-stream.sh"), STREAM_DIR, "12")
    s3util = os.path.join(REPO, "scripts", "s3util.py")
    sh(PY, s3util, "mb", BUCKET, env=s3env)
    sh(PY, s3util, "put-tree", BUCKET, STREAM_DIR, "%s/%s" % (PREFIX, STREAM_KEY), env=s3env)
    sh(PY, s3util, "cors", BUCKET, env=s3env)
    # Anonymous reads of the stream, only with the stand-in's secret Referer.
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "cdn-stand-in", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::%s/%s/*" % (BUCKET, PREFIX),
        "Condition": {"StringEquals": {"aws:Referer": REFERER}}}]}
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import s3util as s3u  # noqa: E402
    c = s3u.make_client(endpoint=RGW["RGW_ENDPOINT"], access_key=RGW["RGW_ACCESS_KEY"],
                        secret_key=RGW["RGW_SECRET_KEY"], region=RGW.get("RGW_REGION", "us-east-1"))
    c.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    CDN = CdnStandIn(RGW["RGW_PORT"])
    GW = Gateway(BIN, RGW["RGW_ENDPOINT"], BUCKET, S3_KEY_PREFIX=PREFIX, S3_ACCESS_KEY_ID=RGW["RGW_ACCESS_KEY"],
                 S3_SECRET_ACCESS_KEY=RGW["RGW_SECRET_KEY"], S3_REGION=RGW.get("RGW_REGION", "us-east-1"),
                 LOG_LEVEL="info", SEGMENT_SIGNER="akamai", SEGMENT_BASE_URL="%s/%s" % (CDN.base, BUCKET),
                 AKAMAI_TOKEN_KEY=AKAMAI_KEY)
    print("setup: RGW, stream, upload, stand-in and gateway in %.1fs" % (time.time() - t0), flush=True)


def media_urls():
    """The master and every variant playlist through the gateway; returns the media URLs."""
    st, _, body = http(GW.port, "GET", "/hls/%s/master.m3u8" % STREAM_KEY)
    eq(st, 200, "master status")
    variants = uris_in(body.decode())
    ok(len(variants) >= 4, "four variants: %s" % variants)
    media = []
    for v in variants:
        ok(v.startswith(GW.base + "/hls/"), "variant goes back through the gateway: %s" % v)
        st, _, body = http(GW.port, "GET", urllib.parse.urlsplit(v).path)
        eq(st, 200, "variant status for %s" % v)
        media += uris_in(body.decode())
    return media


# ---- tests ------------------------------------------------------------------------------------

def test_bucket_is_not_public():
    key = "/%s/%s/%s/v0/seg_000.ts" % (BUCKET, PREFIX, STREAM_KEY)
    eq(fetch(RGW["RGW_ENDPOINT"] + key)[0], 403, "anonymous GET straight from RGW")
    eq(fetch(RGW["RGW_ENDPOINT"] + key, {"Referer": "someone-else"})[0], 403, "wrong Referer")
    eq(fetch(RGW["RGW_ENDPOINT"] + key, {"Referer": REFERER})[0], 200, "the stand-in's Referer")


def test_stand_in_checks_tokens_on_its_own():
    """The stand-in against tokens made here with Python's hmac: it accepts a good one and
    refuses each kind of bad one, with its own reason."""
    folder = "/%s/%s/%s/v0/" % (BUCKET, PREFIX, STREAM_KEY)
    url = CDN.base + folder + "seg_000.ts?__token__="
    future = int(time.time()) + 600
    st, body = fetch(url + edgeauth(future, folder + "*"))
    eq(st, 200, "a good token")
    with open(os.path.join(STREAM_DIR, "v0", "seg_000.ts"), "rb") as f:
        eq(body, f.read(), "the object's bytes")
    eq(fetch(url + edgeauth(int(time.time()) - 5, folder + "*")), (403, b"token refused: expired\n"), "expired")
    eq(fetch(url + edgeauth(future, folder + "*", key="00" * 32)), (403, b"token refused: bad-hmac\n"), "another key")
    eq(fetch(url + edgeauth(future, "/%s/%s/%s/v1/*" % (BUCKET, PREFIX, STREAM_KEY))),
       (403, b"token refused: acl\n"), "token of another folder")
    eq(fetch(CDN.base + folder + "seg_000.ts")[0], 403, "no token")


def test_segments_signed_for_the_stand_in():
    media = media_urls()
    ok(len(media) >= 19, "segments and init section: %d" % len(media))
    ok(any("init.mp4" in u for u in media), "fMP4 init section (EXT-X-MAP)")
    before = len(CDN.access())
    for u in media:
        ok(u.startswith(CDN.base + "/%s/%s/%s/" % (BUCKET, PREFIX, STREAM_KEY)), "a stand-in URL: %s" % u)
        ok("X-Amz-" not in u and "__token__=exp=" in u, "an EdgeAuth token, no SigV4: %s" % u)
        st, body = fetch(u)
        eq(st, 200, "the stand-in accepts %s" % u)
        with open(local_file(u), "rb") as f:
            eq(body, f.read(), "exact bytes of %s" % u)
    lines = CDN.wait_access(before, len(media))
    eq(len(lines), len(media), "one stand-in request per URL")
    eq({(ln[2], ln[3]) for ln in lines}, {("200", "ok")}, "every one verified by the stand-in")


def test_tampered_tokens_refused_by_the_stand_in():
    u = [m for m in media_urls() if "/v0/seg_000.ts" in m][0]
    before = len(CDN.access())
    eq(fetch(u)[0], 200, "original")
    mac = re.search(r"hmac=([0-9a-f]{64})", u).group(1)
    bad = u.replace(mac, ("0" if mac[0] != "0" else "1") + mac[1:])
    eq(fetch(bad), (403, b"token refused: bad-hmac\n"), "tampered hmac")
    exp = int(re.search(r"exp=(\d+)", u).group(1))
    eq(fetch(u.replace("exp=%d" % exp, "exp=%d" % (exp + 3600)))[0], 403, "longer expiry, same hmac")
    eq(fetch(u.replace("/v0/seg_000.ts", "/v1/seg_000.ts")), (403, b"token refused: acl\n"),
       "the v0 token on a v1 segment")
    eq(fetch(u.split("?")[0])[0], 403, "no token")
    eq([(ln[2], ln[3]) for ln in CDN.wait_access(before, 5)],
       [("200", "ok"), ("403", "bad-hmac"), ("403", "bad-hmac"), ("403", "acl"), ("403", "no-token")],
       "the stand-in's access log: the original verified, the four others refused")


def test_hlsjs_plays_through_the_stand_in():
    before_cdn = len(CDN.access())
    before_gw = len(GW.logtext())
    r = subprocess.run(["node", os.path.join(HERE, "play.mjs"), "%s/hls/%s/master.m3u8" % (GW.base, STREAM_KEY),
                        "--timeout-ms", "120000"], capture_output=True, text=True, timeout=180)
    res = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    ok(r.returncode == 0 and res.get("ok"), "played to the end: %s %s" % (
        {k: res.get(k) for k in ("done", "ended", "fatal", "errors", "error")}, r.stderr[-800:]))
    eq(res.get("fatal"), None, "no fatal error")
    ok(res.get("fragsLoaded", 0) >= 6, "fragments loaded: %s" % res.get("fragsLoaded"))
    ok(res.get("currentTime", 0) >= 11.5, "reached the end: %s" % res.get("currentTime"))
    eq(res.get("pageErrors"), [], "no failed request of the page itself")
    reqs = res["requests"]
    gw_variants = [u for u in reqs if u.startswith(GW.base + "/hls/%s/v" % STREAM_KEY)]
    ok(gw_variants, "variant playlists came through hlsgate")
    seg_reqs = [u for u in reqs if re.search(r"\.(ts|m4s|mp4)\?", u)]
    ok(seg_reqs, "segment requests seen")
    eq([u for u in seg_reqs if not u.startswith(CDN.base + "/")], [], "every segment from the stand-in")
    ok(all("__token__=exp=" in u for u in seg_reqs), "every segment with a token")
    # The stand-in's access log: every segment request of the player verified and answered 200.
    lines = [ln for ln in CDN.wait_access(before_cdn, len(seg_reqs)) if ln[0] == "GET"]
    ok(len(lines) >= len(seg_reqs), "stand-in saw %d requests for %d segment requests" % (len(lines), len(seg_reqs)))
    eq([ln for ln in lines if ln[2] != "200" or ln[3] != "ok"], [], "every stand-in request verified (200 ok)")
    seen = {ln[1] for ln in lines}
    eq([u for u in seg_reqs if urllib.parse.urlsplit(u)._replace(scheme="", netloc="").geturl() not in seen], [],
       "each segment URL of the player is in the stand-in's log")
    log = GW.logtext()[before_gw:]
    ok(re.search(r"path=/hls/%s/v\d/index.m3u8 status=200" % STREAM_KEY, log), "gateway log shows variant playlists")
    ok(not re.search(r"path=\S+\.(ts|m4s)", log), "the gateway never served segment bytes")


def final_clean_exit():
    eq(GW.stop(), 0, "gateway exit status")
    eq(CDN.stop(), 0, "stand-in exit status")


def main():
    r = Runner("e2e.cdn")
    try:
        setup()
        for name, fn in list(globals().items()):
            if name.startswith("test_"):
                r.run(fn)
        r.run(final_clean_exit)
    except Exception:
        import traceback
        traceback.print_exc()
        r.failed += 1
    finally:
        if GW and GW.proc.poll() is None:
            GW.stop()
        if CDN:
            CDN.stop()
        sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "stop", RGW_DIR, check=False)
        shutil.rmtree(WORK, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    main()
