#!/usr/bin/env bash
# make-stream.sh - generate a small, real multi-rendition VOD HLS stream with
# ffmpeg from lavfi test sources (testsrc2 video + sine audio).
#
# Usage: scripts/make-stream.sh OUTDIR [SECONDS]
#   SECONDS   stream length, default 12 (segments of HLS_TIME=2 s)
#
# Produces (all URIs in playlists are relative):
#   OUTDIR/master.m3u8          master playlist, one EXT-X-STREAM-INF per
#                               variant: BANDWIDTH (peak segment bit rate,
#                               measured), AVERAGE-BANDWIDTH, RESOLUTION,
#                               CODECS (from ffmpeg), FRAME-RATE
#   OUTDIR/v0/index.m3u8 + seg_NNN.ts    320x180 H.264+AAC, MPEG-TS
#   OUTDIR/v1/index.m3u8 + seg_NNN.ts    480x270 H.264+AAC, MPEG-TS
#   OUTDIR/v2/index.m3u8 + init.mp4 + seg_NNN.m4s
#                                        640x360 H.264+AAC, fMP4 (EXT-X-MAP)
#   OUTDIR/v3/index.m3u8 + init.mp4 + seg_NNN.m4s
#                                        960x540 H.264+AAC, fMP4 (EXT-X-MAP)
# Every media playlist is VOD (#EXT-X-PLAYLIST-TYPE:VOD, #EXT-X-ENDLIST).
# Every segment starts with a key frame (GOP = segment length), at the same
# times in every variant (one encoder clock, key frames forced every
# HLS_TIME seconds), so a player can switch at any segment boundary.
#
# Audio and video start at the same time (0 in fMP4, 1.4 s in MPEG-TS): the
# audio input is delayed by the AAC encoder's priming (1024 samples at 48 kHz),
# which ffmpeg would otherwise cancel by shifting the video 21 ms late, and a
# player would find a hole at the start (hls.js: bufferSeekOverHole).
#
# One container format per codec group: the MPEG-TS variants say
# CODECS="avc1...", the fMP4 variants carry H.264 as "avc3" (sample entry
# avc3), so players that switch only within a codec set (hls.js) never
# switch between MPEG-TS and fMP4 in one buffer (which fails with
# bufferAppendError); both groups are switchable within themselves.
#
# Only OUTDIR/master.m3u8 and OUTDIR/v0..v3 are (re)written; other files in
# OUTDIR are left alone. Takes about 2 s for 12 s of media on 2 cores.
set -euo pipefail

PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 1; }

(($# >= 1 && $# <= 2)) || { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }
OUTDIR=$1
DURATION=${2:-12}
HLS_TIME=${HLS_TIME:-2}
FPS=25
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 1 && DURATION <= 3600)) || die "SECONDS must be an integer 1..3600: $DURATION"
[[ $HLS_TIME =~ ^[0-9]+$ ]] && ((HLS_TIME >= 1)) || die "HLS_TIME must be a positive integer: $HLS_TIME"
command -v ffmpeg >/dev/null || die "ffmpeg missing (apt-get install ffmpeg)"

GOP=$((FPS * HLS_TIME))
t0=$(date +%s.%N)
mkdir -p "$OUTDIR"
cd "$OUTDIR"
rm -rf v0 v1 v2 v3 master.m3u8 .master_ts.m3u8 .master_fmp4.m3u8
mkdir v0 v1 v2 v3

# One ffmpeg run, two HLS outputs (the segment type is per muxer):
#   output 1: v0 + v1, MPEG-TS       output 2: v2 + v3, fMP4 (avc3)
# Every rendition carries its own AAC track (muxed audio).
X264=(-c:v libx264 -preset ultrafast -profile:v baseline
      -pix_fmt yuv420p -g "$GOP" -keyint_min "$GOP" -sc_threshold 0
      -force_key_frames "expr:gte(t,n_forced*$HLS_TIME)")
AAC=(-c:a aac -b:a 64k -ac 2 -ar 48000)
HLS=(-f hls -hls_time "$HLS_TIME" -hls_playlist_type vod -hls_list_size 0
     -hls_flags independent_segments)

ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=size=960x540:rate=$FPS:duration=$DURATION" \
    -itsoffset 0.021333 -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$DURATION" \
    -filter_complex "[0:v]split=4[s0][s1][s2][v3];[s0]scale=320:180[v0];[s1]scale=480:270[v1];[s2]scale=640:360[v2];[1:a]asplit=4[a0][a1][a2][a3]" \
    -map "[v0]" -map "[a0]" -map "[v1]" -map "[a1]" \
    "${X264[@]}" "${AAC[@]}" \
    -b:v:0 300k -maxrate:v:0 400k -bufsize:v:0 800k \
    -b:v:1 600k -maxrate:v:1 800k -bufsize:v:1 1600k \
    "${HLS[@]}" -hls_segment_type mpegts \
    -hls_segment_filename "%v/seg_%03d.ts" \
    -master_pl_name .master_ts.m3u8 \
    -var_stream_map "v:0,a:0,name:v0 v:1,a:1,name:v1" "%v/index.m3u8" \
    -map "[v2]" -map "[a2]" -map "[v3]" -map "[a3]" \
    "${X264[@]}" -tag:v avc3 "${AAC[@]}" \
    -b:v:0 900k -maxrate:v:0 1200k -bufsize:v:0 2400k \
    -b:v:1 1600k -maxrate:v:1 2000k -bufsize:v:1 4000k \
    "${HLS[@]}" -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename "%v/seg_%03d.m4s" \
    -master_pl_name .master_fmp4.m3u8 \
    -var_stream_map "v:0,a:0,name:v2 v:1,a:1,name:v3" "%v/index.m3u8" \
    || die "ffmpeg failed"

for v in v0 v1 v2 v3; do
    [[ -s $v/index.m3u8 ]] || die "ffmpeg wrote no $v/index.m3u8"
    grep -q '^#EXT-X-ENDLIST' "$v/index.m3u8" || die "$v/index.m3u8 has no #EXT-X-ENDLIST"
done
# with two variants in one output, ffmpeg numbers the init sections (init_0.mp4, init_1.mp4)
for v in v2 v3; do
    for f in "$v"/init_*.mp4; do
        [[ -e $f ]] || continue
        mv "$f" "$v/init.mp4"
        sed -i "s|^#EXT-X-MAP:URI=\"${f#"$v"/}\"|#EXT-X-MAP:URI=\"init.mp4\"|" "$v/index.m3u8"
    done
done
for v in v2 v3; do
    [[ -s $v/init.mp4 ]] || die "ffmpeg wrote no $v/init.mp4"
    grep -q '^#EXT-X-MAP:URI="init.mp4"' $v/index.m3u8 || die "$v/index.m3u8 has no EXT-X-MAP"
done

# stream_inf VARIANT -> attributes of ffmpeg's EXT-X-STREAM-INF for it
stream_inf() {
    awk -v want="$1/index.m3u8" '
        /^#EXT-X-STREAM-INF:/ { inf = substr($0, 19); next }
        $0 == want && inf != "" { print inf; exit }' .master_ts.m3u8 .master_fmp4.m3u8
}

# rates VARIANT -> "PEAK AVERAGE" bit rates (bit/s) measured from the segments
# and their EXTINF durations
rates() {
    local v=$1 line dur="" uri size
    while IFS= read -r line; do
        case $line in
            '#EXTINF:'*) dur=${line#'#EXTINF:'}; dur=${dur%%,*} ;;
            '#'*|'') ;;
            *)  uri=$line
                size=$(stat -c %s "$v/$uri") || die "missing segment $v/$uri"
                echo "$size $dur"
                dur="" ;;
        esac
    done < "$v/index.m3u8" | awk '
        { bits = $1 * 8; d = $2 + 0; if (d <= 0) d = 1
          r = bits / d; if (r > peak) peak = r; tb += bits; td += d }
        END { if (td == 0) exit 1; printf "%d %d\n", peak + 0.999, tb / td + 0.999 }'
}

attr() {    # attr ATTRS NAME -> value (quoted values keep their quotes)
    grep -o "$2=\(\"[^\"]*\"\|[^,]*\)" <<<"$1" | head -n1 | cut -d= -f2-
}

{
    echo "#EXTM3U"
    echo "#EXT-X-VERSION:6"
    echo "#EXT-X-INDEPENDENT-SEGMENTS"
    for v in v0 v1 v2 v3; do
        inf=$(stream_inf "$v")
        [[ -n $inf ]] || die "ffmpeg's master playlist has no entry for $v"
        codecs=$(attr "$inf" CODECS)
        res=$(attr "$inf" RESOLUTION)
        declared=$(attr "$inf" BANDWIDTH)
        [[ -n $codecs && -n $res && -n $declared ]] || die "incomplete EXT-X-STREAM-INF for $v: $inf"
        # the fMP4 group's sample entry is avc3 (ffmpeg's master playlist says avc1 regardless)
        [[ $v == v2 || $v == v3 ]] && codecs=${codecs//avc1./avc3.}
        read -r peak avg < <(rates "$v")
        # BANDWIDTH must not be below the peak segment bit rate
        bw=$(( peak > declared ? peak : declared ))
        echo ""
        echo "#EXT-X-STREAM-INF:BANDWIDTH=$bw,AVERAGE-BANDWIDTH=$avg,RESOLUTION=$res,FRAME-RATE=$FPS.000,CODECS=$codecs"
        echo "$v/index.m3u8"
    done
} > master.m3u8.tmp
mv master.m3u8.tmp master.m3u8
rm -f .master_ts.m3u8 .master_fmp4.m3u8

t1=$(date +%s.%N)
nfiles=$(find v0 v1 v2 v3 master.m3u8 -type f | wc -l)
bytes=$(du -sb v0 v1 v2 v3 master.m3u8 | awk '{s += $1} END {print s}')
awk -v a="$t0" -v b="$t1" -v n="$nfiles" -v s="$bytes" -v d="$DURATION" -v o="$PWD" \
    'BEGIN { printf "make-stream.sh: %s: %d s of media, %d files, %d bytes in %.2f s\n", o, d, n, s, b - a }' >&2
