#!/usr/bin/env bash
# build.sh - build the hlsgate image with podman (no Docker engine or registry needed).
#
# Usage: docker/build.sh [--clean | --context DIR] [PODMAN-BUILD-ARGS...]
#                                                   e.g. docker/build.sh --clean --no-cache
#        docker/build.sh --print-image             print the image name and exit
#   --clean        build from a clean copy of the working tree: the files git tracks (as they are
#                  now) plus untracked files that .gitignore does not exclude, i.e. what a fresh
#                  clone would hold once committed; no build directories, no node_modules
#   --context DIR  build from DIR (a checkout of this repository) instead
#
# Makes the base image first if it is missing (docker/make-base-image.sh), then builds
# docker/Dockerfile with the repository root (or the clean copy) as context and tags the result
#   hlsgate:VERSION   (VERSION = HG_VERSION in src/config.c; the name the manifests use)
#   hlsgate:latest
# in the storage of docker/podman.sh. Prints the image name, its size and the build time.
# IMAGE=name:tag replaces both tags. Pass --iidfile FILE to learn the exact image ID.
#
# --format docker keeps the HEALTHCHECK (the OCI image format has no field for it).
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
die() { echo "$PROG: error: $*" >&2; exit 1; }

version=$(sed -n 's/^#define HG_VERSION "\(.*\)"$/\1/p' "$REPO/src/config.c" | head -n1)
[[ -n $version ]] || die "cannot read HG_VERSION from src/config.c"
tags=(-t "${IMAGE:-hlsgate:$version}")
[[ -n ${IMAGE:-} ]] || tags+=(-t hlsgate:latest)
IMAGE=${IMAGE:-hlsgate:$version}
if [[ ${1:-} == --print-image ]]; then
    echo "$IMAGE"
    exit 0
fi

# shellcheck source=podman.sh
source "$HERE/podman.sh"
hg_podman_env

context=$REPO
tmpctx=""
cleanup() { if [[ -n $tmpctx ]]; then rm -rf "$tmpctx"; fi; }
trap cleanup EXIT
case ${1:-} in
    --clean)
        shift
        command -v git >/dev/null || die "--clean needs git"
        git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "--clean: $REPO is not a git checkout"
        tmpctx=$(mktemp -d "${TMPDIR:-/tmp}/hlsgate-context.XXXXXX")
        # tracked files as they are in the working tree (deleted ones skipped) + new files
        (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -C "$tmpctx" -xf -
        context=$tmpctx
        ;;
    --context)
        [[ -d ${2:-} ]] || die "--context needs a directory"
        context=$(cd "$2" && pwd)
        shift 2
        ;;
esac

t0=$SECONDS
"$HERE/make-base-image.sh"
echo "$PROG: building $IMAGE from $context" >&2
podman build --format docker --layers \
    -f "$HERE/Dockerfile" --ignorefile "$HERE/Dockerfile.dockerignore" \
    "${tags[@]}" "$@" "$context"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "$PROG: $IMAGE built in $((SECONDS - t0)) s, $((size / 1000000)) MB ($size bytes)" >&2
echo "$IMAGE"
