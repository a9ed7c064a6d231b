#!/usr/bin/python3
"""Akamai EdgeAuth v2, Google Cloud CDN and Bunny URLs from hlsgate's signer against an
independent implementation written here with Python's hmac, over generated keys with spaces,
unicode, '+', '~', '%' and '&'. The oracle implementations are first checked against the
maintainers' published answers, so a wrong oracle cannot pass.

usage: test_hmac_schemes.py path/to/segsign_cli
"""
import base64
import hashlib
import hmac
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdnlib  # noqa: E402

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg)


# ---- independent implementations ------------------------------------------------------------

def akamai_token(key_hex, exp, acl):
    text = "exp=%d~acl=%s" % (exp, acl)
    mac = hmac.new(bytes.fromhex(key_hex), text.encode(), hashlib.sha256).hexdigest()
    return text + "~hmac=" + mac


def gcdn_prefix_params(key_b64, name, prefix, exp):
    text = "URLPrefix=%s&Expires=%d&KeyName=%s" % (base64.urlsafe_b64encode(prefix.encode()).decode(), exp, name)
    sig = hmac.new(base64.urlsafe_b64decode(key_b64), text.encode(), hashlib.sha1).digest()
    return text + "&Signature=" + base64.urlsafe_b64encode(sig).decode()


def gcdn_url_signature(key_b64, name, url, exp):
    text = url + ("&" if "?" in url else "?") + "Expires=%d&KeyName=%s" % (exp, name)
    sig = hmac.new(base64.urlsafe_b64decode(key_b64), text.encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(sig).decode()


def bunny_token(key, path, exp, params):
    signed = "&".join("%s=%s" % kv for kv in sorted(params.items()))
    mac = hmac.new(key.encode(), (path + str(exp) + signed).encode(), hashlib.sha256).digest()
    return "HS256-" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def bunny_query(key, path_allowed, exp, query):
    params = dict(urllib.parse.parse_qsl(query or "", keep_blank_values=True))
    params["token_path"] = path_allowed
    tok = bunny_token(key, path_allowed, exp, params)
    enc = "&".join("%s=%s" % (urllib.parse.quote(k, safe=""), urllib.parse.quote(v, safe=""))
                   for k, v in sorted(params.items()))
    return "token=%s&%s&expires=%d" % (tok, enc, exp)


def check_published():
    check(akamai_token("1234", 1622136497, "/*").endswith(
        "ec70c1b6fb2b2baa4dd58e3a4bc1b8e333b63288fdc2d13c5a9b5037d1bba5ea"), "oracle: Akamai published answer")
    check(gcdn_prefix_params("nZtRohdNF9m3cKM24IcK4w==", "my-key", "http://www.example.com/some/", 1549751401)
          .endswith("&Signature=3th4ThmpS95I1TAKYyYSCSq3dnQ="), "oracle: Google prefix published answer")
    check(gcdn_url_signature("nZtRohdNF9m3cKM24IcK4w==", "my-key", "http://35.186.234.33/index.html", 1549751401)
          == "CRFqQnVfFyiUyR63OQf-HRUpIwc=", "oracle: Google URL published answer")
    check(bunny_token("SecurityKey", "/300kb.jpg", 1598024587, {}) ==
          "HS256-o10JRWlsAItyAsdKS6jJKjabHN4FrFsplDHPV1idcX4", "oracle: Bunny plain vector")
    check(bunny_token("SecurityKey", "/abc", 1598024587, {"token_path": "/abc"}) ==
          "HS256-uVZvT3SbEoVKYJyDJgbcsDmSFf73cv-uNUVaJiKWpbQ", "oracle: Bunny path_only vector")


def main():
    cli = sys.argv[1]
    check_published()
    keys = cdnlib.awkward_keys(29, 40)
    queries = [("sid=a+b%21&x=%E2%9C%93" if i % 5 == 4 else None) for i in range(len(keys))]
    lines = [k + ("\t" + q if q else "") for k, q in zip(keys, queries)]
    window, expires = 1700000000, 7500
    exp = window + expires
    base_host = "https://cdn.example.com"
    base_path = "/edge%2Bpath/v1"
    base = base_host + base_path

    # Akamai
    ak_key = "0123456789abcdef00ff"
    got = cdnlib.run_cli(cli, {"SEGMENT_SIGNER": "akamai", "SEGMENT_BASE_URL": base, "AKAMAI_TOKEN_KEY": ak_key,
                               "AKAMAI_TOKEN_NAME": "hdnea"}, lines, window, expires, tab_query=True)
    for key, q, url in zip(keys, queries, got):
        # '~' is the token's field delimiter: the Akamai signer encodes it in the path (and acl)
        folder_path = base_path + "/" + urllib.parse.quote(cdnlib.folder_of(key).encode(), safe="/").replace("~", "%7E")
        want = cdnlib.cdn_url(base, key).replace("~", "%7E") + ("?" + q + "&" if q else "?") + "hdnea=" + \
            akamai_token(ak_key, exp, folder_path + "*")
        check(url == want, "akamai\n  got  %s\n  want %s" % (url, want))

    # Google Cloud CDN
    gkey = base64.urlsafe_b64encode(os.urandom(16)).decode()
    got = cdnlib.run_cli(cli, {"SEGMENT_SIGNER": "gcdn", "SEGMENT_BASE_URL": base, "GCDN_KEY_NAME": "key-1",
                               "GCDN_KEY": gkey.rstrip("=")}, lines, window, expires, tab_query=True)
    for key, q, url in zip(keys, queries, got):
        prefix = cdnlib.cdn_url(base, cdnlib.folder_of(key))
        want = cdnlib.cdn_url(base, key) + ("?" + q + "&" if q else "?") + \
            gcdn_prefix_params(gkey, "key-1", prefix, exp)
        check(url == want, "gcdn\n  got  %s\n  want %s" % (url, want))

    # Bunny: token_path is the folder's decoded path
    bkey = "5509f27d-9103-4de6-8370-8bd68db859c9"
    got = cdnlib.run_cli(cli, {"SEGMENT_SIGNER": "bunny", "SEGMENT_BASE_URL": base, "BUNNY_TOKEN_KEY": bkey},
                         lines, window, expires, tab_query=True)
    for key, q, url in zip(keys, queries, got):
        path_allowed = urllib.parse.unquote(base_path) + "/" + cdnlib.folder_of(key)
        want = cdnlib.cdn_url(base, key) + "?" + bunny_query(bkey, path_allowed, exp, q)
        check(url == want, "bunny\n  got  %s\n  want %s" % (url, want))

    print("checked %d URLs per scheme (akamai, gcdn, bunny)" % len(keys))
    if failures:
        print("%d failures" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
