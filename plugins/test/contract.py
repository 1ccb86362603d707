# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the shared contract (module_utils/contract.py) for the playbooks and roles, so that
no YAML writes a name rule again: ``x is learnhpc.cluster.event_name``,
``x is learnhpc.cluster.provider``."""

from __future__ import annotations

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract


def event_name(value):
    return isinstance(value, str) and contract.EVENT_NAME_RE.fullmatch(value) is not None


def provider(value):
    return isinstance(value, str) and value in contract.PROVIDERS


class TestModule:
    def tests(self):
        return {"event_name": event_name, "provider": provider}
