#!/usr/bin/env python3
"""scripts/demo.sh with its ports taken: it must not print the banner (or a URL served by another
program), it must stop everything it started, name the taken port and the variable that moves
it, and exit 1.

- before starting anything: the early check (bind test) for each port;
- after starting (DEMO_NO_PRECHECK=1 skips the early check): hlsgate dies on the taken port and
  the page server gets EADDRINUSE; the script must notice both, after RGW was already started,
  and leave no process and no file behind.

usage: test_demo.py PATH/TO/hlsgate"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import Runner, eq, free_port, ok  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
BANNER = "hlsgate demo is running"


def occupy():
    """A plain listener on a free loopback port, as another program would hold it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, s.getsockname()[1]


def demo(env, timeout=240):
    tmp = tempfile.mkdtemp(prefix="hg-dm-")
    try:
        e = dict(os.environ, DEMO_BIN=BIN, DEMO_SECONDS="2", TMPDIR=tmp, **env)
        t0 = time.time()
        r = subprocess.run(["bash", os.path.join(REPO, "scripts", "demo.sh")], env=e, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        left = os.listdir(tmp)
        return r, left, time.time() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def no_children_left(port):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    ok("player-server.mjs %d" % port not in out, "page server on %d stopped" % port)


def test_precheck_page_port():
    s, port = occupy()
    try:
        r, left, dt = demo(dict(DEMO_PAGE_PORT=str(port), DEMO_GATEWAY_PORT=str(free_port())))
    finally:
        s.close()
    eq(r.returncode, 1, "exit status (stderr: %s)" % r.stderr[-600:])
    ok("port 127.0.0.1:%d for the demo page is taken by pid %d" % (port, os.getpid()) in r.stderr,
       "names the port and who holds it: %s" % r.stderr)
    ok("set DEMO_PAGE_PORT to another port" in r.stderr, "names the variable")
    ok(BANNER not in r.stdout, "no banner")
    ok("starting Ceph RGW" not in r.stdout, "nothing started")
    eq(left, [], "no files left")
    print("     refused in %.1fs" % dt)


def test_precheck_gateway_port():
    s, port = occupy()
    try:
        r, left, _ = demo(dict(DEMO_GATEWAY_PORT=str(port), DEMO_PAGE_PORT=str(free_port())))
    finally:
        s.close()
    eq(r.returncode, 1, "exit status")
    ok("port 127.0.0.1:%d for hlsgate is taken" % port in r.stderr, "names the port: %s" % r.stderr)
    ok("set DEMO_GATEWAY_PORT to another port" in r.stderr, "names the variable")
    ok(BANNER not in r.stdout, "no banner")


def test_ports_taken_after_start():
    # both ports taken, the early check skipped: the children themselves fail, after RGW started
    s1, gw_port = occupy()
    s2, page_port = occupy()
    try:
        r, left, dt = demo(dict(DEMO_GATEWAY_PORT=str(gw_port), DEMO_PAGE_PORT=str(page_port),
                                DEMO_NO_PRECHECK="1"))
    finally:
        s1.close()
        s2.close()
    eq(r.returncode, 1, "exit status (stdout: %s stderr: %s)" % (r.stdout[-600:], r.stderr[-1200:]))
    ok("starting Ceph RGW" in r.stdout, "got as far as starting the children")
    ok(BANNER not in r.stdout, "no banner")
    ok("port 127.0.0.1:%d for hlsgate is taken" % gw_port in r.stderr, "hlsgate's port named: %s" % r.stderr)
    ok("set DEMO_GATEWAY_PORT" in r.stderr, "DEMO_GATEWAY_PORT named")
    ok("port 127.0.0.1:%d for the demo page is taken" % page_port in r.stderr, "page port named")
    ok("set DEMO_PAGE_PORT" in r.stderr, "DEMO_PAGE_PORT named")
    ok("everything stopped" in r.stdout, "stopped what it started")
    eq(left, [], "no files left (RGW folder removed)")
    no_children_left(page_port)
    print("     refused after start in %.1fs" % dt)


if __name__ == "__main__":
    r = Runner("demo")
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            r.run(fn)
    r.finish()
