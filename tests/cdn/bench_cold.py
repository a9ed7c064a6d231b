#!/usr/bin/python3
"""Cold 1,800-segment playlist per segment signer (not a test): the real gateway against nginx,
one worker, the playlist cache emptied by asking for a new key each time. Prints the median of
the cold GET times per signer, next to s3.

usage: bench_cold.py path/to/hlsgate [rounds]"""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Gateway, Nginx, http  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N = 1800
root = tempfile.mkdtemp(prefix="hg-cdn-bench-")
try:
    body = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n" + \
        "".join("#EXTINF:4.0,\nsegment_%05d.ts\n" % i for i in range(N)) + "#EXT-X-ENDLIST\n"
    for r in range(ROUNDS * 12):
        p = os.path.join(root, "media", "show%d" % r, "index.m3u8")
        os.makedirs(os.path.dirname(p))
        with open(p, "w") as f:
            f.write(body)
    keys = {}
    for name, k in (("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                    ("ec", ec.generate_private_key(ec.SECP256R1()))):
        keys[name] = os.path.join(root, name + ".pem")
        with open(keys[name], "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    nginx = Nginx(root)
    cf = {"SEGMENT_SIGNER": "cloudfront", "SEGMENT_BASE_URL": "https://d1.cloudfront.net", "CLOUDFRONT_KEY_PAIR_ID": "K1"}
    cases = [
        ("s3", {}),
        ("cloudfront custom rsa", dict(cf, CLOUDFRONT_PRIVATE_KEY_FILE=keys["rsa"])),
        ("cloudfront custom ecdsa", dict(cf, CLOUDFRONT_PRIVATE_KEY_FILE=keys["ec"])),
        ("cloudfront canned rsa", dict(cf, CLOUDFRONT_PRIVATE_KEY_FILE=keys["rsa"], CLOUDFRONT_POLICY="canned")),
        ("cloudfront canned ecdsa", dict(cf, CLOUDFRONT_PRIVATE_KEY_FILE=keys["ec"], CLOUDFRONT_POLICY="canned")),
        ("akamai", {"SEGMENT_SIGNER": "akamai", "SEGMENT_BASE_URL": "https://cdn.example", "AKAMAI_TOKEN_KEY": "00ff" * 8}),
        ("gcdn", {"SEGMENT_SIGNER": "gcdn", "SEGMENT_BASE_URL": "https://cdn.example", "GCDN_KEY_NAME": "k",
                  "GCDN_KEY": "MDEyMzQ1Njc4OWFiY2RlZg"}),
        ("bunny", {"SEGMENT_SIGNER": "bunny", "SEGMENT_BASE_URL": "https://cdn.example", "BUNNY_TOKEN_KEY": "k"}),
    ]
    n = 0
    print("cold GET of a %d-segment playlist, median of %d (ms)" % (N, ROUNDS))
    for name, env in cases:
        gw = Gateway(BIN, nginx.endpoint, "media", LOG_LEVEL="warn", **env)
        try:
            times = []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                st, _, b = http(gw.port, "GET", "/hls/show%d/index.m3u8" % n, timeout=60)
                times.append((time.perf_counter() - t0) * 1000)
                n += 1
                assert st == 200 and b.count(b"\n") > N, (st, b[:200])
            print("  %-26s %8.1f" % (name, statistics.median(times)))
        finally:
            gw.stop()
            os.unlink(gw.logpath)
    nginx.stop()
    shutil.rmtree(nginx.dir, ignore_errors=True)
finally:
    shutil.rmtree(root, ignore_errors=True)
