#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_event_quota
short_description: Check that the OpenStack project has the quota a training event still needs
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Computes what event O(event) still needs - what it will have minus what it has already, so that a second run
    needs only the missing part - and compares it with what the project's quotas leave free (limit minus usage
    and reservations) for compute (instances, cores, RAM), network (floating IPs, networks, subnets, routers,
    ports, security groups and rules) and block storage (volumes, gigabytes).
  - "Fails, before anything is created, with one line per resource that is short, for example
    C(instances: need 5, 3 free of quota 10), and returns RV(needed), RV(available) and RV(shortfalls)."
  - Flavors are looked up by name or ID for their vCPUs and RAM; an unknown flavor gets one line listing the
    flavors that exist. With O(image) and O(external_network), so are the image and the external network.
  - Read-only; it never changes anything.
  - What the event has already is found as in docs/contracts.md - servers by the metadata C(org.learnhpc.event),
    network resources by the tag C(learnhpc-event=<event>), volumes by the metadata C(org.learnhpc.event). A server
    of the event in C(ERROR) counts as present (it is replaced, not added).
options:
  event:
    description:
      - The event name (docs/contracts.md).
    type: str
    required: true
  servers:
    description:
      - The servers the event will have.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The full server name, such as C(demo-compute-01).
        type: str
        required: true
      flavor:
        description: Name or ID of the flavor.
        type: str
        required: true
      boot_volume_size:
        description: Size in GB of the server's boot volume, when it boots from a volume.
        type: int
  volumes:
    description: Number of volumes the event will have besides boot volumes (with the event's metadata).
    type: int
    default: 0
  volume_gb:
    description: Gigabytes of those volumes in all.
    type: int
    default: 0
  floating_ips:
    description: Number of floating IPs the event will have.
    type: int
    default: 0
  networks:
    description: Number of networks the event will have.
    type: int
    default: 0
  subnets:
    description: Number of subnets the event will have.
    type: int
    default: 0
  routers:
    description: Number of routers the event will have.
    type: int
    default: 0
  ports:
    description:
      - Number of tagged ports the event will have besides the servers' own ports (which Nova creates, one per
        server to be created, and which are always added to the need).
      - Router interfaces and DHCP ports are not tagged; count them here when the event's networks do not exist yet.
    type: int
    default: 0
  security_groups:
    description: Number of security groups the event will have.
    type: int
    default: 0
  security_group_rules:
    description:
      - Number of security group rules in the event's security groups, the two egress rules Neutron adds to every
        new group included.
    type: int
    default: 0
  image:
    description:
      - Name or ID of the image the servers boot. When given, an image that does not exist gets one line, before
        anything is created.
    type: str
  external_network:
    description:
      - Name or ID of the external network the event's router and floating IPs use. When given, a network that
        does not exist or is not external gets one line, before anything is created.
    type: str
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
  - The options O(wait) and O(timeout) are not used.
  - Block storage quotas are read only when the event needs volumes or gigabytes.
"""

EXAMPLES = r"""
- name: Check the quota before creating event demo
  learnhpc.cluster.openstack_event_quota:
    cloud: training
    event: demo
    servers:
      - {name: demo-mgmt, flavor: m1.medium}
      - {name: demo-login, flavor: m1.medium}
      - {name: demo-compute-01, flavor: m1.large}
      - {name: demo-compute-02, flavor: m1.large}
    floating_ips: 1
    networks: 1
    subnets: 1
    routers: 1
    ports: 2
    security_groups: 2
    security_group_rules: 10
  register: demo_quota
"""

RETURN = r"""
needed:
  description:
    - What the event still needs, per resource - C(instances), C(cores), C(ram) (MiB), C(volumes), C(gigabytes),
      C(floating_ips), C(networks), C(subnets), C(routers), C(ports), C(security_groups), C(security_group_rules).
  returned: success and on a shortfall
  type: dict
  sample: {"instances": 4, "cores": 12, "ram": 24576, "floating_ips": 1, "networks": 1}
available:
  description:
    - What the quotas leave free per resource (limit minus usage and reservations); null when unlimited or not
      read (block storage when no volume is needed).
  returned: success and on a shortfall
  type: dict
  sample: {"instances": 3, "cores": 40, "ram": 102400, "floating_ips": 2, "networks": 99}
quota:
  description: The quota limit per resource; null when unlimited or not read.
  returned: success and on a shortfall
  type: dict
  sample: {"instances": 10, "cores": 40}
shortfalls:
  description: One line per resource the event needs more of than is free; empty on success.
  returned: success and on a shortfall
  type: list
  elements: str
  sample: ["instances: need 4, 3 free of quota 10"]
"""

from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    OpenStackModule,
    event_tag,
    listing,
)

NETWORK_KINDS = ("floating_ips", "networks", "subnets", "routers", "ports", "security_groups", "security_group_rules")
RESOURCES = ("instances", "cores", "ram", "volumes", "gigabytes", *NETWORK_KINDS)


def _free(limit, used, reserved=0):
    """Free amount of a quota, ``None`` when unlimited (limit < 0) or unknown."""
    if limit is None or limit < 0:
        return None
    return max(0, limit - (used or 0) - (reserved or 0))


class EventQuota(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str", "required": True},
        "servers": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "name": {"type": "str", "required": True},
                "flavor": {"type": "str", "required": True},
                "boot_volume_size": {"type": "int"},
            },
        },
        "volumes": {"type": "int", "default": 0},
        "volume_gb": {"type": "int", "default": 0},
        **{kind: {"type": "int", "default": 0} for kind in NETWORK_KINDS},
        "image": {"type": "str"},
        "external_network": {"type": "str"},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        negative = [key for key in ("volumes", "volume_gb", *NETWORK_KINDS) if self.params[key] < 0]
        if negative:
            self.fail([f"{key}: must be 0 or more, got {self.params[key]}" for key in negative])

    def needed(self):
        """What the event still needs, per resource."""
        event = self.params["event"]
        tag = event_tag(event)
        project = {"project_id": self.project_id()}
        flavors = list(self.conn.compute.flavors())
        by_key = {}
        for flavor in flavors:
            by_key.setdefault(flavor.id, flavor)
            by_key.setdefault(flavor.name, flavor)
        unknown = sorted({s["flavor"] for s in self.params["servers"] if s["flavor"] not in by_key})
        if unknown:
            names = listing(flavor.name for flavor in flavors)
            self.fail([f"unknown flavor {name!r}: the flavors are {names}" for name in unknown])
        present = {server.name for server in self.event_servers(event)}
        missing = [server for server in self.params["servers"] if server["name"] not in present]
        need = dict.fromkeys(RESOURCES, 0)
        need["instances"] = len(missing)
        need["cores"] = sum(by_key[server["flavor"]].vcpus for server in missing)
        need["ram"] = sum(by_key[server["flavor"]].ram for server in missing)
        boot = [server["boot_volume_size"] for server in missing if server["boot_volume_size"]]
        wants_volumes = self.params["volumes"] or self.params["volume_gb"] or boot
        if wants_volumes:
            if not self.has_volumes():
                self.fail("the event needs volumes, but the cloud has no block storage service")
            volumes = self.event_volumes(event)
            need["volumes"] = max(0, self.params["volumes"] - len(volumes)) + len(boot)
            have_gb = sum(volume.size or 0 for volume in volumes)
            need["gigabytes"] = max(0, self.params["volume_gb"] - have_gb) + sum(boot)
        net = self.conn.network
        groups = list(net.security_groups(tags=tag, **project))
        have = {
            "floating_ips": len(list(net.ips(tags=tag, **project))),
            "networks": len(list(net.networks(tags=tag, **project))),
            "subnets": len(list(net.subnets(tags=tag, **project))),
            "routers": len(list(net.routers(tags=tag, **project))),
            "ports": len(list(net.ports(tags=tag, **project))),
            "security_groups": len(groups),
            "security_group_rules": sum(len(group.security_group_rules or []) for group in groups),
        }
        for kind in NETWORK_KINDS:
            need[kind] = max(0, self.params[kind] - have[kind])
        need["ports"] += len(missing)
        return need

    def limits(self, need):
        """``(quota, available)``: limit and free amount per resource."""
        quota = dict.fromkeys(RESOURCES)
        free = dict.fromkeys(RESOURCES)
        absolute = self.conn.compute.get_limits().absolute
        for kind, limit, used in (
            ("instances", absolute.instances, absolute.instances_used),
            ("cores", absolute.total_cores, absolute.total_cores_used),
            ("ram", absolute.total_ram, absolute.total_ram_used),
        ):
            quota[kind] = limit if limit is not None and limit >= 0 else None
            free[kind] = _free(limit, used)
        details = self.conn.network.get_quota(self.project_id(), details=True)
        for kind in NETWORK_KINDS:
            value = getattr(details, kind, None) or {}
            limit = value.get("limit")
            quota[kind] = limit if limit is not None and limit >= 0 else None
            free[kind] = _free(limit, value.get("used"), value.get("reserved"))
        if need["volumes"] or need["gigabytes"]:
            quota_set = self.conn.block_storage.get_quota_set(self.project_id(), usage=True)
            usage = quota_set.usage or {}
            reservation = quota_set.reservation or {}
            for kind in ("volumes", "gigabytes"):
                limit = getattr(quota_set, kind, None)
                quota[kind] = limit if limit is not None and limit >= 0 else None
                free[kind] = _free(limit, usage.get(kind), reservation.get(kind))
        return quota, free

    def check_cloud(self):
        """One line for each of the image and the external network that the cloud does not have as asked."""
        problems = []
        image = self.params["image"]
        if image and self.conn.image.find_image(image, ignore_missing=True) is None:
            names = listing(found.name for found in self.conn.image.images())
            problems.append(f"unknown image {image!r}: the images are {names}")
        external = self.params["external_network"]
        if external:
            network = self.conn.network.find_network(external, ignore_missing=True)
            if network is None:
                problems.append(f"unknown external network {external!r}")
            elif not network.is_router_external:
                problems.append(f"network {external!r} is not external (router:external is false)")
        if problems:
            self.fail(problems)

    def run(self):
        self.check_cloud()
        need = self.needed()
        quota, free = self.limits(need)
        shortfalls = [
            f"{kind}: need {need[kind]}, {free[kind]} free of quota {quota[kind]}"
            for kind in RESOURCES
            if need[kind] and free[kind] is not None and need[kind] > free[kind]
        ]
        result = {"needed": need, "available": free, "quota": quota, "shortfalls": shortfalls}
        if shortfalls:
            event = self.params["event"]
            lines = [f"the quota of the project is too small for event {event!r}:", *shortfalls]
            self.ansible.fail_json(msg="\n".join(lines), **result)
        self.exit(changed=False, **result)


def main():
    EventQuota()()


if __name__ == "__main__":
    main()
