# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load connection plugins of collections in the controller's main process, before its workers fork.

Each task on each host runs in a worker process forked from ansible-playbook's main process. A plugin that
the main process has loaded is in every worker already; one that it has not is imported again by every
worker. ansible-core loads its own connection plugins in the main process for that reason (``PlaybookExecutor``
lists them all), but not those of collections. learnhpc.cluster.docker_engine imports community.docker's
Engine API client, requests and urllib3: on two cores, importing them again in each worker took about half of
the controller's CPU time in a no-op run of a role on Docker nodes.
"""

from __future__ import annotations

from ansible.plugins.loader import connection_loader


def preload_connections(names):
    """Load each named connection plugin (FQCN) into this process; return the names that loaded.

    A name that does not load is left out silently: the task that uses it reports why, where it belongs.
    """
    loaded = []
    for name in dict.fromkeys(names):
        if not name or "." not in name:  # ansible.builtin's short names are loaded by ansible-core
            continue
        try:
            plugin = connection_loader.get(name, class_only=True)
        except Exception:  # pylint: disable=broad-exception-caught
            plugin = None
        if plugin is not None:
            loaded.append(name)
    return loaded
