# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the globus_endpoint role (Globus Connect Server v5.4); the logic is in module_utils/globus.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.module_utils import globus


def _settings(settings, name):
    if not isinstance(settings, dict):
        raise AnsibleFilterError(f"{name}: expected the role's settings (a mapping), got {type(settings).__name__}")
    return settings


def globus_problems(settings):
    """What is wrong with the role's settings, one clause each (empty when nothing is)."""
    return globus.settings_problems(_settings(settings, "globus_problems"))


def globus_argv(settings, command, gateway_id=None):
    """The command line (a list) the role runs for ``command``."""
    try:
        return globus.argv(_settings(settings, "globus_argv"), command, gateway_id)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"globus_argv: {command}: {exc}") from None


def globus_gateway_policies(settings):
    """The storage gateway's path restrictions and identity mapping (None for Globus's default)."""
    try:
        return globus.gateway_policies(_settings(settings, "globus_gateway_policies"))
    except KeyError as exc:
        raise AnsibleFilterError(f"globus_gateway_policies: the settings lack {exc}") from None


def globus_documents(output):
    """The documents in what ``globus-connect-server ... list --format json`` printed."""
    try:
        return globus.documents(output)
    except ValueError as exc:
        raise AnsibleFilterError(f"globus_documents: {exc}") from None


class FilterModule:
    """Globus Connect Server filters."""

    def filters(self):
        return {
            "globus_problems": globus_problems,
            "globus_argv": globus_argv,
            "globus_gateway_policies": globus_gateway_policies,
            "globus_documents": globus_documents,
        }
