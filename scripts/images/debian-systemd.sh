#!/usr/bin/env bash
# Build learnhpc/debian-systemd:12, the base image of every test and docker-provider node.
#
# No container registry is reachable from our machines, so the image is made from a
# debootstrap'ed Debian bookworm root file system and `docker import`. The image carries a
# label with the hash of its recipe (this file plus the host CA certificates baked in);
# `scripts/setup.sh` rebuilds it only when that hash changes.
#
# Usage: debian-systemd.sh HASH
set -euo pipefail

hash=${1:?usage: $0 RECIPE_HASH}
image=${LEARNHPC_BASE_IMAGE:-learnhpc/debian-systemd:12}
mirror=${LEARNHPC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

# What a node needs before Ansible takes over: systemd as PID 1, python3 for modules,
# python3-apt for ansible.builtin.apt, sudo and ACLs for become_user, CA certificates.
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,acl,ca-certificates,iproute2,procps,less,gnupg,curl

rootfs=$(mktemp -d /var/tmp/learnhpc-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$rootfs"' EXIT

debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    echo "debootstrap failed; last lines of $rootfs.log:" >&2
    tail -n 20 "$rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"

cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
SOURCES

# The host's extra CA certificates (a TLS-inspecting proxy, a site CA): without them pip and
# npm inside the containers cannot reach their registries.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi

# Units that have nothing to do (or fail) in a container.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
    systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
    dev-hugepages.mount systemd-firstboot.service systemd-modules-load.service \
    systemd-journald-audit.socket apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
ln -sf /lib/systemd/system/multi-user.target "$rootfs/etc/systemd/system/default.target"

# Keep images small and apt fast: no documentation, no translations.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-learnhpc-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
NODOC
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/01-learnhpc-nolang"
echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/01-learnhpc-norecommends"

# The image must not carry identity: each container gets its own machine-id at boot.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# No package lists in the image: make them look old, so that the first
# `apt: update_cache: true, cache_valid_time: ...` fetches them.
touch -d @0 "$rootfs/var/lib/apt/lists"

tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --change "LABEL org.learnhpc.recipe=$hash" \
    - "$image" >/dev/null
echo "built $image (recipe $hash)"
