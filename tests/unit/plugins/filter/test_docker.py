import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.docker import (
    docker_engine_container,
    docker_name_conflicts,
    docker_node_container,
)

EVENT = {
    "name": "demo",
    "end_date": "2030-12-31",
    "docker": {
        "image": "learnhpc/debian-systemd:12",
        "bind_address": "127.0.0.1",
        "ssh_port": 2222,
        "https_port": 8443,
        "rest_port": 6820,
        "node_cpus": 1,
        "node_memory_mb": 1024,
    },
}


def test_login_publishes_ssh_and_https_on_the_bind_address_only():
    container = docker_node_container({"name": "demo-login", "roles": ["login"]}, EVENT)
    assert container["published_ports"] == ["127.0.0.1:2222:22", "127.0.0.1:8443:443"]
    assert "cpus" not in container
    assert container["labels"] == {
        "org.learnhpc.event": "demo",
        "org.learnhpc.roles": "login",
        "org.learnhpc.end_date": "2030-12-31",
        "org.learnhpc.expires": "2030-12-31",
        "org.learnhpc.provider": "docker",
    }


def test_login_publishes_the_job_gateway_only_when_it_is_on():
    event = {**EVENT, "services": {"slurm_rest": True}, "docker": {**EVENT["docker"], "rest_port": 16820}}
    container = docker_node_container({"name": "demo-login", "roles": ["login"]}, event)
    assert container["published_ports"] == ["127.0.0.1:2222:22", "127.0.0.1:8443:443", "127.0.0.1:16820:6820"]
    assert docker_node_container({"name": "demo-mgmt", "roles": ["mgmt"]}, event)["published_ports"] == []
    off = {**EVENT, "services": {"slurm_rest": False}}
    assert len(docker_node_container({"name": "demo-login", "roles": ["login"]}, off)["published_ports"]) == 2


def test_expiry_date_is_labelled():
    container = docker_node_container({"name": "demo-mgmt", "roles": ["mgmt"]}, {**EVENT, "expires": "2031-01-07"})
    assert container["labels"]["org.learnhpc.expires"] == "2031-01-07"


def test_compute_gets_limits_and_no_ports():
    container = docker_node_container({"name": "demo-compute-01", "roles": ["compute"]}, EVENT)
    assert container["published_ports"] == []
    assert container["cpus"] == 1
    assert container["memory_mb"] == 1024


def test_every_node_shares_the_event_volumes_and_network():
    container = docker_node_container({"name": "demo-mgmt", "roles": ["mgmt"]}, EVENT)
    assert container["volumes"] == [
        "learnhpc-demo-home:/home",
        "learnhpc-demo-project:/project",
        "learnhpc-demo-scratch:/scratch",
    ]
    assert container["networks"] == ["learnhpc-demo"]


def test_no_limits_when_the_event_sets_none():
    event = {**EVENT, "docker": {**EVENT["docker"], "node_cpus": None, "node_memory_mb": None}}
    container = docker_node_container({"name": "demo-compute-01", "roles": ["compute"]}, event)
    assert "cpus" not in container
    assert "memory_mb" not in container


def test_eessi_gives_every_node_fuse():
    event = {**EVENT, "software": {"eessi": True}}
    for roles in (["mgmt"], ["login"], ["compute"]):
        assert docker_node_container({"name": "n", "roles": roles}, event)["devices"] == ["/dev/fuse"]
    assert "devices" not in docker_node_container({"name": "n", "roles": ["compute"]}, EVENT)
    off = {**EVENT, "software": {"eessi": False}}
    assert "devices" not in docker_node_container({"name": "n", "roles": ["compute"]}, off)


def test_incomplete_event_is_named():
    with pytest.raises(AnsibleFilterError, match="lacks 'docker'"):
        docker_node_container({"name": "x", "roles": []}, {"name": "demo", "end_date": "2030-01-01"})


SYSTEMD = {
    "command": "/lib/systemd/systemd",
    "stop_signal": "SIGRTMIN+3",
    "capabilities": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opts": ["seccomp=unconfined", "apparmor=unconfined"],
    "cgroupns_mode": "host",
    "volumes": ["/sys/fs/cgroup:/sys/fs/cgroup:rw"],
    "tmpfs": ["/run", "/run/lock", "/tmp:exec,mode=1777"],
}


def test_only_the_management_node_of_an_autoscaling_event_gets_the_engine_socket():
    event = {**EVENT, "autoscale_names": ["demo-compute-03"]}
    mgmt = docker_node_container({"name": "demo-mgmt", "roles": ["mgmt"]}, event)
    assert mgmt["volumes"][-1] == "/var/run/docker.sock:/var/run/docker.sock"
    compute = docker_node_container({"name": "demo-compute-01", "roles": ["compute"]}, event)
    assert "/var/run/docker.sock:/var/run/docker.sock" not in compute["volumes"]
    static = docker_node_container({"name": "demo-mgmt", "roles": ["mgmt"]}, {**EVENT, "autoscale_names": []})
    assert "/var/run/docker.sock:/var/run/docker.sock" not in static["volumes"]


def test_engine_body_of_a_compute_node():
    node = docker_node_container(
        {"name": "demo-compute-01", "roles": ["compute"]}, {**EVENT, "software": {"eessi": True}}
    )
    body = docker_engine_container(node, SYSTEMD)
    assert body["Hostname"] == "demo-compute-01"
    assert body["Image"] == "learnhpc/debian-systemd:12"
    assert body["Cmd"] == ["/lib/systemd/systemd"]
    assert body["StopSignal"] == "SIGRTMIN+3"
    assert body["Labels"]["org.learnhpc.roles"] == "compute"
    host = body["HostConfig"]
    assert host["CapAdd"] == ["SYS_ADMIN", "NET_ADMIN"]
    assert host["CgroupnsMode"] == "host"
    assert host["Tmpfs"] == {"/run": "", "/run/lock": "", "/tmp": "exec,mode=1777"}
    assert host["Binds"] == [
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "learnhpc-demo-home:/home",
        "learnhpc-demo-project:/project",
        "learnhpc-demo-scratch:/scratch",
    ]
    assert host["Devices"] == [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}]
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Memory"] == 1024 * 1024 * 1024
    assert host["RestartPolicy"] == {"Name": "unless-stopped"}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"learnhpc-demo": {}}}


def test_engine_body_matches_the_docker_provider_systemd_settings():
    """The unit test's settings are the docker_provider role's (so the test above means what it says)."""
    path = pathlib.Path(__file__).parents[4] / "roles" / "docker_provider" / "vars" / "main.yml"
    assert yaml.safe_load(path.read_text())["__docker_provider_systemd"] == SYSTEMD


def test_engine_body_refuses_published_ports():
    login = docker_node_container({"name": "demo-login", "roles": ["login"]}, EVENT)
    with pytest.raises(AnsibleFilterError, match="publishes ports"):
        docker_engine_container(login, SYSTEMD)


def test_engine_body_names_what_is_missing():
    with pytest.raises(AnsibleFilterError, match="stop_signal"):
        docker_engine_container({"name": "x"}, {k: v for k, v in SYSTEMD.items() if k != "stop_signal"})


def event_of(name, prefix="compute", count=2, max_count=2):
    """An event as event_config gives it, with the keys docker_name_conflicts reads."""
    computes = [f"{name}-{prefix}-{i:02d}" for i in range(1, max_count + 1)]
    nodes = [
        {"name": f"{name}-mgmt", "roles": ["mgmt"]},
        {"name": f"{name}-login", "roles": ["login"]},
        *({"name": full, "roles": ["compute"]} for full in computes[:count]),
    ]
    return {"name": name, "file": f"events/{name}.yml", "nodes_list": nodes, "autoscale_names": computes[count:]}


def containers_of(event, **extra_labels):
    return [
        {
            "Names": [f"/{node['name']}"],
            "Labels": {
                "org.learnhpc.event": event["name"],
                "org.learnhpc.roles": ",".join(node["roles"]),
                **extra_labels,
            },
        }
        for node in event["nodes_list"]
    ]


def test_events_side_by_side_with_names_that_cannot_meet():
    engine = containers_of(event_of("demo")) + containers_of(event_of("demo-2")) + containers_of(event_of("demo-gpu"))
    engine.append({"Names": ["/registry"], "Labels": {}})
    assert docker_name_conflicts(engine, event_of("demo", max_count=8)) == []
    assert docker_name_conflicts(engine, event_of("demo-gpu")) == []  # its own containers


def test_a_compute_prefix_that_runs_into_another_events_names():
    # demo with prefix gpu-compute and demo-gpu with prefix compute both make demo-gpu-compute-NN
    bystander = containers_of(event_of("demo-gpu", count=1, max_count=4))
    assert docker_name_conflicts(bystander, event_of("demo", prefix="gpu-compute")) == [
        "events/demo.yml: nodes.compute.prefix: the node name 'demo-gpu-compute-01' is taken on this Docker engine "
        "by a container of event 'demo-gpu'; choose another",
        "events/demo.yml: nodes.compute.prefix: event 'demo-gpu' on this Docker engine numbers its compute nodes "
        "demo-gpu-compute-N as well (its autoscaling may create more); choose another",
    ]
    # the other way round: demo-gpu, whose compute-03 demo's autoscaling may create
    existing = containers_of(event_of("demo", prefix="gpu-compute", count=1, max_count=4))
    problems = docker_name_conflicts(existing, event_of("demo-gpu", count=2, max_count=2))
    assert len(problems) == 2 and all("nodes.compute.prefix" in line for line in problems)


def test_names_held_by_containers_of_no_event_and_of_other_roles():
    engine = [
        {"Names": ["/demo-login"], "Labels": {}},
        {"Names": ["/demo-compute-02"], "Labels": {"org.learnhpc.event": "other", "org.learnhpc.roles": "login"}},
    ]
    assert docker_name_conflicts(engine, event_of("demo", max_count=3)) == [
        "events/demo.yml: nodes.compute.prefix: the node name 'demo-compute-02' is taken on this Docker engine "
        "by a container of event 'other'; choose another",
        "events/demo.yml: nodes.login.name: the node name 'demo-login' is taken on this Docker engine "
        "by a container that is not of any event; choose another",
    ]


def test_name_conflicts_of_a_malformed_event():
    with pytest.raises(AnsibleFilterError, match=r"^docker_name_conflicts: the containers or the event lack"):
        docker_name_conflicts([], {"name": "demo"})
