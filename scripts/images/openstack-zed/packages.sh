#!/usr/bin/env bash
# Runs inside the build container: install the OpenStack Zed packages of Debian bookworm.
#
# Nothing may start during the installation: every postinst would start its daemon
# unconfigured (the nova units are Type=notify and hang until systemd's timeout, and the
# Debian uwsgi defaults start dozens of processes). policy-rc.d answering 101 prevents that;
# it is removed again at the end. The debconf questions of the Debian OpenStack packages
# default to "do not configure", which is what we want: configure.sh does it.
# dpkg skips its fsync per file (--force-unsafe-io): an interrupted build starts anew anyway.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

packages=(
    # infrastructure
    mariadb-server rabbitmq-server memcached python3-pymysql python3-memcache crudini
    # the services
    keystone glance-api placement-api
    nova-api nova-conductor nova-scheduler nova-compute
    # nova-compute needs a hypervisor package; the ironic one is light (no libvirt or
    # qemu-system) and brings python3-ironicclient, which nova's fake driver imports.
    nova-compute-ironic
    neutron-server neutron-plugin-ml2 neutron-linuxbridge-agent neutron-dhcp-agent neutron-l3-agent
    cinder-api cinder-scheduler cinder-volume
    # bootstrap and troubleshooting
    python3-openstackclient qemu-utils iptables bridge-utils ebtables dnsmasq-base iputils-ping
)

apt-get update -qq
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "${packages[@]}" >/var/tmp/learnhpc-apt.log 2>&1 || {
    tail -n 30 /var/tmp/learnhpc-apt.log >&2
    exit 1
}
apt-get clean
rm -rf /var/lib/apt/lists/* /var/tmp/learnhpc-apt.log
rm -f /usr/sbin/policy-rc.d
echo "packages: $(dpkg-query -f '.\n' -W | wc -l) installed"
