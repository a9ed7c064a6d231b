"""Local stand-ins for production storage, for the storage tests: a CA and certificates made with
openssl, nginx with TLS, a fake AWS credential service (container endpoint, IMDSv2 and STS
AssumeRoleWithWebIdentity on one port) and a small S3 origin that checks SigV4 query signatures,
session tokens and their expiry against what the fake handed out.

Everything listens on 127.0.0.1 and is stopped by whoever started it."""
import calendar
import http.server
import json
import os
import secrets
import signal
import socketserver
import subprocess
import tempfile
import threading
import time
import urllib.parse

import sigcheck
from harness import free_port, wait_port


def openssl(*args, cwd=None):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=cwd)


def make_ca(d, name):
    """A self-signed CA in d: returns (cert path, key path)."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", crt, "-days", "2", "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_server_cert(d, ca_crt, ca_key, name="origin"):
    """A certificate for 127.0.0.1/localhost signed by the CA: returns (cert path, key path)."""
    key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
            "-extfile", ext, cwd=d)
    return crt, key


class TlsNginx:
    """nginx serving `root` over plain HTTP (port) and TLS (tls_port). Its access log records the
    connection number and whether the TLS session was resumed ("r")."""

    def __init__(self, root, cert, key, keepalive_requests=10000):
        self.dir = tempfile.mkdtemp(prefix="hg-tlsnginx-")
        self.port, self.tls_port = free_port(), free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""
{user}
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  default_type application/octet-stream;
  log_format hg '$connection $ssl_session_reused $ssl_protocol $request_uri $status';
  access_log {self.dir}/access.log hg;
  client_body_temp_path {self.dir}/body; proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fcgi; uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;
  keepalive_requests {keepalive_requests};
  ssl_session_cache shared:hgssl:1m;
  ssl_session_tickets on;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {{
    listen 127.0.0.1:{self.port};
    listen 127.0.0.1:{self.tls_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {root};
  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-c", os.path.join(self.dir, "nginx.conf"), "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port, proc=self.proc)
        wait_port(self.tls_port, proc=self.proc)

    @property
    def https(self):
        return "https://127.0.0.1:%d" % self.tls_port

    @property
    def http(self):
        return "http://127.0.0.1:%d" % self.port

    def access_lines(self):
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
        subprocess.run(["rm", "-rf", self.dir])


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class FakeAws:
    """The container credentials endpoint (GET /creds), IMDSv2 (/latest/...) and STS
    AssumeRoleWithWebIdentity (POST /) on one port. Every answer hands out a new key set that
    lives `lifetime` seconds. mode: "ok", "500" (the service fails) or "malformed"."""

    ROLE = "hlsgate-role"

    def __init__(self, lifetime=3600, port=None, auth=None, role_arn=None):
        self.lifetime = lifetime
        self.auth = auth  # expected Authorization value for /creds (None: not checked)
        self.role_arn = role_arn
        self.mode = "ok"
        self.issued = {}  # access key -> (secret, token, expiration)
        self.log = []  # (method, path, headers dict, body)
        self.imds_tokens = set()
        self.web_tokens = []
        self.lock = threading.Lock()
        self.port = port or free_port()
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body, ctype="text/plain"):
                b = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def handle_any(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                with fake.lock:
                    fake.log.append((method, self.path, dict(self.headers), body))
                if fake.mode == "500":
                    return self.reply(500, "internal failure")
                p = self.path
                if method == "PUT" and p == "/latest/api/token":
                    if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                        return self.reply(400, "missing ttl")
                    tok = "imds-" + secrets.token_hex(16)
                    fake.imds_tokens.add(tok)
                    return self.reply(200, tok)
                if p.startswith("/latest/meta-data/iam/security-credentials/"):
                    if self.headers.get("X-aws-ec2-metadata-token") not in fake.imds_tokens:
                        return self.reply(401, "")
                    rest = p[len("/latest/meta-data/iam/security-credentials/"):]
                    if rest == "":
                        return self.reply(200, fake.ROLE + "\n")
                    if rest != fake.ROLE:
                        return self.reply(404, "no such role")
                    return self.reply(200, fake.json(code=True), "application/json")
                if method == "GET" and p == "/creds":
                    if fake.auth is not None and self.headers.get("Authorization") != fake.auth:
                        return self.reply(403, '{"message":"bad token"}', "application/json")
                    return self.reply(200, fake.json(), "application/json")
                if method == "POST" and p == "/":
                    f = dict(urllib.parse.parse_qsl(body))
                    if f.get("Action") != "AssumeRoleWithWebIdentity" or f.get("Version") != "2011-06-15":
                        return self.reply(400, "<ErrorResponse><Error><Code>InvalidAction</Code><Message>x</Message></Error></ErrorResponse>")
                    if fake.role_arn and f.get("RoleArn") != fake.role_arn or not f.get("RoleSessionName"):
                        return self.reply(403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>wrong role</Message></Error></ErrorResponse>")
                    with fake.lock:
                        fake.web_tokens.append(f.get("WebIdentityToken"))
                    return self.reply(200, fake.xml(), "text/xml")
                return self.reply(404, "not found")

            def do_GET(self):
                self.handle_any("GET")

            def do_PUT(self):
                self.handle_any("PUT")

            def do_POST(self):
                self.handle_any("POST")

        self.handler = H
        self.server = None

    def start(self):
        self.server = _Server(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def issue(self):
        with self.lock:
            ak = "ASIAFAKE%08d" % (len(self.issued) + 1)
            sk = secrets.token_urlsafe(30).replace("-", "/")
            tok = "FwoG" + secrets.token_urlsafe(120)
            exp = int(time.time()) + self.lifetime
            self.issued[ak] = (sk, tok, exp)
            return ak, sk, tok, exp

    def json(self, code=False):
        ak, sk, tok, exp = self.issue()
        if self.mode == "malformed":
            return '{"AccessKeyId": "%s", "SecretAccessKey": ' % ak
        d = {"AccessKeyId": ak, "SecretAccessKey": sk, "Token": tok, "Expiration": iso(exp)}
        if code:
            d = dict({"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC"}, **d)
        return json.dumps(d)

    def xml(self):
        ak, sk, tok, exp = self.issue()
        if self.mode == "malformed":
            return "<AssumeRoleWithWebIdentityResponse><Credentials><AccessKeyId>%s</AccessKeyId>" % ak
        return ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                "<AssumeRoleWithWebIdentityResult><Credentials><SessionToken>%s</SessionToken>"
                "<SecretAccessKey>%s</SecretAccessKey><Expiration>%s</Expiration><AccessKeyId>%s</AccessKeyId>"
                "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
                % (tok, sk, iso(exp), ak))


class CheckingS3:
    """Serves root/BUCKET/KEY (path style) only to presigned GETs that a real S3 would accept:
    valid SigV4 signature for a key set `fake` issued, its session token, credentials not
    expired, URL not expired. Anything else: 403 with the reason (counted in `refused`)."""

    def __init__(self, root, fake):
        self.root, self.fake = root, fake
        self.refused = []
        self.anonymous = 0  # unsigned requests (the gateway's startup clock probe): 403 as S3 does
        self.served = 0
        self.port = free_port()
        s3 = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body):
                b = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_GET(self):
                url = "http://127.0.0.1:%d%s" % (s3.port, self.path)
                if "X-Amz-Credential" not in url:
                    s3.anonymous += 1
                    return self.reply(403, "<Error><Code>AccessDenied</Code></Error>")
                why = s3.check(url)
                if why:
                    s3.refused.append(why)
                    return self.reply(403, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>" % why)
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                fp = os.path.normpath(os.path.join(s3.root, path.lstrip("/")))
                if not fp.startswith(s3.root) or not os.path.isfile(fp):
                    return self.reply(404, "<Error><Code>NoSuchKey</Code></Error>")
                with open(fp, "rb") as f:
                    s3.served += 1
                    self.reply(200, f.read())

        self.server = _Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check(self, url):
        """None when S3 would accept the presigned URL, else the reason."""
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        ak = q.get("X-Amz-Credential", "").split("/")[0]
        if ak not in self.fake.issued:
            return "InvalidAccessKeyId %s" % ak
        sk, tok, exp = self.fake.issued[ak]
        if q.get("X-Amz-Security-Token") != tok:
            return "InvalidToken"
        now = time.time()
        if now >= exp:
            return "ExpiredToken"
        t = calendar.timegm(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        if now > t + int(q["X-Amz-Expires"]):
            return "Request has expired"
        if t > now + 900:
            return "Request is not yet valid"
        good, _ = sigcheck.verify(url, sk)
        return None if good else "SignatureDoesNotMatch"

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
