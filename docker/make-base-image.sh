#!/usr/bin/env bash
# make-base-image.sh - create the base image debian:bookworm-slim locally, for machines where no
# container registry is reachable (only Debian's apt mirror). The Dockerfiles then build
# unchanged: "FROM debian:bookworm-slim" finds it in the local storage.
#
# Usage: docker/make-base-image.sh [--force]
#
# Cached: if docker.io/library/debian:bookworm-slim is already in the storage that
# docker/podman.sh uses (HG_PODMAN_ROOT), it does nothing; --force rebuilds it.
#
# Recipe (about 30 s, needs root for debootstrap):
#   1. debootstrap --variant=minbase bookworm into a scratch folder, from the mirror apt on this
#      machine uses (HG_DEBIAN_MIRROR overrides it);
#   2. give the root file system this machine's apt sources (deb822 or sources.list), empty apt
#      lists and caches, an empty resolv.conf (the container runtime provides one), and the
#      usual "slim" dpkg filters: no manuals, no docs but copyright files, no translations, and
#      no .deb files kept after an install;
#   3. tar --numeric-owner | podman import, tagged docker.io/library/debian:bookworm-slim.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
BASE_IMAGE=docker.io/library/debian:bookworm-slim
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

force=0
case ${1:-} in
    "") ;;
    --force) force=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

# shellcheck source=podman.sh
source "$HERE/podman.sh"
hg_podman_env

if ((!force)) && podman image exists "$BASE_IMAGE"; then
    log "$BASE_IMAGE already in $HG_PODMAN_ROOT; nothing to do"
    exit 0
fi

[[ $(id -u) == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap missing (scripts/setup.sh installs it)"

# The Debian mirror apt already uses: first "URIs:" of a deb822 file, else the first "deb" line.
mirror=${HG_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        mirror=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$f")
        [[ -n $mirror ]] && break
    done
fi
if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
[[ -n $mirror ]] || die "cannot find the Debian mirror in /etc/apt; set HG_DEBIAN_MIRROR"

work=$(mktemp -d "$HG_PODMAN_ROOT/base.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs=$work/rootfs
t0=$SECONDS
log "debootstrap --variant=minbase bookworm from $mirror"
if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
fi

# apt sources: the host's (same mirror, same suites), nothing else
rm -f "$rootfs/etc/apt/sources.list"
mkdir -p "$rootfs/etc/apt/sources.list.d"
copied=0
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [[ -s $f ]]; then
        cp "$f" "$rootfs${f}"
        copied=1
        break
    fi
done
((copied)) || echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"

# slim: what the usual debian slim images leave out
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/hlsgate-slim" <<'EOF'
# written by hlsgate docker/make-base-image.sh: keep container images small
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
cat >"$rootfs/etc/apt/apt.conf.d/90hlsgate-slim" <<'EOF'
// written by hlsgate docker/make-base-image.sh: no package cache kept in image layers
APT::Keep-Downloaded-Packages "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"* "$rootfs/usr/share/locale/"*
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin "$rootfs/var/cache/apt/archives/"*.deb
rm -rf "$rootfs/var/log/"*.log "$rootfs/var/log/apt/"* "$rootfs/var/cache/debconf/"*-old
rm -rf "$rootfs/tmp/"* "$rootfs/var/tmp/"*
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"
rm -f "$rootfs/etc/machine-id"
: >"$rootfs/etc/machine-id"

log "importing as $BASE_IMAGE"
tar --numeric-owner -C "$rootfs" -c . |
    podman import --quiet \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --message "debootstrap --variant=minbase bookworm $mirror (hlsgate docker/make-base-image.sh)" \
        - "$BASE_IMAGE" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
log "$BASE_IMAGE ready: $((size / 1000000)) MB in $((SECONDS - t0)) s"
