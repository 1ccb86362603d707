#!/usr/bin/env bash
# Run every test of the collection, set-up included (README: `make test`).
#
#   setup      scripts/setup.sh --base (Docker engine, .venv, base image, ...)
#   setup:node-image  scripts/setup.sh (the node image, the browser), beside the checks of the files and
#              the OpenStack image's build, which need only what `setup` made (run with `setup`)
#   ruff       ruff check + ruff format --check
#   shell      scripts/shellcheck.sh: shellcheck on every shell script but the Jinja templates
#   lint       ansible-lint (production profile)
#   readmes    role READMEs' variable tables match meta/argument_specs.yml, docs/event-file.md's
#              key tables match module_utils/event_keys.py (scripts/event_doc.py)
#   unit       pytest tests/unit
#   sanity     ansible-test sanity (no ignore files)
#   build      ansible-galaxy collection build + install into an empty path, roles listed
#   molecule:<scenario>   every scenario under molecule/, real services in containers
#   interrupted  tests/integration/docker: site.yml killed again and again during a first
#                deploy, then to ready, then torn down to nothing
#   openstack-cloud  tests/integration/openstack against a real OpenStack in one container
#                    (scripts/openstack-cloud.sh; its image is built in the background from
#                    the start of the run; the container is removed when the run ends)
#   libvirt    tests/integration/libvirt: three VMs of an event through libvirt and QEMU,
#              kernel NFS between them, reaped to nothing (the set-up with
#              LEARNHPC_SETUP_LIBVIRT=1 first; libvirt's daemons stopped at the end); only
#              with LEARNHPC_TEST_LIBVIRT=1 or named in LEARNHPC_STAGES, for now
#
# Each stage's output goes to .cache/test-logs/<stage>.log; a failed stage prints its last
# lines. All stages run; the exit status is 1 if any failed. LEARNHPC_SCENARIOS="a b"
# limits the Molecule scenarios; LEARNHPC_STAGES="unit lint" limits the stages;
# LEARNHPC_LANES=1 runs the Molecule and OpenStack stages one after the other (default 2
# at a time). Every stage has a time limit and the run a budget (see limit_of below).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
logs=$top/.cache/test-logs
mkdir -p "$logs"
export PATH="$top/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
# Python keeps the byte code of what it compiled (the collection's own plugins; .venv's packages
# come compiled): every ansible-playbook of the run compiled them again otherwise, 7 % of the
# lint stage's time. (Machines like CI's set PYTHONDONTWRITEBYTECODE; __pycache__ is ignored by
# git, by the collection's build and by the image recipes.)
unset PYTHONDONTWRITEBYTECODE

results=$logs/results  # one line per stage that ran: "<name> passed|FAILED|NOT RUN <seconds>"

wanted() {
    [ -z "${LEARNHPC_STAGES:-}" ] && return 0
    local stage
    for stage in $LEARNHPC_STAGES; do
        [ "$stage" = "$1" ] || [ "$stage" = "${1%%:*}" ] && return 0
    done
    return 1
}

# Seconds a stage may take at most (LEARNHPC_STAGE_LIMIT overrides all); the whole run is
# bounded by LEARNHPC_TEST_BUDGET (default 88 minutes: CI allows 90, and a stage past its limit gets 60 s more to end): a stage gets at most what is left,
# and a stage that would start with less than a minute left is not run and counts as failed.
# A stage past its limit is stopped (TERM to its process group, KILL 60 s later).
limit_of() {
    case $1 in
        molecule:event_demo) echo 1800 ;; # a whole event, JupyterHub's culler included
        molecule:*) echo 1500 ;;
        # The node disk built (100 s idle, 300 s beside the other lane and the checks), three VMs booted
        # without hardware virtualization (300 s idle, 550 s at load 10-20), kernel NFS (230 s idle).
        libvirt) echo 2700 ;;
        # A whole event, autoscaling and reaping on it included: about 1,500 s, 2,500 s and more on
        # a machine that is slow that day (seen on 2026-12-07: every stage 1.6 to 2 times its usual).
        openstack-cloud) echo 3300 ;;
        *) echo 1200 ;;
    esac
}

stage() {
    local name=$1
    shift
    wanted "$name" || return 0
    local log="$logs/${name//[:\/]/-}.log" start end rc limit left
    start=$(date +%s)
    left=$((total_start + budget - start))
    limit=${LEARNHPC_STAGE_LIMIT:-$(limit_of "$name")}
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -lt 60 ]; then
        printf '%-28s NOT RUN  (the run is past its %ss budget)\n' "$name" "$budget" >>"$results"
        printf '<== %s not run: %ss of the %ss budget are left\n' "$name" "$left" "$budget"
        return 1
    fi
    printf '==> %s (at %ss, limit %ss)\n' "$name" $((start - total_start)) "$limit"
    # A function is run through this script (see --function below) so that timeout can
    # stop it with everything it started.
    if [ "$(type -t "$1")" = function ]; then
        set -- "$top/scripts/test.sh" --function "$@"
    fi
    # No stage reads its standard input: one inherited from the caller could be non-blocking,
    # which ansible-playbook refuses (seen once, from a terminal's tools).
    timeout -k 60 "$limit" "$@" </dev/null >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    if [ $rc -eq 0 ]; then
        printf '%-28s passed  %5ss\n' "$name" $((end - start)) >>"$results"
        printf '<== %s passed in %ss\n' "$name" $((end - start))
    else
        [ $rc -eq 124 ] || [ $rc -eq 137 ] && printf 'stopped after %ss: past its limit\n' "$limit" >>"$log"
        printf '%-28s FAILED  %5ss\n' "$name" $((end - start)) >>"$results"
        printf -- '--- %s failed (exit %s) after %ss; last lines of %s:\n' "$name" "$rc" $((end - start)) "$log"
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
# other stages run; `openstack-cloud.sh start` waits for that build (they share a lock).
openstack_cloud() {
    trap 'scripts/openstack-cloud.sh stop >/dev/null 2>&1' EXIT
    trap 'exit 143' TERM
    if [ -f "$logs/openstack-image.rc" ] && [ "$(cat "$logs/openstack-image.rc")" != 0 ]; then
        echo "the image build failed; last lines of $logs/openstack-image.log:"
        tail -n 60 "$logs/openstack-image.log"
        return 1
    fi
    scripts/openstack-cloud.sh start &&
        LEARNHPC_OPENSTACK_CLOUDS=$top/.cache/openstack/clouds.yaml pytest -v -s --durations=25 tests/integration/openstack
}

# The chained case only; `make test-interrupted` runs one deploy per point.
# The libvirt provider: the machine made a libvirt host and the node disk built (the set-up
# with LEARNHPC_SETUP_LIBVIRT=1), three VMs provisioned, kernel NFS between them, teardown;
# libvirt's daemons are stopped again at the end, whatever happened.
libvirt_provider() {
    trap 'scripts/libvirt-host.sh stop >/dev/null 2>&1' EXIT
    trap 'exit 143' TERM
    # The unit tests on libvirt's own test driver need libvirt-python, which only this set-up
    # installs: the unit stage skips them.
    LEARNHPC_SETUP_LIBVIRT=1 scripts/setup.sh &&
        pytest -q -p no:cacheprovider -k libvirt tests/unit &&
        pytest -v -s --durations=10 tests/integration/libvirt
}

interrupted_deploy() {
    trap 'exit 143' TERM
    pytest -v -s tests/integration/docker/test_interrupted_deploy.py -k again_and_again
}

molecule_scenario() {
    trap 'exit 143' TERM
    molecule test -s "$1"
}

scenarios() {
    if [ -n "${LEARNHPC_SCENARIOS:-}" ]; then
        echo "$LEARNHPC_SCENARIOS"
    else
        for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done
    fi
}

# The Molecule scenarios and the OpenStack stage run in LEARNHPC_LANES parallel lanes
# (default 2): they spend much of their time waiting (package downloads, services starting,
# Slurm and OpenStack doing their work), so two at a time finish sooner on two cores. The
# longest start first; a lane takes the next stage when its stage ends.
expected_seconds() {
    case $1 in
        molecule:event_demo) echo 1300 ;;
        molecule:accounts) echo 500 ;;
        # About 1500 s now (a whole event on it), but it waits for its image, which builds in
        # the background from the start: it goes after the two longest, by when the image is there.
        openstack-cloud) echo 590 ;;
        molecule:slurm) echo 260 ;;
        molecule:ldap) echo 250 ;;
        molecule:nfs) echo 150 ;;
        molecule:munge) echo 100 ;;
        molecule:reap) echo 150 ;;
        molecule:autoscale) echo 600 ;;
        molecule:slurm_rest) echo 420 ;;
        molecule:cvmfs) echo 400 ;;
        molecule:sshd) echo 240 ;;
        interrupted) echo 300 ;;
        libvirt) echo 900 ;;
        *) echo 300 ;;
    esac
}

run_job() {
    local name=$1
    case $name in
        openstack-cloud) stage openstack-cloud openstack_cloud ;;
        interrupted) stage interrupted interrupted_deploy ;;
        libvirt) stage libvirt libvirt_provider ;;
        molecule:*)
            if ! stage "$name" molecule_scenario "${name#molecule:}"; then
                # A scenario stopped half-way leaves its containers; they would slow the others.
                timeout 300 molecule destroy -s "${name#molecule:}" >>"$logs/molecule-${name#molecule:}.log" 2>&1
            fi
            ;;
    esac
}

run_lanes() {
    local lanes=${LEARNHPC_LANES:-2} job pids=() pid finished
    local -a jobs
    mapfile -t jobs < <(for job in "$@"; do printf '%s %s\n' "$(expected_seconds "$job")" "$job"; done |
        sort -rn | cut -d' ' -f2)
    for job in "${jobs[@]}"; do
        wanted "$job" || continue
        while [ ${#pids[@]} -ge "$lanes" ]; do
            wait -n -p finished "${pids[@]}"
            for pid in "${!pids[@]}"; do
                [ "${pids[$pid]}" = "$finished" ] && unset 'pids[pid]'
            done
            pids=("${pids[@]}")
        done
        run_job "$job" &
        pids+=($!)
    done
    wait "${pids[@]}"
}

if [ "${1:-}" = --function ]; then
    shift
    "$@"
    exit
fi

budget=${LEARNHPC_TEST_BUDGET:-5280}
total_start=$(date +%s)
: >"$results"
export LEARNHPC_SETUP_BROWSER=1  # chromium for the browser test of JupyterHub
if ! stage setup scripts/setup.sh --base; then
    echo "test: the set-up failed, nothing else can run"
    echo "test: 0 passed, 1 failed"
    exit 1
fi
rm -f "$logs/openstack-image.rc" "$logs/node-image.rc"
# The OpenStack images: the control plane's from the base image, from now on; the servers' from
# the node image, once the node-image stage has made it.
if wanted openstack-cloud; then
    (
        t0=$(date +%s)
        scripts/openstack-cloud.sh build-control-plane >"$logs/openstack-image.log" 2>&1
        rc=$?
        while [ ! -f "$logs/node-image.rc" ]; do sleep 5; done
        if [ $rc -eq 0 ] && [ "$(cat "$logs/node-image.rc")" = 0 ]; then
            scripts/openstack-cloud.sh build >>"$logs/openstack-image.log" 2>&1
            rc=$?
        elif [ $rc -eq 0 ]; then
            echo "no node image: the servers' image was not built" >>"$logs/openstack-image.log"
            rc=1
        fi
        echo $rc >"$logs/openstack-image.rc"
        printf '<== openstack image build (background) ended with %s after %ss\n' $rc $(($(date +%s) - t0))
    ) &
fi
# The checks of the files run beside the lanes: the lanes' stages spend part of their time
# waiting on services and jobs, and these fill that time instead of adding theirs to the run.
checks() {
    stage ruff sh -c 'ruff check . && ruff format --check .'
    stage shell scripts/shellcheck.sh
    # ansible-lint runs `ansible-playbook --syntax-check` on each of about 80 playbooks, which needs no
    # inventory: without this each read ansible.cfg's, the event inventory, and asked Docker for the
    # nodes (18 % of the stage's time).
    stage lint env ANSIBLE_INVENTORY="$top/tests/lint-inventory.yml" ansible-lint
    stage readmes sh -c 'python scripts/role_readme.py --check && python scripts/event_doc.py --check'
    stage unit pytest -q tests/unit
    stage sanity scripts/sanity.sh
    stage build build_and_install
    return 0
}
checks &
checks_pid=$!
stage setup:node-image scripts/setup.sh
node_image_rc=$?
echo "$node_image_rc" >"$logs/node-image.rc"
lane_jobs=(openstack-cloud interrupted)
# Not in a plain `make test` yet: on a cold machine the libvirt stage (node disk, three VMs under
# TCG, kernel NFS) took 1,456 s beside the other lane, and the whole run with it 4,925 s, too close
# to the 85-minute budget (issue 19: lane work must shrink first). LEARNHPC_TEST_LIBVIRT=1, or the stage named in
# LEARNHPC_STAGES, runs it.
if [ "${LEARNHPC_TEST_LIBVIRT:-0}" = 1 ] || [[ " ${LEARNHPC_STAGES:-} " == *" libvirt "* ]]; then
    lane_jobs+=(libvirt)
fi
for scenario in $(scenarios); do
    lane_jobs+=("molecule:$scenario")
done
if [ "$node_image_rc" -eq 0 ]; then
    run_lanes "${lane_jobs[@]}"
else
    for job in "${lane_jobs[@]}"; do
        wanted "$job" && printf '%-28s NOT RUN  (no node image)\n' "$job" >>"$results"
    done
fi
wait "$checks_pid"
total_end=$(date +%s)

passed=$(grep -c ' passed ' "$results")
failed=$(grep -vc ' passed ' "$results")
echo
echo "Stage                        result    time"
cat "$results"
printf 'total %ss\n' $((total_end - total_start))
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
