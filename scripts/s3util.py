#!/usr/bin/python3
"""s3util.py - tiny S3 CLI on botocore (no boto3) for hlsgate's e2e tests.

Run with Debian's /usr/bin/python3 (python3-botocore), not a pyenv python.

Usage:
  s3util.py mb BUCKET                      create a bucket (ok if it is ours)
  s3util.py put-tree BUCKET LOCALDIR [PREFIX]
                                           upload every file under LOCALDIR as
                                           PREFIX/relative/path with a
                                           Content-Type from its extension
  s3util.py put BUCKET KEY FILE            upload one file
  s3util.py ls BUCKET [PREFIX]             list keys (size and key)
  s3util.py cors BUCKET                    allow GET/HEAD from any origin
  s3util.py presign BUCKET KEY [EXPIRES]   print a presigned GET URL
                                           (EXPIRES seconds, default 3600)
  s3util.py get BUCKET KEY                 write the object to stdout

Environment (scripts/rgw.sh writes these to DIR/env):
  RGW_ENDPOINT    e.g. http://127.0.0.1:7480 (S3_ENDPOINT also accepted)
  RGW_ACCESS_KEY  (AWS_ACCESS_KEY_ID also accepted)
  RGW_SECRET_KEY  (AWS_SECRET_ACCESS_KEY also accepted)
  RGW_REGION      default us-east-1
  S3_ADDRESSING   path (default) or virtual

Requests are signed with SigV4 (signature_version s3v4), path-style URLs.
Exit status: 0 ok, 1 S3/IO error (message on stderr), 2 usage error.
"""

import mimetypes
import os
import sys

try:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write("s3util.py: botocore missing; run with /usr/bin/python3 "
                     "(apt-get install python3-botocore)\n")
    sys.exit(1)

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m3u": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt",
    ".webvtt": "text/vtt",
    ".key": "application/octet-stream",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".mpd": "application/dash+xml",
}


def content_type(path):
    """Content-Type for an HLS-related file name."""
    ext = os.path.splitext(path)[1].lower()
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def env(*names, default=None):
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return default


def make_client(endpoint=None, access_key=None, secret_key=None, region=None,
                addressing=None):
    """A botocore S3 client configured for RGW (SigV4, path style)."""
    endpoint = endpoint or env("RGW_ENDPOINT", "S3_ENDPOINT")
    access_key = access_key or env("RGW_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
    secret_key = secret_key or env("RGW_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
    region = region or env("RGW_REGION", "AWS_REGION", default="us-east-1")
    addressing = addressing or env("S3_ADDRESSING", default="path")
    missing = [n for n, v in (("RGW_ENDPOINT", endpoint),
                              ("RGW_ACCESS_KEY", access_key),
                              ("RGW_SECRET_KEY", secret_key)) if not v]
    if missing:
        raise UsageError("missing environment: " + ", ".join(missing) +
                         " (source DIR/env written by scripts/rgw.sh start)")
    session = botocore.session.get_session()
    cfg = Config(signature_version="s3v4",
                 s3={"addressing_style": addressing},
                 retries={"max_attempts": 3, "mode": "standard"},
                 connect_timeout=5, read_timeout=30)
    return session.create_client("s3", region_name=region, endpoint_url=endpoint,
                                 aws_access_key_id=access_key,
                                 aws_secret_access_key=secret_key, config=cfg)


class UsageError(Exception):
    pass


def cmd_mb(c, bucket):
    try:
        c.create_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
    print(f"bucket {bucket}")


def iter_files(localdir):
    for root, dirs, files in os.walk(localdir):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, localdir).replace(os.sep, "/")
            yield full, rel


def put_file(c, bucket, key, path):
    ctype = content_type(path)
    with open(path, "rb") as f:
        c.put_object(Bucket=bucket, Key=key, Body=f, ContentType=ctype)
    return ctype


def cmd_put_tree(c, bucket, localdir, prefix=""):
    if not os.path.isdir(localdir):
        raise UsageError(f"not a directory: {localdir}")
    prefix = prefix.strip("/")
    n = total = 0
    for full, rel in iter_files(localdir):
        key = f"{prefix}/{rel}" if prefix else rel
        ctype = put_file(c, bucket, key, full)
        size = os.path.getsize(full)
        print(f"{size:10d}  {ctype:32s}  s3://{bucket}/{key}")
        n += 1
        total += size
    print(f"uploaded {n} files, {total} bytes", file=sys.stderr)


def cmd_put(c, bucket, key, path):
    ctype = put_file(c, bucket, key, path)
    print(f"s3://{bucket}/{key} ({ctype})")


def cmd_ls(c, bucket, prefix=""):
    paginator = c.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            print(f"{o['Size']:10d}  {o['Key']}")


CORS_RULES = {
    "CORSRules": [{
        "AllowedOrigins": ["*"],
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["Content-Length", "Content-Range", "Content-Type",
                          "ETag", "Accept-Ranges", "Last-Modified"],
        "MaxAgeSeconds": 3600,
    }]
}


def cmd_cors(c, bucket):
    c.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS_RULES)
    print(f"cors set on {bucket}: GET/HEAD from *")


def cmd_presign(c, bucket, key, expires="3600"):
    try:
        secs = int(expires)
    except ValueError:
        raise UsageError(f"EXPIRES must be an integer number of seconds: {expires}")
    if secs < 1 or secs > 604800:
        raise UsageError("EXPIRES must be between 1 and 604800 seconds")
    print(c.generate_presigned_url("get_object",
                                   Params={"Bucket": bucket, "Key": key},
                                   ExpiresIn=secs))


def cmd_get(c, bucket, key):
    r = c.get_object(Bucket=bucket, Key=key)
    out = sys.stdout.buffer
    for chunk in r["Body"].iter_chunks(65536):
        out.write(chunk)
    out.flush()


COMMANDS = {
    # name: (function, min args, max args)
    "mb": (cmd_mb, 1, 1),
    "put-tree": (cmd_put_tree, 2, 3),
    "put": (cmd_put, 3, 3),
    "ls": (cmd_ls, 1, 2),
    "cors": (cmd_cors, 1, 1),
    "presign": (cmd_presign, 2, 3),
    "get": (cmd_get, 2, 2),
}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        sys.stderr.write(__doc__)
        return 0 if len(argv) >= 2 else 2
    name, args = argv[1], argv[2:]
    if name not in COMMANDS:
        sys.stderr.write(f"s3util.py: unknown command {name!r}\n{__doc__}")
        return 2
    fn, lo, hi = COMMANDS[name]
    if not lo <= len(args) <= hi:
        sys.stderr.write(f"s3util.py: {name}: wrong number of arguments\n{__doc__}")
        return 2
    try:
        return fn(make_client(), *args) or 0
    except UsageError as e:
        sys.stderr.write(f"s3util.py: {e}\n")
        return 2
    except ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        sys.stderr.write(f"s3util.py: {name}: HTTP {status} {err.get('Code')}: "
                         f"{err.get('Message') or ''}\n")
        return 1
    except (BotoCoreError, OSError) as e:
        sys.stderr.write(f"s3util.py: {name}: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
