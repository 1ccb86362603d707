# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the inventory plugin learnhpc.cluster.event, with fake Docker clients (no Docker engine)."""

from __future__ import annotations

import sys

import pytest
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.learnhpc.cluster.plugins.inventory import event
from ansible_collections.learnhpc.cluster.plugins.plugin_utils import inventory_docker

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # ansible-core < 2.19: unsafe values are AnsibleUnsafe instances
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    def is_trusted_as_template(value):
        return not isinstance(value, AnsibleUnsafe)


GIB = 1024**3
MIB = 1024**2
ENGINE_CPUS = 8
ENGINE_MEMORY = 16 * GIB


class FakeContainer:
    """What the plugin reads of a docker.models.containers.Container."""

    def __init__(self, name, labels, status="running", host_config=None):
        self.name = name
        self.labels = labels
        self.status = status
        self.attrs = {"Name": "/" + name, "HostConfig": host_config or {}}


class FakeContainers:
    """docker.models.containers.ContainerCollection: list() only."""

    def __init__(self, containers, error=None):
        self.containers = containers
        self.error = error
        self.calls = []

    def list(self, **kwargs):
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return list(self.containers)


class FakeClient:
    """docker.DockerClient: containers.list() and info()."""

    def __init__(self, containers=(), ncpu=ENGINE_CPUS, mem_total=ENGINE_MEMORY, error=None):
        self.containers = FakeContainers(list(containers), error)
        self.engine = {"NCPU": ncpu, "MemTotal": mem_total, "Name": "fake-engine"}
        self.info_calls = 0

    def info(self):
        self.info_calls += 1
        return dict(self.engine)


def node(name, event_name="demo", roles="compute", *, end_date="2030-01-01", status="running", host_config=None):
    """A fake container with the labels of docs/contracts.md; a label given as None is left out."""
    labels = {
        "org.learnhpc.event": event_name,
        "org.learnhpc.roles": roles,
        "org.learnhpc.end_date": end_date,
        "org.learnhpc.provider": "docker",
    }
    return FakeContainer(name, {k: v for k, v in labels.items() if v is not None}, status, host_config)


def cluster(event_name="demo", computes=2):
    """The containers of one event: a mgmt, a login and compute nodes."""
    return [
        node(f"{event_name}-mgmt", event_name, "mgmt"),
        node(f"{event_name}-login", event_name, "login"),
        *(node(f"{event_name}-compute-{i:02d}", event_name, "compute") for i in range(1, computes + 1)),
    ]


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def host_vars(inventory, host):
    """The variables the plugin set on a host (without inventory_file and inventory_dir, which InventoryData sets)."""
    variables = dict(inventory.get_host(host).vars)
    for name in ("inventory_file", "inventory_dir"):
        variables.pop(name, None)
    return variables


# --- configuration files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "accepted"),
    [
        ("learnhpc.event.yml", True),
        ("event.yaml", True),
        ("all.events.yml", True),
        ("events.yaml", True),
        ("docker.yml", False),
        ("event.yml.bak", False),
        ("event.json", False),
        ("inventory.ini", False),
    ],
)
def test_verify_file(tmp_path, file_name, accepted):
    path = tmp_path / file_name
    path.write_text("plugin: learnhpc.cluster.event\n", encoding="utf-8")
    plugin = inventory_loader.get("learnhpc.cluster.event")
    assert bool(plugin.verify_file(str(path))) is accepted


def test_verify_file_missing(tmp_path):
    plugin = inventory_loader.get("learnhpc.cluster.event")
    assert not plugin.verify_file(str(tmp_path / "missing.event.yml"))


def test_plugin_class():
    plugin = inventory_loader.get("learnhpc.cluster.event")
    assert isinstance(plugin, event.InventoryModule)
    assert plugin.NAME == "learnhpc.cluster.event"


# --- groups and host variables ---------------------------------------------------------------------------------


def test_groups_per_event_and_role(run):
    client = FakeClient(cluster("demo"))
    inventory = run(client)
    assert members(inventory, "event_demo") == ["demo-compute-01", "demo-compute-02", "demo-login", "demo-mgmt"]
    assert members(inventory, "mgmt") == ["demo-mgmt"]
    assert members(inventory, "login") == ["demo-login"]
    assert members(inventory, "compute") == ["demo-compute-01", "demo-compute-02"]
    assert run.warnings == []
    list_call = {"all": True, "filters": {"label": "org.learnhpc.event"}, "ignore_removed": True}
    assert client.containers.calls == [list_call]
    assert run.docker_hosts == [None]


def test_host_vars(run):
    inventory = run(FakeClient([node("demo-login", roles="login", end_date="2031-02-28")]))
    assert host_vars(inventory, "demo-login") == {
        "learnhpc_event": "demo",
        "learnhpc_node_roles": ["login"],
        "learnhpc_end_date": "2031-02-28",
        "learnhpc_provider": "docker",
        "learnhpc_autoscaled": False,
        "ansible_connection": "learnhpc.cluster.docker_engine",
        "ansible_docker_docker_host": inventory_docker.DEFAULT_DOCKER_URL,
        "ansible_host": "demo-login",
        "ansible_user": "root",
        "learnhpc_docker_state": "running",
        "slurm_node_cpus": ENGINE_CPUS,
        "slurm_node_memory_mb": ENGINE_MEMORY // MIB - 256,
    }


def test_several_roles(run):
    inventory = run(FakeClient([node("tiny-all", "tiny", roles="mgmt, login,compute,login")]))
    assert host_vars(inventory, "tiny-all")["learnhpc_node_roles"] == ["mgmt", "login", "compute"]
    for group in ("event_tiny", "mgmt", "login", "compute"):
        assert members(inventory, group) == ["tiny-all"]


def test_autoscaled_nodes_join_their_own_group(run):
    scaled = node("demo-compute-03")
    scaled.labels["org.learnhpc.autoscaled"] = "true"
    inventory = run(FakeClient([*cluster("demo", 2), scaled]))
    assert members(inventory, "autoscaled") == ["demo-compute-03"]
    assert members(inventory, "compute") == ["demo-compute-01", "demo-compute-02", "demo-compute-03"]
    assert host_vars(inventory, "demo-compute-03")["learnhpc_autoscaled"] is True
    assert host_vars(inventory, "demo-compute-01")["learnhpc_autoscaled"] is False


def test_stopped_containers_are_included(run):
    inventory = run(FakeClient([node("demo-compute-01", status="exited")]))
    assert host_vars(inventory, "demo-compute-01")["learnhpc_docker_state"] == "exited"
    assert members(inventory, "compute") == ["demo-compute-01"]


def test_two_events_side_by_side(run):
    inventory = run(FakeClient([*cluster("demo", 1), *cluster("hpc-intro-2025", 3)]))
    assert members(inventory, "event_demo") == ["demo-compute-01", "demo-login", "demo-mgmt"]
    assert members(inventory, "event_hpc_intro_2025") == [
        "hpc-intro-2025-compute-01",
        "hpc-intro-2025-compute-02",
        "hpc-intro-2025-compute-03",
        "hpc-intro-2025-login",
        "hpc-intro-2025-mgmt",
    ]
    assert members(inventory, "mgmt") == ["demo-mgmt", "hpc-intro-2025-mgmt"]
    assert len(members(inventory, "compute")) == 4
    assert host_vars(inventory, "hpc-intro-2025-login")["learnhpc_event"] == "hpc-intro-2025"
    # what a play for one event targets: event_demo:&compute
    assert set(members(inventory, "event_demo")) & set(members(inventory, "compute")) == {"demo-compute-01"}


def test_events_filter(run):
    client = FakeClient([*cluster("demo", 1), *cluster("other", 1), *cluster("third", 1)])
    inventory = run(client, events=["demo", "third"])
    assert sorted(inventory.hosts) == [
        "demo-compute-01",
        "demo-login",
        "demo-mgmt",
        "third-compute-01",
        "third-login",
        "third-mgmt",
    ]
    assert "event_other" not in inventory.groups
    assert members(inventory, "compute") == ["demo-compute-01", "third-compute-01"]


def test_no_containers(run):
    client = FakeClient([])
    inventory = run(client)
    assert not inventory.hosts
    assert client.info_calls == 0


# --- Slurm sizes -----------------------------------------------------------------------------------------------


def test_size_from_engine_info(run):
    client = FakeClient(cluster("demo", 3), ncpu=12, mem_total=32 * GIB)
    inventory = run(client)
    for host in inventory.hosts:
        assert host_vars(inventory, host)["slurm_node_cpus"] == 12
        assert host_vars(inventory, host)["slurm_node_memory_mb"] == 32 * 1024 - 256
    assert client.info_calls == 1


@pytest.mark.parametrize(
    ("host_config", "cpus", "memory_mb"),
    [
        ({"NanoCpus": 1_000_000_000, "Memory": 512 * MIB}, 1, 512 - 256),
        ({"NanoCpus": 2_500_000_000, "Memory": 2 * GIB}, 2, 2048 - 256),
        ({"NanoCpus": 500_000_000}, 1, ENGINE_MEMORY // MIB - 256),
        ({"CpuQuota": 300_000, "CpuPeriod": 100_000}, 3, ENGINE_MEMORY // MIB - 256),
        ({"CpusetCpus": "0-1,3"}, 3, ENGINE_MEMORY // MIB - 256),
        ({"CpusetCpus": "1-3", "NanoCpus": 2_000_000_000}, 2, ENGINE_MEMORY // MIB - 256),
        ({"NanoCpus": 0, "Memory": 0, "CpusetCpus": ""}, ENGINE_CPUS, ENGINE_MEMORY // MIB - 256),
        ({"Memory": 100 * MIB}, ENGINE_CPUS, 1),
        ({"Memory": 64 * GIB}, ENGINE_CPUS, ENGINE_MEMORY // MIB - 256),
    ],
)
def test_size_from_limits(run, host_config, cpus, memory_mb):
    client = FakeClient([node("demo-compute-01", host_config=host_config)])
    variables = host_vars(run(client), "demo-compute-01")
    assert (variables["slurm_node_cpus"], variables["slurm_node_memory_mb"]) == (cpus, memory_mb)
    assert isinstance(variables["slurm_node_cpus"], int)
    assert isinstance(variables["slurm_node_memory_mb"], int)


def test_memory_reserve_option(run):
    client = FakeClient([node("demo-compute-01", host_config={"Memory": 4 * GIB})])
    inventory = run(client, memory_reserve_mb=1024)
    assert host_vars(inventory, "demo-compute-01")["slurm_node_memory_mb"] == 3072
    inventory = run(client, memory_reserve_mb=0)
    assert host_vars(inventory, "demo-compute-01")["slurm_node_memory_mb"] == 4096


def test_negative_memory_reserve(run):
    with pytest.raises(AnsibleParserError, match="memory_reserve_mb"):
        run(FakeClient(cluster()), memory_reserve_mb=-1)


def test_engine_info_read_once(run):
    client = FakeClient([*cluster("demo", 5), *cluster("other", 5)])
    run(client)
    assert client.info_calls == 1


@pytest.mark.parametrize(
    ("cpuset", "count"),
    [("0", 1), ("3", 1), ("0-1,3", 3), ("0-3", 4), ("0-3,2-5", 6), (" 0 , 2-3 ", 3), ("0-63", 64)],
)
def test_cpuset_count(cpuset, count):
    assert inventory_docker.cpuset_count(cpuset) == count


@pytest.mark.parametrize("cpuset", ["a", "1-", "3-1", "0,,1", "0-1-2", "-1"])
def test_cpuset_count_malformed(cpuset):
    with pytest.raises(ValueError, match="cpuset"):
        inventory_docker.cpuset_count(cpuset)


def test_malformed_cpuset_falls_back_to_the_engine(run):
    inventory = run(FakeClient([node("demo-compute-01", host_config={"CpusetCpus": "0-x"})]))
    assert host_vars(inventory, "demo-compute-01")["slurm_node_cpus"] == ENGINE_CPUS
    assert len(run.warnings) == 1
    assert "demo-compute-01" in run.warnings[0]
    assert "0-x" in run.warnings[0]


# --- malformed labels ------------------------------------------------------------------------------------------


def test_data_transfer_node_role(run):
    inventory = run(FakeClient([node("demo-dtn", roles="dtn")]))
    assert members(inventory, "dtn") == ["demo-dtn"]
    assert members(inventory, "event_demo") == ["demo-dtn"]
    assert host_vars(inventory, "demo-dtn")["learnhpc_node_roles"] == ["dtn"]
    assert run.warnings == []


def test_unknown_role_warning(run):
    inventory = run(FakeClient([node("demo-gpu-01", roles="compute,gpu"), node("demo-jupyter", roles="jupyter")]))
    assert host_vars(inventory, "demo-gpu-01")["learnhpc_node_roles"] == ["compute"]
    assert members(inventory, "compute") == ["demo-gpu-01"]
    # a node with only unknown roles stays in its event's group (so that the event's plays see it)
    assert host_vars(inventory, "demo-jupyter")["learnhpc_node_roles"] == []
    assert members(inventory, "event_demo") == ["demo-gpu-01", "demo-jupyter"]
    assert "gpu" not in inventory.groups
    assert len(run.warnings) == 2
    assert "demo-gpu-01" in run.warnings[0]
    assert "gpu" in run.warnings[0]
    assert "demo-jupyter" in run.warnings[1]


@pytest.mark.parametrize(
    "labels",
    [
        {"roles": None},
        {"roles": ""},
        {"roles": " , "},
        {"end_date": None},
        {"end_date": "2030-13-01"},
        {"end_date": "2030-02-30"},
        {"end_date": "01/01/2030"},
        {"end_date": "20300101"},
        {"event_name": ""},
        {"event_name": "Demo"},
        {"event_name": "demo_1"},
        {"event_name": "demo-"},
        {"event_name": "a" * 25},
    ],
)
def test_malformed_container_is_skipped(run, labels):
    bad = node("bad-node", **labels)
    inventory = run(FakeClient([*cluster("demo", 1), bad]))
    assert "bad-node" not in inventory.hosts
    assert sorted(inventory.hosts) == ["demo-compute-01", "demo-login", "demo-mgmt"]
    assert len(run.warnings) == 1
    assert "bad-node" in run.warnings[0]
    assert "skipping" in run.warnings[0]


def test_container_without_labels_is_skipped(run):
    bare = FakeContainer("bare", None)
    inventory = run(FakeClient([bare, *cluster("demo", 1)]))
    assert "bare" not in inventory.hosts
    assert len(inventory.hosts) == 3
    assert len(run.warnings) == 1


@pytest.mark.parametrize("event_name", ["a", "a1", "hpc-intro-2025", "x" * 24])
def test_event_names(run, event_name):
    inventory = run(FakeClient([node(f"{event_name}-login", event_name, "login")]))
    assert members(inventory, "event_" + event_name.replace("-", "_")) == [f"{event_name}-login"]


# --- constructed -----------------------------------------------------------------------------------------------


def test_compose_groups_keyed_groups(run):
    containers = [*cluster("demo", 2), node("demo-compute-03", status="exited")]
    inventory = run(
        FakeClient(containers),
        strict=True,
        compose={"slurm_node_weight": "slurm_node_cpus * 10", "short_name": "inventory_hostname.split('-')[-1]"},
        groups={"controllers": "'mgmt' in learnhpc_node_roles", "ends_2030": "learnhpc_end_date.startswith('2030')"},
        keyed_groups=[
            {"key": "learnhpc_docker_state", "prefix": "docker"},
            {"key": "learnhpc_node_roles", "prefix": "role"},
        ],
    )
    assert host_vars(inventory, "demo-compute-01")["slurm_node_weight"] == ENGINE_CPUS * 10
    assert host_vars(inventory, "demo-mgmt")["short_name"] == "mgmt"
    assert members(inventory, "controllers") == ["demo-mgmt"]
    assert len(members(inventory, "ends_2030")) == 5
    assert members(inventory, "docker_exited") == ["demo-compute-03"]
    assert len(members(inventory, "docker_running")) == 4
    assert members(inventory, "role_login") == ["demo-login"]


def test_strict_compose_error(run):
    with pytest.raises(AnsibleError, match="no_such_variable"):
        run(FakeClient(cluster()), strict=True, compose={"broken": "no_such_variable + 1"})


def test_not_strict_compose_error_is_ignored(run):
    inventory = run(
        FakeClient(cluster()),
        strict=False,
        compose={"broken": "no_such_variable + 1"},
        keyed_groups=[{"key": "no_such_variable", "prefix": "x"}],
    )
    assert "broken" not in host_vars(inventory, "demo-mgmt")
    assert len(inventory.hosts) == 4


# --- unsafe values ---------------------------------------------------------------------------------------------


def test_values_are_unsafe(run):
    containers = [node("demo-login", roles="login", status="{{ 6 * 7 }}")]
    inventory = run(FakeClient(containers), compose={"state_copy": "learnhpc_docker_state"}, strict=True)
    variables = host_vars(inventory, "demo-login")
    # a template in a value read from the API stays text
    assert variables["learnhpc_docker_state"] == "{{ 6 * 7 }}"
    assert variables["state_copy"] == "{{ 6 * 7 }}"
    strings = [value for value in variables.values() if isinstance(value, str)]
    strings.extend(variables["learnhpc_node_roles"])
    assert len(strings) >= 8
    for value in strings:
        assert not is_trusted_as_template(value), value
    for name in ("slurm_node_cpus", "slurm_node_memory_mb"):
        assert isinstance(variables[name], int)
        assert not isinstance(variables[name], bool)
    assert {"event_demo", "login"} <= set(inventory.groups)
    for group in inventory.groups.values():
        assert not is_trusted_as_template(group.name)


# --- providers -------------------------------------------------------------------------------------------------


def test_unknown_provider(run):
    with pytest.raises(AnsibleError, match="providers"):
        run(FakeClient(cluster()), providers=["aws"])


def test_docker_host_option(run):
    run(FakeClient(cluster()), docker_host="tcp://docker.example.org:2375")
    assert run.docker_hosts == ["tcp://docker.example.org:2375"]


def test_provider_classes_are_separable():
    nodes = inventory_docker.DockerProvider(FakeClient(cluster("demo", 1)), warn=print).nodes()
    assert [n["name"] for n in nodes] == ["demo-mgmt", "demo-login", "demo-compute-01"]
    assert nodes[0] == {
        "name": "demo-mgmt",
        "event": "demo",
        "roles": ["mgmt"],
        "end_date": "2030-01-01",
        "provider": "docker",
        "cpus": ENGINE_CPUS,
        "memory_mb": ENGINE_MEMORY // MIB,
        "vars": {
            "ansible_connection": "learnhpc.cluster.docker_engine",
            "ansible_docker_docker_host": inventory_docker.DEFAULT_DOCKER_URL,
            "ansible_host": "demo-mgmt",
            "ansible_user": "root",
            "learnhpc_docker_state": "running",
        },
    }
    assert set(event.PROVIDERS) == {"docker", "openstack", "libvirt"}
    assert event.PROVIDERS["docker"] is inventory_docker.DockerProvider


# --- cache -----------------------------------------------------------------------------------------------------


def test_cache(run, tmp_path):
    cache = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
        "cache_timeout": 600,
    }
    client = FakeClient(cluster("demo", 2))
    first = run(client, **cache)
    run.plugin.update_cache_if_changed()  # what the InventoryManager does after parse()
    assert len(client.containers.calls) == 1

    # a second parse reads the cache and does not make a client, let alone call it
    second = run(AssertionError("the Docker client must not be used"), **cache)
    assert sorted(second.hosts) == sorted(first.hosts)
    assert members(second, "compute") == ["demo-compute-01", "demo-compute-02"]
    assert host_vars(second, "demo-mgmt") == host_vars(first, "demo-mgmt")
    assert not is_trusted_as_template(host_vars(second, "demo-mgmt")["ansible_host"])
    assert len(run.docker_hosts) == 1

    # options that are applied after the cache still apply
    third = run(AssertionError("the Docker client must not be used"), events=["nothing"], **cache)
    assert not third.hosts

    # a refresh (cache=False: --flush-cache, meta: refresh_inventory) reads the engine and updates the cache
    client.containers.containers.append(node("demo-compute-03"))
    fourth = run(client, refresh=True, **cache)
    run.plugin.update_cache_if_changed()
    assert "demo-compute-03" in fourth.hosts
    assert len(client.containers.calls) == 2
    fifth = run(AssertionError("the Docker client must not be used"), **cache)
    assert "demo-compute-03" in fifth.hosts


def test_cache_disabled_reads_the_engine_every_time(run):
    client = FakeClient(cluster())
    run(client)
    run(client)
    assert len(client.containers.calls) == 2


# --- errors ----------------------------------------------------------------------------------------------------


def test_engine_does_not_answer(tmp_path):
    """The real client of the Docker SDK, at a socket that does not exist."""
    pytest.importorskip("docker")
    path = tmp_path / "test.event.yml"
    config = f"plugin: learnhpc.cluster.event\ndocker_host: unix://{tmp_path}/no-docker.sock\n"
    path.write_text(config, encoding="utf-8")
    plugin = inventory_loader.get("learnhpc.cluster.event")
    with pytest.raises(AnsibleParserError) as info:
        plugin.parse(InventoryData(), DataLoader(), str(path))
    message = info.value.message
    assert "\n" not in message
    assert message.startswith(f"learnhpc.cluster.event: the Docker engine does not answer at unix://{tmp_path}/")
    assert "set docker_host" in message
    assert info.value.__cause__ is None


def test_listing_fails(run):
    docker = pytest.importorskip("docker")
    error = docker.errors.APIError("500 Server Error: Internal Server Error\n(something broke)")
    with pytest.raises(AnsibleParserError) as info:
        run(FakeClient(error=error))
    message = info.value.message
    assert "\n" not in message
    assert message.startswith("learnhpc.cluster.event: listing the containers of the Docker engine at ")
    assert "something broke" in message


def test_docker_sdk_missing(monkeypatch):
    monkeypatch.setattr(inventory_docker, "_DOCKER", {})
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker raises ImportError
    with pytest.raises(AnsibleParserError) as info:
        inventory_docker.docker_client(None)
    assert "\n" not in info.value.message
    assert "Docker SDK for Python" in info.value.message


def test_docker_client_turns_sdk_errors_into_one_line(monkeypatch):
    docker = pytest.importorskip("docker")

    def from_env(**_kwargs):
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise docker.errors.DockerException("Error while fetching server API version: (\n'aborted')") from exc

    monkeypatch.setattr(docker, "from_env", from_env)
    with pytest.raises(AnsibleParserError) as info:
        inventory_docker.docker_client("tcp://127.0.0.1:1")
    assert info.value.message == (
        "learnhpc.cluster.event: the Docker engine does not answer at tcp://127.0.0.1:1: start it (scripts/setup.sh"
        " does) or set docker_host (ConnectionRefusedError: [Errno 111] Connection refused)"
    )


def test_the_nodes_connection_plugin_is_loaded_before_the_workers_fork(run, monkeypatch):
    """The plugin loads the connection plugin of its nodes in the main process (plugin_utils/connection_preload.py)."""
    plugin = inventory_loader.get("learnhpc.cluster.event")
    module = sys.modules[type(plugin).__module__]
    asked = []
    monkeypatch.setattr(module, "preload_connections", lambda names: asked.append(list(names)))
    run(FakeClient(cluster("demo", computes=1)))
    assert asked == [["learnhpc.cluster.docker_engine"] * 3]
    run(FakeClient([]))
    assert asked[-1] == []
