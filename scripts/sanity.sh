#!/usr/bin/env bash
# Run `ansible-test sanity` on this checkout. ansible-test must run from a directory named
# ansible_collections/learnhpc/cluster outside any other git work tree, so the files git
# knows here (committed or not, but not ignored) are copied to a temporary one first.
# Extra arguments go to ansible-test.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/learnhpc-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/learnhpc/cluster
mkdir -p "$dest"
cd "$top"
git ls-files --cached --others --exclude-standard -z |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$dest"
cd "$dest"
"$top/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
