"""Write the key tables of docs/event-file.md from the table of keys, plugins/module_utils/event_keys.py.

Each table sits between the lines "<!-- BEGIN KEYS <section> -->" and "<!-- END KEYS <section> -->",
<section> being "top" (the top level) or the path of a mapping or a list's items ("docker",
"accounts.instructors[]"). With --check nothing is written and the exit status is 1 when a
table is out of date (make test runs it that way).

Usage: python scripts/event_doc.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "event-file.md"
# scripts/setup.sh links this checkout there as ansible_collections/learnhpc/cluster.
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

from ansible_collections.learnhpc.cluster.plugins.module_utils import event_keys  # noqa: E402

TABLE_RE = re.compile(r"<!-- BEGIN KEYS (\S+) -->\n.*?<!-- END KEYS \1 -->", re.DOTALL)
USAGE = "usage: python scripts/event_doc.py [--check]"


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)


def type_text(key):
    """The type column: the row's own words, or words made from its type and bounds."""
    if key.doc_type:
        return key.doc_type
    null = ", or null" if key.default is None else ""
    if key.type == "integer":
        if key.minimum is not None and key.maximum is not None:
            return f"integer, {key.minimum} to {key.maximum}{null}"
        return f"integer >= {key.minimum}{null}" if key.minimum is not None else f"integer{null}"
    if key.type == "number":
        return f"number > 0{null}"
    if key.type == "choice":
        return " or ".join(f"`{choice}`" for choice in key.choices)
    return "string" if key.type == "text" else key.type


def default_text(key):
    """The default column: the row's own words, **required**, a link to a section, or the default."""
    if key.doc_default:
        return key.doc_default
    if key.required:
        return "**required**"
    if key.type == "mapping":
        return f"see [{key.name}](#{key.name})"
    return f"`{_value(key.default)}`"


def rows(section):
    """The documented keys of a table: the top level's, or all under ``section`` but those of a list's items."""
    keys = [key for key in event_keys.KEYS if key.doc]
    if section == "top":
        return [key for key in keys if not key.parent]
    prefix = f"{section}."
    return [key for key in keys if key.path.startswith(prefix) and "[]" not in key.path[len(prefix) :]]


def table(section):
    """The table of ``section`` with its markers; in a list's items' table, the keys are named from the item."""
    keys = rows(section)
    if not keys:
        raise SystemExit(f"{DOC}: the table {section!r} has no keys in plugins/module_utils/event_keys.py")
    lines = [f"<!-- BEGIN KEYS {section} -->", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for key in keys:
        name = key.path[len(section) + 1 :] if section.endswith("[]") else key.path
        lines.append(f"| `{name}` | {type_text(key)} | {default_text(key)} | {key.doc} |")
    lines += ["", f"<!-- END KEYS {section} -->"]
    return "\n".join(lines)


def update(text):
    """``(new text, sections whose table changed)``."""
    stale = []

    def rewrite(match):
        new = table(match.group(1))
        if new != match.group(0):
            stale.append(match.group(1))
        return new

    return TABLE_RE.sub(rewrite, text), stale


def check(doc=DOC):
    """The sections of ``doc`` whose table is out of date (none: it is up to date)."""
    return update(doc.read_text(encoding="utf-8"))[1]


def main(argv):
    if any(arg != "--check" for arg in argv):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        text = DOC.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{DOC}: {exc.strerror}", file=sys.stderr)
        return 1
    if not TABLE_RE.search(text):
        print(f"{DOC}: no key tables (<!-- BEGIN KEYS <section> --> ... <!-- END KEYS <section> -->)", file=sys.stderr)
        return 1
    new, stale = update(text)
    if stale and "--check" in argv:
        print(f"out of date (run: python scripts/event_doc.py): {DOC.relative_to(ROOT)}, tables {', '.join(stale)}")
        return 1
    if stale:
        DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
