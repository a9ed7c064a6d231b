#!/usr/bin/env bash
# rgw.sh - a throw-away, single-node Ceph RADOS Gateway (real S3 with SigV4
# verification) for hlsgate's end-to-end tests. No systemd, no mgr, nothing
# in /etc/ceph or /var/lib/ceph: everything lives under DIR.
#
# Usage:
#   scripts/rgw.sh start DIR [PORT]   start mon + osd + radosgw under DIR
#   scripts/rgw.sh stop DIR           stop exactly the daemons started in DIR
#   scripts/rgw.sh status DIR         print which recorded daemons are alive
#
# start:
#   PORT defaults to 7480 if that port is free, else a free ephemeral port.
#   All daemons bind 127.0.0.1 only. The monitor port is chosen free too, so
#   several instances (different DIRs) can run side by side; concurrent starts
#   without PORT pick their port one at a time (flock on the radosgw binary,
#   opened read-only: one lock for every instance on the machine, and no file
#   written outside DIR).
#   A previous (stopped) cluster in DIR is wiped and re-created; starting on a
#   DIR whose recorded daemons are still alive is an error.
#   Every wait is bounded (RGW_START_TIMEOUT seconds in all, default 90; a
#   clean start takes ~2 s). On failure (or INT/TERM) it prints the tail of
#   the relevant log, stops what it started and exits non-zero.
#   On success writes DIR/env (shell-sourceable):
#     RGW_ENDPOINT=http://127.0.0.1:PORT   RGW_PORT=PORT
#     RGW_ACCESS_KEY=HGTESTACCESSKEY0000
#     RGW_SECRET_KEY=hgtest/secret/key/0000000000000000000
#     RGW_REGION=us-east-1                 RGW_DNS_NAME=s3.localhost
#     RGW_PIDS="MONPID OSDPID RGWPID"      RGW_DIR=DIR  RGW_CONF=DIR/ceph.conf
#
# stop: stops the recorded daemons one at a time (radosgw, osd, mon): TERM,
#   then KILL after RGW_STOP_TIMEOUT s (default 15). A PID is only signalled
#   while /proc/PID/cmdline still names DIR/ceph.conf. Removes DIR/pids, keeps
#   everything else (logs, env). No recorded daemon alive -> no-op, exit 0.
#
# Fixed test credentials (S3 user uid "hgtest"):
#   access key  HGTESTACCESSKEY0000
#   secret key  hgtest/secret/key/0000000000000000000
# (override with RGW_ACCESS_KEY / RGW_SECRET_KEY in the environment of start)
#
# Virtual-host style: radosgw runs with "rgw dns name = $RGW_DNS_NAME"
# (default s3.localhost), so a request with "Host: BUCKET.s3.localhost:PORT"
# addresses BUCKET. Path style (http://127.0.0.1:PORT/BUCKET/KEY) keeps working.
# curl/libcurl resolve *.localhost to loopback by themselves; getaddrinfo
# (python, most C code) does not: use curl --resolve, an /etc/hosts entry or
# connect to 127.0.0.1 with that Host header (see tests/e2e/rgw_smoke.py).
# Set RGW_DNS_NAME at start to use another domain.
# Note: radosgw accepts a Host header *without* port whether the signature
# was computed with or without ":PORT"; a wrong port or host name -> 403.
#
# Needs (Debian 12):
#   apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd \
#       ceph-common uuid-runtime
# plus curl, flock, timeout and /usr/bin/python3 (free ports, socket owners).
#
# Storage is memstore (RAM); the data is meant to be thrown away.
set -euo pipefail

PROG=${0##*/}
ACCESS_KEY=${RGW_ACCESS_KEY:-HGTESTACCESSKEY0000}
SECRET_KEY=${RGW_SECRET_KEY:-hgtest/secret/key/0000000000000000000}
DNS_NAME=${RGW_DNS_NAME:-s3.localhost}
START_TIMEOUT=${RGW_START_TIMEOUT:-90}
STOP_TIMEOUT=${RGW_STOP_TIMEOUT:-15}
USER_UID=hgtest
# serializes the port choice of concurrent starts (see the radosgw step); a file every instance
# has and nobody writes, so no lock file is left behind
PORT_LOCK=$(command -v radosgw || echo /usr/bin/radosgw)

die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

port_free() {   # port_free PORT -> 0 if 127.0.0.1:PORT can be bound
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like radosgw: TIME_WAIT is ok
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

free_port() {   # prints a currently free TCP port on 127.0.0.1
    /usr/bin/python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# owns_listener PID PORT -> 0 if process PID listens on 127.0.0.1:PORT (so an
# answer on PORT comes from our radosgw, not from another instance)
owns_listener() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
want = "0100007F:%04X" % port
inodes = set()
with open("/proc/net/tcp") as f:
    next(f)
    for line in f:
        p = line.split()
        if p[1] == want and p[3] == "0A":      # local address, state LISTEN
            inodes.add("socket:[%s]" % p[9])
try:
    fds = os.listdir("/proc/%s/fd" % pid)
except OSError:
    sys.exit(1)
for fd in fds:
    try:
        if os.readlink("/proc/%s/fd/%s" % (pid, fd)) in inodes:
            sys.exit(0)
    except OSError:
        pass
sys.exit(1)
EOF
}

# pid_is_ours PID DIR -> 0 if PID is alive and is a ceph daemon of DIR
pid_is_ours() {
    local pid=$1 dir=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$dir/ceph.conf"* ]]
}

tail_log() {    # tail_log FILE...
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "----- last lines of $f -----" >&2
        tail -n 30 "$f" >&2
    done
}

# ---------------------------------------------------------------- stop

# stop_one PID NAME DIR: TERM, wait up to STOP_TIMEOUT s, then KILL
stop_one() {
    local pid=$1 name=$2 dir=$3 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
        pid_is_ours "$pid" "$dir" || return 0
        sleep 0.05
    done
    log "$name (pid $pid) still alive after ${STOP_TIMEOUT}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        pid_is_ours "$pid" "$dir" || return 0
        sleep 0.05
    done
    log "warning: $name (pid $pid) survived KILL"
    return 1
}

do_stop() {
    local dir=$1 pids=() names=() pid name i rc=0
    [[ -f $dir/pids ]] || { log "nothing recorded in $dir/pids; nothing to stop"; return 0; }
    while read -r pid name; do
        [[ -n ${pid:-} ]] || continue
        if pid_is_ours "$pid" "$dir"; then
            pids+=("$pid"); names+=("${name:-?}")
        fi
    done < "$dir/pids"
    if ((${#pids[@]} == 0)); then
        log "no recorded daemon of $dir is running"
        rm -f "$dir/pids"
        return 0
    fi
    # one at a time in reverse start order (rgw, osd, mon): stopping them all
    # at once makes radosgw wait for the vanished OSD (5 s instead of 0.4 s)
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        log "stopping ${names[i]} (pid ${pids[i]})"
        stop_one "${pids[i]}" "${names[i]}" "$dir" || rc=1
    done
    if ((rc == 0)); then
        rm -f "$dir/pids"
        log "stopped"
    fi
    return $rc
}

do_status() {
    local dir=$1 pid name rc=1
    [[ -f $dir/pids ]] || { echo "not running (no $dir/pids)"; return 1; }
    while read -r pid name; do
        [[ -n ${pid:-} ]] || continue
        if pid_is_ours "$pid" "$dir"; then
            echo "$name pid $pid running"; rc=0
        else
            echo "$name pid $pid not running"
        fi
    done < "$dir/pids"
    return $rc
}

# ---------------------------------------------------------------- start

STARTED_DIR=""
on_start_exit() {
    local rc=$?
    if ((rc != 0)) && [[ -n $STARTED_DIR ]]; then
        log "start failed; stopping what was started"
        do_stop "$STARTED_DIR" || true
    fi
}

# wait_for DESC SECONDS LOGFILES -- CMD...
# retries CMD until it succeeds (0); gives up at once if CMD returns 2
wait_for() {
    local desc=$1 secs=$2 logs=$3 deadline
    shift 4
    deadline=$((SECONDS + secs))
    local rc
    while :; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        ((rc == 0)) && return 0
        ((rc == 2)) && { "$@" >/dev/null || true; return 1; }
        if ((SECONDS >= deadline)); then
            log "timed out after ${secs}s waiting for $desc"
            # shellcheck disable=SC2086
            tail_log $logs
            return 1
        fi
        check_alive || return 1
        sleep 0.2
    done
}

check_alive() {   # every recorded daemon still running?
    local pid name
    while read -r pid name; do
        [[ -n ${pid:-} ]] || continue
        if ! pid_is_ours "$pid" "$DIR"; then
            log "$name (pid $pid) exited unexpectedly"
            tail_log "$DIR/log/$name.out" "$DIR/log/$name.log"
            return 1
        fi
    done < "$DIR/pids"
}

spawn() {   # spawn NAME CMD... : start in background, record pid
    local name=$1; shift
    # fd 9 (the port lock) must not be inherited by the daemon
    "$@" > "$DIR/log/$name.out" 2>&1 < /dev/null 9>&- &
    echo "$! $name" >> "$DIR/pids"
    log "started $name (pid $!)"
}

remaining() { local r=$((START_DEADLINE - SECONDS)); ((r > 1)) && echo $r || echo 1; }

do_start() {
    local port=${1:-} mon_port fsid osd_uuid conf t0=$SECONDS
    command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null \
        && command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null \
        && command -v monmaptool >/dev/null && command -v ceph >/dev/null \
        || die "ceph binaries missing; install: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common uuid-runtime"
    command -v curl >/dev/null || die "curl missing"
    command -v uuidgen >/dev/null || die "uuidgen missing (apt-get install uuid-runtime)"

    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    if [[ -f $DIR/pids ]] && do_status "$DIR" >/dev/null 2>&1; then
        die "a cluster recorded in $DIR/pids is still running; run: $PROG stop $DIR"
    fi

    local auto_port=1
    if [[ -n $port ]]; then
        auto_port=0
        [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad port: $port"
        port_free "$port" || die "port $port on 127.0.0.1 is in use"
    else
        port=0   # picked right before radosgw starts
    fi
    mon_port=$(free_port)
    while [[ $mon_port == "$port" || $mon_port == 7480 ]]; do mon_port=$(free_port); done

    # fresh cluster: wipe only what a previous run of this script created
    rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash" \
           "$DIR/monmap" "$DIR/env" "$DIR/pids" "$DIR/ceph.conf"
    mkdir -p "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash"
    : > "$DIR/pids"

    STARTED_DIR=$DIR
    trap on_start_exit EXIT
    trap 'exit 130' INT TERM HUP
    START_DEADLINE=$((SECONDS + START_TIMEOUT))

    fsid=$(uuidgen)
    osd_uuid=$(uuidgen)
    conf=$DIR/ceph.conf
    cat > "$conf" <<EOF
# generated by scripts/rgw.sh - throw-away single-node test cluster
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false

auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc

osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
paxos propose interval = 0.1

run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.\$pid.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = true
crash dir = $DIR/crash
keyring = $DIR/keyring
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
rgw data = $DIR/rgw

[mon]
admin socket = $DIR/run/\$cluster-\$name.asok
mon data avail crit = 1
mon data avail warn = 2

[osd]
admin socket = $DIR/run/\$cluster-\$name.asok
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 256
osd max object namespace len = 64

[client.rgw.a]
admin socket = $DIR/run/\$cluster-\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$port
rgw dns name = $DNS_NAME
rgw thread pool size = 64
log file = $DIR/log/rgw.log
EOF

    # -- monitor
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
        "$DIR/monmap" >"$DIR/log/monmaptool.out" 2>&1 \
        || { tail_log "$DIR/log/monmaptool.out"; die "monmaptool failed"; }
    timeout "$(remaining)" ceph-mon -c "$conf" --mkfs -i a --monmap "$DIR/monmap" >"$DIR/log/mon-mkfs.out" 2>&1 \
        || { tail_log "$DIR/log/mon-mkfs.out" "$DIR/log/mon.a.log"; die "ceph-mon --mkfs failed"; }
    spawn mon ceph-mon -c "$conf" -f -i a
    wait_for "the monitor to answer" "$(remaining)" "$DIR/log/mon.out $DIR/log/mon.a.log" -- \
        ceph -c "$conf" --connect-timeout 3 mon stat

    # -- OSD (memstore)
    timeout "$(remaining)" ceph -c "$conf" --connect-timeout 10 osd new "$osd_uuid" 0 >"$DIR/log/osd-new.out" 2>&1 \
        || { tail_log "$DIR/log/osd-new.out"; die "ceph osd new failed"; }
    timeout "$(remaining)" ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1 \
        || { tail_log "$DIR/log/osd-mkfs.out" "$DIR/log/osd.0.log"; die "ceph-osd --mkfs failed"; }
    spawn osd ceph-osd -c "$conf" -f -i 0
    wait_for "osd.0 to be up" "$(remaining)" "$DIR/log/osd.out $DIR/log/osd.0.log" -- \
        osd_up "$conf"

    # -- S3 user with fixed keys, created before radosgw runs: radosgw-admin
    # notifies running radosgw instances of the change and would wait ~20 s
    # for any that died without unwatching (e.g. after a failed bind)
    timeout "$(remaining)" radosgw-admin -c "$conf" --log-file "$DIR/log/radosgw-admin.log" \
        user create --uid "$USER_UID" --display-name "hlsgate test user" \
        --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
        >"$DIR/log/user-create.out" 2>&1 \
        || { tail_log "$DIR/log/user-create.out" "$DIR/log/radosgw-admin.log"; die "radosgw-admin user create failed (or timed out)"; }

    # -- radosgw. radosgw binds its port only after it has connected to the
    # cluster (~1 s after start), so a port found free may be taken meanwhile:
    # radosgw then logs "failed to bind address" and hangs (or crashes) while
    # the port answers for someone else. Hence: concurrent starts of this
    # script pick their port one at a time under a lock (held until radosgw
    # listens); readiness means *our* radosgw owns the listening socket; and
    # if the port was picked here and got taken anyway, retry on another one.
    local tries=0 rgw_pid
    if ((auto_port)); then
        exec 9<"$PORT_LOCK"
        flock -w "$(remaining)" 9 || die "timed out waiting for $PORT_LOCK"
    fi
    while :; do
        if ((auto_port)); then
            if ((tries == 0)) && port_free 7480; then port=7480; else port=$(free_port); fi
            while [[ $port == "$mon_port" ]]; do port=$(free_port); done
        fi
        sed -i "s|^rgw frontends = .*|rgw frontends = beast endpoint=127.0.0.1:$port|" "$conf"
        spawn rgw radosgw -c "$conf" -f -n client.rgw.a
        rgw_pid=$(awk '$2 == "rgw" {print $1}' "$DIR/pids")
        if wait_for "radosgw to answer S3 on 127.0.0.1:$port" "$(remaining)" \
                "$DIR/log/rgw.out $DIR/log/rgw.log" -- rgw_ready "$rgw_pid" "$port"; then
            break
        fi
        stop_one "$rgw_pid" rgw "$DIR" || exit 1
        if bind_failed || ! port_free "$port"; then
            if ((auto_port && tries < 5)); then
                tries=$((tries + 1))
                sed -i '/ rgw$/d' "$DIR/pids"
                # keep the failed attempt's logs; the next one starts clean
                mv -f "$DIR/log/rgw.log" "$DIR/log/rgw.log.failed-$tries" 2>/dev/null || true
                mv -f "$DIR/log/rgw.out" "$DIR/log/rgw.out.failed-$tries" 2>/dev/null || true
                log "port $port was taken by another process meanwhile; retrying radosgw on another port"
                continue
            fi
            log "radosgw could not bind 127.0.0.1:$port (in use)"
        fi
        exit 1
    done
    ((auto_port)) && exec 9>&-

    # a request signed with the test keys must succeed
    wait_for "the test user to be accepted" "$(remaining)" "$DIR/log/rgw.log" -- \
        signed_request_ok "$port"

    local pids
    pids=$(awk '{printf "%s%s", (NR>1?" ":""), $1}' "$DIR/pids")
    {
        echo "# written by scripts/rgw.sh start; source it"
        echo "RGW_DIR=$(printf %q "$DIR")"
        echo "RGW_CONF=$(printf %q "$conf")"
        echo "RGW_PORT=$port"
        echo "RGW_ENDPOINT=http://127.0.0.1:$port"
        echo "RGW_ACCESS_KEY=$(printf %q "$ACCESS_KEY")"
        echo "RGW_SECRET_KEY=$(printf %q "$SECRET_KEY")"
        echo "RGW_REGION=us-east-1"
        echo "RGW_DNS_NAME=$(printf %q "$DNS_NAME")"
        echo "RGW_PIDS=\"$pids\""
        echo "export RGW_DIR RGW_CONF RGW_PORT RGW_ENDPOINT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_REGION RGW_DNS_NAME RGW_PIDS"
    } > "$DIR/env.tmp"
    mv "$DIR/env.tmp" "$DIR/env"
    STARTED_DIR=""
    trap - EXIT INT TERM HUP
    log "ready in $((SECONDS - t0))s: http://127.0.0.1:$port (pids $pids); env in $DIR/env"
}

osd_up() {
    ceph -c "$1" --connect-timeout 3 osd dump 2>/dev/null | grep -q '^osd\.0 up'
}

bind_failed() { grep -qs 'failed to bind address' "$DIR/log/rgw.out" "$DIR/log/rgw.log"; }

rgw_ready() {   # rgw_ready PID PORT; returns 2 (give up) on a bind failure
    if bind_failed; then
        log "radosgw failed to bind 127.0.0.1:$2"
        tail_log "$DIR/log/rgw.out"
        return 2
    fi
    owns_listener "$1" "$2" && s3_answers "$2"
}

s3_answers() {  # anonymous ListBuckets answers with an HTTP status
    local code
    code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$1/") || return 1
    [[ $code == 200 || $code == 403 ]]
}

# sha256 of the empty body: radosgw rejects SigV4 requests without
# x-amz-content-sha256, which curl 7.88's --aws-sigv4 does not add by itself
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
signed_request_ok() {   # ListBuckets signed with the test keys -> 200
    local code
    code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' \
        -H "x-amz-content-sha256: $EMPTY_SHA256" \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        "http://127.0.0.1:$1/") || return 1
    [[ $code == 200 ]]
}

# ---------------------------------------------------------------- main

(($# >= 2)) || usage
CMD=$1
DIR=$2
case $CMD in
    start)
        (($# <= 3)) || usage
        do_start "${3:-}"
        ;;
    stop)
        (($# == 2)) || usage
        [[ -d $DIR ]] || { log "no such directory $DIR; nothing to stop"; exit 0; }
        DIR=$(cd "$DIR" && pwd -P)
        do_stop "$DIR"
        ;;
    status)
        [[ -d $DIR ]] || die "no such directory $DIR"
        DIR=$(cd "$DIR" && pwd -P)
        do_status "$DIR"
        ;;
    *) usage ;;
esac
