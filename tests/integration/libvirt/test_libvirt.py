"""The libvirt provider for real: an event's nodes as QEMU virtual machines on this machine.

``make test`` (stage ``libvirt``) runs the part that fits CI's time, on the small event
``ci-lv`` (management, login and one compute node: three VMs, which QEMU runs without
hardware virtualization here, TCG):

1. ``provision.yml`` makes the event's network, storage pool and VMs from the node disk that
   ``LEARNHPC_SETUP_LIBVIRT=1 make setup`` builds; each VM boots its own kernel, cloud-init
   gives it its name, address and the event's SSH key, and Ansible reaches it over SSH;
2. a second ``provision.yml`` changes nothing;
3. ``shared_storage.yml`` (beside this file) runs the roles nfs_server and nfs_client as
   configure.yml does: the management node's kernel NFS server exports /home, /project and
   /scratch, the other nodes mount them with the kernel's NFS client, and a file written on
   one node is read on the others (the first test of the collection's kernel NFS path);
4. once the domains' labels say the event expired, ``reap.yml -e provider=libvirt`` removes it:
   no domain, network, storage pool, volume, port forwarder or state directory of the event is
   left, and its log says so; ``teardown.yml`` then changes nothing. A bystander event whose name
   starts with this one's (``ci-lv-b``: a domain, a network, a pool and a console log, defined
   only, none started) is left as it was by both.

``make test-libvirt`` runs the whole event instead: ``site.yml`` to "is ready" (a guest's job on
a compute node, JupyterHub off), then teardown (``LEARNHPC_LIBVIRT_SITE=1``).

Needs ``LEARNHPC_SETUP_LIBVIRT=1 scripts/setup.sh`` first (libvirt running, the node disk built).
Runs from the project's root: ``pytest -v -s tests/integration/libvirt``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
EVENT = os.environ.get("LEARNHPC_LIBVIRT_EVENT", "ci-lv")
URI = "qemu:///system"
SITE = os.environ.get("LEARNHPC_LIBVIRT_SITE") == "1"
EVENT_FILE = """---
# tests/integration/libvirt/test_libvirt.py
description: the libvirt provider's test
provider: libvirt
end_date: 2099-12-31
accounts:
  guests: 2
nodes:
  compute:
    count: 1
software:
  eessi: false
services:
  jupyterhub: false
libvirt:
  network_cidr: 10.77.249.0/24
  ssh_port: 2722
  https_port: 8722
  rest_port: 6722
  node_memory_mb: 1536
"""
INVENTORY = "plugin: learnhpc.cluster.event\nproviders: [docker, libvirt]\n"
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
NODES = (f"{EVENT}-mgmt", f"{EVENT}-login", f"{EVENT}-compute-01")
# Another event on the same host, its name starting with this one's: reap and teardown of EVENT
# must leave everything of it.
BYSTANDER = f"{EVENT}-b"
BYSTANDER_NODE = f"{BYSTANDER}-login"


def virsh(*args, check=True):
    return subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, check=check).stdout


def libvirt_answers():
    return (
        shutil.which("virsh") is not None
        and subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, check=False).returncode == 0
    )


pytestmark = pytest.mark.skipif(
    not libvirt_answers(), reason=f"libvirt does not answer at {URI}: LEARNHPC_SETUP_LIBVIRT=1 scripts/setup.sh"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    events = tmp_path_factory.mktemp("events")
    (events / f"{EVENT}.yml").write_text(EVENT_FILE)
    inventory = events / "learnhpc.event.yml"
    inventory.write_text(INVENTORY)
    environment = dict(
        os.environ,
        LEARNHPC_EVENTS_DIR=str(events),
        ANSIBLE_INVENTORY=str(inventory),
        ANSIBLE_NOCOLOR="true",
        ANSIBLE_FORCE_COLOR="false",
        # Each task's time in the output, and the slowest at the end: where the VMs' time goes.
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
    )
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    yield environment
    # Whatever happened above, nothing of the event may stay on the machine.
    playbook("teardown.yml", environment)


def playbook(name, environment, *extra):
    """Run a playbook; ``(exit status, output, {host: changed count})``. Its output is printed as it runs."""
    started = time.monotonic()
    process = subprocess.Popen(
        ["ansible-playbook", name, "-e", f"event={EVENT}", *extra],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        sys.stdout.write(line)
    status = process.wait()
    print(f"=== {name}: exit {status} after {time.monotonic() - started:.0f} s")
    output = "".join(lines)
    recap = {}
    for line in output.splitlines():
        match = RECAP.match(line)
        if match:
            host, changed, unreachable, failed = match.groups()
            assert unreachable == "0" and failed == "0", line
            recap[host] = int(changed)
    return status, output, recap


def event_objects():
    """What libvirt has of the event: ``{kind: [names]}``; a domain by its metadata, the network and pool by name."""
    found = {"domains": [], "networks": [], "pools": []}
    for name in virsh("list", "--all", "--name").split():
        metadata = virsh("metadata", name, "https://learnhpc.org/xmlns/libvirt/node/1", check=False)
        if f'name="org.learnhpc.event" value="{EVENT}"' in metadata:
            found["domains"].append(name)
    found["networks"] = [n for n in virsh("net-list", "--all", "--name").split() if n == f"learnhpc-{EVENT}"]
    found["pools"] = [p for p in virsh("pool-list", "--all", "--name").split() if p == f"learnhpc-{EVENT}"]
    return found


@pytest.fixture(scope="module")
def bystander(tmp_path_factory):
    """Defines (starts nothing) a domain, network and pool of the event BYSTANDER and the console log of its
    node; yields what must stay of it, ``{kind: [names]}`` as ``bystander_objects`` gives them."""
    names = contract.libvirt_names(BYSTANDER)
    pool_dir = tmp_path_factory.mktemp("bystander-pool")
    labels = {
        contract.EVENT_KEY: BYSTANDER,
        contract.ROLES_KEY: "login",
        contract.END_DATE_KEY: "2099-12-31",
        contract.EXPIRES_KEY: "2099-12-31",
        contract.PROVIDER_KEY: "libvirt",
    }
    # The smallest domain libvirt defines: never started, it needs no disk or kernel.
    domain = f"""<domain type='qemu'>
  <name>{BYSTANDER_NODE}</name>
  <memory unit='MiB'>64</memory>
  <metadata>
{libvirt_api.metadata_xml(labels, prefix=contract.LIBVIRT_METADATA_PREFIX)}
  </metadata>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""
    log = Path(libvirt_api.CONSOLE_LOG_DIR) / f"{BYSTANDER_NODE}-console.log"
    conn = libvirt_api.connect(URI)
    try:
        conn.defineXML(domain)
        conn.networkDefineXML(
            libvirt_api.network_xml(names["network"], names["bridge"], "10.77.248.0/24", BYSTANDER, [])
        )
        conn.storagePoolDefineXML(libvirt_api.pool_xml(names["pool"], str(pool_dir)))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("the bystander's console\n")
        expected = {
            "domains": [BYSTANDER_NODE],
            "networks": [names["network"]],
            "pools": [names["pool"]],
            "logs": [log.name],
        }
        assert bystander_objects() == expected
        yield expected
    finally:
        for kind, name in (("domain", BYSTANDER_NODE), ("network", names["network"]), ("pool", names["pool"])):
            found = libvirt_api.lookup(conn, kind, name)
            if found is not None:
                found.undefine()
        log.unlink(missing_ok=True)
        conn.close()


def bystander_objects():
    """What libvirt and its log directory have of BYSTANDER: ``{kind: [names]}``."""
    names = contract.libvirt_names(BYSTANDER)
    domains = [
        name
        for name in virsh("list", "--all", "--name").split()
        if f'name="org.learnhpc.event" value="{BYSTANDER}"'
        in virsh("metadata", name, "https://learnhpc.org/xmlns/libvirt/node/1", check=False)
    ]
    return {
        "domains": domains,
        "networks": [n for n in virsh("net-list", "--all", "--name").split() if n == names["network"]],
        "pools": [p for p in virsh("pool-list", "--all", "--name").split() if p == names["pool"]],
        "logs": sorted(path.name for path in Path(libvirt_api.CONSOLE_LOG_DIR).glob(f"{BYSTANDER}-*")),
    }


def ssh(environment, address, command):
    """Run ``command`` on a node as the image's user, with the event's key, as Ansible does."""
    key = Path(environment["LEARNHPC_EVENTS_DIR"]) / ".state" / EVENT / "ssh" / "libvirt_ed25519"
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=30",
            f"debian@{address}",
            command,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def addresses():
    """The fixed address of each node of the event, from its domain's metadata."""
    found = {}
    for name in NODES:
        metadata = virsh("metadata", name, "https://learnhpc.org/xmlns/libvirt/node/1")
        match = re.search(r'name="org.learnhpc.address" value="([0-9.]+)"', metadata)
        assert match, f"{name} has no address in its metadata: {metadata}"
        found[name] = match.group(1)
    return found


def test_provision_boots_the_nodes(env):
    status, output, _recap = playbook("playbooks/provision.yml", env)
    assert status == 0, output[-3000:]
    assert sorted(event_objects()["domains"]) == sorted(NODES)
    assert all(state == "running" for state in (virsh("domstate", name).strip() for name in NODES))
    for name, address in addresses().items():
        result = ssh(env, address, "hostname; cloud-init status; findmnt -no FSTYPE /")
        assert result.returncode == 0, f"{name}: {result.stderr}"
        hostname, cloud_init, root = result.stdout.split("\n")[:3]
        assert hostname == name
        assert cloud_init == "status: done", (name, result.stdout)
        assert root == "ext4"


def test_provision_again_changes_nothing(env):
    status, output, recap = playbook("playbooks/provision.yml", env)
    assert status == 0, output[-3000:]
    assert recap.get("localhost") == 0, recap


@pytest.mark.skipif(SITE, reason="site.yml sets up the shared storage itself")
def test_kernel_nfs_shares_home_between_the_nodes(env):
    status, output, _recap = playbook(str(HERE / "shared_storage.yml"), env)
    assert status == 0, output[-3000:]
    nodes = addresses()
    marker = f"written on the compute node {time.time()}"
    for name in NODES[1:]:
        for directory in ("/home", "/project", "/scratch"):
            mounted = ssh(env, nodes[name], f"findmnt -no FSTYPE,SOURCE {directory}")
            assert mounted.stdout.split()[:1] == ["nfs4"], (name, directory, mounted.stdout, mounted.stderr)
    wrote = ssh(env, nodes[NODES[2]], f"echo '{marker}' > ~/nfs-check && sync")
    assert wrote.returncode == 0, wrote.stderr
    for name in NODES[:2]:
        read = ssh(env, nodes[name], "cat ~/nfs-check")
        assert read.stdout.strip() == marker, (name, read.stdout, read.stderr)
    # root_squash: root of a client is nobody on the server's files.
    squashed = ssh(env, nodes[NODES[1]], "sudo touch /home/root-was-here")
    assert squashed.returncode != 0 and "Permission denied" in squashed.stderr, squashed


@pytest.mark.skipif(
    not SITE, reason="make test-libvirt (LEARNHPC_LIBVIRT_SITE=1): the whole event takes too long for CI"
)
def test_site_reaches_ready(env):
    status, output, _recap = playbook("site.yml", env)
    assert status == 0, output[-3000:]
    assert f"Event {EVENT} is ready" in output


def test_reap_removes_the_event_once_expired(env, bystander):
    # The event file cannot be made with an end date behind it: the domains' labels are set as
    # if the event had ended (the expiry date is what reap reads), as test_site.py does on OpenStack.
    conn = libvirt_api.connect(URI)
    for dom, labels in libvirt_api.event_domains(conn, EVENT):
        libvirt_api.set_domain_labels(
            dom, {**labels, contract.END_DATE_KEY: "2020-01-01", contract.EXPIRES_KEY: "2020-01-03"}
        )
    conn.close()
    log = Path(env["LEARNHPC_EVENTS_DIR"]) / ".state" / "reap.log"
    status, output, _recap = playbook("reap.yml", env, "-e", "provider=libvirt")
    assert status == 0, output[-3000:]
    assert event_objects() == {"domains": [], "networks": [], "pools": []}
    assert f"removed {EVENT} (libvirt, ended 2020-01-01, expired 2020-01-03): 3 domains" in log.read_text(), (
        log.read_text()
    )
    forwarders = subprocess.run(["pgrep", "-af", "socat TCP-LISTEN:2722"], capture_output=True, text=True, check=False)
    assert forwarders.stdout == "", forwarders.stdout
    assert not (Path(env["LEARNHPC_EVENTS_DIR"]) / ".state" / EVENT).exists()
    # Nor their logs: the console's, and QEMU's that libvirt keeps (named by node, not by the event's prefix,
    # which another event's nodes may share).
    log_dir = Path(libvirt_api.CONSOLE_LOG_DIR)
    logs = sorted(
        path.name
        for node in NODES
        for pattern in (f"{node}.log*", f"{node}-console.log*")
        for path in log_dir.glob(pattern)
    )
    assert logs == [], logs
    assert bystander_objects() == bystander


def test_teardown_after_reap_changes_nothing(env, bystander):
    status, output, recap = playbook("teardown.yml", env, "-e", "learnhpc_provider=libvirt")
    assert status == 0, output[-3000:]
    assert recap.get("localhost") == 0, recap
    assert event_objects() == {"domains": [], "networks": [], "pools": []}
    assert bystander_objects() == bystander
