#!/usr/bin/python3
"""The hlsgate container image, built with podman from a clean copy of the tree and run
against a real S3 (Ceph RGW on loopback):

- the image: non-root numeric USER, EXPOSE, HEALTHCHECK, tini, no build tools, size;
- end to end through the container: signed playlists whose every segment URL RGW accepts with
  the exact bytes, the storage reached by host name (name resolution inside the image);
- /healthz, /readyz, `podman healthcheck run`;
- read-only root file system (no tmpfs anywhere) and a non-root process;
- tini as PID 1 reaps orphans;
- the default LISTEN on a published port (bridge network, -p);
- SIGTERM: an in-flight response finishes, new connections are refused, exit code 0 well
  within the grace period.

usage: test_container.py             (root, podman; see docker/README.md)"""
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import yaml  # noqa: E402
from harness import Runner, eq, free_port, ok  # noqa: E402
from podmanlib import (LABEL, PY, RUN_ID, get, inspect, left_over, load_env, podman,  # noqa: E402
                       remove_ours, remove_stale, sh, uris_in, wait_http)

BUCKET = "media"
PREFIX = "videos"
STREAM_KEY = "demo"
S3_HOST = "s3.hlsgate.test"  # resolved inside the container through --add-host (/etc/hosts)
MAX_IMAGE_MB = 150

WORK = tempfile.mkdtemp(prefix="hg-docker-")
RGW_DIR = os.path.join(WORK, "rgw")
STREAM_DIR = os.path.join(WORK, "stream")
NAME = "hg-ctest-%s" % RUN_ID
IMAGE = None
RGW = {}
GW_PORT = free_port()
TIMES = {}


def cname(suffix):
    return "%s-%s" % (NAME, suffix)


def run_container(suffix, env, *extra):
    args = ["run", "-d", "--name", cname(suffix), "--label", LABEL]
    for k, v in env.items():
        args += ["-e", "%s=%s" % (k, v)]
    podman(*args, *extra, IMAGE)
    return cname(suffix)


def running(name):
    return inspect(name, "{{.State.Running}}") == "true"


def base_env(**over):
    env = dict(S3_BUCKET=BUCKET, S3_KEY_PREFIX=PREFIX, S3_REGION=RGW.get("RGW_REGION", "us-east-1"),
               S3_ACCESS_KEY_ID=RGW.get("RGW_ACCESS_KEY", "x"),
               S3_SECRET_ACCESS_KEY=RGW.get("RGW_SECRET_KEY", "x"), WORKERS="2", LOG_LEVEL="info")
    env.update(over)
    return env


LOCKED_DOWN = ["--read-only", "--read-only-tmpfs=false", "--cap-drop=ALL",
               "--security-opt=no-new-privileges"]


# ---- setup ----------------------------------------------------------------------------------------

def setup():
    global IMAGE, RGW
    remove_stale()
    t0 = time.time()
    iid = os.path.join(WORK, "iid")
    r = sh("bash", os.path.join(REPO, "docker", "build.sh"), "--clean", "--iidfile", iid, timeout=1800)
    IMAGE = open(iid).read().strip()
    TIMES["build"] = time.time() - t0
    print("setup: image %s built in %.1fs (%s)" % (IMAGE[:19], TIMES["build"],
                                                   r.stderr.strip().splitlines()[-1]), flush=True)
    t0 = time.time()
    # RGW must know the name as its own (rgw dns name), else it takes the host for a bucket
    sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "start", RGW_DIR,
       env=dict(os.environ, RGW_DNS_NAME=S3_HOST))
    RGW = load_env(os.path.join(RGW_DIR, "env"))
    s3env = dict(os.environ, **RGW)
    sh("bash", os.path.join(REPO, "scripts", "make-stream.sh"), STREAM_DIR, "6")
    s3util = os.path.join(REPO, "scripts", "s3util.py")
    sh(PY, s3util, "mb", BUCKET, env=s3env)
    sh(PY, s3util, "put-tree", BUCKET, STREAM_DIR, "%s/%s" % (PREFIX, STREAM_KEY), env=s3env)
    print("setup: RGW on port %s, stream uploaded in %.1fs" % (RGW["RGW_PORT"], time.time() - t0), flush=True)
    # the main container: host network (RGW listens on loopback), locked down, the storage by name
    run_container("main", base_env(LISTEN="127.0.0.1:%d" % GW_PORT, DRAIN_TIMEOUT_MS="8000",
                                   S3_ENDPOINT="http://%s:%s" % (S3_HOST, RGW["RGW_PORT"])),
                  "--network=host", "--add-host=%s:127.0.0.1" % S3_HOST, *LOCKED_DOWN)
    wait_http("http://127.0.0.1:%d/healthz" % GW_PORT, alive=lambda: running(cname("main")))


def teardown():
    remove_ours()
    sh("bash", os.path.join(REPO, "scripts", "rgw.sh"), "stop", RGW_DIR, check=False)
    shutil.rmtree(WORK, ignore_errors=True)


# ---- tests ----------------------------------------------------------------------------------------

def test_image_metadata():
    img = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    cfg = img["Config"]
    eq(cfg.get("User"), "10001:10001", "numeric non-root USER")
    ok("8002/tcp" in cfg.get("ExposedPorts", {}), "EXPOSE 8002")
    hc = (img.get("Healthcheck") or {}).get("Test", [])
    ok("--healthcheck" in hc, "HEALTHCHECK runs hlsgate --healthcheck: %s" % hc)
    eq(cfg.get("Entrypoint", [])[:2], ["/usr/bin/tini", "--"], "tini is the entrypoint")
    eq(cfg.get("StopSignal"), "SIGTERM", "stop signal")
    size = int(img["Size"])
    TIMES["size"] = size
    print("     image size %.1f MB (%d bytes)" % (size / 1e6, size))
    ok(size < MAX_IMAGE_MB * 1e6, "image under %d MB" % MAX_IMAGE_MB)
    # runtime stage: no compiler, no -dev package
    r = podman("run", "--rm", "--label", LABEL, "--entrypoint", "/bin/sh", IMAGE, "-c",
               "command -v cc gcc cmake make; dpkg-query -W -f '${Package}\\n' | grep -- '-dev$'; true")
    eq(r.stdout.strip(), "", "build tools or -dev packages in the runtime image")
    # the Deployment's preStop command exists in the image
    dep = [d for d in yaml.safe_load_all(open(os.path.join(REPO, "docker", "k8s", "deployment.yaml")))
           if d and d.get("kind") == "Deployment"][0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    cmd = c["lifecycle"]["preStop"]["exec"]["command"]
    podman("run", "--rm", "--label", LABEL, "--read-only", "--entrypoint", cmd[0], IMAGE, "0")


def walk(port, host=None):
    """Master and nested playlists through the gateway; returns the media URLs."""
    base = "http://127.0.0.1:%d" % port
    st, h, body = get("%s/hls/%s/master.m3u8" % (base, STREAM_KEY), host=host)
    eq(st, 200, "master status")
    eq(h.get("content-type"), "application/vnd.apple.mpegurl", "content type")
    variants = uris_in(body.decode())
    ok(len(variants) >= 3, "three variants: %s" % variants)
    media = []
    for v in variants:
        ok(v.startswith("http://%s/hls/" % (host or "127.0.0.1:%d" % port)), "variant through the gateway: %s" % v)
        st, _, body = get(base + urllib.parse.urlsplit(v).path, host=host)
        eq(st, 200, "variant %s" % v)
        media += uris_in(body.decode())
    return media


def test_playlists_signed_and_accepted_by_rgw():
    media = walk(GW_PORT)
    ok(len(media) >= 9, "segments and init section: %d" % len(media))
    ok(any("init.mp4" in u for u in media), "fMP4 init section")
    rgw = "127.0.0.1:%s" % RGW["RGW_PORT"]
    for u in media:
        ok("X-Amz-Signature=" in u, "presigned: %s" % u)
        parts = urllib.parse.urlsplit(u)
        eq(parts.netloc, "%s:%s" % (S3_HOST, RGW["RGW_PORT"]), "URL host is the endpoint the container resolved")
        # connect to RGW, present the signed Host
        st, _, body = get("http://%s%s?%s" % (rgw, parts.path, parts.query), host=parts.netloc)
        eq(st, 200, "RGW accepts %s" % u)
        rel = urllib.parse.unquote(parts.path).split("/%s/%s/" % (PREFIX, STREAM_KEY), 1)[1]
        with open(os.path.join(STREAM_DIR, rel), "rb") as f:
            eq(body, f.read(), "exact bytes of %s" % rel)
    bad = media[0].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    parts = urllib.parse.urlsplit(bad)
    st, _, _ = get("http://%s%s?%s" % (rgw, parts.path, parts.query), host=parts.netloc)
    eq(st, 403, "a tampered signature is refused (RGW really checks)")


def test_healthz_and_readyz():
    for path in ("/healthz", "/readyz"):
        st, _, body = get("http://127.0.0.1:%d%s" % (GW_PORT, path))
        eq(st, 200, path)


def test_podman_healthcheck():
    r = podman("healthcheck", "run", cname("main"), check=False)
    eq(r.returncode, 0, "podman healthcheck run: %s %s" % (r.stdout, r.stderr[-500:]))
    eq(inspect(cname("main"), "{{.State.Healthcheck.Status}}"), "healthy", "health status")


def host_processes(name):
    """(pid, name, [real, effective, saved, fs uid]) of every process in the container's PID
    namespace, read from this machine's /proc. (podman top's huser and hpid show "?" when podman
    itself runs inside a container, as in tests/fresh/full.sh.)"""
    ns = os.readlink("/proc/%s/ns/pid" % inspect(name, "{{.State.Pid}}"))
    rows = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/ns/pid" % pid) != ns:
                continue
            fields = dict(l.split(":", 1) for l in open("/proc/%s/status" % pid) if ":" in l)
        except OSError:
            continue  # gone meanwhile
        rows.append((pid, fields["Name"].strip(), fields["Uid"].split()))
    return rows


def test_runs_as_non_root():
    rows = host_processes(cname("main"))
    ok(rows, "processes listed")
    for pid, comm, uids in rows:
        eq(uids, ["10001"] * 4, "host uids of %s (pid %s)" % (comm, pid))
    eq(podman("exec", cname("main"), "id", "-u").stdout.strip(), "10001", "id -u")
    status = podman("exec", cname("main"), "cat", "/proc/1/status").stdout
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    eq(uid_line.split()[1:], ["10001"] * 4, "PID 1 real/effective/saved/fs uid")
    ok("CapEff:\t0000000000000000" in status, "no effective capabilities")


def test_root_filesystem_read_only():
    eq(inspect(cname("main"), "{{.HostConfig.ReadonlyRootfs}}"), "true", "ReadonlyRootfs")
    mounts = podman("exec", cname("main"), "cat", "/proc/mounts").stdout.splitlines()
    root = [m.split() for m in mounts if m.split()[1] == "/"][0]
    ok("ro" in root[3].split(","), "/ mounted ro: %s" % root[3])
    for d in ("/", "/tmp", "/var/tmp", "/usr/local/bin", "/home"):
        r = podman("exec", cname("main"), "sh", "-c", "echo x > %s/.probe" % d.rstrip("/"), check=False)
        ok(r.returncode != 0 and "Read-only file system" in r.stderr, "writing in %s fails: %r" % (d, r.stderr))
    # and hlsgate works like this: the end-to-end test above ran on this very container
    ok(running(cname("main")), "still running")


def test_tini_reaps_orphans():
    eq(podman("exec", cname("main"), "cat", "/proc/1/comm").stdout.strip(), "tini", "PID 1")
    pid = podman("exec", cname("main"), "sh", "-c", "sleep 1.5 & echo $!").stdout.strip()
    ok(pid.isdigit(), "orphan pid %r" % pid)
    st = podman("exec", cname("main"), "cat", "/proc/%s/status" % pid, check=False).stdout
    ok("PPid:\t1\n" in st, "the orphan was adopted by PID 1: %s" % st[:300])
    # once it exits, PID 1 must collect it: then /proc/PID is gone, a zombie would stay
    deadline = time.time() + 10
    state = ""
    while time.time() < deadline:
        r = podman("exec", cname("main"), "cat", "/proc/%s/status" % pid, check=False)
        if r.returncode != 0:
            return
        state = [l for l in r.stdout.splitlines() if l.startswith("State:")]
        time.sleep(0.3)
    raise AssertionError("orphan %s not reaped after 10 s: %s" % (pid, state))


def test_published_port_default_listen():
    # bridge network, image defaults (LISTEN 0.0.0.0:8002), port published on loopback
    port = free_port()
    n = run_container("bridge", base_env(S3_ENDPOINT="http://127.0.0.1:9"),
                      "-p", "127.0.0.1:%d:8002" % port, *LOCKED_DOWN)
    wait_http("http://127.0.0.1:%d/healthz" % port, alive=lambda: running(n))
    st, _, _ = get("http://127.0.0.1:%d/readyz" % port)
    eq(st, 200, "/readyz via the published port")
    r = podman("healthcheck", "run", n, check=False)
    eq(r.returncode, 0, "healthcheck with the default LISTEN")
    t0 = time.time()
    podman("stop", "-t", "10", n)
    ok(time.time() - t0 < 10, "stopped before the grace period")
    eq(inspect(n, "{{.State.ExitCode}}"), "0", "exit code")


class SlowOrigin:
    """A fake S3 on loopback whose playlist arrives in two parts, DELAY seconds apart."""
    DELAY = 2.0

    def __init__(self):
        self.requested = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requested.set()
                head = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                tail = b"".join(b"#EXTINF:2.0,\nseg_%03d.ts\n" % i for i in range(50)) + b"#EXT-X-ENDLIST\n"
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.apple.mpegurl")
                self.send_header("Content-Length", str(len(head) + len(tail)))
                self.end_headers()
                self.wfile.write(head)
                self.wfile.flush()
                time.sleep(SlowOrigin.DELAY)
                self.wfile.write(tail)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_sigterm_drains_in_flight_and_exits_0():
    origin = SlowOrigin()
    port = free_port()
    grace = 20
    try:
        n = run_container("drain", base_env(LISTEN="127.0.0.1:%d" % port, DRAIN_TIMEOUT_MS="10000",
                                            S3_ENDPOINT="http://127.0.0.1:%d" % origin.port),
                          "--network=host", *LOCKED_DOWN)
        wait_http("http://127.0.0.1:%d/healthz" % port, alive=lambda: running(n))
        result = {}

        def client():
            try:
                result["resp"] = get("http://127.0.0.1:%d/hls/slow.m3u8" % port, timeout=30)
            except Exception as e:  # noqa: BLE001
                result["error"] = e

        th = threading.Thread(target=client)
        th.start()
        ok(origin.requested.wait(10), "the origin got the request")
        t0 = time.time()
        stopper = threading.Thread(target=lambda: result.setdefault("stop", podman("stop", "-t", str(grace), n)))
        stopper.start()
        # while the response is in flight, the listener is closed: new connections are refused
        refused = False
        deadline = time.time() + SlowOrigin.DELAY - 0.3
        while time.time() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        stopper.join(grace + 15)
        elapsed = time.time() - t0
        th.join(10)
        ok("error" not in result, "in-flight request failed: %r" % result.get("error"))
        st, _, body = result["resp"]
        eq(st, 200, "in-flight response status")
        ok(body.rstrip().endswith(b"#EXT-X-ENDLIST"), "the whole playlist arrived")
        eq(body.count(b"X-Amz-Signature="), 50, "every segment signed")
        ok(refused, "new connections refused during the drain")
        eq(inspect(n, "{{.State.ExitCode}}"), "0", "exit code after SIGTERM")
        ok(elapsed < grace, "exited within the grace period (%.1fs < %ds)" % (elapsed, grace))
        ok(elapsed >= SlowOrigin.DELAY - 0.5, "waited for the in-flight response (%.1fs)" % elapsed)
        print("     drained and exited 0 in %.1fs (grace %ds)" % (elapsed, grace))
    finally:
        origin.stop()


def test_stop_main_container_exit_0():
    t0 = time.time()
    podman("stop", "-t", "10", cname("main"))
    elapsed = time.time() - t0
    eq(inspect(cname("main"), "{{.State.ExitCode}}"), "0", "exit code")
    ok(elapsed < 10, "stopped in %.1fs" % elapsed)
    logs = podman("logs", cname("main")).stdout + podman("logs", cname("main")).stderr
    ok("GET" in logs and "/hls/%s/master.m3u8" % STREAM_KEY in logs, "access log lines in the container log")
    ok(RGW["RGW_SECRET_KEY"] not in logs, "secret never logged")


def test_cleanup_leaves_nothing():
    removed = remove_ours()
    ok(len(removed) >= 3, "removed our containers: %s" % removed)
    eq(left_over(), [], "containers left")


if __name__ == "__main__":
    r = Runner("docker.container")
    t_all = time.time()
    try:
        setup()
        for fn in (test_image_metadata, test_playlists_signed_and_accepted_by_rgw, test_healthz_and_readyz,
                   test_podman_healthcheck, test_runs_as_non_root, test_root_filesystem_read_only,
                   test_tini_reaps_orphans, test_published_port_default_listen,
                   test_sigterm_drains_in_flight_and_exits_0, test_stop_main_container_exit_0,
                   test_cleanup_leaves_nothing):
            r.run(fn)
    except Exception:
        import traceback
        r.failed += 1
        print("FAIL setup\n%s" % traceback.format_exc(), flush=True)
        for n in left_over():
            logs = podman("logs", n, check=False)
            print("--- log of %s:\n%s%s" % (n, logs.stdout[-2000:], logs.stderr[-2000:]), flush=True)
    finally:
        teardown()
    print("     total %.1fs (image build %.1fs)" % (time.time() - t_all, TIMES.get("build", 0)))
    r.finish()
