# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin learnhpc.cluster.event against a real OpenStack API (the test cloud of
docs/openstack-test-cloud.md, or any cloud where a member may create networks, routers and servers).

Creates an event of its own (name starting with osinv-): a network, subnet and router tagged
learnhpc-event=<event>, three servers (mgmt, login, compute) with the event metadata of docs/contracts.md and
a floating IP on the login node; runs ansible-inventory --list on it and checks the groups, addresses,
ProxyJump and sizes; checks the one-line messages for an unknown cloud and a wrong password; then deletes
everything it made, also when a check fails.

    .venv/bin/python tests/integration/inventory_openstack.py CLOUDS_YAML [CLOUD] [EXTERNAL_NETWORK]

CLOUD defaults to learnhpc-test, EXTERNAL_NETWORK to public. Prints what it checked and the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openstack.config
import openstack.connection
import yaml

ROOT = Path(__file__).resolve().parents[2]
EVENT = f"osinv-{os.getpid() % 100000}"
TAG = f"learnhpc-event={EVENT}"
ROLES = {"mgmt": "mgmt", "login": "login", "compute-01": "compute"}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait(what, check, timeout=300, interval=2):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def create(conn, external, made):
    """Create the event's resources, recording each in ``made`` as soon as it exists."""
    made.update(servers=[], fip=None)
    network = conn.network.create_network(name=f"{EVENT}-net")
    made["network"] = network
    conn.network.set_tags(network, [TAG])
    subnet = conn.network.create_subnet(
        name=f"{EVENT}-subnet", network_id=network.id, ip_version=4, cidr="10.77.0.0/24"
    )
    conn.network.set_tags(subnet, [TAG])
    made["subnet"] = subnet
    public = conn.network.find_network(external, ignore_missing=False)
    router = conn.network.create_router(name=f"{EVENT}-router", external_gateway_info={"network_id": public.id})
    conn.network.set_tags(router, [TAG])
    made["router"] = router
    conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    made["interface"] = True
    image = conn.image.find_image("debian-12", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    for short, role in ROLES.items():
        metadata = {
            "org.learnhpc.event": EVENT,
            "org.learnhpc.roles": role,
            "org.learnhpc.end_date": "2030-12-31",
            "org.learnhpc.provider": "openstack",
        }
        if role == "login":
            metadata["org.learnhpc.ssh_user"] = "debian"
        server = conn.compute.create_server(
            name=f"{EVENT}-{short}",
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}],
            metadata=metadata,
        )
        made["servers"].append(server)
    for server in made["servers"]:
        conn.compute.wait_for_server(server, status="ACTIVE", wait=300)
    login = made["servers"][1]
    port = wait("the login node's port", lambda: list(conn.network.ports(device_id=login.id)))[0]
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    made["fip"] = fip
    conn.network.set_tags(fip, [TAG])
    log(f"floating IP {fip.floating_ip_address} on {login.name}; waiting for nova to show it")
    wait(
        "the floating IP in the server's addresses",
        lambda: any(
            entry.get("OS-EXT-IPS:type") == "floating"
            for entries in (conn.compute.get_server(login.id).addresses or {}).values()
            for entry in entries
        ),
        timeout=120,
    )


def delete(conn, made):
    for server in made.get("servers", []):
        conn.compute.delete_server(server, ignore_missing=True)
    for server in made.get("servers", []):
        conn.compute.wait_for_delete(server, wait=300)
    if made.get("fip"):
        conn.network.delete_ip(made["fip"], ignore_missing=True)
    if made.get("interface"):
        conn.network.remove_interface_from_router(made["router"], subnet_id=made["subnet"].id)
    if made.get("router"):
        conn.network.delete_router(made["router"], ignore_missing=True)
    if made.get("subnet"):
        conn.network.delete_subnet(made["subnet"], ignore_missing=True)
    if made.get("network"):
        conn.network.delete_network(made["network"], ignore_missing=True)
    left = [s.name for s in conn.compute.servers() if (s.metadata or {}).get("org.learnhpc.event") == EVENT]
    left += [n.name for n in conn.network.networks(tags=TAG)]
    left += [r.name for r in conn.network.routers(tags=TAG)]
    left += [f.floating_ip_address for f in conn.network.ips(tags=TAG)]
    return left


def inventory(directory, clouds_yaml, cloud, **options):
    config = {
        "plugin": "learnhpc.cluster.event",
        "providers": ["openstack"],
        "clouds": [cloud],
        "clouds_yaml": str(clouds_yaml),
        **options,
    }
    path = directory / "osinv.event.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    env.pop("OS_CLOUD", None)
    start = time.perf_counter()
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(path), "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, time.perf_counter() - start


def plain(value):
    """A value of ansible-inventory's JSON output, with the {"__ansible_unsafe": ...} wrappers removed."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    log(f"ok: {what}")


def check_listing(conn, directory, clouds_yaml, cloud, fip):
    result, seconds = inventory(directory, clouds_yaml, cloud, events=[EVENT])
    print(result.stderr, end="")
    check(result.returncode == 0, f"ansible-inventory --list exits 0 ({seconds:.2f} s)")
    listed = json.loads(result.stdout)
    hostvars = plain(listed["_meta"]["hostvars"])
    unsafe = [
        name for name, value in listed["_meta"]["hostvars"][f"{EVENT}-mgmt"].items() if "__ansible_unsafe" in str(value)
    ]
    check(len(unsafe) >= 9, f"the values from the API are marked unsafe: {sorted(unsafe)}")
    names = {f"{EVENT}-{short}" for short in ROLES}
    check(set(hostvars) == names, f"the hosts are the event's three servers: {sorted(hostvars)}")
    group = "event_" + EVENT.replace("-", "_")
    check(set(listed[group]["hosts"]) == names, f"group {group} holds them")
    for short, role in ROLES.items():
        check(listed[role]["hosts"] == [f"{EVENT}-{short}"], f"group {role} holds {EVENT}-{short}")
    login = hostvars[f"{EVENT}-login"]
    log(f"login node: {json.dumps(login, sort_keys=True)}")
    check(login["ansible_host"] == fip, f"the login node's ansible_host is its floating IP {fip}")
    check(login["ansible_user"] == "debian", "the login node's ansible_user comes from its metadata")
    check("ansible_ssh_common_args" not in login, "the login node is reached directly")
    for short in ("mgmt", "compute-01"):
        node = hostvars[f"{EVENT}-{short}"]
        check(node["ansible_host"].startswith("10.77.0."), f"{short}: fixed IP {node['ansible_host']}")
        check(
            node["ansible_ssh_common_args"] == f"-o ProxyJump=debian@{fip}",
            f"{short}: {node['ansible_ssh_common_args']}",
        )
        check(node["ansible_user"] == "debian", f"{short}: ansible_user is the option's default")
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    for name, node in hostvars.items():
        check(node["slurm_node_cpus"] == flavor.vcpus, f"{name}: slurm_node_cpus {flavor.vcpus} (m1.tiny)")
        memory = max(1, flavor.ram - 256)
        check(node["slurm_node_memory_mb"] == memory, f"{name}: slurm_node_memory_mb {memory}")
        check(node["learnhpc_openstack_status"] == "ACTIVE", f"{name}: status ACTIVE")
        check(node["learnhpc_openstack_cloud"] == cloud, f"{name}: learnhpc_openstack_cloud {cloud}")


def check_errors(directory, clouds_yaml, cloud):
    result, seconds = inventory(directory, clouds_yaml, "no-such-cloud")
    message = result.stderr.strip()
    log(f"unknown cloud ({seconds:.2f} s): {message}")
    check(result.returncode != 0 and "'no-such-cloud' is not in clouds.yaml" in message, "unknown cloud")

    clouds = yaml.safe_load(clouds_yaml.read_text(encoding="utf-8"))
    password = "wrong-" + clouds["clouds"][cloud]["auth"]["password"]
    clouds["clouds"][cloud]["auth"]["password"] = password
    wrong = directory / "clouds.yaml"
    wrong.write_text(json.dumps(clouds), encoding="utf-8")
    wrong.chmod(0o600)
    result, seconds = inventory(directory, wrong, cloud)
    message = result.stderr.strip()
    log(f"wrong password ({seconds:.2f} s): {message}")
    check(result.returncode != 0 and "refused the credentials" in message, "authentication failure")
    check(password not in message, "the password is not in the message")


def main():
    clouds_yaml = Path(sys.argv[1]).resolve()
    cloud = sys.argv[2] if len(sys.argv) > 2 else "learnhpc-test"
    external = sys.argv[3] if len(sys.argv) > 3 else "public"
    region = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)]).get_one(cloud=cloud)
    conn = openstack.connection.Connection(config=region)
    made = {}
    try:
        start = time.perf_counter()
        log(f"creating event {EVENT} in cloud {cloud}")
        create(conn, external, made)
        log(f"created in {time.perf_counter() - start:.1f} s")
        with tempfile.TemporaryDirectory(prefix="osinv-") as tmp:
            directory = Path(tmp)
            check_listing(conn, directory, clouds_yaml, cloud, made["fip"].floating_ip_address)
            check_errors(directory, clouds_yaml, cloud)
    finally:
        log("deleting what was made")
        left = delete(conn, made)
        log(f"left over: {left or 'nothing'}")
    if left:
        sys.exit(f"left over: {left}")


if __name__ == "__main__":
    main()
