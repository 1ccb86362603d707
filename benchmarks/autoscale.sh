#!/usr/bin/env bash
# Autoscaling benchmark of the docker provider: an event with one static compute node and
# room for two more (nodes.compute.max_count: 3, autoscale.suspend_minutes: 1). A guest
# submits jobs that need one and then two nodes more than are up; for each, the time from
# submission to the job running on the nodes Slurm created, and from the job's end to the
# nodes being gone again (suspend time included). Prints a table.
# Run after `make setup`; takes about 15 minutes. Not part of `make test`.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
name=benchas
rounds=${LEARNHPC_BENCH_ROUNDS:-3}
# shellcheck source=benchmarks/event.sh
. benchmarks/event.sh
bench_event $name "1 static compute node, up to 3" <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: 1, max_count: 3}}
docker: {ssh_port: 2497, https_port: 8497}
accounts: {guests: 1}
autoscale: {suspend_minutes: 1}
YAML

login=$name-login
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
slurm() { docker exec "$login" "$@"; }
# The cloud nodes that are not powered down, and the containers Slurm created.
cloud_up() { slurm sinfo --noheader --Node --format='%N %T' | awk '$1 != "'$name'-compute-01" && $2 !~ /~$/' | wc -l; }
created() { docker ps -q --filter label=org.learnhpc.event=$name --filter label=org.learnhpc.autoscaled=true | wc -l; }

rows=()
for round in $(seq "$rounds"); do
    for nodes in 2 3; do
        # Start from a cluster with no cloud node up.
        until [ "$(cloud_up)" = 0 ] && [ "$(created)" = 0 ]; do sleep 2; done
        t0=$(now)
        job=$(slurm su - guest01 -c "sbatch --parsable --nodes=$nodes --ntasks-per-node=1 --wrap='srun hostname'")
        until [ "$(slurm squeue --noheader --jobs="$job" --format=%T)" = RUNNING ] ||
            [ -z "$(slurm squeue --noheader --jobs="$job" --format=%T)" ]; do sleep 0.5; done
        running=$(since "$t0")
        while [ -n "$(slurm squeue --noheader --jobs="$job" --format=%T)" ]; do sleep 0.5; done
        t1=$(now)
        state=$(slurm scontrol --oneliner show job "$job" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
        until [ "$(cloud_up)" = 0 ] && [ "$(created)" = 0 ]; do sleep 1; done
        removed=$(since "$t1")
        rows+=("$(printf '| %5s | %13s | %20s | %9s | %24s |' "$round" "$((nodes - 1))" "$running" "$state" "$removed")")
        echo "${rows[-1]}" >&2
    done
done

echo "| round | nodes created | submit to running (s) | job state | job end to nodes gone (s) |"
echo "|-------|---------------|-----------------------|-----------|---------------------------|"
printf '%s\n' "${rows[@]}"
echo
echo "suspend time: 60 s (autoscale.suspend_minutes: 1); the removal time includes it."
docker exec "$name-mgmt" grep -E " (resume|suspend): " /var/log/slurm/learnhpc-autoscale.log | tail -n 12
