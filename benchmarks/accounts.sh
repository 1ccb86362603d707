#!/usr/bin/env bash
# Accounts benchmark: on a docker-provider event with 100 guests, the time to add 200 more (LDAP entries,
# home directories, Slurm associations with a budget) with the accounts role, and the same
# 200 done with one task iteration per user (community.general.ldap_entry, file, sacctmgr).
# Prints a table. Run after `make setup`; takes a few minutes. Not part of `make test`.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
events=$(mktemp -d)
export LEARNHPC_EVENTS_DIR=$events
playbook=$top/.venv/bin/ansible-playbook
name=benchacct
cleanup() { "$playbook" teardown.yml -e event=$name >/dev/null 2>&1 || true; rm -rf "$events"; }
trap cleanup EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
run() { # run LOG PLAYBOOK: prints the seconds it took
    local log=$1 start
    shift
    start=$(now_ms)
    "$playbook" "$@" -e event=$name >"$events/$log" 2>&1 || { tail -40 "$events/$log" >&2; exit 1; }
    awk -v ms=$(( $(now_ms) - start )) 'BEGIN {printf "%.1f", ms / 1000}'
}

cat >"$events/$name.yml" <<YAML
provider: docker
end_date: 2099-12-31
nodes: {compute: {count: 1}}
docker: {ssh_port: 2499, https_port: 8499}
accounts: {guests: 100}
budget: {core_hours_per_guest: 10}
YAML
echo "building the event $name (100 guests) ..." >&2
run site.log site.yml >/dev/null
bulk=$(run bulk.log benchmarks/accounts/bulk.yml)
loop=$(run loop.log benchmarks/accounts/loop.yml)
count() { docker exec $name-mgmt bash -c "$1"; }
made_bulk=$(count "getent passwd guest101 guest300 | wc -l; ls -d /home/guest[0-9]* | wc -l; sacctmgr -nP show assoc account=$name format=user | grep -c '^guest'")
made_loop=$(count "ls -d /home/loop* | wc -l; sacctmgr -nP show assoc account=$name format=user | grep -c '^loop'")

echo "| way | accounts | wall time (s) | per account (ms) |"
echo "|---|---|---|---|"
awk -v b="$bulk" -v l="$loop" 'BEGIN {
    printf "| accounts role (ldap_accounts, home_directories, slurm_associations) | 200 | %.1f | %.0f |\n", b, b * 5
    printf "| one task iteration per user (ldap_entry, file, sacctmgr) | 200 | %.1f | %.0f |\n", l, l * 5
    printf "\nthe role is %.1fx faster\n", l / b
}'
echo "check (bulk: users resolved, homes, associations; loop: homes, associations): $made_bulk / $made_loop"
