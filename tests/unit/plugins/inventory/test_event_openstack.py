# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the openstack provider of the inventory plugin learnhpc.cluster.event.

The OpenStack API is replaced by fake connections (FakeConnection below: the few openstacksdk calls the plugin
makes), except in the tests of clouds.yaml and of authentication, which use openstacksdk itself: the first with
clouds.yaml files written here, the second against a small local HTTP server that answers like Keystone.
"""

from __future__ import annotations

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.learnhpc.cluster.plugins.plugin_utils import inventory_openstack

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # ansible-core < 2.19: unsafe values are AnsibleUnsafe instances
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    def is_trusted_as_template(value):
        return not isinstance(value, AnsibleUnsafe)


openstack = pytest.importorskip("openstack")
keystone_exceptions = pytest.importorskip("keystoneauth1.exceptions")
Flavor = pytest.importorskip("openstack.compute.v2.flavor").Flavor

PASSWORD = "s3cret-Pa55word"  # a fake password, to check that no message shows it


def flavor(flavor_id=None, vcpus=0, ram=0):
    """A server's flavor in the compute API's JSON: inline (from microversion 2.47 on) or a reference (before)."""
    if flavor_id:
        return {"id": flavor_id, "links": [{"rel": "bookmark", "href": f"http://nova/flavors/{flavor_id}"}]}
    return {"vcpus": vcpus, "ram": ram, "disk": 10, "original_name": f"fake.{vcpus}c", "extra_specs": {}}


class FakeResponse:
    """A requests.Response of the compute API."""

    def __init__(self, body, status_code=200):
        self.status_code = status_code
        self.text = json.dumps(body)

    def json(self):
        return json.loads(self.text)


class FakeCompute:
    """The compute proxy of a connection (a keystoneauth Adapter): get_endpoint_data(), get() of the server
    listing, with pages of ``page_size`` servers, and get_flavor()."""

    service_type = "compute"

    def __init__(self, servers, flavors, error=None, max_microversion="2.96", page_size=1000):
        self.server_list = servers
        self.flavors = flavors
        self.error = error
        self.max_microversion = max_microversion
        self.page_size = page_size
        self.calls = []

    def get_endpoint_data(self):
        return SimpleNamespace(min_microversion="2.1", max_microversion=self.max_microversion)

    def get(self, url, params=None, microversion=None):
        self.calls.append(("get", url, params, microversion))
        if isinstance(self.error, requests.Response):
            return self.error
        if self.error is not None:
            raise self.error
        start = 0 if url == "/servers/detail" else int(url.rsplit("marker=", 1)[1])
        page = self.server_list[start : start + self.page_size]
        body = {"servers": page}
        if start + self.page_size < len(self.server_list):
            href = f"http://nova.example.org/v2.1/servers/detail?limit={self.page_size}&marker={start + self.page_size}"
            body["servers_links"] = [{"rel": "next", "href": href}]
        return FakeResponse(body)

    def get_flavor(self, flavor_id):
        self.calls.append(("get_flavor", flavor_id))
        if flavor_id not in self.flavors:
            raise openstack.exceptions.NotFoundException(f"No Flavor found for {flavor_id}")
        return self.flavors[flavor_id]


class FakeConnection:
    """openstack.connection.Connection: compute, and config (the cloud's configuration, with its password)."""

    def __init__(self, servers=(), flavors=None, error=None, **compute):
        self.compute = FakeCompute(list(servers), flavors or {}, error, **compute)
        self.config = SimpleNamespace(config={"auth": {"username": "ada", "password": PASSWORD}})


LIST = ("get", "/servers/detail", None, "2.47")  # the call that lists the servers


def addresses(fixed=None, floating=None, network="osinv-net"):
    entries = []
    if fixed:
        entries.append({"addr": fixed, "version": 4, "OS-EXT-IPS:type": "fixed"})
    if floating:
        entries.append({"addr": floating, "version": 4, "OS-EXT-IPS:type": "floating"})
    return {network: entries} if entries else {}


M1_SMALL = flavor(vcpus=1, ram=2048)
M1_LARGE = flavor(vcpus=4, ram=8192)


def server(name, event_name="demo", roles="compute", *, end_date="2030-01-01", fixed=None, floating=None, **kwargs):
    """A server in the compute API's JSON, with the metadata of docs/contracts.md; a key given as None is left out."""
    metadata = {
        "org.learnhpc.event": event_name,
        "org.learnhpc.roles": roles,
        "org.learnhpc.end_date": end_date,
        "org.learnhpc.provider": "openstack",
        **kwargs.pop("metadata", {}),
    }
    metadata = {key: value for key, value in metadata.items() if value is not None}
    return {
        "id": "id-" + name,
        "name": name,
        "status": kwargs.pop("status", "ACTIVE"),
        "metadata": metadata,
        "addresses": addresses(fixed, floating),
        "flavor": kwargs.pop("flavor", M1_LARGE),
        "tenant_id": "0123",
        **kwargs,
    }


def cluster(event_name="demo", computes=2, net=1, floating="203.0.113.10"):
    """The servers of one event: mgmt, login (with a floating IP) and compute nodes on 10.42.<net>.0/24."""
    return [
        server(f"{event_name}-mgmt", event_name, "mgmt", fixed=f"10.42.{net}.11"),
        server(f"{event_name}-login", event_name, "login", fixed=f"10.42.{net}.12", floating=floating),
        *(
            server(f"{event_name}-compute-{i:02d}", event_name, "compute", fixed=f"10.42.{net}.{20 + i}")
            for i in range(1, computes + 1)
        ),
    ]


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def host_vars(inventory, host):
    """The variables the plugin set on a host (without inventory_file and inventory_dir, which InventoryData sets)."""
    variables = dict(inventory.get_host(host).vars)
    for name in ("inventory_file", "inventory_dir"):
        variables.pop(name, None)
    return variables


@pytest.fixture
def os_run(run, monkeypatch):
    """``run`` for the openstack provider: os_run({cloud name: connection}, **options)."""
    monkeypatch.delenv("OS_CLOUD", raising=False)

    def parse(connections, refresh=False, **options):
        options.setdefault("providers", ["openstack"])
        options.setdefault("clouds", list(connections))
        docker = AssertionError("the Docker client must not be used")
        return run(docker, refresh=refresh, openstack=connections, **options)

    parse.run = run
    return parse


# --- groups and host variables ---------------------------------------------------------------------------------


def test_groups_per_event_and_role(os_run):
    connection = FakeConnection([*cluster("demo"), *cluster("hpc-intro", 1, net=2, floating="203.0.113.20")])
    inventory = os_run({"training": connection})
    assert members(inventory, "event_demo") == ["demo-compute-01", "demo-compute-02", "demo-login", "demo-mgmt"]
    assert members(inventory, "event_hpc_intro") == ["hpc-intro-compute-01", "hpc-intro-login", "hpc-intro-mgmt"]
    assert members(inventory, "mgmt") == ["demo-mgmt", "hpc-intro-mgmt"]
    assert members(inventory, "login") == ["demo-login", "hpc-intro-login"]
    assert members(inventory, "compute") == ["demo-compute-01", "demo-compute-02", "hpc-intro-compute-01"]
    assert os_run.run.warnings == []
    assert connection.compute.calls == [LIST]
    assert os_run.run.clouds == ["training"]
    assert os_run.run.clouds_yaml == [None]


def test_host_vars_login_and_behind_it(os_run):
    inventory = os_run({"training": FakeConnection(cluster("demo", 1))})
    assert host_vars(inventory, "demo-login") == {
        "learnhpc_event": "demo",
        "learnhpc_node_roles": ["login"],
        "learnhpc_end_date": "2030-01-01",
        "learnhpc_provider": "openstack",
        "learnhpc_autoscaled": False,
        "learnhpc_openstack_cloud": "training",
        "learnhpc_openstack_id": "id-demo-login",
        "learnhpc_openstack_status": "ACTIVE",
        "learnhpc_openstack_fixed_ip": "10.42.1.12",
        "slurm_node_addr": "10.42.1.12",
        "learnhpc_openstack_floating_ip": "203.0.113.10",
        "ansible_host": "203.0.113.10",
        "ansible_user": "debian",
        "ansible_become": True,
        "slurm_node_cpus": 4,
        "slurm_node_memory_mb": 8192 - 256,
    }
    compute = host_vars(inventory, "demo-compute-01")
    assert compute["ansible_host"] == "10.42.1.21"
    assert compute["ansible_user"] == "debian"
    assert compute["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.10"
    assert host_vars(inventory, "demo-mgmt")["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.10"


def test_data_transfer_node_is_reached_through_the_login_node_and_keeps_its_floating_ip(os_run):
    servers = [*cluster("demo", 1), server("demo-dtn", roles="dtn", fixed="10.42.1.30", floating="203.0.113.30")]
    inventory = os_run({"training": FakeConnection(servers)})
    dtn = host_vars(inventory, "demo-dtn")
    assert members(inventory, "dtn") == ["demo-dtn"]
    assert dtn["learnhpc_node_roles"] == ["dtn"]
    assert dtn["ansible_host"] == "10.42.1.30"
    assert dtn["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.10"
    assert dtn["learnhpc_openstack_floating_ip"] == "203.0.113.30"
    assert "learnhpc_openstack_floating_ip" not in host_vars(inventory, "demo-compute-01")
    assert os_run.run.warnings == []


def test_ssh_user_from_metadata_and_option(os_run):
    servers = cluster("demo", 1)
    servers[1]["metadata"]["org.learnhpc.ssh_user"] = "cloud-user"  # the login node
    inventory = os_run({"training": FakeConnection(servers)}, ssh_user="ubuntu")
    assert host_vars(inventory, "demo-login")["ansible_user"] == "cloud-user"
    compute = host_vars(inventory, "demo-compute-01")
    assert compute["ansible_user"] == "ubuntu"
    # the jump goes as the login node's user
    assert compute["ansible_ssh_common_args"] == "-o ProxyJump=cloud-user@203.0.113.10"


def test_bad_ssh_user_in_metadata(os_run):
    servers = cluster("demo", 1)
    servers[1]["metadata"]["org.learnhpc.ssh_user"] = "x;rm -rf /"
    inventory = os_run({"training": FakeConnection(servers)})
    assert host_vars(inventory, "demo-login")["ansible_user"] == "debian"
    assert host_vars(inventory, "demo-compute-01")["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.10"
    assert len(os_run.run.warnings) == 1
    assert "demo-login" in os_run.run.warnings[0]
    assert "org.learnhpc.ssh_user" in os_run.run.warnings[0]


def test_ssh_options_go_through_a_proxy_command(os_run):
    options = ["StrictHostKeyChecking=accept-new", "UserKnownHostsFile=/home/ada/known hosts_%h"]
    inventory = os_run({"training": FakeConnection(cluster("demo", 1))}, ssh_options=options)
    login_args = shlex.split(host_vars(inventory, "demo-login")["ansible_ssh_common_args"])
    assert login_args == ["-o", options[0], "-o", options[1]]
    args = shlex.split(host_vars(inventory, "demo-compute-01")["ansible_ssh_common_args"])
    assert args[:4] == login_args
    assert args[4] == "-o"
    assert args[5].startswith("ProxyCommand=")
    assert len(args) == 6
    # ssh runs the ProxyCommand with the shell: the words it sees
    proxy = shlex.split(args[5][len("ProxyCommand=") :])
    # with the options' % tokens kept for the inner ssh (ssh expands those of the ProxyCommand itself)
    inner_args = ["-o", options[0], "-o", "UserKnownHostsFile=/home/ada/known hosts_%%h"]
    assert proxy == ["ssh", "-W", "%h:%p", *inner_args, "debian@203.0.113.10"]


@pytest.mark.parametrize("option", ["StrictHostKeyChecking", "-o StrictHostKeyChecking=no", "=no", "A=\nB"])
def test_malformed_ssh_option(os_run, option):
    with pytest.raises(AnsibleParserError, match="ssh_options"):
        os_run({"training": FakeConnection(cluster())}, ssh_options=[option])


@pytest.mark.parametrize("user", ["Debian", "", "a b"])
def test_malformed_ssh_user_option(os_run, user):
    with pytest.raises(AnsibleParserError, match="ssh_user"):
        os_run({"training": FakeConnection(cluster())}, ssh_user=user)


def test_event_without_login_floating_ip(os_run):
    servers = [*cluster("demo", 2, floating=None), *cluster("other", 1, net=2)]
    inventory = os_run({"training": FakeConnection(servers)})
    for name in ("demo-mgmt", "demo-login", "demo-compute-01", "demo-compute-02"):
        variables = host_vars(inventory, name)
        assert variables["ansible_host"].startswith("10.42.1.")
        assert "ansible_ssh_common_args" not in variables
    # one warning for the event, not one per node; the other event is reached as usual
    assert len(os_run.run.warnings) == 1
    assert "event demo" in os_run.run.warnings[0]
    assert "floating IP" in os_run.run.warnings[0]
    assert "ProxyJump" in host_vars(inventory, "other-compute-01")["ansible_ssh_common_args"]


def test_server_without_address(os_run):
    servers = [*cluster("demo", 1), server("demo-compute-02", status="BUILD")]
    inventory = os_run({"training": FakeConnection(servers)})
    variables = host_vars(inventory, "demo-compute-02")
    assert "ansible_host" not in variables
    assert variables["learnhpc_openstack_status"] == "BUILD"
    assert members(inventory, "compute") == ["demo-compute-01", "demo-compute-02"]
    assert len(os_run.run.warnings) == 1
    assert "demo-compute-02" in os_run.run.warnings[0]


def test_first_login_node_with_a_floating_ip_is_the_way_in(os_run):
    servers = [
        server("demo-login-b", roles="login", fixed="10.42.1.13", floating="203.0.113.12"),
        server("demo-login-a", roles="login", fixed="10.42.1.12"),
        server("demo-login-c", roles="login", fixed="10.42.1.14", floating="203.0.113.11"),
        server("demo-compute-01", fixed="10.42.1.21"),
    ]
    inventory = os_run({"training": FakeConnection(servers)})
    assert host_vars(inventory, "demo-compute-01")["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.12"
    assert host_vars(inventory, "demo-login-c")["ansible_host"] == "203.0.113.11"
    assert "ansible_ssh_common_args" not in host_vars(inventory, "demo-login-c")
    assert host_vars(inventory, "demo-login-a")["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.12"


def test_server_addresses():
    assert inventory_openstack.server_addresses(
        {
            "a": [{"addr": "fd00::5", "version": 6, "OS-EXT-IPS:type": "fixed"}],
            "b": [
                {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"},
                {"addr": "not an address", "OS-EXT-IPS:type": "floating"},
                {"addr": "198.51.100.7", "version": 4, "OS-EXT-IPS:type": "floating"},
            ],
        }
    ) == ("10.0.0.5", "198.51.100.7")
    assert inventory_openstack.server_addresses({}) == (None, None)
    assert inventory_openstack.server_addresses(None) == (None, None)
    assert inventory_openstack.server_addresses({"a": [{"addr": "fd00::5"}]}) == ("fd00::5", None)


def test_every_status_is_included(os_run):
    servers = [server(f"demo-compute-{i}", status=status) for i, status in enumerate(["ACTIVE", "SHUTOFF", "ERROR"])]
    inventory = os_run({"training": FakeConnection(servers)})
    statuses = [host_vars(inventory, f"demo-compute-{i}")["learnhpc_openstack_status"] for i in range(3)]
    assert statuses == ["ACTIVE", "SHUTOFF", "ERROR"]


def test_pages_of_the_listing(os_run):
    servers = [*cluster("demo", 20), *cluster("other", 21, net=2)]
    connection = FakeConnection(servers, page_size=20, max_microversion="2.47")
    inventory = os_run({"training": connection}, openstack_all_projects=True)
    assert len(inventory.hosts) == 45
    assert connection.compute.calls == [
        ("get", "/servers/detail", {"all_tenants": "True"}, "2.47"),
        ("get", "http://nova.example.org/v2.1/servers/detail?limit=20&marker=20", None, "2.47"),
        ("get", "http://nova.example.org/v2.1/servers/detail?limit=20&marker=40", None, "2.47"),
    ]


def test_events_filter(os_run):
    servers = [*cluster("demo", 1), *cluster("other", 1, net=2), *cluster("third", 1, net=3)]
    inventory = os_run({"training": FakeConnection(servers)}, events=["demo", "third"])
    assert sorted(inventory.hosts) == [
        "demo-compute-01",
        "demo-login",
        "demo-mgmt",
        "third-compute-01",
        "third-login",
        "third-mgmt",
    ]
    assert "event_other" not in inventory.groups


def test_two_clouds_and_all_projects(os_run):
    first = FakeConnection(cluster("demo", 1))
    second = FakeConnection(cluster("other", 1, net=2, floating="203.0.113.20"))
    inventory = os_run({"training": first, "training-2": second}, openstack_all_projects=True)
    assert host_vars(inventory, "demo-mgmt")["learnhpc_openstack_cloud"] == "training"
    assert host_vars(inventory, "other-mgmt")["learnhpc_openstack_cloud"] == "training-2"
    assert host_vars(inventory, "other-mgmt")["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.20"
    assert first.compute.calls == second.compute.calls == [("get", "/servers/detail", {"all_tenants": "True"}, "2.47")]


class FakeDockerClient:
    """A Docker client with one container of the event local."""

    class containers:  # an attribute of the client, as in the Docker SDK
        @staticmethod
        def list(**_kwargs):
            labels = {
                "org.learnhpc.event": "local",
                "org.learnhpc.roles": "mgmt",
                "org.learnhpc.end_date": "2030-01-01",
            }
            container = type("Container", (), {"name": "local-mgmt", "labels": labels, "status": "running"})()
            container.attrs = {"HostConfig": {}}
            return [container]

    @staticmethod
    def info():
        return {"NCPU": 2, "MemTotal": 4 * 1024**3}


def test_docker_and_openstack_together(os_run):
    inventory = os_run.run(
        FakeDockerClient(),
        openstack={"training": FakeConnection(cluster("demo", 1))},
        providers=["docker", "openstack"],
        clouds=["training"],
    )
    assert members(inventory, "mgmt") == ["demo-mgmt", "local-mgmt"]
    assert host_vars(inventory, "local-mgmt")["learnhpc_provider"] == "docker"
    assert host_vars(inventory, "demo-mgmt")["learnhpc_provider"] == "openstack"


# --- Slurm sizes -----------------------------------------------------------------------------------------------


def test_size_from_the_inline_flavor_and_reserve(os_run):
    servers = [
        server("demo-mgmt", roles="mgmt", fixed="10.42.1.11", flavor=M1_SMALL),
        server("demo-compute-01", fixed="10.42.1.21", flavor=flavor(vcpus=16, ram=65536)),
        server("demo-compute-02", fixed="10.42.1.22", flavor=flavor(vcpus=1, ram=256)),
    ]
    connection = FakeConnection(servers)
    inventory = os_run({"training": connection}, memory_reserve_mb=1024)
    sizes = {}
    for name in inventory.hosts:
        variables = host_vars(inventory, name)
        sizes[name] = (variables["slurm_node_cpus"], variables["slurm_node_memory_mb"])
        assert isinstance(variables["slurm_node_cpus"], int)
        assert isinstance(variables["slurm_node_memory_mb"], int)
    assert sizes == {"demo-mgmt": (1, 1024), "demo-compute-01": (16, 64512), "demo-compute-02": (1, 1)}
    # no flavor was looked up: the servers carry theirs (compute API >= 2.47)
    assert connection.compute.calls == [LIST]


def test_flavor_looked_up_once_per_id(os_run):
    """Compute API < 2.47: a server names its flavor by ID only."""
    servers = [
        server(f"demo-compute-{i:02d}", fixed=f"10.42.1.{20 + i}", flavor=flavor("f-large")) for i in range(1, 6)
    ]
    servers.append(server("demo-mgmt", roles="mgmt", fixed="10.42.1.11", flavor=flavor("f-small")))
    flavors = {
        "f-large": Flavor(id="f-large", vcpus=8, ram=32768),
        "f-small": Flavor(id="f-small", vcpus=2, ram=4096),
    }
    connection = FakeConnection(servers, flavors, max_microversion="2.42")
    inventory = os_run({"training": connection})
    assert host_vars(inventory, "demo-compute-03")["slurm_node_cpus"] == 8
    assert host_vars(inventory, "demo-compute-03")["slurm_node_memory_mb"] == 32768 - 256
    assert host_vars(inventory, "demo-mgmt")["slurm_node_memory_mb"] == 4096 - 256
    assert connection.compute.calls == [
        ("get", "/servers/detail", None, "2.42"),
        ("get_flavor", "f-large"),
        ("get_flavor", "f-small"),
    ]


def test_cloud_without_microversions(os_run):
    servers = [server("demo-compute-01", fixed="10.42.1.21", flavor=flavor("2"))]
    connection = FakeConnection(servers, {"2": Flavor(id="2", vcpus=2, ram=4096)}, max_microversion=None)
    inventory = os_run({"training": connection})
    assert host_vars(inventory, "demo-compute-01")["slurm_node_cpus"] == 2
    assert connection.compute.calls == [("get", "/servers/detail", None, None), ("get_flavor", "2")]


def test_flavor_gone(os_run):
    servers = [server(f"demo-compute-{i:02d}", fixed="10.42.1.2", flavor=flavor("deleted")) for i in (1, 2)]
    inventory = os_run({"training": FakeConnection(servers)})
    assert host_vars(inventory, "demo-compute-02")["slurm_node_cpus"] == 1
    assert host_vars(inventory, "demo-compute-02")["slurm_node_memory_mb"] == 1
    flavor_warnings = [warning for warning in os_run.run.warnings if "flavor deleted" in warning]
    assert len(flavor_warnings) == 1


# --- malformed metadata ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {"roles": None},
        {"roles": " , "},
        {"end_date": None},
        {"end_date": "2030-02-30"},
        {"event_name": ""},
        {"event_name": "Demo"},
        {"event_name": "demo_1"},
    ],
)
def test_malformed_metadata_is_skipped(os_run, metadata):
    bad = server("bad-server", fixed="10.42.1.99", **metadata)
    inventory = os_run({"training": FakeConnection([*cluster("demo", 1), bad])})
    assert sorted(inventory.hosts) == ["demo-compute-01", "demo-login", "demo-mgmt"]
    assert len(os_run.run.warnings) == 1
    assert os_run.run.warnings[0].startswith("learnhpc.cluster.event: skipping server bad-server: ")


@pytest.mark.parametrize("metadata", [{}, None, {"org.learnhpc.roles": "compute"}])
def test_servers_of_no_event_are_left_out_quietly(os_run, metadata):
    """Servers without the metadata org.learnhpc.event are not the collection's: no warning, as for containers."""
    other = {"id": "id-other", "name": "other", "status": "ACTIVE", "metadata": metadata, "flavor": M1_SMALL}
    inventory = os_run({"training": FakeConnection([other, *cluster("demo", 1)])})
    assert "other" not in inventory.hosts
    assert len(inventory.hosts) == 3
    assert os_run.run.warnings == []


def test_unknown_role_warning(os_run):
    servers = [*cluster("demo", 1), server("demo-gpu-01", roles="compute,gpu", fixed="10.42.1.40")]
    inventory = os_run({"training": FakeConnection(servers)})
    assert host_vars(inventory, "demo-gpu-01")["learnhpc_node_roles"] == ["compute"]
    assert len(os_run.run.warnings) == 1
    assert "gpu" in os_run.run.warnings[0]


# --- unsafe values ---------------------------------------------------------------------------------------------


def test_values_are_unsafe(os_run):
    servers = cluster("demo", 1)
    servers[0]["status"] = "{{ 6 * 7 }}"
    servers[0]["metadata"]["org.learnhpc.roles"] = "mgmt,{{ lookup('pipe', 'id') }}"
    inventory = os_run(
        {"training": FakeConnection(servers)}, compose={"status_copy": "learnhpc_openstack_status"}, strict=True
    )
    variables = host_vars(inventory, "demo-mgmt")
    assert variables["learnhpc_openstack_status"] == "{{ 6 * 7 }}"
    assert variables["status_copy"] == "{{ 6 * 7 }}"
    for name in ("demo-mgmt", "demo-compute-01"):
        variables = host_vars(inventory, name)
        strings = [value for value in variables.values() if isinstance(value, str)]
        strings.extend(variables["learnhpc_node_roles"])
        assert len(strings) >= 9
        for value in strings:
            assert not is_trusted_as_template(value), value
        assert "ansible_ssh_common_args" in variables
    for group in inventory.groups.values():
        assert not is_trusted_as_template(group.name)


def test_constructed_groups_by_status(os_run):
    servers = [*cluster("demo", 1), server("demo-compute-02", fixed="10.42.1.22", status="ERROR")]
    inventory = os_run(
        {"training": FakeConnection(servers)},
        strict=True,
        keyed_groups=[{"key": "learnhpc_openstack_status", "prefix": "openstack"}],
        groups={"big": "slurm_node_cpus >= 4"},
    )
    assert members(inventory, "openstack_ERROR") == ["demo-compute-02"]
    assert len(members(inventory, "openstack_ACTIVE")) == 3
    assert len(members(inventory, "big")) == 4


# --- cache -----------------------------------------------------------------------------------------------------


def test_cache(os_run, tmp_path):
    cache = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
        "cache_timeout": 600,
    }
    connection = FakeConnection(cluster("demo", 2))
    first = os_run({"training": connection}, **cache)
    os_run.run.plugin.update_cache_if_changed()  # what the InventoryManager does after parse()
    assert connection.compute.calls == [LIST]

    # the second parse reads the cache: no clouds.yaml, no connection, no API call
    second = os_run({"training": AssertionError("the OpenStack connection must not be used")}, **cache)
    assert sorted(second.hosts) == sorted(first.hosts)
    assert host_vars(second, "demo-compute-01") == host_vars(first, "demo-compute-01")
    assert not is_trusted_as_template(host_vars(second, "demo-compute-01")["ansible_ssh_common_args"])
    assert os_run.run.clouds == ["training"]
    assert os_run.run.clouds_yaml == [None]
    assert connection.compute.calls == [LIST]
    # plain strings in the cache: the options' values (cloud, user) without Ansible's tags (origin, trust)
    (cache_file,) = (tmp_path / "cache").iterdir()
    assert "__ansible" not in cache_file.read_text(encoding="utf-8")

    # memory_reserve_mb and events apply to the cached nodes
    third = os_run({"training": AssertionError("no")}, memory_reserve_mb=0, events=["demo"], **cache)
    assert host_vars(third, "demo-mgmt")["slurm_node_memory_mb"] == 8192

    # a refresh reads the cloud again
    connection.compute.server_list.append(server("demo-compute-03", fixed="10.42.1.23"))
    fourth = os_run({"training": connection}, refresh=True, **cache)
    assert "demo-compute-03" in fourth.hosts
    assert len(connection.compute.calls) == 2


# --- clouds, clouds.yaml and errors ----------------------------------------------------------------------------


def test_no_cloud(os_run):
    with pytest.raises(AnsibleParserError) as info:
        os_run({}, clouds=[])
    assert info.value.message == (
        "learnhpc.cluster.event: the openstack provider needs the name of a cloud in clouds.yaml: set the option"
        " clouds or the environment variable OS_CLOUD"
    )


def test_os_cloud_environment_variable(os_run, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "from-env")
    connection = FakeConnection(cluster("demo", 1))
    inventory = os_run({"from-env": connection}, clouds=None)
    assert os_run.run.clouds == ["from-env"]
    assert host_vars(inventory, "demo-mgmt")["learnhpc_openstack_cloud"] == "from-env"


def test_clouds_yaml_option(os_run, tmp_path):
    os_run({"training": FakeConnection([])}, clouds_yaml=str(tmp_path / "clouds.yaml"))
    assert os_run.run.clouds_yaml == [str(tmp_path / "clouds.yaml")]


def write_clouds_yaml(tmp_path, auth_url="http://127.0.0.1:1/v3"):
    clouds = {
        "clouds": {
            name: {
                "auth": {
                    "auth_url": auth_url,
                    "username": "ada",
                    "password": PASSWORD,
                    "project_name": "training",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionOne",
                "identity_api_version": 3,
            }
            for name in ("training", "admin")
        }
    }
    path = tmp_path / "clouds.yaml"
    path.write_text(json.dumps(clouds), encoding="utf-8")  # JSON is YAML
    return path


def test_unknown_cloud(tmp_path):
    """openstacksdk reads a clouds.yaml written here."""
    path = write_clouds_yaml(tmp_path)
    config = inventory_openstack.openstack_config(str(path))
    with pytest.raises(AnsibleParserError) as info:
        inventory_openstack.openstack_connection(config, "trainign")
    assert info.value.message == (
        f"learnhpc.cluster.event: cloud 'trainign' is not in clouds.yaml; clouds found: admin, training ({path})"
    )


def test_cloud_configuration_not_usable(tmp_path):
    path = tmp_path / "clouds.yaml"
    clouds = {"clouds": {"training": {"auth_type": "password", "auth": {"username": "ada", "password": PASSWORD}}}}
    path.write_text(json.dumps(clouds), encoding="utf-8")
    with pytest.raises(AnsibleParserError) as info:
        inventory_openstack.openstack_connection(inventory_openstack.openstack_config(str(path)), "training")
    assert info.value.message == (
        f"learnhpc.cluster.event: the configuration of cloud training in {path} is not usable: MissingRequiredOptions:"
        " Auth plugin requires parameters which were not given: auth_url"
    )


def test_clouds_yaml_wins_over_the_environment(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds_yaml(other)))
    monkeypatch.setenv("OS_AUTH_URL", "http://192.0.2.1:5000/v3")
    path = tmp_path / "clouds.yaml"
    path.write_text(json.dumps({"clouds": {"mine": {"auth": {"auth_url": "http://127.0.0.1:1/v3"}}}}), encoding="utf-8")
    config = inventory_openstack.openstack_config(str(path))
    assert config.config_filename == str(path)
    assert config.get_cloud_names() == ["mine"]


def test_clouds_yaml_missing(tmp_path):
    with pytest.raises(AnsibleParserError, match=r"clouds_yaml .*/nothing\.yaml is not a file$"):
        inventory_openstack.openstack_config(str(tmp_path / "nothing.yaml"))


def test_clouds_yaml_broken(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds: [unclosed\n", encoding="utf-8")
    with pytest.raises(AnsibleParserError) as info:
        inventory_openstack.openstack_config(str(path))
    assert info.value.message.startswith(f"learnhpc.cluster.event: reading {path} failed: ")
    assert "\n" not in info.value.message


def test_openstacksdk_missing(monkeypatch):
    monkeypatch.setattr(inventory_openstack, "_SDK", {})
    monkeypatch.setitem(sys.modules, "openstack.config", None)  # import openstack.config raises ImportError
    with pytest.raises(AnsibleParserError) as info:
        inventory_openstack.openstack_config(None)
    assert info.value.message.startswith(
        "learnhpc.cluster.event: the openstack provider needs openstacksdk (pip package openstacksdk) on the controller"
    )


def test_sdks_are_imported_only_when_used():
    """Loading the plugin imports neither openstacksdk (about 0.5 s) nor the Docker SDK (0.3 s): runs that use one
    provider, or the cache, skip the other or both."""
    script = (
        "import sys\n"
        "from ansible.plugins.loader import init_plugin_loader, inventory_loader\n"
        "init_plugin_loader([p for p in sys.path if p.endswith('collections')])\n"
        "plugin = inventory_loader.get('learnhpc.cluster.event')\n"
        "assert type(plugin).__name__ == 'InventoryModule'\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'openstack', 'keystoneauth1', 'docker'}))\n"
    )
    collections = [path for path in sys.path if Path(path, "ansible_collections", "learnhpc").is_dir()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(collections))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


class FakeCloudHandler(http.server.BaseHTTPRequestHandler):
    """Answers like Keystone v3 (password authentication) and Nova (version document, paged server listing).

    The server's ``cloud`` attribute holds the password, the servers, the page size and the requests seen.
    """

    def do_GET(self):
        cloud = self.server.cloud
        cloud["requests"].append(("GET", self.path, self.headers.get("OpenStack-API-Version")))
        path, _sep, query = self.path.partition("?")
        if path in ("/v3", "/v3/"):
            version = {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": self._url("/v3/")}]}
            return self._send(200, {"version": version})
        if self.headers.get("X-Auth-Token") != "fake-token":
            return self._send(
                401, {"error": {"code": 401, "message": "The request you have made requires authentication."}}
            )
        if path in ("/compute/v2.1", "/compute/v2.1/"):
            version = {
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.93",
                "min_version": "2.1",
                "links": [{"rel": "self", "href": self._url("/compute/v2.1/")}],
            }
            return self._send(200, {"version": version})
        if path == "/compute/v2.1/servers/detail":
            size = cloud["page_size"]
            start = int(query.split("marker=")[1]) if "marker=" in query else 0
            body = {"servers": cloud["servers"][start : start + size]}
            if start + size < len(cloud["servers"]):
                next_url = self._url(f"/compute/v2.1/servers/detail?limit={size}&marker={start + size}")
                body["servers_links"] = [{"rel": "next", "href": next_url}]
            return self._send(200, body)
        return self._send(404, {"itemNotFound": {"code": 404, "message": f"{path} not found"}})

    def do_POST(self):
        cloud = self.server.cloud
        cloud["requests"].append(("POST", self.path, None))
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        password = request["auth"]["identity"]["password"]["user"]["password"]
        if self.path.rstrip("/") != "/v3/auth/tokens" or password != cloud["password"]:
            error = {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
            return self._send(401, {"error": error})
        endpoint = {"id": "e1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne"}
        domain = {"id": "default", "name": "Default"}
        token = {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2030-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "ada", "domain": domain},
            "project": {"id": "p1", "name": "training", "domain": domain},
            "roles": [{"id": "r1", "name": "member"}],
            "catalog": [
                {
                    "type": "compute",
                    "name": "nova",
                    "id": "c1",
                    "endpoints": [{**endpoint, "url": self._url("/compute/v2.1")}],
                }
            ],
        }
        return self._send(201, {"token": token}, {"X-Subject-Token": "fake-token"})

    def _url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def _send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def fake_cloud():
    """A local HTTP server that answers like Keystone and Nova: its ``cloud`` dict, with ``auth_url``."""
    server_ = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeCloudHandler)
    server_.cloud = {
        "password": PASSWORD,
        "servers": [],
        "page_size": 1000,
        "requests": [],
        "auth_url": f"http://127.0.0.1:{server_.server_address[1]}/v3",
    }
    thread = threading.Thread(target=server_.serve_forever, daemon=True)
    thread.start()
    yield server_.cloud
    server_.shutdown()
    server_.server_close()


def parse_with_sdk(tmp_path, clouds_yaml, **options):
    """Parse with the plugin as Ansible does, nothing replaced: openstacksdk talks HTTP to the fake cloud."""
    config = tmp_path / "test.event.yml"
    base = {"plugin": "learnhpc.cluster.event", "providers": ["openstack"], "clouds": ["training"]}
    config.write_text(json.dumps({**base, "clouds_yaml": str(clouds_yaml), **options}), encoding="utf-8")
    inventory = InventoryData()
    inventory_loader.get("learnhpc.cluster.event").parse(inventory, DataLoader(), str(config))
    return inventory


def test_with_openstacksdk_over_http(tmp_path, fake_cloud, monkeypatch):
    """The real openstacksdk and keystoneauth: token, microversion 2.47, pages of the listing by absolute URL."""
    monkeypatch.delenv("OS_CLOUD", raising=False)
    fake_cloud["servers"] = [*cluster("demo", 3), *cluster("other", 1, net=2, floating="203.0.113.20")]
    fake_cloud["page_size"] = 3
    inventory = parse_with_sdk(tmp_path, write_clouds_yaml(tmp_path, auth_url=fake_cloud["auth_url"]))
    assert len(inventory.hosts) == 8
    assert members(inventory, "compute") == [
        "demo-compute-01",
        "demo-compute-02",
        "demo-compute-03",
        "other-compute-01",
    ]
    compute = host_vars(inventory, "demo-compute-02")
    assert compute["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.10"
    assert (compute["slurm_node_cpus"], compute["slurm_node_memory_mb"]) == (4, 8192 - 256)
    listings = [request for request in fake_cloud["requests"] if "/servers/detail" in request[1]]
    assert [request[1] for request in listings] == [
        "/compute/v2.1/servers/detail",
        "/compute/v2.1/servers/detail?limit=3&marker=3",
        "/compute/v2.1/servers/detail?limit=3&marker=6",
    ]
    assert {request[2] for request in listings} == {"compute 2.47"}


def test_authentication_fails(tmp_path, fake_cloud, monkeypatch):
    """The real openstacksdk and keystoneauth, against a fake Keystone that refuses the password (HTTP 401)."""
    monkeypatch.delenv("OS_CLOUD", raising=False)
    fake_cloud["password"] = "another password"
    with pytest.raises(AnsibleParserError) as info:
        parse_with_sdk(tmp_path, write_clouds_yaml(tmp_path, auth_url=fake_cloud["auth_url"]))
    message = info.value.message
    assert message.startswith(
        "learnhpc.cluster.event: cloud training refused the credentials in clouds.yaml (authentication failed): "
    )
    assert "\n" not in message
    assert PASSWORD not in message
    assert ("POST", "/v3/auth/tokens", None) in fake_cloud["requests"]
    assert info.value.__cause__ is None


def test_cloud_does_not_answer(os_run, tmp_path):
    """The real openstacksdk, at a port where nothing listens."""
    path = write_clouds_yaml(tmp_path, auth_url="http://127.0.0.1:1/v3")
    connection = inventory_openstack.openstack_connection(inventory_openstack.openstack_config(str(path)), "training")
    provider = inventory_openstack.OpenStackProvider({"training": connection}, warn=print, secrets=[PASSWORD])
    with pytest.raises(AnsibleParserError) as info:
        provider.nodes()
    message = info.value.message
    assert message.startswith("learnhpc.cluster.event: listing the servers of cloud training failed: ")
    assert "\n" not in message
    assert PASSWORD not in message


def response(status):
    """A requests.Response with an HTTP status, for openstacksdk's HttpException."""
    result = requests.Response()
    result.status_code = status
    return result


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (
            keystone_exceptions.Unauthorized("The request you have made requires authentication. (HTTP 401)"),
            "learnhpc.cluster.event: cloud training refused the credentials in clouds.yaml (authentication failed): ",
        ),
        (
            openstack.exceptions.HttpException("Unauthorized", response=response(401)),
            "learnhpc.cluster.event: cloud training refused the credentials in clouds.yaml (authentication failed): ",
        ),
        (
            openstack.exceptions.HttpException(f"Bad\nthing, password {PASSWORD}", response=response(500)),
            "learnhpc.cluster.event: listing the servers of cloud training failed: HttpException: HTTP 500: Bad thing,"
            " password ***",
        ),
        (
            keystone_exceptions.ConnectFailure("Unable to establish connection to http://192.0.2.1:5000/v3"),
            "learnhpc.cluster.event: listing the servers of cloud training failed: ConnectFailure: Unable",
        ),
    ],
)
def test_listing_errors_are_one_line_without_secrets(os_run, error, start):
    with pytest.raises(AnsibleParserError) as info:
        os_run({"training": FakeConnection(error=error)})
    message = info.value.message
    assert message.startswith(start)
    assert "\n" not in message
    assert PASSWORD not in message


def test_listing_refused(os_run):
    """An HTTP error of the compute API, turned into an exception by openstacksdk."""
    body = {
        "forbidden": {"code": 403, "message": "Policy doesn't allow\nos_compute_api:servers:detail:get_all_tenants"}
    }
    refused = requests.Response()
    refused.status_code = 403
    refused.reason = "Forbidden"
    refused.headers["Content-Type"] = "application/json"
    refused._content = json.dumps(body).encode()
    refused.url = "http://nova.example.org/v2.1/servers/detail?all_tenants=True"
    with pytest.raises(AnsibleParserError) as info:
        os_run({"training": FakeConnection(error=refused)}, openstack_all_projects=True)
    message = info.value.message
    assert message.startswith(
        "learnhpc.cluster.event: listing the servers of cloud training failed: ForbiddenException"
    )
    assert "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants" in message
    assert "\n" not in message


def test_provider_class_is_separable():
    provider = inventory_openstack.OpenStackProvider({"training": FakeConnection(cluster("demo", 1))}, warn=print)
    nodes = provider.nodes()
    assert [n["name"] for n in nodes] == ["demo-mgmt", "demo-login", "demo-compute-01"]
    assert nodes[2] == {
        "name": "demo-compute-01",
        "event": "demo",
        "roles": ["compute"],
        "end_date": "2030-01-01",
        "provider": "openstack",
        "cpus": 4,
        "memory_mb": 8192,
        "vars": {
            "ansible_host": "10.42.1.21",
            "ansible_ssh_common_args": "-o ProxyJump=debian@203.0.113.10",
            "ansible_user": "debian",
            "ansible_become": True,
            "learnhpc_openstack_cloud": "training",
            "learnhpc_openstack_id": "id-demo-compute-01",
            "learnhpc_openstack_status": "ACTIVE",
            "learnhpc_openstack_fixed_ip": "10.42.1.21",
            "slurm_node_addr": "10.42.1.21",
        },
    }
    json.dumps(nodes)  # plain JSON data, for the inventory cache


# --- the event's generated key ----------------------------------------------------------------------------------


def write_key(events_dir, event_name):
    key = events_dir / ".state" / event_name / "ssh" / "openstack_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text("not a real key\n", encoding="utf-8")
    key.chmod(0o600)
    return key


def test_generated_key_is_used_for_the_nodes_and_the_jump(os_run, tmp_path, monkeypatch):
    monkeypatch.delenv("LEARNHPC_EVENTS_DIR", raising=False)
    events_dir = tmp_path / "my events"
    key = write_key(events_dir, "demo")
    servers = [*cluster("demo", 1), *cluster("other", 1, net=2, floating="203.0.113.20")]
    inventory = os_run({"training": FakeConnection(servers)}, events_dir=str(events_dir))
    login = host_vars(inventory, "demo-login")
    assert login["ansible_ssh_private_key_file"] == str(key)
    # An event with a state directory has its own host keys file, trusted on first use.
    known = ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={events_dir}/.state/demo/known_hosts"]
    assert shlex.split(login["ansible_ssh_common_args"]) == known
    args = shlex.split(host_vars(inventory, "demo-compute-01")["ansible_ssh_common_args"])
    assert host_vars(inventory, "demo-compute-01")["ansible_ssh_private_key_file"] == str(key)
    assert args[:4] == known
    assert len(args) == 6
    assert args[4] == "-o"
    proxy = shlex.split(args[5][len("ProxyCommand=") :])
    assert proxy == ["ssh", "-W", "%h:%p", *known, "-i", str(key), "-o", "IdentitiesOnly=yes", "debian@203.0.113.10"]
    # an event without a state directory (its own key pair in OpenStack) is reached with the user's keys
    other = host_vars(inventory, "other-compute-01")
    assert "ansible_ssh_private_key_file" not in other
    assert other["ansible_ssh_common_args"] == "-o ProxyJump=debian@203.0.113.20"


def test_a_host_key_policy_in_ssh_options_replaces_the_events_file(os_run, tmp_path, monkeypatch):
    monkeypatch.delenv("LEARNHPC_EVENTS_DIR", raising=False)
    events_dir = tmp_path / "events"
    write_key(events_dir, "demo")
    options = ["UserKnownHostsFile=/etc/ssh/training_hosts"]
    connections = {"training": FakeConnection(cluster("demo", 1))}
    inventory = os_run(connections, events_dir=str(events_dir), ssh_options=options)
    args = shlex.split(host_vars(inventory, "demo-login")["ansible_ssh_common_args"])
    assert args == ["-o", "UserKnownHostsFile=/etc/ssh/training_hosts"]


def test_events_dir_relative_to_the_inventory_file(os_run, tmp_path, monkeypatch):
    monkeypatch.delenv("LEARNHPC_EVENTS_DIR", raising=False)
    # the inventory file is tmp_path/test.event.yml: the default ../events is beside tmp_path
    key = write_key(tmp_path / "events", "demo")
    inventory = os_run({"training": FakeConnection(cluster("demo", 1))}, events_dir="events")
    assert host_vars(inventory, "demo-mgmt")["ansible_ssh_private_key_file"] == str(key)


def test_events_dir_from_the_environment(os_run, tmp_path, monkeypatch):
    key = write_key(tmp_path / "elsewhere", "demo")
    monkeypatch.setenv("LEARNHPC_EVENTS_DIR", str(tmp_path / "elsewhere"))
    inventory = os_run({"training": FakeConnection(cluster("demo", 1))})
    assert host_vars(inventory, "demo-mgmt")["ansible_ssh_private_key_file"] == str(key)


def test_key_and_ssh_options_share_the_proxy_command(os_run, tmp_path, monkeypatch):
    monkeypatch.delenv("LEARNHPC_EVENTS_DIR", raising=False)
    key = write_key(tmp_path / "events", "demo")
    options = ["StrictHostKeyChecking=accept-new"]
    inventory = os_run({"training": FakeConnection(cluster("demo", 1))}, events_dir="events", ssh_options=options)
    args = shlex.split(host_vars(inventory, "demo-compute-01")["ansible_ssh_common_args"])
    proxy = shlex.split(args[3][len("ProxyCommand=") :])
    assert args[:2] == ["-o", options[0]]
    assert proxy == [
        "ssh",
        "-W",
        "%h:%p",
        "-o",
        options[0],
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "debian@203.0.113.10",
    ]
