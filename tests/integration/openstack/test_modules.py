# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenStack modules against a real OpenStack API, run through ``ansible localhost -m ...``.

Skipped unless LEARNHPC_OPENSTACK_CLOUDS is the path of a clouds.yaml with the cloud
``learnhpc-test`` (a non-admin project). LEARNHPC_OPENSTACK_IMAGE and LEARNHPC_OPENSTACK_FLAVOR
choose the image and flavor (default: the first active image, the smallest flavor).

What the modules make and remove is tested where the collection uses them: openstack_event_servers,
openstack_event_network, event_info and openstack_event_resources through provision.yml and teardown.yml in
test_provider.py, and a server in ERROR replaced by site.yml in test_site.py. Here: the quota
pre-check, which creates nothing. Run from the collection root:

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
def setting(conn):
    """The image and flavor of the servers."""
    wanted_image = os.environ.get("LEARNHPC_OPENSTACK_IMAGE")
    images = [i for i in conn.image.images() if i.status == "active"]
    image = next(i for i in images if wanted_image in (None, i.name, i.id))
    wanted_flavor = os.environ.get("LEARNHPC_OPENSTACK_FLAVOR")
    flavors = sorted(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    flavor = next(f for f in flavors if wanted_flavor in (None, f.name, f.id) and f.disk >= (image.min_disk or 0))
    return {"image": image.name, "flavor": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.ram}


def servers(setting):
    nodes = ["mgmt", "login"] + [f"compute-{i:02d}" for i in (1, 2, 3)]
    return [{"name": f"{EVENT}-{short}", "flavor": setting["flavor"]} for short in nodes]


def test_quota_check(setting):
    wanted = [{"name": s["name"], "flavor": s["flavor"]} for s in servers(setting)]
    result, _seconds = ansible("openstack_event_quota", event=EVENT, servers=wanted)
    assert result["needed"]["instances"] == 5
    assert result["needed"]["cores"] == 5 * setting["vcpus"]
    assert result["needed"]["ram"] == 5 * setting["ram"]
    print("quota:", json.dumps({"needed": result["needed"], "available": result["available"]}))
    assert not result.get("failed"), result.get("msg")
