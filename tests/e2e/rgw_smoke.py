#!/usr/bin/python3
"""rgw_smoke.py - prove that a real S3 (Ceph RADOS Gateway) verifies SigV4 here.

Self-contained: starts RGW with scripts/rgw.sh in a temporary directory,
generates a real HLS stream with scripts/make-stream.sh, uploads it with
scripts/s3util.py, sets CORS, then checks over plain HTTP (urllib):

  * presigned GETs return 200 and the exact bytes (every file of the stream,
    with the expected Content-Type), also for awkward keys and Range requests
  * the stream can be walked through presigned URLs resolving the relative
    URIs of master and media playlists
  * a tampered signature, a wrong secret, an expired URL, a signature reused
    for another key and an unsigned GET all get 403
  * CORS preflight and GET with Origin get Access-Control-Allow-Origin
  * virtual-host style (Host: BUCKET.s3.localhost:PORT) works

RGW is always stopped in a finally block. Exit 0 if all checks pass, else 1;
the last line is 'N passed, M failed'.

Run: /usr/bin/python3 tests/e2e/rgw_smoke.py     (needs python3-botocore,
ffmpeg, curl and: apt-get install -y --no-install-recommends radosgw ceph-mon
ceph-osd ceph-common uuid-runtime)

Environment:
  HG_E2E_KEEP=1           keep the temporary directory (kept anyway on failure)
  HG_E2E_SKIP_MISSING=1   if ceph/ffmpeg are not installed, report one skipped
                          check and exit 0 instead of failing
  RGW_PORT=N              S3 port to use (default: 7480 if free, else any free)
"""

import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import botocore  # noqa: F401
except ImportError:
    # a pyenv python on PATH has no botocore: use Debian's
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
            and os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("botocore missing: apt-get install python3-botocore", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

import re
import shlex
import shutil
import subprocess
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import botocore.session
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
RGW_SH = os.path.join(SCRIPTS, "rgw.sh")
S3UTIL = os.path.join(SCRIPTS, "s3util.py")
MAKE_STREAM = os.path.join(SCRIPTS, "make-stream.sh")

BUCKET = "hlsgate-e2e"
PREFIX = "vod/demo"
ODD_KEY = "odd keys/a b+c~d=e&f;g,h(1)!'*$@ é.ts"
HTTP_TIMEOUT = 10

# no proxies: everything is on 127.0.0.1
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name, fn):
        t0 = time.monotonic()
        try:
            detail = fn()
        except AssertionError as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            return False
        except Exception:  # noqa: BLE001 - report any crash as a failure
            self.failed += 1
            print(f"FAIL {name}: exception", flush=True)
            traceback.print_exc()
            return False
        self.passed += 1
        extra = f" ({detail})" if detail else ""
        print(f"ok   {name}{extra} [{time.monotonic() - t0:.2f}s]", flush=True)
        return True


def http(url, method="GET", headers=None):
    """(status, headers, body) for a request; 4xx/5xx do not raise."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, e.headers, body


def s3_error_code(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else "?"


def run(cmd, env=None, timeout=300, capture=True):
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, timeout=timeout, text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(shlex.quote, cmd))} exited {p.returncode}\n"
                           f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p, dt


def read_env(path):
    """Parse DIR/env written by rgw.sh (simple NAME=value lines, %q quoting)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith("export "):
                continue
            name, _, value = line.partition("=")
            parts = shlex.split(value)
            out[name] = parts[0] if len(parts) == 1 else " ".join(parts)
    return out


def client(endpoint, access_key, secret_key, addressing="path"):
    s = botocore.session.get_session()
    return s.create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": addressing}))


def presign(c, key, expires=300, bucket=BUCKET):
    return c.generate_presigned_url("get_object",
                                    Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=expires)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def missing_tools():
    tools = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool",
             "ceph", "uuidgen", "ffmpeg", "curl"]
    return [t for t in tools if shutil.which(t) is None]


def main():
    res = Results()
    t_start = time.monotonic()
    missing = missing_tools()
    if missing:
        msg = ("missing tools: " + ", ".join(missing) + "; install: apt-get install -y "
               "--no-install-recommends radosgw ceph-mon ceph-osd ceph-common "
               "uuid-runtime ffmpeg curl python3-botocore")
        if os.environ.get("HG_E2E_SKIP_MISSING") == "1":
            print("skip: " + msg)
            print("0 passed, 0 failed, 1 skipped")
            return 0
        print("FAIL setup: " + msg)
        print("0 passed, 1 failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="hlsgate-rgw-smoke-")
    rgw_dir = os.path.join(tmp, "rgw")
    stream_dir = os.path.join(tmp, "stream")
    pids = []
    setup_ok = False
    try:
        # ------------------------------------------------------------ setup
        cmd = [RGW_SH, "start", rgw_dir]
        if os.environ.get("RGW_PORT"):
            cmd.append(os.environ["RGW_PORT"])
        # on failure rgw.sh stops what it started and prints the log tail
        _, dt_start = run(cmd, timeout=240)
        env_vars = read_env(os.path.join(rgw_dir, "env"))
        pids = [int(p) for p in env_vars["RGW_PIDS"].split()]
        endpoint = env_vars["RGW_ENDPOINT"]
        port = int(env_vars["RGW_PORT"])
        ak, sk = env_vars["RGW_ACCESS_KEY"], env_vars["RGW_SECRET_KEY"]
        dns = env_vars.get("RGW_DNS_NAME", "s3.localhost")
        print(f"rgw: {endpoint} started in {dt_start:.1f}s, pids {pids}")

        _, dt_gen = run([MAKE_STREAM, stream_dir, "12"], timeout=300)
        print(f"stream: generated in {dt_gen:.1f}s")

        env = dict(os.environ)
        env.update(env_vars)
        py = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
        t0 = time.monotonic()
        run([py, S3UTIL, "mb", BUCKET], env=env)
        run([py, S3UTIL, "put-tree", BUCKET, stream_dir, PREFIX], env=env)
        run([py, S3UTIL, "cors", BUCKET], env=env)
        odd_body = os.urandom(1000)
        odd_file = os.path.join(tmp, "odd.ts")
        with open(odd_file, "wb") as f:
            f.write(odd_body)
        run([py, S3UTIL, "put", BUCKET, ODD_KEY, odd_file], env=env)
        print(f"s3: bucket, upload and cors in {time.monotonic() - t0:.1f}s")

        c = client(endpoint, ak, sk)
        wrong = client(endpoint, ak, sk[:-1] + ("1" if sk[-1] != "1" else "2"))
        files = {}
        for root, _, names in os.walk(stream_dir):
            for n in names:
                full = os.path.join(root, n)
                rel = os.path.relpath(full, stream_dir).replace(os.sep, "/")
                with open(full, "rb") as f:
                    files[f"{PREFIX}/{rel}"] = f.read()
        master_key = f"{PREFIX}/master.m3u8"
        seg_key = f"{PREFIX}/v0/seg_000.ts"
        setup_ok = True

        # ------------------------------------------------------------ checks
        def presigned_exact_bytes():
            st, h, body = http(presign(c, master_key))
            assert st == 200, f"status {st} {s3_error_code(body)}"
            assert body == files[master_key], "body differs from the uploaded file"
            ct = h.get("Content-Type")
            assert ct == "application/vnd.apple.mpegurl", f"Content-Type {ct}"
            return f"{len(body)} bytes"
        res.check("presigned GET -> 200 with exact bytes", presigned_exact_bytes)

        def every_file():
            want_ct = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
                       ".m4s": "video/mp4", ".mp4": "video/mp4"}
            total = 0
            for key, data in sorted(files.items()):
                st, h, body = http(presign(c, key))
                assert st == 200, f"{key}: status {st} {s3_error_code(body)}"
                assert body == data, f"{key}: body differs"
                ext = os.path.splitext(key)[1]
                assert h.get("Content-Type") == want_ct[ext], \
                    f"{key}: Content-Type {h.get('Content-Type')}"
                total += len(body)
            return f"{len(files)} files, {total} bytes"
        res.check("every stream file via presigned GET (bytes + Content-Type)", every_file)

        def walk_stream():
            # resolve relative URIs like a player: master -> media -> segments
            base = f"/{BUCKET}/{master_key}"
            _, _, master = http(presign(c, master_key))
            variants = [l for l in master.decode().splitlines() if l and not l.startswith("#")]
            assert len(variants) >= 3, f"{len(variants)} variants in master"
            n = 0
            for v in variants:
                media_path = urllib.parse.urljoin(base, v)
                media_key = media_path[len(f"/{BUCKET}/"):]
                st, _, media = http(presign(c, media_key))
                assert st == 200, f"{media_key}: {st}"
                text = media.decode()
                assert "#EXT-X-ENDLIST" in text, f"{media_key}: not VOD"
                uris = [l for l in text.splitlines() if l and not l.startswith("#")]
                uris += re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
                for u in uris:
                    seg_key = urllib.parse.urljoin(media_path, u)[len(f"/{BUCKET}/"):]
                    st, _, body = http(presign(c, seg_key))
                    assert st == 200, f"{seg_key}: {st}"
                    assert body == files[seg_key], f"{seg_key}: body differs"
                    n += 1
            return f"{len(variants)} variants, {n} segments/init"
        res.check("walk master -> variants -> segments via relative URIs", walk_stream)

        def odd_key():
            url = presign(c, ODD_KEY)
            st, _, body = http(url)
            assert st == 200, f"status {st} {s3_error_code(body)} url {url}"
            assert body == odd_body, "body differs"
            return urllib.parse.urlsplit(url).path
        res.check("presigned GET of a key with space + ~ = & ; ( ) ! ' * $ @ é", odd_key)

        def range_get():
            st, h, body = http(presign(c, seg_key), headers={"Range": "bytes=188-1127"})
            assert st == 206, f"status {st}"
            assert body == files[seg_key][188:1128], "range body differs"
            return h.get("Content-Range")
        res.check("presigned GET with Range -> 206 with the right bytes", range_get)

        def tampered():
            url = presign(c, seg_key)
            m = re.search(r"X-Amz-Signature=([0-9a-f]+)", url)
            assert m, "no X-Amz-Signature in URL"
            sig = m.group(1)
            bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
            st, _, body = http(url.replace(sig, bad))
            assert st == 403, f"status {st}"
            return s3_error_code(body)
        res.check("tampered signature -> 403", tampered)

        def wrong_secret():
            st, _, body = http(presign(wrong, seg_key))
            assert st == 403, f"status {st}"
            return s3_error_code(body)
        res.check("URL signed with the wrong secret -> 403", wrong_secret)

        def other_key():
            # signature for one key, request for another (same query string)
            url = presign(c, f"{PREFIX}/v0/seg_000.ts")
            st, _, body = http(url.replace("/v0/seg_000.ts", "/v0/seg_001.ts"))
            assert st == 403, f"status {st}"
            return s3_error_code(body)
        res.check("signature reused for another key -> 403", other_key)

        def expired():
            url = presign(c, seg_key, expires=1)
            time.sleep(2.1)
            st, _, body = http(url)
            assert st == 403, f"status {st}"
            return s3_error_code(body)
        res.check("expired URL (expires=1, waited 2 s) -> 403", expired)

        def unsigned():
            st, _, body = http(f"{endpoint}/{BUCKET}/{urllib.parse.quote(seg_key)}")
            assert st == 403, f"status {st}"
            st2, _, body2 = http(f"{endpoint}/{BUCKET}/")
            assert st2 == 403, f"unsigned bucket listing: status {st2}"
            return f"{s3_error_code(body)}; listing {s3_error_code(body2)}"
        res.check("unsigned GET of a private object (and listing) -> 403", unsigned)

        def cors_preflight():
            origin = "https://player.example"
            st, h, body = http(f"{endpoint}/{BUCKET}/{urllib.parse.quote(seg_key)}",
                               method="OPTIONS",
                               headers={"Origin": origin,
                                        "Access-Control-Request-Method": "GET",
                                        "Access-Control-Request-Headers": "range"})
            assert st == 200, f"status {st} {s3_error_code(body)}"
            acao = h.get("Access-Control-Allow-Origin")
            assert acao in ("*", origin), f"Access-Control-Allow-Origin {acao!r}"
            methods = h.get("Access-Control-Allow-Methods", "")
            assert "GET" in methods, f"Access-Control-Allow-Methods {methods!r}"
            return f"ACAO {acao}, methods {methods}"
        res.check("CORS preflight (OPTIONS) -> Access-Control-Allow-Origin", cors_preflight)

        def cors_get():
            origin = "https://player.example"
            st, h, _ = http(presign(c, master_key), headers={"Origin": origin})
            assert st == 200, f"status {st}"
            acao = h.get("Access-Control-Allow-Origin")
            assert acao in ("*", origin), f"Access-Control-Allow-Origin {acao!r}"
            expose = h.get("Access-Control-Expose-Headers", "")
            return f"ACAO {acao}, expose {expose}"
        res.check("presigned GET with Origin -> Access-Control-Allow-Origin", cors_get)

        def virtual_host():
            # sign for http://BUCKET.s3.localhost:PORT, send to 127.0.0.1 with
            # that Host header (no DNS needed)
            vc = client(f"http://{dns}:{port}", ak, sk, addressing="virtual")
            url = presign(vc, seg_key)
            parts = urllib.parse.urlsplit(url)
            assert parts.netloc == f"{BUCKET}.{dns}:{port}", parts.netloc
            direct = urllib.parse.urlunsplit(("http", f"127.0.0.1:{port}", parts.path,
                                              parts.query, ""))
            st, _, body = http(direct, headers={"Host": parts.netloc})
            assert st == 200, f"status {st} {s3_error_code(body)}"
            assert body == files[seg_key], "body differs"
            # same request, another bucket name in Host -> must not be served
            st2, _, body2 = http(direct, headers={"Host": f"other-{BUCKET}.{dns}:{port}"})
            assert st2 in (403, 404), f"wrong-bucket Host: status {st2}"
            return f"Host {parts.netloc}; wrong bucket -> {st2} {s3_error_code(body2)}"
        res.check("virtual-host style presigned GET (Host: BUCKET.s3.localhost)", virtual_host)

        def rss():
            total = 0
            for p in pids:
                with open(f"/proc/{p}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            assert total > 0, "no RSS read"
            return f"{total // 1024} MiB RSS for mon+osd+rgw"
        res.check("daemons alive (RSS)", rss)
    except Exception:  # noqa: BLE001
        res.failed += 1
        print("FAIL setup: exception", flush=True)
        traceback.print_exc()
        if not setup_ok:
            for name in ("rgw.out", "rgw.log", "osd.out", "mon.out"):
                p = os.path.join(rgw_dir, "log", name)
                if os.path.exists(p):
                    with open(p, errors="replace") as f:
                        tail = f.readlines()[-15:]
                    print(f"----- {p} -----\n" + "".join(tail), end="")
    finally:
        if os.path.isdir(rgw_dir):
            p = subprocess.run([RGW_SH, "stop", rgw_dir], timeout=120, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                res.failed += 1
                print(f"FAIL rgw.sh stop exited {p.returncode}: {p.stdout}")
        left = [p for p in pids if pid_alive(p)]
        if left:
            res.failed += 1
            print(f"FAIL leftover processes after stop: {left}")
        elif pids:
            res.check("no daemon left after rgw.sh stop", lambda: f"pids {pids} gone")
        keep = os.environ.get("HG_E2E_KEEP") == "1" or res.failed
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"total {time.monotonic() - t_start:.1f}s")
    print(f"{res.passed} passed, {res.failed} failed")
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
