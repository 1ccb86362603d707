# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role openstack_provider through playbooks/provision.yml and teardown.yml, against a real OpenStack API.

Skipped unless LEARNHPC_OPENSTACK_CLOUDS is the path of a clouds.yaml with the cloud ``learnhpc-test`` (a
non-admin project) that has the image ``debian-12``, the flavor ``m1.tiny`` and the external network ``public``
(the test cloud of ``make test``). Event ``osprov-a`` (one compute node) is created and removed, ``osprov-c`` is
the untagged leftover of an interrupted deploy (made here through the API), ``osprov-q`` never gets anything
(also removed at the start, should an earlier run have left something). Run from the collection root:

    LEARNHPC_OPENSTACK_CLOUDS=/path/to/clouds.yaml .venv/bin/pytest -v tests/integration/openstack/test_provider.py

The servers boot (containers of the test cloud), but nothing logs in to them here; the test checks what the API
says. tests/integration/openstack/test_servers.py logs in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_modules import ansible

CLOUDS = os.environ.get("LEARNHPC_OPENSTACK_CLOUDS")
pytestmark = pytest.mark.skipif(
    not CLOUDS or not Path(CLOUDS).is_file(), reason="LEARNHPC_OPENSTACK_CLOUDS does not name a clouds.yaml"
)

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / ".venv/bin"
CLOUD = "learnhpc-test"
ADMIN_CLOUD = "learnhpc-test-admin"
EVENT_A = "osprov-a"
EVENT_C = "osprov-c"  # only the untagged leftover of an interrupted deploy, made by the test
EVENT_Q = "osprov-q"  # never created: the quota is made too small for it
EVENTS = (EVENT_A, EVENT_C, EVENT_Q)

EVENT_FILE = """\
name: {name}
provider: openstack
end_date: 2099-12-31
nodes:
  compute:
    count: {count}
openstack:
  cloud: {cloud}
  image: debian-12
  flavors: {{mgmt: m1.tiny, login: m1.tiny, compute: m1.tiny}}
  external_network: public
  network_cidr: {cidr}
  allowed_cidrs: {allowed}
"""


def event_file(name, count, cidr, allowed=("192.0.2.0/24",)):
    return EVENT_FILE.format(name=name, count=count, cloud=CLOUD, cidr=cidr, allowed=json.dumps(list(allowed)))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("osprov")
    events = base / "events"
    events.mkdir()
    (events / f"{EVENT_A}.yml").write_text(event_file(EVENT_A, 1, "10.61.0.0/24"))
    (events / f"{EVENT_C}.yml").write_text(event_file(EVENT_C, 1, "10.62.0.0/24"))
    (events / f"{EVENT_Q}.yml").write_text(event_file(EVENT_Q, 3, "10.63.0.0/24"))
    inventory, env = playbook_setting(base, events)
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    conn = openstack.connect(cloud=CLOUD)
    state = {"env": env, "inventory": str(inventory), "conn": conn, "events": events}
    for event in EVENTS:
        playbook(state, "teardown.yml", event)
    yield state
    for event in EVENTS:
        playbook(state, "teardown.yml", event)
    for network in conn.network.networks(name=f"{EVENT_C}-2-net", project_id=conn.current_project_id):
        conn.network.delete_network(network)


def playbook_setting(base, events):
    """An inventory file (docker and the test cloud) in ``base``, and the environment of ansible-playbook."""
    inventory = base / "learnhpc.event.yml"
    inventory.write_text(
        f"plugin: learnhpc.cluster.event\nproviders: [docker, openstack]\nclouds: [{CLOUD}]\nclouds_yaml: {CLOUDS}\n"
    )
    env = dict(
        os.environ,
        OS_CLIENT_CONFIG_FILE=CLOUDS,
        LEARNHPC_EVENTS_DIR=str(events),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
    )
    return inventory, env


def playbook(state, name, event, *extra, local_python=True):
    """Run playbooks/<name> for ``event`` (None: no event); returns (exit code, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            state["inventory"],
            *(["-e", f"event={event}"] if event else []),
            # Only when no server is configured: the servers' Python is their own.
            *(["-e", f"ansible_python_interpreter={BIN / 'python'}"] if local_python else []),
            *extra,
            str(ROOT / "playbooks" / name),
        ],
        cwd=ROOT,
        env=state["env"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def plain(value):
    """A value of ``ansible-inventory --list``: ansible-core 2.19 wraps strings as {"__ansible_unsafe": ...}."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def recap(output):
    """The PLAY RECAP counts of localhost."""
    match = re.search(r"^localhost\s*:\s*(.*)$", output, re.M)
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def event_resources(conn, event):
    """Counts of what the event has in the project, found as docs/contracts.md says."""
    tag = f"learnhpc-event={event}"
    project = {"project_id": conn.current_project_id}
    net = conn.network
    return {
        "servers": [
            s.name for s in conn.compute.servers(details=True) if (s.metadata or {}).get("org.learnhpc.event") == event
        ],
        "networks": [n.name for n in net.networks(tags=tag, **project)],
        "subnets": [n.name for n in net.subnets(tags=tag, **project)],
        "routers": [n.name for n in net.routers(tags=tag, **project)],
        "security_groups": [n.name for n in net.security_groups(tags=tag, **project)],
        "floating_ips": [n.floating_ip_address for n in net.ips(tags=tag, **project)],
        "keypairs": [k.name for k in conn.compute.keypairs() if k.name.startswith(f"{event}-")],
    }


NAMES = [f"{EVENT_A}-mgmt", f"{EVENT_A}-login", f"{EVENT_A}-compute-01"]


def nothing_of(conn, event):
    found = event_resources(conn, event)
    return all(not items for items in found.values()), found


def test_check_mode_on_an_event_that_does_not_exist_yet(setup):
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A, "--check")
    print(f"provision {EVENT_A} --check before it exists: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    empty, found = nothing_of(setup["conn"], EVENT_A)
    assert empty, found
    assert not (setup["events"] / ".state" / EVENT_A / "ssh" / "openstack_ed25519").exists()


def test_quota_too_small_creates_nothing(setup):
    """The project's instance quota, set by an administrator below what the event needs: one line, nothing made."""
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    admin = openstack.connect(cloud=ADMIN_CLOUD)
    project = setup["conn"].current_project_id
    before = admin.compute.get_quota_set(project)
    admin.compute.update_quota_set(project, instances=2)
    try:
        code, output, seconds = playbook(setup, "provision.yml", EVENT_Q)
    finally:
        admin.compute.update_quota_set(project, instances=before.instances)
    print(f"provision {EVENT_Q} with an instance quota of 2: {seconds:.0f}s")
    assert code != 0, output[-5000:]
    assert f"the quota of the project is too small for event '{EVENT_Q}'" in output, output[-5000:]
    assert re.search(r"instances: need 5, [0-2] free of quota 2", output), output[-5000:]
    assert "Traceback" not in output
    empty, found = nothing_of(setup["conn"], EVENT_Q)
    assert empty, found


def test_unknown_image_and_external_network_create_nothing(setup):
    """What the cloud does not have gets one line each, before anything is made."""
    path = setup["events"] / f"{EVENT_Q}.yml"
    good = path.read_text()
    bad = good.replace("image: debian-12", "image: no-such-image")
    bad = bad.replace("external_network: public", "external_network: nowhere")
    path.write_text(bad)
    try:
        code, output, seconds = playbook(setup, "provision.yml", EVENT_Q)
    finally:
        path.write_text(good)
    print(f"provision {EVENT_Q} with an unknown image and external network: {seconds:.0f}s")
    assert code != 0, output[-5000:]
    assert "unknown image 'no-such-image': the images are " in output, output[-5000:]
    assert "unknown external network 'nowhere'" in output, output[-5000:]
    assert "Traceback" not in output
    empty, found = nothing_of(setup["conn"], EVENT_Q)
    assert empty, found
    assert not (setup["events"] / ".state" / EVENT_Q / "ssh" / "openstack_ed25519").exists()


def test_provision(setup):
    conn = setup["conn"]
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A)
    print(f"provision {EVENT_A}: {seconds:.0f}s")
    assert code == 0, output[-5000:]

    servers = {
        s.name: s for s in conn.compute.servers(details=True) if (s.metadata or {}).get("org.learnhpc.event") == EVENT_A
    }
    assert sorted(servers) == sorted(NAMES)
    for name, server in servers.items():
        assert server.status == "ACTIVE", name
        assert server.metadata["org.learnhpc.ssh_user"] == "debian"
        assert server.metadata["org.learnhpc.provider"] == "openstack"
        assert server.metadata["org.learnhpc.end_date"] == "2099-12-31"
        assert server.key_name == f"{EVENT_A}-key"
    assert servers[f"{EVENT_A}-compute-01"].metadata["org.learnhpc.roles"] == "compute"
    login = servers[f"{EVENT_A}-login"]
    floating = [a["addr"] for v in login.addresses.values() for a in v if a.get("OS-EXT-IPS:type") == "floating"]
    assert len(floating) == 1
    setup["floating"] = floating[0]
    others = [s for n, s in servers.items() if n != f"{EVENT_A}-login"]
    assert all(a.get("OS-EXT-IPS:type") != "floating" for s in others for v in s.addresses.values() for a in v)
    assert sorted(g["name"] for g in login.security_groups) == [f"{EVENT_A}-internal", f"{EVENT_A}-login"]

    found = event_resources(conn, EVENT_A)
    assert found["networks"] == [f"{EVENT_A}-net"]
    assert found["subnets"] == [f"{EVENT_A}-subnet"]
    assert found["routers"] == [f"{EVENT_A}-router"]
    assert sorted(found["security_groups"]) == [f"{EVENT_A}-internal", f"{EVENT_A}-login"]
    login_group = conn.network.find_security_group(f"{EVENT_A}-login", project_id=conn.current_project_id)
    ingress = sorted(
        (r.protocol, r.port_range_min, r.remote_ip_prefix)
        for r in conn.network.security_group_rules(security_group_id=login_group.id)
        if r.direction == "ingress"
    )
    assert ingress == [("tcp", 22, "192.0.2.0/24"), ("tcp", 443, "192.0.2.0/24")]
    for kind in ("networks", "subnets", "routers", "security_groups"):
        for item in getattr(conn.network, kind)(tags=f"learnhpc-event={EVENT_A}", project_id=conn.current_project_id):
            assert item.description.startswith(f"learnhpc event {EVENT_A}: "), (kind, item.name)
    key = setup["events"] / ".state" / EVENT_A / "ssh" / "openstack_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600


def test_rerun_changes_nothing(setup):
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A)
    print(f"provision {EVENT_A} again: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    assert recap(output)["changed"] == 0, output[-5000:]


def test_check_mode_changes_nothing(setup):
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A, "--check")
    print(f"provision {EVENT_A} --check: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    assert recap(output)["changed"] == 0, output[-5000:]


def test_inventory(setup):
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", setup["inventory"], "--list"],
        cwd=ROOT,
        env=setup["env"],
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = json.loads(proc.stdout)
    group = "event_osprov_a"
    assert sorted(inventory[group]["hosts"]) == sorted(NAMES)
    for role in ("mgmt", "login", "compute"):
        assert set(inventory[role]["hosts"]) & set(NAMES)
    hostvars = inventory["_meta"]["hostvars"]
    assert plain(hostvars[f"{EVENT_A}-login"]["ansible_host"]) == setup["floating"]
    assert plain(hostvars[f"{EVENT_A}-login"]["ansible_user"]) == "debian"
    # the size of m1.tiny (1 VCPU, 512 MiB) minus the plugin's default memory reserve of 256 MiB
    key = str(setup["events"] / ".state" / EVENT_A / "ssh" / "openstack_ed25519")
    for name in NAMES:
        assert hostvars[name]["slurm_node_cpus"] == 1, name
        assert hostvars[name]["slurm_node_memory_mb"] == 512 - 256, name
        assert plain(hostvars[name]["ansible_ssh_private_key_file"]) == key, name
    proxy = plain(hostvars[f"{EVENT_A}-compute-01"]["ansible_ssh_common_args"])
    assert f"-i {key} -o IdentitiesOnly=yes debian@{setup['floating']}" in proxy, proxy


def test_event_info_and_a_teardown_in_check_mode(setup):
    """event_info counts the event's servers by role; openstack_event_resources in check mode says what it would
    delete."""
    result, _seconds = ansible("event_info", event=EVENT_A)
    assert not result.get("failed"), result.get("msg")
    (info,) = result["events"]
    assert info["servers"] == 3
    assert info["roles"] == {"mgmt": 1, "login": 1, "compute": 1}
    assert info["end_date"] == "2099-12-31"

    result, _seconds = ansible("openstack_event_resources", check=True, event=EVENT_A, state="absent")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["deleted"]["servers"] == 3
    assert result["deleted"]["floating_ips"] == 1
    assert result["deleted"]["networks"] == 1
    found = event_resources(setup["conn"], EVENT_A)
    assert sorted(found["servers"]) == sorted(NAMES), found


def login_ingress(conn, event):
    """The ingress rules of the event's login group: (ethertype, protocol, port min, port max, remote prefix)."""
    group = conn.network.find_security_group(f"{event}-login", project_id=conn.current_project_id)
    return sorted(
        (r.ether_type, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
        for r in conn.network.security_group_rules(security_group_id=group.id)
        if r.direction == "ingress"
    )


def test_narrowing_allowed_cidrs_replaces_the_login_rules(setup):
    conn = setup["conn"]
    narrow = ["192.0.2.0/25", "2001:db8::/48"]
    (setup["events"] / f"{EVENT_A}.yml").write_text(event_file(EVENT_A, 1, "10.61.0.0/24", narrow))
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A)
    print(f"provision {EVENT_A} with narrower allowed_cidrs: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    assert recap(output)["changed"] > 0, output[-5000:]
    assert login_ingress(conn, EVENT_A) == [
        ("IPv4", "tcp", 22, 22, "192.0.2.0/25"),
        ("IPv4", "tcp", 443, 443, "192.0.2.0/25"),
        ("IPv6", "tcp", 22, 22, "2001:db8::/48"),
        ("IPv6", "tcp", 443, 443, "2001:db8::/48"),
    ]
    code, output, seconds = playbook(setup, "provision.yml", EVENT_A)
    print(f"provision {EVENT_A} again: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    assert recap(output)["changed"] == 0, output[-5000:]


def test_teardown_removes_the_untagged_leftover_of_an_interrupted_deploy(setup):
    """A first deploy of osprov-c stopped after openstack_event_network created its resources and before it tagged them.

    The test cloud's Neutron (Zed) has no ``tag-creation``, so openstack_event_network creates and then tags: what is
    made here is what it leaves between the two requests (its names and descriptions). Beside it, the same leftover
    of event ``osprov-c-2`` (a longer name with osprov-c's prefix), which osprov-c's teardown must not touch.
    """
    conn = setup["conn"]
    net = conn.network
    public = net.find_network("public")
    made = {}
    for event in (EVENT_C, f"{EVENT_C}-2"):
        description = f"learnhpc event {event}: the event's network"
        made[event] = net.create_network(name=f"{event}-net", description=description)
    network = made[EVENT_C]
    subnet = net.create_subnet(
        name=f"{EVENT_C}-subnet",
        network_id=network.id,
        ip_version=4,
        cidr="10.62.0.0/24",
        description=f"learnhpc event {EVENT_C}: the event's subnet",
    )
    router = net.create_router(
        name=f"{EVENT_C}-router",
        description=f"learnhpc event {EVENT_C}: the event's router",
        external_gateway_info={"network_id": public.id},
    )
    net.add_interface_to_router(router, subnet=subnet.id)
    net.create_security_group(
        name=f"{EVENT_C}-internal", description=f"learnhpc event {EVENT_C}: all traffic between the event's nodes"
    )
    assert all(not item.tags for item in net.networks(name=f"{EVENT_C}-net"))

    code, output, seconds = playbook(setup, "teardown.yml", EVENT_C)
    print(f"teardown {EVENT_C} (untagged leftover): {seconds:.0f}s")
    assert code == 0, output[-5000:]
    project = conn.current_project_id
    assert not list(net.networks(name=f"{EVENT_C}-net", project_id=project))
    assert not list(net.subnets(name=f"{EVENT_C}-subnet", project_id=project))
    assert not list(net.routers(name=f"{EVENT_C}-router", project_id=project))
    assert not list(net.security_groups(name=f"{EVENT_C}-internal", project_id=project))
    assert not list(net.ports(device_id=router.id))
    assert [n.id for n in net.networks(name=f"{EVENT_C}-2-net", project_id=project)] == [made[f"{EVENT_C}-2"].id]


def test_teardown_leaves_nothing(setup):
    """Counted through the API: what the event had before (ids), and what carries its tag, metadata or names."""
    conn = setup["conn"]
    net = conn.network
    project = conn.current_project_id
    servers = [s for s in conn.compute.servers(details=True) if (s.metadata or {}).get("org.learnhpc.event") == EVENT_A]
    (network,) = net.networks(name=f"{EVENT_A}-net", project_id=project)
    (router,) = net.routers(name=f"{EVENT_A}-router", project_id=project)
    devices = {s.id for s in servers} | {router.id}
    assert len(servers) == 3
    assert setup.get("floating")

    code, output, seconds = playbook(setup, "teardown.yml", EVENT_A)
    print(f"teardown {EVENT_A}: {seconds:.0f}s")
    assert code == 0, output[-5000:]
    assert "removed 3 servers" in output, output[-3000:]

    def named(items):
        return [item.name for item in items if (item.name or "").startswith(f"{EVENT_A}-")]

    left = {
        "servers": [s.name for s in conn.compute.servers(details=True) if s.id in devices or s.name in NAMES],
        "ports": [p.id for p in net.ports(project_id=project) if p.network_id == network.id or p.device_id in devices],
        "floating_ips": [
            ip.floating_ip_address
            for ip in net.ips(project_id=project)
            if ip.floating_ip_address == setup["floating"] or f"learnhpc-event={EVENT_A}" in (ip.tags or [])
        ],
        "routers": named(net.routers(project_id=project)),
        "networks": named(net.networks(project_id=project)),
        "subnets": named(net.subnets(project_id=project)),
        "security_groups": named(net.security_groups(project_id=project)),
        "keypairs": named(conn.compute.keypairs()),
    }
    assert not any(left.values()), left
    assert nothing_of(conn, EVENT_A)[0]
    assert not (setup["events"] / ".state" / EVENT_A).exists()
