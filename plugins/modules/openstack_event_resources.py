#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_event_resources
short_description: List or remove every OpenStack resource of a training event
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Finds every resource of event O(event) in the current project (docs/contracts.md) - servers with the metadata
    C(org.learnhpc.event) (autoscaled ones included), floating IPs, ports, routers (their interfaces and gateway),
    subnets, networks and security groups with the tag C(learnhpc-event=<event>), volumes with the metadata
    C(org.learnhpc.event), the key pair C(<event>-key) whose public key's comment is C(<event>-key), and the
    application credential (of the current user) C(<event>-autoscale) that slurm_autoscale made.
  - Also the network C(<event>-net), subnet C(<event>-subnet), router C(<event>-router) and security groups
    C(<event>-internal), C(<event>-login) and C(<event>-globus) that carry no event's tag but have exactly that
    name and a description starting with C(learnhpc event <event>:) (what M(learnhpc.cluster.openstack_event_network)
    writes), and floating IPs without a tag described exactly C(learnhpc event <event>:) then C(floating IP) -
    what a run interrupted between creating and tagging a resource leaves on a cloud without Neutron's
    C(tag-creation).
  - With O(state=absent) it deletes them in dependency order - servers (waiting until they are gone), floating IPs,
    router interfaces and gateways, ports, routers, subnets, networks, security groups, key pairs, volumes
    (waiting until they are gone), application credentials - retrying a deletion the cloud refuses with 409
    Conflict (a resource still in use) until O(timeout). Then it lists the event's resources again; what is still
    listed gets another pass (three in all, within O(timeout)), and the module fails, naming each, if any is left.
  - With O(state=present) it only reports what the event has.
  - Resources of other events, and resources without the event's tag or metadata that are not the collection's by
    the rules above, are never touched; nothing is found by a name prefix (C(demo-2-net) is never event C(demo)'s).
options:
  event:
    description:
      - The event name (docs/contracts.md).
    type: str
    required: true
  state:
    description:
      - V(absent) removes the event's resources; V(present) only lists them.
    type: str
    default: absent
    choices: [absent, present]
extends_documentation_fragment:
  - learnhpc.cluster.openstack
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - O(wait=false) is not honoured. The later deletions need the servers gone, and the final check needs every
    deletion finished, so the module always waits, at most O(timeout) seconds in all.
  - Boot volumes made by M(learnhpc.cluster.openstack_event_servers) are deleted with their servers.
"""

EXAMPLES = r"""
- name: Remove everything of event demo
  learnhpc.cluster.openstack_event_resources:
    cloud: training
    event: demo
    state: absent
  register: teardown

- name: Show what was deleted
  ansible.builtin.debug:
    var: teardown.deleted

- name: List what event demo has, changing nothing
  learnhpc.cluster.openstack_event_resources:
    cloud: training
    event: demo
    state: present
  register: demo_resources
"""

RETURN = r"""
resources:
  description:
    - The event's resources found at the start, by kind, each a list of names (IDs or addresses where there is
      no name). Kinds are C(servers), C(floating_ips), C(router_interfaces), C(router_gateways), C(ports),
      C(routers), C(subnets), C(networks), C(security_groups), C(keypairs), C(volumes) and
      C(application_credentials).
  returned: always
  type: dict
  sample: {"servers": ["demo-mgmt", "demo-login"], "networks": ["demo-net"], "keypairs": ["demo-key"]}
deleted:
  description:
    - The number of resources deleted per kind (in check mode, that would be deleted); zeros with O(state=present).
  returned: always
  type: dict
  sample: {"servers": 2, "floating_ips": 1, "networks": 1, "keypairs": 1}
left:
  description:
    - The number of resources of the event found after the deletion, per kind; all zero on success.
  returned: when O(state=absent) and not in check mode
  type: dict
  sample: {"servers": 0, "networks": 0}
"""

from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    OpenStackModule,
    event_tag,
    network_names,
    owns_credential,
    owns_keypair,
    owns_untagged,
    sdk_exceptions,
    server_event,
)

DELETE_PASSES = 3
KINDS = (
    "servers",
    "floating_ips",
    "router_interfaces",
    "router_gateways",
    "ports",
    "routers",
    "subnets",
    "networks",
    "security_groups",
    "keypairs",
    "volumes",
    "application_credentials",
)


def _label(resource):
    return getattr(resource, "name", None) or getattr(resource, "id", None)


class EventResources(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str", "required": True},
        "state": {"type": "str", "default": "absent", "choices": ["absent", "present"]},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    # -- finding ---------------------------------------------------------------------------

    def neutron(self, kind):
        """The event's Neutron resources of ``kind``: tagged with the event, or untagged and made by the collection.

        An untagged one (left by a run interrupted between creating and tagging it) is the event's only by its
        exact name and the description the collection gave it (``owns_untagged``), never by a name prefix.
        """
        event = self.params["event"]
        lister = getattr(self.conn.network, "ips" if kind == "floating_ips" else kind)
        project = {"project_id": self.project_id()}
        found = {item.id: item for item in lister(tags=event_tag(event), **project)}
        if kind == "floating_ips":
            untagged = [ip for ip in lister(**project) if owns_untagged(ip, event, kind)]
        else:
            untagged = [
                item
                for name in network_names(event).get(kind, [])
                for item in lister(name=name, **project)
                if owns_untagged(item, event, kind)
            ]
        for item in untagged:
            found.setdefault(item.id, item)
        return list(found.values())

    def find(self):
        """The event's resources: {kind: [(label, resource, extra)]}."""
        event = self.params["event"]
        tag = event_tag(event)
        net = self.conn.network
        project = {"project_id": self.project_id()}
        all_servers = self.event_servers()
        found = {kind: [] for kind in KINDS}
        found["servers"] = [(s.name, s, None) for s in all_servers if server_event(s) == event]
        found["floating_ips"] = [(ip.floating_ip_address, ip, None) for ip in self.neutron("floating_ips")]
        routers = self.neutron("routers")
        for router in routers:
            for port in net.ports(device_id=router.id):
                if (port.device_owner or "").startswith("network:router_interface"):
                    found["router_interfaces"].append((f"{router.name} port {port.id}", router, port))
            if router.external_gateway_info:
                found["router_gateways"].append((router.name, router, None))
        found["ports"] = [(_label(port), port, None) for port in net.ports(tags=tag, **project)]
        found["routers"] = [(router.name, router, None) for router in routers]
        found["subnets"] = [(_label(subnet), subnet, None) for subnet in self.neutron("subnets")]
        found["networks"] = [(_label(network), network, None) for network in self.neutron("networks")]
        found["security_groups"] = [(_label(sg), sg, None) for sg in self.neutron("security_groups")]
        found["keypairs"] = [(key.name, key, None) for key in self.conn.compute.keypairs() if owns_keypair(key, event)]
        found["volumes"] = [(_label(volume), volume, None) for volume in self.event_volumes(event)]
        user = self.conn.current_user_id
        found["application_credentials"] = [
            (cred.name, cred, None)
            for cred in self.conn.identity.application_credentials(user=user)
            if owns_credential(cred, event)
        ]
        return found

    # -- deleting --------------------------------------------------------------------------

    def delete(self, kind, resource, extra, end):
        net = self.conn.network
        if kind == "servers":
            self.conn.compute.delete_server(resource, ignore_missing=True)
        elif kind == "floating_ips":
            self.retry_conflict(lambda: net.delete_ip(resource, ignore_missing=True), end)
        elif kind == "router_interfaces":
            self.retry_conflict(lambda: net.remove_interface_from_router(resource, port=extra), end)
        elif kind == "router_gateways":
            self.retry_conflict(lambda: net.update_router(resource, external_gateway_info={}), end)
        elif kind == "ports":
            self.retry_conflict(lambda: net.delete_port(resource, ignore_missing=True), end)
        elif kind == "routers":
            self.retry_conflict(lambda: net.delete_router(resource, ignore_missing=True), end)
        elif kind == "subnets":
            self.retry_conflict(lambda: net.delete_subnet(resource, ignore_missing=True), end)
        elif kind == "networks":
            self.retry_conflict(lambda: net.delete_network(resource, ignore_missing=True), end)
        elif kind == "security_groups":
            self.retry_conflict(lambda: net.delete_security_group(resource, ignore_missing=True), end)
        elif kind == "keypairs":
            self.conn.compute.delete_keypair(resource, ignore_missing=True)
        elif kind == "volumes":
            self.delete_volume(resource, end)
        elif kind == "application_credentials":
            self.conn.identity.delete_application_credential(self.conn.current_user_id, resource, ignore_missing=True)

    def delete_volume(self, volume, end):
        """Cinder answers 400 while a volume is still detaching from a deleted server: retry that too."""
        while True:
            try:
                self.conn.block_storage.delete_volume(volume, ignore_missing=True)
                return
            except (sdk_exceptions.ConflictException, sdk_exceptions.BadRequestException):
                if self.now() >= end:
                    raise
                self.sleep(self.poll_interval)

    def wait_gone(self, kind, items):
        ids = {resource.id: label for label, resource, _extra in items}

        def pending():
            if kind == "servers":
                present = {s.id for s in self.conn.compute.servers(details=True) if s.status != "DELETED"}
            else:
                present = {v.id for v in self.conn.block_storage.volumes(details=True) if v.status != "deleted"}
            return [label for resource_id, label in ids.items() if resource_id in present]

        self.wait_for(pending, f"{kind} to be deleted")

    def run(self):
        found = self.find()
        resources = {kind: sorted(str(label) for label, _r, _e in items) for kind, items in found.items()}
        zero = dict.fromkeys(KINDS, 0)
        if self.params["state"] == "present":
            self.exit(changed=False, resources=resources, deleted=zero)
        counts = {kind: len(items) for kind, items in found.items()}
        changed = any(counts.values())
        if self.check_mode or not changed:
            result = {"changed": changed, "resources": resources, "deleted": counts}
            if not self.check_mode:
                result["left"] = zero
            self.exit(**result)
        end = self.deadline()
        remaining = found
        # A cloud can list a resource again after it was seen gone (seen with nova: two of 20
        # deleted servers listed again right after the wait): up to three passes, each on what
        # the last listing still shows.
        for _pass in range(DELETE_PASSES):
            for kind in KINDS:
                for _name, resource, extra in remaining[kind]:
                    self.delete(kind, resource, extra, end)
                if kind in ("servers", "volumes") and remaining[kind]:
                    self.wait_gone(kind, remaining[kind])
            remaining = self.find()
            if not any(remaining.values()) or self.now() >= end:
                break
        left = {kind: len(items) for kind, items in remaining.items()}
        deleted = {kind: max(0, counts[kind] - left[kind]) for kind in KINDS}
        result = {"changed": True, "resources": resources, "deleted": deleted, "left": left}
        if any(left.values()):
            lines = [
                f"{kind} of event {self.params['event']!r} left after the deletion: "
                + ", ".join(sorted(str(label) for label, _r, _e in items))
                for kind, items in remaining.items()
                if items
            ]
            self.fail(lines, **result)
        self.exit(**result)


def main():
    EventResources()()


if __name__ == "__main__":
    main()
