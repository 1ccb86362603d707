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
# The collections ours builds on (galaxy.yml) beside it, for the import and documentation tests.
site=$("$top/.venv/bin/python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')
mkdir -p "$work/ansible_collections/community"
cp -r "$site/ansible_collections/community/docker" "$work/ansible_collections/community/"
cd "$dest"
"$top/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
