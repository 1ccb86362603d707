#!/usr/bin/env bash
# Runs inside the build container after configure.sh: install the test cloud's own units,
# start every service, register the compute host, create flavors, the test image and the
# external network `public`, and stop everything again so the state can be committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

install -d /usr/local/lib/learnhpc
install -m 0755 "$here"/learnhpc-cloud-net.sh "$here"/learnhpc-cloud-endpoints.sh \
    "$here"/learnhpc-wait-rpc.sh "$here"/learnhpc-cloud-ready.sh /usr/local/lib/learnhpc/
install -m 0644 "$here"/cloud_setup.py /usr/local/lib/learnhpc/
install -m 0644 "$here"/learnhpc-cloud-net.service "$here"/learnhpc-cloud-endpoints.service \
    "$here"/learnhpc-neutron-rpc.service /etc/systemd/system/
install -D -m 0644 "$here"/timeouts.conf /etc/systemd/system.conf.d/learnhpc-timeouts.conf
for agent in neutron-linuxbridge-agent neutron-dhcp-agent neutron-l3-agent; do
    install -D -m 0644 "$here"/agent-wait-rpc.conf "/etc/systemd/system/$agent.service.d/learnhpc-wait-rpc.conf"
done
# The compute driver (servers as containers), and ebtables in front of ebtables-nft.
# nova loads compute drivers from the package nova.virt only.
cp -r "$here"/learnhpc_nova /usr/lib/python3/dist-packages/nova/virt/
install -m 0755 "$here"/ebtables /usr/local/sbin/ebtables
install -m 0644 "$here"/ebtables.py /usr/local/lib/learnhpc/ebtables.py
install -D -m 0644 "$here"/nova-compute-root.conf /etc/systemd/system/nova-compute.service.d/learnhpc-root.conf
# Admin credentials for troubleshooting inside the container (`. /root/openrc`); test-only.
install -m 0600 "$here"/openrc /root/openrc

# Installed as dependencies but of no use here: no metadata API, no iSCSI or LVM, no
# keepalived/radvd (no HA routers, no IPv6 router advertisements), no periodic jobs.
for unit in nova-api-metadata.service neutron-metadata-agent.service haproxy.service keepalived.service \
    radvd.service iscsid.service iscsid.socket open-iscsi.service tgt.service rtslib-fb-targetctl.service \
    lvm2-monitor.service lvm2-lvmpolld.socket dm-event.socket blk-availability.service \
    e2scrub_reap.service e2scrub_all.timer fstrim.timer dpkg-db-backup.timer logrotate.timer; do
    if systemctl cat "$unit" >/dev/null 2>&1; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
        systemctl mask "$unit" >/dev/null 2>&1
    fi
done
systemctl daemon-reexec

services=(
    learnhpc-cloud-net learnhpc-cloud-endpoints learnhpc-neutron-rpc keystone glance-api placement-api
    nova-api nova-conductor nova-scheduler nova-compute
    neutron-api neutron-rpc-server neutron-linuxbridge-agent neutron-dhcp-agent neutron-l3-agent
    cinder-api cinder-scheduler cinder-volume
)
systemctl enable "${services[@]/%/.service}" >/dev/null 2>&1
# Not waiting here: ready below is the real test, and waits longer.
systemctl start --no-block "${services[@]/%/.service}"

# The compute host must be mapped to cell1 before servers can be scheduled: once
# nova-compute has registered its node, discover it.
for _ in $(seq 150); do
    [ "$(mysql -N -B nova -e "SELECT COUNT(*) FROM compute_nodes WHERE host = 'learnhpc-compute'")" -ge 1 ] && break
    sleep 2
done
su -s /bin/sh -c "nova-manage cell_v2 discover_hosts" nova >>/var/log/learnhpc-configure.log 2>&1
[ "$(mysql -N -B nova_api -e "SELECT COUNT(*) FROM host_mappings WHERE host = 'learnhpc-compute'")" -ge 1 ] || {
    echo "bootstrap: nova-compute did not register within 300 s; its last log lines:" >&2
    tail -n 30 /var/log/nova/nova-compute.log >&2
    exit 1
}

python3 /usr/local/lib/learnhpc/cloud_setup.py resources
/usr/local/lib/learnhpc/learnhpc-cloud-ready.sh 400 || {
    echo "bootstrap: the cloud did not become ready" >&2
    exit 1
}
echo "bootstrap: ready"
systemctl stop "${services[@]/%/.service}"
systemctl stop mariadb rabbitmq-server memcached
