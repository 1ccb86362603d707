# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole event on OpenStack: site.yml from nothing to a guest's job, autoscaling, reaping.

Against the test cloud of ``make test`` (LEARNHPC_OPENSTACK_CLOUDS names its clouds.yaml), whose
servers boot the image ``debian-12`` (a container of learnhpc/cloud-node:12 per server, on
Neutron's real network; docs/openstack-test-cloud.md). The event ``osite`` has a management
node, a login node, two compute nodes and a third that exists only while jobs need it
(autoscaling), JupyterHub on, and ``openstack.shared_storage: site``: the test cloud gives the
servers of one event shared Docker volumes at /home, /project and /scratch, as a site's CephFS
or Lustre would (kernel NFS cannot run here).

In order, as a trainer and a guest would:
- ``playbooks/openstack_image.yml`` bakes the node image as a Glance image: a build server of the
  event, the packages, a snapshot; it leaves nothing of the event on the cloud, and a second run
  makes nothing. The event file then names that image (``openstack.image``), as a trainer's would.
  The test cloud's ``debian-12`` already holds the packages (a shortcut of the test cloud), so the
  installs here find everything; the same playbook installs them for real into plain Debian when
  ``make setup`` builds the docker provider's node image (scripts/images/node.sh);
- a first ``site.yml`` is stopped (SIGINT, as ^C) while it configures the nodes;
- ``site.yml`` again provisions what is missing, configures and checks (the readiness job on
  every compute node, JupyterHub at the floating IP), and prints the summary; no node installed
  a package (apt's history is empty on each);
- a second ``site.yml`` changes nothing;
- a compute node forced into ERROR (as an administrator can) is replaced by the next
  ``site.yml``, which configures the new server and converges;
- a guest logs in over SSH at the floating IP with the password from the sheet and runs a
  2-node job, which sees the same private home on both nodes;
- with a key of their own in their home, the guest cannot SSH from the login node to mgmt,
  nor to a compute node without a job of theirs there (pam_slurm_adopt); with one, they can;
- the guest's 3-node job makes Slurm create the third server through the event's application
  credential; node-init sets it up, the job runs on it, and the server is deleted after the
  suspend time;
- JupyterHub answers at the floating IP over HTTPS, trusted through the event's CA only;
- ``reap.yml``, once the event has expired, removes it with everything it has, and leaves the
  bystander event ``osite-b`` (provisioned only; its name starts with ``osite-``) alone; the
  ``openstack`` CLI (in the test cloud) then counts 0 servers, ports, floating IPs, routers,
  networks, subnets, security groups, key pairs, volumes and application credentials of the
  event; ``teardown.yml`` of the bystander leaves 0 of it the same way.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_cloud import connect
from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_provider import (
    ADMIN_CLOUD,
    BIN,
    CLOUD,
    CLOUDS,
    ROOT,
    playbook,
    playbook_setting,
)
from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_servers import SSH_THROWAWAY

pytestmark = pytest.mark.skipif(
    not CLOUDS or not Path(CLOUDS).is_file(), reason="LEARNHPC_OPENSTACK_CLOUDS does not name a clouds.yaml"
)

EVENT = "osite"

EVENT_FILE = f"""\
name: {EVENT}
description: The whole event on the OpenStack test cloud
provider: openstack
end_date: 2099-12-31
nodes:
  compute:
    count: 2
    max_count: 3
autoscale:
  suspend_minutes: 1
  reconcile_minutes: 1
openstack:
  cloud: {CLOUD}
  image: debian-12
  flavors: {{mgmt: m1.small, login: m1.small, compute: m1.medium}}
  external_network: public
  network_cidr: 10.64.0.0/24
  # This machine reaches the floating IPs from its Docker bridge address.
  allowed_cidrs: [172.16.0.0/12]
  shared_storage: site
accounts:
  guests: 3
  instructors:
    - name: trainer
      ssh_key: generate
software:
  eessi: false
services:
  jupyterhub: true
"""


# Provisioned only, to be left alone by the reaping of EVENT; its names start with EVENT's.
BYSTANDER = f"{EVENT}-b"
BYSTANDER_FILE = f"""\
name: {BYSTANDER}
provider: openstack
end_date: 2099-12-31
nodes:
  compute:
    count: 1
openstack:
  cloud: {CLOUD}
  image: debian-12
  flavors: {{mgmt: m1.tiny, login: m1.tiny, compute: m1.tiny}}
  external_network: public
  network_cidr: 10.65.0.0/24
  allowed_cidrs: [192.0.2.0/24]
"""

# The test cloud's container and the demo project's credentials for its own openstack CLI.
CLOUD_CONTAINER = "learnhpc-test-cloud"
CLI_ENV = {
    "OS_AUTH_URL": "http://127.0.0.1:5000/v3",
    "OS_IDENTITY_API_VERSION": "3",
    "OS_USERNAME": "demo",
    "OS_PASSWORD": "secret",  # TEST-ONLY: the throwaway test cloud's fixed password
    "OS_PROJECT_NAME": "demo",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "RegionOne",
    "OS_INTERFACE": "internal",
}


# The node images playbooks/openstack_image.yml makes, by their name.
NODE_IMAGE = re.compile(r"learnhpc-node-[0-9a-f]{16}")


def remove_node_images():
    """The node images of the demo project, and the Docker images that back them in the test cloud."""
    conn = connect(CLOUD)
    try:
        for image in list(conn.image.images()):
            if NODE_IMAGE.fullmatch(image.name or ""):
                conn.image.delete_image(image, ignore_missing=True)
    finally:
        conn.close()
    ids = subprocess.run(
        ["docker", "images", "-q", "--filter", "label=org.learnhpc.test-cloud.snapshot"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rmi", "-f", *sorted(set(ids))], capture_output=True, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("osite")
    events = base / "events"
    events.mkdir()
    (events / f"{EVENT}.yml").write_text(EVENT_FILE)
    (events / f"{BYSTANDER}.yml").write_text(BYSTANDER_FILE)
    inventory, env = playbook_setting(base, events)
    state = {"env": env, "inventory": str(inventory), "events": events}
    for event in (EVENT, BYSTANDER):  # what an earlier, interrupted run left
        playbook(state, "teardown.yml", event, local_python=False)
    remove_node_images()
    yield state
    for event in (EVENT, BYSTANDER):
        playbook(state, "teardown.yml", event, local_python=False)
    remove_node_images()


def run(state, name):
    """Run playbooks/<name> for the event (the servers are configured: their Python is their own)."""
    return playbook(state, name, EVENT, local_python=False)


def cli(*commands):
    """The parsed JSON output of each of ``commands`` (``"server list --long"``), in order.

    They run in one interactive session of the test cloud's own ``openstack`` CLI, as the demo
    project (one start of the client for all of them).
    """
    env = [f"--env={key}={value}" for key, value in CLI_ENV.items()]
    proc = subprocess.run(
        ["docker", "exec", "-i", *env, CLOUD_CONTAINER, "openstack"],
        input="".join(f"{command} -f json\n" for command in commands),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    decoder, text, found = json.JSONDecoder(), proc.stdout, []
    position = 0
    while len(found) < len(commands):
        while position < len(text) and text[position].isspace():
            position += 1
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            break
        found.append(value)
    assert proc.returncode == 0 and len(found) == len(commands), f"openstack {commands}: {text}{proc.stderr}"
    return found


def cli_count(event, known=None):
    """What the openstack CLI finds of ``event`` in the project, by kind (names or IDs).

    Servers, volumes: by their metadata; Neutron resources: by the event's tag or by the exact
    names the collection gives them; key pair and application credential: by their exact names;
    ports: those with an address on the event's subnets or of its servers, including the IDs in
    ``known`` (recorded while the event existed: once they are gone, nothing else names them).
    """
    known = known or {"subnets": set(), "servers": set()}
    tag = f"learnhpc-event={event}"
    names = {f"{event}-{suffix}" for suffix in ("net", "subnet", "router", "internal", "login", "globus")}

    def of_event(item):
        """Whether a server's or volume's properties (metadata) name the event."""
        properties = item.get("Properties") or {}
        return isinstance(properties, dict) and properties.get("org.learnhpc.event") == event

    def neutron(items):
        return [item for item in items if tag in (item.get("Tags") or []) or item["Name"] in names]

    servers, subnets, ports, ips, routers, networks, groups, keypairs, volumes, token = cli(
        "server list --long",
        "subnet list --long",
        "port list --long",
        "floating ip list --long",
        "router list --long",
        "network list --long",
        "security group list",
        "keypair list",
        "volume list --long",
        "token issue",
    )
    servers = [s for s in servers if of_event(s)]
    subnets = neutron(subnets)
    subnet_ids = {n["ID"] for n in subnets} | known["subnets"]
    server_ids = sorted({s["ID"] for s in servers} | known["servers"])
    *by_server, credentials = cli(
        *(f"port list --device-id {server_id}" for server_id in server_ids),
        f"application credential list --user {token['user_id']}",
    )
    ours = {
        p["ID"] for p in ports if any(ip.get("subnet_id") in subnet_ids for ip in p.get("Fixed IP Addresses") or [])
    }
    ours |= {p["ID"] for found in by_server for p in found}
    return {
        "servers": [s["Name"] for s in servers],
        "ports": sorted(ours),
        "floating_ips": [ip["Floating IP Address"] for ip in ips if tag in (ip.get("Tags") or [])],
        "routers": [r["Name"] for r in neutron(routers)],
        "networks": [n["Name"] for n in neutron(networks)],
        "subnets": [n["Name"] for n in subnets],
        "security_groups": [g["Name"] for g in neutron(groups)],
        "keypairs": [k["Name"] for k in keypairs if k["Name"] == f"{event}-key"],
        "volumes": [v["ID"] for v in volumes if of_event(v)],
        "application_credentials": [c["Name"] for c in credentials if c["Name"] == f"{event}-autoscale"],
    }


def recaps(output):
    """{host: {counter: value}} of the last PLAY RECAP."""
    block = output[output.rindex("PLAY RECAP") :]
    return {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s*:\s*(ok=.*)$", block, re.M)
    }


def login_address(state):
    text = (state["events"] / ".state" / EVENT / "credentials.csv").read_text()
    match = re.search(r"ssh \w+@(\d+\.\d+\.\d+\.\d+)", text)
    assert match, text
    return match.group(1)


def interrupted_site(state, marker, delay):
    """site.yml, stopped ``delay`` seconds after ``marker`` appears in its output, as a trainer's ^C would.

    Returns the output up to the stop and whether the marker came. SIGINT first (what ^C sends),
    SIGKILL if it lingers.
    """
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        state["inventory"],
        "-e",
        f"event={EVENT}",
        str(ROOT / "playbooks" / "site.yml"),
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=state["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines, seen = [], None
    deadline = time.monotonic() + 900
    for line in proc.stdout:
        lines.append(line)
        if seen is None and marker in line:
            seen = time.monotonic()
        if (seen is not None and time.monotonic() - seen >= delay) or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()
    return "".join(lines), seen is not None


def nothing_of(event):
    """What cli_count finds of ``event``, only the kinds that have something."""
    return {kind: found for kind, found in cli_count(event).items() if found}


def test_the_node_image_is_baked_and_named_in_the_event_file(site):
    """openstack_image.yml: a build server, the packages, a snapshot; nothing of the event is left."""
    rc, out, seconds = run(site, "openstack_image.yml")
    assert rc == 0, out[-6000:]
    flat = " ".join(out.split())  # the YAML callback wraps long messages
    match = re.search(rf"Image ({NODE_IMAGE.pattern}) is ready \(id ([0-9a-f-]+), from debian-12\)", flat)
    assert match, out[-4000:]
    name, image_id = match.groups()
    assert f"{EVENT}-image" in recaps(out), "no build server was configured"
    conn = connect(CLOUD)
    try:
        image = conn.image.get_image(image_id)
    finally:
        conn.close()
    assert (image.name, image.status) == (name, "active")
    properties = {**(image.properties or {})}
    assert properties.get("learnhpc_recipe") == name.removeprefix("learnhpc-node-")
    assert properties.get("learnhpc_base_image") == "debian-12"
    # The test cloud's servers boot the Docker image the property names: the build server's snapshot.
    assert properties.get("learnhpc_container_image") == f"learnhpc-os-snapshot:{image_id}"
    assert nothing_of(EVENT) == {}, "the build left resources of the event"
    print(f"openstack_image.yml, build server to image: {seconds:.0f} s")

    # Again: the image is there, so nothing is made and no server is started.
    rc, out, seconds = run(site, "openstack_image.yml")
    assert rc == 0, out[-6000:]
    assert f"Image {name} is up to date (id {image_id})" in " ".join(out.split()), out[-3000:]
    assert recaps(out)["localhost"]["changed"] == 0
    assert f"{EVENT}-image" not in recaps(out)
    assert nothing_of(EVENT) == {}
    print(f"openstack_image.yml again (up to date): {seconds:.0f} s")

    event_file = site["events"] / f"{EVENT}.yml"
    event_file.write_text(event_file.read_text().replace("image: debian-12", f"image: {name}", 1))
    site["node_image"] = name


def apt_installs(state):
    """{node: packages apt installed or upgraded on request (not as dependencies)} of every node of EVENT."""
    proc = subprocess.run(
        [
            str(BIN / "ansible"),
            "-i",
            state["inventory"],
            f"event_{EVENT}",
            "-m",
            "ansible.builtin.shell",
            "-a",
            "test -r /var/log/apt/history.log &&"
            " { grep -h -e ^Install: -e ^Upgrade: /var/log/apt/history.log || true; }",
            "-o",
        ],
        cwd=ROOT,
        env=state["env"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = {}
    assert proc.returncode == 0, f"cannot read apt's history: {proc.stdout}{proc.stderr}"
    for line in proc.stdout.splitlines():
        host, _sep, rest = line.partition(" | ")
        # "Install: slapd:amd64 (2.5.13+dfsg-5), libodbc2:amd64 (2.3.11-2+deb12u1, automatic)"
        entries = re.findall(r"([\w.+-]+):\w+ \(([^)]*)\)", rest)
        if entries:
            found[host] = sorted(name for name, version in entries if "automatic" not in version)
    return found


def test_site_from_nothing_to_ready_after_an_interrupted_first_run(site):
    """The first run stopped in the middle of configuring, as a trainer's ^C would; the second converges."""
    out, reached = interrupted_site(site, "Directory, accounting database and directory clients", 20)
    assert reached, out[-4000:]
    assert f"Event {EVENT} is ready" not in out
    rc, out, seconds = run(site, "site.yml")
    assert rc == 0, out[-6000:]
    counts = recaps(out)
    assert {f"{EVENT}-mgmt", f"{EVENT}-login", f"{EVENT}-compute-01", f"{EVENT}-compute-02"} <= set(counts)
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in counts.values()), counts
    assert f"Event {EVENT} is ready" in out
    print(f"site.yml after an interrupted first run, to ready: {seconds:.0f} s")
    # On the baked image the roles find their packages: no node installed one, except slapd, which
    # the image leaves out on purpose (its package makes a database for a made-up domain).
    assert site.get("node_image"), "the event does not run on the baked image"
    assert apt_installs(site) == {f"{EVENT}-mgmt": ["slapd"]}


def test_a_second_run_changes_nothing(site):
    rc, out, seconds = run(site, "site.yml")
    assert rc == 0, out[-6000:]
    changed = {host: c["changed"] for host, c in recaps(out).items() if c["changed"]}
    assert not changed, f"changed on a second run: {changed}\n" + "\n".join(
        line for line in out.splitlines() if line.startswith(("TASK", "changed:"))
    )
    print(f"site.yml again (no change): {seconds:.0f} s")


def test_a_server_in_error_is_replaced_and_the_event_converges(site):
    """An administrator's reset to ERROR between two runs: site.yml makes the server again and configures it."""
    conn, admin = connect(CLOUD), connect(ADMIN_CLOUD)
    broken = next(s for s in conn.compute.servers(details=True) if s.name == f"{EVENT}-compute-02")
    admin.compute.reset_server_state(broken.id, "error")
    assert conn.compute.get_server(broken.id).status == "ERROR"
    rc, out, seconds = run(site, "site.yml")
    assert rc == 0, out[-6000:]
    assert f"Event {EVENT} is ready" in out
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recaps(out).values()), recaps(out)
    now = next(s for s in conn.compute.servers(details=True) if s.name == f"{EVENT}-compute-02")
    assert now.id != broken.id and now.status == "ACTIVE"
    print(f"site.yml with compute-02 in ERROR, to ready: {seconds:.0f} s")


def guest_runs(site, tmp_path, script, timeout=600):
    """``script`` run by bash as the first guest, logged in over SSH at the floating IP with the password."""
    with (site["events"] / ".state" / EVENT / "credentials.csv").open(encoding="utf-8-sig") as stream:
        rows = [{key.strip().lower(): value for key, value in row.items()} for row in csv.DictReader(stream)]
    guest = next(row for row in rows if row["user"].startswith("guest"))
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{guest['password']}'\n")
    askpass.chmod(0o700)
    proc = subprocess.run(
        [
            "ssh",
            *SSH_THROWAWAY,
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            f"{guest['user']}@{login_address(site)}",
            "bash -s",
        ],
        input=script,
        env=dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY="none"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return guest["user"], proc.stdout


# A job on NODES nodes that prints, from each, the node's name and the owner and mode of $HOME.
WHERE_JOB = """\
set -e
cat > where.sh <<'END'
#!/bin/bash
echo "$(hostname) $(stat -c %U:%a "$HOME")"
END
chmod +x where.sh
rm -f where-*.out
sbatch --parsable --wait --nodes=NODES --ntasks-per-node=1 --output=where-%j.out --wrap='srun ./where.sh' >/dev/null
cat where-*.out
"""


def test_a_guest_logs_in_with_the_password_and_runs_a_two_node_job(site, tmp_path):
    user, out = guest_runs(site, tmp_path, WHERE_JOB.replace("NODES", "2"))
    assert sorted(out.split("\n")[:-1]) == [
        f"{EVENT}-compute-01 {user}:700",
        f"{EVENT}-compute-02 {user}:700",
    ], out


# The guest's view of the other nodes: their own key in their shared home, SSH from the login node.
GUEST_VIEW = """\
set -u
mkdir -p ~/.ssh && chmod 700 ~/.ssh
# The test cloud keeps an event's shared directories across its runs, as a site's file system
# would: host keys of an earlier run's servers are not this run's.
rm -f ~/.ssh/known_hosts
[ -f ~/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
cat ~/.ssh/id_ed25519.pub >>~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys
o="-o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=20"
try() { # try WHAT NODE: one line, the node's answer or "refused" (ssh -n: the script is on standard input)
    if out=$(ssh -n $o "$2" hostname 2>/dev/null); then
        echo "$1: $out"
    else
        echo "$1: refused"
    fi
}
try mgmt EVENT-mgmt
try "compute without a job" EVENT-compute-01
job=$(sbatch --parsable --nodelist=EVENT-compute-01 --time=10 --wrap='sleep 600')
for _ in $(seq 60); do [ "$(squeue -h -j "$job" -o %T)" = RUNNING ] && break; sleep 2; done
try "compute with a job" EVENT-compute-01
scancel "$job"
for _ in $(seq 60); do [ -z "$(squeue -h -j "$job" -o %T)" ] && break; sleep 2; done
try "compute after the job" EVENT-compute-01
"""


def test_a_guest_reaches_a_compute_node_only_into_a_job_there_and_never_mgmt(site, tmp_path):
    """Their own key in their shared home does not open mgmt, nor a compute node without their job there."""
    _user, out = guest_runs(site, tmp_path, GUEST_VIEW.replace("EVENT", EVENT))
    assert out.splitlines() == [
        "mgmt: refused",
        "compute without a job: refused",
        f"compute with a job: {EVENT}-compute-01",
        "compute after the job: refused",
    ], out


def autoscaled_servers(conn):
    return [
        s
        for s in conn.compute.servers(details=True)
        if (s.metadata or {}).get("org.learnhpc.event") == EVENT and (s.metadata or {}).get("org.learnhpc.autoscaled")
    ]


def test_a_three_node_job_makes_slurm_create_the_third_server(site, tmp_path):
    """Slurm resumes compute-03 through the application credential, node-init, the job runs there, it goes again."""
    conn = connect(CLOUD)
    assert not autoscaled_servers(conn)
    start = time.monotonic()
    user, out = guest_runs(site, tmp_path, WHERE_JOB.replace("NODES", "3"), timeout=1200)
    ran = time.monotonic() - start
    assert sorted(out.split("\n")[:-1]) == [
        f"{EVENT}-compute-01 {user}:700",
        f"{EVENT}-compute-02 {user}:700",
        f"{EVENT}-compute-03 {user}:700",
    ], out
    (server,) = autoscaled_servers(conn)
    mgmt = next(s for s in conn.compute.servers(details=True) if s.name == f"{EVENT}-mgmt")
    assert server.name == f"{EVENT}-compute-03"
    assert server.metadata["org.learnhpc.roles"] == "compute"
    assert server.metadata["org.learnhpc.expires"] == mgmt.metadata["org.learnhpc.expires"]
    print(f"3-node job, the third server created by Slurm: {ran:.0f} s")
    # suspend_minutes: 1; the suspend program deletes the server (reconcile would, were it left).
    start = time.monotonic()
    while autoscaled_servers(conn) and time.monotonic() - start < 420:
        time.sleep(10)
    assert not autoscaled_servers(conn), "the autoscaled server is still there 7 minutes after its job"
    print(f"the idle autoscaled server deleted {time.monotonic() - start:.0f} s after the job ended")


def test_jupyterhub_answers_at_the_floating_ip(site):
    context = ssl.create_default_context(cafile=str(site["events"] / ".state" / EVENT / "pki" / "ca.crt"))
    context.check_hostname = False  # the certificate names the login node, not the floating IP
    with urllib.request.urlopen(f"https://{login_address(site)}/hub/api", context=context, timeout=30) as resp:
        assert resp.status == 200
        assert b'"version"' in resp.read()


def known_ids(conn, event):
    """The IDs of the event's servers and subnet, which name its ports once the servers and subnet are gone."""
    return {
        "servers": {s.id for s in conn.compute.servers() if (s.metadata or {}).get("org.learnhpc.event") == event},
        "subnets": {n.id for n in conn.network.subnets(name=f"{event}-subnet")},
    }


def test_reap_removes_the_expired_event_and_nothing_else(site):
    rc, out, seconds = playbook(site, "provision.yml", BYSTANDER)
    assert rc == 0, out[-5000:]
    print(f"provision the bystander {BYSTANDER}: {seconds:.0f} s")
    bystander = cli_count(BYSTANDER)
    assert len(bystander["servers"]) == 3 and bystander["keypairs"] == [f"{BYSTANDER}-key"], bystander

    conn = connect(CLOUD)
    known = known_ids(conn, EVENT)
    before = cli_count(EVENT, known)
    assert len(before["servers"]) == 4 and before["application_credentials"] == [f"{EVENT}-autoscale"], before
    assert before["ports"] and before["floating_ips"] and before["keypairs"], before
    # Time passes: the servers say that the event expired (an event file's end date cannot be in the past).
    for server in conn.compute.servers(details=True):
        if (server.metadata or {}).get("org.learnhpc.event") == EVENT:
            conn.compute.set_server_metadata(server, **{"org.learnhpc.expires": "2020-01-08"})

    options = ("-e", "provider=openstack", "-e", f"cloud={CLOUD}")
    rc, out, seconds = playbook(site, "reap.yml", None, *options, local_python=False)
    assert rc == 0, out[-5000:]
    assert f"removing 1: {EVENT} (expired 2020-01-08)" in out, out[-3000:]
    print(f"reap of the configured event: {seconds:.0f} s")
    left = cli_count(EVENT, known)
    assert not any(left.values()), left
    assert not (site["events"] / ".state" / EVENT).exists()
    assert cli_count(BYSTANDER) == bystander
    log = (site["events"] / ".state" / "reap.log").read_text()
    assert f"removed {EVENT} (openstack, ended 2099-12-31, expired 2020-01-08)" in log, log


def test_teardown_leaves_nothing(site):
    known = known_ids(connect(CLOUD), BYSTANDER)
    rc, out, seconds = playbook(site, "teardown.yml", BYSTANDER, local_python=False)
    assert rc == 0, out[-4000:]
    assert "0 left" in out
    left = cli_count(BYSTANDER, known)
    assert not any(left.values()), left
    assert not (site["events"] / ".state" / BYSTANDER).exists()
    print(f"teardown: {seconds:.0f} s")
