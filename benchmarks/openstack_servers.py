# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time to get N servers ACTIVE: learnhpc.cluster.openstack_event_servers (all creates, then one wait) against a
loop of openstack.cloud.server tasks with wait: true (one server after the other). Prints a table.

    LEARNHPC_OPENSTACK_CLOUDS=/path/to/clouds.yaml .venv/bin/python benchmarks/openstack_servers.py [N ...]

N defaults to "1 20". The cloud is ``learnhpc-test`` (LEARNHPC_OPENSTACK_CLOUD); image and flavor as in
tests/integration/openstack (LEARNHPC_OPENSTACK_IMAGE, LEARNHPC_OPENSTACK_FLAVOR; default: first active
image, smallest flavor). Servers are made under the events osmod-bench-a / osmod-bench-b on a network of
the event osmod-bench-net, and all of them are removed afterwards with openstack_event_resources. Not part of
`make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSIBLE = str(ROOT / ".venv/bin/ansible")
PYTHON = str(ROOT / ".venv/bin/python")
CLOUDS = os.environ.get("LEARNHPC_OPENSTACK_CLOUDS", "")
CLOUD = os.environ.get("LEARNHPC_OPENSTACK_CLOUD", "learnhpc-test")
NET_EVENT = "osmod-bench-net"


def env():
    return dict(
        os.environ,
        OS_CLIENT_CONFIG_FILE=CLOUDS,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )


def run(cmd):
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd[:6])} ...\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return seconds


def module(name, **args):
    args.setdefault("cloud", CLOUD)
    return run(
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
            f"learnhpc.cluster.{name}",
            "-a",
            json.dumps(args),
        ]
    )


def loop_playbook(names, image, flavor, network, event):
    play = [
        {
            "name": "One openstack.cloud.server task per server",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Create the server",
                    "openstack.cloud.server": {
                        "cloud": CLOUD,
                        "name": "{{ item }}",
                        "image": image,
                        "flavor": flavor,
                        "network": network,
                        "auto_ip": False,
                        "wait": True,
                        "timeout": 1800,
                        "metadata": {"org.learnhpc.event": event, "org.learnhpc.roles": "compute"},
                    },
                    "loop": names,
                }
            ],
        }
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump(play, handle)
    try:
        playbook = str(ROOT / ".venv/bin/ansible-playbook")
        return run([playbook, "-i", "localhost,", "-e", f"ansible_python_interpreter={PYTHON}", handle.name])
    finally:
        os.unlink(handle.name)


def main():
    if not Path(CLOUDS).is_file():
        sys.exit("set LEARNHPC_OPENSTACK_CLOUDS to a clouds.yaml")
    counts = [int(arg) for arg in sys.argv[1:]] or [1, 20]
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS
    import openstack  # noqa: PLC0415 - after OS_CLIENT_CONFIG_FILE is set

    conn = openstack.connect(cloud=CLOUD)
    images = [i for i in conn.image.images() if i.status == "active"]
    image = next(i for i in images if os.environ.get("LEARNHPC_OPENSTACK_IMAGE") in (None, i.name, i.id))
    flavors = sorted(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    flavor = next(
        f for f in flavors if os.environ.get("LEARNHPC_OPENSTACK_FLAVOR") in (None, f.name, f.id) and f.disk >= 0
    )
    for event in ("osmod-bench-a", "osmod-bench-b", NET_EVENT):
        module("openstack_event_resources", event=event, timeout=1800)
    network = conn.network.create_network(name=f"{NET_EVENT}-net")
    conn.network.set_tags(network, [f"learnhpc-event={NET_EVENT}"])
    subnet = conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.198.0.0/22")
    conn.network.set_tags(subnet, [f"learnhpc-event={NET_EVENT}"])
    rows = []
    try:
        for count in counts:
            event = "osmod-bench-a"
            servers = [
                {
                    "name": f"{event}-compute-{i:02d}",
                    "flavor": flavor.name,
                    "image": image.name,
                    "network": network.name,
                    "roles": ["compute"],
                }
                for i in range(1, count + 1)
            ]
            ours = module("openstack_event_servers", event=event, end_date="2099-12-31", servers=servers, timeout=1800)
            module("openstack_event_resources", event=event, timeout=1800)
            event = "osmod-bench-b"
            names = [f"{event}-compute-{i:02d}" for i in range(1, count + 1)]
            theirs = loop_playbook(names, image.name, flavor.name, network.name, event)
            module("openstack_event_resources", event=event, timeout=1800)
            rows.append((count, ours, theirs))
    finally:
        for event in ("osmod-bench-a", "osmod-bench-b", NET_EVENT):
            module("openstack_event_resources", event=event, timeout=1800)
    print(f"flavor {flavor.name}, image {image.name}, cloud {CLOUD}")
    print(f"{'servers':>7}  {'openstack_event_servers':>23}  {'openstack.cloud.server loop':>27}  {'ratio':>6}")
    for count, ours, theirs in rows:
        print(f"{count:>7}  {ours:>22.1f}s  {theirs:>26.1f}s  {theirs / ours:>5.1f}x")


if __name__ == "__main__":
    main()
