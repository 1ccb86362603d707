#!/usr/bin/env bash
# Deploy benchmark of the docker provider: for 2 and 6 compute nodes, each on the baked node
# image (learnhpc/node:12) and on plain Debian (learnhpc/debian-systemd:12), the time from
# no container to a ready cluster (site.yml, readiness job included), the time and `changed`
# count of a no-op re-run, and the time of teardown. The event is the demo's: mgmt, login,
# the compute nodes, JupyterHub. Prints a table.
# Run after `make setup`; takes about 20 minutes. Not part of `make test`.
#   LEARNHPC_BENCH_COMPUTE  compute node counts (default: 2 6)
#   LEARNHPC_BENCH_IMAGES   images (default: learnhpc/node:12 learnhpc/debian-systemd:12)
#   LEARNHPC_BENCH_LOGS     a directory to keep each run's log in (with per-task times), for
#                           finding where the time goes
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
events=$(mktemp -d)
trap 'rm -rf "$events"' EXIT
export LEARNHPC_EVENTS_DIR=$events
playbook=$top/.venv/bin/ansible-playbook
# Each task's time in the logs (LEARNHPC_BENCH_LOGS); the callback costs next to nothing.
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks

changed() { # sum of changed= over the PLAY RECAP of a log
    sed -n '/PLAY RECAP/,$p' "$1" | grep -o 'changed=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}'
}
seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{printf "%.1f", $1/1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

rows=()
for image in ${LEARNHPC_BENCH_IMAGES:-learnhpc/node:12 learnhpc/debian-systemd:12}; do
for n in ${LEARNHPC_BENCH_COMPUTE:-2 6}; do
    name=bench$n
    cat >"$events/$name.yml" <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: $n}}
docker: {image: "$image", ssh_port: $((2400 + n)), https_port: $((8400 + n))}
accounts: {guests: 3}
services: {jupyterhub: true}
YAML
    "$playbook" teardown.yml -e event=$name >/dev/null
    start=$(now_ms)
    "$playbook" site.yml -e event=$name >"$events/first.log" 2>&1 || { tail -30 "$events/first.log"; exit 1; }
    first=$(seconds "$start")
    start=$(now_ms)
    "$playbook" site.yml -e event=$name >"$events/second.log" 2>&1 || { tail -30 "$events/second.log"; exit 1; }
    second=$(seconds "$start")
    start=$(now_ms)
    "$playbook" teardown.yml -e event=$name >"$events/teardown.log" 2>&1 || { tail -30 "$events/teardown.log"; exit 1; }
    down=$(seconds "$start")
    if [ -n "${LEARNHPC_BENCH_LOGS:-}" ]; then
        mkdir -p "$LEARNHPC_BENCH_LOGS"
        for log in first second teardown; do
            cp "$events/$log.log" "$LEARNHPC_BENCH_LOGS/${image//[\/:]/_}-$n-$log.log"
        done
    fi
    rows+=("$(printf '| %-26s | %13s | %12s | %16s | %14s | %12s |' "$image" "$n" "$first" "$second" \
        "$(changed "$events/second.log")" "$down")")
done
done

echo "| image                      | compute nodes | to ready (s) | no-op re-run (s) | re-run changed | teardown (s) |"
echo "|----------------------------|---------------|--------------|------------------|----------------|--------------|"
printf '%s\n' "${rows[@]}"
