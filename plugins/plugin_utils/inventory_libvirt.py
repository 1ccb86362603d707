# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt provider of the inventory plugin learnhpc.cluster.event (controller side).

``LibvirtProvider`` lists the domains of the libvirt connections of the option libvirt_uris that carry an event's
labels in their metadata (module_utils/libvirt_api.py: ``event_domains``, ``domain_summary``) and turns them into
normalized node dicts (see inventory_nodes.py), with their Slurm sizes (the domain's vCPUs and memory) and how to
reach them: over SSH at the fixed address the module libvirt_event_nodes keeps in the domain's metadata, as the
user of the label org.learnhpc.ssh_user, with the event's key (``<events_dir>/.state/<event>/ssh/libvirt_ed25519``)
and, as on OpenStack, a host keys file of the event's own. No jump host: the control machine is the libvirt host,
on every event's network. Every error is an AnsibleParserError on one line.
"""

from __future__ import annotations

import ipaddress
import os
import shlex

from ansible.errors import AnsibleParserError

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_nodes import (
    PLUGIN,
    event_key,
    host_key_options,
    labelled_user,
    node_from_labels,
    to_int,
)
from ansible_collections.learnhpc.cluster.plugins.plugin_utils.inventory_openstack import SSH_OPTION

USER_NAME = contract.USER_NAME_RE
# The private key the libvirt_provider role generates for an event, in the event's state directory.
KEY_FILE = "libvirt_ed25519"


def _ipv4(value):
    """``value`` when it is an IPv4 address, else None."""
    try:
        return str(ipaddress.IPv4Address(value)) if isinstance(value, str) else None
    except ValueError:
        return None


class LibvirtProvider:
    """Nodes from the domains of one or more libvirt connections.

    ``nodes()`` returns the normalized node dicts of every provider (see inventory_nodes.py). A domain that is not
    running is listed too, with its state in ``learnhpc_libvirt_state``.
    """

    name = "libvirt"

    def __init__(self, connections, warn, *, ssh_user="debian", ssh_options=(), events_dir=None):
        """``connections``: {URI: libvirt connection}; ``events_dir``: where the events' state directories are
        (``<events_dir>/.state/<event>``, see the option events_dir), None for none."""
        self.connections = connections
        self.warn = warn
        self.ssh_user = ssh_user
        self.ssh_options = list(ssh_options)
        self.events_dir = events_dir

    @classmethod
    def from_plugin(cls, plugin):
        # str(): plain strings, without the tags of Ansible's data tagging (see inventory_openstack.py).
        uris = list(dict.fromkeys(str(uri) for uri in plugin.get_option("libvirt_uris") or []))
        if not uris:
            raise AnsibleParserError(f"{PLUGIN}: the libvirt provider needs a libvirt URI in libvirt_uris")
        ssh_user = str(plugin.get_option("ssh_user") or "")
        if not USER_NAME.fullmatch(ssh_user):
            raise AnsibleParserError(f"{PLUGIN}: ssh_user {ssh_user!r} is not a user name")
        ssh_options = [str(option) for option in plugin.get_option("ssh_options") or []]
        for option in ssh_options:
            if not SSH_OPTION.fullmatch(option):
                raise AnsibleParserError(f"{PLUGIN}: ssh_options: {option!r} is not an SSH option written Name=value")
        connections = {}
        for uri in uris:
            try:
                connections[uri] = libvirt_api.connect(uri, read_only=True)
            except libvirt_api.LibvirtApiError as exc:
                raise AnsibleParserError(f"{PLUGIN}: the libvirt provider: {exc}") from None
        return cls(
            connections,
            plugin.display.warning,
            ssh_user=ssh_user,
            ssh_options=ssh_options,
            events_dir=os.path.join(os.path.dirname(plugin.source_path), str(plugin.get_option("events_dir"))),
        )

    def nodes(self):
        nodes = []
        for uri, conn in self.connections.items():
            nodes.extend(self._uri_nodes(uri, conn))
        return nodes

    def _summaries(self, uri, conn):
        """The summaries of the domains with our metadata (libvirt_api.domain_summary); a domain that goes away
        while it is read is left out."""
        summaries = []
        try:
            for dom, labels in libvirt_api.event_domains(conn):
                try:
                    summaries.append(libvirt_api.domain_summary(dom, labels))
                except libvirt_api.LibvirtApiError:
                    if libvirt_api.lookup(conn, "domain", dom.name()) is None:
                        continue
                    raise
        except libvirt_api.LibvirtApiError as exc:
            raise AnsibleParserError(f"{PLUGIN}: listing the domains of libvirt at {uri} failed: {exc}") from None
        return summaries

    def _uri_nodes(self, uri, conn):
        nodes = []
        for summary in self._summaries(uri, conn):
            name = str(summary["name"])
            labels = summary.get("labels") or {}
            node = node_from_labels(name, labels, self.name, "domain", self.warn)
            if node is None:
                continue
            node["cpus"] = max(1, to_int(summary.get("vcpus")))
            node["memory_mb"] = to_int(summary.get("memory_mb"))
            user = self._user(labels, name)
            node["vars"] = {
                "ansible_user": user,
                # The roles configure the node as root; cloud-init gives the user sudo without a password.
                "ansible_become": user != "root",
                "learnhpc_libvirt_uri": uri,
                # As virsh names it: running, shut off, paused, ...
                "learnhpc_libvirt_state": summary.get("state"),
            }
            address = _ipv4(summary.get("address"))
            if address:
                node["vars"]["ansible_host"] = address
                node["vars"]["learnhpc_libvirt_address"] = address
                # Slurm's NodeAddr, as on OpenStack.
                node["vars"]["slurm_node_addr"] = address
            else:
                self.warn(
                    f"{PLUGIN}: domain {name} (libvirt {uri}) has no IPv4 address in its metadata"
                    f" ({libvirt_api.ADDRESS_KEY}={summary.get('address')!r}): Ansible cannot reach it"
                )
            key = self._event_key(node["event"])
            if key:
                node["vars"]["ansible_ssh_private_key_file"] = key
            args = self._ssh_args(node["event"], key)
            if args:
                node["vars"]["ansible_ssh_common_args"] = args
            nodes.append(node)
        return nodes

    def _user(self, labels, name):
        """The SSH user of a domain: its label org.learnhpc.ssh_user, else the ssh_user option."""
        return labelled_user(labels, self.ssh_user, f"domain {name}", "label", self.warn)

    def _event_key(self, event):
        """The private key the libvirt_provider role generated for an event, None when there is none."""
        return event_key(self.events_dir, event, KEY_FILE)

    def _ssh_args(self, event, key):
        """ansible_ssh_common_args: the ssh_options with the event's own host keys file (host_key_options; no jump
        host: the libvirt host reaches its networks); with the event's key, IdentitiesOnly (an agent's keys are
        not tried first, which could use up the server's MaxAuthTries)."""
        options = host_key_options(self.ssh_options, self.events_dir, event)
        named = {option.split("=", 1)[0].strip().lower() for option in options}
        if key and "identitiesonly" not in named:
            options.append("IdentitiesOnly=yes")
        return " ".join(shlex.quote(arg) for option in options for arg in ("-o", option))
