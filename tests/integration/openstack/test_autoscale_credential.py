# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slurm_autoscale role's application credential (entry point credential) against a real OpenStack API.

Skipped unless LEARNHPC_OPENSTACK_CLOUDS is the path of a clouds.yaml with the cloud ``learnhpc-test`` (the test
cloud of ``make test``). The credential of the event ``osas-it`` is created, used, made again when its kept secret
is lost, and removed by event_resources as a teardown would. Run from the collection root:

    LEARNHPC_OPENSTACK_CLOUDS=/path/to/clouds.yaml .venv/bin/pytest -v \
        tests/integration/openstack/test_autoscale_credential.py
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

CLOUDS = os.environ.get("LEARNHPC_OPENSTACK_CLOUDS")
pytestmark = pytest.mark.skipif(
    not CLOUDS or not Path(CLOUDS).is_file(), reason="LEARNHPC_OPENSTACK_CLOUDS does not name a clouds.yaml"
)

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / ".venv/bin"
CLOUD = "learnhpc-test"
EVENT = "osas-it"
NAME = f"{EVENT}-autoscale"

PLAYBOOK = """\
- name: The event's application credential
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Make it
      ansible.builtin.include_role:
        name: learnhpc.cluster.slurm_autoscale
        tasks_from: credential
      vars:
        slurm_autoscale_event: {event}
        slurm_autoscale_openstack_cloud: {cloud}
        slurm_autoscale_openstack_secrets_dir: {secrets}
        slurm_autoscale_openstack_expires: "2099-12-31"
"""


def play(path, *args, check=True):
    env = dict(
        os.environ,
        OS_CLIENT_CONFIG_FILE=CLOUDS,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
    )
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={BIN / 'python'}",
            path,
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"ansible-playbook failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc


def changed(proc):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout.split("PLAY RECAP")[-1]))


@pytest.fixture(scope="module")
def cloud():
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    conn = openstack.connect(cloud=CLOUD)
    for cred in conn.identity.application_credentials(user=conn.current_user_id):
        if cred.name == NAME:
            conn.identity.delete_application_credential(conn.current_user_id, cred)
    yield conn
    for cred in conn.identity.application_credentials(user=conn.current_user_id):
        if cred.name == NAME:
            conn.identity.delete_application_credential(conn.current_user_id, cred)


def credentials(conn):
    return [c for c in conn.identity.application_credentials(user=conn.current_user_id) if c.name == NAME]


def test_credential_lifecycle(cloud, tmp_path):
    secrets = tmp_path / "autoscale"
    playbook = tmp_path / "credential.yml"
    playbook.write_text(PLAYBOOK.format(event=EVENT, cloud=CLOUD, secrets=secrets))

    first = play(str(playbook))
    (made,) = credentials(cloud)
    assert made.unrestricted is False
    assert str(made.expires_at).startswith("2099-12-31T23:59:59")
    rules = {(r["service"], r["method"], r["path"]) for r in made.access_rules}
    assert ("compute", "POST", "/v2.1/servers") in rules
    assert ("compute", "DELETE", "/v2.1/servers/*") in rules
    assert all(method in ("GET", "POST", "DELETE") for _service, method, _path in rules)
    assert not any(service == "identity" for service, _method, _path in rules)

    kept = secrets / "application_credential.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((secrets / "autoscale_ed25519").stat().st_mode) == 0o600
    secret = json.loads(kept.read_text())
    assert secret["id"] == made.id and secret["secret"] and secret["auth_url"]
    assert secret["secret"] not in first.stdout + first.stderr

    # The credential authenticates, and may list the project's servers.
    import openstack  # noqa: PLC0415

    scoped = openstack.connect(
        auth_type="v3applicationcredential",
        auth={
            "auth_url": secret["auth_url"],
            "application_credential_id": secret["id"],
            "application_credential_secret": secret["secret"],
        },
        region_name=secret.get("region_name") or None,
    )
    assert isinstance(list(scoped.compute.servers()), list)
    # Nova enforces the access rules: a call outside them (the project's key pairs) is refused.
    with pytest.raises(openstack.exceptions.HttpException) as refused:
        list(scoped.compute.keypairs())
    assert refused.value.status_code in (401, 403), refused.value

    # A second run changes nothing; a lost secret makes a new credential (and only one).
    assert changed(play(str(playbook))) == 0
    kept.unlink()
    assert changed(play(str(playbook))) > 0
    (again,) = credentials(cloud)
    assert again.id != made.id
    assert json.loads(kept.read_text())["id"] == again.id

    # The teardown's module removes it with the event's other resources.
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=CLOUDS, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run(
        [
            str(BIN / "ansible"),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={BIN / 'python'}",
            "-m",
            "learnhpc.cluster.event_resources",
            "-a",
            json.dumps({"cloud": CLOUD, "event": EVENT, "state": "absent"}),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert credentials(cloud) == []
