#!/usr/bin/python3
"""CloudFront signed URLs from hlsgate's signer against independent oracles.

- botocore's CloudFrontSigner (python3-botocore) with python3-cryptography as the RSA signer:
  canned and custom policies, SHA-1 and SHA-256, must produce byte-identical URLs (RSA PKCS#1 v1.5
  is deterministic);
- @aws-sdk/cloudfront-signer (npm, tests/cdn/package.json) for RSA-SHA1, canned and custom;
- ECDSA P-256 (and RSA) signatures verified with the public key, canned and custom;
- one custom-policy signature per folder and window.

usage: test_cloudfront.py path/to/segsign_cli
"""
import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdnlib  # noqa: E402

try:
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError as e:  # a missing oracle is a set-up failure, never a pass or a skip
    print("FAILED: %s (scripts/setup.sh test installs python3-botocore python3-cryptography)" % e)
    sys.exit(1)

BASE = "https://d111111abcdef8.cloudfront.net/media%20path"  # a path in the base is kept (pre-encoded)
BASE_ENC = "https://d111111abcdef8.cloudfront.net/media%20path"
KPID = "K2JCJMDEHXQW5F"
WINDOW, EXPIRES = 1700000100, 7500
EXP = WINDOW + EXPIRES
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg)


def cf_b64(data):
    return base64.b64encode(data).decode().replace("+", "-").replace("=", "_").replace("/", "~")


def cf_unb64(s):
    return base64.b64decode(s.replace("-", "+").replace("_", "=").replace("~", "/"))


def params_of(url):
    q = url.split("?", 1)[1]
    return dict(p.split("=", 1) for p in q.split("&") if "=" in p)


def expected_url(key, query=None):
    u = cdnlib.cdn_url(BASE_ENC, key)
    return u + ("?" + query if query else "")


def main():
    cli = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="hg_cf_")
    try:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        ec_pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        files = {}
        for name, pem in (("rsa", rsa_pem), ("ec", ec_pem)):
            files[name] = os.path.join(tmp, name + ".pem")
            with open(files[name], "wb") as f:
                f.write(pem)
        keys = cdnlib.awkward_keys(13)
        lines = [k + ("\tsession=a%20b&x=1" if i % 4 == 3 else "") for i, k in enumerate(keys)]
        queries = [("session=a%20b&x=1" if i % 4 == 3 else None) for i in range(len(keys))]
        dt = datetime.datetime.fromtimestamp(EXP, tz=datetime.timezone.utc)
        node_jobs = []
        node_want = []

        for kind in ("rsa", "ec"):
            for hname in ("sha1", "sha256"):
                for policy in ("canned", "custom"):
                    settings = {"SEGMENT_SIGNER": "cloudfront", "SEGMENT_BASE_URL": BASE + "/",
                                "CLOUDFRONT_KEY_PAIR_ID": KPID, "CLOUDFRONT_PRIVATE_KEY_FILE": files[kind],
                                "CLOUDFRONT_POLICY": policy, "CLOUDFRONT_HASH": hname}
                    got = cdnlib.run_cli(cli, settings, lines, WINDOW, EXPIRES, tab_query=True)
                    h = hashes.SHA256() if hname == "sha256" else hashes.SHA1()
                    tag = "%s/%s/%s" % (kind, hname, policy)

                    def rsa_signer(msg, h=h):
                        return rsa_key.sign(msg, padding.PKCS1v15(), h)

                    boto = CloudFrontSigner(KPID, rsa_signer)
                    folder_sig = {}
                    for key, q, url in zip(keys, queries, got):
                        plain = expected_url(key, q)
                        check(url.startswith(plain + ("&" if q else "?")), "%s: URL prefix %r vs %r" % (tag, url, plain))
                        p = params_of(url)
                        check(p.get("Key-Pair-Id") == KPID, tag + ": Key-Pair-Id")
                        check(("Hash-Algorithm" in p) == (hname == "sha256"), tag + ": Hash-Algorithm")
                        if policy == "canned":
                            check(p.get("Expires") == str(EXP), tag + ": Expires")
                            pol = boto.build_policy(plain, dt).encode()
                        else:
                            pol = cf_unb64(p["Policy"])
                            want_pol = boto.build_policy(cdnlib.cdn_url(BASE_ENC, cdnlib.folder_of(key)) + "*", dt)
                            check(pol == want_pol.encode(), "%s: policy %r vs %r" % (tag, pol, want_pol))
                            f = cdnlib.folder_of(key)
                            sig = (p["Policy"], p["Signature"])
                            check(folder_sig.setdefault(f, sig) == sig, tag + ": one signature per folder")
                        sig = cf_unb64(p["Signature"])
                        try:
                            if kind == "rsa":
                                rsa_key.public_key().verify(sig, pol, padding.PKCS1v15(), h)
                            else:
                                ec_key.public_key().verify(sig, pol, ec.ECDSA(h))
                            ok = True
                        except Exception:
                            ok = False
                        check(ok, "%s: signature does not verify with the public key for %r" % (tag, key))
                        # a different policy must not verify (the check can fail)
                        try:
                            if kind == "rsa":
                                rsa_key.public_key().verify(sig, pol + b" ", padding.PKCS1v15(), h)
                            else:
                                ec_key.public_key().verify(sig, pol + b" ", ec.ECDSA(h))
                            check(False, tag + ": tampered policy verified")
                        except Exception:
                            pass
                        if kind == "rsa":
                            # botocore builds the whole URL: byte-identical
                            if policy == "canned":
                                want = boto.generate_presigned_url(plain, date_less_than=dt)
                            else:
                                want = boto.generate_presigned_url(plain, policy=pol.decode())
                            if hname == "sha256":
                                want += "&Hash-Algorithm=SHA256"
                            check(url == want, "%s: botocore\n  got  %s\n  want %s" % (tag, url, want))
                            if hname == "sha1":
                                job = {"url": plain, "key": rsa_pem.decode(), "kpid": KPID, "expires": EXP}
                                if policy == "custom":
                                    job["policy"] = pol.decode()
                                node_jobs.append(job)
                                node_want.append((tag, url))
                    if policy == "custom":
                        check(len(folder_sig) == len({cdnlib.folder_of(k) for k in keys}), tag + ": folders")

        node = shutil.which("node")
        here = os.path.dirname(os.path.abspath(__file__))
        if not node or not os.path.isdir(os.path.join(here, "node_modules", "@aws-sdk", "cloudfront-signer")):
            print("SKIP (partial): node or @aws-sdk/cloudfront-signer missing (npm ci in tests/cdn)")
            skipped_node = True
        else:
            skipped_node = False
            inp = "".join(json.dumps(j) + "\n" for j in node_jobs).encode()
            p = subprocess.run([node, os.path.join(here, "cf_node.mjs")], input=inp, capture_output=True, timeout=120)
            check(p.returncode == 0, "cf_node.mjs failed: " + p.stderr.decode(errors="replace"))
            outs = p.stdout.decode().split("\n")[:-1]
            check(len(outs) == len(node_want), "node output count")
            for (tag, ours), theirs in zip(node_want, outs):
                a, b = params_of(ours), {k: urllib.parse.unquote(v) for k, v in params_of(theirs).items()}
                for name in ("Signature", "Key-Pair-Id", "Expires", "Policy"):
                    check(a.get(name) == b.get(name), "%s: node %s differs: %r vs %r" % (tag, name, a.get(name), b.get(name)))
            print("node oracle: %d URLs compared" % len(outs))
        print("checked %d URLs per combination, 8 combinations" % len(keys))
        if failures:
            print("%d failures" % failures)
            return 1
        return 77 if skipped_node and os.environ.get("HG_REQUIRE_NODE") else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
