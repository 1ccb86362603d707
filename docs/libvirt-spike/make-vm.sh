#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2086  # the spike's script as it ran (README.md); not used by the collection
# make-vm.sh EVENT NAME MAC [MEM_MIB] [DISK]   -- define (not start) one VM
# - qcow2 overlay on the base image, created as a volume in pool <prefix>-pool
# - NoCloud seed ISO (cloud-localds) uploaded as a volume in the same pool
# - domain type 'qemu' (TCG), 1 vCPU, self-booting disk (grub in the image)
#   or, with BOOT=kernel, libvirt direct kernel boot.
# - <metadata> tags the domain with the event id.
set -euo pipefail
EV=$1; NAME=$2; MAC=$3; MEM=${4:-1536}; DISK=${5:-8G}
P=hpc${EV}                           # resource name prefix, e.g. hpcev1
V="virsh -q -c qemu:///system"
D=/work/libvirt-spike
BASE=${BASE:-$D/images/debian12-hpc.qcow2}
POOL=$P-pool NET=$P-net
PUBKEY=$(cat $D/keys/id_ed25519.pub)
T=$(mktemp -d)

# disk: overlay volume with backing file (base stays read-only/shared)
$V vol-create-as $POOL $P-$NAME.qcow2 $DISK --format qcow2 \
   --backing-vol "$BASE" --backing-vol-format qcow2 >/dev/null

# cloud-init NoCloud seed
cat > $T/meta-data <<EOF
instance-id: $P-$NAME
local-hostname: $NAME
EOF
cat > $T/user-data <<EOF
#cloud-config
hostname: $NAME
fqdn: $NAME.$EV.hpc
manage_etc_hosts: true
users:
  - name: debian
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    lock_passwd: true
    ssh_authorized_keys: ["$PUBKEY"]
disable_root: true
ssh_pwauth: false
locale: C.UTF-8
EOF
cat > $T/network-config <<EOF
version: 2
ethernets:
  eth0:
    match: {macaddress: "$MAC"}
    set-name: eth0
    dhcp4: true
EOF
cloud-localds -N $T/network-config $T/seed.iso $T/user-data $T/meta-data
SZ=$(stat -c %s $T/seed.iso)
$V vol-create-as $POOL $P-$NAME-seed.iso $SZ --format raw >/dev/null
$V vol-upload --pool $POOL $P-$NAME-seed.iso $T/seed.iso
rm -rf $T
PD=$($V pool-dumpxml $POOL | sed -n 's:.*<path>\(.*\)</path>.*:\1:p')

if [ "${BOOT:-disk}" = kernel ]; then
  OSBOOT="<kernel>$D/images/vmlinuz</kernel><initrd>$D/images/initrd.img</initrd>
    <cmdline>root=UUID=$(cat $D/images/root-uuid) ro console=ttyS0,115200</cmdline>"
else
  OSBOOT="<boot dev='hd'/>"
fi

cat > $D/vms/$P-$NAME.xml <<EOF
<domain type='qemu'>
  <name>$P-$NAME</name>
  <metadata>
    <hpc:event xmlns:hpc="urn:hpc-training:1" id="$EV" role="$NAME"/>
  </metadata>
  <memory unit='MiB'>$MEM</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>$OSBOOT</os>
  <features><acpi/><apic/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source pool='$POOL' volume='$P-$NAME.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='$POOL' volume='$P-$NAME-seed.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='$NET'/>
      <mac address='$MAC'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <log file='$D/vms/$P-$NAME.console.log' append='off'/>
    </serial>
    <console type='pty'/>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='virtio'/>
  </devices>
</domain>
EOF
$V define $D/vms/$P-$NAME.xml >/dev/null
echo "defined $P-$NAME"
