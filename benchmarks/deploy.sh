#!/usr/bin/env bash
# Deploy benchmark of the docker provider: for 2 and 6 compute nodes, the time from no
# container (base image present) to a ready cluster (site.yml, readiness job included),
# the time and `changed` count of a no-op re-run, and the time of teardown. Prints a table.
# Run after `make setup`; takes several minutes. Not part of `make test`.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
events=$(mktemp -d)
trap 'rm -rf "$events"' EXIT
export LEARNHPC_EVENTS_DIR=$events
playbook=$top/.venv/bin/ansible-playbook

changed() { # sum of changed= over the PLAY RECAP of a log
    sed -n '/PLAY RECAP/,$p' "$1" | grep -o 'changed=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}'
}
seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{printf "%.1f", $1/1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

rows=()
for n in ${LEARNHPC_BENCH_COMPUTE:-2 6}; do
    name=bench$n
    cat >"$events/$name.yml" <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: $n}}
docker: {ssh_port: $((2400 + n)), https_port: $((8400 + n))}
accounts: {guests: 3}
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
    rows+=("$(printf '| %13s | %12s | %16s | %14s | %12s |' "$n" "$first" "$second" "$(changed "$events/second.log")" "$down")")
done

echo "| compute nodes | to ready (s) | no-op re-run (s) | re-run changed | teardown (s) |"
echo "|---------------|--------------|------------------|----------------|--------------|"
printf '%s\n' "${rows[@]}"
