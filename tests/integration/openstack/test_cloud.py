"""The local OpenStack test cloud serves what the collection needs, to a non-admin user.

As the demo user (project demo, role member) of the cloud started by
`scripts/openstack-cloud.sh start`: a network with a subnet, a router with an external
gateway, a security group, a keypair, two servers that go ACTIVE, a floating IP that shows
up in a server's addresses and a 1 GB volume; then everything is deleted and nothing of it
may be left. Servers are containers of the test cloud's compute driver (test_servers.py logs in
to them), volumes come from cinder's fake driver (no disk); networks, routers and floating IPs
are real Neutron objects (docs/openstack-test-cloud.md).

Runs only when LEARNHPC_OPENSTACK_CLOUDS names the clouds.yaml written by that script.
"""

import ipaddress
import os
import time
import uuid

import pytest

CLOUDS = os.environ.get("LEARNHPC_OPENSTACK_CLOUDS", "")
pytestmark = pytest.mark.skipif(
    not os.path.isfile(CLOUDS),
    reason="no test cloud: run scripts/openstack-cloud.sh start and set "
    "LEARNHPC_OPENSTACK_CLOUDS=.cache/openstack/clouds.yaml",
)
openstack = pytest.importorskip("openstack")

SUBNET = ipaddress.ip_network("192.168.77.0/24")
PUBLIC = ipaddress.ip_network("172.24.4.0/24")
TIMEOUT = 180


def connect(cloud):
    config = openstack.config.loader.OpenStackConfig(config_files=[CLOUDS])
    return openstack.connection.Connection(config=config.get_one(cloud))


def wait_until(what, probe, timeout=TIMEOUT):
    """Poll probe() until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not seen within {timeout} s"
        time.sleep(1)


def addresses_of(conn, server_id):
    """{(address, type)} of a server, as nova reports it."""
    server = conn.compute.get_server(server_id)
    return {(a["addr"], a.get("OS-EXT-IPS:type")) for net in server.addresses.values() for a in net}


def create_servers(conn, made, name, **extra):
    """Two servers ``<name>-1`` and ``-2`` of debian-12 (m1.tiny) on made.network, in the group and key pair ``name``.

    ``extra``: more create_server arguments; a callable value is called with the server's index.
    """
    flavor, image = conn.compute.find_flavor("m1.tiny"), conn.image.find_image("debian-12")
    for index in (1, 2):
        more = {key: value(index) if callable(value) else value for key, value in extra.items()}
        made.servers.append(
            conn.compute.create_server(
                name=f"{name}-{index}",
                flavor_id=flavor.id,
                image_id=image.id,
                key_name=name,
                networks=[{"uuid": made.network.id}],
                security_groups=[{"name": name}],
                **more,
            )
        )


class Made:
    """What the test created, deleted in dependency order; safe to call delete() twice."""

    def __init__(self, conn):
        self.conn = conn
        self.servers, self.fips = [], []
        self.volume = self.router = self.subnet = self.network = self.group = self.keypair = None

    def delete(self):
        net, compute = self.conn.network, self.conn.compute
        for fip in self.fips:
            net.delete_ip(fip, ignore_missing=True)
        for server in self.servers:
            compute.delete_server(server, ignore_missing=True)
        for server in self.servers:
            compute.wait_for_delete(server, wait=TIMEOUT)
        if self.volume:
            self.conn.block_storage.delete_volume(self.volume, ignore_missing=True)
            self.conn.block_storage.wait_for_delete(self.volume, wait=TIMEOUT)
        if self.router:
            if net.find_router(self.router.id) and self.subnet:
                for port in net.ports(device_id=self.router.id, network_id=self.network.id):
                    net.remove_interface_from_router(self.router, port=port.id)
            net.delete_router(self.router, ignore_missing=True)
        if self.subnet:
            net.delete_subnet(self.subnet, ignore_missing=True)
        if self.network:
            net.delete_network(self.network, ignore_missing=True)
        if self.group:
            net.delete_security_group(self.group, ignore_missing=True)
        if self.keypair:
            compute.delete_keypair(self.keypair, ignore_missing=True)


def test_demo_user_is_not_admin(demo):
    """The tests below run with a member's rights, like the collection on a real cloud."""
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(demo.compute.services())
    assert demo.current_project.name == "demo"


def test_network_servers_floating_ip_volume_and_teardown(demo, made):
    name = f"learnhpc-it-{uuid.uuid4().hex[:8]}"
    net, compute = demo.network, demo.compute
    public = net.find_network("public")
    assert public is not None and public.is_router_external

    made.keypair = compute.create_keypair(name=name)
    assert made.keypair.private_key.startswith("-----BEGIN")
    made.network = net.create_network(name=name)
    made.subnet = net.create_subnet(name=name, network_id=made.network.id, ip_version=4, cidr=str(SUBNET))
    made.router = net.create_router(name=name, external_gateway_info={"network_id": public.id})
    net.add_interface_to_router(made.router, subnet=made.subnet.id)
    gateway = net.get_router(made.router.id).external_gateway_info
    assert gateway["network_id"] == public.id
    assert ipaddress.ip_address(gateway["external_fixed_ips"][0]["ip_address"]) in PUBLIC

    made.group = net.create_security_group(name=name, description="learnhpc integration test")
    net.create_security_group_rule(
        security_group_id=made.group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
    )
    rules = list(net.security_group_rules(security_group_id=made.group.id, direction="ingress"))
    assert [(r.protocol, r.port_range_min) for r in rules] == [("tcp", 22)]

    started = time.monotonic()
    create_servers(demo, made, name)
    for server in made.servers:
        active = compute.wait_for_server(server, status="ACTIVE", wait=TIMEOUT)
        assert active.key_name == name
        fixed = {ipaddress.ip_address(a) for a, kind in addresses_of(demo, server.id) if kind == "fixed"}
        assert len(fixed) == 1 and fixed <= set(SUBNET)
    print(f"two servers ACTIVE after {time.monotonic() - started:.1f} s")

    port = next(iter(net.ports(device_id=made.servers[0].id)))
    assert set(port.security_group_ids) == {made.group.id}
    fip = net.create_ip(floating_network_id=public.id)
    made.fips.append(fip)
    net.update_ip(fip, port_id=port.id)
    assert ipaddress.ip_address(fip.floating_ip_address) in PUBLIC
    started = time.monotonic()
    wait_until(
        "the floating IP in the server's addresses",
        lambda: (fip.floating_ip_address, "floating") in addresses_of(demo, made.servers[0].id),
    )
    print(f"floating IP in the server's addresses after {time.monotonic() - started:.1f} s")
    assert "floating" not in {pair[1] for pair in addresses_of(demo, made.servers[1].id)}

    made.volume = demo.block_storage.create_volume(name=name, size=1)
    volume = demo.block_storage.wait_for_status(made.volume, status="available", wait=TIMEOUT)
    assert volume.size == 1

    made.delete()

    assert not [s for s in compute.servers() if s.name.startswith(name)]
    assert demo.block_storage.find_volume(made.volume.id) is None
    assert net.find_ip(fip.id) is None
    assert net.find_router(made.router.id) is None
    assert net.find_subnet(made.subnet.id) is None
    assert net.find_network(made.network.id) is None
    assert not list(net.ports(network_id=made.network.id))
    assert net.find_security_group(made.group.id) is None
    assert compute.find_keypair(name) is None
