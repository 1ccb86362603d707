#!/bin/sh
# Runs at every boot of the test cloud, before the Neutron agents (learnhpc-cloud-net.service).
#
# - /proc/sys is read-only in a Docker container; the L3 and DHCP agents set sysctls in
#   their namespaces, so it is remounted read-write (possible with CAP_SYS_ADMIN and
#   AppArmor unconfined).
# - This kernel offers neither `dummy` nor `vlan` interfaces, so the "physical" interfaces
#   are veth pairs: ext0 is the external physnet `public` (its peer ext0p holds the
#   gateway 172.24.4.1 of the `public` subnet), vxl0 holds the VXLAN endpoint address
#   (a /32: a /24 there would hide the machine's own 10.255.255.0/24 addresses, such as its
#   DNS resolver, from the servers behind the routers).
set -eu
mount -o remount,rw /proc/sys

if ! ip link show ext0 >/dev/null 2>&1; then
    ip link add ext0 type veth peer name ext0p
fi
ip addr replace 172.24.4.1/24 dev ext0p
ip link set ext0 up
ip link set ext0p up

if ! ip link show vxl0 >/dev/null 2>&1; then
    ip link add vxl0 type veth peer name vxl0p
fi
ip addr replace 10.255.255.1/32 dev vxl0
ip link set vxl0 up
ip link set vxl0p up
