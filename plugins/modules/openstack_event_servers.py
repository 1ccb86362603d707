#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_event_servers
short_description: Create, repair and remove the OpenStack servers of a training event
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Makes the servers of event O(event) those of O(servers). A server belongs to the event when its metadata
    C(org.learnhpc.event) is the event's name (docs/contracts.md); names alone are never trusted.
  - Servers that are missing are created all at once (every create request is sent, then the module waits for all
    of them), not one after the other.
  - A server of the event in status C(ERROR) is replaced - deleted, waited for until gone, created again.
  - Servers of the event that are not in O(servers) (for example autoscaled ones) are removed only with
    O(remove_extra=true).
  - A server with a wanted name that belongs to another event or to no event is an error; it is never adopted or
    changed. Servers of other events are never touched.
  - The metadata C(org.learnhpc.roles), C(org.learnhpc.end_date) and C(org.learnhpc.expires) of existing servers
    of the event are updated when they differ (for example when the end date moves).
  - Flavors, images, networks, security groups, key pairs and the external network are looked up once, before
    anything changes; each unknown one gets one line listing those that exist.
  - With O(servers[].floating_ip=true) a server gets a floating IP from O(external_network), tagged
    C(learnhpc-event=<event>) in the request that allocates it (when Neutron has the extension C(tag-creation);
    otherwise right after) and described C(learnhpc event <event>:) then C(floating IP); a free floating IP of
    the event on that network is used again before a new one is allocated. With O(wait=true) the module returns
    once Nova lists the new floating IPs in the servers' addresses (Neutron has them first), so that an
    inventory read right after it finds them.
options:
  event:
    description:
      - The event name (docs/contracts.md), lower-case letters, digits and C(-), at most 24 characters.
    type: str
    required: true
  end_date:
    description:
      - The last day of the event, C(YYYY-MM-DD), stored as the metadata C(org.learnhpc.end_date) of every server.
    type: str
    required: true
  expires:
    description:
      - The day after which the event may be removed (its end date plus the accounts' grace days), C(YYYY-MM-DD),
        stored as the metadata C(org.learnhpc.expires) of every server; C(playbooks/reap.yml) reads it.
      - Defaults to O(end_date). It cannot be before O(end_date).
    type: str
  servers:
    description:
      - The servers the event should have.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The full server name, which must start with C(<event>-), for example C(demo-compute-01).
        type: str
        required: true
      flavor:
        description: Name or ID of the flavor.
        type: str
        required: true
      image:
        description: Name or ID of the image (of the boot volume with O(servers[].boot_from_volume=true)).
        type: str
        required: true
      network:
        description: Name or ID of the network of the server's port.
        type: str
        required: true
      fixed_ip:
        description: The fixed IP address of the server's port; any free one when not given.
        type: str
      security_groups:
        description: Names of the security groups of the server; the project's default group when empty.
        type: list
        elements: str
        default: []
      roles:
        description: The node roles of the server, stored as the metadata C(org.learnhpc.roles).
        type: list
        elements: str
        required: true
        choices: [mgmt, login, compute, dtn]
      key_name:
        description: The Nova key pair to inject.
        type: str
      user_data:
        description: Cloud-init user data (plain text; the module encodes it).
        type: str
      metadata:
        description:
          - More metadata of the server. Keys starting with C(org.learnhpc.) are reserved, except
            C(org.learnhpc.ssh_user), the user the inventory plugin logs in as (docs/contracts.md).
          - Only used when the server is created.
        type: dict
        default: {}
      boot_from_volume:
        description: Whether the server boots from a new volume made from the image, removed with the server.
        type: bool
        default: false
      volume_size:
        description: Size of the boot volume in GB; required with O(servers[].boot_from_volume=true).
        type: int
      floating_ip:
        description: Whether the server gets a floating IP (the login node); needs O(external_network).
        type: bool
        default: false
  external_network:
    description:
      - Name or ID of the external network floating IPs come from.
    type: str
  remove_extra:
    description:
      - Whether to delete the servers of the event that are not in O(servers).
      - When V(false) they are left alone and listed in RV(extra).
    type: bool
    default: false
extends_documentation_fragment:
  - learnhpc.cluster.openstack
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - With O(wait=false) the module returns once the requests are sent; servers replaced are still waited for
    until deleted, and floating IPs are only attached to servers that are C(ACTIVE) already.
  - Servers are compared by name only; a server whose flavor or image differs from O(servers) is left as it is.
"""

EXAMPLES = r"""
- name: Create the servers of event demo
  learnhpc.cluster.openstack_event_servers:
    cloud: training
    event: demo
    end_date: "2030-12-31"
    external_network: public
    servers:
      - name: demo-mgmt
        flavor: m1.medium
        image: Debian 12
        network: demo-net
        security_groups: [demo-internal]
        roles: [mgmt]
        key_name: demo-key
      - name: demo-login
        flavor: m1.medium
        image: Debian 12
        network: demo-net
        security_groups: [demo-internal, demo-login]
        roles: [login]
        key_name: demo-key
        floating_ip: true
      - name: demo-compute-01
        flavor: m1.large
        image: Debian 12
        network: demo-net
        security_groups: [demo-internal]
        roles: [compute]
        key_name: demo-key
  register: openstack_event_servers

- name: Show the login address
  ansible.builtin.debug:
    msg: "{{ (openstack_event_servers.servers | selectattr('name', 'eq', 'demo-login') | first).addresses.floating }}"

- name: Shrink the event to its mgmt node, deleting the others
  learnhpc.cluster.openstack_event_servers:
    cloud: training
    event: demo
    end_date: "2030-12-31"
    remove_extra: true
    servers:
      - name: demo-mgmt
        flavor: m1.medium
        image: Debian 12
        network: demo-net
        roles: [mgmt]
"""

RETURN = r"""
servers:
  description:
    - The servers of the event after the run, those of O(servers) first, in their order, then the extra ones.
    - In check mode, the servers as they are now.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The server name.
      type: str
      sample: demo-login
    id:
      description: The server ID.
      type: str
      sample: 7f1c2a64-5d0e-4c4b-a1a4-0b0c6c1e8f10
    status:
      description: The server status, C(ACTIVE) once built.
      type: str
      sample: ACTIVE
    roles:
      description: The node roles, from the metadata C(org.learnhpc.roles).
      type: list
      elements: str
      sample: [login]
    addresses:
      description: The server's IP addresses, C(fixed) and C(floating), each a list.
      type: dict
      sample: {"fixed": ["10.42.0.12"], "floating": ["192.0.2.40"]}
    flavor:
      description: The flavor name.
      type: str
      sample: m1.medium
    vcpus:
      description: The flavor's virtual CPUs.
      type: int
      sample: 2
    ram:
      description: The flavor's memory in MiB.
      type: int
      sample: 4096
created:
  description: Names of the servers created (in check mode, that would be created).
  returned: success
  type: list
  elements: str
  sample: [demo-compute-02]
replaced:
  description: Names of the servers in ERROR deleted and created again (in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: [demo-compute-01]
removed:
  description: Names of the extra servers deleted (in check mode, that would be); empty unless O(remove_extra=true).
  returned: success
  type: list
  elements: str
  sample: []
updated:
  description: Names of the servers whose C(org.learnhpc.*) metadata was updated (or would be).
  returned: success
  type: list
  elements: str
  sample: []
floating_ips:
  description: Names of the servers that got a floating IP in this run (or would get one).
  returned: success
  type: list
  elements: str
  sample: [demo-login]
extra:
  description: Names of the servers of the event that are not in O(servers) and were left alone.
  returned: success
  type: list
  elements: str
  sample: [demo-compute-05]
diff:
  description: The names of the event's servers before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"servers": ["demo-mgmt"]}, "after": {"servers": ["demo-login", "demo-mgmt"]}}
"""

import base64
from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    EVENT_KEY,
    HOST_NAME_MAX,
    LABEL_PREFIX,
    NODE_ROLES,
    SSH_USER_KEY,
    node_labels,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_checker import parse_date
from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    PROVIDER,
    OpenStackModule,
    event_tag,
    floating_ip_description,
    listing,
    server_event,
    server_roles,
)

# SSH_USER_KEY is the one key of the reserved prefix a caller may set (docs/contracts.md).
RESERVED_PREFIX = LABEL_PREFIX


def _addresses(server):
    fixed, floating = [], []
    for entries in (getattr(server, "addresses", None) or {}).values():
        for entry in entries:
            kind = entry.get("OS-EXT-IPS:type", "fixed")
            (floating if kind == "floating" else fixed).append(entry.get("addr"))
    return {"fixed": fixed, "floating": floating}


def _fault(server):
    fault = getattr(server, "fault", None) or {}
    return fault.get("message") or "no fault message"


class EventServers(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str", "required": True},
        "end_date": {"type": "str", "required": True},
        "expires": {"type": "str"},
        "servers": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "name": {"type": "str", "required": True},
                "flavor": {"type": "str", "required": True},
                "image": {"type": "str", "required": True},
                "network": {"type": "str", "required": True},
                "fixed_ip": {"type": "str"},
                "security_groups": {"type": "list", "elements": "str", "default": []},
                "roles": {"type": "list", "elements": "str", "required": True, "choices": list(NODE_ROLES)},
                "key_name": {"type": "str", "no_log": False},
                "user_data": {"type": "str"},
                "metadata": {"type": "dict", "default": {}},
                "boot_from_volume": {"type": "bool", "default": False},
                "volume_size": {"type": "int"},
                "floating_ip": {"type": "bool", "default": False},
            },
        },
        "external_network": {"type": "str"},
        "remove_extra": {"type": "bool", "default": False},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        event = self.params["event"]
        errors = []
        if parse_date(self.params["end_date"]) is None:
            errors.append(f"end_date: must be a date YYYY-MM-DD, got {self.params['end_date']!r}")
        expires = self.params["expires"]
        if expires is not None and parse_date(expires) is None:
            errors.append(f"expires: must be a date YYYY-MM-DD, got {expires!r}")
        elif (
            expires is not None
            and parse_date(self.params["end_date"]) is not None
            and (parse_date(expires) < parse_date(self.params["end_date"]))
        ):
            errors.append(f"expires: {expires} is before end_date {self.params['end_date']}")
        seen = set()
        for index, server in enumerate(self.params["servers"]):
            name = server["name"]
            where = f"servers[{index}] ({name})"
            if not name.startswith(event + "-") or len(name) > HOST_NAME_MAX:
                errors.append(
                    f"{where}: the name must start with {event + '-'!r} and have at most {HOST_NAME_MAX} characters"
                )
            if name in seen:
                errors.append(f"{where}: the name is given twice")
            seen.add(name)
            if not server["roles"]:
                errors.append(f"{where}: roles must name at least one of {', '.join(NODE_ROLES)}")
            reserved = sorted(
                key for key in server["metadata"] if str(key).startswith(RESERVED_PREFIX) and key != SSH_USER_KEY
            )
            if reserved:
                errors.append(
                    f"{where}: metadata keys starting with {RESERVED_PREFIX!r} are reserved: " + listing(reserved)
                )
            if server["boot_from_volume"] and not server["volume_size"]:
                errors.append(f"{where}: boot_from_volume needs volume_size (GB)")
            if server["floating_ip"] and not self.params["external_network"]:
                errors.append(f"{where}: floating_ip needs the option external_network")
        if errors:
            self.fail(errors)

    # -- look-ups --------------------------------------------------------------------------

    def resolve(self):
        """Flavors, images, networks, security groups and key pairs of ``servers``, looked up once."""
        wanted = self.params["servers"]
        errors = []
        flavors = list(self.conn.compute.flavors())
        resolved = {
            "flavors": flavors,
            "flavor": self._flavors(flavors, {server["flavor"] for server in wanted}, errors),
            "image": self._images({server["image"] for server in wanted}, errors),
        }
        networks = {server["network"] for server in wanted}
        if self.params["external_network"] and any(server["floating_ip"] for server in wanted):
            networks.add(self.params["external_network"])
        resolved["network"] = self._networks(networks, errors)
        self._check_groups_and_keys(wanted, errors)
        if errors:
            self.fail(errors)
        return resolved

    @staticmethod
    def _flavors(flavors, names, errors):
        by_key = {}
        for flavor in flavors:
            by_key.setdefault(flavor.id, flavor)
            by_key.setdefault(flavor.name, flavor)
        unknown = sorted(name for name in names if name not in by_key)
        errors.extend(
            f"unknown flavor {name!r}: the flavors are {listing(f.name for f in flavors)}" for name in unknown
        )
        return {name: by_key[name] for name in names if name in by_key}

    def _images(self, names, errors):
        found = {}
        for name in sorted(names):
            image = self.conn.image.find_image(name, ignore_missing=True)
            if image is None:
                errors.append(
                    f"unknown image {name!r}: the images are {listing(i.name for i in self.conn.image.images())}"
                )
            else:
                found[name] = image.id
        return found

    def _networks(self, names, errors):
        found = {}
        for name in sorted(names):
            network = self.conn.network.find_network(name, ignore_missing=True)
            if network is None:
                known = listing(n.name for n in self.conn.network.networks())
                errors.append(f"unknown network {name!r}: the networks are {known}")
            else:
                found[name] = network.id
        return found

    def _check_groups_and_keys(self, wanted, errors):
        groups = sorted({group for server in wanted for group in server["security_groups"]})
        if groups:
            known = {group.name for group in self.conn.network.security_groups(project_id=self.project_id())}
            errors.extend(
                f"unknown security group {name!r}: the security groups are {listing(known)}"
                for name in groups
                if name not in known and self.conn.network.find_security_group(name, ignore_missing=True) is None
            )
        keys = sorted({server["key_name"] for server in wanted if server["key_name"]})
        if keys:
            known = {key.name for key in self.conn.compute.keypairs()}
            errors.extend(
                f"unknown key pair {name!r}: the key pairs are {listing(known)}" for name in keys if name not in known
            )

    def flavor_of(self, server, flavors):
        """``(name, vcpus, ram)`` of a server's flavor."""
        embedded = getattr(server, "flavor", None)
        name = getattr(embedded, "name", None) or getattr(embedded, "original_name", None)
        flavor_id = getattr(embedded, "id", None)
        for flavor in flavors:
            if flavor.id == flavor_id or (name and flavor.name == name):
                return flavor.name, flavor.vcpus, flavor.ram
        return name, getattr(embedded, "vcpus", None), getattr(embedded, "ram", None)

    def describe(self, server, flavors):
        flavor, vcpus, ram = self.flavor_of(server, flavors)
        return {
            "name": server.name,
            "id": server.id,
            "status": server.status,
            "roles": server_roles(server),
            "addresses": _addresses(server),
            "flavor": flavor,
            "vcpus": vcpus,
            "ram": ram,
        }

    # -- plan ------------------------------------------------------------------------------

    def metadata_for(self, wanted):
        metadata = {str(key): str(value) for key, value in wanted["metadata"].items()}
        metadata.update(self.event_metadata(wanted))
        return metadata

    def event_metadata(self, wanted):
        return node_labels(
            self.params["event"], wanted["roles"], self.params["end_date"], self.params["expires"], PROVIDER
        )

    def plan(self, servers):
        """What to do: a dict of lists; fails (before any change) on servers the event cannot own."""
        event = self.params["event"]
        by_name = {}
        for server in servers:
            by_name.setdefault(server.name, []).append(server)
        plan = {"keep": [], "create": [], "replace": [], "update": [], "floating": [], "remove": [], "extra": []}
        errors = []
        for wanted in self.params["servers"]:
            found = by_name.get(wanted["name"], [])
            foreign = [server for server in found if server_event(server) != event]
            mine = [server for server in found if server_event(server) == event]
            if foreign:
                owner = server_event(foreign[0])
                whose = f"event {owner!r}" if owner else f"no event (no {EVENT_KEY} metadata)"
                errors.append(
                    f"server {wanted['name']!r} ({foreign[0].id}) exists and belongs to {whose}; "
                    "it is left alone: remove or rename it, or choose other names"
                )
            elif len(mine) > 1:
                errors.append(f"event {event!r} has {len(mine)} servers named {wanted['name']!r}; remove all but one")
            elif not mine:
                plan["create"].append((wanted, None))
            elif mine[0].status == "ERROR":
                plan["replace"].append((wanted, mine[0]))
            else:
                server = mine[0]
                plan["keep"].append((wanted, server))
                metadata = server.metadata or {}
                wanted_metadata = self.event_metadata(wanted)
                update = {key: value for key, value in wanted_metadata.items() if metadata.get(key) != value}
                if update:
                    plan["update"].append((server, update))
                if wanted["floating_ip"] and not self.neutron_floating_ips(server):
                    plan["floating"].append((wanted, server))
        if errors:
            self.fail(errors)
        names = {wanted["name"] for wanted in self.params["servers"]}
        extras = [server for server in servers if server_event(server) == event and server.name not in names]
        plan["remove" if self.params["remove_extra"] else "extra"] = extras
        return plan

    # -- actions ---------------------------------------------------------------------------

    def create(self, wanted, resolved):
        attrs = {
            "name": wanted["name"],
            "flavor_id": resolved["flavor"][wanted["flavor"]].id,
            "networks": [{"uuid": resolved["network"][wanted["network"]]}],
            "metadata": self.metadata_for(wanted),
        }
        if wanted["fixed_ip"]:
            attrs["networks"][0]["fixed_ip"] = wanted["fixed_ip"]
        if wanted["security_groups"]:
            attrs["security_groups"] = [{"name": name} for name in wanted["security_groups"]]
        if wanted["key_name"]:
            attrs["key_name"] = wanted["key_name"]
        if wanted["user_data"]:
            attrs["user_data"] = base64.b64encode(wanted["user_data"].encode("utf-8")).decode("ascii")
        image_id = resolved["image"][wanted["image"]]
        if wanted["boot_from_volume"]:
            attrs["block_device_mapping"] = [
                {
                    "boot_index": 0,
                    "uuid": image_id,
                    "source_type": "image",
                    "destination_type": "volume",
                    "volume_size": wanted["volume_size"],
                    "delete_on_termination": True,
                }
            ]
        else:
            attrs["image_id"] = image_id
        return self.conn.compute.create_server(**attrs)

    def wait_deleted(self, servers):
        ids = {server.id: server.name for server in servers}

        def pending():
            present = {server.id for server in self.conn.compute.servers(details=True) if server.status != "DELETED"}
            return [name for server_id, name in ids.items() if server_id in present]

        self.wait_for(pending, "servers to be deleted")

    def wait_active(self, ids, result):
        """Wait until the servers ``ids`` ({id: name}) are ACTIVE; fails on ERROR or a server gone."""
        broken = []

        def pending():
            current = {server.id: server for server in self.conn.compute.servers(details=True)}
            left = []
            for server_id, name in ids.items():
                server = current.get(server_id)
                if server is None or server.status == "DELETED":
                    broken.append(f"server {name!r} ({server_id}) disappeared while it was being built")
                elif server.status == "ERROR":
                    broken.append(f"server {name!r} ({server_id}) went into ERROR: {_fault(server)}")
                elif server.status != "ACTIVE":
                    left.append(name)
            # Stop waiting as soon as one server failed: its line is what matters.
            return [] if broken else left

        self.wait_for(pending, "servers to be ACTIVE")
        if broken:
            self.fail(broken, **result)

    def neutron_floating_ips(self, server):
        """The floating IPs of a server's ports, from Neutron (Nova's addresses show them a little later)."""
        if _addresses(server)["floating"]:
            return _addresses(server)["floating"]
        return [
            ip.floating_ip_address
            for port in self.conn.network.ports(device_id=server.id)
            for ip in self.conn.network.ips(port_id=port.id)
        ]

    def wait_listed(self, attached):
        """Wait until Nova lists each new floating IP ({server id: (name, address)}) in its server's addresses.

        Neutron has the address at once; Nova's view (what the inventory plugin and ``openstack server list``
        read) follows when Neutron's notification reaches it, which takes seconds on a busy cloud.
        """

        def pending():
            current = {server.id: server for server in self.conn.compute.servers(details=True)}
            return [
                f"{name} ({address})"
                for server_id, (name, address) in attached.items()
                if server_id in current and address not in _addresses(current[server_id])["floating"]
            ]

        self.wait_for(pending, "Nova to list the new floating IPs")

    def attach_floating_ip(self, server, external_id):
        """Give ``server`` a floating IP: a free one of the event on ``external_id``, else a new one (tagged)."""
        tag = event_tag(self.params["event"])
        ports = list(self.conn.network.ports(device_id=server.id))
        if not ports:
            self.fail(f"server {server.name!r} has no port to attach a floating IP to")
        port = ports[0]
        attached = list(self.conn.network.ips(port_id=port.id))
        if attached:
            return attached[0].floating_ip_address
        free = [ip for ip in self.conn.network.ips(tags=tag, floating_network_id=external_id) if not ip.port_id]
        if free:
            return self.conn.network.update_ip(free[0], port_id=port.id).floating_ip_address
        ip = self.create_tagged(
            "ip",
            self.params["event"],
            floating_network_id=external_id,
            port_id=port.id,
            description=floating_ip_description(self.params["event"]),
        )
        return ip.floating_ip_address

    # -- run -------------------------------------------------------------------------------

    def run(self):
        event = self.params["event"]
        resolved = self.resolve()
        before = self.event_servers()
        plan = self.plan(before)
        created = [wanted["name"] for wanted, _server in plan["create"]]
        replaced = [wanted["name"] for wanted, _server in plan["replace"]]
        removed = [server.name for server in plan["remove"]]
        updated = [server.name for server, _update in plan["update"]]
        floating = [wanted["name"] for wanted, _server in plan["floating"]]
        floating += [wanted["name"] for wanted, _server in plan["create"] + plan["replace"] if wanted["floating_ip"]]
        changed = bool(created or replaced or removed or updated or floating)
        mine_before = [server for server in before if server_event(server) == event]
        result = {
            "changed": changed,
            "created": created,
            "replaced": replaced,
            "removed": removed,
            "updated": updated,
            "floating_ips": sorted(floating),
            "extra": [server.name for server in plan["extra"]],
        }
        if self.diff_mode:
            after = {server.name for server in mine_before} - set(removed) | set(created)
            result["diff"] = {
                "before": {"servers": sorted(server.name for server in mine_before)},
                "after": {"servers": sorted(after)},
            }
        if self.check_mode or not changed:
            result["servers"] = self.report(mine_before, resolved["flavors"])
            self.exit(**result)

        # Delete first (ERROR servers and extras), so that quota and names are free again.
        doomed = [server for _wanted, server in plan["replace"]] + plan["remove"]
        for server in doomed:
            self.conn.compute.delete_server(server, ignore_missing=True)
        for server, update in plan["update"]:
            self.conn.compute.set_server_metadata(server, **update)
        if plan["replace"] or (doomed and self.params["wait"]):
            self.wait_deleted(doomed)
        # Every create request first, then one wait for all of them.
        new = {}
        for wanted, _server in plan["create"] + plan["replace"]:
            server = self.create(wanted, resolved)
            new[server.id] = wanted["name"]
        if new and self.params["wait"]:
            self.wait_active(new, result)
        external = self.params["external_network"]
        if external and result["floating_ips"]:
            external_id = resolved["network"][external]
            current = {server.name: server for server in self.event_servers(event)}
            attached = {}
            for name in result["floating_ips"]:
                server = current.get(name)
                if server is not None and server.status == "ACTIVE":
                    attached[server.id] = (name, self.attach_floating_ip(server, external_id))
            if attached and self.params["wait"]:
                self.wait_listed(attached)
        result["servers"] = self.report(self.event_servers(event), resolved["flavors"])
        self.exit(**result)

    def report(self, servers, flavors):
        wanted = {server["name"]: server for server in self.params["servers"]}
        order = {name: index for index, name in enumerate(wanted)}
        ordered = sorted(servers, key=lambda server: (order.get(server.name, len(order)), server.name))
        described = []
        for server in ordered:
            item = self.describe(server, flavors)
            if server.name in wanted and wanted[server.name]["floating_ip"] and not item["addresses"]["floating"]:
                # Nova shows a new floating IP in the server's addresses a little later than Neutron.
                item["addresses"]["floating"] = self.neutron_floating_ips(server)
            described.append(item)
        return described


def main():
    EventServers()()


if __name__ == "__main__":
    main()
