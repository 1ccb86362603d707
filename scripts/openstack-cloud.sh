#!/usr/bin/env bash
# The local OpenStack test cloud for tests/integration/openstack (docs/openstack-test-cloud.md).
#
#   build    build learnhpc/openstack-zed:latest (or $LEARNHPC_TEST_CLOUD_IMAGE) and the servers'
#            image learnhpc/cloud-node:12 when their recipes changed
#            (scripts/images/openstack-zed.sh, scripts/images/cloud-node.sh)
#   build-control-plane  only the first of those, which needs the base image and not the node
#            image (scripts/test.sh starts it before the node image is there)
#   start    build when needed, run container learnhpc-test-cloud, route the external network
#            to it, wait until it can serve tests (at most LEARNHPC_OPENSTACK_TIMEOUT, default
#            600 s), write .cache/openstack/clouds.yaml; nothing to do when it runs and is ready
#   stop     remove the container, its servers and volumes, the route and clouds.yaml
#   status   say whether it runs and what is not ready yet
#
# This machine stands for the cloud's upstream router: the external network `public`
# (172.24.4.0/24, where the APIs and the floating IPs live) is routed to the container and
# masqueraded on the way out, so this machine reaches floating IPs and the servers reach the
# APIs and the internet. Its servers are containers on this machine's Docker engine
# (docs/openstack-test-cloud.md): the test cloud holds the Docker socket, which makes it root
# here. It is for test machines only. The clouds.yaml holds the image's fixed TEST-ONLY
# credentials; they are good for this throwaway container and nothing else.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=learnhpc-test-cloud
image=${LEARNHPC_TEST_CLOUD_IMAGE:-learnhpc/openstack-zed:latest}
timeout=${LEARNHPC_OPENSTACK_TIMEOUT:-600}
state=$top/.cache/openstack
clouds=$state/clouds.yaml
external=172.24.4.0/24
api_host=172.24.4.1
# Docker labels of what the test cloud's compute driver makes (servers and shared volumes).
driver_label=org.learnhpc.test-cloud

say() { printf 'openstack-cloud: %s\n' "$*"; }
die() { printf 'openstack-cloud: error: %s\n' "$*" >&2; exit 1; }

running() { [ "$(docker inspect -f '{{ .State.Running }}' "$name" 2>/dev/null)" = true ]; }
# Prints what is missing and fails while the cloud is not ready; waits up to $1 seconds.
missing() { docker exec "$name" /usr/local/lib/learnhpc/learnhpc-cloud-ready.sh "${1:-0}"; }

write_clouds() {
    install -d -m 0700 "$state"
    local tmp
    tmp=$(mktemp "$state/clouds.yaml.XXXXXX")
    # TEST-ONLY credentials of the throwaway test-cloud image (scripts/images/openstack-zed/).
    cat >"$tmp" <<YAML
# Written by scripts/openstack-cloud.sh for the local test cloud (container learnhpc-test-cloud).
# TEST-ONLY credentials of a throwaway image: never use them for anything else.
clouds:
  learnhpc-test-admin:
    auth:
      auth_url: http://$api_host:5000/v3
      username: admin
      password: secret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  learnhpc-test:
    auth:
      auth_url: http://$api_host:5000/v3
      username: demo
      password: secret
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
YAML
    chmod 0600 "$tmp"
    mv "$tmp" "$clouds"
}

build_control_plane() {
    "$top/scripts/images/openstack-zed.sh"
}

build() {
    build_control_plane
    "$top/scripts/images/cloud-node.sh"
}

# The external network is reached through the container; what leaves it is masqueraded as
# this machine (as an upstream router does). Both are set again at every start (the
# container's address changes).
route_external() {
    local ip
    ip=$(docker inspect -f '{{ .NetworkSettings.IPAddress }}' "$name")
    [ -n "$ip" ] || die "$name has no address on Docker's default network"
    ip route replace "$external" via "$ip" ||
        die "could not route $external to $name (this needs root and must not clash with a network of this machine)"
    iptables -t nat -C POSTROUTING -s "$external" ! -d "$external" -j MASQUERADE 2>/dev/null ||
        iptables -t nat -A POSTROUTING -s "$external" ! -d "$external" -j MASQUERADE
}

unroute_external() {
    ip route del "$external" 2>/dev/null || true
    while iptables -t nat -D POSTROUTING -s "$external" ! -d "$external" -j MASQUERADE 2>/dev/null; do :; done
}

# Servers, volumes and snapshots (Docker images) the compute driver made; they outlive the
# container otherwise.
remove_servers() {
    local -a ids
    mapfile -t ids < <(docker ps -aq --filter "label=$driver_label")
    [ ${#ids[@]} -eq 0 ] || docker rm -f "${ids[@]}" >/dev/null
    mapfile -t ids < <(docker volume ls -q --filter "label=$driver_label")
    [ ${#ids[@]} -eq 0 ] || docker volume rm -f "${ids[@]}" >/dev/null
    mapfile -t ids < <(docker images -q --filter "label=$driver_label.snapshot" | sort -u)
    [ ${#ids[@]} -eq 0 ] || docker rmi -f "${ids[@]}" >/dev/null
}

start() {
    local t0 t1
    t0=$(date +%s)
    build
    t1=$(date +%s)
    if running && [ "$(docker inspect -f '{{ .Image }}' "$name")" = "$(docker image inspect -f '{{ .Id }}' "$image")" ]; then
        if missing >/dev/null && [ -f "$clouds" ]; then
            say "$name is running and ready ($clouds)"
            return 0
        fi
        say "$name is running; waiting until it is ready"
    else
        docker rm -f "$name" >/dev/null 2>&1 || true
        remove_servers
        # The Docker socket and the host's /proc are for the compute driver (servers are
        # containers; their network namespaces are reached through /proc).
        docker run -d --name "$name" --hostname "$name" --stop-signal SIGRTMIN+3 \
            --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add DAC_READ_SEARCH --cap-add SYS_PTRACE \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns=host \
            -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec,mode=1777 \
            -v /var/run/docker.sock:/var/run/docker.sock -v /proc:/hostproc:ro \
            -e LEARNHPC_CLOUD_PUBLIC_HOST=$api_host "$image" >/dev/null ||
            die "could not start $name"
        t1=$(date +%s)
    fi
    route_external
    local what
    if ! what=$(missing "$timeout"); then
        die "$name not ready after $timeout s: ${what:-no answer}; look with 'docker exec $name journalctl -b'"
    fi
    curl -sf -o /dev/null "http://$api_host:5000/v3" ||
        die "$name is ready inside but Keystone does not answer at $api_host:5000 from this machine"
    write_clouds
    say "$name ready after $(($(date +%s) - t1)) s (total $(($(date +%s) - t0)) s); clouds.yaml: $clouds"
}

stop() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    remove_servers
    unroute_external
    rm -f "$clouds"
    say "$name removed"
}

status() {
    if ! running; then
        say "$name is not running"
        return 1
    fi
    local what
    if what=$(missing); then
        say "$name is running and ready; clouds.yaml: $clouds"
    else
        say "$name is running, not ready: $what"
        return 1
    fi
}

# One build or start at a time on this machine: the build container, the test cloud's
# container and its ports exist once; a second caller waits for the first.
locked() {
    exec 9>"/var/tmp/learnhpc-openstack-cloud.lock"
    flock 9
    "$@"
}

case ${1:-} in
    build | start | stop) locked "$1" ;;
    build-control-plane) locked build_control_plane ;;
    status) status ;;
    *) die "usage: $0 {build|build-control-plane|start|stop|status}" ;;
esac
