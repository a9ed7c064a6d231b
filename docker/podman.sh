#!/usr/bin/env bash
# podman.sh - run podman with hlsgate's own container storage and settings, so building and
# testing the image never touches the machine's default podman storage or configuration.
#
# Usage: docker/podman.sh PODMAN-ARGS...        e.g. docker/podman.sh images
#
# Environment:
#   HG_PODMAN_ROOT  persistent storage (images, layer cache)  [/var/tmp/hlsgate-podman]
#   HG_PODMAN_RUN   runtime state, should not outlive a reboot [/run/hlsgate-podman as root,
#                   else $XDG_RUNTIME_DIR/hlsgate-podman or $HG_PODMAN_ROOT/run]
#
# It writes $HG_PODMAN_ROOT/storage.conf and containers.conf (idempotent) and runs podman with
# CONTAINERS_STORAGE_CONF and CONTAINERS_CONF pointing at them:
#   - runtime runc: crun fails on these machines (cgroups, setrlimit);
#   - cgroupfs, file events and k8s-file logs: there is no systemd to talk to;
#   - default ulimits nofile 20000 and nproc 32768.
# A bash script can source it instead and call hg_podman_env, which only writes the files and
# exports the variables (sourcing changes no shell option).

HG_PODMAN_ROOT=${HG_PODMAN_ROOT:-/var/tmp/hlsgate-podman}
if [[ -z ${HG_PODMAN_RUN:-} ]]; then
    if [[ $(id -u) == 0 ]]; then
        HG_PODMAN_RUN=/run/hlsgate-podman
    elif [[ -n ${XDG_RUNTIME_DIR:-} ]]; then
        HG_PODMAN_RUN=$XDG_RUNTIME_DIR/hlsgate-podman
    else
        HG_PODMAN_RUN=$HG_PODMAN_ROOT/run
    fi
fi

hg_podman_env() {
    mkdir -p "$HG_PODMAN_ROOT/storage" "$HG_PODMAN_RUN/storage" "$HG_PODMAN_RUN/libpod" || return 1
    local storage=$HG_PODMAN_ROOT/storage.conf containers=$HG_PODMAN_ROOT/containers.conf tmp
    tmp=$(mktemp "$HG_PODMAN_ROOT/.conf.XXXXXX") || return 1
    cat >"$tmp" <<EOF || return 1
# written by docker/podman.sh
[storage]
driver = "overlay"
graphroot = "$HG_PODMAN_ROOT/storage"
runroot = "$HG_PODMAN_RUN/storage"
EOF
    # replace only when different, atomically (several runs may start at once)
    if cmp -s "$tmp" "$storage"; then rm -f "$tmp"; else mv -f "$tmp" "$storage" || return 1; fi
    tmp=$(mktemp "$HG_PODMAN_ROOT/.conf.XXXXXX") || return 1
    cat >"$tmp" <<EOF || return 1
# written by docker/podman.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$HG_PODMAN_RUN/libpod"
EOF
    if cmp -s "$tmp" "$containers"; then rm -f "$tmp"; else mv -f "$tmp" "$containers" || return 1; fi
    export CONTAINERS_STORAGE_CONF=$storage CONTAINERS_CONF=$containers
    export HG_PODMAN_ROOT HG_PODMAN_RUN
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    return 0 # sourced: the caller runs hg_podman_env itself
fi

set -euo pipefail
command -v podman >/dev/null || { echo "podman.sh: podman missing (scripts/setup.sh installs it)" >&2; exit 1; }
hg_podman_env
exec podman "$@"
