#!/usr/bin/python3
"""Cross-check hg_presign (through tests/tools/presign_cli) against botocore's S3 presigner.

Usage: /usr/bin/python3 tests/sigv4_botocore.py path/to/presign_cli

Generates a few hundred object keys from a fixed seed (spaces, UTF-8, sub-delims, '%', deep
paths, '//' and '..' segments, long keys) and, for several endpoint/style/token configurations
at frozen times, compares every URL the CLI prints with botocore's presigned GET URL.

botocore emits its parameters in insertion order (extra query, then X-Amz-*, token after
SignedHeaders); hg_presign emits the canonical (sorted) query, which is what the server hashes.
So a URL matches when it equals botocore's byte for byte, or equals it once botocore's query
parameters are put in canonical order; the signature always has to be identical.
Every configuration is signed twice by the CLI, once with hg_presign and once through the
deferred API (hg_presign_defer / hg_presign_flush, --defer with an odd flush interval); both
outputs must be byte-identical before they are compared with botocore.

HG_SHA256 in the environment picks the SHA-256 implementation the CLI uses (one ctest per
implementation). When this CPU cannot run the requested one, the test exits 77 (skipped).
Needs Debian's python3-botocore, hence /usr/bin/python3.
"""
import os
import datetime
import random
import subprocess
import sys
import types
from urllib.parse import urlsplit

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

SEED = 20130524
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQD+sess/token=="
AUTH_NAMES = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
              "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature"}

# botocore reads the clock through botocore.auth.datetime.datetime.utcnow(): freeze it there.
_frozen = [datetime.datetime(2013, 5, 24)]


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return _frozen[0]


botocore.auth.datetime = types.SimpleNamespace(datetime=_FrozenDatetime)

# (name, endpoint, region, style, token, unix time, expires given to the CLI, extra queries)
CONFIGS = [
    ("aws-path", "https://s3.amazonaws.com", "us-east-1", "path", None, 1369353600, 86400, False),
    ("aws-vhost", "https://s3.eu-west-1.amazonaws.com", "eu-west-1", "virtual", None,
     1709251199, 3600, False),  # 2024-02-29T23:59:59Z
    ("minio-token", "http://127.0.0.1:9000", "us-east-1", "path", TOKEN, 1700000000, 604800, False),
    ("vhost-443-token", "https://s3.example.com:443", "ap-southeast-2", "virtual", TOKEN,
     2208988800, 1, False),  # 2040-01-01, explicit default port
    ("http-80-clamp", "http://minio.local:80", "us-west-2", "path", None, 946684799, 0, False),
    ("path-query", "https://s3.amazonaws.com", "us-east-1", "path", None, 1600000000, 900, True),
    ("vhost-query-token", "https://storage.example.net:8443", "eu-central-1", "virtual", TOKEN,
     1234567890, 9999999, True),
]

UNICODE = ["é", "ü", "ñ", "Ω", "日本語", "🎬", "ß", "Ж", "\u00a0", "\u200b", "ｆｕｌｌ"]
SPECIALS = " +=~%!*'()&$@,;:?#[]\"<>^`{}|\\-._"
ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def gen_segment(rng, maxlen):
    out = []
    for _ in range(rng.randint(1, maxlen)):
        r = rng.random()
        if r < 0.55:
            out.append(rng.choice(ASCII))
        elif r < 0.85:
            out.append(rng.choice(SPECIALS))
        elif r < 0.97:
            out.append(rng.choice(UNICODE))
        else:
            out.append(rng.choice("\t\r\x01\x7f"))  # control bytes are legal in S3 keys
    return "".join(out)


def gen_keys(rng):
    keys = ["test.txt", "a", "seg 1.ts", "a+b=c~d", "100%", "%41", "%zz", "(1)!*'", "a//b",
            "//lead", "/x", "trail/", "../up", "a/./b/../c", "dir/", "~", "é/ü.ts",
            "a" * 1024, "/".join("d%d" % i for i in range(60)) + "/seg.ts",
            "shows/ep1/1080p/segment_000123456789.ts"]
    while len(keys) < 320:
        r = rng.random()
        if r < 0.4:
            key = "/".join(gen_segment(rng, 12) for _ in range(rng.randint(1, 6)))
        elif r < 0.6:
            key = gen_segment(rng, 40)
        elif r < 0.75:
            key = "/".join(gen_segment(rng, 5) for _ in range(rng.randint(10, 40)))
        elif r < 0.9:
            parts = [gen_segment(rng, 8) for _ in range(rng.randint(2, 5))]
            key = rng.choice(["//", "/./", "/../", "///"]).join(parts)
        else:
            key = gen_segment(rng, 300)
        while len(key.encode()) > 1024:  # S3's key limit
            key = key[: len(key) // 2]
        keys.append(key)
    return keys


def lenient_decode(raw):
    """The rule hg_presign documents: %XX decodes, anything else (incl. '+', a bare '%') is
    literal. Independent of the C code on purpose."""
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == ord("%") and i + 2 < len(raw) and all(
                chr(x) in "0123456789abcdefABCDEF" for x in raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def spell(rng, s, is_name):
    """Write decoded text the way a playlist author might: sometimes escaped, sometimes not."""
    out = []
    for ch in s:
        b = ch.encode()
        must = ch in "&#%" or (is_name and ch == "=") or ch in "\t\r\n"
        if ch == "%" and rng.random() < 0.3:
            out.append("%")  # bare '%': stays literal if no two hex digits follow
        elif must or (not ch.isascii() and rng.random() < 0.7) or rng.random() < 0.25:
            out.append("".join(rng.choice(["%%%02X", "%%%02x"]) % x for x in b))
        else:
            out.append(ch)
    return "".join(out)


NAMES = ["versionId", "partNumber", "response-content-type", "response-content-disposition",
         "a", "A", "b", "Z", "x-id", "token", "_", "~t", "sp ace", "ü", "X-Amz-Foo", "x-amz-meta",
         "a+b", "100%", "q=x"]


def gen_query(rng):
    """Return (raw query, [(name bytes, value bytes)]) or (raw, None) when botocore cannot
    express it (repeated names: botocore keeps one)."""
    if rng.random() < 0.15:
        return rng.choice(["", "&", "&&"]), []
    segs, pairs = [], []
    for _ in range(rng.randint(1, 5)):
        name = rng.choice(NAMES)
        r = rng.random()
        if r < 0.15:
            value, seg = None, spell(rng, name, True)  # "token" without '='
        else:
            value = "" if r < 0.25 else gen_segment(rng, 20)
            seg = spell(rng, name, True) + "=" + spell(rng, value, False)
        segs.append(seg)
        if rng.random() < 0.1:
            segs.append("")  # "a&&b"
    raw = "&".join(segs)
    for seg in raw.split("&"):
        if not seg:
            continue
        n, _, v = seg.partition("=")
        pairs.append((lenient_decode(n.encode()), lenient_decode(v.encode())))
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names) or any(n.decode("latin-1") in AUTH_NAMES for n in names):
        return raw, None
    return raw, pairs


def canonical_order(url):
    p = urlsplit(url)
    pairs = [x.partition("=") for x in p.query.split("&")]
    sig = [v for k, _, v in pairs if k == "X-Amz-Signature"]
    rest = sorted((k, v) for k, _, v in pairs if k != "X-Amz-Signature")
    q = "&".join("%s=%s" % kv for kv in rest) + "&X-Amz-Signature=" + (sig[0] if sig else "")
    return "%s://%s%s?%s" % (p.scheme, p.netloc, p.path, q)


def botocore_urls(cfg, keys, queries):
    name, endpoint, region, style, token, when, expires, _ = cfg
    expires = min(max(expires, 1), 604800)
    _frozen[0] = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=when)
    client = botocore.session.get_session().create_client(
        "s3", region_name=region, aws_access_key_id=AK, aws_secret_access_key=SK,
        aws_session_token=token, endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}))
    creds = Credentials(AK, SK, token)
    urls = []
    for key, (_, pairs) in zip(keys, queries):
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": "media-bucket", "Key": key}, ExpiresIn=expires)
        if pairs:  # sign the same object URL again with the extra parameters added
            req = AWSRequest(method="GET", url=url.split("?")[0], params=dict(pairs))
            botocore.auth.S3SigV4QueryAuth(creds, "s3", region, expires=expires).add_auth(req)
            url = req.url
        urls.append(url)
    return urls


def run_cli(cli, cfg, keys, queries, object_url=False, defer=0):
    name, endpoint, region, style, token, when, expires, with_query = cfg
    args = [cli, "--endpoint", endpoint, "--bucket", "media-bucket", "--region", region,
            "--style", style, "--time", str(when), "--expires", str(expires)]
    if token:
        args += ["--token", token]
    if with_query:
        args.append("--tab-query")
    if object_url:
        args.append("--object-url")
    if defer:
        args += ["--defer", str(defer)]
    lines = []
    for key, (raw, _) in zip(keys, queries):
        line = key.encode()
        if with_query:
            line += b"\t" + raw.encode("utf-8", "surrogateescape")
        lines.append(line + b"\n")
    env = {"AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK}
    if os.environ.get("HG_SHA256"):
        env["HG_SHA256"] = os.environ["HG_SHA256"]
    res = subprocess.run(args, input=b"".join(lines), capture_output=True, env=env, check=False)
    if res.returncode != 0:
        sys.exit("presign_cli failed (%d): %s" % (res.returncode, res.stderr.decode(errors="replace")))
    out = res.stdout.decode("ascii").split("\n")
    assert out[-1] == "", "output must end with a newline"
    return out[:-1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    want_impl = os.environ.get("HG_SHA256")
    impl = subprocess.run([cli, "--print-impl"], capture_output=True, check=True,
                          env={"HG_SHA256": want_impl or ""}).stdout.decode().strip()
    if want_impl and impl != want_impl:
        print("sigv4.botocore: SHA-256 implementation %s not available here (got %s): skipped"
              % (want_impl, impl))
        return 77
    rng = random.Random(SEED)
    keys = gen_keys(rng)
    passed, exact, failures = 0, 0, []
    for cfg in CONFIGS:
        with_query = cfg[7]
        queries = [gen_query(rng) if with_query else ("", []) for _ in keys]
        # Keys whose query botocore cannot express are still signed by the CLI, just unchecked.
        checked = [i for i, (_, pairs) in enumerate(queries) if pairs is not None]
        ours = run_cli(cli, cfg, keys, queries)
        deferred = run_cli(cli, cfg, keys, queries, defer=3 + 5 * CONFIGS.index(cfg))  # 3..33: below and above a batch
        if deferred != ours:
            bad = [i for i, (a, b) in enumerate(zip(ours, deferred)) if a != b]
            failures.append((cfg[0] + "/defer", "line %d" % (bad[0] if bad else -1),
                             deferred[bad[0]] if bad else "line count", ours[bad[0]] if bad else ""))
        if len(ours) != len(keys):
            failures.append((cfg[0], "-", "line count %d != %d" % (len(ours), len(keys)), ""))
            continue
        ck = [keys[i] for i in checked]
        theirs = botocore_urls(cfg, ck, [queries[i] for i in checked])
        for i, want in zip(checked, theirs):
            got = ours[i]
            if got == want:
                passed, exact = passed + 1, exact + 1
            elif got == canonical_order(want):
                passed += 1
            else:
                failures.append((cfg[0], repr(keys[i]) + " q=" + repr(queries[i][0]), got, want))
        # hg_object_url is botocore's URL without the query.
        plain = run_cli(cli, cfg[:7] + (False,), keys, [("", [])] * len(keys), object_url=True)
        for key, got, want in zip(keys, plain, botocore_urls(cfg, keys, [("", [])] * len(keys))):
            if got == want.split("?")[0]:
                passed, exact = passed + 1, exact + 1
            else:
                failures.append((cfg[0] + "/object-url", repr(key), got, want.split("?")[0]))
    for name, what, got, want in failures[:5]:
        print("MISMATCH [%s] %s\n  got:  %s\n  want: %s" % (name, what, got, want))
    print("sigv4.botocore [%s]: %d passed (%d byte-identical, %d after canonical query order), "
          "%d failed" % (impl, passed, exact, passed - exact, len(failures)))
    return 1 if failures or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
