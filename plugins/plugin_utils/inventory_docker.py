# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker provider of the inventory plugin learnhpc.cluster.event (controller side).

``DockerProvider`` lists the containers of one Docker engine that carry the label org.learnhpc.event and turns
them into normalized node dicts (see inventory_nodes.py), with their Slurm sizes (``cpuset_count``, the engine's
CPUs and memory) and the variables of the connection plugin learnhpc.cluster.docker_engine.
``docker_client`` and ``docker_url`` reach the engine of the option docker_host; ``docker_sdk`` imports the
Docker SDK for Python on first use.
"""

from __future__ import annotations

import os
import re
import types

from ansible.errors import AnsibleParserError

from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_nodes import (
    LABEL_EVENT,
    PLUGIN,
    error_reason,
    node_from_labels,
    to_int,
)

# The Docker SDK, imported by docker_sdk() when the provider is used.
_DOCKER = {}

CPUSET_PART = re.compile(r"^(\d+)(?:-(\d+))?$")
DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"
MIB = 1024 * 1024
NANO = 1_000_000_000


def cpuset_count(cpuset):
    """The number of CPUs in a cpuset list such as ``0-1,3``; ValueError if it is malformed."""
    cpus = set()
    for part in cpuset.split(","):
        match = CPUSET_PART.fullmatch(part.strip())
        if not match:
            raise ValueError(f"malformed cpuset {cpuset!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise ValueError(f"malformed cpuset {cpuset!r}")
        cpus.update(range(first, last + 1))
    return len(cpus)


def docker_sdk():
    """The Docker SDK for Python (``module``, None when it is not installed, with the ImportError in ``error``) and
    the exceptions that talking to the engine may raise (``errors``).

    Imported on first use, not with the plugin: the import takes about 0.3 s, which runs that use the openstack
    provider only, or the inventory cache, need not pay.
    """
    if not _DOCKER:
        try:
            # pylint: disable=import-outside-toplevel
            import docker  # noqa: PLC0415
            import docker.errors  # noqa: PLC0415
            import requests.exceptions  # noqa: PLC0415
        except ImportError as exc:
            _DOCKER.update(module=None, error=str(exc), errors=())
        else:
            errors = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
            _DOCKER.update(module=docker, error="", errors=errors)
    return types.SimpleNamespace(**_DOCKER)


def docker_url(docker_host):
    """The URL of the Docker engine the client talks to, for messages."""
    url = docker_host or os.environ.get("DOCKER_HOST")
    docker = docker_sdk().module
    if not url and docker is not None:
        try:
            context = docker.ContextAPI.get_current_context()
            url = context.Host if context is not None else None
        except Exception:  # pylint: disable=broad-exception-caught  # only used for a message
            url = None
    if url and url.startswith("http+unix://"):
        url = "unix://" + url[len("http+unix://") :]
    return url or DEFAULT_DOCKER_URL


def docker_client(docker_host):
    """A Docker client for ``docker_host`` (None: from the environment), or AnsibleParserError."""
    sdk = docker_sdk()
    if sdk.module is None:
        raise AnsibleParserError(
            f"{PLUGIN}: the docker provider needs the Docker SDK for Python (pip package docker) on the controller"
            f" ({sdk.error})"
        )
    environment = dict(os.environ, DOCKER_HOST=docker_host) if docker_host else None
    try:
        return sdk.module.from_env(environment=environment)
    except sdk.errors as exc:
        raise AnsibleParserError(
            f"{PLUGIN}: the Docker engine does not answer at {docker_url(docker_host)}: start it (scripts/setup.sh"
            f" does) or set docker_host ({error_reason(exc)})"
        ) from None


class DockerProvider:
    """Nodes from the containers of one Docker engine.

    ``nodes()`` returns the normalized node dicts every provider returns (see inventory_nodes.py).
    """

    name = "docker"

    def __init__(self, client, warn, url=DEFAULT_DOCKER_URL):
        self.client = client
        self.warn = warn
        self.url = url

    @classmethod
    def from_plugin(cls, plugin):
        docker_host = plugin.get_option("docker_host")
        return cls(docker_client(docker_host), plugin.display.warning, docker_url(docker_host))

    def nodes(self):
        try:
            containers = self.client.containers.list(all=True, filters={"label": LABEL_EVENT}, ignore_removed=True)
            engine = self.client.info() if containers else {}
        except docker_sdk().errors as exc:
            raise AnsibleParserError(
                f"{PLUGIN}: listing the containers of the Docker engine at {self.url} failed: {error_reason(exc)}"
            ) from None
        engine_cpus = to_int(engine.get("NCPU"))
        engine_memory = to_int(engine.get("MemTotal"))
        nodes = []
        for container in containers:
            node = node_from_labels(container.name, container.labels, self.name, "container", self.warn)
            if node is None:
                continue
            host_config = (container.attrs or {}).get("HostConfig") or {}
            node["cpus"] = self._cpus(container.name, host_config, engine_cpus)
            node["memory_mb"] = self._memory_mb(host_config, engine_memory)
            node["vars"] = {
                # The Engine API directly: no docker CLI process per command, and the same
                # engine as the inventory's (docker_host), not the CLI's default.
                "ansible_connection": "learnhpc.cluster.docker_engine",
                "ansible_docker_docker_host": self.url,
                "ansible_host": container.name,
                "ansible_user": "root",
                "learnhpc_docker_state": container.status,
            }
            nodes.append(node)
        return nodes

    def _cpus(self, name, host_config, engine_cpus):
        limits = []
        nano_cpus = to_int(host_config.get("NanoCpus"))
        if nano_cpus > 0:
            limits.append(nano_cpus // NANO)
        quota = to_int(host_config.get("CpuQuota"))
        if quota > 0:
            limits.append(quota // (to_int(host_config.get("CpuPeriod")) or 100_000))
        cpuset = host_config.get("CpusetCpus")
        if cpuset:
            try:
                limits.append(cpuset_count(cpuset))
            except ValueError:
                self.warn(f"{PLUGIN}: container {name}: ignoring its malformed CpusetCpus {cpuset!r}")
        if engine_cpus > 0:
            limits.append(engine_cpus)
        return max(1, min(limits)) if limits else 1

    @staticmethod
    def _memory_mb(host_config, engine_memory):
        limits = [value for value in (to_int(host_config.get("Memory")), engine_memory) if value > 0]
        return min(limits) // MIB if limits else 0
