"""The local OpenStack test cloud serves the collection a non-admin user, and helpers for the tests that use it.

The cloud is the one started by `scripts/openstack-cloud.sh start`. What it makes for a member
of project demo is tested where it is used: servers that boot, floating IPs, routers and
security groups in test_servers.py; the collection's networks, servers and teardown in
test_provider.py and test_site.py (docs/openstack-test-cloud.md says what is real).

Runs only when LEARNHPC_OPENSTACK_CLOUDS names the clouds.yaml written by that script.
"""

import ipaddress
import os
import time

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
