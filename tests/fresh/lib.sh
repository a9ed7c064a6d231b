# shellcheck shell=bash
# lib.sh - sourced by tests/fresh/test_fresh.sh and tests/fresh/full.sh: the part they share.
#
# fresh_prepare KEEP_GIT
#   Checks root and the tools (exit 77 skipped / exit 1 failed), sets up hlsgate's podman storage
#   (docker/podman.sh), makes a work folder /var/tmp/hg-fresh.XXXXXX ($work) and a container name
#   ($name), installs an EXIT trap that removes both, removes containers of earlier runs that were
#   killed before their clean-up, makes the base image (docker/make-base-image.sh) and puts a clean
#   clone of HG_FRESH_COMMIT (default HEAD) in $work/src: without .git when KEEP_GIT is 0, with it
#   (detached at that commit, no remote) when 1.
#   Then fills the array fresh_args with the podman run arguments both scripts use: name, label
#   (hlsgate-fresh=PID), 1 GB /dev/shm, the clone at /src as working folder, the host's apt
#   download cache as a throw-away overlay, the host's CA files, proxies and apt proxy settings.
#   The caller adds the network, its inside script and the image.
#
# The container trusts what the host trusts: the files named by SSL_CERT_FILE and
# NODE_EXTRA_CA_CERTS are mounted read-only and the variables passed through, as are
# http(s)_proxy / no_proxy and apt's proxy settings.
#
# Download cache: the host's /var/cache/apt/archives is mounted as an overlay (podman ":O"): apt
# finds the .deb files the host already has (it checks their hashes against the fresh package
# lists), anything else comes from the mirror, and every write is thrown away with the container.
#
# Variables it sets: REPO IMAGE work name commit fresh_args. It expects say() from the caller.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the callers
IMAGE=docker.io/library/debian:bookworm-slim

fresh_cleanup() {
  [ -n "${name:-}" ] && podman rm -f -t 0 "$name" >/dev/null 2>&1
  [ -n "${work:-}" ] && rm -rf "$work"
  return 0
}

fresh_prepare() {
  local keep_git=${1:-0}
  [ "$(id -u)" = 0 ] || { say "SKIPPED: needs root (podman storage and debootstrap)"; exit 77; }
  local c
  for c in podman debootstrap git; do
    command -v "$c" >/dev/null || { say "FAILED: $c missing (scripts/setup.sh test installs it)"; exit 1; }
  done

  # shellcheck source=../../docker/podman.sh
  source "$REPO/docker/podman.sh"
  hg_podman_env || { say "FAILED: podman storage"; exit 1; }

  work=$(mktemp -d /var/tmp/hg-fresh.XXXXXX)
  name="hg-fresh-$$-$(date +%s)"
  trap fresh_cleanup EXIT
  trap 'exit 1' INT TERM

  # containers of earlier runs that were killed before their clean-up (the label names the PID)
  podman ps -a --filter label=hlsgate-fresh --format '{{.Names}} {{index .Labels "hlsgate-fresh"}}' 2>/dev/null |
    while read -r n pid; do
      [ -n "$pid" ] && [ ! -e "/proc/$pid" ] && podman rm -f -t 0 "$n" >/dev/null 2>&1
    done

  bash "$REPO/docker/make-base-image.sh" || { say "FAILED: base image"; exit 1; }

  commit=$(git -C "$REPO" rev-parse --verify "${HG_FRESH_COMMIT:-HEAD}^{commit}") ||
    { say "FAILED: no commit ${HG_FRESH_COMMIT:-HEAD}"; exit 1; }
  git clone -q --no-checkout "$REPO" "$work/src" && git -C "$work/src" checkout -q "$commit" ||
    { say "FAILED: git clone"; exit 1; }
  if [ "$keep_git" = 1 ]; then
    git -C "$work/src" remote remove origin # nothing inside reaches back to this repository
  else
    rm -rf "$work/src/.git" # the container gets the files of one commit, nothing else
  fi
  say "clean clone of $(git -C "$REPO" log -1 --format='%h %s' "$commit")"

  fresh_args=(run --name "$name" --label "hlsgate-fresh=$$" --shm-size 1g
    -v "$work/src:/src" -w /src
    -v /var/cache/apt/archives:/var/cache/apt/archives:O)
  local ca=0 var f np
  for var in SSL_CERT_FILE NODE_EXTRA_CA_CERTS; do
    f=${!var:-}
    if [ -n "$f" ] && [ -r "$f" ]; then
      ca=$((ca + 1))
      fresh_args+=(-v "$(readlink -f "$f"):/run/host-ca/$ca.pem:ro" -e "$var=/run/host-ca/$ca.pem")
    fi
  done
  for var in http_proxy https_proxy HTTP_PROXY HTTPS_PROXY; do
    [ -n "${!var:-}" ] && fresh_args+=(-e "$var=${!var}")
  done
  if [ -n "${http_proxy:-}${https_proxy:-}${HTTP_PROXY:-}${HTTPS_PROXY:-}" ]; then
    np="${no_proxy:-${NO_PROXY:-}}"
    fresh_args+=(-e "no_proxy=${np:+$np,}localhost,127.0.0.1,.localhost" -e "NO_PROXY=${np:+$np,}localhost,127.0.0.1,.localhost")
  fi
  apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' >"$work/apt-proxy.conf" || true
  [ -s "$work/apt-proxy.conf" ] && fresh_args+=(-v "$work/apt-proxy.conf:/etc/apt/apt.conf.d/99host-proxy:ro")
  return 0
}
