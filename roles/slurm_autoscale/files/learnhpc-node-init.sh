#!/bin/sh
# learnhpc-node-init NAME PACKAGE...: run as root on a new OpenStack server by the resume
# program of the slurm_autoscale role, after it copied the source node's files (the MUNGE key,
# sssd's settings, slurmd's options, fstab, ...) onto the server. Installs the packages
# (keeping the files already there), mounts the shared directories and starts the services,
# so that slurmd registers with slurmctld as NAME.
set -eu
name=$1
shift
hostname "$name"
echo "$name" >/etc/hostname
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$@"
chown -R munge:munge /etc/munge
systemctl daemon-reload
mkdir -p /home /project /scratch
mount -a
systemctl restart munge sssd
systemctl enable slurmd
systemctl restart slurmd
