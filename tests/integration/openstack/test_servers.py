"""The test cloud's servers boot an operating system and sit on Neutron's real network.

Each server is a systemd container run by the test cloud's compute driver
(scripts/images/openstack-zed/learnhpc_nova), plugged into the Linux bridge of its
Neutron network. As the demo user: two servers with user data and a key pair; one gets a
floating IP. The tests log in over SSH as Debian's cloud user through the floating IP and
to the other server through the first, and check what cloud-init did, the addresses,
the shared directories of an event, that security groups are enforced as their rules
change, that a server without a floating IP reaches the APIs through the router, and that
a hard reboot keeps the server's identity. An image that names no container image gives a
server in ERROR that says why.

Runs only when LEARNHPC_OPENSTACK_CLOUDS names the clouds.yaml written by
`scripts/openstack-cloud.sh start`, on the machine whose Docker engine runs the servers.
"""

import base64
import ipaddress
import json
import os
import socket
import subprocess
import time
import uuid

import pytest

from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_cloud import (
    CLOUDS,
    TIMEOUT,
    Made,
    addresses_of,
    connect,
    create_servers,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    not os.path.isfile(CLOUDS),
    reason="no test cloud: run scripts/openstack-cloud.sh start and set "
    "LEARNHPC_OPENSTACK_CLOUDS=.cache/openstack/clouds.yaml",
)
openstack = pytest.importorskip("openstack")

SUBNET = ipaddress.ip_network("192.168.78.0/24")
API = ("172.24.4.1", 5000)
# SSH to servers made for one test: their host keys are new every time and kept nowhere.
SSH_THROWAWAY = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
DRIVER_LABEL = "org.learnhpc.test-cloud.instance"
USER_DATA = """#cloud-config
write_files:
  - path: /etc/learnhpc-it
    content: "{marker}\\n"
runcmd:
  - [touch, /var/tmp/runcmd-ran]
"""


class Shell:
    """SSH as Debian's cloud user `debian`, with the key pair's private key."""

    def __init__(self, key_file, fip):
        self.key_file, self.fip = key_file, fip
        self.base = ["ssh", "-i", str(key_file), *SSH_THROWAWAY, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]

    def run(self, command, via=None, check=True):
        jump = []
        target = self.fip
        if via:
            # The second server has no floating IP: through the first, as the collection does.
            jump = ["-o", "ProxyCommand=" + " ".join(self.base) + f" -W %h:%p debian@{self.fip}"]
            target = via
        proc = subprocess.run(
            [*self.base, *jump, f"debian@{target}", command], capture_output=True, text=True, timeout=120, check=False
        )
        if check:
            assert proc.returncode == 0, f"ssh {target} {command!r}: {proc.returncode} {proc.stderr.strip()}"
        return proc


def can_connect(address, port, timeout=3):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def host_key(address):
    proc = subprocess.run(
        ["ssh-keyscan", "-T", "5", "-t", "ed25519", address], capture_output=True, text=True, timeout=30, check=False
    )
    return proc.stdout.split()[-1] if proc.stdout.strip() else ""


def logins_in_a_row(shell, count):
    """True when `count` logins one second apart all succeed."""
    for _attempt in range(count):
        if shell.run("true", check=False).returncode != 0:
            return False
        time.sleep(1)
    return True


def containers_of(server_id):
    proc = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={DRIVER_LABEL}={server_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.split()


class Pair:
    """Two servers of one event on one network; the first has a floating IP."""

    name = address = shell = None
    ports = fixed = ()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    conn = connect("learnhpc-test")
    made = Made(conn)
    pair = Pair()
    pair.made = made
    try:
        _boot_pair(conn, made, pair, tmp_path_factory.mktemp("servers") / "key")
        yield pair
    finally:
        made.delete()
        conn.close()


def _boot_pair(conn, made, pair, key_file):
    name = pair.name = f"learnhpc-it-{uuid.uuid4().hex[:8]}"
    net, compute = conn.network, conn.compute
    public = net.find_network("public")
    made.keypair = compute.create_keypair(name=name)
    key_file.write_text(made.keypair.private_key)
    key_file.chmod(0o600)
    made.network = net.create_network(name=name)
    made.subnet = net.create_subnet(name=name, network_id=made.network.id, ip_version=4, cidr=str(SUBNET))
    made.router = net.create_router(name=name, external_gateway_info={"network_id": public.id})
    net.add_interface_to_router(made.router, subnet=made.subnet.id)
    made.group = net.create_security_group(name=name, description="learnhpc integration test")
    # SSH from anywhere, everything between the servers of the group (as the collection's rules).
    for rule in ({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}, {"remote_group_id": made.group.id}):
        net.create_security_group_rule(security_group_id=made.group.id, direction="ingress", ethertype="IPv4", **rule)

    started = time.monotonic()
    create_servers(
        conn,
        made,
        name,
        user_data=lambda index: base64.b64encode(USER_DATA.format(marker=f"{name}-{index}").encode()).decode(),
        metadata={"org.learnhpc.event": name},
    )
    for server in made.servers:
        compute.wait_for_server(server, status="ACTIVE", wait=TIMEOUT)
    print(f"two servers ACTIVE after {time.monotonic() - started:.1f} s")
    pair.ports = [next(iter(net.ports(device_id=server.id))) for server in made.servers]
    pair.fixed = [p.fixed_ips[0]["ip_address"] for p in pair.ports]
    fip = net.create_ip(floating_network_id=public.id)
    made.fips.append(fip)
    net.update_ip(fip, port_id=pair.ports[0].id)
    pair.address = fip.floating_ip_address
    pair.shell = Shell(key_file, pair.address)
    wait_until("SSH at the floating IP", lambda: pair.shell.run("true", check=False).returncode == 0, TIMEOUT)
    print(f"logged in at the floating IP {time.monotonic() - started:.1f} s after the create calls")
    for via in (None, pair.fixed[1]):
        pair.shell.run("cloud-init status --wait >/dev/null; systemctl is-system-running --wait", via=via, check=False)


def test_ports_go_active(demo, pair):
    """The linuxbridge agent found each server's tap device in its network's bridge."""
    wait_until("both ports ACTIVE", lambda: all(demo.network.get_port(p.id).status == "ACTIVE" for p in pair.ports), 60)
    wait_until(
        "the floating IP in the server's addresses",
        lambda: (pair.address, "floating") in addresses_of(demo, pair.made.servers[0].id),
        60,
    )


def test_cloud_init_ran_from_the_seed(pair):
    shell = pair.shell
    status = shell.run("cloud-init status --format json", check=False)
    assert json.loads(status.stdout)["status"] == "done", status.stdout
    assert shell.run("hostname").stdout.strip() == f"{pair.name}-1"
    assert shell.run("cat /etc/learnhpc-it").stdout.strip() == f"{pair.name}-1"
    assert shell.run("test -e /var/tmp/runcmd-ran && sudo -n id -u").stdout.strip() == "0"
    link = json.loads(shell.run("ip -j addr show dev eth0").stdout)[0]
    assert link["address"] == pair.ports[0].mac_address
    assert [a["local"] for a in link["addr_info"] if a["family"] == "inet"] == [pair.fixed[0]]


def test_the_second_server_through_the_first_and_out_through_the_router(pair):
    shell, second = pair.shell, pair.fixed[1]
    assert shell.run("hostname", via=second).stdout.strip() == f"{pair.name}-2"
    assert shell.run("cat /etc/learnhpc-it", via=second).stdout.strip() == f"{pair.name}-2"
    # Without a floating IP it reaches the APIs (the external network) through the router.
    probe = "python3 -c \"import socket; socket.create_connection(('{}', {}), timeout=5)\"".format(*API)
    shell.run(probe, via=second)


def test_an_events_servers_share_its_directories(pair):
    shell = pair.shell
    shell.run("findmnt /home && findmnt /project && findmnt /scratch")
    shell.run(f"echo {pair.name} | sudo tee /home/shared-{pair.name} >/dev/null")
    assert shell.run(f"cat /home/shared-{pair.name}", via=pair.fixed[1]).stdout.strip() == pair.name


def test_security_groups_are_enforced(demo, pair):
    """A port without a rule is closed, opens with a rule and closes when the rule goes."""
    net, shell, address = demo.network, pair.shell, pair.address
    shell.run("sudo systemd-run --unit=it-listen python3 -m http.server 8080")
    wait_until("a listener on port 8080", lambda: shell.run("ss -ltn | grep -q ':8080 '", check=False).returncode == 0)
    assert not can_connect(address, 8080), "port 8080 answered without a rule for it"
    rule = net.create_security_group_rule(
        security_group_id=pair.made.group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=8080,
        port_range_max=8080,
    )
    wait_until("port 8080 open after its rule was added", lambda: can_connect(address, 8080), 60)
    net.delete_security_group_rule(rule)
    wait_until("port 8080 closed after its rule was deleted", lambda: not can_connect(address, 8080, 2), 60)


def test_a_hard_reboot_keeps_the_server(demo, pair):
    """Same host key, address and files; cloud-init does not run again; the console shows it."""
    compute, shell, server = demo.compute, pair.shell, pair.made.servers[0]
    key_before = host_key(pair.address)
    assert key_before
    compute.reboot_server(server, "HARD")
    wait_until("the reboot to start", lambda: compute.get_server(server.id).status != "ACTIVE", 30)
    compute.wait_for_server(server, status="ACTIVE", wait=TIMEOUT)
    booted = "systemctl is-system-running --wait | grep -Eqx 'running|degraded'"
    wait_until("the server booted again", lambda: shell.run(booted, check=False).returncode == 0, TIMEOUT)
    # The reboot made a new tap device under the old name; the linuxbridge agent takes some
    # seconds to notice, and drops the port's filters before it sets them up again (as on a
    # compute host). Reachable means: five logins in a row.
    wait_until("five logins in a row after the reboot", lambda: logins_in_a_row(shell, 5), TIMEOUT)
    assert host_key(pair.address) == key_before
    assert shell.run("cat /etc/learnhpc-it").stdout.strip() == f"{pair.name}-1"
    assert "cloud-init" in compute.get_server_console_output(server)["output"].lower()


def test_deleted_servers_leave_no_container(pair):
    ids = [server.id for server in pair.made.servers]
    assert all(containers_of(i) for i in ids)
    pair.made.delete()
    assert not [i for i in ids if containers_of(i)], "a deleted server's container is left"


def test_an_image_without_a_container_image_gives_a_server_in_error(demo, made):
    name = f"learnhpc-it-{uuid.uuid4().hex[:8]}"
    image = demo.image.create_image(
        name=name, data=b"\0" * 1024, disk_format="raw", container_format="bare", wait=True, timeout=TIMEOUT
    )
    try:
        made.network = demo.network.create_network(name=name)
        made.subnet = demo.network.create_subnet(name=name, network_id=made.network.id, ip_version=4, cidr=str(SUBNET))
        server = demo.compute.create_server(
            name=name,
            flavor_id=demo.compute.find_flavor("m1.tiny").id,
            image_id=image.id,
            networks=[{"uuid": made.network.id}],
        )
        made.servers.append(server)
        failed = demo.compute.wait_for_server(server, status="ERROR", failures=["ACTIVE"], wait=TIMEOUT)
        assert "learnhpc_container_image" in (failed.fault or {}).get("message", ""), failed.fault
    finally:
        made.delete()
        demo.image.delete_image(image, ignore_missing=True)
