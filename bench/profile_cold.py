#!/usr/bin/python3
"""bench/profile_cold.py: where a cold 1,800-segment request's CPU time goes, side by side.

    bench/profile_cold.py BIN [BIN ...] [--runs 3] [--seconds 5]

For each hlsgate binary (e.g. a build of an older commit and build-bench/hlsgate), in one run:
start it (1 worker, cache off, pinned to CPU 0) in front of a local nginx origin serving the
bench fixtures (CPU 1, with wrk), measure its CPU time per request under `wrk -c4` (user +
system from /proc, medians of --runs runs, interleaved between the binaries), then sample it
with `perf record -e cpu-clock` and sort the samples into categories: SHA-256 compression, the
rest of signing, the rewrite, libc, libcurl, libuv, and the kernel (sending the rewritten bytes
to the client is most of it). Prints one markdown table, microseconds per request per category.

perf's cpu-clock event works without hardware counters (this machine has none); callgrind cannot
run the SHA-NI code. Everything listens on 127.0.0.1 and is stopped at the end.
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PL = "/hls/vod1800/1080p/index.m3u8"
CATS = ["SHA-256 compression", "signing, other (hex, layout, URL build)",
        "rewrite (lines, URIs, emit, buffers)", "libc memcpy/memset", "libc memchr/memmem/strlen",
        "libc malloc/free", "libcurl", "libuv", "kernel", "other"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    t = time.time() + timeout
    while time.time() < t:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on port %d" % port)


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def category(dso, kind, sym):
    if kind == "k":
        return "kernel"
    if "libcurl" in dso:
        return "libcurl"
    if "libuv" in dso:
        return "libuv"
    if "libc" in dso:
        if re.search(r"mem(move|cpy|set)", sym):
            return "libc memcpy/memset"
        if re.search(r"memchr|memmem|strlen|strchr", sym):
            return "libc memchr/memmem/strlen"
        if re.search(r"malloc|free|realloc|calloc|consolidate|unlink_chunk", sym):
            return "libc malloc/free"
        return "other"
    if re.match(r"(kernel\d?|many|hg_sha256\w*|generic_many|mbedtls_internal_sha256\w*)$", sym):
        return "SHA-256 compression"
    if re.search(r"sigv4|state_hex|enc_key|presign|segsigner|stage_job|run_jobs", sym):
        return "signing, other (hex, layout, URL build)"
    if re.search(r"rewrite|process_line|uri|fill|object_key|key_is|hg_buf|hg_map|hg_hash|"
                 r"find_eol|cut_chunk|pump|pct|bytes_safe|remove_dots|has_variable|has_scheme|"
                 r"record_span|hg_rw_", sym):
        return "rewrite (lines, URIs, emit, buffers)"
    return "other"


def profile(data):
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                          "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    cats = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
        if m:
            cats[category(m.group(2), m.group(3), m.group(4))] += float(m.group(1))
    tot = sum(cats.values()) or 1.0
    return {k: v / tot for k, v in cats.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bins", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    for tool in ("nginx", "wrk", "perf", "taskset"):
        if not shutil.which(tool):
            raise SystemExit("profile_cold: %s missing (scripts/setup.sh bench installs it)" % tool)
    tmp = tempfile.mkdtemp(prefix="hg-profile-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        root = os.path.join(tmp, "root")
        subprocess.run([sys.executable, os.path.join(HERE, "fixtures.py"), root, "media", "hls"],
                       check=True, capture_output=True)
        os.makedirs(os.path.join(tmp, "t"))
        oport = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        t = os.path.join(tmp, "t")
        with open(conf, "w") as f:
            f.write("daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;\n"
                    "events { worker_connections 1024; }\nhttp { access_log off; sendfile on;\n"
                    "keepalive_requests 100000000; client_body_temp_path %s; proxy_temp_path %s;\n"
                    "fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
                    "server { listen 127.0.0.1:%d; root %s; } }\n" % (tmp, tmp, t, t, t, t, t, oport, root))
        procs.append(subprocess.Popen(["taskset", "-c", "1", "nginx", "-p", tmp, "-e",
                                       os.path.join(tmp, "error.log"), "-c", conf]))
        wait_port(oport)

        def start(b):
            port = free_port()
            env = dict(os.environ, LISTEN="127.0.0.1:%d" % port, WORKERS="1",
                       S3_ENDPOINT="http://127.0.0.1:%d" % oport, S3_BUCKET="media",
                       S3_KEY_PREFIX="hls", S3_ACCESS_KEY_ID="AKIDHLSGATEBENCH0000",
                       S3_SECRET_ACCESS_KEY="hlsgate-bench-secret-not-a-real-key-0000",
                       S3_REGION="us-east-1", LOG_LEVEL="warn", PLAYLIST_CACHE_BYTES="0",
                       PUBLIC_BASE_URL="http://127.0.0.1:%d" % port)
            p = subprocess.Popen(["taskset", "-c", "0", b], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_port(port)
            return p, port

        def wrk(port, secs):
            out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c4", "-d%ds" % secs,
                                  "http://127.0.0.1:%d%s" % (port, PL)], capture_output=True,
                                 text=True).stdout
            return int(re.search(r"(\d+) requests in", out).group(1))

        res = {b: {"cpu": [], "rps": []} for b in a.bins}
        for r in range(a.runs):
            for b in a.bins:
                p, port = start(b)
                wrk(port, 1)
                c0 = cpu_ticks(p.pid)
                n = wrk(port, a.seconds)
                c1 = cpu_ticks(p.pid)
                res[b]["cpu"].append((c1 - c0) / os.sysconf("SC_CLK_TCK") / n * 1e6)
                res[b]["rps"].append(n / a.seconds)
                if r == a.runs - 1:
                    data = os.path.join(tmp, "perf-%d.data" % a.bins.index(b))
                    load = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c4",
                                             "-d%ds" % (a.seconds + 2), "http://127.0.0.1:%d%s" % (port, PL)],
                                            stdout=subprocess.DEVNULL)
                    time.sleep(1)
                    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2999", "-p",
                                    str(p.pid), "-o", data, "--", "sleep", str(a.seconds)],
                                   capture_output=True)
                    load.wait()
                    res[b]["prof"] = profile(data)
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
                procs.remove(p)
        names = [os.path.relpath(b) for b in a.bins]
        print("| per cold 1,800-segment request (c=4) | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        print("| CPU time, µs (median of %d × %d s) | " % (a.runs, a.seconds) + " | ".join(
            "%.0f" % statistics.median(res[b]["cpu"]) for b in a.bins) + " |")
        print("| req/s (median) | " + " | ".join("%.0f" % statistics.median(res[b]["rps"]) for b in a.bins) + " |")
        for c in CATS:
            print("| %s | " % c + " | ".join("%.0f" % (res[b]["prof"].get(c, 0) * statistics.median(res[b]["cpu"]))
                                              for b in a.bins) + " |")
        print(json.dumps({b: {"cpu_us": res[b]["cpu"], "rps": res[b]["rps"]} for b in a.bins}),
              file=sys.stderr)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
