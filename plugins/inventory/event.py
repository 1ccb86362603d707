# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory of the nodes of learnhpc training events, read from their providers.

The providers (plugins/plugin_utils/inventory_docker.py, inventory_openstack.py, inventory_libvirt.py) list the
nodes; this plugin
adds them to the inventory with their groups and variables (see inventory_nodes.py for what they return).
"""

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION and EXAMPLES before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: event
short_description: Nodes of learnhpc training events, from Docker containers, OpenStack servers and libvirt domains
version_added: 0.1.0
author:
  - learnhpc.cluster developers (!UNKNOWN)
description:
  - Builds an inventory of the nodes of the learnhpc training events that exist at the configured O(providers).
  - A node is a Docker container (provider V(docker)), an OpenStack server (provider V(openstack)) or a libvirt
    domain, a virtual machine (provider V(libvirt)), that carries the labels (OpenStack and libvirt - metadata)
    C(org.learnhpc.event), C(org.learnhpc.roles) and C(org.learnhpc.end_date) described in C(docs/contracts.md) of
    the collection.
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
  - 'libvirt domains get C(ansible_host) (the fixed IPv4 address that the module
    M(learnhpc.cluster.libvirt_event_nodes) keeps in the domain''s metadata as C(org.learnhpc.address)),
    C(learnhpc_libvirt_address) and C(slurm_node_addr) (both that address too), C(ansible_user) (the domain''s
    label C(org.learnhpc.ssh_user), else O(ssh_user)), C(ansible_become) (true unless that user is root),
    C(learnhpc_libvirt_uri) (the connection of O(libvirt_uris) it was found at) and C(learnhpc_libvirt_state) (as
    virsh names it, for example V(running) or V(shut off)); domains in every state are included. They are reached
    directly, without a jump host (the control machine is the libvirt host, on the event''s network). When the
    C(learnhpc.cluster.libvirt_provider) role generated the event''s key (see O(events_dir)), it is every domain''s
    C(ansible_ssh_private_key_file) and C(ansible_ssh_common_args) holds C(-o IdentitiesOnly=yes); the host key
    policy is that of OpenStack servers (O(ssh_options)).'
  - 'As long as no login node of an event has a floating IP (the event is being built), its nodes get their fixed IP
    only, and a warning says so; a server with no IP address at all gets no C(ansible_host), with a warning.'
  - For a server, C(slurm_node_cpus) is the VCPUs of its flavor, C(slurm_node_memory_mb) the RAM of its flavor, in
    MiB, minus O(memory_reserve_mb), at least 1. The plugin lists the servers (one C(GET /servers/detail), page by
    page) at compute API microversion 2.47, where the flavor comes with the server; on older clouds each flavor is
    looked up once per run.
  - For a libvirt domain, C(slurm_node_cpus) is its vCPUs, C(slurm_node_memory_mb) its memory, in MiB, minus
    O(memory_reserve_mb), at least 1.
  - For a container, C(slurm_node_cpus) is its CPU limit (C(--cpus), C(--cpu-quota) or the CPUs of C(--cpuset-cpus),
    at least 1), else the CPU count of the Docker engine. C(slurm_node_memory_mb) is its memory limit (C(--memory)),
    else the memory of the Docker engine, in MiB, minus O(memory_reserve_mb), at least 1.
  - Only containers (servers, domains) that have the label (metadata key) C(org.learnhpc.event) are read. Those whose
    labels are malformed (a bad event name, no node roles, no or a bad end date) are skipped with a warning. Unknown
    node roles are left out with a warning; a node with no known role is still a member of its event's group.
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
  - libvirt-python on the controller, for the V(libvirt) provider
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
      - V(libvirt) reads the domains of the libvirt connections in O(libvirt_uris) (read-only).
    type: list
    elements: str
    choices: [docker, openstack, libvirt]
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
      - Memory in MiB that every node (container, server or domain) keeps for its operating system and Slurm's daemons.
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
  libvirt_uris:
    description:
      - For the V(libvirt) provider, the libvirt connections whose domains to read, for example V(qemu:///system)
        (the event file's C(libvirt.uri)). Each is opened read-only; one that does not answer is an error (is
        libvirtd running? C(scripts/libvirt-host.sh start) starts it).
    type: list
    elements: str
    default: [qemu:///system]
  ssh_user:
    description:
      - The user Ansible logs in as on OpenStack servers whose metadata, and libvirt domains whose labels, have no
        C(org.learnhpc.ssh_user). The jump to
        the nodes behind the login node goes as the login node's user. The default user of Debian's cloud images is
        V(debian).
    type: str
    default: debian
  ssh_options:
    description:
      - SSH options written C(Name=value), for the OpenStack servers and the libvirt domains, for example the host key
        policy V(StrictHostKeyChecking=accept-new) and V(UserKnownHostsFile=~/.ssh/learnhpc_known_hosts).
      - They go into C(ansible_ssh_common_args) of every server, and into the C(ProxyCommand) that reaches the nodes
        behind the login node, so that the login node is checked with them too (see the description).
      - Ansible's own settings (C(host_key_checking), C(ssh_args)) apply to the target only, not to the login node
        on the way, so set a host key policy here rather than there.
      - Without a host key policy here (neither C(StrictHostKeyChecking) nor C(UserKnownHostsFile)), the servers
        (domains) of an event that has a state directory (C(<events_dir>/.state/<event>)) get
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
      - The C(learnhpc.cluster.libvirt_provider) role generates every event's key as
        C(<events_dir>/.state/<event>/ssh/libvirt_ed25519); the libvirt domains of that event get it as
        C(ansible_ssh_private_key_file).
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
# The containers of the local Docker engine and the virtual machines of libvirt on this machine
# (events with provider: libvirt)
plugin: learnhpc.cluster.event
providers:
  - docker
  - libvirt
libvirt_uris:
  - qemu:///system

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

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.learnhpc.cluster.plugins.plugin_utils.connection_preload import preload_connections
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_docker import DockerProvider
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_libvirt import LibvirtProvider
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_nodes import NODE_ROLES, PLUGIN
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_openstack import OpenStackProvider

# The providers of the option providers, by name.
PROVIDERS = {provider.name: provider for provider in (DockerProvider, OpenStackProvider, LibvirtProvider)}


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
        # In this process, before the workers fork: each worker would import it again otherwise.
        preload_connections((node.get("vars") or {}).get("ansible_connection") for node in nodes)

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
        """Add the nodes (normalized node dicts, see inventory_nodes.py) to the inventory."""
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
