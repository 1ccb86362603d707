# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory of the nodes of learnhpc training events, read from their providers."""

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION and EXAMPLES before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: event
short_description: Nodes of learnhpc training events, from Docker containers and OpenStack servers
version_added: 0.1.0
author:
  - learnhpc.cluster developers (!UNKNOWN)
description:
  - Builds an inventory of the nodes of the learnhpc training events that exist at the configured O(providers).
  - A node is a Docker container (provider V(docker)) or an OpenStack server (provider V(openstack)) that carries the
    labels (OpenStack metadata) C(org.learnhpc.event), C(org.learnhpc.roles) and C(org.learnhpc.end_date)
    described in C(docs/contracts.md) of the collection.
  - Every node becomes a host named like its container (server). It joins the group C(event_<event>), where every
    C(-) of the event name is replaced by C(_), and the groups C(mgmt), C(login), C(compute) and C(dtn) (a data
    transfer node) of its node roles.
    A play for one event targets for example C(event_demo:&compute). Compute nodes that Slurm created (the label
    or metadata C(org.learnhpc.autoscaled=true), role C(slurm_autoscale)) also join the group C(autoscaled), and the
    playbooks leave them alone (C(event_demo:&compute:!autoscaled)), as they come and go with the queue.
  - 'Every host gets the variables C(learnhpc_event), C(learnhpc_node_roles) (a list), C(learnhpc_end_date)
    (C(YYYY-MM-DD)), C(learnhpc_provider), C(learnhpc_autoscaled) (a bool), C(slurm_node_cpus) and
    C(slurm_node_memory_mb) (integers), and the
    variables to reach it. Docker containers get C(ansible_connection=learnhpc.cluster.docker_engine),
    C(ansible_docker_docker_host) (the engine of O(docker_host)), C(ansible_host=<container name>),
    C(ansible_user=root) and C(learnhpc_docker_state) (the state of the container, for example V(running) or
    V(exited)); stopped containers are included.'
  - 'OpenStack servers get C(ansible_user), C(ansible_host), C(learnhpc_openstack_cloud) (the name of the cloud in
    C(clouds.yaml)), C(learnhpc_openstack_id) (the server ID), C(learnhpc_openstack_status) (for example
    V(ACTIVE), V(BUILD), V(SHUTOFF) or V(ERROR)), C(learnhpc_openstack_fixed_ip) and C(slurm_node_addr) (both the
    fixed IPv4 address; the second is the NodeAddr of role learnhpc.cluster.slurm) and, when it has one,
    C(learnhpc_openstack_floating_ip); servers in
    every status are included. C(ansible_user) is the
    server''s metadata C(org.learnhpc.ssh_user) when it has it, else O(ssh_user); C(ansible_become) is true unless
    that user is root (the roles configure the nodes as root, and cloud images give their user passwordless sudo).'
  - 'How OpenStack servers are reached: the login node of an event (node role C(login)) at its floating IP; every
    other node of the event at its fixed IP, through the login node - C(ansible_ssh_common_args) holds
    C(-o ProxyJump=<user>@<floating IP of the login node>). With O(ssh_options), C(ansible_ssh_common_args) of every
    server holds these options, and the other nodes go through a C(ProxyCommand) (C(ssh -W %h:%p <ssh_options>
    <user>@<floating IP>)) instead of C(ProxyJump), because ssh applies its command-line options to the target only,
    never to a ProxyJump host; so the login node is checked with the same host key policy as the nodes behind it.
    When the event has a generated key (see O(events_dir)), every server of the event gets it as
    C(ansible_ssh_private_key_file) and the C(ProxyCommand) form is used with C(-i <key> -o IdentitiesOnly=yes), for
    the same reason. When an event has several login nodes, the first by name that has a floating IP is the way in.'
  - 'As long as no login node of an event has a floating IP (the event is being built), its nodes get their fixed IP
    only, and a warning says so; a server with no IP address at all gets no C(ansible_host), with a warning.'
  - For a server, C(slurm_node_cpus) is the VCPUs of its flavor, C(slurm_node_memory_mb) the RAM of its flavor, in
    MiB, minus O(memory_reserve_mb), at least 1. The plugin lists the servers (one C(GET /servers/detail), page by
    page) at compute API microversion 2.47, where the flavor comes with the server; on older clouds each flavor is
    looked up once per run.
  - For a container, C(slurm_node_cpus) is its CPU limit (C(--cpus), C(--cpu-quota) or the CPUs of C(--cpuset-cpus),
    at least 1), else the CPU count of the Docker engine. C(slurm_node_memory_mb) is its memory limit (C(--memory)),
    else the memory of the Docker engine, in MiB, minus O(memory_reserve_mb), at least 1.
  - Only containers (servers) that have the label (metadata key) C(org.learnhpc.event) are read. Those whose labels
    are malformed (a bad event name, no node roles, no or a bad end date) are skipped with a warning. Unknown node
    roles are left out with a warning; a node with no known role is still a member of its event's group.
  - All strings read from the providers are marked unsafe, so they are never templated.
  - Uses a YAML configuration file whose name ends with V(event.yml), V(event.yaml), V(events.yml) or V(events.yaml).
notes:
  - With O(cache) enabled, the data read from the providers is cached; O(events), O(memory_reserve_mb) and the
    constructed options are applied to it on every run. The other options (O(clouds), O(ssh_user), ...) take
    effect when the cache expires or is refreshed (C(ansible-inventory --flush-cache), or the task
    C(meta) with V(refresh_inventory)).
  - No message of the plugin shows a password or other secret of C(clouds.yaml).
requirements:
  - docker (the Docker SDK for Python) on the controller, for the V(docker) provider
  - openstacksdk on the controller, for the V(openstack) provider
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
      - V(openstack) reads the servers of the projects of the clouds in O(clouds).
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
      - Memory in MiB that every node (container or server) keeps for its operating system and Slurm's daemons.
      - C(slurm_node_memory_mb) is the memory of the node (OpenStack - the RAM of its flavor) minus this, at least 1.
    type: int
    default: 256
  clouds:
    description:
      - For the V(openstack) provider, the names of the clouds in C(clouds.yaml) whose servers to read; the servers
        of the project each cloud's credentials belong to (see O(openstack_all_projects)).
      - Required with the V(openstack) provider; when not set, the environment variable E(OS_CLOUD) names one cloud.
    type: list
    elements: str
    env:
      - name: OS_CLOUD
  clouds_yaml:
    description:
      - The C(clouds.yaml) file to read O(clouds) from. openstacksdk's C(OS_*) environment variables (such as
        E(OS_CLIENT_CONFIG_FILE) or E(OS_AUTH_URL)) are then not read; E(OS_CLOUD) still names the cloud when
        O(clouds) is not set.
      - When not set, the search path of openstacksdk applies - the file named by E(OS_CLIENT_CONFIG_FILE),
        C(./clouds.yaml), C(~/.config/openstack/clouds.yaml), C(/etc/openstack/clouds.yaml). Passwords may also come
        from a C(secure.yaml) next to it, as openstacksdk reads them.
    type: path
  openstack_all_projects:
    description:
      - List the servers of every project of each cloud, not only of the credentials' own project.
      - Needs an administrator's credentials (by default policy of OpenStack).
    type: bool
    default: false
  ssh_user:
    description:
      - The user Ansible logs in as on OpenStack servers whose metadata has no C(org.learnhpc.ssh_user). The jump to
        the nodes behind the login node goes as the login node's user. The default user of Debian's cloud images is
        V(debian).
    type: str
    default: debian
  ssh_options:
    description:
      - SSH options written C(Name=value), for the OpenStack servers, for example the host key policy
        V(StrictHostKeyChecking=accept-new) and V(UserKnownHostsFile=~/.ssh/learnhpc_known_hosts).
      - They go into C(ansible_ssh_common_args) of every server, and into the C(ProxyCommand) that reaches the nodes
        behind the login node, so that the login node is checked with them too (see the description).
      - Ansible's own settings (C(host_key_checking), C(ssh_args)) apply to the target only, not to the login node
        on the way, so set a host key policy here rather than there.
      - Without a host key policy here (neither C(StrictHostKeyChecking) nor C(UserKnownHostsFile)), the servers of
        an event that has a state directory (C(<events_dir>/.state/<event>)) get
        V(StrictHostKeyChecking=accept-new) and V(UserKnownHostsFile=<events_dir>/.state/<event>/known_hosts). So each
        event trusts its servers' keys on first use and keeps them apart from other events', whose servers may later
        get the same addresses; the file goes with the state directory at teardown.
    type: list
    elements: str
    default: []
  events_dir:
    description:
      - The directory of the event files. When the C(learnhpc.cluster.openstack_provider) role generated an
        event's key pair (the event file names no C(openstack.key_name)), its private key is
        C(<events_dir>/.state/<event>/ssh/openstack_ed25519); the OpenStack servers of that event then get it as
        C(ansible_ssh_private_key_file), and the jump through the login node uses it too.
      - A relative path is taken from the directory of the inventory file.
    type: str
    default: ../events
    env:
      - name: LEARNHPC_EVENTS_DIR
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
# The servers of two clouds in clouds.yaml (OpenStack), with a host key file of their own;
# Debian cloud images log in as debian
plugin: learnhpc.cluster.event
providers:
  - openstack
clouds:
  - training
  - training-extra
ssh_user: debian
ssh_options:
  - StrictHostKeyChecking=accept-new
  - UserKnownHostsFile=~/.ssh/learnhpc_known_hosts

---
# OpenStack servers of the cloud named by OS_CLOUD, with a clouds.yaml of their own, and the
# containers of the local Docker engine
plugin: learnhpc.cluster.event
providers:
  - docker
  - openstack
clouds_yaml: ~/training/clouds.yaml

---
# Constructed features: a group per server status (openstack_ACTIVE, openstack_ERROR, ...)
plugin: learnhpc.cluster.event
providers:
  - openstack
clouds:
  - training
keyed_groups:
  - key: learnhpc_openstack_status
    prefix: openstack

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
# Cache the containers and servers for ten minutes in JSON files (ansible-inventory --flush-cache refreshes)
plugin: learnhpc.cluster.event
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/learnhpc-inventory
cache_timeout: 600
"""

import datetime
import ipaddress
import os
import re
import shlex
import types

import yaml
from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract

# The Docker SDK and openstacksdk, imported by docker_sdk() and openstack_sdk() when their provider is used.
_DOCKER = {}
_SDK = {}

PLUGIN = "learnhpc.cluster.event"
# The shared names (docs/contracts.md, module_utils/contract.py).
LABEL_EVENT = contract.EVENT_KEY
LABEL_ROLES = contract.ROLES_KEY
LABEL_END_DATE = contract.END_DATE_KEY
LABEL_SSH_USER = contract.SSH_USER_KEY
LABEL_AUTOSCALED = contract.AUTOSCALED_KEY
# dtn: a data transfer node (the Globus endpoint's, with globus.node dtn in the event file).
NODE_ROLES = contract.NODE_ROLES
EVENT_NAME = contract.EVENT_NAME_RE
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SSH_OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*=[^\s=][^\n]*$")
# Compute API microversion from which a server's flavor comes with the server (vcpus, ram, ...).
FLAVOR_INLINE_MICROVERSION = "2.47"
# Pages of a server listing the plugin reads at most (Nova's default page has up to 1000 servers).
MAX_PAGES = 1000
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
    if not isinstance(value, str) or not DATE.fullmatch(value):
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
        match = CPUSET_PART.fullmatch(part.strip())
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
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
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
    node = {"name": name, "event": event, "roles": roles, "end_date": end_date, "provider": provider}
    if labels.get(LABEL_AUTOSCALED) == "true":
        node["autoscaled"] = True
    return node


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
        except docker_sdk().errors as exc:
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


def openstack_sdk():
    """The modules and exception classes of openstacksdk that the openstack provider uses, or AnsibleParserError.

    They are imported on first use, not with the plugin: the import takes about half a second of CPU, which runs
    that use the docker provider only, or the inventory cache, need not pay.
    """
    if not _SDK:
        try:
            # pylint: disable=import-outside-toplevel
            import keystoneauth1.exceptions  # noqa: PLC0415
            import openstack.config  # noqa: PLC0415
            import openstack.connection  # noqa: PLC0415
            import openstack.exceptions  # noqa: PLC0415
            import openstack.utils  # noqa: PLC0415
            import requests.exceptions  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleParserError(
                f"{PLUGIN}: the openstack provider needs openstacksdk (pip package openstacksdk) on the controller"
                f" ({exc})"
            ) from None
        _SDK.update(
            config=openstack.config,
            connection=openstack.connection,
            exceptions=openstack.exceptions,
            utils=openstack.utils,
            unauthorized=keystoneauth1.exceptions.Unauthorized,
            # what listing the servers may raise
            errors=(
                openstack.exceptions.SDKException,
                keystoneauth1.exceptions.ClientException,
                requests.exceptions.RequestException,
                OSError,
            ),
        )
    return types.SimpleNamespace(**_SDK)


def openstack_config(clouds_yaml):
    """The clouds.yaml configuration of openstacksdk (``clouds_yaml``: the file; None: its search path)."""
    sdk = openstack_sdk()
    if clouds_yaml:
        # openstacksdk skips a file it cannot read with a log message; this says why instead, on one line.
        try:
            with open(clouds_yaml, encoding="utf-8") as stream:  # a stream: YAML errors then show no line of it
                yaml.safe_load(stream)
        except FileNotFoundError:
            raise AnsibleParserError(f"{PLUGIN}: clouds_yaml {clouds_yaml} is not a file") from None
        except (OSError, UnicodeError, yaml.YAMLError) as exc:
            raise AnsibleParserError(f"{PLUGIN}: reading {clouds_yaml} failed: {_reason(exc)}") from None
    config_files = [clouds_yaml] if clouds_yaml else None
    try:
        # With clouds_yaml, the file is the whole configuration: openstacksdk's OS_* environment variables would put
        # the file of OS_CLIENT_CONFIG_FILE before it.
        return sdk.config.OpenStackConfig(config_files=config_files, load_envvars=not clouds_yaml, app_name=PLUGIN)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # YAML, I/O and SDK errors alike
        where = clouds_yaml or "the clouds.yaml of openstacksdk"
        raise AnsibleParserError(f"{PLUGIN}: reading {where} failed: {_reason(exc)}") from None


def _secrets(cloud_config):
    """The secret values (passwords, application credential secrets, tokens) of a cloud's configuration (a dict)."""
    auth = (cloud_config if isinstance(cloud_config, dict) else {}).get("auth") or {}
    return list(contract.secret_values(auth))


def _scrub(message, secrets):
    """``message`` with every secret replaced by ``***``."""
    return contract.scrub(message, secrets)


def openstack_connection(config, cloud):
    """An openstacksdk connection to ``cloud`` of ``config`` (an OpenStackConfig), or AnsibleParserError.

    Nothing is sent to the cloud yet: authentication happens with the first request.
    """
    names = sorted(config.get_cloud_names())
    if cloud not in names:
        where = config.config_filename or "no clouds.yaml found in the search path of openstacksdk"
        raise AnsibleParserError(
            f"{PLUGIN}: cloud {cloud!r} is not in clouds.yaml; clouds found: {', '.join(names) or 'none'} ({where})"
        )
    try:
        return openstack_sdk().connection.Connection(config=config.get_one(cloud=cloud))
    except Exception as exc:  # pylint: disable=broad-exception-caught  # SDK and keystoneauth errors alike
        where = config.config_filename
        message = f"{PLUGIN}: the configuration of cloud {cloud} in {where} is not usable: {_reason(exc)}"
        raise AnsibleParserError(_scrub(message, _secrets(config.cloud_config["clouds"].get(cloud)))) from None


def _is_ip(value, version=None):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or address.version == version


def server_addresses(addresses):
    """The first fixed and the first floating IP address of a server (IPv4 first), each None if there is none."""
    found = {"fixed": [], "floating": []}
    for entries in (addresses or {}).values():
        for entry in entries or []:
            if not isinstance(entry, dict):
                continue
            kind = entry.get("OS-EXT-IPS:type", "fixed")
            addr = entry.get("addr")
            if kind in found and isinstance(addr, str) and _is_ip(addr):
                found[kind].append(addr)
    result = []
    for kind in ("fixed", "floating"):
        ordered = sorted(found[kind], key=lambda addr: not _is_ip(addr, 4))
        result.append(ordered[0] if ordered else None)
    return tuple(result)


class OpenStackProvider:
    """Nodes from the servers of the projects of one or more clouds of clouds.yaml.

    ``nodes()`` returns the normalized node dicts described in DockerProvider. The login node of an event is
    reached at its floating IP, every other node at its fixed IP through the login node (ProxyJump).
    """

    name = "openstack"

    def __init__(
        self, connections, warn, *, ssh_user="debian", ssh_options=(), all_projects=False, secrets=(), events_dir=None
    ):
        """``connections``: {cloud name: openstacksdk connection}; ``events_dir``: where the events' generated
        keys are (see the option events_dir), None for none."""
        self.connections = connections
        self.events_dir = events_dir
        self.warn = warn
        self.ssh_user = ssh_user
        self.ssh_options = list(ssh_options)
        self.all_projects = all_projects
        self.secrets = list(secrets)
        self.sdk = openstack_sdk()

    @classmethod
    def from_plugin(cls, plugin):
        # str(): plain strings, without the tags of Ansible's data tagging (origin, trust), which would make the
        # inventory cache larger and slower to read (the node dicts hold cloud names and users).
        clouds = list(dict.fromkeys(str(cloud) for cloud in plugin.get_option("clouds") or []))
        if not clouds:
            raise AnsibleParserError(
                f"{PLUGIN}: the openstack provider needs the name of a cloud in clouds.yaml: set the option clouds"
                " or the environment variable OS_CLOUD"
            )
        ssh_user = str(plugin.get_option("ssh_user") or "")
        if not USER_NAME.fullmatch(ssh_user):
            raise AnsibleParserError(f"{PLUGIN}: ssh_user {ssh_user!r} is not a user name")
        ssh_options = [str(option) for option in plugin.get_option("ssh_options") or []]
        for option in ssh_options:
            if not SSH_OPTION.fullmatch(option):
                raise AnsibleParserError(f"{PLUGIN}: ssh_options: {option!r} is not an SSH option written Name=value")
        config = openstack_config(plugin.get_option("clouds_yaml"))
        connections = {cloud: openstack_connection(config, cloud) for cloud in clouds}
        secrets = []
        for connection in connections.values():
            secrets.extend(_secrets(getattr(getattr(connection, "config", None), "config", None)))
        return cls(
            connections,
            plugin.display.warning,
            ssh_user=ssh_user,
            ssh_options=ssh_options,
            all_projects=plugin.get_option("openstack_all_projects"),
            secrets=secrets,
            events_dir=os.path.join(os.path.dirname(plugin.source_path), str(plugin.get_option("events_dir"))),
        )

    def nodes(self):
        nodes = []
        for cloud, connection in self.connections.items():
            nodes.extend(self._cloud_nodes(cloud, connection))
        return nodes

    def _fail(self, cloud, doing, exc):
        status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
        if isinstance(status, int) and isinstance(exc, self.sdk.exceptions.SDKException):
            # openstacksdk's HTTP errors: the API's own message is in details
            details = getattr(exc, "details", None)
            reason = f"{type(exc).__name__}: HTTP {status}: {_one_line(details or exc)}"
        else:
            reason = _reason(exc)
        if status == 401 or isinstance(exc, self.sdk.unauthorized):
            message = (
                f"{PLUGIN}: cloud {cloud} refused the credentials in clouds.yaml (authentication failed): {reason}"
            )
        else:
            message = f"{PLUGIN}: {doing} of cloud {cloud} failed: {reason}"
        raise AnsibleParserError(_scrub(message, self.secrets)) from None

    def _servers(self, compute):
        """The servers visible to a connection, as the dicts of the compute API's JSON (GET /servers/detail).

        openstacksdk's compute.servers() would turn each into a Server object, which costs about 4 ms of CPU per
        server (2 s for 500); the plugin reads the listing through the same authenticated compute proxy instead,
        at the microversion 2.47 (flavors inline) when the cloud has it, following the pages of the listing.
        """
        microversion = self.sdk.utils.maximum_supported_microversion(compute, FLAVOR_INLINE_MICROVERSION)
        url = "/servers/detail"
        params = {"all_tenants": "True"} if self.all_projects else None
        for _page in range(MAX_PAGES):
            response = compute.get(url, params=params, microversion=microversion)
            self.sdk.exceptions.raise_from_response(response)
            body = response.json() or {}
            yield from body.get("servers") or []
            links = [link.get("href") for link in body.get("servers_links") or [] if link.get("rel") == "next"]
            if not links or not links[0]:
                return
            # The next page's URL carries the query (marker, limit, all_tenants).
            url, params = links[0], None
        raise self.sdk.exceptions.SDKException(f"the server listing has more than {MAX_PAGES} pages")

    def _cloud_nodes(self, cloud, connection):
        flavors = {}
        nodes = []
        try:
            for server in self._servers(connection.compute):
                if LABEL_EVENT not in (server.get("metadata") or {}):
                    continue  # not a node of an event (the docker provider lists only containers with the label)
                name = str(server.get("name") or server.get("id"))
                node = node_from_labels(name, server.get("metadata"), self.name, "server", self.warn)
                if node is None:
                    continue
                node["cpus"], node["memory_mb"] = self._size(connection, name, server.get("flavor"), flavors)
                user = self._user(server, name)
                node["vars"] = {
                    "ansible_user": user,
                    # The roles configure the node as root; cloud images give their user sudo without a password.
                    "ansible_become": user != "root",
                    "learnhpc_openstack_cloud": cloud,
                    "learnhpc_openstack_id": server.get("id"),
                    "learnhpc_openstack_status": server.get("status"),
                }
                addresses = server_addresses(server.get("addresses"))
                if addresses[0]:
                    node["vars"]["learnhpc_openstack_fixed_ip"] = addresses[0]
                    # Slurm's NodeAddr: a server made again (from ERROR) gets a new address, and
                    # slurm.conf then changes with it, which restarts slurmctld.
                    node["vars"]["slurm_node_addr"] = addresses[0]
                if addresses[1]:
                    # Not only the login node's: the Globus endpoint's data transfer node has one too.
                    node["vars"]["learnhpc_openstack_floating_ip"] = addresses[1]
                nodes.append((node, addresses))
        except self.sdk.errors as exc:
            self._fail(cloud, "listing the servers", exc)
        self._add_addresses(cloud, nodes)
        return [node for node, _addresses in nodes]

    def _add_addresses(self, cloud, nodes):
        """Set ansible_host and ansible_ssh_common_args of the nodes, given as (node, (fixed IP, floating IP))."""
        # The way into every event: its first login node (by name) with a floating IPv4 address.
        jumps = {}
        for node, (_fixed, floating) in sorted(nodes, key=lambda item: item[0]["name"]):
            if "login" in node["roles"] and floating and _is_ip(floating, 4):
                jumps.setdefault(node["event"], (node["vars"]["ansible_user"], floating))

        no_jump = set()
        for node, (fixed, floating) in nodes:
            jump = jumps.get(node["event"])
            key = self._event_key(node["event"])
            options = self._event_ssh_options(node["event"])
            if "login" in node["roles"] and floating:
                address, args = floating, self._ssh_args(options)
            elif fixed and jump:
                address, args = fixed, self._ssh_args(options, *jump, key=key)
            else:
                address, args = fixed or floating, self._ssh_args(options)
                if address:
                    no_jump.add(node["event"])
                else:
                    self.warn(f"{PLUGIN}: server {node['name']} (cloud {cloud}) has no IP address yet")
            if address:
                node["vars"]["ansible_host"] = address
            if args:
                node["vars"]["ansible_ssh_common_args"] = args
            if key:
                node["vars"]["ansible_ssh_private_key_file"] = key
        for event in sorted(no_jump):
            self.warn(
                f"{PLUGIN}: event {event} (cloud {cloud}) has no login node with a floating IP yet: its nodes get"
                " their fixed IP addresses only"
            )

    def _user(self, server, name):
        """The SSH user of a server: its metadata org.learnhpc.ssh_user, else the ssh_user option."""
        user = (server.get("metadata") or {}).get(LABEL_SSH_USER)
        if user is None:
            return self.ssh_user
        if isinstance(user, str) and USER_NAME.fullmatch(user):
            return user
        self.warn(
            f"{PLUGIN}: server {name}: ignoring metadata {LABEL_SSH_USER}={user!r}, not a user name;"
            f" using {self.ssh_user}"
        )
        return self.ssh_user

    def _event_key(self, event):
        """The private key the openstack_provider role generated for an event, None when there is none."""
        if not self.events_dir:
            return None
        key = os.path.join(self.events_dir, ".state", event, "ssh", "openstack_ed25519")
        return os.path.normpath(os.path.abspath(key)) if os.path.isfile(key) else None

    def _event_ssh_options(self, event):
        """The ssh_options, and for an event with a state directory its own host keys file.

        Floating and fixed IPs come back to other servers and events, with other host keys: one file per event
        (removed with its state directory at teardown), first use trusted (accept-new), unless ssh_options set a
        host key policy of their own.
        """
        options = list(self.ssh_options)
        named = {option.split("=", 1)[0].strip().lower() for option in options}
        if not self.events_dir or named & {"stricthostkeychecking", "userknownhostsfile"}:
            return options
        state = os.path.normpath(os.path.abspath(os.path.join(self.events_dir, ".state", event)))
        if os.path.isdir(state):
            options += ["StrictHostKeyChecking=accept-new", f"UserKnownHostsFile={state}/known_hosts"]
        return options

    def _ssh_args(self, options, jump_user=None, jump_ip=None, key=None):
        """ansible_ssh_common_args: the options, and the way through the login node (with the event's key)."""
        args = [arg for option in options for arg in ("-o", option)]
        if jump_ip:
            if options or key:
                # ssh applies command-line options to the target only, not to a ProxyJump host: the options go
                # into a ProxyCommand, so that the login node is checked with the same host key policy. ssh
                # expands % tokens in a ProxyCommand: %% keeps those of the options (%h, ...) for the inner ssh.
                # ssh gives neither its -i nor Ansible's key file to a ProxyJump host: the key goes in here too.
                inner = [arg.replace("%", "%%") for arg in args]
                if key:
                    inner += ["-i", key.replace("%", "%%"), "-o", "IdentitiesOnly=yes"]
                command = ["ssh", "-W", "%h:%p", *inner, f"{jump_user}@{jump_ip}"]
                args += ["-o", "ProxyCommand=" + " ".join(shlex.quote(word) for word in command)]
            else:
                args += ["-o", f"ProxyJump={jump_user}@{jump_ip}"]
        return " ".join(shlex.quote(arg) for arg in args)

    def _size(self, connection, name, flavor, flavors):
        """CPUs and memory (MiB) of a server, from its flavor: inline from compute API 2.47 on, else looked up.

        ``flavors`` holds the flavors looked up so far, by ID, so each is looked up once.
        """
        flavor = flavor if isinstance(flavor, dict) else {}
        vcpus = _int(flavor.get("vcpus"))
        ram = _int(flavor.get("ram"))
        if vcpus > 0 and ram > 0:
            return vcpus, ram
        flavor_id = flavor.get("id")
        if not flavor_id:
            self.warn(f"{PLUGIN}: server {name} has no flavor; its Slurm size is 1 CPU")
            return 1, 0
        if flavor_id not in flavors:
            try:
                found = connection.compute.get_flavor(flavor_id)
                flavors[flavor_id] = (_int(found.vcpus), _int(found.ram))
            except self.sdk.exceptions.NotFoundException:
                self.warn(f"{PLUGIN}: flavor {flavor_id} of server {name} is gone; its Slurm size is 1 CPU")
                flavors[flavor_id] = (1, 0)
        return flavors[flavor_id]


PROVIDERS = {provider.name: provider for provider in (DockerProvider, OpenStackProvider)}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """The nodes of learnhpc events, with their groups and Slurm sizes."""

    NAME = PLUGIN

    def verify_file(self, path):
        """Accept YAML files whose names end in event.yml, event.yaml, events.yml or events.yaml."""
        return super().verify_file(path) and path.endswith(("event.yml", "event.yaml", "events.yml", "events.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self.source_path = path
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
        # Always there, even empty, so that playbooks can exclude it (event_demo:!autoscaled) without a warning.
        self.inventory.add_group("autoscaled")
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
            learnhpc_autoscaled=bool(node.get("autoscaled")),
        )
        host_vars = wrap_var(host_vars)
        host_vars["slurm_node_cpus"] = max(1, int(node["cpus"]))
        host_vars["slurm_node_memory_mb"] = max(1, int(node["memory_mb"]) - reserve)
        return host_vars

    @staticmethod
    def _groups(node):
        groups = ["event_" + node["event"].replace("-", "_")]
        groups.extend(role for role in node["roles"] if role in NODE_ROLES)
        if node.get("autoscaled"):
            groups.append("autoscaled")
        return [wrap_var(group) for group in groups]
