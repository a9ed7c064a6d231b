#!/usr/bin/python3
"""Benchmark fixtures: VOD media playlists laid out as an nginx root that looks like a bucket.

    fixtures.py ROOT BUCKET PREFIX [--zipf N]

writes ROOT/BUCKET/PREFIX/...:
  vod30/1080p/index.m3u8      30 segments   (a short clip)
  vod1800/1080p/index.m3u8    1,800 segments of 4 s (a two-hour film)
  day43200/1080p/index.m3u8   43,200 segments of 2 s (a day of recording)
  zipf/p00000/index.m3u8 ...  N small playlists (30-60 segments each, deterministic)
and prints one JSON line describing them (keys relative to PREFIX, segment counts, sizes).
Everything is deterministic: two runs write identical bytes.
"""
import json
import os
import random
import sys


def media_playlist(n_segments, target, seg_name):
    """A plain VOD media playlist, the common case: EXTINF + relative URI per segment."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:%d" % target,
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for i in range(n_segments):
        lines.append("#EXTINF:%d.000000," % target)
        lines.append(seg_name % i)
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def main():
    args = sys.argv[1:]
    zipf_n = 10000
    if "--zipf" in args:
        i = args.index("--zipf")
        zipf_n = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        sys.exit(__doc__)
    root, bucket, prefix = args
    base = os.path.join(root, bucket, prefix) if prefix else os.path.join(root, bucket)
    info = {"playlists": {}, "zipf": {}}
    # Object keys of about 40 bytes, like sign_bench's ("hls/vod1800/1080p/segment_000123.ts").
    for name, n, target in (("vod30", 30, 4), ("vod1800", 1800, 4), ("day43200", 43200, 2)):
        key = "%s/1080p/index.m3u8" % name
        size = write(base, key, media_playlist(n, target, "segment_%06d.ts"))
        info["playlists"][name] = {"key": key, "segments": n, "bytes": size}
    rng = random.Random(4)
    total = 0
    segs = 0
    for i in range(zipf_n):
        n = rng.randint(30, 60)
        total += write(base, "zipf/p%05d/index.m3u8" % i, media_playlist(n, 6, "seg_%05d.ts"))
        segs += n
    info["zipf"] = {"count": zipf_n, "pattern": "zipf/p%05d/index.m3u8", "bytes": total,
                    "segments": segs}
    print(json.dumps(info))


if __name__ == "__main__":
    main()
