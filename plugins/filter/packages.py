# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a role's packages a host still lacks, from the package facts read once per run."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _split(spec):
    """``name``, ``name=version`` (``*`` allowed at the end) or ``name:arch``: (name, version or None)."""
    name, version = spec.split("=", 1) if "=" in spec else (spec, "")
    return name.split(":", 1)[0], (version or None)


def packages_missing(packages, installed):
    """The entries of ``packages`` that ``installed`` (``ansible_facts.packages``) does not show.

    Without package facts (``None``, e.g. a role run on its own, or a play that did not read
    them) every package counts as missing, so that the role's package task runs as usual.
    A path to a ``.deb`` file always counts as missing: only the package manager can tell.
    """
    if isinstance(packages, str):
        packages = [packages]
    if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) and p for p in packages):
        raise AnsibleFilterError("packages_missing: the input must be a list of package names")
    if installed is None:
        return list(packages)
    if not isinstance(installed, Mapping):
        raise AnsibleFilterError("packages_missing: the argument must be ansible_facts.packages (a dict) or none")
    missing = []
    for spec in packages:
        if spec.endswith(".deb") or "/" in spec:
            missing.append(spec)
            continue
        name, version = _split(spec)
        versions = [str(p.get("version", "")) for p in installed.get(name) or [] if isinstance(p, Mapping)]
        if not versions or (version is not None and not any(fnmatch.fnmatchcase(v, version) for v in versions)):
            missing.append(spec)
    return missing


class FilterModule:
    def filters(self):
        return {"packages_missing": packages_missing}
