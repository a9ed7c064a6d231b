#!/usr/bin/env python3
"""End-to-end tests: hlsgate in front of a real S3 that verifies SigV4 (Ceph RGW on loopback),
played by real players (hls.js in headless Chromium, ffmpeg).

usage: test_e2e.py PATH/TO/hlsgate"""
import os
import re
import shutil
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
from harness import Gateway, Runner, eq, http, ok, uris_in  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
BUCKET = "media"
PREFIX = "videos"
STREAM_KEY = "demo"  # the stream lives at {PREFIX}/{STREAM_KEY}/master.m3u8
PY = "/usr/bin/python3"

WORK = tempfile.mkdtemp(prefix="hg-e2e-")
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
    """Local stream file behind a presigned URL (path style or virtual-host style)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    rel = path.split("/%s/%s/" % (PREFIX, STREAM_KEY), 1)[1]
    return os.path.join(STREAM_DIR, rel)


# ---- setup ------------------------------------------------------------------------------------

t0 = time.time()
sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "start", RGW_DIR)
RGW = load_env(os.path.join(RGW_DIR, "env"))
S3ENV = dict(os.environ, **RGW)
sh("bash", os.path.join(REPO, "scripts", "make-stream.sh"), STREAM_DIR, "12")
s3util = os.path.join(REPO, "scripts", "s3util.py")
sh(PY, s3util, "mb", BUCKET, env=S3ENV)
sh(PY, s3util, "put-tree", BUCKET, STREAM_DIR, "%s/%s" % (PREFIX, STREAM_KEY), env=S3ENV)
sh(PY, s3util, "cors", BUCKET, env=S3ENV)
print("setup: RGW, stream and upload in %.1fs" % (time.time() - t0), flush=True)

GW_ENV = dict(S3_REGION=RGW.get("RGW_REGION", "us-east-1"), S3_KEY_PREFIX=PREFIX)
GW = None


def start_main_gateway():
    global GW
    GW = rgw_gateway()


def rgw_gateway(**over):
    env = dict(S3_KEY_PREFIX=PREFIX, S3_ACCESS_KEY_ID=RGW["RGW_ACCESS_KEY"],
               S3_SECRET_ACCESS_KEY=RGW["RGW_SECRET_KEY"], LOG_LEVEL="info")
    env.update(over)
    endpoint = env.pop("endpoint", RGW["RGW_ENDPOINT"])
    return Gateway(BIN, endpoint, BUCKET, **env)


def master_url(g):
    return "%s/hls/%s/master.m3u8" % (g.base, STREAM_KEY)


def walk(g):
    """Fetch the master and every nested playlist through the gateway; return the media URLs."""
    st, h, body = http(g.port, "GET", "/hls/%s/master.m3u8" % STREAM_KEY)
    eq(st, 200, "master status")
    variants = uris_in(body.decode())
    ok(len(variants) >= 4, "four variants: %s" % variants)
    media = []
    for v in variants:
        ok(v.startswith(g.base + "/hls/"), "variant goes back through the gateway: %s" % v)
        st, h, body = http(g.port, "GET", urllib.parse.urlsplit(v).path)
        eq(st, 200, "variant status for %s" % v)
        media += uris_in(body.decode())
    return media


# ---- tests ------------------------------------------------------------------------------------

def test_signing_implementation_in_use():
    """HG_SHA256 forces a SHA-256 implementation; the startup log names the one that signs
    every URL RGW checks below (generic when the CPU lacks the forced one)."""
    m = re.search(r"sha256=(\S+)", GW.logtext())
    ok(m, "startup log names the SHA-256 implementation")
    want = os.environ.get("HG_SHA256")
    if want:
        ok(m.group(1) in (want, "generic"), "forced %s, running %s" % (want, m.group(1)))
    print("     (signing with %s)" % m.group(1))


def test_every_presigned_url_accepted_by_rgw():
    media = walk(GW)
    ok(len(media) >= 19, "segments and init section: %d" % len(media))
    ok(any(u.endswith(".ts") or ".ts?" in u for u in media), "TS segments")
    ok(any("init.mp4" in u for u in media), "fMP4 init section (EXT-X-MAP)")
    for u in media:
        ok("X-Amz-Signature=" in u, "presigned: %s" % u)
        st, body = fetch(u)
        eq(st, 200, "RGW accepts %s" % u)
        with open(local_file(u), "rb") as f:
            eq(body, f.read(), "exact bytes of %s" % u)


def test_tampered_urls_rejected():
    media = [u for u in walk(GW) if "seg_000.ts" in u]
    u = media[0]
    eq(fetch(u)[0], 200, "original")
    sig = re.search(r"X-Amz-Signature=([0-9a-f]+)", u).group(1)
    bad_sig = u.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    eq(fetch(bad_sig)[0], 403, "tampered signature")
    other_key = u.replace("seg_000.ts", "seg_001.ts")
    eq(fetch(other_key)[0], 403, "signature for another key")
    longer = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=604800", u)
    eq(fetch(longer)[0], 403, "changed expiry")
    unsigned = u.split("?")[0]
    eq(fetch(unsigned)[0], 403, "no signature at all")


def test_expired_url_rejected():
    g = rgw_gateway(PRESIGN_EXPIRES_SECONDS=2, SIGN_WINDOW_SECONDS=0)
    try:
        u = [m for m in walk(g) if "seg_000.ts" in m][0]
        ok("X-Amz-Expires=2&" in u, "short expiry in the URL")
        eq(fetch(u)[0], 200, "valid before expiry")
        time.sleep(3.5)
        eq(fetch(u)[0], 403, "expired")
    finally:
        eq(g.stop(), 0, "exit status")


def test_wrong_secret_gives_502_and_names_credentials():
    g = rgw_gateway(S3_SECRET_ACCESS_KEY="not-the-secret")
    try:
        st, _, body = http(g.port, "GET", "/hls/%s/master.m3u8" % STREAM_KEY)
        eq(st, 502, "status")
        ok(b"credentials" in body, "body names the cause")
        log = g.logtext()
        ok("check S3 credentials" in log, "log line names the credentials problem")
        ok("SignatureDoesNotMatch" in log, "log carries RGW's error code")
        ok("not-the-secret" not in log, "secret never logged")
    finally:
        eq(g.stop(), 0, "exit status")


def test_missing_object_404():
    st, _, _ = http(GW.port, "GET", "/hls/%s/nope.m3u8" % STREAM_KEY)
    eq(st, 404, "missing playlist")


def test_virtual_host_style_against_rgw():
    # RGW runs with `rgw dns name = s3.localhost`, and libcurl and curl resolve *.localhost to
    # loopback by themselves, so bucket.s3.localhost reaches RGW with the bucket in the Host.
    endpoint = "http://%s:%s" % (RGW.get("RGW_DNS_NAME", "s3.localhost"), RGW["RGW_PORT"])
    g = rgw_gateway(endpoint=endpoint, S3_ADDRESSING_STYLE="virtual")
    try:
        media = walk(g)
        u = [m for m in media if "seg_000.ts" in m][0]
        host = urllib.parse.urlsplit(u).netloc
        eq(host, "%s.%s:%s" % (BUCKET, RGW.get("RGW_DNS_NAME", "s3.localhost"), RGW["RGW_PORT"]), "bucket in the host")
        ok(urllib.parse.urlsplit(u).path.startswith("/%s/" % PREFIX), "key is the whole path")
        for m in media:
            r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", m], capture_output=True)
            code = r.stdout.rsplit(b"\n", 1)[1]
            eq(code, b"200", "RGW accepts virtual-host URL %s" % m)
            with open(local_file(m), "rb") as f:
                eq(r.stdout.rsplit(b"\n", 1)[0], f.read(), "bytes")
        sig = re.search(r"X-Amz-Signature=([0-9a-f]+)", u).group(1)
        bad = u.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", bad], capture_output=True, text=True)
        eq(r.stdout, "403", "tampered virtual-host URL")
    finally:
        eq(g.stop(), 0, "exit status")


def test_ffmpeg_decodes_whole_stream():
    url = master_url(GW)
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=120)
    eq(r.returncode, 0, "ffprobe exit: " + r.stderr[-500:])
    ok(abs(float(r.stdout.strip()) - 12.0) < 0.5, "duration %s" % r.stdout.strip())
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    eq(r.returncode, 0, "ffmpeg exit")
    eq(r.stderr.strip(), "", "no decode errors")
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "info", "-i", url, "-map", "0:v:0", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    m = re.findall(r"time=(\d+):(\d+):([\d.]+)", r.stderr)
    ok(m, "progress printed")
    h, mi, s = m[-1]
    ok(int(h) * 3600 + int(mi) * 60 + float(s) > 11.5, "decoded to the end: %s" % (m[-1],))


def test_hlsjs_in_chromium_plays_to_end():
    before = len(GW.logtext())
    r = subprocess.run(["node", os.path.join(HERE, "play.mjs"), master_url(GW), "--timeout-ms", "120000",
                        "--screenshot", os.path.join(WORK, "player.png")],
                       capture_output=True, text=True, timeout=180)
    res = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
    import json
    res = json.loads(res)
    ok(r.returncode == 0 and res.get("ok"), "played to the end: %s %s" % (res, r.stderr[-800:]))
    ok(res["fragsLoaded"] >= 6, "fragments loaded: %d" % res["fragsLoaded"])
    eq(res["fatal"], None, "no fatal error")
    eq([e for e in res.get("errors", []) if "bufferAppend" in e], [], "no buffer append error (no TS/fMP4 mix)")
    eq(res.get("pageErrors"), [], "no failed request of the page itself (favicon)")
    ok(res["currentTime"] >= 11.5, "reached the end: %s" % res["currentTime"])
    # Nested playlists came back through hlsgate; segments came straight from RGW.
    gw_port = str(GW.port)
    rgw_port = RGW["RGW_PORT"]
    reqs = res["requests"]
    ok(any(":%s/hls/%s/v" % (gw_port, STREAM_KEY) in u for u in reqs), "variant playlists via the gateway")
    seg_reqs = [u for u in reqs if re.search(r"\.(ts|m4s|mp4)\?", u)]
    ok(seg_reqs and all(":%s/%s/%s/" % (rgw_port, BUCKET, PREFIX) in u for u in seg_reqs),
       "every segment straight from RGW")
    log = GW.logtext()[before:]
    ok(re.search(r"path=/hls/%s/v\d/index.m3u8 status=200" % STREAM_KEY, log), "gateway log shows variant requests")
    ok(not re.search(r"path=\S+\.(ts|m4s)", log), "gateway never served segment bytes")
    rgw_log = "".join(open(os.path.join(RGW_DIR, "log", f), errors="replace").read()
                      for f in os.listdir(os.path.join(RGW_DIR, "log")) if "rgw" in f)
    ok(re.search(r"GET /%s/%s/%s/v\d/seg_\d+\.(ts|m4s)" % (BUCKET, PREFIX, STREAM_KEY), rgw_log),
       "RGW's log shows the segment requests")


def test_demo_page_shows_what_hlsgate_does():
    """The demo page: both runs (presigned URLs, then /hls-seg redirects) play to the end, and the
    numbers, the request table, the timeline and the playlist comparison appear."""
    import json
    shot = os.path.join(WORK, "demo.png")
    before = len(GW.logtext())
    r = subprocess.run(["node", os.path.join(HERE, "play.mjs"), master_url(GW), "--timeout-ms", "120000", "--demo",
                        "--bucket", BUCKET, "--prefix", PREFIX, "--screenshot", shot],
                       capture_output=True, text=True, timeout=300, env=S3ENV)
    res = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    red = res.get("redirect") or {}
    shown = res.get("shown") or {}
    ok(r.returncode == 0 and res.get("ok"), "both runs played to the end: %s %s" % (
        {k: res.get(k) for k in ("done", "ended", "fatal", "errors", "error")}, r.stderr[-800:]))
    for name, run in (("direct", res), ("redirect", red)):
        eq(run.get("fatal"), None, "%s run: no fatal error" % name)
        ok(run.get("currentTime", 0) >= 11.5, "%s run reached the end: %s" % (name, run.get("currentTime")))
        eq([e for e in run.get("errors", []) if "bufferAppend" in e or "fatal" in e], [],
           "%s run: no buffer append or fatal errors (switching stays in one container format)" % name)
    eq(res.get("pageErrors"), [], "no failed request of the page itself (favicon, /config, /presign)")
    # numbers shown after the first run
    ok(re.fullmatch(r"[1-9]\d*", shown.get("gateway", "")), "playlist requests shown: %r" % shown.get("gateway"))
    ok(int(shown.get("storage") or 0) >= res["fragsLoaded"], "media requests shown: %r" % shown.get("storage"))
    ok(re.fullmatch(r"\d+ h \d\d min \d\d s", shown.get("sigLeft", "")), "time left on signatures: %r" % shown.get("sigLeft"))
    # X-Amz-Date is the signing window's start, X-Amz-Expires PRESIGN_EXPIRES_SECONDS (7200) plus
    # the window (300): a URL is valid at least 7200 s and at most 7500 s after it was served
    ok(7200 - 60 <= shown.get("sigSecondsLeft", 0) <= 7500, "signature time left: %s s" % shown.get("sigSecondsLeft"))
    ok(shown.get("rows", 0) >= res["fragsLoaded"], "request table rows: %s" % shown.get("rows"))
    ok(shown.get("chartBars", 0) > 0, "timeline bars: %s" % shown.get("chartBars"))
    ok(shown.get("diffChanged", 0) > 0 and shown.get("highlighted", 0) == shown.get("diffChanged"),
       "changed URIs highlighted: %s of %s" % (shown.get("highlighted"), shown.get("diffChanged")))
    ok("X-Amz-Signature" not in shown.get("original", "x") and "X-Amz-Signature" in shown.get("rewritten", ""),
       "original (from storage) unsigned, rewritten signed")
    origs = [open(os.path.join(STREAM_DIR, v, "index.m3u8")).read() for v in ("v0", "v1", "v2", "v3")]
    ok(shown.get("original") in origs, "the original shown is the stored playlist byte for byte")
    # the second run went through /hls-seg, and the page measured both
    gw = ":%d/hls-seg/%s/" % (GW.port, STREAM_KEY)
    seg = [u for u in red.get("requests", []) if re.search(r"\.(ts|m4s)(\?|$)", u)]
    ok(seg and any(gw in u for u in seg), "redirect run asked hlsgate's /hls-seg: %s" % seg[:3])
    ok(re.search(r"path=/hls-seg/%s/v\d/seg_\d+\.(ts|m4s) status=302" % STREAM_KEY, GW.logtext()[before:]),
       "gateway log shows the 302s")
    saved = res.get("saved") or {}
    ok(saved.get("hops", 0) >= 6 and 0 < saved.get("savedMs", 0) < 1000, "the /hls-seg hop measured per segment: %s" % saved)
    ok(saved.get("segments", 0) >= 6 and saved.get("directMs", 0) > 0 and saved.get("redirectMs", 0) > 0,
       "first-byte times of both runs: %s" % saved)
    ok(re.fullmatch(r"\d+\.\d ms", shown.get("saved", "")), "saved round trip shown: %r" % shown.get("saved"))
    ok(re.fullmatch(r"[\d.]+ (kB|MB) of segments, never through hlsgate", shown.get("storageBytes", "")),
       "media bytes shown: %r" % shown.get("storageBytes"))
    print("     round trip saved per segment %.1f ms (%d hops); first byte direct %.1f ms, via /hls-seg %.1f ms; "
          "signatures %s; %s of %s lines rewritten" % (saved["savedMs"], saved["hops"], saved["directMs"], saved["redirectMs"],
                                                      shown["sigLeft"], shown["diffChanged"], shown["diffLines"]))
    if os.environ.get("HG_DEMO_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["HG_DEMO_SCREENSHOT"])


def main():
    r = Runner("e2e")
    try:
        start_main_gateway()
        for name, fn in list(globals().items()):
            if name.startswith("test_"):
                r.run(fn)
        r.run(final_clean_exit)
    finally:
        if GW and GW.proc.poll() is None:
            GW.stop()
        sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "stop", RGW_DIR, check=False)
        shutil.rmtree(WORK, ignore_errors=True)
    r.finish()


def final_clean_exit():
    eq(GW.stop(), 0, "gateway exit status")


if __name__ == "__main__":
    main()
