# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin that loads connection plugins of collections before the first task (prints nothing)."""

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: preload_connections
type: aggregate
short_description: Load connection plugins of collections once, before the workers fork
description:
  - Prints nothing. At the start of a playbook it loads the connection plugins named in O(connections) into
    ansible-playbook's main process. Each task then runs in a worker forked from that process, which finds
    them loaded, instead of importing them again.
  - ansible-core does this for its own connection plugins, not for those of collections.
    P(learnhpc.cluster.docker_engine#connection) imports community.docker's Engine API client, requests
    and urllib3. On two cores, importing them in every worker took about half of the controller's CPU
    time in a no-op run of a role on Docker nodes.
  - The inventory plugin P(learnhpc.cluster.event#inventory) loads the connection plugin of the nodes it
    adds by itself; enable this callback where hosts come from another inventory, as in this collection's
    Molecule scenarios.
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
requirements:
  - Enabled in C(callbacks_enabled) (ansible.cfg) or E(ANSIBLE_CALLBACKS_ENABLED).
options:
  connections:
    description: The connection plugins to load, by fully qualified name.
    type: list
    elements: str
    default: [learnhpc.cluster.docker_engine]
    env:
      - name: LEARNHPC_PRELOAD_CONNECTIONS
    ini:
      - section: callback_preload_connections
        key: connections
"""

from ansible.plugins.callback import CallbackBase

from ansible_collections.learnhpc.cluster.plugins.plugin_utils.connection_preload import preload_connections


class CallbackModule(CallbackBase):
    """Loads the configured connection plugins when the playbook starts."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "learnhpc.cluster.preload_connections"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        preload_connections(self.get_option("connections"))
