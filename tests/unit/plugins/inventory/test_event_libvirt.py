# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the libvirt provider of the inventory plugin learnhpc.cluster.event.

Most tests run the plugin against libvirt's own test driver: a ``test:///<file>.xml`` connection whose domains are
written here, with the event's labels in their metadata in the form module_utils/libvirt_api.py writes
(``metadata_xml``). They are skipped when libvirt-python cannot be imported. A few use a fake libvirt_api instead,
for what the test driver cannot do (a domain that goes away while it is read).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import yaml
from ansible.errors import AnsibleParserError
from ansible.plugins.loader import inventory_loader

from ansible_collections.learnhpc.cluster.plugins.inventory import event
from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api
from ansible_collections.learnhpc.cluster.plugins.plugin_utils import inventory_libvirt
from ansible_collections.learnhpc.cluster.tests.unit.plugins.conftest import have_libvirt

HAVE_LIBVIRT = have_libvirt()

needs_libvirt = pytest.mark.skipif(
    not HAVE_LIBVIRT,
    reason="libvirt-python is not installed (LEARNHPC_SETUP_LIBVIRT=1 make setup installs it): these tests run the"
    " plugin against libvirt's test driver",
)

ROOT = Path(__file__).resolve().parents[4]
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
RUNNING = 1
SHUT_OFF = 5


def labels(event_name="lvdemo", roles="compute", address="10.77.9.13", ssh_user="debian", **extra):
    """The labels the libvirt_provider role gives a node (contract.node_labels) and its address."""
    found = contract.node_labels(event_name, roles.split(","), "2030-01-01", "2030-01-03", "libvirt", ssh_user=ssh_user)
    if address is not None:
        found[libvirt_api.ADDRESS_KEY] = address
    found.update(extra)
    return {key: value for key, value in found.items() if value is not None}


def domain(name, node_labels=None, *, vcpus=1, memory_mb=2048, state=RUNNING):
    """A domain of libvirt's test driver; with ``node_labels`` our metadata, as libvirt_event_nodes writes it."""
    metadata = ""
    if node_labels is not None:
        element = libvirt_api.metadata_xml(node_labels, prefix=contract.LIBVIRT_METADATA_PREFIX)
        metadata = f"<metadata>{element}</metadata>"
    return (
        f"<domain type='test' xmlns:test='{TEST_NS}'><name>{escape(name)}</name>"
        f"<memory unit='MiB'>{memory_mb}</memory><vcpu>{vcpus}</vcpu><os><type>hvm</type></os>{metadata}"
        "<devices><interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/>"
        f"</interface></devices><test:runstate>{state}</test:runstate></domain>"
    )


def uri_of(tmp_path, *domains, name="node.xml"):
    """A test:/// URI whose host has ``domains``."""
    path = tmp_path / name
    path.write_text("<node>" + "".join(domains) + "</node>", encoding="utf-8")
    return f"test://{path}"


def cluster(event_name="lvdemo", computes=1, base=10):
    """An event's domains: mgmt and login running, the compute nodes shut off."""
    found = [
        domain(f"{event_name}-mgmt", labels(event_name, "mgmt", f"10.77.9.{base}"), vcpus=2, memory_mb=4096),
        domain(f"{event_name}-login", labels(event_name, "login", f"10.77.9.{base + 1}")),
    ]
    found.extend(
        domain(
            f"{event_name}-compute-{i:02d}", labels(event_name, "compute", f"10.77.9.{base + 2 + i}"), state=SHUT_OFF
        )
        for i in range(1, computes + 1)
    )
    return found


def state_dir(events_dir, event_name="lvdemo", key=True):
    """The event's state directory, as load_event.yml makes it, with the role's key when ``key``."""
    state = events_dir / ".state" / event_name
    (state / "ssh").mkdir(parents=True)
    if key:
        (state / "ssh" / "libvirt_ed25519").write_text("not a real key\n", encoding="utf-8")
    return state


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


# --- the registry and the copies of the contract ---------------------------------------------------------------


def test_libvirt_is_a_provider_of_the_plugin():
    assert event.PROVIDERS["libvirt"] is inventory_libvirt.LibvirtProvider
    assert set(event.PROVIDERS) == set(contract.PROVIDERS)
    options = yaml.safe_load(event.DOCUMENTATION)["options"]
    assert options["providers"]["choices"] == list(contract.PROVIDERS)
    assert options["libvirt_uris"]["default"] == [libvirt_api.SYSTEM_URI]


def test_the_role_keeps_the_contracts_roles_label():
    # The libvirt_provider role gives each node the compute node's labels with its own roles in this label.
    role_vars = yaml.safe_load((ROOT / "roles/libvirt_provider/vars/main.yml").read_text())
    assert role_vars["__libvirt_provider_roles_label"] == contract.ROLES_KEY


# --- with libvirt's test driver ----------------------------------------------------------------------------------


@needs_libvirt
def test_domains_of_events(run, tmp_path):
    events_dir = tmp_path / "events"
    state = state_dir(events_dir)
    uri = uri_of(
        tmp_path,
        *cluster(),
        domain("lvother-mgmt", labels("lvother", "mgmt", "10.77.8.10")),
        domain("somebodys-vm"),  # no metadata: not an event's
    )
    inventory = run(providers=["libvirt"], libvirt_uris=[uri], events_dir=str(events_dir))

    assert sorted(inventory.hosts) == ["lvdemo-compute-01", "lvdemo-login", "lvdemo-mgmt", "lvother-mgmt"]
    assert members(inventory, "event_lvdemo") == ["lvdemo-compute-01", "lvdemo-login", "lvdemo-mgmt"]
    assert members(inventory, "mgmt") == ["lvdemo-mgmt", "lvother-mgmt"]
    assert members(inventory, "compute") == ["lvdemo-compute-01"]
    assert members(inventory, "autoscaled") == []

    mgmt = host_vars(inventory, "lvdemo-mgmt")
    key = str(state / "ssh" / "libvirt_ed25519")
    assert {name: mgmt[name] for name in mgmt if name not in ("inventory_file", "inventory_dir")} == {
        "inventory_hostname": "lvdemo-mgmt",
        "inventory_hostname_short": "lvdemo-mgmt",
        "group_names": ["event_lvdemo", "mgmt"],
        "ansible_host": "10.77.9.10",
        "ansible_user": "debian",
        "ansible_become": True,
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": shlex.join(
            [
                "-o",
                "StrictHostKeyChecking=accept-new",
                "-o",
                f"UserKnownHostsFile={state}/known_hosts",
                "-o",
                "IdentitiesOnly=yes",
            ]
        ),
        "learnhpc_libvirt_uri": uri,
        "learnhpc_libvirt_state": "running",
        "learnhpc_libvirt_address": "10.77.9.10",
        "slurm_node_addr": "10.77.9.10",
        "learnhpc_event": "lvdemo",
        "learnhpc_node_roles": ["mgmt"],
        "learnhpc_end_date": "2030-01-01",
        "learnhpc_provider": "libvirt",
        "learnhpc_autoscaled": False,
        "slurm_node_cpus": 2,
        "slurm_node_memory_mb": 4096 - 256,
    }
    # A domain that is not running is listed, and says so.
    compute = host_vars(inventory, "lvdemo-compute-01")
    assert compute["learnhpc_libvirt_state"] == "shut off"
    assert compute["ansible_host"] == "10.77.9.13"
    assert compute["slurm_node_cpus"] == 1
    assert compute["slurm_node_memory_mb"] == 2048 - 256
    # An event without a state directory (its key, its host keys file): the connection as it is.
    other = host_vars(inventory, "lvother-mgmt")
    assert "ansible_ssh_private_key_file" not in other
    assert "ansible_ssh_common_args" not in other
    assert not run.warnings


@needs_libvirt
def test_state_directory_without_a_key(run, tmp_path):
    events_dir = tmp_path / "events"
    state = state_dir(events_dir, key=False)
    inventory = run(providers=["libvirt"], libvirt_uris=[uri_of(tmp_path, *cluster())], events_dir=str(events_dir))
    login = host_vars(inventory, "lvdemo-login")
    assert "ansible_ssh_private_key_file" not in login
    assert login["ansible_ssh_common_args"] == (
        f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={state}/known_hosts"
    )


@needs_libvirt
def test_ssh_options_with_a_host_key_policy(run, tmp_path):
    events_dir = tmp_path / "events"
    state_dir(events_dir)
    inventory = run(
        providers=["libvirt"],
        libvirt_uris=[uri_of(tmp_path, *cluster())],
        events_dir=str(events_dir),
        ssh_options=["StrictHostKeyChecking=yes", "UserKnownHostsFile=~/.ssh/lab_hosts"],
    )
    assert host_vars(inventory, "lvdemo-login")["ansible_ssh_common_args"] == (
        "-o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=~/.ssh/lab_hosts' -o IdentitiesOnly=yes"
    )


@needs_libvirt
def test_users(run, tmp_path):
    uri = uri_of(
        tmp_path,
        domain("lvu-mgmt", labels("lvu", "mgmt", "10.77.7.10", ssh_user="root")),
        domain("lvu-login", labels("lvu", "login", "10.77.7.11", ssh_user=None)),
        domain("lvu-compute-01", labels("lvu", "compute", "10.77.7.13", ssh_user="Not A User")),
    )
    inventory = run(providers=["libvirt"], libvirt_uris=[uri], ssh_user="rocky", events_dir=str(tmp_path / "none"))
    mgmt = host_vars(inventory, "lvu-mgmt")
    assert (mgmt["ansible_user"], mgmt["ansible_become"]) == ("root", False)
    login = host_vars(inventory, "lvu-login")
    assert (login["ansible_user"], login["ansible_become"]) == ("rocky", True)
    assert host_vars(inventory, "lvu-compute-01")["ansible_user"] == "rocky"
    assert run.warnings == [
        "learnhpc.cluster.event: domain lvu-compute-01: ignoring label org.learnhpc.ssh_user='Not A User', not a user"
        " name; using rocky"
    ]


@needs_libvirt
def test_bad_labels_and_no_address(run, tmp_path):
    uri = uri_of(
        tmp_path,
        domain("lvb-mgmt", labels("lvb", "mgmt", address=None)),
        domain("lvb-login", labels("lvb", "login", address="not-an-address")),
        domain("lvb-bad", labels("Bad Event", "compute")),
        domain("lvb-x", labels("lvb", "compute", **{contract.ROLES_KEY: ""})),
    )
    inventory = run(providers=["libvirt"], libvirt_uris=[uri], events_dir=str(tmp_path / "none"))
    assert sorted(inventory.hosts) == ["lvb-login", "lvb-mgmt"]
    assert "ansible_host" not in host_vars(inventory, "lvb-mgmt")
    assert "ansible_host" not in host_vars(inventory, "lvb-login")
    assert sorted(run.warnings) == [
        "learnhpc.cluster.event: domain lvb-login (libvirt "
        + uri
        + ") has no IPv4 address in its metadata (org.learnhpc.address='not-an-address'): Ansible cannot reach it",
        "learnhpc.cluster.event: domain lvb-mgmt (libvirt "
        + uri
        + ") has no IPv4 address in its metadata (org.learnhpc.address=None): Ansible cannot reach it",
        "learnhpc.cluster.event: skipping domain lvb-bad: label org.learnhpc.event='Bad Event' is not an event name",
        "learnhpc.cluster.event: skipping domain lvb-x: it has no node roles in label org.learnhpc.roles",
    ]


@needs_libvirt
def test_several_connections_and_the_default_test_host(run, tmp_path):
    first = uri_of(tmp_path, *cluster("lva"), name="a.xml")
    second = uri_of(tmp_path, *cluster("lvb", base=20), name="b.xml")
    # test:///default has one domain of its own, "test", without our metadata.
    inventory = run(providers=["libvirt"], libvirt_uris=[first, second, "test:///default", first])
    assert {"event_lva", "event_lvb"} <= set(inventory.groups)
    assert host_vars(inventory, "lvb-login")["learnhpc_libvirt_uri"] == second
    assert "test" not in inventory.hosts


@needs_libvirt
def test_a_connection_that_does_not_answer(run, tmp_path):
    missing = tmp_path / "missing.xml"
    with pytest.raises(AnsibleParserError) as failure:
        run(providers=["libvirt"], libvirt_uris=[f"test://{missing}"])
    message = str(failure.value.message)
    assert message.startswith(
        f"learnhpc.cluster.event: the libvirt provider: cannot connect to libvirt at test://{missing}"
    )
    assert "\n" not in message


@needs_libvirt
def test_docker_and_libvirt_together(run, tmp_path):
    # The docker provider with no containers (a fake client), and the libvirt provider beside it.
    class NoContainers:
        class containers:  # docker.DockerClient.containers
            @staticmethod
            def list(**_kwargs):
                return []

    inventory = run(NoContainers(), providers=["docker", "libvirt"], libvirt_uris=[uri_of(tmp_path, *cluster())])
    assert members(inventory, "event_lvdemo") == ["lvdemo-compute-01", "lvdemo-login", "lvdemo-mgmt"]


def test_no_uris(run):
    with pytest.raises(AnsibleParserError, match="needs a libvirt URI in libvirt_uris"):
        run(providers=["libvirt"], libvirt_uris=[])


# --- with a fake libvirt_api -------------------------------------------------------------------------------------


class FakeDomain:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


class FakeApi:
    """What LibvirtProvider calls of libvirt_api, over ``domains`` {name: labels}; the domains in ``gone``
    vanish between the listing and their summary; ``error`` is raised by the listing."""

    LibvirtApiError = libvirt_api.LibvirtApiError
    ADDRESS_KEY = libvirt_api.ADDRESS_KEY

    def __init__(self, domains, gone=(), error=None):
        self.domains = domains
        self.gone = set(gone)
        self.error = error

    def event_domains(self, _conn, event=None):
        assert event is None
        if self.error:
            raise self.error
        return [(FakeDomain(name), labels) for name, labels in sorted(self.domains.items())]

    def domain_summary(self, dom, labels):
        if dom.name() in self.gone:
            raise libvirt_api.LibvirtApiError(f"cannot read the XML of domain {dom.name()!r}: Domain not found")
        return {
            "name": dom.name(),
            "labels": dict(labels),
            "state": "running",
            "vcpus": 4,
            "memory_mb": 8192,
            "address": labels.get(libvirt_api.ADDRESS_KEY),
            "mac": "52:54:00:00:00:01",
        }

    def lookup(self, _conn, kind, name):
        assert kind == "domain"
        return None if name in self.gone else FakeDomain(name)


def fake_nodes(monkeypatch, api, warnings):
    monkeypatch.setattr(inventory_libvirt, "libvirt_api", api)
    provider = inventory_libvirt.LibvirtProvider({"qemu:///system": object()}, warnings.append)
    return provider.nodes()


def test_a_domain_that_goes_away_while_it_is_read(monkeypatch):
    warnings = []
    api = FakeApi(
        {"lvf-mgmt": labels("lvf", "mgmt", "10.77.6.10"), "lvf-login": labels("lvf", "login", "10.77.6.11")},
        gone=["lvf-login"],
    )
    nodes = fake_nodes(monkeypatch, api, warnings)
    assert [node["name"] for node in nodes] == ["lvf-mgmt"]
    assert nodes[0]["cpus"] == 4
    assert nodes[0]["memory_mb"] == 8192
    assert nodes[0]["vars"]["ansible_host"] == "10.77.6.10"
    assert not warnings


def test_listing_fails(monkeypatch):
    api = FakeApi({}, error=libvirt_api.LibvirtApiError("cannot list the domains: connection closed"))
    with pytest.raises(AnsibleParserError) as failure:
        fake_nodes(monkeypatch, api, [])
    assert str(failure.value.message) == (
        "learnhpc.cluster.event: listing the domains of libvirt at qemu:///system failed: cannot list the domains:"
        " connection closed"
    )


def test_libvirt_api_is_read_through_its_interface():
    # The plugin uses these names of module_utils/libvirt_api.py, and nothing else of it.
    for name in ("connect", "event_domains", "domain_summary", "lookup", "LibvirtApiError", "ADDRESS_KEY"):
        assert hasattr(libvirt_api, name), name
    assert inventory_loader.get("learnhpc.cluster.event") is not None
