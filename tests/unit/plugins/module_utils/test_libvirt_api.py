# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/libvirt_api.py against libvirt's own test driver.

``test:///<file>`` is libvirt itself (its XML parsers and rules), with an in-memory host that each
connection starts from the file: every test gets an empty one of its own.
"""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

libvirt = pytest.importorskip(
    "libvirt",
    reason="libvirt-python or libvirt's library is not installed (LEARNHPC_SETUP_LIBVIRT=1 make setup installs both)",
    exc_type=ImportError,
)

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api  # noqa: E402

NS = contract.LIBVIRT_METADATA_NS


@pytest.fixture
def conn(tmp_path):
    host = tmp_path / "host.xml"
    host.write_text("<node/>\n")
    connection = libvirt_api.connect(f"test://{host}")
    yield connection
    connection.close()


def labels_of(event, roles="compute", **more):
    labels = contract.node_labels(event, [roles], "2030-12-31", None, "libvirt")
    labels.update(more)
    return labels


def define_pool(conn, name="learnhpc-demo"):
    pool = conn.storagePoolDefineXML(libvirt_api.pool_xml(name, f"/pools/{name}"), 0)
    pool.create(0)
    return pool


def define_node(conn, name, labels, pool="learnhpc-demo", running=True):
    xml = libvirt_api.domain_xml(
        name=name,
        labels=labels,
        vcpus=2,
        memory_mb=1536,
        pool=pool,
        disk_volume=f"{name}.qcow2",
        seed_volume=f"{name}-seed.iso",
        network="learnhpc-demo",
        mac=libvirt_api.node_mac(name),
        domain_type="test",
    )
    dom = conn.defineXML(xml)
    if running:
        dom.create()
    return dom


def test_node_mac_is_stable_and_local():
    mac = libvirt_api.node_mac("demo-login")
    assert mac == libvirt_api.node_mac("demo-login")
    assert mac != libvirt_api.node_mac("demo-2-login")
    assert mac.startswith("52:54:00:")
    assert len(mac.split(":")) == 6
    assert all(len(part) == 2 for part in mac.split(":"))


def test_metadata_xml_is_one_element_in_our_namespace():
    text = libvirt_api.metadata_xml({"org.learnhpc.event": "demo", "org.learnhpc.roles": 'a"b<c'})
    root = ET.fromstring(text)
    assert root.tag == f"{{{NS}}}node"
    assert [(e.get("name"), e.get("value")) for e in root] == [
        ("org.learnhpc.event", "demo"),
        ("org.learnhpc.roles", 'a"b<c'),
    ]
    assert libvirt_api.parse_labels(text) == {"org.learnhpc.event": "demo", "org.learnhpc.roles": 'a"b<c'}


def test_labels_round_trip_through_libvirt(conn):
    labels = labels_of("demo", **{libvirt_api.ADDRESS_KEY: "10.77.5.10"})
    dom = define_node(conn, "demo-login", labels)
    assert libvirt_api.domain_labels(dom) == labels
    # Set through the API as well, while it runs (live and persistent).
    libvirt_api.set_domain_labels(dom, {**labels, contract.END_DATE_KEY: "2031-01-31"})
    assert libvirt_api.domain_labels(dom)[contract.END_DATE_KEY] == "2031-01-31"
    dom.destroy()
    assert libvirt_api.domain_labels(dom)[contract.END_DATE_KEY] == "2031-01-31"


def test_a_domain_without_our_metadata_has_no_labels(conn):
    dom = conn.defineXML(
        "<domain type='test'><name>plain</name><memory>100000</memory><os><type>hvm</type></os></domain>"
    )
    assert libvirt_api.domain_labels(dom) is None
    dom.setMetadata(
        libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<other xmlns='urn:x'/>", "x", "urn:x", libvirt.VIR_DOMAIN_AFFECT_CONFIG
    )
    assert libvirt_api.domain_labels(dom) is None


def test_event_domains_finds_an_events_domains_by_metadata_only(conn):
    define_node(conn, "demo-login", labels_of("demo", "login"))
    define_node(conn, "demo-compute-01", labels_of("demo"), running=False)
    define_node(conn, "demo-2-login", labels_of("demo-2", "login"))
    # Named like the event's, but not carrying its metadata: not the event's.
    conn.defineXML("<domain type='test'><name>demo-x</name><memory>100000</memory><os><type>hvm</type></os></domain>")
    # Carries the event's labels under another name: the event's.
    define_node(conn, "odd-name", labels_of("demo"))
    names = [dom.name() for dom, _labels in libvirt_api.event_domains(conn, "demo")]
    assert names == ["demo-compute-01", "demo-login", "odd-name"]
    every = [dom.name() for dom, _labels in libvirt_api.event_domains(conn)]
    assert every == ["demo-2-login", "demo-compute-01", "demo-login", "odd-name"]
    assert libvirt_api.event_domains(conn, "dem") == []


def test_domain_summary(conn):
    labels = labels_of("demo", "login", **{libvirt_api.ADDRESS_KEY: "10.77.5.10"})
    dom = define_node(conn, "demo-login", labels, running=False)
    summary = libvirt_api.domain_summary(dom, labels)
    assert summary == {
        "name": "demo-login",
        "labels": labels,
        "state": "shut off",
        "vcpus": 2,
        "memory_mb": 1536,
        "address": "10.77.5.10",
        "mac": libvirt_api.node_mac("demo-login"),
    }
    dom.create()
    assert libvirt_api.domain_summary(dom, labels)["state"] == "running"


def test_domain_xml_boots_the_kernel_or_the_disk():
    common = {
        "name": "demo-login",
        "labels": {"org.learnhpc.event": "demo"},
        "vcpus": 1,
        "memory_mb": 2048,
        "pool": "learnhpc-demo",
        "disk_volume": "demo-login.qcow2",
        "seed_volume": "demo-login-seed.iso",
        "network": "learnhpc-demo",
        "mac": "52:54:00:01:02:03",
    }
    root = ET.fromstring(libvirt_api.domain_xml(**common, kernel="/k", initrd="/i"))
    assert root.get("type") == "qemu"
    assert root.findtext("os/kernel") == "/k"
    assert root.findtext("os/initrd") == "/i"
    assert root.findtext("os/cmdline") == "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0"
    assert root.find("os/boot") is None
    disks = root.findall("devices/disk")
    assert [(d.get("device"), d.find("target").get("dev"), d.find("target").get("bus")) for d in disks] == [
        ("disk", "vda", "virtio"),
        ("cdrom", "hdc", "ide"),
    ]
    assert disks[1].find("readonly") is not None
    assert root.find("devices/interface/mac").get("address") == "52:54:00:01:02:03"
    assert root.find("devices/interface/model").get("type") == "virtio"
    assert root.find("devices/serial/log").get("file") == "/var/log/libvirt/qemu/demo-login-console.log"
    assert root.find(f"metadata/{{{NS}}}node") is not None
    root = ET.fromstring(libvirt_api.domain_xml(**common))
    assert root.find("os/kernel") is None
    assert root.find("os/boot").get("dev") == "hd"


def test_network_xml_as_libvirt_reads_it(conn):
    hosts = [
        {"mac": "52:54:00:00:00:01", "name": "login", "ip": "10.77.5.10"},
        {"mac": "52:54:00:00:00:02", "name": "compute-01", "ip": "10.77.5.11"},
    ]
    xml = libvirt_api.network_xml("learnhpc-demo", "lh-0123456789", "10.77.5.0/24", "demo.internal", hosts)
    net = conn.networkDefineXML(xml)
    facts = libvirt_api.network_facts(net.XMLDesc(0))
    assert facts["bridge"] == "lh-0123456789"
    assert [str(n) for n in facts["networks"]] == ["10.77.5.0/24"]
    assert facts["domain"] == "demo.internal"
    assert facts["dhcp_hosts"] == hosts
    assert facts["dns_hosts"] == [
        {"ip": "10.77.5.10", "names": ["login"]},
        {"ip": "10.77.5.11", "names": ["compute-01"]},
    ]
    root = ET.fromstring(net.XMLDesc(0))
    assert root.find("ip").get("address") == "10.77.5.1"
    assert root.find("ip/dhcp/range") is None
    assert root.find("forward").get("mode") == "nat"
    assert root.find("domain").get("localOnly") == "yes"


def test_overlay_and_seed_volumes(conn, tmp_path):
    pool = define_pool(conn)
    xml = libvirt_api.overlay_volume_xml("demo-login.qcow2", 10, "/images/node.qcow2")
    vol = libvirt_api.create_volume(pool, xml, "demo-login.qcow2")
    root = ET.fromstring(vol.XMLDesc(0))
    assert int(root.findtext("capacity")) == 10 * 1024**3
    assert root.find("target/format").get("type") == "qcow2"
    assert root.findtext("backingStore/path") == "/images/node.qcow2"
    assert root.find("backingStore/format").get("type") == "qcow2"
    seed = libvirt_api.create_volume(pool, libvirt_api.raw_volume_xml("demo-login-seed.iso", 4096), "seed")
    assert int(ET.fromstring(seed.XMLDesc(0)).findtext("capacity")) == 4096
    image = tmp_path / "image"
    image.write_bytes(libvirt_api.QCOW2_MAGIC + b"\0" * 100)
    assert libvirt_api.image_format(str(image)) == "qcow2"
    image.write_bytes(b"\0" * 100)
    assert libvirt_api.image_format(str(image)) == "raw"


def test_remove_domain_takes_its_volumes_in_the_pool_only(conn):
    pool = define_pool(conn)
    other = define_pool(conn, "learnhpc-other")
    for name in ("demo-login.qcow2", "demo-login-seed.iso", "keep.qcow2"):
        libvirt_api.create_volume(pool, libvirt_api.raw_volume_xml(name, 1024), name)
    libvirt_api.create_volume(other, libvirt_api.raw_volume_xml("demo-login.qcow2", 1024), "x")
    dom = define_node(conn, "demo-login", labels_of("demo"))
    deleted = libvirt_api.remove_domain(conn, dom, "learnhpc-demo")
    assert deleted == ["demo-login.qcow2", "demo-login-seed.iso"]
    assert libvirt_api.lookup(conn, "domain", "demo-login") is None
    assert [vol.name() for vol in pool.listAllVolumes(0)] == ["keep.qcow2"]
    assert [vol.name() for vol in other.listAllVolumes(0)] == ["demo-login.qcow2"]


def test_lookup_says_none_for_missing_objects(conn):
    assert libvirt_api.lookup(conn, "domain", "nope") is None
    assert libvirt_api.lookup(conn, "network", "nope") is None
    assert libvirt_api.lookup(conn, "pool", "nope") is None


def test_libvirt_errors_become_one_line_naming_the_operation(conn):
    with pytest.raises(libvirt_api.LibvirtApiError) as error, libvirt_api.operation("cannot define domain 'bad'"):
        conn.defineXML("<domain><name>bad</name></domain>")
    message = str(error.value)
    assert message.startswith("cannot define domain 'bad': ")
    assert "\n" not in message


def test_connect_fails_with_one_line_naming_the_uri(tmp_path):
    with pytest.raises(libvirt_api.LibvirtApiError) as error:
        libvirt_api.connect(f"test://{tmp_path}/missing.xml")
    assert str(error.value).startswith(f"cannot connect to libvirt at test://{tmp_path}/missing.xml: ")
    assert "\n" not in str(error.value)


def test_connect_to_the_system_suggests_starting_libvirtd(monkeypatch):
    def refuse(uri):
        libvirt.virResetLastError()
        raise libvirt.libvirtError("Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file")

    monkeypatch.setattr(libvirt, "open", refuse)
    with pytest.raises(libvirt_api.LibvirtApiError) as error:
        libvirt_api.connect("qemu:///system")
    assert str(error.value) == (
        "cannot connect to libvirt at qemu:///system: Failed to connect socket to "
        "'/var/run/libvirt/libvirt-sock': No such file (is libvirtd running? scripts/libvirt-host.sh start starts it)"
    )


def test_missing_library_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(libvirt_api, "_libvirt", None)
    monkeypatch.setitem(sys.modules, "libvirt", None)
    with pytest.raises(libvirt_api.LibvirtApiError) as error:
        libvirt_api.connect("qemu:///system")
    assert str(error.value) == (
        "the Python library libvirt-python is missing: LEARNHPC_SETUP_LIBVIRT=1 make setup installs it"
    )


def test_seed_texts():
    assert libvirt_api.meta_data("demo-login", "login") == "instance-id: demo-login\nlocal-hostname: login\n"
    config = libvirt_api.network_config("52:54:00:01:02:03")
    assert 'macaddress: "52:54:00:01:02:03"' in config
    assert "set-name: eth0" in config
    assert "dhcp4: true" in config
    assert config.startswith("version: 2\n")


@pytest.mark.skipif(shutil.which("cloud-localds") is None, reason="cloud-localds (cloud-image-utils) is not installed")
def test_seed_image_is_a_nocloud_iso():
    user_data = "#cloud-config\nhostname: login\n"
    iso = libvirt_api.seed_image(user_data, libvirt_api.meta_data("demo-login", "login"), "version: 2\n")
    # ISO 9660: the primary volume descriptor at 32 KiB, its volume label NoCloud looks for.
    assert iso[32769:32774] == b"CD001"
    assert b"cidata" in iso[32768 : 32768 + 2048].lower()
    assert user_data.encode() in iso
