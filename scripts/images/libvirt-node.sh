#!/usr/bin/env bash
# Build the libvirt provider's node disk from the baked node image learnhpc/node:12 (every
# package of the roles installed): that image plus what a VM needs and a container lacks (a
# kernel and its initramfs, udev, cloud-init, the OpenSSH server, ifupdown with a DHCP client,
# the NFS server, the QEMU guest agent), configured as Debian's cloud images are
# (libvirt-node/99-learnhpc.cfg), with the units a container does without unmasked again, and
# generalised: no SSH host key, no machine-id, no cloud-init state, no package lists.
#
# The disk is a bare ext4 file system (label learnhpc-root, no partition table, no boot
# loader), made from the container's exported files by `mkfs.ext4 -d`: no loop device, no mount.
# A domain boots it with QEMU's direct kernel boot. What a domain must use:
#
#   <os>
#     <type arch='x86_64' machine='pc'>hvm</type>
#     <kernel>/var/lib/libvirt/images/learnhpc/node-12.vmlinuz</kernel>
#     <initrd>/var/lib/libvirt/images/learnhpc/node-12.initrd.img</initrd>
#     <cmdline>root=/dev/vda rw console=ttyS0,115200 net.ifnames=0</cmdline>
#   </os>
#   <features><acpi/><apic/></features>       (ACPI: `virsh shutdown` powers it off cleanly)
#   <disk type='volume' device='disk'>         (an overlay: qcow2 with backing file
#     <driver name='qemu' type='qcow2'/>         /var/lib/libvirt/images/learnhpc/node-12.qcow2,
#     <source pool='POOL' volume='NODE.qcow2'/>  backing format qcow2, as large as the node's
#     <target dev='vda' bus='virtio'/>           disk: the root file system grows to it; made
#   </disk>                                      with vol-create and a <backingStore> by path)
#   <disk type='volume' device='cdrom'>        (the NoCloud seed: cloud-localds -N
#     <driver name='qemu' type='raw'/>           network-config seed.iso user-data meta-data;
#     <source pool='POOL' volume='NODE-seed.iso'/>  network-config matches the NIC's MAC,
#     <target dev='hdc' bus='ide'/><readonly/>   names it eth0 and asks for DHCP)
#   </disk>
#   <interface type='network'> ... <model type='virtio'/></interface>
#   <serial type='pty'/><console type='pty'/>  (the console is ttyS0)
#   <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
#
# The disk must be the only virtio disk (it is /dev/vda); cloud-init's default user is
# `debian` (the seed's user-data gives it the SSH key). Outputs, in
# /var/lib/libvirt/images/learnhpc/ (libvirt's QEMU user can read there): node-12.qcow2,
# node-12.vmlinuz, node-12.initrd.img, and node-12.recipe, the hash of the recipe (the node
# image's id, this script, systemd.sh and the files of libvirt-node/): nothing is built when
# it matches. The files are written under other names and renamed at the end, so a failed
# build leaves the old disk as it was; and the disk is never replaced while a libvirt
# domain or volume uses it (overlays point at it by path: their events must go first).
#
# Usage: libvirt-node.sh [--force]   (as root: the files keep their owners and modes;
#        LEARNHPC_LIBVIRT_IMAGES=DIR writes to DIR instead, e.g. to try a change)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=${LEARNHPC_NODE_IMAGE:-learnhpc/node:12}
outdir=${LEARNHPC_LIBVIRT_IMAGES:-/var/lib/libvirt/images/learnhpc}
out=$outdir/node-12
uri=qemu:///system
name=learnhpc-libvirt-node-build-$$
# What a VM needs that a container image lacks. linux-image-cloud-amd64: virtio drivers,
# NFS server and client, no hardware drivers; udev and kmod load its modules.
packages="linux-image-cloud-amd64 initramfs-tools udev kmod cloud-init cloud-guest-utils
    openssh-server sudo ifupdown isc-dhcp-client netbase nfs-kernel-server nfs-common
    qemu-guest-agent e2fsprogs"

# shellcheck source=scripts/images/systemd.sh
. "$here/systemd.sh"
say() { printf 'libvirt-node: %s\n' "$*"; }
die() { printf 'libvirt-node: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run this as root: the disk's files must keep their owners and modes"
for tool in docker mkfs.ext4 debugfs qemu-img flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run 'scripts/libvirt-host.sh start' first"
done
base_id=$(docker image inspect -f '{{ .Id }}' "$base" 2>/dev/null) ||
    die "base image $base not found: run 'make setup' first"
recipe=$(cat <(echo "$base_id") "$here/libvirt-node.sh" "$here/systemd.sh" "$here"/libvirt-node/* |
    sha256sum | cut -c1-16)
if [ "$(cat "$out.recipe" 2>/dev/null)" = "$recipe" ] && [ "${1:-}" != --force ] &&
    [ -s "$out.qcow2" ] && [ -s "$out.vmlinuz" ] && [ -s "$out.initrd.img" ]; then
    say "$out.qcow2 is up to date (recipe $recipe)"
    exit 0
fi

install -d -m 0755 "$outdir"
exec 9>"$outdir/.node-12.lock"
flock -n 9 || die "another build of $out.qcow2 is running (it holds $outdir/.node-12.lock)"

# Who uses the disk now: processes that have it open (QEMU), libvirt volumes whose backing
# file it is (the overlays of an event, running or not), domains whose disks' backing chain
# holds it. Prints one line, empty when nobody does.
users_of() {
    local image=$1 who="" pid pool vol dom src
    for pid in $(find /proc/[0-9]*/fd -lname "$image" 2>/dev/null | cut -d/ -f3 | sort -u); do
        who+="${who:+, }process $pid ($(cat "/proc/$pid/comm" 2>/dev/null))"
    done
    if virsh -q -c "$uri" version >/dev/null 2>&1; then
        for pool in $(virsh -q -c "$uri" pool-list --name); do
            for vol in $(virsh -q -c "$uri" vol-list --pool "$pool" | awk '{print $1}'); do
                virsh -q -c "$uri" vol-dumpxml --pool "$pool" "$vol" 2>/dev/null |
                    sed -n '/<backingStore>/,/<\/backingStore>/p' | grep -qF "<path>$image</path>" &&
                    who+="${who:+, }volume $vol of pool $pool"
            done
        done
        for dom in $(virsh -q -c "$uri" list --all --name); do
            for src in $(virsh -q -c "$uri" domblklist --details "$dom" | awk '$2 == "disk" && $4 ~ /^\// {print $4}'); do
                qemu-img info -U --backing-chain "$src" 2>/dev/null | grep -qxF "image: $image" &&
                    who+="${who:+, }domain $dom"
            done
        done
    elif [ -e "$image" ]; then
        who+="${who:+, }unknown volumes (libvirtd does not answer on $uri: run 'scripts/libvirt-host.sh start')"
    fi
    echo "$who"
}
check_unused() {
    local who
    who=$(users_of "$out.qcow2")
    [ -z "$who" ] || die "$out.qcow2 is in use by $who: tear those events down first (their overlays point at this file)"
}
check_unused

work=$(mktemp -d /var/tmp/learnhpc-libvirt-node.XXXXXX)
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf --one-file-system "$work"
    rm -f "$out".*.new
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
start=$(date +%s)
phase_start=$start
phases=""
phase() { local now; now=$(date +%s); phases+="${phases:+, }$1 $((now - phase_start)) s"; phase_start=$now; }

# --- 1. The VM's packages and configuration, in a container of the node image ----------------
say "installing the VM's packages into a container of $base"
docker run -d --name "$name" --hostname libvirt-node-build "${SYSTEMD_CONTAINER[@]}" "$base" >/dev/null
wait_booted "$name"
docker cp "$here/libvirt-node/." "$name:/var/tmp/libvirt-node"
docker exec -e packages="$packages" "$name" sh -euc '
    export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
    printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    # Before the kernel: its initramfs hook reads the root file system type from fstab (fsck).
    install -m 0644 /var/tmp/libvirt-node/fstab /etc/fstab
    install -D -m 0644 /var/tmp/libvirt-node/interfaces /etc/network/interfaces
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
    rm -f /usr/sbin/policy-rc.d
    install -m 0644 /var/tmp/libvirt-node/99-learnhpc.cfg /etc/cloud/cloud.cfg.d/99-learnhpc.cfg
    # debian-systemd.sh masked what a container does without; a VM needs it: consoles,
    # udev, the remount of / with the options of fstab, kernel modules, kernel file systems.
    # Still masked: the apt timers (no upgrade that the roles did not ask for) and
    # systemd-firstboot (it would ask on the console for what cloud-init sets).
    for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
        systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
        dev-hugepages.mount systemd-modules-load.service systemd-journald-audit.socket; do
        if [ "$(readlink "/etc/systemd/system/$unit")" = /dev/null ]; then rm "/etc/systemd/system/$unit"; fi
    done
    systemctl enable ssh.service networking.service nfs-server.service cloud-init-local.service \
        cloud-init.service cloud-config.service cloud-final.service >/dev/null 2>&1
    # Work for nothing, which costs a VM without KVM dearly: e2scrub_reap looks for LVM
    # snapshots at every boot (30 s of CPU under TCG; there is no LVM), nfs-blkmap serves pNFS
    # block layouts (unused; it only warns), man-db indexes manual pages the image has not.
    systemctl disable e2scrub_reap.service e2scrub_all.timer nfs-blkmap.service man-db.timer >/dev/null 2>&1
    # Generalise: each VM makes its own host keys, machine-id and random seed at its first boot.
    rm -f /etc/ssh/ssh_host_* /var/lib/systemd/random-seed /var/lib/dbus/machine-id /var/lib/dhcp/*.leases
    cloud-init clean --logs >/dev/null
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp /var/tmp/libvirt-node
    touch -d @0 /var/lib/apt/lists
    find /var/log -type f -exec truncate -s 0 {} +' || die "installing the VM's packages failed (see above)"
docker stop -t 30 "$name" >/dev/null
phase packages

# --- 2. Its files, as a directory -------------------------------------------------------------
say "exporting the container's files"
root=$work/root
mkdir -m 0755 "$root"
docker export "$name" | tar -C "$root" -x --numeric-owner --same-permissions --xattrs --xattrs-include='*'
docker rm -f "$name" >/dev/null
# Docker bind-mounted these into the container: in the export they are its placeholders.
# /etc/resolv.conf stays an empty file that dhclient writes.
rm -f "$root/.dockerenv"
printf 'localhost\n' >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' \
    >"$root/etc/hosts"
rm -f "$root/etc/resolv.conf"
: >"$root/etc/resolv.conf"
chmod 0644 "$root/etc/hostname" "$root/etc/hosts" "$root/etc/resolv.conf"
# systemd mounted a made-up machine-id over the file in the container; the file must be empty.
: >"$root/etc/machine-id"
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp"
chmod 1777 "$root/tmp"
kernels=("$root"/boot/vmlinuz-*)
[ ${#kernels[@]} -eq 1 ] && [ -f "${kernels[0]}" ] || die "expected one kernel in /boot, found: ${kernels[*]##*/}"
version=${kernels[0]##*/vmlinuz-}
[ -f "$root/boot/initrd.img-$version" ] || die "the kernel $version has no initramfs in /boot"
install -m 0644 "${kernels[0]}" "$out.vmlinuz.new"
install -m 0644 "$root/boot/initrd.img-$version" "$out.initrd.img.new"
phase export

# --- 3. The ext4 file system ------------------------------------------------------------------
# The content and 30 % to spare, rounded up to 256 MiB; enough inodes for the files and half
# as many again (mkfs.ext4 -d fails when they run out). resize2fs grows both at the first boot.
used_kib=$(du -sk --one-file-system "$root" | cut -f1)
size_mib=$(( (used_kib * 13 / 10 / 1024 + 255) / 256 * 256 ))
entries=$(find "$root" -xdev | wc -l)
inodes=$(( entries * 3 / 2 ))
[ "$inodes" -gt $(( size_mib * 64 )) ] || inodes=$(( size_mib * 64 ))   # mkfs's default, 1 per 16 KiB
say "making the file system ($((used_kib / 1024)) MiB in $entries files -> $size_mib MiB, $inodes inodes)"
raw=$work/node.ext4
truncate -s "${size_mib}M" "$raw"
mkfs.ext4 -q -F -L learnhpc-root -N "$inodes" -E root_owner=0:0 -d "$root" "$raw" ||
    die "mkfs.ext4 -d failed (see above)"
# mkfs.ext4 -d copies owners, modes and file capabilities; check one setuid file and one
# directory of a service user, as they are in the directory.
for path in /usr/bin/sudo /var/lib/munge; do
    [ -e "$root$path" ] || continue
    want=$(stat -c '%u %g %a' "$root$path")
    got=$(debugfs -R "stat $path" "$raw" 2>/dev/null |
        awk '/Mode:/ {for (i = 1; i < NF; i++) if ($i == "Mode:") m = $(i + 1)}
             /User:/ {for (i = 1; i < NF; i++) { if ($i == "User:") u = $(i + 1); if ($i == "Group:") g = $(i + 1) }}
             END {sub(/^0+/, "", m); print u, g, m}')
    [ "$got" = "$want" ] || die "mkfs.ext4 -d changed $path: owner, group, mode $got instead of $want"
done
rm -rf --one-file-system "$root"
phase mkfs

# --- 4. The qcow2 -----------------------------------------------------------------------------
# Not compressed: 4 s instead of 60 s (measured at load 4.5), for 1.4 GiB on disk instead of
# 0.4 GiB; and QEMU need not inflate every cluster a VM reads.
qemu-img convert -q -f raw -O qcow2 "$raw" "$out.qcow2.new"
chmod 0644 "$out.qcow2.new"
rm -f "$raw"
phase qcow2

# Nobody may have started using the old disk meanwhile.
check_unused
mv -f "$out.vmlinuz.new" "$out.vmlinuz"
mv -f "$out.initrd.img.new" "$out.initrd.img"
mv -f "$out.qcow2.new" "$out.qcow2"
echo "$recipe" >"$out.recipe.new"
mv -f "$out.recipe.new" "$out.recipe"
say "built $out.qcow2 ($(du -m "$out.qcow2" | cut -f1) MiB, $size_mib MiB virtual; kernel $version;" \
    "recipe $recipe) in $(($(date +%s) - start)) s: $phases"
