"""Shared helpers for the CDN signer oracle tests: run segsign_cli, generate awkward keys."""
import os
import random
import subprocess
import urllib.parse

S3_ENV = {"S3_BUCKET": "media", "S3_ACCESS_KEY_ID": "AKID", "S3_SECRET_ACCESS_KEY": "test-secret",
          "S3_ENDPOINT": "http://127.0.0.1:9"}
CDN_VARS = ["SEGMENT_SIGNER", "SEGMENT_BASE_URL", "CLOUDFRONT_KEY_PAIR_ID", "CLOUDFRONT_PRIVATE_KEY_FILE",
            "CLOUDFRONT_POLICY", "CLOUDFRONT_HASH", "AKAMAI_TOKEN_KEY", "AKAMAI_TOKEN_NAME", "GCDN_KEY_NAME",
            "GCDN_KEY", "BUNNY_TOKEN_KEY"]


def run_cli(cli, settings, lines, window_start, expires, tab_query=False):
    """Sign each line (a key, or key TAB query) with segsign_cli; returns the URLs."""
    env = {k: v for k, v in os.environ.items() if k not in CDN_VARS}
    env.update(S3_ENV)
    env.update(settings)
    args = [cli, "--window-start", str(window_start), "--expires", str(expires)]
    if tab_query:
        args.append("--tab-query")
    data = "".join(l + "\n" for l in lines).encode()
    p = subprocess.run(args, input=data, env=env, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("segsign_cli failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
    out = p.stdout.decode().split("\n")
    assert out[-1] == "" and len(out) == len(lines) + 1, (len(out), len(lines))
    return out[:-1]


def awkward_keys(seed, n=24):
    """Object keys over a few folders, with spaces, unicode, '+', '~', '%', '&', '=' and quotes."""
    rnd = random.Random(seed)
    folders = ["vod/plain/", "vod/with space/", "live/ünï+cödé/", "a+b/c~d/%41&x=y/", ""]
    parts = ["seg", "a b", "x+y", "é", "日本", "100%", "q&a", "k=v", "t~", "'", "(1)", "-_."]
    keys = []
    for i in range(n):
        f = folders[i % len(folders)]
        name = "".join(rnd.choice(parts) for _ in range(rnd.randint(1, 3)))
        keys.append("%s%s_%d.ts" % (f, name, i))
    return keys


def cdn_url(base, key):
    """The URL a segment has under a CDN base: base + '/' + the key, percent-encoded (RFC 3986
    unreserved characters and '/' kept)."""
    return base + "/" + urllib.parse.quote(key.encode(), safe="/")


def folder_of(key):
    return key[: key.rfind("/") + 1] if "/" in key else ""
