"""Shared pieces of the integration tests: a real nginx origin on loopback, the real hlsgate
binary, a raw HTTP client, and a tiny test runner whose last line is 'N passed, M failed'.

Everything started here listens on 127.0.0.1 and is stopped by the test that started it."""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

ACCESS_KEY = "AKIDHLSGATETEST00001"
SECRET_KEY = "hlsgate/test/secret/key+with/special=chars"


# Temporary files and folders made here; whatever a test did not clean up (it failed, or never
# stopped what it started) is removed when the interpreter exits, so a run leaves /tmp as it was.
_TEMP_PATHS = set()


def _remove_temp(path):
    _TEMP_PATHS.discard(path)
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@atexit.register
def _remove_all_temp():
    for path in list(_TEMP_PATHS):
        _remove_temp(path)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited early with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("port %d did not open" % port)


class Nginx:
    """nginx serving `root` (a directory tree: root/BUCKET/KEY...) on 127.0.0.1."""

    def __init__(self, root, extra_locations="", gzip=False):
        self.dir = tempfile.mkdtemp(prefix="hg-nginx-")
        _TEMP_PATHS.add(self.dir)
        self._access = None  # the access log, kept once stop() removed the folder
        self.port = free_port()
        self.root = root
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""
{user}
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/mp4 mp4 m4s; }}
  default_type application/octet-stream;
  log_format hg '$connection $request_method $request_uri $status';
  access_log {self.dir}/access.log hg;
  client_body_temp_path {self.dir}/body; proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fcgi; uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;
  keepalive_requests 10000;
  {"gzip on; gzip_min_length 1; gzip_types application/vnd.apple.mpegurl;" if gzip else ""}
  server {{
    listen 127.0.0.1:{self.port};
    root {root};
    {extra_locations}
  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-c", os.path.join(self.dir, "nginx.conf"), "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port, proc=self.proc)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def access_lines(self):
        if self._access is not None:
            return self._access
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._access is None:
            self._access = self.access_lines()
        _remove_temp(self.dir)


class Gateway:
    """The real hlsgate binary with the given settings; its log is kept for assertions."""

    def __init__(self, binary, endpoint, bucket="media", prefix="", workers=1, args=(), **env):
        self.port = free_port()
        fd, self.logpath = tempfile.mkstemp(prefix="hg-log-")
        os.close(fd)
        _TEMP_PATHS.add(self.logpath)
        self._logtext = None  # the log as it was at stop()
        e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
        e.update({
            "LISTEN": "127.0.0.1:%d" % self.port,
            "S3_ENDPOINT": endpoint,
            "S3_BUCKET": bucket,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "WORKERS": str(workers),
            "LOG_LEVEL": "debug",
        })
        if prefix:
            e["S3_KEY_PREFIX"] = prefix
        for k, v in env.items():
            e[k] = str(v)
        self.env = e
        self.log = open(self.logpath, "w+")
        self.proc = subprocess.Popen([binary] + list(args), env=e, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, proc=self.proc)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def logtext(self):
        if self._logtext is not None:
            return self._logtext
        with open(self.logpath) as f:
            return f.read()

    def wait_log(self, text, timeout=5.0):
        """True once `text` (a substring or a compiled regex) shows up in the log. Access-log
        lines are written once per loop turn, so they can trail the response by a moment."""
        deadline = time.time() + timeout
        while True:
            log = self.logtext()
            if (text.search(log) if hasattr(text, "search") else text in log):
                return True
            if time.time() > deadline:
                return False
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop with a real signal; returns the exit status (sanitizer reports make it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("hlsgate did not stop within %ss" % timeout)
        self.log.close()
        if self._logtext is None:
            self._logtext = self.logtext()  # the file goes at exit (a test may remove it sooner)
        if self.proc.returncode != 0:
            sys.stdout.write("--- hlsgate exited %s; log tail:\n%s\n" % (self.proc.returncode, self.logtext()[-4000:]))
        return self.proc.returncode


def raw_request(port, data, timeout=5.0, read_all=True, chunks=None, delay=0.0):
    """Send bytes (optionally in pieces with a delay) and read until the server closes or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        for piece in (chunks or [data]):
            s.sendall(piece)
            if delay:
                time.sleep(delay)
        out = b""
        s.settimeout(timeout)
        while read_all:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def parse_responses(data):
    """Split a byte stream into (status, headers, body) tuples; understands Content-Length and
    chunked bodies. A truncated last response is returned with body=None."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            complete = False
            while True:
                size_line, sep2, rest = rest.partition(b"\r\n")
                if not sep2:
                    break
                size = int(size_line, 16)
                if size == 0:
                    rest = rest[2:]
                    complete = True
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            out.append((status, headers, body if complete else None))
            data = rest
        else:
            n = int(headers.get("content-length", "0"))
            out.append((status, headers, rest[:n]))
            data = rest[n:]
    return out


def http(port, method, path, headers=None, timeout=10.0):
    """One request on a fresh connection with Connection: close; returns (status, headers, body)."""
    h = {"Host": "127.0.0.1:%d" % port, "Connection": "close"}
    h.update(headers or {})
    req = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    data = raw_request(port, req.encode(), timeout)
    if method == "HEAD":
        head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        hd = {l.partition(":")[0].strip().lower(): l.partition(":")[2].strip() for l in head[1:]}
        return int(head[0].split(" ")[1]), hd, data[len(data.split(b"\r\n\r\n")[0]) + 4:]
    try:
        rs = parse_responses(data)
    except ValueError:
        raise AssertionError("unparseable response to %s %s: %r" % (method, path, data[:600]))
    if not rs:
        raise AssertionError("no response: %r" % data[:200])
    return rs[0]


def uris_in(text):
    """Every URI a playlist carries: URI lines and URI="..." attributes."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out += re.findall(r'URI="([^"]+)"', line)
        elif line.strip():
            out.append(line.strip())
    return out


class ScriptedOrigin:
    """A raw-socket origin on loopback whose answer to each request is a Python function
    behave(origin, conn, request_bytes). `closed_early` is set when the gateway hung up first."""

    def __init__(self, behave):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.behave = behave
        self.closed_early = threading.Event()
        self.count = 0
        threading.Thread(target=self.loop, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            self.behave(self, c, buf)
        except OSError:
            self.closed_early.set()
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def dripping(body, piece, pause):
    """A ScriptedOrigin behaviour: a 200 with Content-Length, then the body `piece` bytes at a
    time with `pause` seconds between pieces (a slow origin)."""
    def behave(o, c, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), piece):
            c.sendall(body[i:i + piece])
            time.sleep(pause)
    return behave


class Runner:
    """Runs test functions in order, printing one line each and a final 'N passed, M failed'."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def run(self, fn, *args):
        t0 = time.time()
        try:
            fn(*args)
            self.passed += 1
            print("ok   %-48s %.2fs" % (fn.__name__, time.time() - t0), flush=True)
        except Exception:
            self.failed += 1
            print("FAIL %s\n%s" % (fn.__name__, traceback.format_exc()), flush=True)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def run_tests(name, namespace, cleanup=None, last=None):
    """Run every test_* function of a module in definition order, then `last`, then `cleanup`
    (always), and exit with the summary line. HG_TESTS=a,b runs only the tests whose names
    contain one of those words (for working on one test; ctest never sets it)."""
    r = Runner(name)
    only = [w for w in os.environ.get("HG_TESTS", "").split(",") if w]
    try:
        for key, fn in list(namespace.items()):
            if key.startswith("test_") and callable(fn) and (not only or any(w in key for w in only)):
                r.run(fn)
        if last:
            r.run(last)
    finally:
        if cleanup:
            cleanup()
    r.finish()


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: got %r, want %r" % (what, a, b))


def ok(cond, what):
    if not cond:
        raise AssertionError(what)
