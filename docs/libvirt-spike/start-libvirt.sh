#!/usr/bin/env bash
# shellcheck disable=SC2034  # the spike's script as it ran (README.md); not used by the collection
# start-libvirt.sh -- run libvirt 9.0 (Debian 12) without systemd.
# bookworm ships only the monolithic daemon (no virtqemud/virtnetworkd/...).
set -e
# /dev/kvm must be usable by the qemu user (libvirt-qemu:kvm) *or* libvirt
# re-probes QEMU capabilities on every define/start ("KVM was enabled when
# probing ..., but it is not available now") -> virsh define takes ~70 s.
# udev normally does this (root:kvm 0660); there is no udev here.
if [ -e /dev/kvm ] && [ "$(stat -c %g:%a /dev/kvm)" != "$(getent group kvm | cut -d: -f3):660" ]; then
  echo "fixing /dev/kvm perms (was $(stat -c %U:%G:%a /dev/kvm))"; chown root:kvm /dev/kvm; chmod 0660 /dev/kvm
fi
pgrep -F /run/virtlogd.pid >/dev/null 2>&1 || virtlogd -d          # pid file /run/virtlogd.pid
pgrep -F /run/libvirtd.pid >/dev/null 2>&1 || libvirtd -d          # NOT --listen (needs TLS certs)
for i in $(seq 50); do virsh -q -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
virsh -c qemu:///system uri
