import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter import slurm


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["c01", "c02", "c03"], "c[01-03]"),
        (["c01", "c02", "c03", "c05", "login"], "c[01-03,05],login"),
        (["c03", "c01", "c02"], "c[01-03]"),
        (["node7"], "node7"),
        (["c9", "c10", "c11"], "c9,c[10-11]"),
        (["demo-compute-01", "demo-compute-02"], "demo-compute-[01-02]"),
        (["a", "b"], "a,b"),
        (["c1", "c1"], "c1"),
        ("single", "single"),
    ],
)
def test_hostlist_compress(names, expected):
    assert slurm.hostlist_compress(names) == expected


@pytest.mark.parametrize(
    ("hostlist", "expected"),
    [
        ("c[01-03]", ["c01", "c02", "c03"]),
        ("c[01-02,05],login", ["c01", "c02", "c05", "login"]),
        ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
        ("c[8-10]", ["c8", "c9", "c10"]),
        ("plain", ["plain"]),
    ],
)
def test_hostlist_expand(hostlist, expected):
    assert slurm.hostlist_expand(hostlist) == expected


@pytest.mark.parametrize(
    "names",
    [["c01", "c02", "c04", "x", "y7", "y8"], ["demo-compute-01"], [f"n{i:03d}" for i in range(1, 300, 3)]],
)
def test_hostlist_round_trip(names):
    assert sorted(slurm.hostlist_expand(slurm.hostlist_compress(names))) == sorted(names)


@pytest.mark.parametrize("bad", ["c[01-", "c]01[", "c[a-b]", "c[05-01]"])
def test_hostlist_expand_rejects_malformed(bad):
    with pytest.raises(AnsibleFilterError):
        slurm.hostlist_expand(bad)


def test_conf_lines_sorted_and_typed():
    lines = slurm.slurm_conf_lines(
        {
            "SlurmctldHost": ["ctl1", "ctl2"],
            "ClusterName": "demo",
            "SlurmctldParameters": ["enable_configless", "idle_on_node_suspend"],
            "ReturnToService": 2,
            "Removed": None,
            "Empty": [],
            "AllowSpecResourcesUsage": True,
        }
    )
    assert lines == [
        "AllowSpecResourcesUsage=YES",
        "ClusterName=demo",
        "ReturnToService=2",
        "SlurmctldHost=ctl1",
        "SlurmctldHost=ctl2",
        "SlurmctldParameters=enable_configless,idle_on_node_suspend",
    ]


def test_conf_lines_quotes_values_with_spaces():
    assert slurm.slurm_conf_lines({"ResumeProgram": "/usr/bin/resume --verbose"}) == [
        'ResumeProgram="/usr/bin/resume --verbose"'
    ]


@pytest.mark.parametrize(
    "options",
    [{"ClusterName": "demo\nSlurmUser=root"}, {"bad key": 1}, {"ClusterName": {"a": 1}}, {"X": 'a"b'}],
)
def test_conf_lines_refuse_injection_and_nonsense(options):
    with pytest.raises(AnsibleFilterError):
        slurm.slurm_conf_lines(options)


def test_node_line():
    node = {
        "name": "c01",
        "cpus": 4,
        "sockets": 1,
        "cores_per_socket": 4,
        "threads_per_core": 1,
        "real_memory": 7680,
        "features": ["gpu", "fast"],
        "extra": {"Weight": 10},
    }
    assert slurm.slurm_node_line(node) == (
        "NodeName=c01 CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=7680 Features=gpu,fast Weight=10"
    )


def test_partition_line_compresses_node_lists():
    partition = {"name": "batch", "nodes": ["c01", "c02"], "default": True, "max_time": "1-00:00:00"}
    assert slurm.slurm_partition_line(partition) == (
        "PartitionName=batch Nodes=c[01-02] Default=YES MaxTime=1-00:00:00 State=UP"
    )


FACTS = {
    "ansible_hostname": "c01",
    "ansible_processor_vcpus": 4,
    "ansible_processor_count": 1,
    "ansible_processor_cores": 2,
    "ansible_processor_threads_per_core": 2,
    "ansible_memtotal_mb": 8000,
}


def test_node_from_facts():
    node = slurm.slurm_node_from_facts("host1", {"host1": FACTS}, 256)
    assert node == {
        "name": "c01",
        "cpus": 4,
        "sockets": 1,
        "cores_per_socket": 2,
        "threads_per_core": 2,
        "real_memory": 7744,
    }


def test_node_from_facts_reads_ansible_facts_when_facts_are_not_injected():
    namespaced = {"ansible_facts": {key.removeprefix("ansible_"): value for key, value in FACTS.items()}}
    assert slurm.slurm_node_from_facts("host1", {"host1": namespaced}, 256) == slurm.slurm_node_from_facts(
        "host1", {"host1": FACTS}, 256
    )
    # ansible_facts wins over an injected variable of the same fact.
    both = {**FACTS, "ansible_facts": {"hostname": "c09"}}
    assert slurm.slurm_node_from_facts("h", {"h": both})["name"] == "c09"


def test_node_from_facts_drops_a_topology_that_does_not_add_up():
    node = slurm.slurm_node_from_facts("h", {"h": {**FACTS, "ansible_processor_cores": 3}}, 0)
    assert "sockets" not in node
    assert node["cpus"] == 4


def test_node_from_facts_host_overrides_win_and_bad_values_pass_through():
    node = slurm.slurm_node_from_facts("h", {"h": {**FACTS, "slurm_node_cpus": "many", "slurm_node_memory_mb": 1000}})
    assert node["cpus"] == "many"
    assert node["real_memory"] == 1000
    assert "sockets" not in node


def test_mem_per_cpu():
    assert slurm.slurm_mem_per_cpu({"cpus": 4, "real_memory": 8001}) == 2000
    assert slurm.slurm_mem_per_cpu({"cpus": "x", "real_memory": 1}) == 0


def test_numbered_names():
    assert slurm.numbered_names(3, "guest") == ["guest01", "guest02", "guest03"]
    assert slurm.numbered_names(0, "guest") == []
    names = slurm.numbered_names(120, "g")
    assert names[0] == "g001"
    assert names[-1] == "g120"


@pytest.mark.parametrize("bad", [-1, "3", True, 2.5])
def test_numbered_names_refuses_bad_counts(bad):
    with pytest.raises(AnsibleFilterError):
        slurm.numbered_names(bad, "guest")


def test_node_from_facts_takes_the_node_address_from_the_host():
    node = slurm.slurm_node_from_facts("h", {"h": {**FACTS, "slurm_node_addr": "10.0.0.7"}})
    assert node["node_addr"] == "10.0.0.7"
    assert slurm.slurm_node_line(node).split().count("NodeAddr=10.0.0.7") == 1
    assert "node_addr" not in slurm.slurm_node_from_facts("h", {"h": FACTS})
