"""An independent SigV4 query-auth verifier (Python hmac/hashlib), used by the integration tests
to check that every presigned URL hlsgate writes carries a valid signature for its object."""
import hashlib
import hmac
import urllib.parse


def _enc(s, safe):
    return urllib.parse.quote(s, safe=safe)


def verify(url, secret, region="us-east-1"):
    """Return (ok, key_path) for a presigned URL: ok when X-Amz-Signature matches."""
    u = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    sig = dict(params).get("X-Amz-Signature")
    if not sig:
        return False, None
    rest = [(k, v) for k, v in params if k != "X-Amz-Signature"]
    canon_q = "&".join("%s=%s" % (_enc(k, "-_.~"), _enc(v, "-_.~"))
                       for k, v in sorted((k, v) for k, v in rest))
    path = urllib.parse.unquote(u.path)
    canon_path = _enc(path, "/-_.~")
    host = u.netloc
    creq = "\n".join(["GET", canon_path, canon_q, "host:%s" % host, "", "host", "UNSIGNED-PAYLOAD"])
    amz_date = dict(params)["X-Amz-Date"]
    scope = dict(params)["X-Amz-Credential"].split("/", 1)[1]
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig), path
