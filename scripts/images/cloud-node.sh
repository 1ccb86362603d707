#!/usr/bin/env bash
# Build learnhpc/cloud-node:12, the image of the test cloud's servers (the Nova driver in
# scripts/images/openstack-zed/learnhpc_nova runs each server as a container of it): the
# node image learnhpc/node:12 plus what a cloud image has, cloud-init and the OpenSSH server,
# configured as Debian's cloud images are (cloud-node/99-learnhpc.cfg), and slurmd started
# with -b (cloud-node/zz-learnhpc-test-cloud-boot.conf says why). No SSH host key
# is baked in: cloud-init makes each server's own at its first boot.
# Like a cloud image it has no package lists (and no stamp saying they are fresh).
#
# The image carries the label org.learnhpc.recipe=HASH (this script, the configuration and
# the base image's id); nothing is built when the image already carries it.
#
# Usage: cloud-node.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${LEARNHPC_CLOUD_NODE_IMAGE:-learnhpc/cloud-node:12}
base=${LEARNHPC_NODE_IMAGE:-learnhpc/node:12}
name=learnhpc-cloud-node-build-$$

# shellcheck source=scripts/images/systemd.sh
. "$here/systemd.sh"
say() { printf 'cloud-node: %s\n' "$*"; }
die() { printf 'cloud-node: error: %s\n' "$*" >&2; exit 1; }

base_id=$(docker image inspect -f '{{ .Id }}' "$base" 2>/dev/null) ||
    die "base image $base not found: run 'make setup' first"
recipe=$(cat <(echo "$base_id") "$here/cloud-node.sh" "$here/systemd.sh" "$here"/cloud-node/* | sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "org.learnhpc.recipe" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$recipe" ] && [ "${1:-}" != --force ]; then
    say "$image is up to date (recipe $recipe)"
    exit 0
fi

cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
start=$(date +%s)
docker run -d --name "$name" --hostname cloud-node-build "${SYSTEMD_CONTAINER[@]}" "$base" >/dev/null
wait_booted "$name"
docker cp "$here/cloud-node/99-learnhpc.cfg" "$name:/var/tmp/99-learnhpc.cfg"
docker cp "$here/cloud-node/zz-learnhpc-test-cloud-boot.conf" "$name:/var/tmp/zz-learnhpc-test-cloud-boot.conf"
docker exec "$name" sh -euc '
    export DEBIAN_FRONTEND=noninteractive
    printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends cloud-init openssh-server sudo >/dev/null
    rm -f /usr/sbin/policy-rc.d
    install -m 0644 /var/tmp/99-learnhpc.cfg /etc/cloud/cloud.cfg.d/99-learnhpc.cfg
    rm -f /etc/ssh/ssh_host_*
    systemctl enable ssh.service cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service >/dev/null 2>&1
    install -D -m 0644 /var/tmp/zz-learnhpc-test-cloud-boot.conf \
        /etc/systemd/system/slurmd.service.d/zz-learnhpc-test-cloud-boot.conf
    cloud-init clean --logs >/dev/null; rm -f /var/tmp/99-learnhpc.cfg /var/tmp/zz-learnhpc-test-cloud-boot.conf
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp
    : >/etc/machine-id'
docker stop -t 30 "$name" >/dev/null
docker commit -c 'CMD ["/lib/systemd/systemd"]' -c "LABEL org.learnhpc.recipe=$recipe" "$name" "$image" >/dev/null
say "built $image (recipe $recipe) in $(($(date +%s) - start)) s"
