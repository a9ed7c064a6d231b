"""Helpers shared by the container tests: podman through docker/podman.sh (hlsgate's own
storage and settings), RGW and the sample stream, and small HTTP helpers.

Every container a test starts carries the label hlsgate-ctest=RUN_ID, so the test can remove
exactly what it started and prove that nothing is left."""
import http.client
import os
import re
import subprocess
import time
import urllib.parse
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import uris_in  # noqa: E402,F401  (shared playlist helper, re-exported)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PODMAN = os.path.join(REPO, "docker", "podman.sh")
PY = "/usr/bin/python3"
RUN_ID = "%d-%d" % (os.getpid(), int(time.time()))
LABEL = "hlsgate-ctest=%s" % RUN_ID


def sh(*cmd, env=None, check=True, timeout=900):
    r = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                        r.stdout[-3000:], r.stderr[-3000:]))
    return r


def podman(*args, check=True, timeout=600):
    return sh(PODMAN, *args, check=check, timeout=timeout)


def inspect(name, fmt):
    return podman("inspect", "--format", fmt, name).stdout.strip()


def remove_ours():
    """Remove every container this run started (by label); returns their names."""
    names = left_over()
    # a few passes: a container whose network namespace others join goes after them
    for _ in range(4):
        left = left_over()
        if not left:
            break
        for n in left:
            podman("rm", "-f", "-t", "0", n, check=False)
    return names


def remove_stale():
    """Remove containers of earlier runs whose test process is gone (a run killed by ctest's
    timeout cannot clean up after itself)."""
    out = podman("ps", "-a", "--filter", "label=hlsgate-ctest", "--format",
                 '{{.Names}} {{index .Labels "hlsgate-ctest"}}').stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        name, run = parts
        pid = run.split("-")[0]
        if run != RUN_ID and pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            podman("rm", "-f", "-t", "0", name, check=False)


def left_over():
    return podman("ps", "-a", "--filter", "label=" + LABEL, "--format", "{{.Names}}").stdout.split()


def load_env(path):
    env = {}
    for line in open(path):
        m = re.match(r"^(\w+)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip("'\"")
    return env


def get(url, host=None, headers=None, timeout=20):
    """GET url; connect to the URL's host but send `host` as the Host header when given.
    Returns (status, headers dict (lower-case), body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        h = {"Host": host or u.netloc}
        h.update(headers or {})
        conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()




def wait_http(url, timeout=30.0, host=None, want=200, alive=None):
    """Poll url until it answers `want`; alive() (optional) must stay true meanwhile."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("gave up on %s: the container stopped" % url)
        try:
            st, _, _ = get(url, host=host, timeout=2)
            if st == want:
                return
            last = st
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError("%s did not answer %s within %ss (last: %r)" % (url, want, timeout, last))
