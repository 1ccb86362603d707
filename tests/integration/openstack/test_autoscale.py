# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slurm_autoscale role's OpenStack side against a real OpenStack API: its application credential (entry point
credential) and its resume, suspend and reconcile program using that credential.

Skipped unless LEARNHPC_OPENSTACK_CLOUDS is the path of a clouds.yaml with the cloud ``learnhpc-test`` (the test
cloud of ``make test``). The credential of the event ``osas-it`` is created, used, made again when its kept secret
is lost, and removed by openstack_event_resources as a teardown would. The program runs for the event ``osasr-it``
with a credential of its own (see below for what stands in). Run from the collection root:

    LEARNHPC_OPENSTACK_CLOUDS=/path/to/clouds.yaml .venv/bin/pytest -v tests/integration/openstack/test_autoscale.py
"""

from __future__ import annotations

import json
import os
import re
import stat
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
    # Servers, and nothing else (the program below shows that this is enough).
    rules = {(r["service"], r["method"], r["path"]) for r in made.access_rules}
    assert rules == {
        ("compute", "POST", "/v2.1/servers"),
        ("compute", "GET", "/v2.1/servers/detail"),
        ("compute", "GET", "/v2.1/servers/*"),
        ("compute", "DELETE", "/v2.1/servers/*"),
    }

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
    result, _seconds = ansible("openstack_event_resources", event=EVENT, state="absent")
    assert not result.get("failed"), result.get("msg")
    assert credentials(cloud) == []


# -- the resume, suspend and reconcile program through the credential ------------------------------------------------
#
# The program (roles/slurm_autoscale/files/learnhpc_autoscale.py) runs here as slurmctld would run it, with the
# event's credential and settings as the role writes them, against the test cloud. Two things stand in: Slurm (a
# fake scontrol that answers from a table and records what it was told: the molecule scenario autoscale runs the
# program against a real slurmctld) and the servers' operating system (Nova's fake driver boots none, so node-init
# cannot run: a resume here always ends at the SSH step, and the test checks what it leaves).
#
# The program runs twice: with this project's openstacksdk (.venv) and with Debian 12's python3-openstacksdk, which
# is what the controller runs; the test cloud's container (TEST_CLOUD_CONTAINER) is Debian 12 and has it.

TEST_CLOUD_CONTAINER = os.environ.get("LEARNHPC_TEST_CLOUD_CONTAINER", "learnhpc-test-cloud")

RUN_EVENT = "osasr-it"
RUN_NODES = [f"{RUN_EVENT}-compute-02", f"{RUN_EVENT}-compute-03"]

FAKE_SCONTROL = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_SCONTROL_STATES"]) as stream:
    states = json.load(stream)
if args[:2] in (["show", "hostnames"], ["show", "hostlistsorted"]):
    print("\\n".join(args[2].split(",")) if args[1] == "hostnames" else args[2])
elif args[:3] == ["--oneliner", "show", "node"]:
    for name in args[3].split(","):
        if name in states:
            flags, reason = states[name]
            print(f"NodeName={{name}} State={{flags}} Partitions=batch" + (f" Reason={{reason}}" if reason else ""))
elif args[0] == "update":
    with open(os.environ["FAKE_SCONTROL_UPDATES"], "a") as stream:
        stream.write(" ".join(args[1:]) + "\\n")
else:
    sys.exit(f"fake scontrol: unexpected {{args}}")
"""


def debian_container():
    """The test cloud's container when it runs here, else None; it must have Debian's openstacksdk."""
    try:
        running = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Running}}", TEST_CLOUD_CONTAINER],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if running.stdout.strip() != "true":
        return None
    check = ["docker", "exec", TEST_CLOUD_CONTAINER, "python3", "-c", "import openstack"]
    done = subprocess.run(check, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"{TEST_CLOUD_CONTAINER} has no python3-openstacksdk: {done.stderr[-300:]}"
    return TEST_CLOUD_CONTAINER


@pytest.fixture(scope="module", params=["venv", "debian"])
def program_settings(request, tmp_path_factory):
    """The program's settings (config.json as the role writes it) for event RUN_EVENT, and what it runs on."""
    container = debian_container() if request.param == "debian" else None
    if request.param == "debian" and container is None:
        pytest.skip(f"no running container {TEST_CLOUD_CONTAINER} (the test cloud of scripts/openstack-cloud.sh)")
    python = "/usr/bin/python3" if container else str(BIN / "python")
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS
    import openstack  # noqa: PLC0415 - only when the test is not skipped

    conn = openstack.connect(cloud=CLOUD)
    base = tmp_path_factory.mktemp("autoscale")
    secrets = base / "secrets"
    playbook = base / "credential.yml"
    playbook.write_text(PLAYBOOK.format(event=RUN_EVENT, cloud=CLOUD, secrets=secrets))
    play(str(playbook))
    kept = json.loads((secrets / "application_credential.json").read_text())
    clouds = base / "clouds.yaml"
    clouds.write_text(
        json.dumps(
            {
                "clouds": {
                    "learnhpc-autoscale": {
                        "auth_type": "v3applicationcredential",
                        "auth": {
                            "auth_url": kept["auth_url"],
                            "application_credential_id": kept["id"],
                            "application_credential_secret": kept["secret"],
                        },
                        "region_name": kept.get("region_name") or "RegionOne",
                    }
                }
            }
        )
    )
    clouds.chmod(0o600)
    images = [i for i in conn.image.images() if i.status == "active"]
    assert images, "the test cloud has no active image"
    image = images[0]
    flavor = min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    network = conn.network.create_network(name=f"{RUN_EVENT}-net")
    conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.198.0.0/24", name=f"{RUN_EVENT}-subnet")
    bindir = base / "bin"
    bindir.mkdir()
    scontrol = bindir / "scontrol"
    scontrol.write_text(FAKE_SCONTROL.format(python=python))
    # As the role installs them: the program, node-init and the collection's contract.py beside them.
    for name in ("learnhpc_autoscale.py", "learnhpc-node-init.sh"):
        (base / name).write_text((ROOT / "roles/slurm_autoscale/files" / name).read_text())
    (base / "contract.py").write_text((ROOT / "plugins/module_utils/contract.py").read_text())
    scontrol.chmod(0o755)
    node_files = base / "node-files.json"
    key = {"path": "/etc/munge/munge.key", "content": "a2V5", "mode": "0400", "uid": 0, "gid": 0}
    node_files.write_text(json.dumps([key]))
    (base / "state").mkdir()
    config = {
        "event": RUN_EVENT,
        "provider": "openstack",
        "nodes": RUN_NODES,
        "log": str(base / "autoscale.log"),
        "state_dir": str(base / "state"),
        "files": str(node_files),
        "inject_failures": 0,
        "orphan_grace_seconds": 0,
        "docker": {},
        "openstack": {
            "cloud": "learnhpc-autoscale",
            "clouds_yaml": str(clouds),
            "image": image.id,
            "flavor": flavor.id,
            "network": network.id,
            "security_groups": ["default"],
            "metadata": {"org.learnhpc.event": RUN_EVENT, "org.learnhpc.roles": "compute"},
            "user_data": "#cloud-config\nssh_authorized_keys:\n  - "
            + (secrets / "autoscale_ed25519.pub").read_text().strip()
            + "\n",
            "ssh_user": "debian",
            "ssh_key": str(secrets / "autoscale_ed25519"),
            "known_hosts_dir": str(base / "state" / "known_hosts.d"),
            "node_init": str(base / "learnhpc-node-init.sh"),
            "packages": ["slurmd"],
            "ssh_timeout": 5,
            "boot_timeout": 300,
        },
    }
    (base / "config.json").write_text(json.dumps(config))
    yield {
        "base": base,
        "conn": conn,
        "image": image,
        "flavor": flavor,
        "network": network,
        "python": python,
        "container": container,
    }
    for server in conn.compute.servers(details=True):
        if (server.metadata or {}).get("org.learnhpc.event") == RUN_EVENT:
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=300)
    for port in conn.network.ports(network_id=network.id):
        conn.network.delete_port(port)
    conn.network.delete_network(network)
    if container:
        subprocess.run(["docker", "exec", container, "rm", "-rf", str(base)], check=False)
    for cred in conn.identity.application_credentials(user=conn.current_user_id):
        if cred.name == f"{RUN_EVENT}-autoscale":
            conn.identity.delete_application_credential(conn.current_user_id, cred)


def autoscale(settings, *args, states=None, background=False):
    """Run the program (``learnhpc-ACTION HOSTLIST``) with the fake scontrol knowing ``states``.

    In the Debian container, the settings directory is copied there first, at the same path.
    """
    base, container = settings["base"], settings["container"]
    (base / "states.json").write_text(json.dumps(states or {}))
    variables = {
        "PATH": f"{base / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LEARNHPC_AUTOSCALE_CONFIG": str(base / "config.json"),
        "FAKE_SCONTROL_STATES": str(base / "states.json"),
        "FAKE_SCONTROL_UPDATES": str(base / "updates"),
    }
    command = [settings["python"], str(base / "learnhpc_autoscale.py"), *args]
    env = dict(os.environ, **variables)
    env.pop("OS_CLIENT_CONFIG_FILE", None)  # the program reads only the clouds.yaml of its settings
    if container:
        # Through tar: docker cp cannot write into the container's /tmp, a tmpfs.
        archive = subprocess.run(["tar", "-C", str(base), "-c", "."], capture_output=True, check=True).stdout
        unpack = f"mkdir -p {base} && tar -C {base} -x"
        subprocess.run(["docker", "exec", "-i", container, "sh", "-c", unpack], input=archive, check=True)
        command = ["docker", "exec", *(f"--env={k}={v}" for k, v in variables.items()), container, *command]
    if background:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=900)


def written(settings, name):
    """The lines of a file the program or the fake scontrol wrote in the settings directory."""
    path = settings["base"] / name
    if settings["container"]:
        read = ["docker", "exec", settings["container"], "cat", str(path)]
        done = subprocess.run(read, capture_output=True, text=True, check=False)
        return done.stdout.splitlines()
    return path.read_text().splitlines() if path.exists() else []


def log_lines(settings):
    return written(settings, "autoscale.log")


def event_servers(conn):
    found = conn.compute.servers(details=True)
    return {s.name: s for s in found if (s.metadata or {}).get("org.learnhpc.event") == RUN_EVENT}


def make_server(settings, name, metadata):
    conn = settings["conn"]
    server = conn.compute.create_server(
        name=name,
        image_id=settings["image"].id,
        flavor_id=settings["flavor"].id,
        networks=[{"uuid": settings["network"].id}],
        metadata=dict({"org.learnhpc.event": RUN_EVENT}, **metadata),
    )
    return conn.compute.wait_for_server(server, wait=300)


def test_resume_through_the_credential_leaves_no_half_node(program_settings):
    settings, conn = program_settings, program_settings["conn"]
    name = RUN_NODES[0]
    proc = autoscale(settings, "resume", name, background=True)
    # While the program waits for SSH, the server it made is there, made as the settings say.
    deadline = time.monotonic() + 300
    seen = None
    while seen is None and proc.poll() is None and time.monotonic() < deadline:
        server = event_servers(conn).get(name)
        if server is not None and server.status == "ACTIVE":
            seen = server
        time.sleep(1)
    out = proc.communicate(timeout=600)[0]
    lines = log_lines(settings)
    assert seen is not None, f"the resume program made no server {name}: {lines} {out}"
    assert seen.metadata["org.learnhpc.autoscaled"] == "true"
    assert seen.metadata["org.learnhpc.roles"] == "compute"
    assert seen.image["id"] == settings["image"].id
    assert seen.flavor["original_name"] == settings["flavor"].name
    assert [g["name"] for g in seen.security_groups] == ["default"]
    assert any(a["addr"].startswith("10.198.0.") for entries in seen.addresses.values() for a in entries)
    # Nova's fake servers run nothing, so SSH never answers: the resume fails, removes the server, marks the node down.
    assert proc.returncode == 1, out
    assert any(f"{name}: failed after" in line and "does not answer over SSH" in line for line in lines), lines
    assert any(f"{name}: removed what was created" in line for line in lines), lines
    assert name not in event_servers(conn)
    updates = written(settings, "updates")
    assert updates == [f"nodename={name} state=DOWN reason=learnhpc-autoscale: resume failed, see the autoscale log"]


def test_suspend_and_reconcile_through_the_credential(program_settings):
    settings, conn = program_settings, program_settings["conn"]
    up, orphan = RUN_NODES[1], RUN_NODES[0]
    make_server(settings, up, {"org.learnhpc.autoscaled": "true"})
    make_server(settings, orphan, {"org.learnhpc.autoscaled": "true"})
    static = make_server(settings, f"{RUN_EVENT}-compute-01", {})

    # Slurm powers a node down: suspend removes its server.
    done = autoscale(settings, "suspend", up)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(f"{up}: removed" in line for line in log_lines(settings))
    assert up not in event_servers(conn)

    # A server Slurm does not know is an orphan for reconcile; the event's static node is not the program's.
    done = autoscale(settings, "reconcile", states={up: ["IDLE+CLOUD+POWERED_DOWN", ""]})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = log_lines(settings)
    assert any(f"{orphan}: removed from the provider (unknown to Slurm)" in line for line in lines), lines
    assert set(event_servers(conn)) == {static.name}
    # Nova removed the ports of the servers it deleted: only the static node's is left on the network.
    ports = list(conn.network.ports(network_id=settings["network"].id))
    # Every port in the message: this check failed once, under load, and its details were lost.
    seen = [(p.id, p.device_owner, p.device_id, p.status) for p in ports]
    assert [p.device_id for p in ports if (p.device_owner or "").startswith("compute:")] == [static.id], (
        f"static {static.id}; ports (id, owner, device, status): {seen}; servers: {event_servers(conn)}; "
        f"log: {log_lines(settings)[-8:]}"
    )
    done = autoscale(settings, "reconcile", states={up: ["IDLE+CLOUD+POWERED_DOWN", ""]})
    assert done.returncode == 0, done.stdout + done.stderr
    assert log_lines(settings)[-1].endswith("0 at the provider, 0 change(s)")
