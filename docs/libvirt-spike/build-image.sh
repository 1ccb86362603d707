#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2086  # the spike's script as it ran (README.md); not used by the collection
# Build a self-booting Debian 12 (bookworm) cloud disk image, like Debian's
# "genericcloud" image: MBR partition table, one ext4 root partition, grub-pc
# (BIOS) in the MBR, linux-image-cloud-amd64, cloud-init (NoCloud),
# ifupdown+isc-dhcp-client (cloud-init ENI renderer), openssh-server,
# qemu-guest-agent, nfs-common.  Output: qcow2 (compressed).
#
# usage: build-image.sh [OUT.qcow2] [SIZE]   (run as root; needs debootstrap,
#        qemu-utils, util-linux losetup with partition scan support)
set -euo pipefail
OUT=${1:-/work/libvirt-spike/images/debian12-hpc.qcow2}
SIZE=${2:-3G}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
EXTRA_PKGS=${EXTRA_PKGS:-}          # e.g. "nfs-kernel-server slurmd"
WORK=$(mktemp -d /work/libvirt-spike/build.XXXX)
RAW=$WORK/disk.raw
MNT=$WORK/mnt
LOOP=""

cleanup() {
  set +e
  for m in dev/pts dev proc sys run; do umount "$MNT/$m" 2>/dev/null; done
  umount "$MNT" 2>/dev/null
  [ -n "$LOOP" ] && { partx -d "$LOOP" 2>/dev/null; losetup -d "$LOOP"; }
  rm -rf "$WORK"
}
trap cleanup EXIT

t0=$(date +%s)
mkdir -p "$(dirname "$OUT")" "$MNT"
truncate -s "$SIZE" "$RAW"
# MBR, one bootable Linux partition from 1 MiB (grub core.img goes in the gap)
echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$RAW"
LOOP=$(losetup -f --show -P "$RAW")
# -P sets partscan=1 but on this host no loopXp1 appears; partx -a adds it
for i in $(seq 10); do [ -b "${LOOP}p1" ] && break; partx -a "$LOOP" 2>/dev/null || true; sleep 0.3; done
mkfs.ext4 -q -L rootfs "${LOOP}p1"
ROOT_UUID=$(blkid -s UUID -o value "${LOOP}p1")
mount "${LOOP}p1" "$MNT"

debootstrap --variant=minbase --include=ca-certificates bookworm "$MNT" "$MIRROR"
t1=$(date +%s); echo "== debootstrap done in $((t1-t0)) s"

cat > "$MNT/etc/apt/sources.list" <<EOF
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
echo "UUID=$ROOT_UUID / ext4 defaults,discard,errors=remount-ro 0 1" > "$MNT/etc/fstab"
echo localhost > "$MNT/etc/hostname"

for m in dev dev/pts proc sys run; do mkdir -p "$MNT/$m"; mount --bind "/$m" "$MNT/$m"; done

cat > "$MNT/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
chmod +x "$MNT/usr/sbin/policy-rc.d"

# grub-pc must not try to install itself onto a device during package install
chroot "$MNT" sh -c 'echo "grub-pc grub-pc/install_devices_empty boolean true" | debconf-set-selections;
                     echo "grub-pc grub-pc/install_devices multiselect" | debconf-set-selections'

chroot "$MNT" env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 install -y -q --no-install-recommends \
  linux-image-cloud-amd64 grub-pc systemd-sysv udev dbus \
  cloud-init cloud-guest-utils ifupdown isc-dhcp-client netbase iproute2 iputils-ping \
  openssh-server sudo qemu-guest-agent nfs-common locales less vim-tiny procps $EXTRA_PKGS
t2=$(date +%s); echo "== packages installed in $((t2-t1)) s"
# cloud-init's ENI renderer writes /etc/network/interfaces.d/50-cloud-init
printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' > "$MNT/etc/network/interfaces"

# --- grub on the raw disk (BIOS) -------------------------------------------
cat > "$MNT/etc/default/grub.d/50-cloud.cfg" <<'EOF'
GRUB_TIMEOUT=0
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF
chroot "$MNT" grub-install --target=i386-pc --modules="part_msdos ext2" "$LOOP"
chroot "$MNT" update-grub 2>&1 | tail -3
# No udev on the build host -> no /dev/disk/by-uuid -> grub-mkconfig writes
# root=/dev/loopXp1.  Rewrite it to the filesystem UUID.
sed -i "s#root=${LOOP}p1#root=UUID=${ROOT_UUID}#g" "$MNT/boot/grub/grub.cfg"
grep -m1 -o 'linux\s.*' "$MNT/boot/grub/grub.cfg"

# --- cloud-init: NoCloud only (skips slow datasource probing) ---------------
cat > "$MNT/etc/cloud/cloud.cfg.d/90-datasource.cfg" <<'EOF'
datasource_list: [ NoCloud, None ]
# update-locale fails for the default en_US.UTF-8 (not generated) -> cloud-init status: error
locale: C.UTF-8
EOF

# --- generalize -------------------------------------------------------------
chroot "$MNT" systemctl disable apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true
chroot "$MNT" systemctl enable qemu-guest-agent 2>/dev/null || true
rm -f "$MNT"/etc/ssh/ssh_host_* "$MNT/usr/sbin/policy-rc.d"
: > "$MNT/etc/machine-id"; rm -f "$MNT/var/lib/dbus/machine-id"
chroot "$MNT" apt-get clean
rm -rf "$MNT"/var/lib/apt/lists/* "$MNT"/tmp/* "$MNT"/var/log/*.log
fstrim "$MNT" 2>/dev/null || true

# copy kernel+initrd out as well (for libvirt direct-kernel-boot fallback)
KDIR=$(dirname "$OUT")
cp "$MNT"/boot/vmlinuz-* "$KDIR/vmlinuz"; cp "$MNT"/boot/initrd.img-* "$KDIR/initrd.img"
echo "$ROOT_UUID" > "$KDIR/root-uuid"

for m in dev/pts dev proc sys run; do umount "$MNT/$m"; done
umount "$MNT"
partx -d "$LOOP" 2>/dev/null || true; losetup -d "$LOOP"; LOOP=""
t3=$(date +%s)
qemu-img convert -c -O qcow2 "$RAW" "$OUT"
t4=$(date +%s)
echo "== grub+generalize $((t3-t2)) s, qemu-img convert -c $((t4-t3)) s, total $((t4-t0)) s"
qemu-img info "$OUT" | grep -E 'virtual size|disk size'
