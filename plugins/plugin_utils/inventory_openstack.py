# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The openstack provider of the inventory plugin learnhpc.cluster.event (controller side).

``OpenStackProvider`` lists the servers of the projects of the clouds of clouds.yaml that carry the metadata
org.learnhpc.event and turns them into normalized node dicts (see inventory_nodes.py), with their Slurm sizes (from
their flavors) and how to reach them (``server_addresses``; the login node of an event is the way to the others).
``openstack_config`` reads clouds.yaml (the option clouds_yaml, or openstacksdk's search path) and
``openstack_connection`` builds a connection to one of its clouds; ``openstack_sdk`` imports openstacksdk on first
use. Every error is an AnsibleParserError on one line, without the secrets of clouds.yaml (``_secrets``,
module_utils/contract.py's ``scrub``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import types

import yaml
from ansible.errors import AnsibleParserError

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_nodes import (
    LABEL_EVENT,
    PLUGIN,
    error_reason,
    event_key,
    host_key_options,
    labelled_user,
    node_from_labels,
    one_line,
    to_int,
)

# openstacksdk, imported by openstack_sdk() when the provider is used.
_SDK = {}

USER_NAME = contract.USER_NAME_RE
SSH_OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*=[^\s=][^\n]*$")
# Compute API microversion from which a server's flavor comes with the server (vcpus, ram, ...).
FLAVOR_INLINE_MICROVERSION = "2.47"
# Pages of a server listing the plugin reads at most (Nova's default page has up to 1000 servers).
MAX_PAGES = 1000


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
            raise AnsibleParserError(f"{PLUGIN}: reading {clouds_yaml} failed: {error_reason(exc)}") from None
    config_files = [clouds_yaml] if clouds_yaml else None
    try:
        # With clouds_yaml, the file is the whole configuration: openstacksdk's OS_* environment variables would put
        # the file of OS_CLIENT_CONFIG_FILE before it.
        return sdk.config.OpenStackConfig(config_files=config_files, load_envvars=not clouds_yaml, app_name=PLUGIN)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # YAML, I/O and SDK errors alike
        where = clouds_yaml or "the clouds.yaml of openstacksdk"
        raise AnsibleParserError(f"{PLUGIN}: reading {where} failed: {error_reason(exc)}") from None


def _secrets(cloud_config):
    """The secret values (passwords, application credential secrets, tokens) of a cloud's configuration (a dict)."""
    auth = (cloud_config if isinstance(cloud_config, dict) else {}).get("auth") or {}
    return list(contract.secret_values(auth))


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
        message = f"{PLUGIN}: the configuration of cloud {cloud} in {where} is not usable: {error_reason(exc)}"
        raise AnsibleParserError(contract.scrub(message, _secrets(config.cloud_config["clouds"].get(cloud)))) from None


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

    ``nodes()`` returns the normalized node dicts of every provider (see inventory_nodes.py). The login node of an
    event is reached at its floating IP, every other node at its fixed IP through the login node (ProxyJump).
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
            reason = f"{type(exc).__name__}: HTTP {status}: {one_line(details or exc)}"
        else:
            reason = error_reason(exc)
        if status == 401 or isinstance(exc, self.sdk.unauthorized):
            message = (
                f"{PLUGIN}: cloud {cloud} refused the credentials in clouds.yaml (authentication failed): {reason}"
            )
        else:
            message = f"{PLUGIN}: {doing} of cloud {cloud} failed: {reason}"
        raise AnsibleParserError(contract.scrub(message, self.secrets)) from None

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
        return labelled_user(server.get("metadata"), self.ssh_user, f"server {name}", "metadata", self.warn)

    def _event_key(self, event):
        """The private key the openstack_provider role generated for an event, None when there is none."""
        return event_key(self.events_dir, event, "openstack_ed25519")

    def _event_ssh_options(self, event):
        """The ssh_options, and for an event with a state directory its own host keys file (host_key_options)."""
        return host_key_options(self.ssh_options, self.events_dir, event)

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
        vcpus = to_int(flavor.get("vcpus"))
        ram = to_int(flavor.get("ram"))
        if vcpus > 0 and ram > 0:
            return vcpus, ram
        flavor_id = flavor.get("id")
        if not flavor_id:
            self.warn(f"{PLUGIN}: server {name} has no flavor; its Slurm size is 1 CPU")
            return 1, 0
        if flavor_id not in flavors:
            try:
                found = connection.compute.get_flavor(flavor_id)
                flavors[flavor_id] = (to_int(found.vcpus), to_int(found.ram))
            except self.sdk.exceptions.NotFoundException:
                self.warn(f"{PLUGIN}: flavor {flavor_id} of server {name} is gone; its Slurm size is 1 CPU")
                flavors[flavor_id] = (1, 0)
        return flavors[flavor_id]
