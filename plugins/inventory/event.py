# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory of the nodes of learnhpc training events, read from their providers."""

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION and EXAMPLES before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: event
short_description: Nodes of learnhpc training events, from Docker containers (OpenStack servers to come)
version_added: 0.1.0
author:
  - learnhpc.cluster developers (!UNKNOWN)
description:
  - Builds an inventory of the nodes of the learnhpc training events that exist at the configured O(providers).
  - A node is a Docker container (provider V(docker)) or an OpenStack server (provider V(openstack)) that carries the
    labels (OpenStack metadata) C(org.learnhpc.event), C(org.learnhpc.roles) and C(org.learnhpc.end_date)
    described in C(docs/contracts.md) of the collection.
  - Every node becomes a host named like its container (server). It joins the group C(event_<event>), where every
    C(-) of the event name is replaced by C(_), and the groups C(mgmt), C(login) and C(compute) of its node roles.
    A play for one event targets for example C(event_demo:&compute).
  - 'Every host gets the variables C(learnhpc_event), C(learnhpc_node_roles) (a list), C(learnhpc_end_date)
    (C(YYYY-MM-DD)), C(learnhpc_provider), C(slurm_node_cpus) and C(slurm_node_memory_mb) (integers), and the
    variables to reach it. Docker containers get C(ansible_connection=community.docker.docker),
    C(ansible_host=<container name>), C(ansible_user=root) and C(learnhpc_docker_state) (the state of the
    container, for example V(running) or V(exited)); stopped containers are included.'
  - For a container, C(slurm_node_cpus) is its CPU limit (C(--cpus), C(--cpu-quota) or the CPUs of C(--cpuset-cpus),
    at least 1), else the CPU count of the Docker engine. C(slurm_node_memory_mb) is its memory limit (C(--memory)),
    else the memory of the Docker engine, in MiB, minus O(memory_reserve_mb), at least 1.
  - Nodes whose labels are malformed (no or a bad event name, no node roles, no or a bad end date) are skipped with
    a warning. Unknown node roles are left out with a warning; a node with no known role is still a member of its
    event's group.
  - All strings read from the providers are marked unsafe, so they are never templated.
  - Uses a YAML configuration file whose name ends with V(event.yml), V(event.yaml), V(events.yml) or V(events.yaml).
notes:
  - With O(cache) enabled, the data read from the providers is cached; O(events), O(memory_reserve_mb) and the
    constructed options are applied to it on every run.
requirements:
  - docker (the Docker SDK for Python) on the controller, for the V(docker) provider
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description:
      - The name of this plugin. It must be V(learnhpc.cluster.event) for this plugin to recognize the file as its own.
    type: str
    required: true
    choices: [learnhpc.cluster.event]
  providers:
    description:
      - Where to look for the nodes of events.
      - V(docker) reads the containers of the Docker engine at O(docker_host).
      - V(openstack) is reserved for OpenStack servers; it is not available yet and listing it is an error.
    type: list
    elements: str
    choices: [docker, openstack]
    default: [docker]
  events:
    description:
      - Names of the events whose nodes to include.
      - An empty list includes the nodes of every event found.
    type: list
    elements: str
    default: []
  docker_host:
    description:
      - URL of the Docker engine for the V(docker) provider, for example V(unix:///var/run/docker.sock) or
        V(tcp://docker.example.org:2376).
      - When not set, the rules of the Docker SDK's C(docker.from_env()) apply, in this order - the environment
        variables E(DOCKER_HOST), E(DOCKER_TLS_VERIFY) and E(DOCKER_CERT_PATH), the current Docker CLI context,
        the local socket V(unix:///var/run/docker.sock).
      - E(DOCKER_TLS_VERIFY) and E(DOCKER_CERT_PATH) also apply when this is set.
    type: str
  memory_reserve_mb:
    description:
      - Memory in MiB that every node keeps for its operating system and Slurm's daemons.
      - C(slurm_node_memory_mb) is the memory of the node minus this, at least 1.
    type: int
    default: 256
"""

EXAMPLES = r"""
---
# inventory/learnhpc.event.yml: the nodes of every event on the local Docker engine
plugin: learnhpc.cluster.event

---
# Two events only, on a remote Docker engine, with more memory kept for the system
plugin: learnhpc.cluster.event
providers:
  - docker
events:
  - hpc-intro
  - demo
docker_host: tcp://docker.example.org:2375
memory_reserve_mb: 512

---
# Constructed features: a group per container state, a group of nodes whose event has ended,
# and a variable for the Slurm node weight
plugin: learnhpc.cluster.event
strict: true
keyed_groups:
  # docker_running, docker_exited, ...
  - key: learnhpc_docker_state
    prefix: docker
groups:
  ended: learnhpc_end_date < now(fmt='%Y-%m-%d')
compose:
  slurm_node_weight: slurm_node_cpus * 10

---
# Cache the containers for ten minutes in JSON files (ansible-inventory --flush-cache refreshes)
plugin: learnhpc.cluster.event
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/learnhpc-inventory
cache_timeout: 600
"""

import datetime
import os
import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

try:
    import docker
    from docker.errors import DockerException
    from requests.exceptions import RequestException
except ImportError as import_error:
    docker = None
    DOCKER_IMPORT_ERROR = str(import_error)
    DOCKER_ERRORS = ()
else:
    DOCKER_IMPORT_ERROR = ""
    DOCKER_ERRORS = (DockerException, RequestException, OSError)

PLUGIN = "learnhpc.cluster.event"
LABEL_EVENT = "org.learnhpc.event"
LABEL_ROLES = "org.learnhpc.roles"
LABEL_END_DATE = "org.learnhpc.end_date"
NODE_ROLES = ("mgmt", "login", "compute")
EVENT_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CPUSET_PART = re.compile(r"^(\d+)(?:-(\d+))?$")
DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"
MIB = 1024 * 1024
NANO = 1_000_000_000


def _one_line(exc):
    """The message of an exception on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _reason(exc):
    """The innermost cause of an exception, on one line: ``ConnectionRefusedError: [Errno 111] Connection refused``."""
    for _depth in range(20):
        cause = exc.__cause__ or exc.__context__
        if cause is None:
            break
        exc = cause
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _int(value):
    """An integer from an API value, 0 when it is missing or not a number."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _is_date(value):
    if not isinstance(value, str) or not DATE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def cpuset_count(cpuset):
    """The number of CPUs in a cpuset list such as ``0-1,3``; ValueError if it is malformed."""
    cpus = set()
    for part in cpuset.split(","):
        match = CPUSET_PART.match(part.strip())
        if not match:
            raise ValueError(f"malformed cpuset {cpuset!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise ValueError(f"malformed cpuset {cpuset!r}")
        cpus.update(range(first, last + 1))
    return len(cpus)


def node_from_labels(name, labels, provider, kind, warn):
    """The provider-independent part of a node, from its labels (OpenStack: metadata).

    Returns None, after a warning, when the labels are malformed. ``kind`` names the node in
    warnings (``container``, ``server``).
    """
    labels = labels or {}
    event = labels.get(LABEL_EVENT)
    if not isinstance(event, str) or not EVENT_NAME.match(event):
        warn(f"{PLUGIN}: skipping {kind} {name}: label {LABEL_EVENT}={event!r} is not an event name")
        return None
    roles_text = labels.get(LABEL_ROLES)
    items = [item.strip() for item in roles_text.split(",")] if isinstance(roles_text, str) else []
    items = [item for item in items if item]
    if not items:
        warn(f"{PLUGIN}: skipping {kind} {name}: it has no node roles in label {LABEL_ROLES}")
        return None
    end_date = labels.get(LABEL_END_DATE)
    if not _is_date(end_date):
        warn(f"{PLUGIN}: skipping {kind} {name}: label {LABEL_END_DATE}={end_date!r} is not a date YYYY-MM-DD")
        return None
    roles = []
    unknown = []
    for role in items:
        target = roles if role in NODE_ROLES else unknown
        if role not in target:
            target.append(role)
    if unknown:
        warn(
            f"{PLUGIN}: {kind} {name}: ignoring unknown node role(s) {', '.join(unknown)} in label {LABEL_ROLES}"
            f" (known roles: {', '.join(NODE_ROLES)})"
        )
    return {"name": name, "event": event, "roles": roles, "end_date": end_date, "provider": provider}


def docker_url(docker_host):
    """The URL of the Docker engine the client talks to, for messages."""
    url = docker_host or os.environ.get("DOCKER_HOST")
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
    if docker is None:
        raise AnsibleParserError(
            f"{PLUGIN}: the docker provider needs the Docker SDK for Python (pip package docker) on the controller"
            f" ({DOCKER_IMPORT_ERROR})"
        )
    environment = dict(os.environ, DOCKER_HOST=docker_host) if docker_host else None
    try:
        return docker.from_env(environment=environment)
    except DOCKER_ERRORS as exc:
        raise AnsibleParserError(
            f"{PLUGIN}: the Docker engine does not answer at {docker_url(docker_host)}: start it (scripts/setup.sh"
            f" does) or set docker_host ({_reason(exc)})"
        ) from None


class DockerProvider:
    """Nodes from the containers of one Docker engine.

    ``nodes()`` returns the normalized node dicts every provider returns:
    ``name``, ``event``, ``roles`` (known roles only), ``end_date``, ``provider`` (see node_from_labels),
    ``cpus`` and ``memory_mb`` (ints, the node's size before any reserve) and ``vars`` (further host variables,
    such as how to reach the node). Only plain JSON data, so the inventory cache can hold it.
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
        except DOCKER_ERRORS as exc:
            raise AnsibleParserError(
                f"{PLUGIN}: listing the containers of the Docker engine at {self.url} failed: {_reason(exc)}"
            ) from None
        engine_cpus = _int(engine.get("NCPU"))
        engine_memory = _int(engine.get("MemTotal"))
        nodes = []
        for container in containers:
            node = node_from_labels(container.name, container.labels, self.name, "container", self.warn)
            if node is None:
                continue
            host_config = (container.attrs or {}).get("HostConfig") or {}
            node["cpus"] = self._cpus(container.name, host_config, engine_cpus)
            node["memory_mb"] = self._memory_mb(host_config, engine_memory)
            node["vars"] = {
                "ansible_connection": "community.docker.docker",
                "ansible_host": container.name,
                "ansible_user": "root",
                "learnhpc_docker_state": container.status,
            }
            nodes.append(node)
        return nodes

    def _cpus(self, name, host_config, engine_cpus):
        limits = []
        nano_cpus = _int(host_config.get("NanoCpus"))
        if nano_cpus > 0:
            limits.append(nano_cpus // NANO)
        quota = _int(host_config.get("CpuQuota"))
        if quota > 0:
            limits.append(quota // (_int(host_config.get("CpuPeriod")) or 100_000))
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
        limits = [value for value in (_int(host_config.get("Memory")), engine_memory) if value > 0]
        return min(limits) // MIB if limits else 0


class OpenStackProvider:
    """Nodes from the servers of an OpenStack project: not available yet."""

    name = "openstack"

    @classmethod
    def from_plugin(cls, plugin):
        raise AnsibleParserError(f"the openstack provider of {PLUGIN} is not available yet")


PROVIDERS = {provider.name: provider for provider in (DockerProvider, OpenStackProvider)}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """The nodes of learnhpc events, with their groups and Slurm sizes."""

    NAME = PLUGIN

    def verify_file(self, path):
        """Accept YAML files whose names end in event.yml, event.yaml, events.yml or events.yaml."""
        return super().verify_file(path) and path.endswith(("event.yml", "event.yaml", "events.yml", "events.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)

        cache_key = self.get_cache_key(path)
        # cache is False when the inventory is being refreshed (--flush-cache, meta: refresh_inventory).
        user_cache_setting = self.get_option("cache")
        attempt_to_read_cache = user_cache_setting and cache
        cache_needs_update = user_cache_setting and not cache
        nodes = None
        if attempt_to_read_cache:
            try:
                nodes = self._cache[cache_key]
            except KeyError:
                cache_needs_update = True
        if nodes is None:
            nodes = self._fetch_nodes(self._providers())
        if cache_needs_update:
            self._cache[cache_key] = nodes

        self._populate(nodes)

    def _providers(self):
        """One provider object per configured provider, each with its client."""
        names = list(dict.fromkeys(self.get_option("providers") or []))
        return [PROVIDERS[name].from_plugin(self) for name in names]

    @staticmethod
    def _fetch_nodes(providers):
        nodes = []
        for provider in providers:
            nodes.extend(provider.nodes())
        return nodes

    def _populate(self, nodes):
        """Add the nodes (normalized node dicts, see DockerProvider) to the inventory."""
        reserve = self.get_option("memory_reserve_mb")
        if reserve < 0:
            raise AnsibleParserError(f"{PLUGIN}: memory_reserve_mb must not be negative, got {reserve}")
        events = set(self.get_option("events") or [])
        strict = self.get_option("strict")
        seen = set()
        for node in nodes:
            if events and node["event"] not in events:
                continue
            name = wrap_var(node["name"])
            if name in seen:
                self.display.warning(f"{PLUGIN}: skipping a second node named {name} ({node['provider']})")
                continue
            seen.add(name)
            host_vars = self._host_vars(node, reserve)

            self.inventory.add_host(name)
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            for group in self._groups(node):
                self.inventory.add_group(group)
                self.inventory.add_child(group, name)

            # The host's variables with inventory_hostname, group_names, ...
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)

    @staticmethod
    def _host_vars(node, reserve):
        host_vars = dict(node.get("vars") or {})
        host_vars.update(
            learnhpc_event=node["event"],
            learnhpc_node_roles=list(node["roles"]),
            learnhpc_end_date=node["end_date"],
            learnhpc_provider=node["provider"],
        )
        host_vars = wrap_var(host_vars)
        host_vars["slurm_node_cpus"] = max(1, int(node["cpus"]))
        host_vars["slurm_node_memory_mb"] = max(1, int(node["memory_mb"]) - reserve)
        return host_vars

    @staticmethod
    def _groups(node):
        groups = ["event_" + node["event"].replace("-", "_")]
        groups.extend(role for role in node["roles"] if role in NODE_ROLES)
        return [wrap_var(group) for group in groups]
