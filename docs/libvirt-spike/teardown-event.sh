#!/usr/bin/env bash
# shellcheck disable=SC2086  # the spike's script as it ran (README.md); not used by the collection
# teardown-event.sh EVENT  -- remove everything that belongs to event EVENT:
# domains (found by <metadata><hpc:event id=EVENT>, falling back to the name
# prefix), their overlay+seed volumes, the per-event pool and network.
EV=$1; P=hpc${EV}
V="virsh -q -c qemu:///system"
NS=urn:hpc-training:1

list_event_domains() {
  for d in $($V list --all --name); do
    if $V metadata "$d" "$NS" 2>/dev/null | grep -q "id=\"$EV\""; then echo "$d"
    elif [[ $d == $P-* ]]; then echo "$d"; fi
  done
}

for d in $(list_event_domains); do
  $V destroy "$d" 2>/dev/null
  # --remove-all-storage deletes every disk/cdrom volume of the domain
  # (overlay + seed ISO); the shared base image is only a backing file and
  # is not touched.  --nvram is harmless for BIOS guests.
  $V undefine "$d" --remove-all-storage --nvram
done
if $V pool-info $P-pool >/dev/null 2>&1; then
  for vol in $($V vol-list $P-pool | awk '{print $1}'); do $V vol-delete --pool $P-pool "$vol"; done
  $V pool-destroy $P-pool; $V pool-delete $P-pool; $V pool-undefine $P-pool
fi
if $V net-info $P-net >/dev/null 2>&1; then
  $V net-destroy $P-net 2>/dev/null; $V net-undefine $P-net
fi
echo "left for $EV: domains=$(list_event_domains | wc -l)" \
     "nets=$($V net-list --all --name | grep -c "^$P-")" \
     "pools=$($V pool-list --all --name | grep -c "^$P-")"
