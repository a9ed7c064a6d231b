#!/usr/bin/env python3
"""Production storage: HTTPS origins (private CA, verification failures, TLS session reuse),
credentials from the platform (container endpoint, IMDSv2, STS web identity: rotation, expiry,
an endpoint down at start, malformed answers), URLs capped at the credentials' lifetime, and
clock skew corrected from the origin's Date header (libfaketime).

usage: test_storage.py PATH/TO/hlsgate tls|creds|clock|manifests      (exit 77: skipped)"""
import calendar
import concurrent.futures
import glob
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, free_port, http, ok, run_tests, uris_in  # noqa: E402
from storagelib import CheckingS3, FakeAws, TlsNginx, make_ca, make_server_cert  # noqa: E402
import sigcheck  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
GROUP = sys.argv[2] if len(sys.argv) > 2 else "tls"
BUCKET = "media"
VOD = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n"

TMP = tempfile.mkdtemp(prefix="hg-storage-")
ROOT = os.path.join(TMP, "origin")
for k in ["vod/index.m3u8"] + ["cold/p%03d.m3u8" % i for i in range(60)]:
    p = os.path.join(ROOT, BUCKET, k)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(VOD)
HOME = os.path.join(TMP, "home")  # no ~/.aws of the machine's user may leak into a test
os.makedirs(HOME)
STARTED = []


def stop_all():
    for s in reversed(STARTED):
        try:
            s.stop()
        except Exception:
            pass
        # the harness leaves a Gateway's log file and an Nginx's directory behind
        if hasattr(s, "logpath") and os.path.exists(s.logpath):
            os.unlink(s.logpath)
        if type(s).__name__ == "Nginx":
            shutil.rmtree(s.dir, ignore_errors=True)
    STARTED.clear()


def started(x):
    STARTED.append(x)
    return x


def query(u):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(u).query))


def media_urls(body):
    return [u for u in uris_in(body.decode()) if "X-Amz-Signature" in u]


def metric(gw, name):
    st, _, body = http(gw.port, "GET", "/metrics")
    m = re.search(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), body.decode(), re.M)
    return (m.group(1), float(m.group(2))) if m else (None, None)


def platform_env(**kw):
    """Settings that switch the explicit keys off, so the chain reaches the platform sources."""
    e = {"S3_ACCESS_KEY_ID": "", "S3_SECRET_ACCESS_KEY": "", "HOME": HOME, "PLAYLIST_CACHE_BYTES": "0"}
    e.update(kw)
    return e


def wait_until(fn, timeout, what, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


# ---- HTTPS origins ---------------------------------------------------------------------------

if GROUP == "tls":
    CERTS = os.path.join(TMP, "certs")
    os.makedirs(CERTS)
    CA, CA_KEY = make_ca(CERTS, "hlsgate-test-ca")
    WRONG_CA, _ = make_ca(CERTS, "some-other-ca")
    SRV, SRV_KEY = make_server_cert(CERTS, CA, CA_KEY)
    NGX = started(TlsNginx(ROOT, SRV, SRV_KEY))


def tls_gateway(**env):
    return started(Gateway(BIN, NGX.https, BUCKET, **env))


def test_https_with_private_ca():
    gw = tls_gateway(S3_CA_FILE=CA)
    st, h, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s: %s" % (st, body[:200]))
    urls = media_urls(body)
    ok(len(urls) == 2 and all(u.startswith(NGX.https + "/media/vod/seg") for u in urls), urls)
    ok(all(sigcheck.verify(u, "hlsgate/test/secret/key+with/special=chars")[0] for u in urls), "signatures")
    ok(any(" TLSv1." in l and "/media/vod/index.m3u8" in l for l in NGX.access_lines()), "origin saw a TLS request")
    ok(gw.stop() == 0, "hlsgate exited cleanly")


def test_aws_ca_bundle_fallback():
    gw = tls_gateway(AWS_CA_BUNDLE=CA)
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s" % st)
    ok(gw.stop() == 0, "hlsgate exited cleanly")


def expect_tls_502(gw, what):
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 502, "%s: status %s" % (what, st))
    ok(gw.wait_log("TLS verification failed"), "%s: log names TLS verification:\n%s" % (what, gw.logtext()[-1500:]))
    ok(gw.stop() == 0, "hlsgate exited cleanly")


def test_missing_ca_is_502_naming_tls():
    expect_tls_502(tls_gateway(), "no CA")


def test_wrong_ca_is_502_naming_tls():
    expect_tls_502(tls_gateway(S3_CA_FILE=WRONG_CA), "wrong CA")


def test_unreadable_ca_file_is_502_naming_tls():
    expect_tls_502(tls_gateway(S3_CA_FILE=os.path.join(CERTS, "missing.pem")), "missing CA file")


def test_unsafe_disable_is_loud():
    gw = tls_gateway(S3_TLS_VERIFY_UNSAFE_DISABLE="true")
    ok(gw.wait_log("UNSAFE: TLS certificate verification of the origin is DISABLED"), "startup warning")
    ok(gw.logtext().count("UNSAFE:") == 1, "warned once, not once per worker")
    st, _, _ = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s" % st)
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    # any other spelling is refused rather than read as "off"
    gw_env = dict(os.environ, S3_BUCKET="b", S3_ACCESS_KEY_ID="a", S3_SECRET_ACCESS_KEY="s",
                  S3_TLS_VERIFY_UNSAFE_DISABLE="maybe", LISTEN="127.0.0.1:%d" % free_port())
    import subprocess
    r = subprocess.run([BIN], env=gw_env, capture_output=True, text=True, timeout=10)
    ok(r.returncode == 2 and "S3_TLS_VERIFY_UNSAFE_DISABLE" in r.stderr, r.stderr)


def test_tls_sessions_are_resumed():
    """Every request on a new connection (nginx closes after one request): the handshakes after
    the first must resume the TLS session shared through the origin's CURLSH."""
    ngx = started(TlsNginx(ROOT, SRV, SRV_KEY, keepalive_requests=1))
    gw = started(Gateway(BIN, ngx.https, BUCKET, S3_CA_FILE=CA, PLAYLIST_CACHE_BYTES="0", WORKERS="1"))
    for i in range(8):
        st, _, _ = http(gw.port, "GET", "/hls/cold/p%03d.m3u8" % i)
        ok(st == 200, "status %s" % st)
    lines = [l.split() for l in ngx.access_lines() if "/media/cold/" in l]
    ok(len(lines) == 8, lines)
    conns = {l[0] for l in lines}
    ok(len(conns) == 8, "one connection per request: %s" % lines)
    # The startup clock probe made the first full handshake (on the main thread); the share is
    # process-wide, so even the worker's first connection resumes that session.
    reused = sum(1 for l in lines if l[1] == "r")
    ok(reused == 8, "resumed sessions: %d of 8\n%s" % (reused, "\n".join(map(" ".join, lines))))
    tls = [l.split() for l in ngx.access_lines()]
    ok(len(tls) == 9 and [l[1] for l in tls].count(".") == 1 and tls[0][1] == "." and tls[0][3] == "/media/",
       "one full handshake in all (the startup probe), then every request resumed it: %s" % tls)
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    ngx.stop()


def test_connections_are_kept_alive():
    gw = tls_gateway(S3_CA_FILE=CA, PLAYLIST_CACHE_BYTES="0", WORKERS="1")
    before = len(NGX.access_lines())
    for i in range(10):
        st, _, _ = http(gw.port, "GET", "/hls/cold/p%03d.m3u8" % (10 + i))
        ok(st == 200, "status %s" % st)
    lines = [l.split() for l in NGX.access_lines()[before:] if "/media/cold/" in l]
    ok(len(lines) == 10 and len({l[0] for l in lines}) == 1, "one kept-alive TLS connection: %s" % lines)
    ok(gw.stop() == 0, "hlsgate exited cleanly")


# ---- credentials from the platform -------------------------------------------------------------

def creds_setup(lifetime=3600, auth=None, role_arn=None, port=None, start=True):
    fake = FakeAws(lifetime=lifetime, auth=auth, role_arn=role_arn, port=port)
    if start:
        started(fake.start())
    else:
        STARTED.append(fake)
    s3 = started(CheckingS3(ROOT, fake))
    return fake, s3


def check_urls(fake, body, s3):
    """Every media URL: signed by a key set the fake issued, with its token, accepted by the
    checking S3, and never valid past the credentials' expiry."""
    urls = media_urls(body)
    ok(urls, "no presigned URLs in %r" % body[:200])
    aks = set()
    for u in urls:
        q = query(u)
        ak = q["X-Amz-Credential"].split("/")[0]
        ok(ak in fake.issued, "unknown key " + ak)
        sk, tok, exp = fake.issued[ak]
        ok(q.get("X-Amz-Security-Token") == tok, "session token of " + ak)
        why = s3.check(u)
        ok(why is None, "S3 refuses %s: %s" % (u[:80], why))
        t = calendar.timegm(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        ok(t + int(q["X-Amz-Expires"]) <= exp, "URL outlives its credentials: %s + %s > %s" % (t, q["X-Amz-Expires"], exp))
        aks.add(ak)
    return aks


def test_container_endpoint():
    d = tempfile.mkdtemp(dir=TMP)
    tokfile = os.path.join(d, "token")
    with open(tokfile, "w") as f:
        f.write("pod-identity-token-1\n")
    fake, s3 = creds_setup(auth="pod-identity-token-1")
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds", AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tokfile)))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s %s\n%s" % (st, body[:200], gw.logtext()[-2000:]))
    check_urls(fake, body, s3)
    ok(s3.served >= 1 and not s3.refused, "origin fetch accepted by the checking S3: %s" % s3.refused)
    labels, v = metric(gw, "hlsgate_credentials_info")
    ok(labels == '{source="container"}' and v == 1, "source metric %s" % labels)
    _, left = metric(gw, "hlsgate_credentials_expiry_seconds")
    ok(3500 < left <= 3600, "seconds to expiry %s" % left)
    # the token file is re-read: a wrong token is refused by the endpoint, and the gateway
    # keeps the good credentials it has (they have not expired)
    log = gw.logtext()
    ok("pod-identity-token-1" not in log, "authorization token logged")
    ok(not any(sk in log or tok in log for sk, tok, _ in fake.issued.values()), "secret or session token logged")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_container_relative_uri_needs_platform_host():
    import subprocess
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_")))
    env.update(S3_BUCKET="b", HOME=HOME, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://10.9.9.9/creds",
               LISTEN="127.0.0.1:%d" % free_port())
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=10)
    ok(r.returncode == 2 and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in r.stderr, r.stderr)
    env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=10)
    ok(r.returncode == 2 and "no credentials" in r.stderr, r.stderr)


def test_imds_v2():
    fake, s3 = creds_setup()
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url)))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s\n%s" % (st, gw.logtext()[-2000:]))
    check_urls(fake, body, s3)
    paths = [(m, p) for m, p, h, b in fake.log]
    ok(paths[:3] == [("PUT", "/latest/api/token"), ("GET", "/latest/meta-data/iam/security-credentials/"),
                     ("GET", "/latest/meta-data/iam/security-credentials/hlsgate-role")], paths)
    ok(all(h.get("X-aws-ec2-metadata-token") in fake.imds_tokens for m, p, h, b in fake.log[1:3]), "token header")
    labels, _ = metric(gw, "hlsgate_credentials_info")
    ok(labels == '{source="imds"}', labels)
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_web_identity_sts_rereads_token():
    d = tempfile.mkdtemp(dir=TMP)
    tokfile = os.path.join(d, "token")
    with open(tokfile, "w") as f:
        f.write("eyJ.jwt-one.sig")
    arn = "arn:aws:iam::123456789012:role/hlsgate"
    fake, s3 = creds_setup(lifetime=20, role_arn=arn)
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(
        AWS_WEB_IDENTITY_TOKEN_FILE=tokfile, AWS_ROLE_ARN=arn, AWS_ROLE_SESSION_NAME="hg-test",
        AWS_ENDPOINT_URL_STS=fake.url, CREDENTIALS_REFRESH_AHEAD_SECONDS="10")))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s\n%s" % (st, gw.logtext()[-2000:]))
    check_urls(fake, body, s3)
    ok(fake.web_tokens == ["eyJ.jwt-one.sig"], fake.web_tokens)
    form = urllib.parse.parse_qs(fake.log[0][3])
    ok(form["RoleSessionName"] == ["hg-test"] and form["RoleArn"] == [arn], form)
    # Kubernetes rotates the projected token: the next refresh (at half of 20 s) sends the new one
    with open(tokfile, "w") as f:
        f.write("eyJ.jwt-two.sig")
    wait_until(lambda: "eyJ.jwt-two.sig" in fake.web_tokens, 15, "a refresh with the rotated token")
    wait_until(lambda: metric(gw, "hlsgate_credentials_generation")[1] >= 2, 5, "generation 2")
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200 and "ASIAFAKE00000002" in body.decode(), "signed with the new credentials")
    check_urls(fake, body, s3)
    ok("jwt-one" not in gw.logtext() and "jwt-two" not in gw.logtext(), "token logged")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_rotation_under_load():
    """Credentials live 12 s and are refreshed at half-life while clients fetch playlists
    (every request goes to the checking S3): no request may fail, several key sets are used."""
    fake, s3 = creds_setup(lifetime=12)
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, workers=2, **platform_env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds", CREDENTIALS_REFRESH_AHEAD_SECONDS="10",
        SIGN_WINDOW_SECONDS="0")))
    stop_at = time.time() + 16
    statuses, keys, errors = {}, set(), []

    def client():
        while time.time() < stop_at:
            try:
                st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
                statuses[st] = statuses.get(st, 0) + 1
                if st == 200:
                    keys.update(check_urls(fake, body, s3))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            time.sleep(0.01)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda _: client(), range(4)))
    ok(not errors, errors[:3])
    ok(set(statuses) == {200} and statuses[200] > 50, "statuses %s" % statuses)
    ok(len(keys) >= 3, "key sets used: %s" % sorted(keys))
    ok(not s3.refused, "S3 refused origin requests: %s" % s3.refused[:3])
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_rotation_with_cache():
    """The same with the playlist cache on (the default): a cached playlist must never carry
    URLs of a session that is about to die. Each rotation empties the cache."""
    fake, s3 = creds_setup(lifetime=12)
    env = platform_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds", CREDENTIALS_REFRESH_AHEAD_SECONDS="10")
    env.pop("PLAYLIST_CACHE_BYTES")
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, workers=2, **env))
    stop_at = time.time() + 16
    seen, statuses = set(), {}
    while time.time() < stop_at:
        st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
        statuses[st] = statuses.get(st, 0) + 1
        if st == 200:
            seen.update(check_urls(fake, body, s3))
            # never less than half the refresh-ahead margin (5 s here) left on what we hand out
            for u in media_urls(body):
                exp = fake.issued[query(u)["X-Amz-Credential"].split("/")[0]][2]
                ok(exp - time.time() > 2, "served URLs of a session about to expire (%.1f s left)" % (exp - time.time()))
        time.sleep(0.05)
    ok(set(statuses) == {200}, statuses)
    ok(len(seen) >= 3, "rotations seen: %s" % sorted(seen))
    ok(not s3.refused, s3.refused[:3])
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_endpoint_down_at_start_then_up():
    port = free_port()
    fake, s3 = creds_setup(port=port, start=False)
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:%d/creds" % port)))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 503, "status %s" % st)
    ok(gw.wait_log(re.compile(r"status=503 .*credentials not yet available: provider=container error=http://127.0.0.1:%d/creds" % port)),
       gw.logtext()[-1500:])
    _, valid = metric(gw, "hlsgate_credentials_valid")
    ok(valid == 0, "valid metric %s" % valid)
    ok(http(gw.port, "GET", "/readyz")[0] == 503, "not ready without credentials")
    ok(http(gw.port, "GET", "/healthz")[0] == 200, "but alive")
    fake.start()
    wait_until(lambda: http(gw.port, "GET", "/hls/vod/index.m3u8")[0] == 200, 20, "recovery once the endpoint is up")
    ok(http(gw.port, "GET", "/readyz")[0] == 200, "ready once credentials arrived")
    _, valid = metric(gw, "hlsgate_credentials_valid")
    ok(valid == 1, "valid metric %s" % valid)
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_refresh_failure_keeps_then_expires():
    fake, s3 = creds_setup(lifetime=10)
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds", CREDENTIALS_REFRESH_AHEAD_SECONDS="10")))
    st, _, _ = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s" % st)
    ak, (sk, tok, exp) = next(iter(fake.issued.items()))
    fake.mode = "500"
    ok(gw.wait_log("keeping the current credentials", timeout=10), "refresh failure logged:\n" + gw.logtext()[-1500:])
    if time.time() < exp - 1:
        st, _, _ = http(gw.port, "GET", "/hls/vod/index.m3u8")
        ok(st == 200, "still served with the last good credentials: %s" % st)
    time.sleep(max(0, exp - time.time()) + 1.2)
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 503, "after expiry: %s" % st)
    ok(gw.wait_log(re.compile(r"status=503 .*credentials expired: provider=container error=.*answered 500")), gw.logtext()[-1500:])
    ok(gw.wait_log("credentials EXPIRED"), "refresher says expired")
    _, left = metric(gw, "hlsgate_credentials_expiry_seconds")
    ok(left < 0, "expiry gauge %s" % left)
    fake.mode = "ok"
    wait_until(lambda: http(gw.port, "GET", "/hls/vod/index.m3u8")[0] == 200, 70, "recovery")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


def test_malformed_answers():
    for src in ("container", "sts"):
        d = tempfile.mkdtemp(dir=TMP)
        tokfile = os.path.join(d, "token")
        with open(tokfile, "w") as f:
            f.write("jwt")
        fake, s3 = creds_setup()
        fake.mode = "malformed"
        env = (dict(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds") if src == "container" else
               dict(AWS_WEB_IDENTITY_TOKEN_FILE=tokfile, AWS_ROLE_ARN="arn:aws:iam::1:role/r", AWS_ENDPOINT_URL_STS=fake.url))
        gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(**env)))
        st, _, _ = http(gw.port, "GET", "/hls/vod/index.m3u8")
        ok(st == 503, "%s: status %s" % (src, st))
        want = "malformed JSON" if src == "container" else "STS answer lacks"
        ok(gw.wait_log(want), "%s: log names the problem:\n%s" % (src, gw.logtext()[-1500:]))
        fake.mode = "ok"
        wait_until(lambda: http(gw.port, "GET", "/hls/vod/index.m3u8")[0] == 200, 20, "recovery")
        log = gw.logtext()
        ok(not any(sk in log or tok in log for sk, tok, _ in fake.issued.values()), "no secret or token in the log")
        ok(gw.stop() == 0, "hlsgate exited cleanly")
        stop_all()


def test_urls_capped_at_credentials_lifetime():
    fake, s3 = creds_setup(lifetime=900)
    gw = started(Gateway(BIN, s3.endpoint, BUCKET, **platform_env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds", PRESIGN_EXPIRES_SECONDS="7200", SIGN_WINDOW_SECONDS="0")))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s" % st)
    check_urls(fake, body, s3)
    exps = {int(query(u)["X-Amz-Expires"]) for u in media_urls(body)}
    ok(all(880 <= e <= 900 for e in exps), "capped X-Amz-Expires %s" % exps)
    st, h, _ = http(gw.port, "GET", "/hls-seg/vod/seg0.ts")
    ok(st == 302 and int(query(h["location"])["X-Amz-Expires"]) <= 900, "segment redirect capped: %s" % h.get("location"))
    _, n = metric(gw, "hlsgate_presign_capped_total")
    ok(n >= 1, "capped counter %s" % n)
    _, short = metric(gw, "hlsgate_presign_shortfall_seconds")
    ok(6200 <= short <= 6400, "shortfall %s" % short)
    ok(gw.wait_log("expire sooner than PRESIGN_EXPIRES_SECONDS"), "shortfall logged")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    stop_all()


# ---- clock skew ------------------------------------------------------------------------------------

def faketime_lib():
    for p in glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1"):
        return p
    return None


def clock_gateway(ngx, correct, offset="-600"):
    env = {"LD_PRELOAD": faketime_lib(), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_NO_CACHE": "1", "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0",
           "SIGN_WINDOW_SECONDS": "0", "CLOCK_SKEW_CORRECT": "true" if correct else "false",
           "CLOCK_SKEW_WARN_SECONDS": "60", "PLAYLIST_CACHE_BYTES": "0"}
    return started(Gateway(BIN, ngx.endpoint, BUCKET, **env))


def amz_dates(body):
    return [calendar.timegm(time.strptime(query(u)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) for u in media_urls(body)]


def test_skewed_clock_is_corrected():
    from harness import Nginx
    ngx = started(Nginx(ROOT))
    # control: without correction the faked clock shows in X-Amz-Date (proves the fake works)
    gw = clock_gateway(ngx, correct=False)
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    ok(st == 200, "status %s" % st)
    d = amz_dates(body)
    ok(d and all(abs(t - (time.time() - 600)) < 30 for t in d), "uncorrected dates follow the fake clock: %s vs %s" % (d, time.time()))
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    # with correction (the default), even the first playlist is signed with the origin's clock
    gw = clock_gateway(ngx, correct=True)
    for i in range(2):
        st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
        ok(st == 200, "status %s" % st)
        d = amz_dates(body)
        ok(d and all(abs(t - time.time()) < 5 for t in d), "request %d: X-Amz-Date %s is not the origin's clock %s" % (i, d, time.time()))
        st, h, _ = http(gw.port, "GET", "/hls-seg/vod/seg0.ts")
        t = calendar.timegm(time.strptime(query(h["location"])["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        ok(abs(t - time.time()) < 5, "segment redirect date")
    _, off = metric(gw, "hlsgate_origin_clock_offset_seconds")
    ok(595 <= off <= 605, "offset metric %s" % off)
    _, warn = metric(gw, "hlsgate_origin_clock_skew_warning")
    ok(warn == 1, "warning gauge %s" % warn)
    ok(gw.wait_log("clock skew: the origin's clock differs from ours"), "warning logged")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    # an accurate clock: no warning, no correction
    gw = started(Gateway(BIN, ngx.endpoint, BUCKET, CLOCK_SKEW_WARN_SECONDS="60"))
    st, _, body = http(gw.port, "GET", "/hls/vod/index.m3u8")
    _, off = metric(gw, "hlsgate_origin_clock_offset_seconds")
    ok(abs(off) < 2, "offset with a good clock %s" % off)
    ok("clock skew" not in gw.logtext(), "no warning")
    ok(gw.stop() == 0, "hlsgate exited cleanly")
    ngx.stop()


# ---- EKS IRSA overlay -------------------------------------------------------------------------------

def render_overlay(repo, overlay):
    """What `kubectl kustomize` makes of an overlay of ours, done here so the test needs nothing
    beyond Debian (kubectl is not in Debian): the base's resources plus the overlay's, then its
    patches: "$patch: delete" and JSON-patch remove/add ops (all the overlay uses; anything else
    fails the test)."""
    import yaml
    def load(folder):
        k = yaml.safe_load(open(os.path.join(folder, "kustomization.yaml")))
        docs = []
        for r in k.get("resources", []):
            path = os.path.normpath(os.path.join(folder, r))
            if os.path.isdir(path):
                docs += load(path)[0]
            else:
                docs += [d for d in yaml.safe_load_all(open(path)) if d]
        return docs, k
    docs, k = load(os.path.join(repo, "docker", overlay))
    for p in k.get("patches", []):
        t = p["target"]
        match = [d for d in docs if d["kind"] == t["kind"] and d["metadata"]["name"] == t["name"]]
        ok(len(match) == 1, "patch target %s/%s found once" % (t["kind"], t["name"]))
        body = yaml.safe_load(p["patch"])
        if isinstance(body, dict) and body.get("$patch") == "delete":
            docs.remove(match[0])
            continue
        for op in body:
            keys = [int(x) if x.isdigit() else x for x in op["path"].strip("/").split("/")]
            node = match[0]
            for key in keys[:-1]:
                node = node[key]
            if op["op"] == "remove":
                del node[keys[-1]]
            elif op["op"] == "add":
                node[keys[-1]] = op["value"]
            else:
                raise AssertionError("unsupported patch op %s" % op["op"])
    return docs


def test_irsa_overlay():
    """docker/k8s-irsa renders into the base manifests with a service account that carries the
    role, no key Secret, and pods that run as that account and can read the projected token; the
    variables EKS injects are ones hlsgate reads."""
    import subprocess
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    docs = render_overlay(repo, "k8s-irsa")
    kinds = {d["kind"]: d for d in docs}
    ok("Secret" not in kinds, "the key Secret is removed")
    sa = kinds["ServiceAccount"]
    ok(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::"), "role annotation")
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    ok(pod["serviceAccountName"] == sa["metadata"]["name"], "pods run as the service account")
    ok(pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"], "token readable by the pod's group")
    env_from = pod["containers"][0]["envFrom"]
    ok(all("secretRef" not in e for e in env_from) and any("configMapRef" in e for e in env_from), env_from)
    helptext = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    for v in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL_STS", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        ok(re.search(r"\s%s\s*$" % v, helptext, re.M), v + " in --help")


def cleanup():
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)


TESTS = {
    "tls": ["test_https_with_private_ca", "test_aws_ca_bundle_fallback", "test_missing_ca_is_502_naming_tls",
            "test_wrong_ca_is_502_naming_tls", "test_unreadable_ca_file_is_502_naming_tls", "test_unsafe_disable_is_loud",
            "test_tls_sessions_are_resumed", "test_connections_are_kept_alive"],
    "creds": ["test_container_endpoint", "test_container_relative_uri_needs_platform_host", "test_imds_v2",
              "test_web_identity_sts_rereads_token", "test_rotation_under_load", "test_rotation_with_cache",
              "test_endpoint_down_at_start_then_up",
              "test_refresh_failure_keeps_then_expires", "test_malformed_answers", "test_urls_capped_at_credentials_lifetime"],
    "clock": ["test_skewed_clock_is_corrected"],
    "manifests": ["test_irsa_overlay"],
}

if __name__ == "__main__":
    # Missing tools are a set-up failure (scripts/setup.sh test installs them), never a skip.
    if GROUP == "clock" and not faketime_lib():
        print("FAILED: libfaketime not installed (Debian package faketime; run scripts/setup.sh test)")
        cleanup()
        sys.exit(1)
    if GROUP == "tls" and not shutil.which("openssl"):
        print("FAILED: openssl not installed (run scripts/setup.sh test)")
        cleanup()
        sys.exit(1)
    only = sys.argv[3:] or TESTS[GROUP]
    run_tests("storage-" + GROUP, {k: globals()[k] for k in only}, cleanup=cleanup)
