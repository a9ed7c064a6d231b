#!/usr/bin/python3
"""The demo stack of docker/compose.yml, brought up with podman and checked end to end.

podman-compose 1.0.3 (Debian 12) cannot run the file: it passes `network_mode: service:s3`
through unchanged and adds a network as well, and podman refuses both ("invalid option for
network service" / "cannot set multiple networks without bridge network mode"). So this test
reads compose.yml and does what `docker compose up` does with it, with plain podman:

- builds every service's image from its `build:` (context, dockerfile, target; the ignore file
  next to the Dockerfile, as BuildKit uses it) and tags it with its `image:`;
- starts the services in depends_on order; `network_mode: service:X` becomes
  `--network container:X`; environment, ports, read_only, user, cap_drop, security_opt and
  healthcheck carry over (restart policies are not exercised); `condition: service_healthy`
  waits for `podman healthcheck run`;
- a key it does not know fails the test instead of being ignored.

Host ports are free ones instead of 7480/8002/8080 (the machine may use those); requests carry
the Host header a browser on the real ports would send, so signatures are checked as they would
be. Checks: the seed job exits 0; the master and variant playlists through hlsgate are signed
for the S3 endpoint; every segment URL gets 200 and the exact bytes from the S3, with CORS for
the player's origin; the player page and hls.js are served; health checks pass; read-only
services are read-only; hlsgate and the S3 exit 0 on stop; nothing is left behind.

usage: test_compose.py             (root, podman)"""
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import yaml  # noqa: E402
from harness import Runner, eq, free_port, ok  # noqa: E402
from podmanlib import (LABEL, RUN_ID, get, inspect, left_over, podman, remove_ours,  # noqa: E402
                       remove_stale, sh, uris_in)

DOCKER = os.path.join(REPO, "docker")
COMPOSE_FILE = os.path.join(DOCKER, "compose.yml")
COMPOSE = yaml.safe_load(open(COMPOSE_FILE))
SERVICES = COMPOSE["services"]
PROJECT = "hgc-%s" % RUN_ID
WORK = tempfile.mkdtemp(prefix="hg-compose-")
KNOWN_KEYS = {"build", "image", "environment", "ports", "network_mode", "depends_on", "read_only", "user",
              "cap_drop", "security_opt", "healthcheck", "stop_grace_period", "restart"}
PUBLISHED = {}  # container port -> (compose host ip, compose host port, our free host port)
TIMES = {}


def cname(service):
    return "%s-%s" % (PROJECT, service)


def duration_s(v):
    v = str(v)
    for suffix, mul in (("ms", 0.001), ("s", 1), ("m", 60)):
        if v.endswith(suffix) and v[:-len(suffix)].isdigit():
            return int(v[:-len(suffix)]) * mul
    return int(v)


def deps(svc):
    d = SERVICES[svc].get("depends_on") or {}
    return dict.fromkeys(d, {"condition": "service_started"}) if isinstance(d, list) else d


def start_order():
    order, seen = [], set()

    def visit(s, stack=()):
        ok(s not in stack, "depends_on cycle at %s" % s)
        if s in seen:
            return
        for d in deps(s):
            visit(d, stack + (s,))
        nm = SERVICES[s].get("network_mode", "")
        if nm.startswith("service:"):
            visit(nm.split(":", 1)[1], stack + (s,))
        seen.add(s)
        order.append(s)

    for s in SERVICES:
        visit(s)
    return order


def build(svc):
    b = SERVICES[svc]["build"]
    context = os.path.normpath(os.path.join(DOCKER, b.get("context", ".")))
    dockerfile = os.path.join(context, b.get("dockerfile", "Dockerfile"))
    args = ["build", "--format", "docker", "--layers", "-f", dockerfile, "-t", SERVICES[svc]["image"]]
    if os.path.exists(dockerfile + ".dockerignore"):
        args += ["--ignorefile", dockerfile + ".dockerignore"]
    if b.get("target"):
        args += ["--target", b["target"]]
    podman(*args, context, timeout=1800)


def healthcheck_args(hc):
    test = hc["test"]
    if isinstance(test, list):
        eq(test[0], "CMD", "healthcheck form")
        cmd = json.dumps(test[1:])
    else:
        cmd = test
    out = ["--health-cmd", cmd]
    for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                      ("retries", "--health-retries"), ("start_period", "--health-start-period")):
        if key in hc:
            out += [flag, str(hc[key])]
    return out


def run(svc):
    s = SERVICES[svc]
    unknown = set(s) - KNOWN_KEYS
    eq(sorted(unknown), [], "compose keys of %s this runner does not implement" % svc)
    args = ["run", "-d", "--name", cname(svc), "--label", LABEL]
    for k, v in (s.get("environment") or {}).items():
        args += ["-e", "%s=%s" % (k, v)]
    nm = s.get("network_mode", "")
    if nm.startswith("service:"):
        args += ["--network", "container:" + cname(nm.split(":", 1)[1])]
    elif nm:
        args += ["--network", nm]
    for p in s.get("ports", []):
        parts = str(p).split(":")
        ok(len(parts) == 3, "ports as HOSTIP:HOST:CONTAINER: %s" % p)
        mine = free_port()
        PUBLISHED[int(parts[2])] = (parts[0], int(parts[1]), mine)
        args += ["-p", "127.0.0.1:%d:%s" % (mine, parts[2])]
    if s.get("read_only"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    if "user" in s:
        args += ["--user", str(s["user"])]
    for c in s.get("cap_drop", []):
        args += ["--cap-drop", c]
    for o in s.get("security_opt", []):
        args += ["--security-opt", o.replace("no-new-privileges:true", "no-new-privileges")]
    if "healthcheck" in s:
        args += healthcheck_args(s["healthcheck"])
    podman(*args, s["image"])


def wait_healthy(svc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ok(inspect(cname(svc), "{{.State.Running}}") == "true", "%s is running" % svc)
        if podman("healthcheck", "run", cname(svc), check=False).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError("%s not healthy within %ss" % (svc, timeout))


def wait_exit(svc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if inspect(cname(svc), "{{.State.Status}}") in ("exited", "stopped"):
            return int(inspect(cname(svc), "{{.State.ExitCode}}"))
        time.sleep(0.5)
    raise AssertionError("%s still running after %ss" % (svc, timeout))


def host_url(container_port, path=""):
    """(url to connect to, Host header the browser would send)."""
    ip, hport, mine = PUBLISHED[container_port]
    return "http://127.0.0.1:%d%s" % (mine, path), "%s:%d" % (ip, hport)


# ---- setup ----------------------------------------------------------------------------------------

def setup():
    remove_stale()
    t0 = time.time()
    sh("bash", os.path.join(DOCKER, "make-base-image.sh"), timeout=900)

    def timed_build(svc):
        t1 = time.time()
        build(svc)
        return "setup: built %s (%s) in %.1fs" % (SERVICES[svc]["image"], svc, time.time() - t1)

    # concurrently: they mostly wait for the Debian mirror
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for line in pool.map(timed_build, [s for s in start_order() if "build" in SERVICES[s]]):
            print(line, flush=True)
    TIMES["build"] = time.time() - t0
    t0 = time.time()
    for svc in start_order():
        for dep, cond in deps(svc).items():
            c = (cond or {}).get("condition", "service_started")
            if c == "service_healthy":
                wait_healthy(dep)
            elif c == "service_completed_successfully":
                eq(wait_exit(dep), 0, "%s exit code" % dep)
        run(svc)
    TIMES["up"] = time.time() - t0
    print("setup: stack up in %.1fs; ports %s" % (TIMES["up"], {k: v[2] for k, v in PUBLISHED.items()}), flush=True)


def teardown():
    remove_ours()
    shutil.rmtree(WORK, ignore_errors=True)


# ---- tests ----------------------------------------------------------------------------------------

HG_ENV = {k: str(v) for k, v in SERVICES["hlsgate"]["environment"].items()}
S3_NETLOC = urllib.parse.urlsplit(HG_ENV["S3_ENDPOINT"]).netloc
S3_PORT = urllib.parse.urlsplit(HG_ENV["S3_ENDPOINT"]).port
HG_PORT = int(HG_ENV["LISTEN"].rsplit(":", 1)[1])
PLAYER_PORT = int(SERVICES["player"]["environment"]["PLAYER_PORT"])
SEED_PREFIX = SERVICES["seed"]["environment"]["SEED_PREFIX"]
STREAM_KEY = SEED_PREFIX[len(HG_ENV.get("S3_KEY_PREFIX", "")):].strip("/")


def test_seed_job_completes():
    eq(wait_exit("seed"), 0, "seed exit code")
    logs = podman("logs", cname("seed")).stdout
    ok("uploaded the sample stream" in logs, "seed log: %s" % logs[-500:])
    podman("cp", "%s:/opt/hlsgate-demo/stream" % cname("seed"), os.path.join(WORK, "stream"))


def test_health_checks():
    for svc in ("s3", "hlsgate", "player"):
        wait_healthy(svc, timeout=60)
    url, host = host_url(HG_PORT, "/readyz")
    eq(get(url, host=host)[0], 200, "/readyz")


def test_playlists_and_segments_through_the_stack():
    url, host = host_url(HG_PORT, "/hls/%s/master.m3u8" % STREAM_KEY)
    origin = "http://%s:%d" % (PUBLISHED[PLAYER_PORT][0], PUBLISHED[PLAYER_PORT][1])
    st, h, body = get(url, host=host, headers={"Origin": origin})
    eq(st, 200, "master")
    eq(h.get("access-control-allow-origin"), "*", "CORS on the playlist")
    variants = uris_in(body.decode())
    ok(len(variants) >= 3, "variants: %s" % variants)
    media = []
    for v in variants:
        ok(v.startswith("http://%s/hls/" % host), "variant URL for the browser: %s" % v)
        vurl, _ = host_url(HG_PORT, urllib.parse.urlsplit(v).path)
        st, _, vbody = get(vurl, host=host)
        eq(st, 200, v)
        media += uris_in(vbody.decode())
    ok(len(media) >= 20, "media URLs: %d" % len(media))
    s3_url, _ = host_url(S3_PORT)
    for u in media:
        p = urllib.parse.urlsplit(u)
        eq(p.netloc, S3_NETLOC, "segment URL host = S3_ENDPOINT")
        ok("X-Amz-Signature=" in p.query, "signed: %s" % u)
        st, sh_, data = get("%s%s?%s" % (s3_url, p.path, p.query), host=p.netloc, headers={"Origin": origin})
        eq(st, 200, "S3 accepts %s" % u)
        ok(sh_.get("access-control-allow-origin") in ("*", origin), "CORS for the player's origin: %s" % sh_)
        rel = urllib.parse.unquote(p.path).split("/%s/" % SEED_PREFIX, 1)[1]
        with open(os.path.join(WORK, "stream", rel), "rb") as f:
            eq(data, f.read(), "exact bytes of %s" % rel)


def test_player_page():
    url, host = host_url(PLAYER_PORT)
    st, _, body = get(url + "/", host=host)
    eq(st, 200, "index")
    ok(b"player.html" in body and b"8002" in body, "index opens the player on hlsgate")
    st, _, body = get(url + "/player.html", host=host)
    eq(st, 200, "player.html")
    ok(b'src="/hls.min.js"' in body, "player loads hls.js")
    st, h, body = get(url + "/hls.min.js", host=host)
    eq(st, 200, "hls.min.js")
    ok(len(body) > 100000 and b"Hls" in body[:200000], "hls.js served (%d bytes)" % len(body))
    ok("javascript" in h.get("content-type", ""), "content type %s" % h.get("content-type"))


def test_read_only_services():
    for svc, s in SERVICES.items():
        if s.get("read_only"):
            eq(inspect(cname(svc), "{{.HostConfig.ReadonlyRootfs}}"), "true", "%s read-only" % svc)
    eq(podman("exec", cname("hlsgate"), "id", "-u").stdout.strip(), "10001", "hlsgate uid")


def test_stop_exits_cleanly():
    for svc in ("player", "hlsgate", "s3"):
        grace = duration_s(SERVICES[svc].get("stop_grace_period", "10s"))
        t0 = time.time()
        podman("stop", "-t", str(int(grace)), cname(svc))
        elapsed = time.time() - t0
        ok(elapsed < grace, "%s stopped in %.1fs (grace %ss)" % (svc, elapsed, grace))
        if svc != "player":  # busybox httpd just dies on SIGTERM
            eq(inspect(cname(svc), "{{.State.ExitCode}}"), "0", "%s exit code" % svc)
    logs = podman("logs", cname("hlsgate"))
    ok("/hls/%s/master.m3u8" % STREAM_KEY in logs.stdout + logs.stderr, "hlsgate logged the requests")


def test_cleanup_leaves_nothing():
    removed = remove_ours()
    eq(sorted(removed), sorted(cname(s) for s in SERVICES), "removed the stack's containers")
    eq(left_over(), [], "containers left")


if __name__ == "__main__":
    r = Runner("docker.compose")
    t_all = time.time()
    try:
        setup()
        for fn in (test_seed_job_completes, test_health_checks, test_playlists_and_segments_through_the_stack,
                   test_player_page, test_read_only_services, test_stop_exits_cleanly,
                   test_cleanup_leaves_nothing):
            r.run(fn)
    except Exception:
        import traceback
        r.failed += 1
        print("FAIL setup\n%s" % traceback.format_exc(), flush=True)
        for n in left_over():
            logs = podman("logs", n, check=False)
            print("--- log of %s:\n%s%s" % (n, logs.stdout[-3000:], logs.stderr[-3000:]), flush=True)
    finally:
        teardown()
    print("     total %.1fs (image builds %.1fs, stack up %.1fs)" % (time.time() - t_all, TIMES.get("build", 0),
                                                                     TIMES.get("up", 0)))
    r.finish()
