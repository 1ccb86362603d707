#!/usr/bin/env bash
# Run every test of the collection, set-up included (README: `make test`).
#
#   setup      scripts/setup.sh (Docker engine, .venv, base image, ...)
#   ruff       ruff check + ruff format --check
#   lint       ansible-lint (production profile)
#   readmes    role READMEs' variable tables match meta/argument_specs.yml
#   unit       pytest tests/unit
#   sanity     ansible-test sanity (no ignore files)
#   build      ansible-galaxy collection build + install into an empty path, roles listed
#   molecule:<scenario>   every scenario under molecule/, real services in containers
#   openstack-cloud  tests/integration/openstack against a real OpenStack in one container
#                    (scripts/openstack-cloud.sh; its image is built in the background from
#                    the start of the run; the container is removed when the run ends)
#
# Each stage's output goes to .cache/test-logs/<stage>.log; a failed stage prints its last
# lines. All stages run; the exit status is 1 if any failed. LEARNHPC_SCENARIOS="a b"
# limits the Molecule scenarios; LEARNHPC_STAGES="unit lint" limits the stages.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
logs=$top/.cache/test-logs
mkdir -p "$logs"
export PATH="$top/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

passed=0
failed=0
summary=()

wanted() {
    [ -z "${LEARNHPC_STAGES:-}" ] && return 0
    local stage
    for stage in $LEARNHPC_STAGES; do
        [ "$stage" = "$1" ] || [ "$stage" = "${1%%:*}" ] && return 0
    done
    return 1
}

stage() {
    local name=$1
    shift
    wanted "$name" || return 0
    local log="$logs/${name//[:\/]/-}.log" start end rc
    printf '==> %s\n' "$name"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        summary+=("$(printf '%-28s passed  %5ss' "$name" $((end - start)))")
    else
        failed=$((failed + 1))
        summary+=("$(printf '%-28s FAILED  %5ss' "$name" $((end - start)))")
        printf -- '--- %s failed (exit %s); last lines of %s:\n' "$name" "$rc" "$log"
        tail -n 150 "$log"
        printf -- '--- end of %s\n' "$name"
    fi
    return $rc
}

build_and_install() (
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    ansible-galaxy collection build --output-path "$tmp" . &&
        cd "$tmp" &&
        ANSIBLE_COLLECTIONS_PATH="$tmp/installed" ansible-galaxy collection install \
            --offline -p "$tmp/installed" "$tmp"/learnhpc-cluster-*.tar.gz &&
        roles=$(ANSIBLE_COLLECTIONS_PATH="$tmp/installed" ansible-doc -t role -l learnhpc.cluster) &&
        printf '%s\n' "$roles" &&
        grep -q 'learnhpc.cluster.slurm_compute' <<<"$roles"
)

# The OpenStack test cloud is started once for every test under tests/integration/openstack.
# Its image (about 7 minutes to build on 2 cores) is built in the background while the
# other stages run; the stage waits for that build first.
openstack_build_pid=""
openstack_cloud() {
    trap 'scripts/openstack-cloud.sh stop >/dev/null 2>&1' EXIT
    if [ -n "$openstack_build_pid" ] && ! wait "$openstack_build_pid"; then
        echo "the image build failed; last lines of $logs/openstack-image.log:"
        tail -n 60 "$logs/openstack-image.log"
        return 1
    fi
    scripts/openstack-cloud.sh start &&
        LEARNHPC_OPENSTACK_CLOUDS=$top/.cache/openstack/clouds.yaml pytest -v -s tests/integration/openstack
}

scenarios() {
    if [ -n "${LEARNHPC_SCENARIOS:-}" ]; then
        echo "$LEARNHPC_SCENARIOS"
    else
        for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done
    fi
}

total_start=$(date +%s)
if ! stage setup scripts/setup.sh; then
    echo "test: the set-up failed, nothing else can run"
    echo "test: 0 passed, 1 failed"
    exit 1
fi
if wanted openstack-cloud; then
    scripts/openstack-cloud.sh build >"$logs/openstack-image.log" 2>&1 &
    openstack_build_pid=$!
fi
stage ruff sh -c 'ruff check . && ruff format --check .'
stage lint ansible-lint
stage readmes python scripts/role_readme.py --check
stage unit pytest -q tests/unit
stage sanity scripts/sanity.sh
stage build build_and_install
for scenario in $(scenarios); do
    stage "molecule:$scenario" molecule test -s "$scenario"
done
stage openstack-cloud openstack_cloud
total_end=$(date +%s)

echo
echo "Stage                        result    time"
printf '%s\n' "${summary[@]}"
printf 'total %ss\n' $((total_end - total_start))
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
