#!/usr/bin/env bash
# Build learnhpc/openstack-zed:latest: a real OpenStack Zed control plane (Keystone, Glance,
# Placement, Nova, Neutron ML2/linuxbridge, Cinder from Debian bookworm's packages) in one
# systemd container, for the OpenStack integration tests (scripts/openstack-cloud.sh runs it,
# docs/openstack-test-cloud.md describes it). Servers are systemd containers on this machine's
# Docker engine (our compute driver, openstack-zed/learnhpc_nova), plugged into Neutron's real
# network; volumes come from cinder's fake driver and hold no data.
#
# How: run a container from learnhpc/debian-systemd:12, copy scripts/images/openstack-zed/
# into it, run packages.sh, configure.sh and bootstrap.sh there, stop it, `docker commit`.
# The image carries the label org.learnhpc.recipe=HASH, HASH covering every recipe file and
# the base image's id; when the image already carries the current hash nothing is built.
#
# The image holds fixed TEST-ONLY credentials (configure.sh). They must stay in this image.
#
# Usage: openstack-zed.sh [--force]    LEARNHPC_KEEP_BUILD=1 keeps a failed build container.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${LEARNHPC_TEST_CLOUD_IMAGE:-learnhpc/openstack-zed:latest}
base=${LEARNHPC_BASE_IMAGE:-learnhpc/debian-systemd:12}
builder=learnhpc-openstack-zed-build
recipe_dir=/var/tmp/learnhpc-recipe

say() { printf 'openstack-zed: %s\n' "$*"; }
die() { printf 'openstack-zed: error: %s\n' "$*" >&2; exit 1; }

base_id=$(docker image inspect -f '{{ .Id }}' "$base" 2>/dev/null) ||
    die "base image $base not found: run 'make setup' first"
recipe=$( {
    echo "$base_id"
    cd "$here"
    # Byte-code that Python leaves beside the driver's sources is not part of the recipe.
    for f in openstack-zed.sh $(find openstack-zed -name __pycache__ -prune -o -type f -print | LC_ALL=C sort); do
        printf '== %s\n' "$f"
        cat "$f"
    done
} | sha256sum | cut -c1-16)

have=$(docker image inspect -f '{{ index .Config.Labels "org.learnhpc.recipe" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$recipe" ] && [ "${1:-}" != --force ]; then
    say "$image is up to date (recipe $recipe)"
    exit 0
fi

cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ "${LEARNHPC_KEEP_BUILD:-}" = 1 ]; then
        say "build failed; container $builder kept for inspection (docker rm -f $builder)"
    else
        docker rm -f "$builder" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

say "building $image from $base (recipe $recipe)"
start=$(date +%s)
step_start=$start
step() {
    local now
    now=$(date +%s)
    say "$1 took $((now - step_start)) s"
    step_start=$now
}

docker rm -f "$builder" >/dev/null 2>&1 || true
# The test cloud's capability set: the systemd one plus DAC_READ_SEARCH and SYS_PTRACE,
# which the privsep daemons of neutron (and nova, cinder) keep and therefore need.
docker run -d --name "$builder" --hostname learnhpc-openstack-zed-build --stop-signal SIGRTMIN+3 \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add DAC_READ_SEARCH --cap-add SYS_PTRACE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns=host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec,mode=1777 \
    "$base" >/dev/null
# Wait for the boot to finish: systemd-tmpfiles empties /tmp while booting, and apt
# fails when its files there vanish.
for _ in $(seq 60); do
    case $(docker exec "$builder" systemctl is-system-running 2>/dev/null) in
        running | degraded) break ;;
    esac
    sleep 1
done
docker cp "$here/openstack-zed" "$builder:$recipe_dir"

docker exec "$builder" bash "$recipe_dir/packages.sh"
step "packages"
docker exec "$builder" bash "$recipe_dir/configure.sh"
step "configure"
docker exec "$builder" bash "$recipe_dir/bootstrap.sh"
step "bootstrap"

# Nothing of the build stays behind: recipe, logs, identity.
docker exec "$builder" sh -c "rm -rf $recipe_dir /var/tmp/*.qcow2 /root/.cache &&
    find /var/log -type f \( -name '*.log' -o -name '*.gz' -o -name '*.[0-9]' \) -delete &&
    journalctl --rotate --vacuum-time=1s >/dev/null 2>&1; : >/etc/machine-id"
docker stop "$builder" >/dev/null
docker commit -c 'CMD ["/lib/systemd/systemd"]' -c "LABEL org.learnhpc.recipe=$recipe" \
    "$builder" "$image" >/dev/null
step "commit"
say "built $image (recipe $recipe) in $(($(date +%s) - start)) s"
