#!/usr/bin/env bash
# Our Slurm roles (munge + slurm_controller + slurm_compute) against galaxyproject.slurm, a
# widely used single-purpose Slurm role, on identical fresh containers: for each, a controller
# and two compute nodes of learnhpc/debian-systemd:12 with apt's package lists already
# present. Measures the first run, a no-op re-run (time, tasks run, changed), and checks that
# a 2-node job runs on each cluster. Prints a table. Not part of `make test`.
#
#   LEARNHPC_GALAXY_SLURM=/path/to/ansible-slurm benchmarks/slurm_roles.sh
#
# LEARNHPC_BENCH_LOGS=DIR keeps each run's log there, with each task's time
# (ansible.posix.profile_tasks; benchmarks/play_times.py makes a table of one).
#
# The galaxyproject.slurm checkout is not part of this repository (github.com/galaxyproject/
# ansible-slurm); it runs with its defaults plus what a three-node cluster needs: the node
# and partition lines, SlurmctldHost and a shared munge key. Ours run with their defaults
# (a munge key made on the controller, configless slurmd, pam_slurm_adopt), in three plays of
# which the first gathers the facts (galaxyproject.slurm: one play).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
galaxy=${LEARNHPC_GALAXY_SLURM:?set LEARNHPC_GALAXY_SLURM to a checkout of github.com/galaxyproject/ansible-slurm}
[ -f "$galaxy/tasks/main.yml" ] || { echo "slurm_roles: $galaxy is not a checkout of ansible-slurm" >&2; exit 1; }
image=${LEARNHPC_BASE_IMAGE:-learnhpc/debian-systemd:12}
playbook=$top/.venv/bin/ansible-playbook
# Both sides on the same connection, loaded once in the main process (callback learnhpc.cluster.preload_connections).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,learnhpc.cluster.preload_connections
export LEARNHPC_PRELOAD_CONNECTIONS=community.docker.docker_api
work=$(mktemp -d)
sides=(ours galaxy)

cleanup() {
    for side in "${sides[@]}"; do
        docker rm -f "bench-$side-ctl" "bench-$side-c1" "bench-$side-c2" >/dev/null 2>&1 || true
        docker network rm "bench-$side" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

start_nodes() { # side
    local side=$1 node state
    docker network create "bench-$side" >/dev/null
    for node in ctl c1 c2; do
        docker run -d --name "bench-$side-$node" --hostname "bench-$side-$node" --network "bench-$side" \
            --cap-add SYS_ADMIN --cap-add NET_ADMIN \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
            --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec,mode=1777 "$image" >/dev/null
    done
    for node in ctl c1 c2; do
        for _ in $(seq 60); do
            state=$(docker exec "bench-$side-$node" systemctl is-system-running 2>/dev/null || true)
            case $state in running | degraded) break ;; esac
            sleep 1
        done
        docker exec "bench-$side-$node" apt-get update -qq >/dev/null
    done
}

cat >"$work/inventory.yml" <<'YAML'
all:
  vars:
    ansible_connection: community.docker.docker_api
    ansible_user: root
  children:
    slurm_controller: {hosts: {bench-ours-ctl: {}}}
    slurm_compute: {hosts: {bench-ours-c1: {}, bench-ours-c2: {}}}
    slurmservers: {hosts: {bench-galaxy-ctl: {}}}
    slurmexechosts: {hosts: {bench-galaxy-c1: {}, bench-galaxy-c2: {}}}
YAML

cat >"$work/ours.yml" <<'YAML'
- name: Munge
  hosts: slurm_controller:slurm_compute
  roles: [{role: learnhpc.cluster.munge, munge_key_host: bench-ours-ctl}]
- name: Controller
  hosts: slurm_controller
  gather_facts: false
  roles: [learnhpc.cluster.slurm_controller]
- name: Compute nodes
  hosts: slurm_compute
  gather_facts: false
  roles: [learnhpc.cluster.slurm_compute]
YAML

head -c 1024 /dev/urandom >"$work/munge.key"
cat >"$work/galaxy.yml" <<YAML
- name: galaxyproject.slurm
  hosts: slurmservers:slurmexechosts
  roles: [galaxyproject.slurm]
  vars:
    slurm_munge_key: $work/munge.key
    slurm_nodes: [{name: "bench-galaxy-c[1-2]"}]
    slurm_partitions: [{name: debug, nodes: "bench-galaxy-c[1-2]", Default: "YES", State: UP}]
    slurm_config: {SlurmctldHost: bench-galaxy-ctl, ReturnToService: 2}
YAML
mkdir -p "$work/roles"
ln -s "$galaxy" "$work/roles/galaxyproject.slurm"

run() { # side log -> prints "seconds tasks changed"
    local side=$1 log=$2 start end
    start=$(date +%s%N)
    ANSIBLE_ROLES_PATH=$work/roles "$playbook" -i "$work/inventory.yml" "$work/$side.yml" \
        >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    end=$(date +%s%N)
    [ -z "${LEARNHPC_BENCH_LOGS:-}" ] || { mkdir -p "$LEARNHPC_BENCH_LOGS" && cp "$log" "$LEARNHPC_BENCH_LOGS/"; }
    printf '%s %s %s\n' "$(echo "$(( (end - start) / 1000000 ))" | awk '{printf "%.1f", $1/1000}')" \
        "$(grep -c '^TASK \[' "$log")" \
        "$(sed -n '/PLAY RECAP/,$p' "$log" | grep -o 'changed=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')"
}

rows=()
for side in "${sides[@]}"; do
    start_nodes "$side"
    read -r first first_tasks _ < <(run "$side" "$work/$side-first.log")
    read -r again again_tasks again_changed < <(run "$side" "$work/$side-again.log")
    [ -n "${first:-}" ] && [ -n "${again:-}" ] || { echo "slurm_roles: a run of $side failed" >&2; exit 1; }
    # As an ordinary user (nobody has the same UID on every node), not as root.
    job=$(docker exec "bench-$side-ctl" timeout 120 runuser -u nobody -- srun --chdir=/tmp -N2 --immediate=60 hostname \
        2>&1 | sort | tr '\n' ' ')
    shown=$([ "$side" = ours ] && echo learnhpc.cluster || echo galaxyproject.slurm)
    rows+=("$(printf '| %-20s | %9s | %11s | %12s | %12s | %14s | %-34s |' "$shown" "$first" "$first_tasks" \
        "$again" "$again_tasks" "$again_changed" "$job")")
done

echo "| roles                | first (s) | first tasks | no-op (s)    | no-op tasks  | no-op changed  | 2-node job (srun -N2 hostname)     |"
echo "|----------------------|-----------|-------------|--------------|--------------|----------------|------------------------------------|"
printf '%s\n' "${rows[@]}"
