# shellcheck shell=bash
# Sourced by the benchmarks that need an event of the docker provider (autoscale.sh,
# jupyterhub.sh): bench_event NAME DESCRIPTION builds events/NAME.yml, read from standard
# input, with site.yml in a temporary events directory ($events; site.yml's log is
# $events/site.log), and removes the event and the directory when the benchmark exits.
# Run from the collection's root, after `make setup`.
events=$(mktemp -d)
export LEARNHPC_EVENTS_DIR=$events
bench_cleanup() {
    [ -n "${bench_name:-}" ] && .venv/bin/ansible-playbook teardown.yml -e event="$bench_name" >/dev/null 2>&1
    rm -rf "$events"
}
trap bench_cleanup EXIT

bench_event() {
    bench_name=$1
    cat >"$events/$bench_name.yml"
    echo "building the event $bench_name ($2) ..." >&2
    local start
    start=$(date +%s)
    .venv/bin/ansible-playbook site.yml -e event="$bench_name" >"$events/site.log" 2>&1 ||
        { tail -40 "$events/site.log" >&2; exit 1; }
    echo "built in $(($(date +%s) - start)) s" >&2
}
