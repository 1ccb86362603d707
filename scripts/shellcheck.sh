#!/usr/bin/env bash
# Runs shellcheck on every shell script git knows here: the files ending in .sh and those whose first
# line names sh, dash or bash (ansible-test's own shellcheck test sees only the .sh ones).
# Not checked: Jinja templates (*.j2), which are shell only once rendered.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
shellcheck=$top/.venv/bin/shellcheck
[ -x "$shellcheck" ] || shellcheck=$(command -v shellcheck) || {
    echo "shellcheck: not installed (requirements.txt brings it into .venv: make setup)" >&2
    exit 1
}
scripts=()
while IFS= read -r -d '' file; do
    [ -f "$file" ] || continue
    case $file in
        *.j2) continue ;;
        *.sh) scripts+=("$file") ;;
        *) head -n 1 "$file" | grep -qE '^#!\s*/(usr/)?bin/(env +)?(ba|da)?sh\b' && scripts+=("$file") ;;
    esac
done < <(git ls-files -z)
echo "shellcheck: ${#scripts[@]} scripts"
"$shellcheck" "$@" "${scripts[@]}"
