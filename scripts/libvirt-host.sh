#!/usr/bin/env bash
# Make this machine a libvirt host for the libvirt provider, or stop being one. Idempotent.
# Run as root. What it does, and why, was measured by the spike (docs/libvirt-spike/README.md).
#
#   start   Install the Debian packages that are missing (QEMU, libvirt, the NoCloud seed tool,
#           and what libvirt-python builds against), give /dev/kvm the owner and mode udev
#           would give it, start virtlogd and libvirtd when nothing answers on
#           /run/libvirt/libvirt-sock, and wait until qemu:///system answers (60 s at most).
#   stop    Only when no domain runs and no network is active: stop libvirtd and virtlogd, and
#           remove what libvirt 9.0 leaves on the host by itself: its LIBVIRT_* iptables
#           chains and the jumps to them, the nft tables it made, its empty cgroup directories.
#   status  One line each: the daemons; the provider's domains (named learnhpc-* or labelled by
#           it), and the networks and storage pools named learnhpc-*.
#           Exits 3 when libvirtd does not answer (as an init script's status does).
#
# Usage: libvirt-host.sh start|stop|status
set -euo pipefail

uri=qemu:///system
# The tables of iptables-nft that libvirt 9.0 makes and never removes. ip filter and ip nat are
# Docker's too: only libvirt's chains in them are removed, never the tables.
libvirt_tables=("ip mangle" "ip6 filter" "ip6 nat" "ip6 mangle")
# Which of those tables existed before libvirtd started (written by start, read by stop): only
# the others were made by libvirt and may go.
state_dir=/run/learnhpc-libvirt-host
tables_before=$state_dir/nft-tables-before
libvirtd_log=/var/log/libvirt/libvirtd.log
# The namespace of the <metadata> that labels the provider's domains (plugins/module_utils/contract.py).
metadata_ns=https://learnhpc.org/xmlns/libvirt/node/1
packages=(qemu-system-x86 qemu-utils ipxe-qemu libvirt-daemon-system libvirt-clients
    cloud-image-utils dnsmasq-base socat e2fsprogs iptables nftables
    pkg-config libvirt-dev gcc)

say() { printf 'libvirt-host: %s\n' "$*"; }
die() { printf 'libvirt-host: error: %s\n' "$*" >&2; exit 1; }
virsh_q() { virsh -q -c "$uri" "$@"; }
answers() { virsh -q -c "$uri" version >/dev/null 2>&1; }
systemd_pid1() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
# The pid in a pid file, when that process is alive.
live_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
last_log_line() { tail -n 1 "$1" 2>/dev/null || echo "no $1"; }

# --- start ---------------------------------------------------------------------------------
install_packages() {
    local missing=() pkg policy=/usr/sbin/policy-rc.d saved=""
    for pkg in "${packages[@]}"; do
        [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" = "ii " ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and this is not a Debian-like system"
    say "installing ${missing[*]}"
    # The packages would start their daemons (and the default network's) from their postinst:
    # a policy-rc.d refuses that for the install only. One already there (a Docker-made image
    # has one) is put back as it was.
    if [ -e "$policy" ]; then
        saved=$(mktemp /usr/sbin/.policy-rc.d.learnhpc.XXXXXX)
        cp -p "$policy" "$saved"
    fi
    # shellcheck disable=SC2064  # the paths are fixed now, on purpose
    trap "if [ -n '$saved' ]; then mv -f '$saved' '$policy'; else rm -f '$policy'; fi" EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    apt-get update -qq >/dev/null || die "apt-get update failed: check the network and /etc/apt/sources.list"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
    if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
    trap - EXIT
}

# Without udev nobody gives /dev/kvm its group: libvirtd (root) then finds KVM when it probes
# QEMU, but the qemu user (libvirt-qemu, group kvm) cannot open it, and libvirtd probes QEMU
# again on every call: `virsh define` takes 70 s instead of 0.05 s. Debian's udev rule is
# root:kvm 0660. QEMU still runs on TCG where KVM does not work.
fix_kvm() {
    [ -e /dev/kvm ] || return 0
    local gid
    gid=$(getent group kvm | cut -d: -f3) || die "the group kvm does not exist: reinstall qemu-system-x86"
    if [ "$(stat -c %u:%g:%a /dev/kvm)" != "0:$gid:660" ]; then
        say "/dev/kvm: $(stat -c %U:%G:%a /dev/kvm) -> root:kvm:660"
        chown root:kvm /dev/kvm
        chmod 0660 /dev/kvm
    fi
}

start_daemons() {
    answers && return 0
    mkdir -p "$state_dir"
    local table out
    if ! live_pid /run/libvirtd.pid >/dev/null; then
        for table in "${libvirt_tables[@]}"; do
            # shellcheck disable=SC2086  # "ip mangle" is two words for nft
            nft list table $table >/dev/null 2>&1 && echo "$table"
        done >"$tables_before"
    fi
    if systemd_pid1; then
        say "starting virtlogd and libvirtd (systemd)"
        systemctl start virtlogd.socket virtlogd.service libvirtd.service ||
            die "systemctl start libvirtd failed: see 'journalctl -u libvirtd'"
        return 0
    fi
    if ! live_pid /run/virtlogd.pid >/dev/null; then
        say "starting virtlogd"
        out=$(virtlogd -d 2>&1) || die "virtlogd -d failed: ${out:-see /var/log/libvirt/virtlogd.log}"
    fi
    if ! live_pid /run/libvirtd.pid >/dev/null; then
        say "starting libvirtd (log: $libvirtd_log)"
        # Never --listen: it wants TLS certificates, and the local socket is all we use.
        out=$(libvirtd -d 2>&1) || die "libvirtd -d failed: ${out:-$(last_log_line "$libvirtd_log")}"
    fi
}

wait_answers() {
    for _ in $(seq 60); do
        virsh_q list >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "libvirtd did not answer on $uri within 60 s: see $libvirtd_log (last line: $(last_log_line "$libvirtd_log"))"
}

do_start() {
    install_packages
    fix_kvm
    start_daemons
    wait_answers
    say "ready ($(virsh_q version 2>/dev/null | sed -n 's/^Running hypervisor: //p'), $uri)"
}

# --- stop ----------------------------------------------------------------------------------
# Removes libvirt's LIBVIRT_* chains and the jumps to them from every table of one family's
# iptables that exists. Only listed tables are touched: listing does not create a table.
remove_libvirt_chains() {
    local ipt=$1 family=$2 table rules rule chain
    for table in filter nat mangle; do
        if [ "$nft_backend" = 1 ]; then nft list table "$family" "$table" >/dev/null 2>&1 || continue; fi
        # The jumps to libvirt's chains from the others, as iptables -S prints them (quoted).
        rules=$("$ipt" -t "$table" -S 2>/dev/null | awk '/^-A / && / -j LIBVIRT_/ && !/^-A LIBVIRT_/') || true
        while read -r rule; do
            [ -z "$rule" ] || eval "$ipt -t $table -D ${rule#-A }"
        done <<<"$rules"
        for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '/^-N LIBVIRT_/ {print $2}'); do
            "$ipt" -t "$table" -F "$chain"
            "$ipt" -t "$table" -X "$chain"
        done
    done
}

# True when an nft table holds no rule and no chain but built-in ones (what iptables-nft leaves).
nft_table_empty() {
    # shellcheck disable=SC2086
    ! nft list table $1 | grep -vE '^\s*(table .*\{|chain [A-Z]+ \{|type .* policy [a-z]+;|\}|#.*)?\s*$' | grep -q .
}

do_stop() {
    local running="" active="" pid pidfile table
    if answers; then
        running=$(virsh_q list --name | sed '/^$/d' | paste -sd ' ' -)
        active=$(virsh_q net-list --name | sed '/^$/d' | paste -sd ' ' -)
    elif pgrep -x qemu-system-x86 >/dev/null; then
        running="(qemu processes $(pgrep -x qemu-system-x86 | paste -sd ' ' -), libvirtd not answering)"
    fi
    if [ -n "$running" ] || [ -n "$active" ]; then
        printf 'libvirt-host: error: still in use: %s%s; tear those events down first\n' \
            "${running:+domains running: $running}" "${active:+${running:+; }networks active: $active}" >&2
        exit 1
    fi

    if systemd_pid1 && systemctl is-active -q libvirtd.service 2>/dev/null; then
        say "stopping libvirtd and virtlogd (systemd)"
        systemctl stop libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket \
            virtlogd.service virtlogd.socket virtlogd-admin.socket 2>/dev/null || true
    fi
    for pidfile in /run/libvirtd.pid /run/virtlogd.pid; do
        pid=$(live_pid "$pidfile") || continue
        say "stopping $(basename "$pidfile" .pid) (pid $pid)"
        kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && die "$(basename "$pidfile" .pid) (pid $pid) did not stop within 30 s"
    done

    # iptables-nft (Debian 12's default) keeps its tables in nf_tables; legacy iptables has none.
    nft_backend=0
    iptables -V 2>/dev/null | grep -q nf_tables && nft_backend=1
    remove_libvirt_chains iptables ip
    remove_libvirt_chains ip6tables ip6
    if [ "$nft_backend" = 1 ] && command -v nft >/dev/null; then
        for table in "${libvirt_tables[@]}"; do
            # shellcheck disable=SC2086
            nft list table $table >/dev/null 2>&1 || continue
            if [ ! -f "$tables_before" ]; then
                say "kept nft table $table: no record of the tables before libvirtd started"
            elif grep -qxF "$table" "$tables_before"; then
                :   # it was there before libvirt
            elif nft_table_empty "$table"; then
                # shellcheck disable=SC2086
                nft delete table $table
            else
                say "kept nft table $table: it holds rules that are not libvirt's"
            fi
        done
    fi
    rm -rf "$state_dir"

    # libvirt (cgroup v1 without systemd) leaves machine/ in every controller; empty once no VM
    # runs. rmdir removes only empty directories: the deepest first.
    local dir kept=()
    for dir in /sys/fs/cgroup/*/machine /sys/fs/cgroup/machine; do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$dir" ] && kept+=("$dir")
    done
    [ ${#kept[@]} -eq 0 ] || say "kept cgroup directories that are not empty: ${kept[*]}"
    say "stopped"
}

# --- status --------------------------------------------------------------------------------
# The networks or pools (net-list, pool-list) named learnhpc-*, as "name (state), ...", or "none".
learnhpc_rows() {
    local rows
    rows=$(virsh_q "$1" --all 2>/dev/null |
        awk '$1 ~ /^learnhpc-/ {printf "%s%s (%s)", sep, $1, $2; sep = ", "}')
    echo "${rows:-none}"
}

# The domains named learnhpc-*, or labelled as the provider labels its nodes (named as the nodes,
# with <metadata> in the namespace of contract.py's LIBVIRT_METADATA_NS), or "none".
learnhpc_domains() {
    local dom rows=""
    for dom in $(virsh_q list --all --name 2>/dev/null); do
        case $dom in
            learnhpc-*) ;;
            *) virsh_q metadata "$dom" "$metadata_ns" >/dev/null 2>&1 || continue ;;
        esac
        rows+="${rows:+, }$dom ($(virsh_q domstate "$dom" 2>/dev/null))"
    done
    echo "${rows:-none}"
}

do_status() {
    local line="" name pid
    for name in libvirtd virtlogd; do
        if pid=$(live_pid "/run/$name.pid"); then line+="$name running (pid $pid), "
        else line+="$name not running, "; fi
    done
    if answers; then
        echo "daemons: ${line}$uri answers"
        echo "domains: $(learnhpc_domains)"
        echo "networks: $(learnhpc_rows net-list)"
        echo "pools: $(learnhpc_rows pool-list)"
    else
        echo "daemons: ${line}$uri does not answer"
        exit 3
    fi
}

[ "$(id -u)" -eq 0 ] || die "run this as root (it installs packages and starts system daemons)"
case ${1:-} in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) die "usage: $0 start|stop|status" ;;
esac
