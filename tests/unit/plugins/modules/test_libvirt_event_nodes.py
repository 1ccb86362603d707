# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.libvirt_event_nodes against libvirt's own test driver.

Each test has an empty libvirt host of its own (``test:///<file>``): libvirt itself, with its XML
parsers and rules, but no QEMU. The module gets that connection; what the test driver cannot do
is replaced: uploading into a volume (recorded instead), making a seed ISO (its inputs recorded,
so that no test needs cloud-localds) and listing this machine's interfaces (a list per test).
Domains are of type ``test``, the one the driver runs. The forwards are real socat processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import xml.etree.ElementTree as ET

import pytest
from ansible.module_utils.testing import patch_module_args

libvirt = pytest.importorskip(
    "libvirt",
    reason="libvirt-python or libvirt's library is not installed (LEARNHPC_SETUP_LIBVIRT=1 make setup installs both)",
    exc_type=ImportError,
)

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api  # noqa: E402
from ansible_collections.learnhpc.cluster.plugins.modules import libvirt_event_nodes  # noqa: E402

NS = contract.LIBVIRT_METADATA_NS
CIDR = "10.77.5.0/24"
needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")


class Host:
    """The libvirt host of one test: a test-driver connection, image files, what was uploaded."""

    def __init__(self, tmp_path):
        node = tmp_path / "host.xml"
        node.write_text("<node/>\n")
        self.uri = f"test://{node}"
        self.conn = libvirt_api.connect(self.uri)
        self.image = tmp_path / "node.qcow2"
        self.image.write_bytes(libvirt_api.QCOW2_MAGIC + b"\0" * 508)
        self.kernel = tmp_path / "vmlinuz"
        self.kernel.write_bytes(b"kernel")
        self.initrd = tmp_path / "initrd.img"
        self.initrd.write_bytes(b"initrd")
        self.state_dir = tmp_path / "state"
        self.uploads = {}
        self.seeds = {}
        self.interfaces = []

    def domain_names(self):
        return sorted(dom.name() for dom in self.conn.listAllDomains(0))

    def network_names(self):
        return sorted(net.name() for net in self.conn.listAllNetworks(0))

    def pool_names(self):
        return sorted(pool.name() for pool in self.conn.listAllStoragePools(0))

    def volume_names(self, pool="learnhpc-demo"):
        return sorted(vol.name() for vol in self.conn.storagePoolLookupByName(pool).listAllVolumes(0))

    def domain_xml(self, name):
        return ET.fromstring(self.conn.lookupByName(name).XMLDesc(0))

    def add_domain(self, name, labels=None, running=True, vcpus=1, memory_mb=2048):
        """A domain made outside the module (of an event when ``labels`` are given)."""
        if labels is None:
            xml = f"<domain type='test'><name>{name}</name><memory unit='MiB'>512</memory><os><type>hvm</type></os>"
            dom = self.conn.defineXML(xml + "</domain>")
        else:
            dom = self.conn.defineXML(
                libvirt_api.domain_xml(
                    name=name,
                    labels=labels,
                    vcpus=vcpus,
                    memory_mb=memory_mb,
                    pool="elsewhere",
                    disk_volume=f"{name}.qcow2",
                    seed_volume=f"{name}-seed.iso",
                    network="elsewhere",
                    mac=libvirt_api.node_mac(name),
                    domain_type="test",
                )
            )
        if running:
            dom.create()
        return dom


@pytest.fixture
def host(tmp_path, monkeypatch):
    lv = Host(tmp_path)

    def connect(uri, read_only=False):
        assert uri == lv.uri
        return lv.conn

    def seed_image(user_data, meta, network):
        lv.seeds[meta.split()[1]] = {"user-data": user_data, "meta-data": meta, "network-config": network}
        return json.dumps(lv.seeds[meta.split()[1]]).encode()

    monkeypatch.setattr(libvirt_api, "connect", connect)
    # The test driver's URIs are local: a removed domain's logs would be looked for in this machine's log directory.
    lv.logs = tmp_path / "qemu-logs"
    lv.logs.mkdir()
    monkeypatch.setattr(libvirt_api, "CONSOLE_LOG_DIR", str(lv.logs))
    monkeypatch.setattr(libvirt_api, "upload_volume", lambda conn, vol, data: lv.uploads.__setitem__(vol.name(), data))
    monkeypatch.setattr(libvirt_api, "seed_image", seed_image)
    monkeypatch.setattr(libvirt_event_nodes, "host_networks", lambda module: list(lv.interfaces))
    yield lv
    # A forwarder a failed test left behind (only ours: its command line says so).
    for port, pid in libvirt_event_nodes.recorded_forwarders(str(lv.state_dir)).items():
        if pid and libvirt_event_nodes.is_forwarder(libvirt_event_nodes.process_argv(pid), port):
            libvirt_event_nodes.stop_process(pid)
    lv.conn.close()


@pytest.fixture
def run(host, capsys):
    """``run(check=False, **args)``: run the module against ``host``; returns (failed, result)."""

    def runner(check=False, **args):
        args.setdefault("uri", host.uri)
        args.setdefault("domain_type", "test")
        if check:
            args["_ansible_check_mode"] = True
        with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
            libvirt_event_nodes.main()
        result = json.loads(capsys.readouterr().out)
        return exit_info.value.code != 0 or bool(result.get("failed")), result

    return runner


def labels(event="demo", roles="login", end_date="2030-12-31"):
    return contract.node_labels(event, [roles], end_date, None, "libvirt")


def node(name, hostname, address, roles="compute", event="demo", **extra):
    item = {"name": name, "hostname": hostname, "address": address, "labels": labels(event, roles)}
    item.update(extra)
    return item


def demo_nodes(event="demo", third=5, computes=1):
    base = f"10.77.{third}"
    nodes = [node(f"{event}-login", "login", f"{base}.10", "login", event, user_data="#cloud-config\nx: 1\n")]
    nodes += [
        node(f"{event}-compute-{i:02d}", f"compute-{i:02d}", f"{base}.{10 + i}", "compute", event)
        for i in range(1, computes + 1)
    ]
    return nodes


def present(run, host, *, event="demo", nodes=None, cidr=CIDR, check=False, **args):
    args.setdefault("image", str(host.image))
    return run(
        check=check,
        event=event,
        network={"cidr": cidr},
        nodes=demo_nodes(event) if nodes is None else nodes,
        **args,
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- present -----------------------------------------------------------------------------------


def test_creates_network_pool_volumes_and_domains(run, host):
    failed, result = present(run, host, boot="kernel", kernel=str(host.kernel), initrd=str(host.initrd))
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["created"] == ["demo-login", "demo-compute-01"]
    assert result["started"] == ["demo-login", "demo-compute-01"]
    names = contract.libvirt_names("demo")
    assert result["network"] == {
        "name": names["network"],
        "bridge": names["bridge"],
        "cidr": CIDR,
        "gateway": "10.77.5.1",
        "domain": "demo.internal",
        "actions": ["defined", "started", "autostart"],
    }
    assert result["pool"] == {
        "name": "learnhpc-demo",
        "path": "/var/lib/libvirt/images/learnhpc-demo",
        "actions": ["defined", "started", "autostart"],
    }
    assert host.domain_names() == ["demo-compute-01", "demo-login"]
    assert host.volume_names() == [
        "demo-compute-01-seed.iso",
        "demo-compute-01.qcow2",
        "demo-login-seed.iso",
        "demo-login.qcow2",
    ]
    net = host.conn.networkLookupByName("learnhpc-demo")
    assert net.isActive() and net.autostart()
    facts = libvirt_api.network_facts(net.XMLDesc(0))
    assert facts["bridge"] == names["bridge"]
    assert facts["dhcp_hosts"] == [
        {"mac": libvirt_api.node_mac("demo-login"), "name": "login", "ip": "10.77.5.10"},
        {"mac": libvirt_api.node_mac("demo-compute-01"), "name": "compute-01", "ip": "10.77.5.11"},
    ]
    pool = host.conn.storagePoolLookupByName("learnhpc-demo")
    assert pool.isActive() and pool.autostart()

    login = host.domain_xml("demo-login")
    assert login.findtext("vcpu") == "1"
    assert login.findtext("os/kernel") == str(host.kernel)
    assert login.findtext("os/initrd") == str(host.initrd)
    assert login.findtext("os/cmdline") == "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0"
    assert login.find("devices/interface/mac").get("address") == libvirt_api.node_mac("demo-login")
    assert login.find("devices/interface/source").get("network") == "learnhpc-demo"
    sources = [disk.find("source").attrib for disk in login.findall("devices/disk")]
    assert sources == [
        {"pool": "learnhpc-demo", "volume": "demo-login.qcow2"},
        {"pool": "learnhpc-demo", "volume": "demo-login-seed.iso"},
    ]
    assert libvirt_api.domain_labels(host.conn.lookupByName("demo-login")) == {
        **labels("demo", "login"),
        libvirt_api.ADDRESS_KEY: "10.77.5.10",
    }
    overlay = ET.fromstring(pool.storageVolLookupByName("demo-login.qcow2").XMLDesc(0))
    assert overlay.findtext("backingStore/path") == str(host.image)
    assert int(overlay.findtext("capacity")) == 10 * 1024**3

    seed = host.seeds["demo-login"]
    assert seed["meta-data"] == "instance-id: demo-login\nlocal-hostname: login\n"
    assert seed["user-data"] == "#cloud-config\nx: 1\n"
    assert libvirt_api.node_mac("demo-login") in seed["network-config"]
    assert host.uploads["demo-login-seed.iso"] == json.dumps(seed).encode()

    described = {item["name"]: item for item in result["nodes"]}
    assert [item["name"] for item in result["nodes"]] == ["demo-login", "demo-compute-01"]
    assert described["demo-login"]["state"] == "running"
    assert described["demo-login"]["address"] == "10.77.5.10"
    assert described["demo-login"]["memory_mb"] == 2048


def test_second_run_changes_nothing(run, host):
    present(run, host)
    failed, result = present(run, host)
    assert not failed, result.get("msg")
    assert result["changed"] is False
    assert result["created"] == result["started"] == result["updated"] == result["unlisted"] == []
    assert result["network"]["actions"] == result["pool"]["actions"] == []
    assert len(result["nodes"]) == 2


def test_check_mode_changes_nothing(run, host):
    failed, result = present(run, host, check=True)
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["created"] == ["demo-login", "demo-compute-01"]
    assert result["network"]["actions"] == ["defined", "started", "autostart"]
    assert result["nodes"] == []
    assert host.domain_names() == host.network_names() == host.pool_names() == []
    present(run, host)
    host.conn.lookupByName("demo-login").destroy()
    failed, result = present(run, host, check=True, nodes=demo_nodes(computes=2))
    assert not failed
    assert result["created"] == ["demo-compute-02"]
    assert result["started"] == ["demo-login", "demo-compute-02"]
    assert result["network"]["actions"] == ["dhcp host compute-02", "dns host compute-02"]
    assert host.domain_names() == ["demo-compute-01", "demo-login"]
    assert not host.conn.lookupByName("demo-login").isActive()


def test_boot_disk_boots_from_the_disk(run, host):
    failed, _result = present(run, host, nodes=demo_nodes()[:1], boot="disk")
    assert not failed
    login = host.domain_xml("demo-login")
    assert login.find("os/kernel") is None
    assert login.find("os/boot").get("dev") == "hd"


def test_a_stopped_node_is_started(run, host):
    present(run, host)
    host.conn.lookupByName("demo-compute-01").destroy()
    failed, result = present(run, host)
    assert not failed
    assert result["changed"] is True
    assert result["started"] == ["demo-compute-01"]
    assert result["created"] == []
    assert host.conn.lookupByName("demo-compute-01").isActive()


def test_a_new_node_gets_its_dhcp_and_dns_entries(run, host):
    present(run, host)
    failed, result = present(run, host, nodes=demo_nodes(computes=2))
    assert not failed, result.get("msg")
    assert result["created"] == ["demo-compute-02"]
    assert result["network"]["actions"] == ["dhcp host compute-02", "dns host compute-02"]
    facts = libvirt_api.network_facts(host.conn.networkLookupByName("learnhpc-demo").XMLDesc(0))
    assert {"mac": libvirt_api.node_mac("demo-compute-02"), "name": "compute-02", "ip": "10.77.5.12"} in facts[
        "dhcp_hosts"
    ]
    assert {"ip": "10.77.5.12", "names": ["compute-02"]} in facts["dns_hosts"]
    _failed, result = present(run, host, nodes=demo_nodes(computes=2))
    assert result["changed"] is False


def test_other_nodes_of_the_event_are_left_and_listed_but_autoscaled(run, host):
    present(run, host, nodes=demo_nodes(computes=3))
    autoscaled = {**labels("demo", "compute"), contract.AUTOSCALED_KEY: "true"}
    host.add_domain("demo-compute-09", autoscaled)
    failed, result = present(run, host, nodes=demo_nodes(computes=1))
    assert not failed
    assert result["changed"] is False
    assert result["unlisted"] == ["demo-compute-02", "demo-compute-03"]
    assert "demo-compute-09" in host.domain_names()
    assert [item["name"] for item in result["nodes"]][:2] == ["demo-login", "demo-compute-01"]


def test_a_node_with_other_size_is_left_with_a_warning(run, host, monkeypatch):
    present(run, host, nodes=demo_nodes()[:1])
    nodes = demo_nodes()[:1]
    nodes[0].update(vcpus=2, memory_mb=4096)
    # Where a warning goes depends on what this process imported before (a controller's Display or the
    # result): the module's warn() is what counts.
    warned = []
    monkeypatch.setattr(libvirt_event_nodes.AnsibleModule, "warn", lambda module, warning: warned.append(warning))
    failed, result = present(run, host, nodes=nodes)
    assert not failed
    assert result["changed"] is False
    assert warned == [
        "node demo-login exists with vcpus 1 (not 2), memory_mb 2048 (not 4096); it is left so: remove it to make "
        "it anew"
    ]
    assert host.domain_xml("demo-login").findtext("vcpu") == "1"


def test_changed_labels_are_updated(run, host):
    present(run, host)
    nodes = demo_nodes()
    for item in nodes:
        item["labels"][contract.END_DATE_KEY] = "2031-01-31"
    failed, result = present(run, host, nodes=nodes)
    assert not failed
    assert result["changed"] is True
    assert result["updated"] == ["demo-login", "demo-compute-01"]
    assert libvirt_api.domain_labels(host.conn.lookupByName("demo-login"))[contract.END_DATE_KEY] == "2031-01-31"
    _failed, result = present(run, host, nodes=nodes)
    assert result["changed"] is False


def test_a_wanted_name_of_another_event_or_of_none_is_an_error(run, host):
    host.add_domain("demo-login", labels("demo-2"))
    host.add_domain("demo-compute-01")
    failed, result = present(run, host)
    assert failed
    assert result["changed"] is False
    assert result["errors"] == [
        "domain 'demo-login' exists and belongs to event 'demo-2'; it is left alone: remove it or choose other names",
        "domain 'demo-compute-01' exists and belongs to no event; it is left alone: remove it or choose other names",
    ]
    assert host.network_names() == host.pool_names() == []


def test_overlapping_networks_are_refused_before_any_change(run, host):
    other = libvirt_api.network_xml("someone", "virbr9", "10.77.0.0/16", "x", [])
    host.conn.networkDefineXML(other)
    failed, result = present(run, host)
    assert failed
    assert result["msg"] == (
        "network.cidr 10.77.5.0/24 overlaps libvirt network 'someone' (10.77.0.0/16): choose another "
        "libvirt.network_cidr"
    )
    assert host.network_names() == ["someone"]
    assert host.pool_names() == host.domain_names() == []


def test_overlapping_host_addresses_are_refused_but_the_events_own_bridge(run, host):
    import ipaddress  # noqa: PLC0415

    host.interfaces = [("eth0", ipaddress.IPv4Interface("10.77.5.200/24"))]
    failed, result = present(run, host)
    assert failed
    assert result["msg"] == (
        "network.cidr 10.77.5.0/24 overlaps address 10.77.5.200/24 of interface eth0 of this machine: choose "
        "another libvirt.network_cidr"
    )
    assert host.network_names() == []
    host.interfaces = [(contract.libvirt_names("demo")["bridge"], ipaddress.IPv4Interface("10.77.5.1/24"))]
    failed, result = present(run, host)
    assert not failed, result.get("msg")


def test_a_network_of_the_event_with_other_settings_is_an_error(run, host):
    present(run, host)
    failed, result = present(run, host, cidr="10.77.6.0/24", nodes=demo_nodes(third=6))
    assert failed
    names = contract.libvirt_names("demo")
    assert result["msg"] == (
        f"network 'learnhpc-demo' exists with bridge {names['bridge']!r} and address range 10.77.5.0/24, not "
        f"{names['bridge']!r} and 10.77.6.0/24: remove the event first (state=absent)"
    )


def test_missing_files_are_refused_in_one_line_each(run, host, tmp_path):
    failed, result = present(
        run, host, image=str(tmp_path / "none.qcow2"), boot="kernel", kernel=str(tmp_path / "none"), initrd=None
    )
    assert failed
    assert result["errors"] == [
        f"image {tmp_path / 'none.qcow2'} is not a readable file",
        f"kernel {tmp_path / 'none'} is not a readable file",
    ]
    assert host.network_names() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"address": "10.77.9.10"}, "address 10.77.9.10 must be in network.cidr 10.77.5.0/24"),
        ({"address": "10.77.5.1"}, "address 10.77.5.1 must be in network.cidr 10.77.5.0/24"),
        ({"hostname": "bad_name"}, "hostname 'bad_name' is not a host name"),
        ({"labels": {"org.learnhpc.event": "other"}}, "the label org.learnhpc.event must be the event's name 'demo'"),
    ],
)
def test_bad_nodes_are_refused(run, host, change, message):
    nodes = demo_nodes()
    nodes[0].update(change)
    failed, result = present(run, host, nodes=nodes)
    assert failed
    assert any(message in line for line in result["errors"] if line.startswith("nodes[0] (demo-login)")), result
    assert host.network_names() == []


def test_duplicate_addresses_are_refused(run, host):
    nodes = demo_nodes()
    nodes[1]["address"] = nodes[0]["address"]
    failed, result = present(run, host, nodes=nodes)
    assert failed
    assert result["msg"] == "nodes[1] (demo-compute-01): address 10.77.5.10 is also that of demo-login"


def test_a_bad_event_name_is_refused(run, host):
    failed, result = run(event="Demo_1", state="absent")
    assert failed
    assert result["msg"].startswith("the event name 'Demo_1' is not valid")


def test_a_libvirt_error_is_one_line_naming_the_object(run, host):
    # Another pool has the directory the event's pool wants: libvirt refuses to define a second one there.
    host.conn.storagePoolDefineXML(libvirt_api.pool_xml("someone", "/var/lib/libvirt/images/learnhpc-demo"), 0)
    failed, result = present(run, host)
    assert failed
    assert result["msg"].startswith("cannot define pool 'learnhpc-demo' at /var/lib/libvirt/images/learnhpc-demo: ")
    assert "\n" not in result["msg"]
    assert "Traceback" not in json.dumps(result)
    # What was made before is reported, and that something changed: the network is there.
    assert result["network"]["name"] == "learnhpc-demo"
    assert result["changed"] is True
    assert "learnhpc-demo" in host.network_names()


# --- forwards ------------------------------------------------------------------------------------


class Server:
    """A TCP server that greets every connection, the forwards' target."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _address = self.sock.accept()
            except OSError:
                return
            with client:
                client.sendall(b"SSH-2.0-test\r\n")


def read_through(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.settimeout(10)
        return client.recv(64)


@needs_socat
def test_forwards_start_once_and_go_with_the_event(run, host):
    server = Server()
    port = free_port()
    forwards = [{"port": port, "to_address": "127.0.0.1", "to_port": server.port}]
    failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert not failed, result.get("msg")
    assert result["forwards"][0]["action"] == "started"
    pid = result["forwards"][0]["pid"]
    assert libvirt_event_nodes.process_argv(pid) == [
        "socat",
        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
        f"TCP:127.0.0.1:{server.port}",
    ]
    assert oct(os.stat(host.state_dir).st_mode & 0o777) == "0o700"
    assert (host.state_dir / f"forward-{port}.pid").read_text().strip() == str(pid)
    assert read_through(port) == b"SSH-2.0-test\r\n"

    failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert not failed
    assert result["changed"] is False
    assert result["forwards"][0]["action"] == "running"
    assert result["forwards"][0]["pid"] == pid

    failed, result = run(event="demo", state="absent", state_dir=str(host.state_dir))
    assert not failed, result.get("msg")
    assert result["removed"]["forwards"] == [port]
    assert libvirt_event_nodes.process_argv(pid) is None
    assert os.listdir(host.state_dir) == []
    assert result["left"] == {"domains": [], "volumes": [], "pools": [], "networks": [], "forwards": []}


@needs_socat
def test_a_forwarder_that_died_is_started_again(run, host):
    server = Server()
    port = free_port()
    forwards = [{"port": port, "to_address": "127.0.0.1", "to_port": server.port}]
    _failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert libvirt_event_nodes.stop_process(result["forwards"][0]["pid"])
    failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert not failed
    assert result["changed"] is True
    assert result["forwards"][0]["action"] == "started"
    assert read_through(port) == b"SSH-2.0-test\r\n"
    # A new target: the old forwarder goes, a new one comes.
    other = Server()
    forwards[0]["to_port"] = other.port
    old = result["forwards"][0]["pid"]
    failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert not failed
    assert result["forwards"][0]["action"] == "restarted"
    assert libvirt_event_nodes.process_argv(old) is None
    run(event="demo", state="absent", state_dir=str(host.state_dir))


@needs_socat
def test_a_port_taken_by_another_program_is_refused(run, host):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        forwards = [{"port": port, "to_address": "10.77.5.10", "to_port": 22}]
        failed, result = present(run, host, forwards=forwards, state_dir=str(host.state_dir))
    assert failed
    assert result["msg"] == (
        f"port {port} on 127.0.0.1 is already listened on by another program than the event's forwarder: free it "
        f"or choose another port (ss -ltnp 'sport = :{port}' shows it)"
    )
    assert host.network_names() == []


def test_forwards_need_a_state_dir(run, host):
    failed, result = present(run, host, forwards=[{"port": 2222, "to_address": "10.77.5.10", "to_port": 22}])
    assert failed
    assert "forwards need state_dir (where their pid files live)" in result["errors"]


# --- absent --------------------------------------------------------------------------------------


def test_absent_removes_the_event_and_nothing_else(run, host):
    present(run, host, event="demo", nodes=demo_nodes("demo"))
    present(run, host, event="demo-2", nodes=demo_nodes("demo-2", third=6), cidr="10.77.6.0/24")
    plain = host.add_domain("demo-x")
    failed, result = run(event="demo", state="absent")
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["removed"] == {
        "domains": ["demo-compute-01", "demo-login"],
        "volumes": ["demo-compute-01.qcow2", "demo-compute-01-seed.iso", "demo-login.qcow2", "demo-login-seed.iso"],
        "pools": ["learnhpc-demo"],
        "networks": ["learnhpc-demo"],
        "forwards": [],
    }
    assert result["left"] == {"domains": [], "volumes": [], "pools": [], "networks": [], "forwards": []}
    assert host.domain_names() == ["demo-2-compute-01", "demo-2-login", "demo-x"]
    assert plain.isActive()
    assert host.network_names() == ["learnhpc-demo-2"]
    assert host.pool_names() == ["learnhpc-demo-2"]
    assert len(host.volume_names("learnhpc-demo-2")) == 4

    failed, result = run(event="demo", state="absent")
    assert not failed
    assert result["changed"] is False
    assert not any(result["removed"].values())


def test_absent_in_check_mode_changes_nothing(run, host):
    present(run, host)
    failed, result = run(event="demo", state="absent", check=True)
    assert not failed
    assert result["changed"] is True
    assert result["removed"]["domains"] == ["demo-compute-01", "demo-login"]
    assert result["removed"]["networks"] == ["learnhpc-demo"]
    assert host.domain_names() == ["demo-compute-01", "demo-login"]
    assert host.network_names() == ["learnhpc-demo"]


def test_absent_takes_stopped_and_autoscaled_nodes_and_an_inactive_pool(run, host):
    present(run, host)
    host.conn.lookupByName("demo-login").destroy()
    autoscaled = {**labels("demo", "compute"), contract.AUTOSCALED_KEY: "true"}
    host.add_domain("demo-compute-07", autoscaled)
    host.conn.storagePoolLookupByName("learnhpc-demo").destroy()
    host.conn.networkLookupByName("learnhpc-demo").destroy()
    failed, result = run(event="demo", state="absent")
    assert not failed, result.get("msg")
    assert result["removed"]["domains"] == ["demo-compute-01", "demo-compute-07", "demo-login"]
    assert host.domain_names() == host.network_names() == host.pool_names() == []


def test_yaml_booleans_in_labels_are_written_as_the_collection_writes_them(run, host):
    nodes = demo_nodes()[:1]
    nodes[0]["labels"][contract.AUTOSCALED_KEY] = True
    failed, _result = present(run, host, nodes=nodes)
    assert not failed
    assert libvirt_api.domain_labels(host.conn.lookupByName("demo-login"))[contract.AUTOSCALED_KEY] == "true"


def test_absent_removes_the_logs_of_its_domains_on_this_machine_only(run, host):
    logs = host.logs
    present(run, host)
    ours = ["demo-login-console.log", "demo-login.log", "demo-login.log.1", "demo-login.log.2.gz"]
    ours += ["demo-compute-01-console.log", "demo-compute-01.log"]
    others = ["demo-login2.log", "demo-2-login.log", "demo-login-console.log-other", "demo-x.log"]
    for name in ours + others:
        (logs / name).write_text("boot\n")
    failed, _result = run(event="demo", state="absent")
    assert not failed
    assert sorted(path.name for path in logs.iterdir()) == sorted(others)


def test_absent_leaves_log_files_alone_when_the_host_is_remote(monkeypatch, tmp_path):
    monkeypatch.setattr(libvirt_api, "CONSOLE_LOG_DIR", str(tmp_path))
    (tmp_path / "demo-login.log").write_text("boot\n")
    assert libvirt_api.is_local("qemu:///system")
    assert libvirt_api.is_local("test:///tmp/host.xml")
    assert not libvirt_api.is_local("qemu+ssh://root@lab-host/system")
    # The domain's XML logs its console elsewhere: not ours to remove.
    assert libvirt_api.domain_log_files("demo-login", ["/elsewhere/demo-login-console.log"]) == []
    assert libvirt_api.domain_log_files("demo-login", [str(tmp_path / "demo-login-console.log")]) == [
        str(tmp_path / "demo-login.log")
    ]
