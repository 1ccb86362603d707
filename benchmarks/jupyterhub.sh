#!/usr/bin/env bash
# JupyterHub benchmark: on a docker-provider event with 4 compute nodes (2 cores each, as the
# containers see this machine) and 30 guests, all 30 log in and start a notebook server at
# the same moment through the hub's REST API (benchmarks/jupyterhub_spawn.py). Notebooks go
# to the partition notebook, which puts up to 4 on a core, so 30 fit on 8 cores. Prints
# how many started, the time until all were ready, and the time until the idle culler
# (idle_minutes: 2 here) had stopped them all. Run after `make setup`; takes about
# 15 minutes. Not part of `make test`.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
name=benchjh
guests=${LEARNHPC_BENCH_GUESTS:-30}
# shellcheck source=benchmarks/event.sh
. benchmarks/event.sh
bench_event $name "$guests guests, 4 compute nodes" <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: 4}}
docker: {ssh_port: 2498, https_port: 8498}
accounts: {guests: $guests}
budget: {core_hours_per_guest: 10}
services: {jupyterhub: true}
jupyterhub: {cpus: 1, memory_gb: 1, hours: 1, idle_minutes: 2}
YAML
echo "starting $guests servers at once ..." >&2
mapfile -t names < <(seq -f "guest%02g" 1 "$guests")
.venv/bin/python benchmarks/jupyterhub_spawn.py --url https://127.0.0.1:8498/ \
    --ca "$events/.state/$name/pki/ca.crt" --passwords "$events/.state/$name/passwords" "${names[@]}"
echo "notebook jobs left in Slurm: $(docker exec $name-login squeue --noheader --name jupyterhub | wc -l)"
