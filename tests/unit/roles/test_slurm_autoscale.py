"""The slurm_autoscale role's program: what resume, suspend and reconcile do with Slurm and a provider.

Slurm's commands are replaced by a fake scontrol that records what it was asked and answers
from a table of node states; the provider is an in-memory one. The molecule scenario
autoscale runs the same program against real slurmctld and Docker.
"""

import importlib.util
import json
import tarfile
import time
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[3] / "roles" / "slurm_autoscale" / "files" / "learnhpc_autoscale.py"
SPEC = importlib.util.spec_from_file_location("learnhpc_autoscale", PROGRAM)
autoscale = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(autoscale)

NODES = ["ev-compute-02", "ev-compute-03"]


class FakeSlurm:
    """scontrol as the program calls it: hostnames, hostlistsorted, show node, update."""

    def __init__(self, states):
        self.states = states  # name -> (flags, reason)
        self.updates = []

    def __call__(self, command, check=True):
        assert command[0] == "scontrol"
        if command[1:3] == ["show", "hostnames"]:
            return "\n".join(command[3].split(",")) + "\n"
        if command[1:3] == ["show", "hostlistsorted"]:
            return command[3] + "\n"
        if command[1:3] == ["--oneliner", "show"]:
            lines = []
            for name in command[4].split(","):
                if name in self.states:
                    flags, reason = self.states[name]
                    line = f"NodeName={name} Arch=x86_64 State={flags} Partitions=batch"
                    lines.append(line + (f" Reason={reason}" if reason else ""))
            return "\n".join(lines) + "\n"
        if command[1] == "update":
            self.updates.append(command[2:])
            return ""
        raise AssertionError(f"unexpected command {command}")


class FakeProvider:
    def __init__(self, nodes=None, fail=None):
        self.nodes = dict(nodes or {})
        self.fail = fail or {}
        self.created, self.deleted = [], []

    def list(self):
        return dict(self.nodes)

    def create(self, name, fail=None):
        self.nodes[name] = {"created": 0}
        self.created.append(name)
        if fail or name in self.fail:
            raise autoscale.ProviderError(fail or self.fail[name])
        return "started"

    def delete(self, name):
        self.deleted.append(name)
        return self.nodes.pop(name, None) is not None


@pytest.fixture
def scaler(monkeypatch, tmp_path):
    lines = []

    def make(states=None, provider=None, **config):
        slurm = FakeSlurm(states or {})
        monkeypatch.setattr(autoscale, "run", slurm)
        settings = {"event": "ev", "nodes": NODES, "state_dir": str(tmp_path), "orphan_grace_seconds": 0}
        settings.update(config)
        provider = provider or FakeProvider()
        return autoscale.Autoscaler(
            settings, provider, lambda action, message: lines.append(f"{action}: {message}")
        ), slurm

    make.lines = lines
    return make


def test_resume_creates_every_node(scaler):
    scale, slurm = scaler()
    assert scale.resume(NODES) == 0
    assert sorted(scale.provider.created) == NODES
    assert slurm.updates == []
    assert sum("started" in line for line in scaler.lines) == 2


def test_resume_leaves_other_nodes_alone(scaler):
    scale, _slurm = scaler()
    scale.resume(["ev-compute-02", "other-compute-01"])
    assert scale.provider.created == ["ev-compute-02"]
    assert any("other-compute-01: not an autoscaled node of event ev" in line for line in scaler.lines)


def test_failed_resume_removes_the_half_node_and_marks_it_down(scaler):
    scale, slurm = scaler(provider=FakeProvider(fail={"ev-compute-03": "quota exceeded"}))
    assert scale.resume(NODES) == 1
    assert "ev-compute-03" not in scale.provider.nodes
    assert "ev-compute-02" in scale.provider.nodes
    assert slurm.updates == [
        ["nodename=ev-compute-03", "state=DOWN", "reason=learnhpc-autoscale: resume failed, see the autoscale log"]
    ]


def test_injected_failures_are_counted(scaler):
    scale, slurm = scaler(inject_failures=1)
    scale.resume(["ev-compute-02"])
    scale.resume(["ev-compute-03"])
    assert list(scale.provider.nodes) == ["ev-compute-03"]
    assert len(slurm.updates) == 1
    assert any("injected provider failure 1 of 1" in line for line in scaler.lines)


def test_suspend_removes_the_nodes(scaler):
    scale, _slurm = scaler(provider=FakeProvider({"ev-compute-02": {"created": 0}}))
    assert scale.suspend(NODES) == 0
    assert scale.provider.nodes == {}
    assert scaler.lines == ["suspend: ev-compute-02: removed", "suspend: ev-compute-03: was not there"]


def test_reconcile_removes_what_slurm_has_powered_down_or_does_not_know(scaler):
    provider = FakeProvider({n: {"created": 0} for n in ("ev-compute-02", "ev-compute-03", "ev-compute-09")})
    states = {
        "ev-compute-02": ("IDLE+CLOUD+POWERED_DOWN", ""),
        "ev-compute-03": ("MIXED+CLOUD", ""),
    }
    scale, slurm = scaler(states, provider)
    scale.reconcile()
    assert sorted(provider.nodes) == ["ev-compute-03"]
    assert slurm.updates == []
    assert "reconcile: ev-compute-02: removed from the provider (powered down in Slurm)" in scaler.lines
    assert "reconcile: ev-compute-09: removed from the provider (unknown to Slurm)" in scaler.lines


def test_reconcile_spares_young_and_booting_nodes(scaler):
    provider = FakeProvider({"ev-compute-02": {"created": time.time()}, "ev-compute-03": {"created": 0}})
    states = {"ev-compute-02": ("IDLE+CLOUD+POWERED_DOWN", ""), "ev-compute-03": ("IDLE+CLOUD+POWERING_UP", "")}
    scale, slurm = scaler(states, provider, orphan_grace_seconds=60)
    scale.reconcile()
    assert sorted(provider.nodes) == ["ev-compute-02", "ev-compute-03"]
    assert slurm.updates == []


@pytest.mark.parametrize(
    ("flags", "reason", "update"),
    [
        # Our resume failed: DOWN, still POWERING_UP until ResumeTimeout.
        ("DOWN+CLOUD+NOT_RESPONDING+POWERING_UP", "learnhpc-autoscale: resume failed", "state=POWER_DOWN_FORCE"),
        # Slurm gave up waiting: DOWN and POWERED_DOWN.
        ("DOWN+CLOUD+POWERED_DOWN+NOT_RESPONDING", "ResumeTimeout reached [slurm@2030-01-01T00:00:00]", "state=RESUME"),
        # Up in Slurm, gone at the provider.
        ("IDLE+CLOUD", "", "state=POWER_DOWN_FORCE"),
    ],
)
def test_reconcile_resets_nodes_in_slurm(scaler, flags, reason, update):
    scale, slurm = scaler({"ev-compute-02": (flags, reason), "ev-compute-03": ("IDLE+CLOUD+POWERED_DOWN", "")})
    scale.reconcile()
    assert len(slurm.updates) == 1
    assert slurm.updates[0][:2] == ["nodename=ev-compute-02", update]


def test_reconcile_leaves_a_node_downed_by_an_admin(scaler):
    scale, slurm = scaler({"ev-compute-02": ("DOWN+CLOUD+POWERED_DOWN", "bad memory [root@2030-01-01T00:00:00]")})
    scale.reconcile()
    assert slurm.updates == []


def test_node_files_archive_keeps_owner_and_mode(tmp_path):
    files = tmp_path / "node-files.json"
    files.write_text(
        json.dumps([{"path": "/etc/munge/munge.key", "content": "c2VjcmV0", "mode": "0400", "uid": 105, "gid": 107}])
    )
    archive = tmp_path / "files.tar"
    archive.write_bytes(autoscale.node_files_archive(str(files)))
    with tarfile.open(archive) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode, member.uid, member.gid) == ("etc/munge/munge.key", 0o400, 105, 107)
        assert tar.extractfile(member).read() == b"secret"


def test_node_files_archive_carries_the_host_names_for_node_init(tmp_path):
    hosts = [{"name": "ev-mgmt", "address": "10.0.0.5"}, {"name": "ev-login", "address": "10.0.0.6"}]
    archive = tmp_path / "files.tar"
    archive.write_bytes(autoscale.node_files_archive(None, hosts))
    with tarfile.open(archive) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode, member.uid) == (autoscale.HOSTS_FILE.lstrip("/"), 0o644, 0)
        assert tar.extractfile(member).read() == b"10.0.0.5 ev-mgmt\n10.0.0.6 ev-login\n"
    assert autoscale.node_files_archive(None, []) == b""


def test_each_server_has_a_known_hosts_file_of_its_own(tmp_path):
    """Neutron gives a deleted server's address to the next one: host keys are kept per server, and forgotten."""
    nodes = autoscale.OpenStackNodes.__new__(autoscale.OpenStackNodes)
    nodes.known_hosts_dir = str(tmp_path / "known_hosts.d")
    path = Path(nodes.known_hosts("ev-compute-03"))
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path != Path(nodes.known_hosts("ev-compute-04"))
    path.write_text("10.0.0.9 ssh-ed25519 AAAA\n")
    nodes.forget_host_key("ev-compute-03")
    assert not path.exists()
    nodes.forget_host_key("ev-compute-03")  # nothing to forget: no error


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/local/sbin/learnhpc-resume", "ev-compute-[02-03]"], ("resume", "ev-compute-[02-03]")),
        (["/usr/local/sbin/learnhpc-reconcile"], ("reconcile", None)),
        (["learnhpc_autoscale.py", "suspend", "ev-compute-02"], ("suspend", "ev-compute-02")),
        (["learnhpc_autoscale.py", "reconcile", "ev-compute-02"], None),
        (["/usr/local/sbin/learnhpc-resume"], None),
        (["learnhpc_autoscale.py", "grow"], None),
    ],
)
def test_command_line(argv, expected):
    assert autoscale.parse_arguments(argv) == expected


def test_fixed_ipv4_skips_floating_and_ipv6_addresses():
    addresses = {
        "ev-net": [
            {"version": 6, "addr": "fd00::5", "OS-EXT-IPS:type": "fixed"},
            {"version": 4, "addr": "203.0.113.9", "OS-EXT-IPS:type": "floating"},
            {"version": 4, "addr": "10.0.0.7", "OS-EXT-IPS:type": "fixed"},
        ]
    }
    assert autoscale.fixed_ipv4(addresses) == "10.0.0.7"
    assert autoscale.fixed_ipv4({}) is None
    assert autoscale.fixed_ipv4(None) is None


# -- the docker provider, against a fake engine that keeps container names unique -----------------


class DockerError(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class FakeEngine:
    """Container names are unique; ``/containers/json`` filters by label and by name pattern as the engine does."""

    def __init__(self, containers):
        self.containers = {c["Id"]: dict(c, Names=[f"/{c['Name']}"]) for c in containers}
        self.deleted = []

    def get(self, endpoint, **query):
        if endpoint == "/containers/json":
            filters = query.get("filters") or {}
            found = list(self.containers.values())
            for label in filters.get("label", []):
                key, _equals, value = label.partition("=")
                found = [c for c in found if c["Labels"].get(key) == value]
            for pattern in filters.get("name", []):
                found = [c for c in found if pattern == f"^/{c['Name']}$"]
            return found
        ident = endpoint.split("/")[2]
        if ident not in self.containers:
            raise DockerError("no such container", status=404)
        return {"State": {"Running": True}}

    def post(self, endpoint, body=None, name=None):
        if endpoint == "/containers/create":
            if any(c["Name"] == name for c in self.containers.values()):
                raise DockerError(f"Conflict. The container name /{name} is already in use", status=409)
            ident = f"id-{name}"
            self.containers[ident] = {"Id": ident, "Name": name, "Names": [f"/{name}"], "Labels": body["Labels"]}
            return {"Id": ident}
        return None

    def put_archive(self, *_args):
        return None

    def delete(self, endpoint, **_query):
        ident = endpoint.split("/")[2]
        if ident not in self.containers:
            raise DockerError("no such container", status=404)
        self.deleted.append(ident)
        del self.containers[ident]


def docker_nodes(engine):
    nodes = object.__new__(autoscale.DockerNodes)
    nodes.errors = (DockerError,)
    nodes.api = engine
    nodes.template = {"Image": "learnhpc/ev-compute:latest", "Labels": {autoscale.EVENT_LABEL: "ev"}}
    nodes.boot_timeout = 5
    nodes.event = "ev"
    nodes.files = None
    nodes.log = None
    return nodes


OURS = {autoscale.EVENT_LABEL: "ev", autoscale.AUTOSCALED_LABEL: "true"}


@pytest.mark.parametrize(
    ("labels", "holder"),
    [
        ({autoscale.EVENT_LABEL: "ev-gpu"}, "a container of event ev-gpu"),
        ({}, "a container that is not of any event"),
        ({autoscale.EVENT_LABEL: "ev"}, "a container of this event that is not an autoscaled node"),
    ],
)
def test_a_name_taken_by_another_container_is_refused_and_left_alone(labels, holder):
    engine = FakeEngine([{"Id": "other", "Name": "ev-compute-02", "Labels": labels}])
    nodes = docker_nodes(engine)
    expected = f"^the name ev-compute-02 is taken by {holder}; it was left alone$"
    with pytest.raises(autoscale.ProviderError, match=expected):
        nodes.create("ev-compute-02")
    assert nodes.delete("ev-compute-02") is False  # what resume does after a failed create
    assert engine.deleted == [] and "other" in engine.containers


def test_docker_nodes_create_and_delete_the_events_own_by_id():
    engine = FakeEngine([{"Id": "other", "Name": "ev-gpu-compute-02", "Labels": {autoscale.EVENT_LABEL: "ev-gpu"}}])
    nodes = docker_nodes(engine)
    assert nodes.create("ev-compute-02") == "started"
    assert engine.containers["id-ev-compute-02"]["Labels"] == OURS
    assert set(nodes.list()) == {"ev-compute-02"}
    assert nodes.delete("ev-compute-02") is True
    assert nodes.delete("ev-gpu-compute-02") is False
    assert engine.deleted == ["id-ev-compute-02"] and "other" in engine.containers


def test_a_failed_resume_removes_only_its_own_half_node(scaler):
    engine = FakeEngine([{"Id": "other", "Name": "ev-compute-03", "Labels": {autoscale.EVENT_LABEL: "ev-compute"}}])
    scale, slurm = scaler(provider=docker_nodes(engine))
    assert scale.resume(NODES) == 1
    assert "other" in engine.containers and "id-ev-compute-02" in engine.containers
    assert any(
        line == "resume: ev-compute-03: failed after 0.0 s: the name ev-compute-03 is taken by a container of event"
        " ev-compute; it was left alone"
        for line in scaler.lines
    ), scaler.lines
    assert "resume: ev-compute-03: nothing was left" in scaler.lines
    assert slurm.updates == [
        ["nodename=ev-compute-03", "state=DOWN", "reason=learnhpc-autoscale: resume failed, see the autoscale log"]
    ]


def test_the_log_never_holds_a_secret(tmp_path):
    # OpenStackNodes adds the credentials of its cloud (contract.secret_values of the auth); a cloud's
    # error message that repeats one is written with *** in its place.
    log = autoscale.Log(str(tmp_path / "autoscale.log"))
    log.secrets.update(autoscale.contract.secret_values({"application_credential_secret": "s3cr3t-value", "id": "x"}))
    log("resume", "failed: 401 for application credential s3cr3t-value at https://cloud:5000")
    text = (tmp_path / "autoscale.log").read_text()
    assert "s3cr3t-value" not in text
    assert text.rstrip().endswith("resume: failed: 401 for application credential *** at https://cloud:5000")
