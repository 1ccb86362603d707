#!/usr/bin/env bash
# Prepare this machine to run the collection and its tests. Idempotent: a second run
# only checks, and takes a few seconds.
#
#   1. Debian packages: docker.io and debootstrap, when missing; with LEARNHPC_SETUP_BROWSER=1
#      (scripts/test.sh) also chromium and chromium-driver, for the browser test of JupyterHub.
#   2. The Docker engine: started when nothing answers on its socket.
#   3. .venv: the pinned Python environment (requirements.txt + constraints.txt).
#   4. .venv/collections: this checkout linked as the collection learnhpc.cluster.
#   5. The base image learnhpc/debian-systemd:12, rebuilt only when its recipe changes.
#   6. ansible-test's pip bootstrap, seeded (it cannot be downloaded here).
#   7. The baked node image learnhpc/node:12 (the base image with the roles' packages), the
#      docker provider's default, rebuilt only when its recipe changes.
#   8. Only with LEARNHPC_SETUP_LIBVIRT=1, for the libvirt provider: this machine as a libvirt
#      host (scripts/libvirt-host.sh start), requirements-libvirt.txt in .venv, and the node
#      disk made from the baked node image (scripts/images/libvirt-node.sh), rebuilt only when
#      its recipe changes.
#
# Every failure ends with one line saying what is missing and how to fix it.
#
# What waits on the network runs beside what keeps the processors busy: the browser's packages
# are installed while the rest goes on, and .venv is made while the base image is built.
# `setup.sh --base` stops before the node image (7) and the libvirt host (8): scripts/test.sh
# starts the checks of the files and the OpenStack image's build from there, and the node
# image's build beside them.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
venv=$top/.venv
base_image=${LEARNHPC_BASE_IMAGE:-learnhpc/debian-systemd:12}
node_image=${LEARNHPC_NODE_IMAGE:-learnhpc/node:12}
dockerd_log=${LEARNHPC_DOCKERD_LOG:-/var/log/learnhpc-dockerd.log}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

base_only=0
case ${1:-} in
    --base) base_only=1 ;;
    "") ;;
    *) die "unknown argument '$1' (the only one is --base)" ;;
esac

# Jobs started in the background; each is waited for, and its failure reported, before the end.
declare -A jobs=()
tmp=$(mktemp -d)
trap '[ ${#jobs[@]} -eq 0 ] || kill "${jobs[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# wait_job NAME MESSAGE: wait for the job NAME; die with MESSAGE and its output's last lines if it failed.
wait_job() {
    local pid=${jobs[$1]:-}
    [ -n "$pid" ] || return 0
    unset "jobs[$1]"
    wait "$pid" && return 0
    tail -n 20 "$tmp/$1.log" >&2
    die "$2"
}

# --- 1. Debian packages -------------------------------------------------------------
# apt_install NAME...: install the Debian packages NAME (with iptables and CA certificates).
apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "missing $* and this is not a Debian-like system: install them by hand"
    [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null ||
        die "missing $*: run 'sudo apt-get install $*' or run this as root"
    say "installing $*"
    as_root apt-get update -qq >/dev/null ||
        die "apt-get update failed: check the network and /etc/apt/sources.list"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "$@" iptables ca-certificates >/dev/null ||
        die "apt-get install $* failed"
}
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# The browser (about 100 MB to download) installs while the steps below go on; nothing else uses
# apt on this machine until it has ended.
browser=()
if [ "${LEARNHPC_SETUP_BROWSER:-0}" = 1 ] && [ $base_only = 0 ]; then
    command -v chromium >/dev/null 2>&1 || browser+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || browser+=(chromium-driver)
fi
if [ ${#browser[@]} -gt 0 ]; then
    say "installing ${browser[*]} in the background"
    apt_install "${browser[@]}" >"$tmp/browser.log" 2>&1 &
    jobs[browser]=$!
fi

# --- 2. The Docker engine -------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        say "starting docker.service"
        as_root systemctl start docker || true
    else
        say "starting dockerd (log: $dockerd_log)"
        as_root sh -c "setsid dockerd >>'$dockerd_log' 2>&1 < /dev/null &"
    fi
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || die "the Docker engine did not answer within 60 s: \
see $dockerd_log (last line: $(tail -n 1 "$dockerd_log" 2>/dev/null || echo none))"
fi

# --- 3. The Python environment -----------------------------------------------------------
# Made while the base image (5) is built: both mostly wait on downloads.
want=$(cat requirements.txt constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.learnhpc-stamp" 2>/dev/null)" != "$want" ]; then
    say "creating the Python environment in .venv"
    (
        set -e
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        # --no-compile: Python compiles what is imported when it is first imported (make test lets it
        # keep the byte code); compiling every file at install time went mostly to the 15,000 files of
        # the collections that `ansible` brings and this project never imports.
        "$venv/bin/python" -m pip install -q --no-compile --disable-pip-version-check -r requirements.txt -c constraints.txt
        "$venv/bin/python" -m pip check
        echo "$want" >"$venv/.learnhpc-stamp"
    ) >"$tmp/venv.log" 2>&1 &
    jobs[venv]=$!
fi

# --- 4. This checkout as the collection learnhpc.cluster ------------------------------------
mkdir -p "$venv/collections/ansible_collections/learnhpc"
ln -sfn "$top" "$venv/collections/ansible_collections/learnhpc/cluster"

# --- 5. The base image -----------------------------------------------------------------
# The recipe: the build script and the CA certificates it bakes into the image.
recipe=$( { cat scripts/images/debian-systemd.sh
            cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } |
          sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "org.learnhpc.recipe" }}' \
    "$base_image" 2>/dev/null || true)
if [ "$have" != "$recipe" ]; then
    say "building $base_image (recipe $recipe; about a minute)"
    as_root env LEARNHPC_BASE_IMAGE="$base_image" scripts/images/debian-systemd.sh "$recipe" ||
        die "building $base_image failed (see the lines above)"
fi
wait_job venv "pip could not install requirements.txt: run '$venv/bin/pip install -r requirements.txt' to see why"

# --- 6. ansible-test's pip bootstrap -------------------------------------------------------
# ansible-test downloads get-pip.py to bootstrap pip in its virtual environments; that
# address is not reachable here. It accepts a script already in its cache: ours runs
# ensurepip, then pip with the arguments ansible-test gives.
"$venv/bin/python" scripts/seed_ansible_test_bootstrap.py

if [ $base_only = 1 ]; then
    say "ready but for the node image (docker $(docker version -f '{{ .Server.Version }}'), $("$venv/bin/ansible" --version | sed -n 1p))"
    exit 0
fi

# --- 7. The baked node image ---------------------------------------------------------------
# The base image with every package of the event's roles installed (scripts/images/node.sh).
# The recipe: the base image's, the bake playbook and script, and what the roles install.
node_recipe=$( { echo "$recipe"
                 cat playbooks/node_image.yml playbooks/vars/node_image.yml scripts/images/node.sh scripts/images/systemd.sh roles/*/defaults/main.yml \
                     roles/jupyterhub/vars/main.yml roles/slurm_compute/vars/main.yml roles/slurm_autoscale/vars/main.yml roles/jupyterhub/files/constraints.txt \
                     roles/jupyterhub/tasks/venv.yml; } | sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "org.learnhpc.recipe" }}' \
    "$node_image" 2>/dev/null || true)
if [ "$have" != "$node_recipe" ]; then
    say "building $node_image (recipe $node_recipe; a few minutes)"
    LEARNHPC_BASE_IMAGE="$base_image" LEARNHPC_NODE_IMAGE="$node_image" scripts/images/node.sh "$node_recipe" ||
        die "building $node_image failed (see the lines above)"
fi

# --- 8. The libvirt provider (only with LEARNHPC_SETUP_LIBVIRT=1) -------------------------------
# Its own stamp: libvirt-python is built from source, and only this step needs it.
if [ "${LEARNHPC_SETUP_LIBVIRT:-0}" = 1 ]; then
    # libvirt-host.sh installs its packages with apt: the browser's installation must have ended.
    wait_job browser "apt-get install ${browser[*]} failed"
    as_root scripts/libvirt-host.sh start || die "scripts/libvirt-host.sh start failed (see the line above)"
    want=$(cat requirements-libvirt.txt constraints.txt | sha256sum | cut -c1-16)
    if [ "$(cat "$venv/.learnhpc-libvirt-stamp" 2>/dev/null)" != "$want" ]; then
        say "installing requirements-libvirt.txt into .venv (libvirt-python is built: about a minute)"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -r requirements-libvirt.txt -c constraints.txt 2>&1 | grep -v '^WARNING: Location' || true
        if ! "$venv/bin/python" -c 'import libvirt, lxml' 2>/dev/null || ! "$venv/bin/python" -m pip check >/dev/null; then
            die "pip could not install requirements-libvirt.txt: run '$venv/bin/pip install -r requirements-libvirt.txt' to see why"
        fi
        echo "$want" >"$venv/.learnhpc-libvirt-stamp"
    fi
    as_root env LEARNHPC_NODE_IMAGE="$node_image" scripts/images/libvirt-node.sh ||
        die "building the libvirt node disk failed (see the lines above)"
fi

wait_job browser "apt-get install ${browser[*]} failed"
say "ready (docker $(docker version -f '{{ .Server.Version }}'), $("$venv/bin/ansible" --version | sed -n 1p))"
