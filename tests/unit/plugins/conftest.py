# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small in-memory OpenStack cloud for the unit tests of the OpenStack modules.

``FakeCloud`` stands in for an openstacksdk ``Connection``: it has the proxies the modules use
(``compute``, ``network``, ``image``, ``block_storage``, ``identity``) with the same method names
and arguments, keeps servers, networks, ports, floating IPs, volumes, ... in memory, and changes
them as the module acts: a server is ``BUILD`` for a few listings and then ``ACTIVE`` (or
``ERROR``); a deleted server stays for a listing or two and takes its port with it; Neutron
refuses (409) to delete a network, subnet, router or security group that is still in use. Networks,
subnets, routers, security groups (with rule objects: a new group gets Neutron's two egress rules) and
floating IPs can be created, with their tags in the create request while ``cloud.extensions`` has
``tag-creation`` (without it such a request is refused with 400, as Neutron does).
Every call is written to ``cloud.log``; the clock is fake (``cloud.now``/``cloud.sleep``).

The errors are openstacksdk's own exception classes, so the modules' error handling is the real one.
"""

from __future__ import annotations

import copy
import importlib
import itertools
import json

import pytest
from ansible.module_utils.testing import patch_module_args
from openstack import exceptions

PROJECT = "project-1"
OTHER_PROJECT = "project-2"
USER = "user-1"


class Obj:
    """A resource: attributes only, like an openstacksdk resource."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)

    def __repr__(self):
        return f"Obj({self.__dict__!r})"


def _matches(item, query):
    for key, value in query.items():
        if value is None:
            continue
        if key == "tags":
            if value not in (getattr(item, "tags", None) or []):
                return False
        elif getattr(item, key, None) != value:
            return False
    return True


def _id(resource):
    return resource if isinstance(resource, str) else resource.id


class FakeCloud:
    """The state of the cloud and the connection to it."""

    def __init__(self):
        self.log = []
        self.time = 0.0
        self.ids = itertools.count(1)
        self.current_project_id = PROJECT
        self.current_user_id = USER
        self.config = Obj(config={"auth": {"username": "demo", "password": "s3cret-pw"}})
        self.token_error = None
        self.services = {"compute", "network", "image", "block-storage", "identity"}
        self.session = Obj(get_token=self._token)
        # Listings a server stays in BUILD, and a deleted server/volume stays listed.
        self.build_listings = 2
        self.delete_listings = 1
        # Listings before Nova shows a floating IP attached through Neutron in the server's addresses.
        self.floating_listings = 2
        # Names of servers that go into ERROR when built.
        self.error_on_build = set()
        # id -> how many times a delete of it answers 409 first.
        self.conflicts = {}
        self.flavors = [
            Obj(id="f-small", name="m1.small", vcpus=1, ram=2048),
            Obj(id="f-medium", name="m1.medium", vcpus=2, ram=4096),
            Obj(id="f-large", name="m1.large", vcpus=4, ram=8192),
        ]
        self.images = [Obj(id="img-1", name="debian-12")]
        self.servers = []
        self.networks = [
            Obj(id="net-public", name="public", tags=[], project_id="admin", is_router_external=True),
            Obj(id="net-shared", name="shared", tags=[], project_id="admin", is_router_external=False),
        ]
        self.subnets = []
        self.routers = []
        self.ports = []
        self.ips = []
        self.security_groups = [Obj(id="sg-default", name="default", tags=[], project_id=PROJECT, rules=2)]
        # Rules as objects, of the groups created through the API (``rules`` counts those of the others).
        self.rules = []
        # Neutron's API extensions (aliases).
        self.extensions = {"tag-creation", "standard-attr-tag"}
        self.keypairs = []
        self.volumes = []
        self.app_creds = []
        self.compute_limits = {"instances": 10, "cores": 20, "ram": 51200}
        self.network_limits = {
            "floating_ips": 5,
            "networks": 10,
            "subnets": 10,
            "routers": 5,
            "ports": 50,
            "security_groups": 10,
            "security_group_rules": 100,
        }
        self.volume_limits = {"volumes": 10, "gigabytes": 1000}
        self.compute = _Compute(self)
        self.network = _Network(self)
        self.image = _Image(self)
        self.block_storage = _BlockStorage(self)
        self.identity = _Identity(self)

    # -- fake clock ------------------------------------------------------------------------

    def now(self):
        return self.time

    def sleep(self, seconds):
        self.log.append(("sleep", seconds))
        self.time += seconds

    def _token(self):
        self.log.append(("token",))
        if self.token_error is not None:
            raise self.token_error
        return "token"

    def has_service(self, service_type):
        return service_type in self.services

    def new_id(self, prefix):
        return f"{prefix}-{next(self.ids)}"

    def calls(self, name):
        return [entry for entry in self.log if entry[0] == name]

    # -- building the state the tests start from --------------------------------------------

    def add_server(self, name, event=None, *, status="ACTIVE", roles="compute", flavor="m1.small", project=PROJECT):
        metadata = {}
        if event is not None:
            metadata = {
                "org.learnhpc.event": event,
                "org.learnhpc.roles": roles,
                "org.learnhpc.end_date": "2030-12-31",
                "org.learnhpc.provider": "openstack",
            }
        flavor_obj = next(f for f in self.flavors if f.name == flavor)
        server = Obj(
            id=self.new_id("srv"),
            name=name,
            status=status,
            metadata=metadata,
            flavor=Obj(name=flavor_obj.name, vcpus=flavor_obj.vcpus, ram=flavor_obj.ram, id=None),
            addresses={},
            created_at="2030-12-01T08:00:00Z",
            fault={"message": "No valid host was found."} if status == "ERROR" else None,
            project_id=project,
            pending=0,
            network_id=None,
            image={"id": "img-1"},
        )
        self.servers.append(server)
        return server

    def add_event_network(self, event, project=PROJECT):
        """A network, subnet, router (interface and gateway), security group, floating IP, port, key pair,
        volume and application credential of ``event``."""
        tag = f"learnhpc-event={event}"
        network = Obj(id=self.new_id("net"), name=f"{event}-net", tags=[tag], project_id=project)
        subnet = Obj(id=self.new_id("subnet"), name=f"{event}-subnet", tags=[tag], project_id=project)
        subnet.network_id = network.id
        router = Obj(
            id=self.new_id("router"),
            name=f"{event}-router",
            tags=[tag],
            project_id=project,
            external_gateway_info={"network_id": "net-public"},
        )
        self.networks.append(network)
        self.subnets.append(subnet)
        self.routers.append(router)
        self.add_port(network.id, device_id=router.id, device_owner="network:router_interface", project=project)
        self.add_port(network.id, device_id="dhcp", device_owner="network:dhcp", project=project)
        self.add_port(network.id, device_id="", device_owner="", project=project, tags=[tag], name=f"{event}-vip")
        group = Obj(id=self.new_id("sg"), name=f"{event}-internal", tags=[tag], project_id=project, rules=4)
        self.security_groups.append(group)
        self.ips.append(
            Obj(
                id=self.new_id("fip"),
                floating_ip_address=f"192.0.2.{len(self.ips) + 10}",
                floating_network_id="net-public",
                port_id=None,
                tags=[tag],
                project_id=project,
            )
        )
        if project == PROJECT:
            # What the collection writes into them: the key's comment, the credential's description.
            self.keypairs.append(
                Obj(id=f"{event}-key", name=f"{event}-key", public_key=f"ssh-ed25519 AAAA {event}-key")
            )
            self.app_creds.append(
                Obj(
                    id=self.new_id("cred"),
                    name=f"{event}-autoscale",
                    description=f"Slurm autoscaling of event {event} (learnhpc.cluster.slurm_autoscale)",
                )
            )
        self.volumes.append(
            Obj(
                id=self.new_id("vol"),
                name=f"{event}-scratch",
                size=10,
                status="available",
                metadata={"org.learnhpc.event": event},
                project_id=project,
                pending=0,
            )
        )
        return network

    def add_port(
        self, network_id, device_id, device_owner, *, project=PROJECT, tags=None, name="", fixed_ip=None, subnet_id=None
    ):
        count = sum(1 for port in self.ports if port.network_id == network_id)
        port = Obj(
            id=self.new_id("port"),
            name=name,
            network_id=network_id,
            device_id=device_id,
            device_owner=device_owner,
            tags=tags or [],
            project_id=project,
            security_group_ids=[],
            fixed_ip=fixed_ip or f"10.0.0.{count + 10}",
        )
        port.fixed_ips = [{"subnet_id": subnet_id, "ip_address": port.fixed_ip}] if subnet_id else []
        self.ports.append(port)
        return port

    def add_untagged(self, kind, name, description=None, project=PROJECT, tags=None):
        """A network, subnet, router or security group as a run interrupted before tagging it leaves it."""
        resource = Obj(
            id=self.new_id(kind), name=name, tags=list(tags or []), project_id=project, description=description
        )
        if kind == "networks":
            resource.is_router_external = False
        if kind == "routers":
            resource.external_gateway_info = None
        if kind == "security_groups":
            resource.rules = 0
        getattr(self, kind).append(resource)
        return resource

    # -- views the tests use ---------------------------------------------------------------

    def server_names(self, event=None):
        return sorted(
            s.name for s in self.servers if event is None or (s.metadata or {}).get("org.learnhpc.event") == event
        )

    def event_counts(self, event):
        tag = f"learnhpc-event={event}"
        return {
            "servers": len(self.server_names(event)),
            "networks": sum(tag in n.tags for n in self.networks),
            "subnets": sum(tag in s.tags for s in self.subnets),
            "routers": sum(tag in r.tags for r in self.routers),
            "ports": sum(tag in p.tags for p in self.ports),
            "floating_ips": sum(tag in i.tags for i in self.ips),
            "security_groups": sum(tag in g.tags for g in self.security_groups),
            "keypairs": sum(k.name.startswith(event + "-") for k in self.keypairs),
            "volumes": sum((v.metadata or {}).get("org.learnhpc.event") == event for v in self.volumes),
            "application_credentials": sum(c.name.startswith(event + "-") for c in self.app_creds),
        }

    def ingress(self, group_name):
        """The ingress rules of a security group, as (ethertype, protocol, min, max, prefix or group name)."""
        group = next(g for g in self.security_groups if g.name == group_name)
        names = {g.id: g.name for g in self.security_groups}
        return sorted(
            (
                r.ether_type,
                r.protocol,
                r.port_range_min,
                r.port_range_max,
                names.get(r.remote_group_id) if r.remote_group_id else r.remote_ip_prefix,
            )
            for r in self.rules
            if r.security_group_id == group.id and r.direction == "ingress"
        )

    def conflict(self, resource_id):
        """Answer 409 to a delete of ``resource_id`` as long as ``conflicts`` says so."""
        if self.conflicts.get(resource_id, 0) > 0:
            self.conflicts[resource_id] -= 1
            raise exceptions.ConflictException(message=f"409: {resource_id} is in use")


class _Compute:
    def __init__(self, cloud):
        self.cloud = cloud

    def _advance(self):
        cloud = self.cloud
        for server in list(cloud.servers):
            if server.status == "BUILD":
                server.pending -= 1
                if server.pending <= 0:
                    if server.name in cloud.error_on_build:
                        server.status = "ERROR"
                        server.fault = {"message": "No valid host was found."}
                    else:
                        server.status = "ACTIVE"
            if server.status == "STOPPING":
                server.pending -= 1
                if server.pending <= 0:
                    server.status = "SHUTOFF"
            if server.status == "ACTIVE":
                self._show_floating_ips(server)
            if server.status == "DELETING":
                server.pending -= 1
                if server.pending <= 0:
                    cloud.servers.remove(server)
                    cloud.ports = [p for p in cloud.ports if p.device_id != server.id]
                    for ip in cloud.ips:
                        if ip.port_id and not any(p.id == ip.port_id for p in cloud.ports):
                            ip.port_id = None

    def _show_floating_ips(self, server):
        ports = {p.id for p in self.cloud.ports if p.device_id == server.id}
        for ip in self.cloud.ips:
            if ip.port_id not in ports:
                continue
            ip.nova_pending = getattr(ip, "nova_pending", self.cloud.floating_listings) - 1
            listed = [a["addr"] for entries in server.addresses.values() for a in entries]
            if ip.nova_pending <= 0 and ip.floating_ip_address not in listed:
                server.addresses.setdefault("net", []).append(
                    {"addr": ip.floating_ip_address, "OS-EXT-IPS:type": "floating"}
                )

    def servers(self, details=True, **query):
        self.cloud.log.append(("servers",))
        self._advance()
        return [copy.deepcopy(s) for s in self.cloud.servers if s.project_id == self.cloud.current_project_id]

    def create_server(self, **attrs):
        cloud = self.cloud
        cloud.log.append(("create_server", attrs["name"]))
        flavor = next(f for f in cloud.flavors if f.id == attrs["flavor_id"])
        network_id = attrs["networks"][0]["uuid"]
        assert any(n.id == network_id for n in cloud.networks)
        image = attrs.get("image_id") or attrs["block_device_mapping"][0]["uuid"]
        assert any(i.id == image for i in cloud.images)
        server = Obj(
            id=cloud.new_id("srv"),
            name=attrs["name"],
            status="BUILD",
            metadata=dict(attrs.get("metadata") or {}),
            flavor=Obj(name=flavor.name, vcpus=flavor.vcpus, ram=flavor.ram, id=None),
            addresses={},
            created_at="2030-12-02T08:00:00Z",
            fault=None,
            project_id=cloud.current_project_id,
            pending=cloud.build_listings,
            network_id=network_id,
            attrs=attrs,
        )
        port = cloud.add_port(network_id, server.id, "compute:nova", fixed_ip=attrs["networks"][0].get("fixed_ip"))
        server.addresses = {"net": [{"addr": port.fixed_ip, "OS-EXT-IPS:type": "fixed"}]}
        cloud.servers.append(server)
        return copy.deepcopy(server)

    def find_server(self, name_or_id, ignore_missing=True):
        return next(
            (copy.deepcopy(s) for s in self.cloud.servers if name_or_id in (s.id, s.name) and s.status != "DELETING"),
            None,
        )

    def get_server(self, server):
        self.cloud.log.append(("get_server", _id(server)))
        self._advance()
        return copy.deepcopy(next(s for s in self.cloud.servers if s.id == _id(server)))

    def stop_server(self, server):
        """Shut off after ``cloud.build_listings`` looks (Nova's power-off takes a while)."""
        self.cloud.log.append(("stop_server", server.name))
        current = next(s for s in self.cloud.servers if s.id == _id(server))
        current.status, current.pending = "STOPPING", self.cloud.build_listings

    def create_server_image(self, server, name, metadata=None):
        """A snapshot: an image ``saving`` for ``cloud.build_listings`` looks, then ``active``."""
        cloud = self.cloud
        cloud.log.append(("create_server_image", _id(server), name))
        current = next(s for s in cloud.servers if s.id == _id(server))
        if current.status not in ("ACTIVE", "SHUTOFF"):
            # Nova: "Cannot 'createImage' instance ... while it is in vm_state/task_state ..."
            raise exceptions.ConflictException(f"Cannot 'createImage' while it is {current.status}")
        image = Obj(
            id=cloud.new_id("img"),
            name=name,
            status="saving",
            properties=dict(metadata or {}),
            pending=cloud.build_listings,
            fail=name in cloud.error_on_build,
        )
        cloud.images.append(image)
        return copy.deepcopy(image)

    def delete_server(self, server, ignore_missing=True):
        self.cloud.log.append(("delete_server", server.name))
        for current in self.cloud.servers:
            if current.id == _id(server) and current.status != "DELETING":
                current.status = "DELETING"
                current.pending = self.cloud.delete_listings

    def set_server_metadata(self, server, **metadata):
        self.cloud.log.append(("set_server_metadata", server.name))
        for current in self.cloud.servers:
            if current.id == server.id:
                current.metadata.update(metadata)

    def flavors(self):
        return list(self.cloud.flavors)

    def keypairs(self):
        return list(self.cloud.keypairs)

    def delete_keypair(self, keypair, ignore_missing=True):
        self.cloud.log.append(("delete_keypair", keypair.name))
        self.cloud.keypairs = [k for k in self.cloud.keypairs if k.name != keypair.name]

    def get_limits(self):
        cloud = self.cloud
        mine = [s for s in cloud.servers if s.project_id == cloud.current_project_id]
        limits = cloud.compute_limits
        return Obj(
            absolute=Obj(
                instances=limits["instances"],
                instances_used=len(mine),
                total_cores=limits["cores"],
                total_cores_used=sum(s.flavor.vcpus for s in mine),
                total_ram=limits["ram"],
                total_ram_used=sum(s.flavor.ram for s in mine),
            )
        )


class _Image:
    def __init__(self, cloud):
        self.cloud = cloud

    def get_image(self, image):
        self.cloud.log.append(("get_image", _id(image)))
        current = next(i for i in self.cloud.images if i.id == _id(image))
        if getattr(current, "status", "active") == "saving":
            current.pending -= 1
            if current.pending <= 0:
                current.status = "killed" if current.fail else "active"
        return copy.deepcopy(current)

    def delete_image(self, image, ignore_missing=True):
        self.cloud.log.append(("delete_image", _id(image)))
        self.cloud.images = [i for i in self.cloud.images if i.id != _id(image)]

    def find_image(self, name_or_id, ignore_missing=True):
        return next((i for i in self.cloud.images if name_or_id in (i.id, i.name)), None)

    def images(self):
        return list(self.cloud.images)


class _Network:
    def __init__(self, cloud):
        self.cloud = cloud

    def _list(self, items, query):
        return [copy.deepcopy(item) for item in items if _matches(item, query)]

    def networks(self, **query):
        return self._list(self.cloud.networks, query)

    def subnets(self, **query):
        return self._list(self.cloud.subnets, query)

    def routers(self, **query):
        return self._list(self.cloud.routers, query)

    def ports(self, **query):
        return self._list(self.cloud.ports, query)

    def ips(self, **query):
        return self._list(self.cloud.ips, query)

    def security_groups(self, **query):
        groups = self._list(self.cloud.security_groups, query)
        for group in groups:
            group.security_group_rules = [{"id": f"{group.id}-rule-{n}"} for n in range(group.rules)]
        return groups

    def find_extension(self, name_or_id, ignore_missing=True):
        self.cloud.log.append(("find_extension", name_or_id))
        return Obj(id=name_or_id, alias=name_or_id) if name_or_id in self.cloud.extensions else None

    def _create(self, kind, items, attrs, **more):
        cloud = self.cloud
        cloud.log.append((f"create_{kind}", attrs.get("name"), tuple(attrs.get("tags") or ())))
        if "tags" in attrs and "tag-creation" not in cloud.extensions:
            raise exceptions.BadRequestException(message="400: Unrecognized attribute(s) 'tags'")
        resource = Obj(id=cloud.new_id(kind), project_id=cloud.current_project_id, tags=[], description=None)
        resource.__dict__.update(more)
        resource.__dict__.update(attrs)
        resource.tags = list(attrs.get("tags") or [])
        items.append(resource)
        return copy.deepcopy(resource)

    def create_network(self, **attrs):
        return self._create("network", self.cloud.networks, attrs, is_router_external=False)

    def create_subnet(self, **attrs):
        assert any(n.id == attrs["network_id"] for n in self.cloud.networks)
        return self._create("subnet", self.cloud.subnets, attrs)

    def create_router(self, **attrs):
        return self._create("router", self.cloud.routers, attrs, external_gateway_info=None)

    def create_security_group(self, **attrs):
        group = self._create("security_group", self.cloud.security_groups, attrs, rules=0)
        for ethertype in ("IPv4", "IPv6"):
            self._rule(security_group_id=group.id, direction="egress", ether_type=ethertype)
        return group

    def add_interface_to_router(self, router, subnet=None, port=None):
        self.cloud.log.append(("add_interface", router.id, subnet))
        network_id = next(s.network_id for s in self.cloud.subnets if s.id == subnet)
        self.cloud.add_port(network_id, router.id, "network:router_interface_distributed", subnet_id=subnet)

    def _rule(self, **attrs):
        rule = Obj(
            id=self.cloud.new_id("rule"),
            protocol=None,
            port_range_min=None,
            port_range_max=None,
            remote_ip_prefix=None,
            remote_group_id=None,
            project_id=self.cloud.current_project_id,
        )
        rule.__dict__.update(attrs)
        self.cloud.rules.append(rule)
        return rule

    def security_group_rules(self, **query):
        return self._list(self.cloud.rules, query)

    def create_security_group_rule(self, **attrs):
        rule = (attrs.get("port_range_min"), attrs.get("remote_ip_prefix"))
        self.cloud.log.append(("create_security_group_rule", *rule))
        assert any(g.id == attrs["security_group_id"] for g in self.cloud.security_groups)
        keys = ("security_group_id", "direction", "ether_type", "protocol", "port_range_min", "port_range_max")
        keys += ("remote_ip_prefix", "remote_group_id")
        for rule in self.cloud.rules:
            if all(getattr(rule, key) == attrs.get(key) for key in keys):
                raise exceptions.ConflictException(message="409: Security group rule already exists.")
        return copy.deepcopy(self._rule(**attrs))

    def delete_security_group_rule(self, rule, ignore_missing=True):
        self.cloud.log.append(("delete_security_group_rule", rule.id))
        self.cloud.rules = [r for r in self.cloud.rules if r.id != rule.id]

    def add_tag(self, resource, tag):
        self.cloud.log.append(("add_tag", resource.name, tag))
        for items in (self.cloud.networks, self.cloud.subnets, self.cloud.routers, self.cloud.security_groups):
            for item in items:
                if item.id == resource.id:
                    item.tags = [*(item.tags or []), tag]

    def find_network(self, name_or_id, ignore_missing=True):
        return next((n for n in self.cloud.networks if name_or_id in (n.id, n.name)), None)

    def find_security_group(self, name_or_id, ignore_missing=True):
        return next((g for g in self.cloud.security_groups if name_or_id in (g.id, g.name)), None)

    def create_ip(self, floating_network_id, port_id, tags=None, description=None):
        self.cloud.log.append(("create_ip", port_id))
        if tags is not None and "tag-creation" not in self.cloud.extensions:
            raise exceptions.BadRequestException(message="400: Unrecognized attribute(s) 'tags'")
        ip = Obj(
            id=self.cloud.new_id("fip"),
            floating_ip_address=f"192.0.2.{len(self.cloud.ips) + 100}",
            floating_network_id=floating_network_id,
            port_id=port_id,
            tags=list(tags or []),
            description=description,
            project_id=self.cloud.current_project_id,
            nova_pending=self.cloud.floating_listings,
        )
        self.cloud.ips.append(ip)
        return copy.deepcopy(ip)

    def update_ip(self, ip, port_id):
        self.cloud.log.append(("update_ip", ip.id, port_id))
        for current in self.cloud.ips:
            if current.id == ip.id:
                current.port_id = port_id
                current.nova_pending = self.cloud.floating_listings
                return copy.deepcopy(current)
        raise exceptions.NotFoundException(message="no such floating IP")

    def set_tags(self, resource, tags):
        cloud = self.cloud
        cloud.log.append(("set_tags", getattr(resource, "name", None) or resource.id, tuple(tags)))
        for current in cloud.ips + cloud.networks + cloud.ports + cloud.subnets + cloud.routers + cloud.security_groups:
            if current.id == resource.id:
                current.tags = list(tags)

    def delete_ip(self, ip, ignore_missing=True):
        self.cloud.log.append(("delete_ip", ip.id))
        self.cloud.conflict(ip.id)
        self.cloud.ips = [i for i in self.cloud.ips if i.id != ip.id]

    def remove_interface_from_router(self, router, port=None, subnet=None):
        self.cloud.log.append(("remove_interface", router.id, port.id))
        self.cloud.ports = [p for p in self.cloud.ports if p.id != port.id]

    def update_router(self, router, **attrs):
        self.cloud.log.append(("update_router", router.id))
        for current in self.cloud.routers:
            if current.id == router.id:
                current.__dict__.update(attrs)

    def delete_port(self, port, ignore_missing=True):
        self.cloud.log.append(("delete_port", port.id))
        self.cloud.conflict(port.id)
        self.cloud.ports = [p for p in self.cloud.ports if p.id != port.id]

    def delete_router(self, router, ignore_missing=True):
        self.cloud.log.append(("delete_router", router.id))
        self.cloud.conflict(router.id)
        if any(p.device_id == router.id for p in self.cloud.ports):
            raise exceptions.ConflictException(message=f"409: router {router.id} still has ports")
        self.cloud.routers = [r for r in self.cloud.routers if r.id != router.id]

    def delete_subnet(self, subnet, ignore_missing=True):
        self.cloud.log.append(("delete_subnet", subnet.id))
        self.cloud.conflict(subnet.id)
        self.cloud.subnets = [s for s in self.cloud.subnets if s.id != subnet.id]

    def delete_network(self, network, ignore_missing=True):
        self.cloud.log.append(("delete_network", network.id))
        self.cloud.conflict(network.id)
        in_use = [p for p in self.cloud.ports if p.network_id == network.id and p.device_owner != "network:dhcp"]
        if in_use:
            raise exceptions.ConflictException(message=f"409: network {network.id} has ports in use")
        self.cloud.ports = [p for p in self.cloud.ports if p.network_id != network.id]
        self.cloud.subnets = [s for s in self.cloud.subnets if s.network_id != network.id]
        self.cloud.networks = [n for n in self.cloud.networks if n.id != network.id]

    def delete_security_group(self, group, ignore_missing=True):
        self.cloud.log.append(("delete_security_group", group.id))
        self.cloud.conflict(group.id)
        self.cloud.security_groups = [g for g in self.cloud.security_groups if g.id != group.id]
        self.cloud.rules = [r for r in self.cloud.rules if r.security_group_id != group.id]

    def get_quota(self, project, details=False):
        assert details
        cloud = self.cloud
        used = {
            "floating_ips": len(self.ips(project_id=project)),
            "networks": len(self.networks(project_id=project)),
            "subnets": len(self.subnets(project_id=project)),
            "routers": len(self.routers(project_id=project)),
            "ports": len(self.ports(project_id=project)),
            "security_groups": len(self.security_groups(project_id=project)),
            "security_group_rules": sum(g.rules for g in cloud.security_groups if g.project_id == project)
            + sum(r.project_id == project for r in cloud.rules),
        }
        return Obj(**{kind: {"limit": cloud.network_limits[kind], "used": used[kind], "reserved": 0} for kind in used})


class _BlockStorage:
    def __init__(self, cloud):
        self.cloud = cloud

    def volumes(self, details=True):
        cloud = self.cloud
        for volume in list(cloud.volumes):
            if volume.status == "deleting":
                volume.pending -= 1
                if volume.pending <= 0:
                    cloud.volumes.remove(volume)
        return [copy.deepcopy(v) for v in cloud.volumes if v.project_id == cloud.current_project_id]

    def delete_volume(self, volume, ignore_missing=True):
        self.cloud.log.append(("delete_volume", volume.id))
        self.cloud.conflict(volume.id)
        for current in self.cloud.volumes:
            if current.id == volume.id:
                current.status = "deleting"
                current.pending = self.cloud.delete_listings

    def get_quota_set(self, project, usage=False):
        assert usage
        mine = [v for v in self.cloud.volumes if v.project_id == project]
        limits = self.cloud.volume_limits
        return Obj(
            volumes=limits["volumes"],
            gigabytes=limits["gigabytes"],
            usage={"volumes": len(mine), "gigabytes": sum(v.size for v in mine)},
            reservation={"volumes": 0, "gigabytes": 0},
        )


class _Identity:
    def __init__(self, cloud):
        self.cloud = cloud

    def application_credentials(self, user):
        assert user == USER
        return list(self.cloud.app_creds)

    def delete_application_credential(self, user, credential, ignore_missing=True):
        self.cloud.log.append(("delete_application_credential", credential.name))
        self.cloud.app_creds = [c for c in self.cloud.app_creds if c.id != credential.id]


@pytest.fixture
def cloud():
    return FakeCloud()


@pytest.fixture
def run(cloud, monkeypatch, capsys):
    """``run(module, **args)``: run a module's main() against ``cloud``; returns (failed, result)."""
    # Imported here, not at the top: the inventory tests' conftest may import ansible_collections again.
    openstack_utils = importlib.import_module("ansible_collections.learnhpc.cluster.plugins.module_utils.openstack")

    monkeypatch.setattr(openstack_utils, "_connect", lambda params: cloud)
    monkeypatch.setattr(
        openstack_utils, "_known_clouds", lambda: (["learnhpc-test", "learnhpc-test-admin"], "/etc/clouds.yaml")
    )
    monkeypatch.setattr(openstack_utils.OpenStackModule, "now", staticmethod(cloud.now))
    monkeypatch.setattr(openstack_utils.OpenStackModule, "sleep", staticmethod(cloud.sleep))

    def runner(module, **args):
        args.setdefault("cloud", "learnhpc-test")
        with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
            module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        result["_raw"] = out
        return exit_info.value.code != 0 or bool(result.get("failed")), result

    return runner


def have_libvirt():
    """Whether libvirt-python imports: it needs libvirt's library too, which a machine may lack."""
    try:
        importlib.import_module("libvirt")
    except ImportError:
        return False
    return True
