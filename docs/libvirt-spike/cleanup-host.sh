#!/usr/bin/env bash
# shellcheck disable=SC2086  # the spike's script as it ran (README.md); not used by the collection
# cleanup-host.sh -- after all events are torn down: stop libvirtd/virtlogd that
# start-libvirt.sh started and remove what libvirt 9.0 leaves on the host
# (its LIBVIRT_* iptables chains + the nft tables it created, cgroup dirs).
# Only run it when no libvirt network/domain is needed any more.
set -u
V="virsh -q -c qemu:///system"
if [ -n "$($V list --name 2>/dev/null)" ] || [ -n "$($V net-list --name 2>/dev/null)" ]; then
  echo "domains/networks still active, refusing"; exit 1; fi

# 1. daemons (by pid file, not by name)
for p in /run/libvirtd.pid /run/virtlogd.pid; do
  [ -s $p ] && { pid=$(cat $p); kill "$pid" && echo "stopped $pid ($p)"; }; done
sleep 2

# 2. iptables (iptables-nft): libvirt 9.0 never removes its top-level chains.
#    Remove only the jumps to LIBVIRT_* and the (empty) LIBVIRT_* chains.
for ipt in iptables ip6tables; do
 for t in filter nat mangle; do
  for c in INPUT FORWARD OUTPUT POSTROUTING; do
    $ipt -t $t -S $c 2>/dev/null | grep -E -- '-j LIBVIRT_' | sed "s/^-A/-D/" |
      while read -r rule; do eval $ipt -t $t $rule; done
  done
  for ch in $($ipt -t $t -S 2>/dev/null | awk '/^-N LIBVIRT_/{print $2}'); do
    $ipt -t $t -F $ch; $ipt -t $t -X $ch; done
 done
done
# tables that did not exist before libvirt (baseline had only ip filter + ip nat):
# delete them only if nothing but empty built-in chains is left
for tb in "ip mangle" "ip6 filter" "ip6 nat" "ip6 mangle"; do
  if nft list table $tb >/dev/null 2>&1; then
    if ! nft list table $tb | grep -qE '^\s+(ip|ip6|meta|counter|jump|tcp|udp|oifname|iifname)'; then
      nft delete table $tb && echo "deleted nft table $tb"
    else echo "nft table $tb not empty, kept"; fi
  fi
done

# 3. cgroup v1 'machine' dirs libvirt created (empty once all VMs are gone)
for d in /sys/fs/cgroup/*/machine; do
  [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
ls -d /sys/fs/cgroup/*/machine 2>/dev/null || echo "cgroup machine dirs removed"

# 4. leftover runtime bits (libvirt keeps per-network state dirs in /run even after net-undefine)
rm -rf /run/libvirt/network/hpc*
# daemons are stopped: drop the whole runtime dir (recreated on next start)
pgrep -F /run/libvirtd.pid >/dev/null 2>&1 || rm -rf /run/libvirt
pgrep -a dnsmasq | grep -F /var/lib/libvirt/dnsmasq || echo "no libvirt dnsmasq"
ip -br link | grep -E 'hpc|virbr|vnet' || echo "no libvirt bridges/taps"
