#!/usr/bin/env bash
# Deploy benchmark: the time from nothing to a ready cluster (site.yml, readiness job
# included), the time and `changed` count of a no-op re-run, and the time of teardown, for
# each provider, image and number of compute nodes, in one table. The event is the demo's:
# mgmt, login, the compute nodes, JupyterHub.
#   docker     on the baked node image (learnhpc/node:12) and on plain Debian
#              (learnhpc/debian-systemd:12)
#   openstack  on the test cloud (scripts/openstack-cloud.sh start first), image debian-12
#              (its servers are containers of learnhpc/cloud-node:12, the baked node image
#              plus cloud-init), shared directories from the cloud (shared_storage: site)
# Run after `make setup`; about 20 minutes for the docker rows, 12 for the openstack ones.
# Not part of `make test`.
#   LEARNHPC_BENCH_PROVIDERS  providers (default: docker, and openstack when the test cloud's
#                             clouds.yaml is there)
#   LEARNHPC_BENCH_COMPUTE    compute node counts (default: 2 6)
#   LEARNHPC_BENCH_IMAGES     docker images (default: learnhpc/node:12 learnhpc/debian-systemd:12)
#   LEARNHPC_BENCH_LOGS       a directory to keep each run's log in (with per-task times), for
#                             finding where the time goes
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
events=$(mktemp -d)
trap 'rm -rf "$events"' EXIT
export LEARNHPC_EVENTS_DIR=$events
playbook=$top/.venv/bin/ansible-playbook
# Each task's time in the logs (LEARNHPC_BENCH_LOGS); the callback costs next to nothing.
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
clouds=$top/.cache/openstack/clouds.yaml
providers=${LEARNHPC_BENCH_PROVIDERS:-docker$([ -f "$clouds" ] && echo ' openstack')}

changed() { # sum of changed= over the PLAY RECAP of a log
    sed -n '/PLAY RECAP/,$p' "$1" | grep -o 'changed=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}'
}
seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{printf "%.1f", $1/1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The event file of one row: event_file PROVIDER IMAGE COMPUTE_NODES
event_file() {
    case $1 in
        docker)
            cat <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: $3}}
docker: {image: "$2", ssh_port: $((2400 + $3)), https_port: $((8400 + $3))}
accounts: {guests: 3}
services: {jupyterhub: true}
YAML
            ;;
        openstack)
            cat <<YAML
provider: openstack
end_date: 2099-12-31
nodes: {compute: {count: $3}}
openstack:
  cloud: learnhpc-test
  image: $2
  # m1.medium: 2 CPUs, as JupyterHub's largest choice (cpus: 2) needs on a compute node.
  flavors: {mgmt: m1.small, login: m1.small, compute: m1.medium}
  external_network: public
  network_cidr: 10.66.$3.0/24
  allowed_cidrs: [172.16.0.0/12]
  shared_storage: site
accounts: {guests: 3}
software: {eessi: false}
services: {jupyterhub: true}
YAML
            ;;
    esac
}

# keep_logs LOG...: copy the current row's logs to LEARNHPC_BENCH_LOGS, if set.
keep_logs() {
    [ -n "${LEARNHPC_BENCH_LOGS:-}" ] || return 0
    mkdir -p "$LEARNHPC_BENCH_LOGS"
    for log in "$@"; do
        cp "$events/$log.log" "$LEARNHPC_BENCH_LOGS/$provider-${image//[\/:]/_}-$n-$log.log"
    done
}

rows=()
for provider in $providers; do
    inventory=()
    images=${LEARNHPC_BENCH_IMAGES:-learnhpc/node:12 learnhpc/debian-systemd:12}
    if [ "$provider" = openstack ]; then
        [ -f "$clouds" ] || { echo "deploy: no test cloud ($clouds): scripts/openstack-cloud.sh start" >&2; exit 1; }
        export OS_CLIENT_CONFIG_FILE=$clouds
        printf 'plugin: learnhpc.cluster.event\nproviders: [docker, openstack]\nclouds: [learnhpc-test]\nclouds_yaml: %s\n' \
            "$clouds" >"$events/learnhpc.event.yml"
        inventory=(-i "$events/learnhpc.event.yml")
        images=debian-12
    fi
    for image in $images; do
        for n in ${LEARNHPC_BENCH_COMPUTE:-2 6}; do
            name=bench-${provider:0:2}$n
            event_file "$provider" "$image" "$n" >"$events/$name.yml"
            "$playbook" "${inventory[@]}" teardown.yml -e "event=$name" >/dev/null
            # One row each: a step that fails ends its row (its log kept), not the benchmark.
            failed=""
            first="" second="" down="" rechanged=""
            start=$(now_ms)
            if "$playbook" "${inventory[@]}" site.yml -e "event=$name" >"$events/first.log" 2>&1; then
                first=$(seconds "$start")
                start=$(now_ms)
                if "$playbook" "${inventory[@]}" site.yml -e "event=$name" >"$events/second.log" 2>&1; then
                    second=$(seconds "$start")
                    rechanged=$(changed "$events/second.log")
                else
                    failed=second
                fi
            else
                failed=first
            fi
            start=$(now_ms)
            "$playbook" "${inventory[@]}" teardown.yml -e "event=$name" >"$events/teardown.log" 2>&1 &&
                down=$(seconds "$start") || failed="$failed teardown"
            if [ -n "$failed" ]; then
                printf 'deploy: %s %s %s: %s failed; last lines:\n' "$provider" "$image" "$n" "$failed" >&2
                for log in $failed; do tail -n 30 "$events/$log.log" >&2; done
            fi
            keep_logs first ${first:+second} teardown
            rows+=("$(printf '| %-9s | %-26s | %13s | %12s | %16s | %14s | %12s |' "$provider" "$image" "$n" \
                "${first:-failed}" "${second:-${first:+failed}}" "$rechanged" "${down:-failed}")")
        done
    done
done

echo "| provider  | image                      | compute nodes | to ready (s) | no-op re-run (s) | re-run changed | teardown (s) |"
echo "|-----------|----------------------------|---------------|--------------|------------------|----------------|--------------|"
printf '%s\n' "${rows[@]}"
