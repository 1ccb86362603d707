#!/bin/sh
# learnhpc-node-init NAME PACKAGE...: run as root on a new OpenStack server by the resume
# program of the slurm_autoscale role, after it copied the source node's files (the MUNGE key,
# sssd's settings, slurmd's options, fstab, ...) and the cluster's host names onto the
# server. Installs the packages (keeping the files already there), mounts the shared
# directories and starts the services, so that slurmd registers with slurmctld as NAME.
set -eu
name=$1
shift
hostname "$name"
echo "$name" >/etc/hostname
# The cluster's node names and this node's own (the common role's block on the static
# nodes), when the cloud's DNS does not know them.
hosts=/var/lib/learnhpc-node-init/hosts
# Written in place: /etc/hosts may be a mount point, which cannot be replaced by a rename.
if [ -f "$hosts" ]; then
    kept=$(sed '/^# BEGIN learnhpc.cluster nodes$/,/^# END learnhpc.cluster nodes$/d' /etc/hosts)
    { printf '%s\n' "$kept"; echo '# BEGIN learnhpc.cluster nodes'; cat "$hosts"
      echo '# END learnhpc.cluster nodes'; } >/etc/hosts
fi
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
