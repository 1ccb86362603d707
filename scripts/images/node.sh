#!/usr/bin/env bash
# Build learnhpc/node:12, the baked node image of the docker provider: the base image
# learnhpc/debian-systemd:12 with every package of the event's roles installed once, by
# playbooks/node_image.yml (which says what is left out, and why). Events use it by default
# (docker.image); their roles then only configure. The image carries a label with the hash of
# its recipe; `scripts/setup.sh` rebuilds it only when that hash changes.
#
# Usage: node.sh HASH   (run from the checkout, after the rest of scripts/setup.sh)
set -euo pipefail

hash=${1:?usage: $0 RECIPE_HASH}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image=${LEARNHPC_NODE_IMAGE:-learnhpc/node:12}
base=${LEARNHPC_BASE_IMAGE:-learnhpc/debian-systemd:12}
name=learnhpc-node-image-$$
log=$(mktemp /var/tmp/learnhpc-node-image.XXXXXX.log)

cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A systemd container as the docker provider runs its nodes.
# shellcheck source=scripts/images/systemd.sh
. "$top/scripts/images/systemd.sh"
docker run -d --name "$name" --hostname node-image "${SYSTEMD_CONTAINER[@]}" "$base" >/dev/null
wait_booted "$name"

ANSIBLE_CONFIG=$top/ansible.cfg "$top/.venv/bin/ansible-playbook" "$top/playbooks/node_image.yml" \
    -i "$name," -e ansible_connection=community.docker.docker_api -e ansible_user=root >"$log" 2>&1 || {
    echo "node image: the playbook failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
}
rm -f "$log"

docker stop -t 30 "$name" >/dev/null
docker commit --change "LABEL org.learnhpc.recipe=$hash" "$name" "$image" >/dev/null
echo "built $image (recipe $hash)"
