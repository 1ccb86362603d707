# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt for the libvirt provider of learnhpc.cluster: find an event's domains, read their labels, and
write the XML of what an event has (its NAT network, its storage pool, a node's disk, seed and domain).

The module ``libvirt_event_nodes``, the inventory plugin and the autoscale program share this file:
keep it to the standard library and libvirt-python (``libvirt``), which is imported only when first
needed, so that importing this file never fails. The autoscale program gets this file with
``contract.py`` beside it.

Ownership (docs/contracts.md): a domain is an event's when its ``<metadata>`` holds a ``<node>``
element in the namespace ``contract.LIBVIRT_METADATA_NS`` with the label ``org.learnhpc.event``
naming it: ``<node xmlns="..."><label name="org.learnhpc.event" value="demo"/>...</node>``.
Networks and storage pools have no metadata in libvirt 9.0: their exact names
(``contract.libvirt_names``) make them the event's.

Every libvirt error becomes a ``LibvirtApiError`` with one line that names the object and what was
done to it (``operation``).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

try:
    from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
        EVENT_KEY,
        LABEL_PREFIX,
        LIBVIRT_METADATA_NS,
        LIBVIRT_METADATA_PREFIX,
    )
except ImportError:  # beside the autoscale program, which installs contract.py next to this file
    from contract import (  # type: ignore[no-redef]
        EVENT_KEY,
        LABEL_PREFIX,
        LIBVIRT_METADATA_NS,
        LIBVIRT_METADATA_PREFIX,
    )

# The node's fixed IPv4 address, kept in its metadata beside contract.node_labels.
ADDRESS_KEY = LABEL_PREFIX + "address"
# The connection most hosts use; scripts/libvirt-host.sh starts its daemons.
SYSTEM_URI = "qemu:///system"
MISSING_LIBRARY = "the Python library libvirt-python is missing: LEARNHPC_SETUP_LIBVIRT=1 make setup installs it"
# Where a node's serial console is logged (by virtlogd), as <name>-console.log.
CONSOLE_LOG_DIR = "/var/log/libvirt/qemu"
# The kernel command line of a node that boots the kernel directly (the image is its root file system).
KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0"
QCOW2_MAGIC = b"QFI\xfb"
# virDomainState, as virsh names the states.
STATE_NAMES = {
    0: "no state",
    1: "running",
    2: "idle",
    3: "paused",
    4: "in shutdown",
    5: "shut off",
    6: "crashed",
    7: "pmsuspended",
}
# libvirt's error codes this file tells apart (virErrorNumber).
ERR_NO_SUPPORT = 3
ERR_INVALID_ARG = 8
ERR_OPERATION_INVALID = 55
ERR_NO_DOMAIN = 42
ERR_NO_NETWORK = 43
ERR_NO_STORAGE_POOL = 49
ERR_NO_STORAGE_VOL = 50
ERR_NO_DOMAIN_METADATA = 80

_libvirt = None


class LibvirtApiError(Exception):
    """A libvirt call failed, or libvirt-python is missing; ``str()`` is one line."""


def load():
    """The ``libvirt`` module (libvirt-python), imported on first use; its errors no longer go to stderr."""
    global _libvirt  # noqa: PLW0603  # imported once, on first use
    if _libvirt is None:
        try:
            import libvirt  # noqa: PLC0415  # optional: only the libvirt provider needs it
        except ImportError as exc:
            raise LibvirtApiError(MISSING_LIBRARY) from exc
        # libvirt prints every error to stderr unless a handler takes them; they are raised anyway.
        libvirt.registerErrorHandler(lambda _context, _error: None, None)
        _libvirt = libvirt
    return _libvirt


def one_line(text):
    return " ".join(str(text).split())


def error_text(exc):
    """One line for a libvirt error (its message without the 'virXxx() failed' wrapper)."""
    return one_line(str(exc) or type(exc).__name__)


def error_code(exc):
    return exc.get_error_code() if hasattr(exc, "get_error_code") else None


@contextlib.contextmanager
def operation(what):
    """Turn a libvirt error inside the block into ``LibvirtApiError('<what>: <libvirt's message>')``.

    ``what`` names the operation and the object, e.g. ``cannot start domain 'demo-login'``.
    """
    libvirt = load()
    try:
        yield
    except libvirt.libvirtError as exc:
        raise LibvirtApiError(f"{what}: {error_text(exc)}") from None


def is_missing(exc):
    """Whether a libvirt error says that the object looked up does not exist."""
    return error_code(exc) in (ERR_NO_DOMAIN, ERR_NO_NETWORK, ERR_NO_STORAGE_POOL, ERR_NO_STORAGE_VOL)


# --- connections ---------------------------------------------------------------------------


def connect(uri, read_only=False):
    """A connection to libvirt at ``uri``; ``LibvirtApiError`` (one line) when there is none."""
    libvirt = load()
    try:
        conn = libvirt.openReadOnly(uri) if read_only else libvirt.open(uri)
    except libvirt.libvirtError as exc:
        hint = ""
        if uri == SYSTEM_URI:
            hint = " (is libvirtd running? scripts/libvirt-host.sh start starts it)"
        raise LibvirtApiError(f"cannot connect to libvirt at {uri}: {error_text(exc)}{hint}") from None
    if conn is None:  # older bindings returned None instead of raising
        raise LibvirtApiError(f"cannot connect to libvirt at {uri}")
    return conn


def lookup(conn, kind, name):
    """The domain, network or storage pool ``name`` (``kind``), or ``None`` when there is none."""
    libvirt = load()
    method = {"domain": conn.lookupByName, "network": conn.networkLookupByName, "pool": conn.storagePoolLookupByName}
    try:
        return method[kind](name)
    except libvirt.libvirtError as exc:
        if is_missing(exc):
            return None
        raise LibvirtApiError(f"cannot look up {kind} {name!r}: {error_text(exc)}") from None


def lookup_volume(pool, name):
    """The volume ``name`` of ``pool``, or ``None``."""
    libvirt = load()
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if is_missing(exc):
            return None
        raise LibvirtApiError(f"cannot look up volume {name!r} of pool {pool.name()!r}: {error_text(exc)}") from None


# --- labels in a domain's metadata ---------------------------------------------------------


def metadata_xml(labels, prefix=None):
    """The ``<metadata>`` child element of a domain that carries ``labels`` (a dict, kept in its order).

    Without ``prefix`` in the namespace's default form, as ``dom.setMetadata`` takes it (with
    ``LIBVIRT_METADATA_PREFIX``); with it, in the prefixed form for a domain's XML at define time.
    """
    tag = f"{prefix}:" if prefix else ""
    declaration = f"xmlns:{prefix}" if prefix else "xmlns"
    lines = [f"<{tag}node {declaration}={quoteattr(LIBVIRT_METADATA_NS)}>"]
    lines.extend(
        f"  <{tag}label name={quoteattr(str(name))} value={quoteattr(str(value))}/>" for name, value in labels.items()
    )
    lines.append(f"</{tag}node>")
    return "\n".join(lines)


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def parse_labels(text):
    """The labels of a ``<node>`` metadata element (its text), as a dict."""
    root = ET.fromstring(text)
    return {
        element.get("name"): element.get("value", "")
        for element in root
        if _local(element.tag) == "label" and element.get("name")
    }


def domain_labels(dom):
    """The labels of a domain (the metadata in ``LIBVIRT_METADATA_NS``), or ``None`` when it has none (not ours)."""
    libvirt = load()
    try:
        text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, LIBVIRT_METADATA_NS, 0)
    except libvirt.libvirtError as exc:
        if error_code(exc) == ERR_NO_DOMAIN_METADATA:
            return None
        raise LibvirtApiError(f"cannot read the metadata of domain {dom.name()!r}: {error_text(exc)}") from None
    try:
        return parse_labels(text)
    except ET.ParseError:
        return None


def set_domain_labels(dom, labels):
    """Replace the labels of a domain, in its persistent configuration and, while it runs, its live one."""
    libvirt = load()
    with operation(f"cannot set the metadata of domain {dom.name()!r}"):
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        dom.setMetadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT,
            metadata_xml(labels),
            LIBVIRT_METADATA_PREFIX,
            LIBVIRT_METADATA_NS,
            flags,
        )


def event_domains(conn, event=None):
    """``[(dom, labels)]`` of every domain (running or not) that carries our metadata, of ``event`` or of all
    events, sorted by name. A domain that goes away while it is listed is left out."""
    with operation("cannot list the domains"):
        domains = conn.listAllDomains(0)
    found = []
    for dom in domains:
        try:
            labels = domain_labels(dom)
        except LibvirtApiError:
            if lookup(conn, "domain", dom.name()) is None:
                continue
            raise
        if labels is None or (event is not None and labels.get(EVENT_KEY) != event):
            continue
        found.append((dom, labels))
    return sorted(found, key=lambda item: item[0].name())


# --- what a domain is ----------------------------------------------------------------------

_MEMORY_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
}


def _mebibytes(element):
    if element is None or not (element.text or "").strip():
        return None
    unit = (element.get("unit") or "KiB").lower()
    return int(element.text.strip()) * _MEMORY_UNITS.get(unit, 1024) // 1024**2


def is_local(uri):
    """Whether the libvirt URI ``uri`` names a daemon of this machine (no host part): its files are this machine's."""
    return not urllib.parse.urlsplit(uri or "").netloc


def domain_log_files(name, logs):
    """The log files on this machine of the removed domain ``name`` of ours: its console log (when its XML,
    whose ``<log>`` files are ``logs``, logs the console to CONSOLE_LOG_DIR) and QEMU's log of it that libvirt
    keeps there, ``<name>.log``, with logrotate's older ones (``<name>.log.1``, ``<name>.log.2.gz``)."""
    console = os.path.join(CONSOLE_LOG_DIR, f"{name}-console.log")
    if console not in logs:
        return []
    try:
        entries = os.listdir(CONSOLE_LOG_DIR)
    except OSError:
        return []
    own = (f"{name}-console.log", f"{name}.log")
    return sorted(
        os.path.join(CONSOLE_LOG_DIR, entry)
        for entry in entries
        if entry in own or entry.startswith(tuple(f"{stem}." for stem in own))
    )


def domain_xml_summary(text):
    """``{vcpus, memory_mb, mac, disks}`` of a domain's XML; ``disks``: ``[{device, pool, volume, path}]``."""
    root = ET.fromstring(text)
    vcpus = root.findtext("vcpu")
    mac = root.find("devices/interface/mac")
    disks = []
    for disk in root.findall("devices/disk"):
        source = disk.find("source")
        source = {} if source is None else source.attrib
        disks.append(
            {
                "device": disk.get("device"),
                "pool": source.get("pool"),
                "volume": source.get("volume"),
                "path": source.get("file") or source.get("dev"),
            }
        )
    logs = sorted({log.get("file") for log in root.iter("log") if log.get("file")})
    return {
        "vcpus": int(vcpus) if vcpus and vcpus.strip().isdigit() else None,
        "memory_mb": _mebibytes(root.find("memory")),
        "mac": mac.get("address") if mac is not None else None,
        "disks": disks,
        "logs": logs,
    }


def domain_state(dom):
    with operation(f"cannot read the state of domain {dom.name()!r}"):
        return STATE_NAMES.get(dom.state()[0], "unknown")


def domain_summary(dom, labels):
    """A plain dict of a domain: name, labels, state (as virsh names it), vcpus, memory_mb, address (its
    fixed IPv4 address, the label ``org.learnhpc.address``) and mac (of its first interface)."""
    with operation(f"cannot read the XML of domain {dom.name()!r}"):
        text = dom.XMLDesc(0)
    parts = domain_xml_summary(text)
    return {
        "name": dom.name(),
        "labels": dict(labels or {}),
        "state": domain_state(dom),
        "vcpus": parts["vcpus"],
        "memory_mb": parts["memory_mb"],
        "address": (labels or {}).get(ADDRESS_KEY),
        "mac": parts["mac"],
    }


def node_mac(name):
    """A stable MAC address for the node ``name``: QEMU's prefix 52:54:00 and three bytes of the SHA-256 of the name."""
    digest = hashlib.sha256(name.encode()).digest()
    return "52:54:00:" + ":".join(f"{byte:02x}" for byte in digest[:3])


# --- networks ------------------------------------------------------------------------------


def network_xml(name, bridge, cidr, domain, hosts):
    """The XML of an event's NAT network: gateway at the first address of ``cidr``, DHCP for the ``hosts``
    only (``[{mac, name, ip}]``: a fixed address each, no range for anything else), their names in DNS
    under ``domain`` (answered on the network only)."""
    network = ipaddress.IPv4Network(cidr)
    gateway = next(network.hosts())
    lines = [
        "<network>",
        f"  <name>{escape(name)}</name>",
        "  <forward mode='nat'>",
        "    <nat><port start='1024' end='65535'/></nat>",
        "  </forward>",
        f"  <bridge name={quoteattr(bridge)} stp='on' delay='0'/>",
        f"  <domain name={quoteattr(domain)} localOnly='yes'/>",
    ]
    if hosts:
        lines.append("  <dns>")
        lines.extend("    " + dns_host_xml(host) for host in hosts)
        lines.append("  </dns>")
    lines.append(f"  <ip address='{gateway}' prefix='{network.prefixlen}'>")
    lines.append("    <dhcp>")
    lines.extend("      " + dhcp_host_xml(host) for host in hosts)
    lines.extend(["    </dhcp>", "  </ip>", "</network>"])
    return "\n".join(lines)


def dhcp_host_xml(host):
    return f"<host mac={quoteattr(host['mac'])} name={quoteattr(host['name'])} ip={quoteattr(host['ip'])}/>"


def dns_host_xml(host):
    return f"<host ip={quoteattr(host['ip'])}><hostname>{escape(host['name'])}</hostname></host>"


def network_facts(text):
    """``{bridge, networks, domain, dhcp_hosts, dns_hosts}`` of a network's XML: ``networks`` its IPv4 networks
    (``ipaddress.IPv4Network``), ``dhcp_hosts`` ``[{mac, name, ip}]``, ``dns_hosts`` ``[{ip, names}]``."""
    root = ET.fromstring(text)
    bridge = root.find("bridge")
    domain = root.find("domain")
    networks, dhcp_hosts = [], []
    for ip in root.findall("ip"):
        if (ip.get("family") or "ipv4") != "ipv4" or not ip.get("address"):
            continue
        mask = ip.get("prefix") or ip.get("netmask") or "24"
        with contextlib.suppress(ValueError):
            networks.append(ipaddress.IPv4Network(f"{ip.get('address')}/{mask}", strict=False))
        dhcp_hosts.extend(
            {"mac": (host.get("mac") or "").lower(), "name": host.get("name"), "ip": host.get("ip")}
            for host in ip.findall("dhcp/host")
        )
    dns_hosts = [
        {"ip": host.get("ip"), "names": [name.text for name in host.findall("hostname")]}
        for host in root.findall("dns/host")
    ]
    return {
        "bridge": bridge.get("name") if bridge is not None else None,
        "networks": networks,
        "domain": domain.get("name") if domain is not None else None,
        "dhcp_hosts": dhcp_hosts,
        "dns_hosts": dns_hosts,
    }


# --- storage -------------------------------------------------------------------------------


def pool_xml(name, path):
    """The XML of a directory storage pool."""
    return "\n".join(
        [
            "<pool type='dir'>",
            f"  <name>{escape(name)}</name>",
            f"  <target><path>{escape(path)}</path></target>",
            "</pool>",
        ]
    )


def pool_path(pool):
    root = ET.fromstring(pool.XMLDesc(0))
    return root.get("type"), root.findtext("target/path")


def image_format(path):
    """``qcow2`` or ``raw``: what a disk image is, from its first bytes."""
    with open(path, "rb") as image:
        return "qcow2" if image.read(4) == QCOW2_MAGIC else "raw"


def overlay_volume_xml(name, capacity_gb, backing_path, backing_format="qcow2"):
    """The XML of a qcow2 volume of ``capacity_gb`` GiB that starts from ``backing_path`` (not copied, only read)."""
    return "\n".join(
        [
            "<volume>",
            f"  <name>{escape(name)}</name>",
            f"  <capacity unit='GiB'>{int(capacity_gb)}</capacity>",
            "  <allocation>0</allocation>",
            "  <target><format type='qcow2'/></target>",
            "  <backingStore>",
            f"    <path>{escape(backing_path)}</path>",
            f"    <format type={quoteattr(backing_format)}/>",
            "  </backingStore>",
            "</volume>",
        ]
    )


def raw_volume_xml(name, size):
    """The XML of a raw volume of ``size`` bytes (a NoCloud seed)."""
    return "\n".join(
        [
            "<volume>",
            f"  <name>{escape(name)}</name>",
            f"  <capacity unit='bytes'>{int(size)}</capacity>",
            "  <target><format type='raw'/></target>",
            "</volume>",
        ]
    )


def upload_volume(conn, vol, data):
    """Write ``data`` (bytes) into the volume ``vol`` through a libvirt stream."""
    libvirt = load()
    with operation(f"cannot upload to volume {vol.name()!r}"):
        stream = conn.newStream(0)
        try:
            vol.upload(stream, 0, len(data), 0)
            view = memoryview(data)
            offset = 0
            while offset < len(data):
                sent = stream.send(bytes(view[offset : offset + 262144]))
                if sent < 0:
                    raise libvirt.libvirtError("the stream refused the data")
                offset += sent
            stream.finish()
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise


def create_volume(pool, xml, what):
    with operation(f"cannot create volume {what!r} in pool {pool.name()!r}"):
        return pool.createXML(xml, 0)


def delete_volume(vol):
    with operation(f"cannot delete volume {vol.name()!r}"):
        vol.delete(0)


# --- cloud-init NoCloud seed ---------------------------------------------------------------


def meta_data(instance_id, hostname):
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def network_config(mac):
    """cloud-init network configuration (version 2): the NIC with ``mac`` is eth0, on DHCP."""
    lines = ["version: 2", "ethernets:", "  eth0:", "    match:", f'      macaddress: "{mac}"']
    return "\n".join([*lines, "    set-name: eth0", "    dhcp4: true", ""])


def seed_image(user_data, meta, network):
    """A NoCloud seed ISO (bytes) made with ``cloud-localds`` (Debian's cloud-image-utils)."""
    tool = shutil.which("cloud-localds")
    if tool is None:
        raise LibvirtApiError("cloud-localds is missing: install cloud-image-utils (scripts/libvirt-host.sh does)")
    with tempfile.TemporaryDirectory(prefix="learnhpc-seed-") as tmp:
        files = {"user-data": user_data, "meta-data": meta, "network-config": network}
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        iso = os.path.join(tmp, "seed.iso")
        args = [tool, "-N", os.path.join(tmp, "network-config"), iso]
        args += [os.path.join(tmp, "user-data"), os.path.join(tmp, "meta-data")]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LibvirtApiError(f"cloud-localds failed ({done.returncode}): {one_line(done.stderr or done.stdout)}")
        with open(iso, "rb") as handle:
            return handle.read()


# --- domains -------------------------------------------------------------------------------


def domain_xml(
    *,
    name,
    labels,
    vcpus,
    memory_mb,
    pool,
    disk_volume,
    seed_volume,
    network,
    mac,
    domain_type="qemu",
    kernel=None,
    initrd=None,
    cmdline=KERNEL_CMDLINE,
):
    """The XML of a node: ``disk_volume`` (pool ``pool``) as virtio disk vda, ``seed_volume`` as a read-only
    IDE CD-ROM, a virtio NIC with ``mac`` on ``network``, the serial console on a pty and logged to
    ``CONSOLE_LOG_DIR/<name>-console.log``, ``labels`` in its metadata. With ``kernel`` QEMU starts it with
    ``initrd`` and ``cmdline``; without it the disk boots by itself."""
    if kernel:
        boot = [
            f"    <kernel>{escape(kernel)}</kernel>",
            f"    <initrd>{escape(initrd)}</initrd>" if initrd else None,
            f"    <cmdline>{escape(cmdline)}</cmdline>",
        ]
    else:
        boot = ["    <boot dev='hd'/>"]
    metadata = metadata_xml(labels, prefix=LIBVIRT_METADATA_PREFIX)
    log = os.path.join(CONSOLE_LOG_DIR, f"{name}-console.log")
    lines = [
        f"<domain type={quoteattr(domain_type)}>",
        f"  <name>{escape(name)}</name>",
        "  <metadata>",
        *("    " + line for line in metadata.splitlines()),
        "  </metadata>",
        f"  <memory unit='MiB'>{int(memory_mb)}</memory>",
        f"  <vcpu>{int(vcpus)}</vcpu>",
        "  <os>",
        "    <type>hvm</type>",
        *(line for line in boot if line),
        "  </os>",
        "  <features><acpi/><apic/></features>",
        "  <clock offset='utc'/>",
        "  <on_poweroff>destroy</on_poweroff>",
        "  <on_reboot>restart</on_reboot>",
        "  <on_crash>destroy</on_crash>",
        "  <devices>",
        "    <disk type='volume' device='disk'>",
        "      <driver name='qemu' type='qcow2' discard='unmap'/>",
        f"      <source pool={quoteattr(pool)} volume={quoteattr(disk_volume)}/>",
        "      <target dev='vda' bus='virtio'/>",
        "    </disk>",
        "    <disk type='volume' device='cdrom'>",
        "      <driver name='qemu' type='raw'/>",
        f"      <source pool={quoteattr(pool)} volume={quoteattr(seed_volume)}/>",
        "      <target dev='hdc' bus='ide'/>",
        "      <readonly/>",
        "    </disk>",
        "    <interface type='network'>",
        f"      <source network={quoteattr(network)}/>",
        f"      <mac address={quoteattr(mac)}/>",
        "      <model type='virtio'/>",
        "    </interface>",
        "    <serial type='pty'>",
        f"      <log file={quoteattr(log)} append='off'/>",
        "      <target port='0'/>",
        "    </serial>",
        "    <console type='pty'>",
        "      <target type='serial' port='0'/>",
        "    </console>",
        "    <channel type='unix'>",
        "      <target type='virtio' name='org.qemu.guest_agent.0'/>",
        "    </channel>",
        "    <rng model='virtio'>",
        "      <backend model='random'>/dev/urandom</backend>",
        "    </rng>",
        "  </devices>",
        "</domain>",
    ]
    return "\n".join(lines)


def _undefine(dom):
    """Undefine a domain with its NVRAM, managed save image and snapshot and checkpoint metadata; with fewer
    flags where the driver knows fewer (libvirt's test driver has no NVRAM), plain undefine last."""
    libvirt = load()
    managed = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    every = managed | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    every |= getattr(libvirt, "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", 0)
    for flags in (every, managed, None):
        try:
            if flags is None:
                dom.undefine()
            else:
                dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as exc:
            if flags is None or error_code(exc) not in (ERR_NO_SUPPORT, ERR_INVALID_ARG):
                raise LibvirtApiError(f"cannot undefine domain {dom.name()!r}: {error_text(exc)}") from None


def remove_domain(conn, dom, pool_name=None):
    """Stop and undefine a domain (with its NVRAM, managed save and snapshot metadata); then delete the volumes
    of its disks that live in the pool ``pool_name``. Returns the names of the volumes deleted."""
    libvirt = load()
    name = dom.name()
    with operation(f"cannot read the XML of domain {name!r}"):
        disks = domain_xml_summary(dom.XMLDesc(0))["disks"]
    if dom.isActive():
        try:
            dom.destroy()
        except libvirt.libvirtError as exc:
            # It may have stopped by itself in between.
            if error_code(exc) != ERR_OPERATION_INVALID and dom.isActive():
                raise LibvirtApiError(f"cannot stop domain {name!r}: {error_text(exc)}") from None
    _undefine(dom)
    deleted = []
    pool = lookup(conn, "pool", pool_name) if pool_name else None
    if pool is None or not pool.isActive():
        return deleted
    _kind, path = pool_path(pool)
    for disk in disks:
        vol = None
        if disk["pool"] == pool_name and disk["volume"]:
            vol = lookup_volume(pool, disk["volume"])
        elif disk["path"] and path and os.path.dirname(disk["path"]) == path.rstrip("/"):
            vol = lookup_volume(pool, os.path.basename(disk["path"]))
        if vol is not None:
            delete_volume(vol)
            deleted.append(vol.name())
    return deleted
