# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenStack modules against a real OpenStack API, run through ``ansible localhost -m ...``.

Skipped unless LEARNHPC_OPENSTACK_CLOUDS is the path of a clouds.yaml with the clouds
``learnhpc-test`` (a non-admin project) and ``learnhpc-test-admin`` (an admin of the same cloud,
used only to force a server into ERROR). LEARNHPC_OPENSTACK_IMAGE and LEARNHPC_OPENSTACK_FLAVOR
choose the image and flavor (default: the first active image, the smallest flavor).

Everything is created under the event ``osmod-it`` and removed at the end (and at the start, should
an earlier run have left something). Run from the collection root:

    LEARNHPC_OPENSTACK_CLOUDS=/path/to/clouds.yaml .venv/bin/pytest -v tests/integration/openstack
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

CLOUDS = os.environ.get("LEARNHPC_OPENSTACK_CLOUDS")
pytestmark = pytest.mark.skipif(
    not CLOUDS or not Path(CLOUDS).is_file(), reason="LEARNHPC_OPENSTACK_CLOUDS does not name a clouds.yaml"
)

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE = str(ROOT / ".venv/bin/ansible")
PYTHON = str(ROOT / ".venv/bin/python")
EVENT = "osmod-it"
CLOUD = "learnhpc-test"
TAG = f"learnhpc-event={EVENT}"
END_DATE = "2099-12-31"


def ansible(module, check=False, **args):
    """Run ``learnhpc.cluster.<module>`` on localhost (``--check`` when ``check``); returns (result, seconds)."""
    env = dict(
        os.environ,
        OS_CLIENT_CONFIG_FILE=CLOUDS,
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    )
    args.setdefault("cloud", CLOUD)
    start = time.monotonic()
    proc = subprocess.run(
        [
            ANSIBLE,
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={PYTHON}",
            "-m",
            f"learnhpc.cluster.{module}",
            "-a",
            json.dumps(args),
            *(["--check"] if check else []),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - start
    try:
        output = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible did not print JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result, seconds


@pytest.fixture(scope="module")
def conn():
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    return openstack.connect(cloud=CLOUD)


@pytest.fixture(scope="module")
def admin():
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    return openstack.connect(cloud=f"{CLOUD}-admin")


def public_key():
    """A throwaway OpenSSH public key (Nova >= 2.92 no longer makes key pairs)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: PLC0415

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture(scope="module")
def setting(conn):
    """Image, flavor and a tagged network of the event (made here, removed by event_resources)."""
    result, _seconds = ansible("event_resources", event=EVENT, state="absent", timeout=600)
    assert not result.get("failed"), result.get("msg")
    wanted_image = os.environ.get("LEARNHPC_OPENSTACK_IMAGE")
    images = [i for i in conn.image.images() if i.status == "active"]
    image = next(i for i in images if wanted_image in (None, i.name, i.id))
    wanted_flavor = os.environ.get("LEARNHPC_OPENSTACK_FLAVOR")
    flavors = sorted(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    flavor = next(f for f in flavors if wanted_flavor in (None, f.name, f.id) and f.disk >= (image.min_disk or 0))
    network = conn.network.create_network(name=f"{EVENT}-net")
    conn.network.set_tags(network, [TAG])
    subnet = conn.network.create_subnet(
        name=f"{EVENT}-subnet", network_id=network.id, ip_version=4, cidr="10.199.0.0/24"
    )
    conn.network.set_tags(subnet, [TAG])
    group = conn.network.create_security_group(name=f"{EVENT}-internal")
    conn.network.set_tags(group, [TAG])
    # As the collection makes it: the comment names the key pair (docs/contracts.md, ownership).
    keypair = conn.compute.create_keypair(name=f"{EVENT}-key", public_key=f"{public_key()} {EVENT}-key")
    # With an external network: a router (gateway and interface) and a floating IP for the login node.
    external = conn.network.find_network(os.environ.get("LEARNHPC_OPENSTACK_EXTERNAL", "public"), ignore_missing=True)
    if external is not None and external.is_router_external:
        router = conn.network.create_router(name=f"{EVENT}-router", external_gateway_info={"network_id": external.id})
        conn.network.set_tags(router, [TAG])
        conn.network.add_interface_to_router(router, subnet=subnet.id)
    return {
        "image": image.name,
        "flavor": flavor.name,
        "network": network.name,
        "group": group.name,
        "key": keypair.name,
        "external": external.name if external is not None and external.is_router_external else None,
    }


def servers(setting):
    nodes = [("mgmt", "mgmt"), ("login", "login")] + [(f"compute-{i:02d}", "compute") for i in (1, 2, 3)]
    return [
        {
            "name": f"{EVENT}-{short}",
            "flavor": setting["flavor"],
            "image": setting["image"],
            "network": setting["network"],
            "security_groups": [setting["group"]],
            "key_name": setting["key"],
            "roles": [role],
            "floating_ip": role == "login" and setting["external"] is not None,
        }
        for short, role in nodes
    ]


def servers_args(setting):
    args = {"event": EVENT, "end_date": END_DATE, "servers": servers(setting), "timeout": 900}
    if setting["external"]:
        args["external_network"] = setting["external"]
    return args


def test_quota_check(setting):
    wanted = [{"name": s["name"], "flavor": s["flavor"]} for s in servers(setting)]
    result, _seconds = ansible("event_quota", event=EVENT, servers=wanted)
    assert result["needed"]["instances"] == 5
    print("quota:", json.dumps({"needed": result["needed"], "available": result["available"]}))
    assert not result.get("failed"), result.get("msg")


def test_create_rerun_replace_and_teardown(setting, conn, admin):
    wanted = servers(setting)
    result, seconds = ansible("event_servers", **servers_args(setting))
    assert not result.get("failed"), result.get("msg")
    print(f"create 5 servers: {seconds:.1f}s")
    assert result["changed"] is True
    assert sorted(result["created"]) == sorted(s["name"] for s in wanted)
    assert [s["status"] for s in result["servers"]] == ["ACTIVE"] * 5
    assert sorted(r for s in result["servers"] for r in s["roles"]) == ["compute"] * 3 + ["login", "mgmt"]
    if setting["external"]:
        login = next(s for s in result["servers"] if s["name"] == f"{EVENT}-login")
        assert len(login["addresses"]["floating"]) == 1
    for server in conn.compute.servers(details=True):
        if server.name.startswith(f"{EVENT}-"):
            assert server.metadata["org.learnhpc.event"] == EVENT
            assert server.metadata["org.learnhpc.provider"] == "openstack"

    result, seconds = ansible("event_servers", **servers_args(setting))
    print(f"re-run: {seconds:.1f}s")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False

    broken = next(s for s in conn.compute.servers(details=True) if s.name == f"{EVENT}-compute-02")
    admin.compute.reset_server_state(broken.id, "error")
    assert conn.compute.get_server(broken.id).status == "ERROR"
    result, seconds = ansible("event_servers", **servers_args(setting))
    print(f"replace 1 server in ERROR: {seconds:.1f}s")
    assert not result.get("failed"), result.get("msg")
    assert result["replaced"] == [f"{EVENT}-compute-02"]
    assert result["created"] == []
    replaced = next(s for s in result["servers"] if s["name"] == f"{EVENT}-compute-02")
    assert replaced["id"] != broken.id
    assert replaced["status"] == "ACTIVE"

    result, _seconds = ansible("event_info", event=EVENT)
    assert not result.get("failed"), result.get("msg")
    assert result["events"][0]["servers"] == 5
    assert result["events"][0]["roles"] == {"mgmt": 1, "login": 1, "compute": 3}

    result, _seconds = ansible("event_resources", check=True, event=EVENT, state="absent")
    assert result["changed"] is True
    assert result["deleted"]["servers"] == 5
    # Check mode deleted nothing.
    assert len([s for s in conn.compute.servers(details=True) if s.name.startswith(f"{EVENT}-")]) == 5

    result, seconds = ansible("event_resources", event=EVENT, state="absent", timeout=900)
    print(f"teardown: {seconds:.1f}s, deleted {result.get('deleted')}")
    assert not result.get("failed"), result.get("msg")
    assert result["deleted"]["servers"] == 5
    assert result["deleted"]["networks"] == 1
    assert result["deleted"]["security_groups"] == 1
    assert result["deleted"]["keypairs"] == 1
    if setting["external"]:
        assert result["deleted"]["routers"] == 1
        assert result["deleted"]["floating_ips"] == 1
    assert set(result["left"].values()) == {0}
    assert not [s for s in conn.compute.servers(details=True) if s.name.startswith(f"{EVENT}-")]
    assert not list(conn.network.networks(tags=TAG))
