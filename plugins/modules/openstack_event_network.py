#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_event_network
short_description: Create the network, router and security groups of a training event on OpenStack
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Makes, in the current project, the network C(<event>-net), the subnet C(<event>-subnet) (O(network_cidr)),
    the router C(<event>-router) with O(external_network) as its gateway and the subnet attached, and the security
    groups C(<event>-internal), C(<event>-login) and, with O(globus=true), C(<event>-globus) (docs/contracts.md).
  - Every resource it makes carries the tag C(learnhpc-event=<event>) from the request that creates it, when the
    cloud's Neutron has the extension C(tag-creation); otherwise it is tagged right after. Every one gets a
    description starting with C(learnhpc event <event>:), so that M(learnhpc.cluster.openstack_event_resources) finds
    one left untagged by an interrupted run by its exact name and that description.
  - A resource of one of these names is the event's when it carries the event's tag, or no event's tag and the
    collection's description (then it gets the tag). One with another event's tag, or untagged without that
    description, is an error and is left alone; so are two of the event's with the same name.
  - Sets the B(ingress) rules of each security group to exactly the wanted ones, adding those missing and deleting
    the others (rules added by hand included). C(<event>-internal) - all IPv4 traffic from members of the group;
    C(<event>-login) - TCP O(login_ports) from each of O(allowed_cidrs) (IPv6 ones as IPv6 rules);
    C(<event>-globus) - TCP 443 and 50000 to 51000 from anywhere (IPv4), as Globus needs.
  - Egress rules are left as they are (Neutron gives every new group rules that allow all egress traffic).
  - The external network is looked up before anything changes; an unknown one fails with one line listing the
    external networks.
options:
  event:
    description:
      - The event name (docs/contracts.md).
    type: str
    required: true
  network_cidr:
    description:
      - The IPv4 range of the event's subnet, for example V(10.42.0.0/24).
      - An existing subnet with another range is an error (tear the event down to change it).
    type: str
    required: true
  external_network:
    description:
      - Name or ID of the external network of the router's gateway (where floating IPs come from).
    type: str
    required: true
  allowed_cidrs:
    description:
      - The networks (CIDRs, IPv4 or IPv6) the login node is reached from, on O(login_ports).
    type: list
    elements: str
    default: []
  login_ports:
    description:
      - The TCP ports of the login node open to O(allowed_cidrs).
    type: list
    elements: int
    default: [22, 443]
  globus:
    description:
      - Whether the event has the security group C(<event>-globus) of its Globus endpoint's node.
      - With V(false) an existing C(<event>-globus) group is left as it is
        (M(learnhpc.cluster.openstack_event_resources) removes it with the event).
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
  - The options O(wait) and O(timeout) are not used; Neutron makes these resources at once.
  - The network, subnet and router are not changed once made, except the router's gateway and its interface on the
    subnet, which are put back when missing.
"""

EXAMPLES = r"""
- name: Create the network and security groups of event demo
  learnhpc.cluster.openstack_event_network:
    cloud: training
    event: demo
    network_cidr: 10.42.0.0/24
    external_network: public
    allowed_cidrs: [192.0.2.0/24, "2001:db8::/32"]
    login_ports: [22, 443]
  register: demo_network

- name: Show the ingress rules added and removed
  ansible.builtin.debug:
    msg: "{{ demo_network.rules_added }} / {{ demo_network.rules_removed }}"
"""

RETURN = r"""
network:
  description: The event's network, C(name) and C(id) (C(id) is null in check mode when it would be created).
  returned: success
  type: dict
  sample: {"name": "demo-net", "id": "2b3f6c1e-8a58-4a3c-9b37-0c3e7c1f4d21"}
subnet:
  description: The event's subnet, C(name), C(id) and C(cidr).
  returned: success
  type: dict
  sample: {"name": "demo-subnet", "id": "0f4c2d4a-3b1e-4f25-9d8e-5f0b7a6c2e11", "cidr": "10.42.0.0/24"}
router:
  description: The event's router, C(name) and C(id).
  returned: success
  type: dict
  sample: {"name": "demo-router", "id": "7d1e0c9b-2f8a-4e0d-8c55-3a9b6f2e1d40"}
security_groups:
  description: The event's security groups by purpose (C(internal), C(login), C(globus)), each C(name) and C(id).
  returned: success
  type: dict
  sample: {"internal": {"name": "demo-internal", "id": "1c0e..."}, "login": {"name": "demo-login", "id": "9a3b..."}}
created:
  description: The resources created (in check mode, that would be), as C(kind/name).
  returned: success
  type: list
  elements: str
  sample: ["network/demo-net", "subnet/demo-subnet", "router/demo-router"]
tagged:
  description: Untagged resources of the event (left by an interrupted run) that got the event's tag.
  returned: success
  type: list
  elements: str
  sample: []
updated:
  description: What was put back on the router (its gateway, its interface on the subnet).
  returned: success
  type: list
  elements: str
  sample: ["router/demo-router: interface on demo-subnet"]
rules_added:
  description: The ingress rules added (in check mode, that would be), one line each.
  returned: success
  type: list
  elements: str
  sample: ["demo-login: tcp 22 from 192.0.2.0/24 (IPv4)"]
rules_removed:
  description: The ingress rules deleted (in check mode, that would be), one line each.
  returned: success
  type: list
  elements: str
  sample: ["demo-login: tcp 22 from 198.51.100.0/24 (IPv4)"]
diff:
  description: The ingress rules of each security group before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"demo-login": ["tcp 22 from 198.51.100.0/24 (IPv4)"]}, "after": {"demo-login": []}}
"""

import ipaddress
from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    OpenStackModule,
    collection_description,
    event_tag,
    listing,
    network_names,
    owns_untagged,
    tags_event,
)

SINGULAR = {
    "networks": "network",
    "subnets": "subnet",
    "routers": "router",
    "security_groups": "security group",
}
# Globus's services and other endpoints connect from anywhere; Globus publishes no address range.
GLOBUS_PORTS = ((443, 443), (50000, 51000))
GROUP_PURPOSES = {
    "internal": "all traffic between the event's nodes",
    "login": "SSH and HTTPS to the login node",
    "globus": "Globus (443 and 50000-51000) from anywhere",
}
PROTOCOL_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp"}
# A rule's remote group that is the rule's own group.
SELF = "self"
# The lists of the result that say what changed.
CHANGES = ("created", "tagged", "updated", "rules_added", "rules_removed")


def _network(cidr):
    return ipaddress.ip_network(cidr, strict=False)


def _ethertype(cidr):
    return "IPv6" if _network(cidr).version == 6 else "IPv4"


def _anywhere(ethertype):
    return "::/0" if ethertype == "IPv6" else "0.0.0.0/0"


def rule_key(rule, group_id):
    """An ingress rule as a comparable tuple: (ethertype, protocol, port min, port max, remote prefix, remote group)."""
    ethertype = getattr(rule, "ether_type", None) or "IPv4"
    protocol = getattr(rule, "protocol", None)
    protocol = None if protocol in (None, "", "any") else PROTOCOL_NUMBERS.get(str(protocol), str(protocol).lower())
    low, high = getattr(rule, "port_range_min", None), getattr(rule, "port_range_max", None)
    if protocol is None:
        low = high = None
    remote_group = getattr(rule, "remote_group_id", None)
    prefix = getattr(rule, "remote_ip_prefix", None)
    if remote_group:
        prefix = None
        remote_group = SELF if remote_group == group_id else remote_group
    else:
        # No prefix and no group: from anywhere, as Neutron reads it.
        prefix = str(_network(prefix)) if prefix else _anywhere(ethertype)
    return (ethertype, protocol, low, high, prefix, remote_group)


def rule_text(key, group_names):
    ethertype, protocol, low, high, prefix, remote_group = key
    ports = "" if low is None else (f" {low}" if low == high else f" {low}-{high}")
    source = f"group {group_names.get(remote_group, remote_group)}" if remote_group else prefix
    return f"{protocol or 'any'}{ports} from {source} ({ethertype})"


class EventNetwork(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str", "required": True},
        "network_cidr": {"type": "str", "required": True},
        "external_network": {"type": "str", "required": True},
        "allowed_cidrs": {"type": "list", "elements": "str", "default": []},
        "login_ports": {"type": "list", "elements": "int", "default": [22, 443]},
        "globus": {"type": "bool", "default": False},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        errors = []
        try:
            if _network(self.params["network_cidr"]).version != 4:
                errors.append(f"network_cidr: must be an IPv4 range, got {self.params['network_cidr']!r}")
        except ValueError:
            errors.append(f"network_cidr: not a CIDR: {self.params['network_cidr']!r}")
        for cidr in self.params["allowed_cidrs"]:
            try:
                _network(cidr)
            except ValueError:
                errors.append(f"allowed_cidrs: not a CIDR: {cidr!r}")
        errors.extend(
            f"login_ports: {port} is not a TCP port (1-65535)"
            for port in self.params["login_ports"]
            if not 1 <= port <= 65535
        )
        if errors:
            self.fail(errors)

    # -- finding ---------------------------------------------------------------------------

    def find_mine(self, kind, name):
        """The event's resource of ``kind`` named ``name``, or ``None``; fails on one of that name that is not."""
        event = self.params["event"]
        found = list(getattr(self.conn.network, kind)(name=name, project_id=self.project_id()))
        mine = [item for item in found if tags_event(item.tags) == event or owns_untagged(item, event, kind)]
        what = SINGULAR[kind]
        if len(mine) > 1:
            self.fail(f"event {event!r} has {len(mine)} {kind.replace('_', ' ')} named {name!r}; remove all but one")
        if mine:
            return mine[0]
        if found:
            owner = tags_event(found[0].tags)
            whose = f"event {owner!r}" if owner else "no event (no learnhpc-event tag, not made by learnhpc.cluster)"
            self.fail(
                f"{what} {name!r} ({found[0].id}) exists and belongs to {whose}; "
                "it is left alone: remove or rename it, or choose another event name"
            )
        return None

    def external_network(self):
        name = self.params["external_network"]
        network = self.conn.network.find_network(name, ignore_missing=True)
        if network is None or not getattr(network, "is_router_external", False):
            known = listing(n.name for n in self.conn.network.networks(is_router_external=True))
            what = "is not external" if network is not None else "not found"
            self.fail(f"external network {name!r} {what}: the external networks are {known}")
        return network

    # -- making ----------------------------------------------------------------------------

    def ensure(self, kind, name, resource, what, **attrs):
        """``resource`` (the event's, found by ``find_mine``), tagged if it was not; or created when ``None``.

        In check mode nothing changes and a resource to be created is returned as ``None``.
        """
        label = f"{SINGULAR[kind].replace(' ', '_')}/{name}"
        if resource is None:
            self.result["created"].append(label)
            if self.check_mode:
                return None
            return self.create_tagged(
                SINGULAR[kind].replace(" ", "_"),
                self.params["event"],
                name=name,
                description=collection_description(self.params["event"], what),
                **attrs,
            )
        if tags_event(resource.tags) is None:
            self.result["tagged"].append(label)
            if not self.check_mode:
                self.conn.network.add_tag(resource, event_tag(self.params["event"]))
        return resource

    def check_subnet(self, subnet, network):
        """Fail when the event's existing subnet is not on its network or has another range."""
        if subnet is None:
            return
        if network is None or subnet.network_id != network.id:
            self.fail(
                f"subnet {subnet.name!r} is on another network ({subnet.network_id}) than "
                f"{self.names['networks'][0]!r}; tear the event down to repair it"
            )
        cidr = str(_network(self.params["network_cidr"]))
        if str(_network(subnet.cidr)) != cidr:
            self.fail(
                f"subnet {subnet.name!r} has the range {subnet.cidr}, not {cidr} (network_cidr); "
                "tear the event down to change it"
            )

    def ensure_router_links(self, router, created, external, subnet):
        """Put back the gateway on ``external`` and the interface on ``subnet`` of the event's router."""
        name = self.names["routers"][0]
        if created:
            if router is not None:
                self.conn.network.add_interface_to_router(router, subnet=subnet.id)
            return
        gateway = (getattr(router, "external_gateway_info", None) or {}).get("network_id")
        if gateway != external.id:
            self.result["updated"].append(f"router/{name}: gateway on {external.name}")
            if not self.check_mode:
                self.conn.network.update_router(router, external_gateway_info={"network_id": external.id})
        attached = subnet is not None and any(
            (port.device_owner or "").startswith("network:router_interface")
            and any(ip.get("subnet_id") == subnet.id for ip in (port.fixed_ips or []))
            for port in self.conn.network.ports(device_id=router.id)
        )
        if not attached:
            self.result["updated"].append(f"router/{name}: interface on {self.names['subnets'][0]}")
            if not self.check_mode:
                self.conn.network.add_interface_to_router(router, subnet=subnet.id)

    # -- security group rules ---------------------------------------------------------------

    def wanted_rules(self, purpose):
        if purpose == "internal":
            return {("IPv4", None, None, None, None, SELF)}
        if purpose == "login":
            return {
                (_ethertype(cidr), "tcp", port, port, str(_network(cidr)), None)
                for cidr in self.params["allowed_cidrs"]
                for port in self.params["login_ports"]
            }
        return {("IPv4", "tcp", low, high, "0.0.0.0/0", None) for low, high in GLOBUS_PORTS}

    def set_rules(self, group, name, purpose, group_names):
        """Make the ingress rules of ``group`` (None: to be created) exactly the wanted ones."""
        wanted = self.wanted_rules(purpose)
        current = {}
        if group is not None:
            for rule in self.conn.network.security_group_rules(security_group_id=group.id):
                if rule.direction == "ingress":
                    current.setdefault(rule_key(rule, group.id), []).append(rule)
        extra = [rule for key, rules in current.items() for rule in (rules if key not in wanted else rules[1:])]
        missing = sorted(wanted - set(current), key=str)
        self.result["rules_removed"] += sorted(
            f"{name}: {rule_text(rule_key(rule, group.id), group_names)}" for rule in extra
        )
        self.result["rules_added"] += [f"{name}: {rule_text(key, group_names)}" for key in missing]
        if self.diff_mode:
            self.result["diff"]["before"][name] = sorted(rule_text(key, group_names) for key in current)
            self.result["diff"]["after"][name] = sorted(rule_text(key, group_names) for key in wanted)
        if self.check_mode:
            return
        for rule in extra:
            self.conn.network.delete_security_group_rule(rule, ignore_missing=True)
        for ethertype, protocol, low, high, prefix, remote_group in missing:
            attrs = {"security_group_id": group.id, "direction": "ingress", "ether_type": ethertype}
            if protocol is not None:
                attrs.update(protocol=protocol, port_range_min=low, port_range_max=high)
            if remote_group is not None:
                attrs["remote_group_id"] = group.id if remote_group == SELF else remote_group
            else:
                attrs["remote_ip_prefix"] = prefix
            self.conn.network.create_security_group_rule(**attrs)

    # -- run -------------------------------------------------------------------------------

    def run(self):
        event = self.params["event"]
        self.names = network_names(event)
        self.result = {key: [] for key in CHANGES}
        if self.diff_mode:
            self.result["diff"] = {"before": {}, "after": {}}
        purposes = ["internal", "login"] + (["globus"] if self.params["globus"] else [])
        # The names of docs/contracts.md, <event>-internal, ..., by the purpose they end with.
        group_names = {
            name[len(event) + 1 :]: name for name in self.names["security_groups"] if name[len(event) + 1 :] in purposes
        }
        # Everything is looked up, and every error found, before anything changes.
        external = self.external_network()
        net_name, subnet_name, router_name = (self.names[kind][0] for kind in ("networks", "subnets", "routers"))
        network = self.find_mine("networks", net_name)
        subnet = self.find_mine("subnets", subnet_name)
        router = self.find_mine("routers", router_name)
        groups = {purpose: self.find_mine("security_groups", name) for purpose, name in group_names.items()}
        self.check_subnet(subnet, network)

        network = self.ensure("networks", net_name, network, "the event's network")
        cidr = str(_network(self.params["network_cidr"]))
        subnet = self.ensure(
            "subnets",
            subnet_name,
            subnet,
            "the event's subnet",
            network_id=getattr(network, "id", None),
            ip_version=4,
            cidr=cidr,
        )
        created = router is None
        router = self.ensure(
            "routers", router_name, router, "the event's router", external_gateway_info={"network_id": external.id}
        )
        self.ensure_router_links(router, created, external, subnet)
        for purpose, name in group_names.items():
            groups[purpose] = self.ensure("security_groups", name, groups[purpose], GROUP_PURPOSES[purpose])
        for purpose, name in group_names.items():
            self.set_rules(groups[purpose], name, purpose, {SELF: name})

        def described(name, resource, **more):
            return {"name": name, "id": getattr(resource, "id", None), **more}

        self.exit(
            changed=any(self.result[key] for key in CHANGES),
            network=described(net_name, network),
            subnet=described(subnet_name, subnet, cidr=cidr),
            router=described(router_name, router),
            security_groups={purpose: described(name, groups[purpose]) for purpose, name in group_names.items()},
            **self.result,
        )


def main():
    EventNetwork()()


if __name__ == "__main__":
    main()
