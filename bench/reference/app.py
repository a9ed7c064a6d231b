"""Reference model of the old gateway design, for the benchmark only.

The Python gateway that hlsgate replaces was a FastAPI app under uvicorn: it fetched the playlist
from S3 with boto3, presigned every media URI with boto3's generate_presigned_url one line at a
time, and pointed nested playlists back at itself. This is a faithful, idiomatic model of that
design, written for bench/run:

  GET /hls/{key}      the object {S3_KEY_PREFIX}/{key} via boto3 get_object, rewritten line by line:
                      media URIs (URI lines, URI="..." attributes) -> SigV4 presigned URLs,
                      playlist URIs (.m3u8/.m3u, EXT-X-STREAM-INF variants, EXT-X-MEDIA) ->
                      {PUBLIC_BASE_URL}/hls/{key}
  GET /hls-seg/{key}  302 to a presigned URL (media extensions only)
  GET /healthz        "ok"

Configuration uses hlsgate's variable names (S3_ENDPOINT, S3_BUCKET, S3_KEY_PREFIX, S3_REGION,
S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, PRESIGN_EXPIRES_SECONDS, PUBLIC_BASE_URL). Presigning is
boto3's own: SigV4, path style, the same expiry as hlsgate. The handlers are plain `def` functions
because boto3 blocks: FastAPI runs them in its thread pool, which is what its documentation asks
for blocking libraries. One uvicorn worker, as the old deployment ran.

Not deliberately slowed, not tuned either: no cache, no precomputed signing keys.
"""
import os
import posixpath
import re
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

BUCKET = os.environ["S3_BUCKET"]
PREFIX = os.environ.get("S3_KEY_PREFIX", "").strip("/")
EXPIRES = int(os.environ.get("PRESIGN_EXPIRES_SECONDS", "7200"))
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
SEG_EXTENSIONS = set(os.environ.get(
    "SEG_EXTENSIONS",
    "ts,m4s,mp4,m4a,m4v,aac,ac3,ec3,eac3,mp3,vtt,webvtt,srt,key,jpg,jpeg,png,cmfv,cmfa,m2ts,mts",
).split(","))

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    region_name=os.environ.get("S3_REGION", "us-east-1"),
    aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  max_pool_connections=50),
)

app = FastAPI()

PLAYLIST_CACHE = "public, max-age=300"
CORS = {"Access-Control-Allow-Origin": "*"}
URI_ATTR = re.compile(r'URI="([^"]*)"')
# Tags whose URI= attribute names another playlist rather than media.
PLAYLIST_TAGS = ("#EXT-X-MEDIA:", "#EXT-X-I-FRAME-STREAM-INF:", "#EXT-X-IMAGE-STREAM-INF:",
                 "#EXT-X-RENDITION-REPORT:")
MEDIA_TAGS = ("#EXT-X-MAP:", "#EXT-X-KEY:", "#EXT-X-SESSION-KEY:", "#EXT-X-PART:",
              "#EXT-X-PRELOAD-HINT:", "#EXT-X-SESSION-DATA:")


def object_key(key):
    return PREFIX + "/" + key if PREFIX else key


def presign(key):
    return s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": object_key(key)},
                                     ExpiresIn=EXPIRES)


def resolve(base_dir, uri):
    """Namespace key for a relative URI, or None when it must stay as it is."""
    if "://" in uri or uri.startswith("//") or uri.startswith("data:") or "{$" in uri:
        return None
    path = uri.split("#", 1)[0].split("?", 1)[0]
    path = unquote(path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(base_dir, path)
    key = posixpath.normpath(joined)
    if key.startswith("..") or key in (".", ""):
        return None
    return key


def rewrite_uri(base_dir, uri, host, playlist):
    key = resolve(base_dir, uri)
    if key is None:
        return uri
    if playlist or key.endswith((".m3u8", ".m3u")):
        base = PUBLIC_BASE_URL or "http://" + host
        return base + "/hls/" + quote(key)
    return presign(key)


def rewrite(text, base_dir, host):
    out = []
    next_is_variant = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            out.append(line)
        elif s.startswith("#"):
            if s.startswith("#EXT-X-STREAM-INF"):
                next_is_variant = True
            if 'URI="' in s and s.startswith(PLAYLIST_TAGS + MEDIA_TAGS):
                is_pl = s.startswith(PLAYLIST_TAGS)
                line = URI_ATTR.sub(
                    lambda m: 'URI="%s"' % rewrite_uri(base_dir, m.group(1), host, is_pl), line)
            out.append(line)
        else:
            out.append(rewrite_uri(base_dir, s, host, next_is_variant))
            next_is_variant = False
    return "\n".join(out) + "\n"


@app.get("/healthz")
def healthz():
    return PlainTextResponse("ok\n")


@app.get("/hls/{key:path}")
def playlist(key: str, request: Request):
    try:
        obj = s3.get_object(Bucket=BUCKET, Key=object_key(key))
        text = obj["Body"].read().decode("utf-8")
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            return PlainTextResponse("no such playlist\n", status_code=404)
        return PlainTextResponse("origin error\n", status_code=502)
    if not text.startswith("#EXTM3U"):
        return PlainTextResponse("not a playlist\n", status_code=502)
    body = rewrite(text, posixpath.dirname(key), request.headers.get("host", "localhost"))
    headers = dict(CORS)
    headers["Cache-Control"] = PLAYLIST_CACHE
    return Response(body, media_type="application/vnd.apple.mpegurl", headers=headers)


@app.get("/hls-seg/{key:path}")
def segment(key: str):
    ext = key.rsplit(".", 1)[-1] if "." in key.rsplit("/", 1)[-1] else ""
    if ext not in SEG_EXTENSIONS or resolve("", key) is None:
        return PlainTextResponse("extension not allowed\n", status_code=403)
    return RedirectResponse(presign(key), status_code=302,
                            headers={"Cache-Control": "private, max-age=60", **CORS})
