import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.docker import docker_node_container

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
