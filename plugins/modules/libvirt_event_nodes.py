#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: libvirt_event_nodes
short_description: Create and remove the libvirt virtual machines of a training event
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Makes the nodes of event O(event) on the libvirt host, one QEMU virtual machine (a libvirt domain) each, with
    what they need - the event's NAT network, its storage pool, a disk and a cloud-init seed per node - and the
    port forwards from this machine to them. Run it on the libvirt host (normally C(localhost)).
  - "A domain belongs to the event when its metadata (namespace C(https://learnhpc.org/xmlns/libvirt/node/1))
    carries the label C(org.learnhpc.event) with the event's name (docs/contracts.md); the network and the pool by
    their exact names (O(network.name), O(pool.name)). Names alone never make a domain the event's, and nothing
    of another event is ever touched, even when its name starts with this one's."
  - With O(state=present), before it changes anything, the module fails with one line when the image (or, with
    O(boot=kernel), the kernel or initial RAM disk) is not a readable file, when O(network.cidr) overlaps another
    libvirt network or an address of an interface of this machine (but the event's own bridge), when a domain
    with a node's name exists and is not the event's, when the event's network or pool exists with other settings,
    or when a port of O(forwards) is listened on by something else than the event's own forwarder.
  - "It then makes, where missing: the network (NAT, gateway at the first address of O(network.cidr), started and
    started with libvirtd), with a fixed DHCP address and a DNS name per node (the node's O(nodes[].hostname) in
    the domain O(network.domain)) and no DHCP range for anything else; the directory pool (started, and started
    with libvirtd); per node a qcow2 volume C(<name>.qcow2) of O(nodes[].disk_gb) GiB on O(image) (a backing file,
    only read), a NoCloud seed volume C(<name>-seed.iso) made with C(cloud-localds), and the domain, which it
    starts. Existing nodes that are not running are started."
  - A node that exists is left as it is; when its virtual CPUs, memory or address differ from O(nodes) the module
    warns. Labels of O(nodes[].labels) that differ from an existing node's are updated (for example a new end
    date). Nodes of the event that are not in O(nodes) are left alone and listed in RV(unlisted), except the
    autoscaled ones (label C(org.learnhpc.autoscaled)).
  - "Each forward is a C(socat) process of its own (C(socat TCP-LISTEN:<port>,bind=<address>,reuseaddr,fork
    TCP:<to_address>:<to_port>)), in a session of its own, with its pid in C(<state_dir>/forward-<port>.pid)
    and its messages in C(<state_dir>/forward-<port>.log). One whose process is gone, or whose command line
    differs, is started again; forwarders with a pid file in O(state_dir) that O(forwards) no longer lists are
    stopped."
  - "With O(state=absent) it removes everything of the event: its domains (stopped, undefined with their NVRAM,
    their volumes in the event's pool deleted), the pool's other volumes, the pool, the network and the
    forwarders of O(state_dir) (a process is killed only when its command line is a forwarder's). Then it looks
    again and returns what it removed and what is left."
options:
  uri:
    description:
      - The libvirt connection.
    type: str
    default: qemu:///system
  event:
    description:
      - The event name (docs/contracts.md), lower-case letters, digits and C(-), at most 24 characters.
    type: str
    required: true
  state:
    description:
      - Whether the event's nodes should exist (V(present)) or nothing of the event should (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  network:
    description:
      - The event's NAT network.
    type: dict
    default: {}
    suboptions:
      name:
        description: The network's name; C(learnhpc-<event>) by default (contract.libvirt_names).
        type: str
      bridge:
        description:
          - The name of the network's bridge, at most 15 characters; C(lh-<hash of the event name>) by default.
        type: str
      cidr:
        description:
          - The network's IPv4 address range, with a prefix length from 16 to 29; its first address is the
            gateway (this machine). By default a /24 of 10.77.0.0/16 chosen by the event's name.
        type: str
      domain:
        description: The DNS domain of the nodes' names on the network; C(<event>.internal) by default.
        type: str
  pool:
    description:
      - The event's directory storage pool, which holds the nodes' disks and seeds.
    type: dict
    default: {}
    suboptions:
      name:
        description: The pool's name; C(learnhpc-<event>) by default (contract.libvirt_names).
        type: str
      path:
        description: The pool's directory; C(/var/lib/libvirt/images/<pool name>) by default.
        type: path
  image:
    description:
      - The disk image (qcow2 or raw) every node's disk starts from; it is only read, never changed. Required
        with O(state=present) when O(nodes) is not empty.
      - Never rebuild it in place while nodes use it.
    type: path
  boot:
    description:
      - "V(disk): the image boots by itself (a cloud image). V(kernel): QEMU starts O(kernel) (with O(initrd)
        and O(cmdline)), and the image is the root file system."
    type: str
    choices: [disk, kernel]
    default: disk
  kernel:
    description: With O(boot=kernel), the kernel to start; required then.
    type: path
  initrd:
    description: With O(boot=kernel), its initial RAM disk.
    type: path
  cmdline:
    description: With O(boot=kernel), the kernel's command line.
    type: str
    default: root=/dev/vda rw console=ttyS0,115200 net.ifnames=0
  domain_type:
    description:
      - The libvirt domain type of new nodes. V(qemu) is QEMU's emulator (TCG), which works everywhere;
        V(kvm) needs a usable C(/dev/kvm).
    type: str
    default: qemu
  nodes:
    description:
      - The nodes the event should have.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The domain's name, which is the node's host name, for example C(demo-login).
        type: str
        required: true
      hostname:
        description: The node's short name, for example C(login), its DHCP and DNS name on the network.
        type: str
        required: true
      address:
        description: The node's fixed IPv4 address, in O(network.cidr).
        type: str
        required: true
      labels:
        description:
          - The node's labels (contract.node_labels), kept in the domain's metadata with the label
            C(org.learnhpc.address) (the address). C(org.learnhpc.event) is the event's name when missing.
        type: dict
        default: {}
      vcpus:
        description: Virtual CPUs of the node.
        type: int
        default: 1
      memory_mb:
        description: Memory of the node, MiB.
        type: int
        default: 2048
      disk_gb:
        description: Size of the node's disk, GiB.
        type: int
        default: 10
      user_data:
        description:
          - The node's cloud-init user data (C(#cloud-config) YAML). Only used when the node is created.
        type: str
        default: "#cloud-config\n"
  forwards:
    description:
      - Ports of this machine forwarded to the nodes (for example SSH to the login node). Needs O(state_dir).
    type: list
    elements: dict
    default: []
    suboptions:
      bind_address:
        description: The address the port listens on.
        type: str
        default: 127.0.0.1
      port:
        description: The port on this machine.
        type: int
        required: true
      to_address:
        description: The address connections go to (a node's fixed address).
        type: str
        required: true
      to_port:
        description: The port connections go to.
        type: int
        required: true
  state_dir:
    description:
      - The directory (mode 0700, made when missing) of the forwarders' pid and log files. Required with
        O(forwards); with O(state=absent) the forwarders recorded there are stopped.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - libvirt-python (C(LEARNHPC_SETUP_LIBVIRT=1 make setup) installs it)
  - cloud-localds (Debian's cloud-image-utils) to create nodes, socat for O(forwards)
notes:
  - "A node's O(nodes[].user_data), O(image), O(nodes[].disk_gb) and the boot settings are used only when it is
    created; to change them, remove the node (or the event) and run again."
  - Nodes are not started with libvirtd (no autostart); the next run of the module starts them. The network and
    the pool are.
  - The serial console of a node is logged to C(/var/log/libvirt/qemu/<name>-console.log). With O(state=absent)
    and a URI without a host (this machine's libvirtd), that log and QEMU's log of the domain there
    (C(<name>.log), with those logrotate kept) go with the domain; a remote host keeps its logs.
"""

EXAMPLES = r"""
- name: Create the nodes of event demo
  learnhpc.cluster.libvirt_event_nodes:
    event: demo
    network:
      cidr: 10.77.12.0/24
    image: /var/lib/libvirt/images/learnhpc/node-12.qcow2
    boot: kernel
    kernel: /var/lib/libvirt/images/learnhpc/node-12.vmlinuz
    initrd: /var/lib/libvirt/images/learnhpc/node-12.initrd.img
    nodes:
      - name: demo-login
        hostname: login
        address: 10.77.12.10
        labels: "{{ learnhpc_event_config.labels.compute | combine({'org.learnhpc.roles': 'login'}) }}"
        user_data: "{{ lookup('template', 'user-data.j2') }}"
    forwards:
      - port: 2222
        to_address: 10.77.12.10
        to_port: 22
    state_dir: "{{ events_dir }}/.state/demo/libvirt"
  register: libvirt_event_nodes

- name: Remove everything of event demo
  learnhpc.cluster.libvirt_event_nodes:
    event: demo
    state: absent
    state_dir: "{{ events_dir }}/.state/demo/libvirt"
  register: libvirt_teardown

- name: Check that nothing is left
  ansible.builtin.assert:
    that: libvirt_teardown.left.values() | map('length') | sum == 0
"""

RETURN = r"""
nodes:
  description:
    - The event's nodes after the run, those of O(nodes) first, in their order, then the others. In check mode, the
      nodes as they are now.
  returned: state=present
  type: list
  elements: dict
  contains:
    name:
      description: The domain's name.
      type: str
      sample: demo-login
    labels:
      description: The labels of its metadata.
      type: dict
      sample: {"org.learnhpc.event": "demo", "org.learnhpc.roles": "login", "org.learnhpc.address": "10.77.12.10"}
    state:
      description: The domain's state, as virsh names it (C(running), C(shut off), ...).
      type: str
      sample: running
    vcpus:
      description: Its virtual CPUs.
      type: int
      sample: 1
    memory_mb:
      description: Its memory, MiB.
      type: int
      sample: 2048
    address:
      description: Its fixed IPv4 address (the label C(org.learnhpc.address)).
      type: str
      sample: 10.77.12.10
    mac:
      description: The MAC address of its network interface.
      type: str
      sample: "52:54:00:3a:5f:01"
created:
  description: Names of the nodes created (in check mode, that would be).
  returned: state=present
  type: list
  elements: str
  sample: [demo-login]
started:
  description: Names of the nodes started, new ones included (in check mode, that would be).
  returned: state=present
  type: list
  elements: str
  sample: [demo-login]
updated:
  description: Names of the nodes whose labels were updated (or would be).
  returned: state=present
  type: list
  elements: str
  sample: []
unlisted:
  description: Names of the event's nodes that are not in O(nodes) and not autoscaled; they were left alone.
  returned: state=present
  type: list
  elements: str
  sample: [demo-compute-03]
network:
  description: The event's network and what was done to it (or would be).
  returned: state=present
  type: dict
  sample:
    name: learnhpc-demo
    bridge: lh-2a97516c35
    cidr: 10.77.12.0/24
    gateway: 10.77.12.1
    domain: demo.internal
    actions: [defined, started, autostart]
pool:
  description: The event's storage pool and what was done to it (or would be).
  returned: state=present
  type: dict
  sample: {"name": "learnhpc-demo", "path": "/var/lib/libvirt/images/learnhpc-demo", "actions": []}
forwards:
  description:
    - The forwards and what was done to each (C(action) V(running), V(started), V(restarted) or V(stopped)).
  returned: state=present
  type: list
  elements: dict
  sample:
    - {"bind_address": "127.0.0.1", "port": 2222, "to_address": "10.77.12.10", "to_port": 22, "pid": 4242,
       "action": "running"}
removed:
  description:
    - What of the event was removed (in check mode, would be), by kind - C(domains), C(volumes), C(pools),
      C(networks) (names) and C(forwards) (ports).
  returned: state=absent
  type: dict
  sample: {"domains": ["demo-login"], "volumes": ["demo-login.qcow2", "demo-login-seed.iso"],
           "pools": ["learnhpc-demo"], "networks": ["learnhpc-demo"], "forwards": [2222]}
left:
  description:
    - What of the event is still there after the removal, with the keys of RV(removed); all empty when the event
      is gone.
  returned: state=absent
  type: dict
  sample: {"domains": [], "volumes": [], "pools": [], "networks": [], "forwards": []}
"""

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import time
from typing import ClassVar

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils import libvirt_api
from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    EVENT_KEY,
    HOST_NAME_MAX,
    IFNAME_MAX,
    is_autoscaled,
    libvirt_default_cidr,
    libvirt_names,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_file import event_name_error
from ansible_collections.learnhpc.cluster.plugins.module_utils.libvirt_api import (
    ADDRESS_KEY,
    KERNEL_CMDLINE,
    LibvirtApiError,
    operation,
)

HOSTNAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
DOMAIN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEFAULT_POOL_DIR = "/var/lib/libvirt/images"
PREFIX_MIN = 16
PREFIX_MAX = 29
TCP_LISTEN = "0A"
# Seconds a new forwarder has to listen, and one being stopped to go.
FORWARD_START_TIMEOUT = 5
FORWARD_STOP_TIMEOUT = 5


def label_value(value):
    """A label's value as text; YAML's true and false as the collection writes them (``true``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def listing(names):
    names = [str(name) for name in names]
    return ", ".join(names) if names else "(none)"


# --- this machine: its interfaces and listening ports ----------------------------------------


def host_networks(module):
    """``[(interface, IPv4Interface)]`` of this machine (``ip -j -4 addr``), or ``None`` without iproute2."""
    tool = shutil.which("ip")
    if tool is None:
        return None
    rc, out, _err = module.run_command([tool, "-j", "-4", "addr", "show"])
    if rc != 0:
        return None
    found = []
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family", "inet") == "inet" and info.get("local"):
                found.append((link.get("ifname"), ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}")))
    return found


def _proc_address(text):
    """An address of /proc/net/tcp{,6} (hex, in the host's byte order, little-endian here)."""
    if len(text) == 8:
        return ipaddress.IPv4Address(bytes.fromhex(text)[::-1])
    words = [bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, 32, 8)]
    address = ipaddress.IPv6Address(b"".join(words))
    return address.ipv4_mapped or address


def listeners(port):
    """The local addresses with a TCP socket listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_LISTEN:
                continue
            address, _colon, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port:
                found.append(_proc_address(address))
    return found


def clashes(bind_address, addresses):
    """Whether a listener on one of ``addresses`` keeps ``bind_address`` from listening on the same port."""
    bind = ipaddress.ip_address(bind_address)
    return any(address == bind or address.is_unspecified or bind.is_unspecified for address in addresses)


# --- forwarders ------------------------------------------------------------------------------


def forward_argv(forward):
    """The command line of a forwarder (what /proc/PID/cmdline holds)."""
    bind = forward["bind_address"]
    if ":" in bind:
        listen = f"TCP6-LISTEN:{forward['port']},bind=[{bind}],reuseaddr,fork"
    else:
        listen = f"TCP-LISTEN:{forward['port']},bind={bind},reuseaddr,fork"
    target = forward["to_address"]
    target = f"[{target}]" if ":" in target else target
    return ["socat", listen, f"TCP:{target}:{forward['to_port']}"]


def pid_file(state_dir, port):
    return os.path.join(state_dir, f"forward-{port}.pid")


def read_pid(path):
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def process_argv(pid):
    """The command line of a live process (not a zombie), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            if handle.read().rpartition(")")[2].split()[0] == "Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except (OSError, IndexError):
        return None
    if not raw:
        return None
    return [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")]


def is_forwarder(argv, port):
    """Whether a command line is one of ours for ``port`` (whatever its target)."""
    return (
        argv is not None
        and len(argv) == 3
        and os.path.basename(argv[0]) == "socat"
        and argv[1].startswith((f"TCP-LISTEN:{port},", f"TCP6-LISTEN:{port},"))
        and argv[1].endswith(",reuseaddr,fork")
        and argv[2].startswith("TCP:")
    )


def recorded_forwarders(state_dir):
    """``{port: pid or None}`` of the pid files in ``state_dir``."""
    found = {}
    if not state_dir or not os.path.isdir(state_dir):
        return found
    for entry in sorted(os.listdir(state_dir)):
        match = re.fullmatch(r"forward-(\d+)\.pid", entry)
        if match:
            found[int(match.group(1))] = read_pid(os.path.join(state_dir, entry))
    return found


def spawn(argv, executable, log_path):
    """Start ``argv`` detached: a session of its own, stdin and stdout on /dev/null, stderr appended to
    ``log_path``; it outlives the module. Returns its pid (a child of this process until the module ends)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, which becomes the program or exits
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(log, 2)
            # Every other descriptor of Python's is closed by exec (PEP 446).
            os.execv(executable, argv)
        finally:
            os._exit(127)
    return pid


def reap(pid):
    """Collect ``pid`` if it is a child of this process that ended (else it would stay a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(pid):
    """Stop a forwarder (its whole session: connections it forks go too); True once it is gone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    end = time.monotonic() + FORWARD_STOP_TIMEOUT
    while time.monotonic() < end:
        reap(pid)
        if process_argv(pid) is None:
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    time.sleep(0.2)
    reap(pid)
    return process_argv(pid) is None


class EventNodes:
    argument_spec: ClassVar[dict] = {
        "uri": {"type": "str", "default": libvirt_api.SYSTEM_URI},
        "event": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "network": {
            "type": "dict",
            "default": {},
            "options": {
                "name": {"type": "str"},
                "bridge": {"type": "str"},
                "cidr": {"type": "str"},
                "domain": {"type": "str"},
            },
        },
        "pool": {
            "type": "dict",
            "default": {},
            "options": {"name": {"type": "str"}, "path": {"type": "path"}},
        },
        "image": {"type": "path"},
        "boot": {"type": "str", "default": "disk", "choices": ["disk", "kernel"]},
        "kernel": {"type": "path"},
        "initrd": {"type": "path"},
        "cmdline": {"type": "str", "default": KERNEL_CMDLINE},
        "domain_type": {"type": "str", "default": "qemu"},
        "nodes": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "name": {"type": "str", "required": True},
                "hostname": {"type": "str", "required": True},
                "address": {"type": "str", "required": True},
                "labels": {"type": "dict", "default": {}},
                "vcpus": {"type": "int", "default": 1},
                "memory_mb": {"type": "int", "default": 2048},
                "disk_gb": {"type": "int", "default": 10},
                "user_data": {"type": "str", "default": "#cloud-config\n"},
            },
        },
        "forwards": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "bind_address": {"type": "str", "default": "127.0.0.1"},
                "port": {"type": "int", "required": True},
                "to_address": {"type": "str", "required": True},
                "to_port": {"type": "int", "required": True},
            },
        },
        "state_dir": {"type": "path"},
    }

    def __init__(self):
        self.ansible = AnsibleModule(argument_spec=self.argument_spec, supports_check_mode=True)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.conn = None
        self.result = {"changed": False}
        self.applying = False

    # -- results ---------------------------------------------------------------------------

    def exit(self, **result):
        self.result.update(result)
        self.ansible.exit_json(**self.result)

    def fail(self, msg, **result):
        """Fail with ``msg``, one line, or with a list of lines (then also returned as ``errors``)."""
        self.result.update(result)
        # Once changes began, what was planned may have been done in part.
        self.result["changed"] = self.applying and self.changed()
        if isinstance(msg, (list, tuple)):
            lines = [libvirt_api.one_line(line) for line in msg]
            self.ansible.fail_json(msg="\n".join(lines), errors=lines, **self.result)
        self.ansible.fail_json(msg=libvirt_api.one_line(msg), **self.result)

    def changed(self):
        result = self.result
        network = (result.get("network") or {}).get("actions")
        pool = (result.get("pool") or {}).get("actions")
        forwards = [f for f in result.get("forwards") or [] if f.get("action") != "running"]
        removed = any((result.get("removed") or {}).values())
        lists = ("created", "started", "updated")
        return bool(network or pool or forwards or removed or any(result.get(key) for key in lists))

    # -- options ---------------------------------------------------------------------------

    def settings(self):
        """The network and pool settings with their defaults (contract.libvirt_names)."""
        event = self.params["event"]
        names = libvirt_names(event)
        network = dict(self.params["network"] or {})
        network["name"] = network.get("name") or names["network"]
        network["bridge"] = network.get("bridge") or names["bridge"]
        network["cidr"] = network.get("cidr") or libvirt_default_cidr(event)
        network["domain"] = network.get("domain") or f"{event}.internal"
        pool = dict(self.params["pool"] or {})
        pool["name"] = pool.get("name") or names["pool"]
        pool["path"] = os.path.normpath(pool.get("path") or os.path.join(DEFAULT_POOL_DIR, pool["name"]))
        self.network, self.pool = network, pool

    def check_input(self):
        problem = event_name_error(self.params["event"])
        if problem is not None:
            self.fail(problem)
        self.settings()
        if self.params["state"] == "absent":
            return
        errors = []
        network = self.network
        if len(network["bridge"]) > IFNAME_MAX:
            errors.append(f"network.bridge: {network['bridge']!r} is longer than {IFNAME_MAX} characters")
        try:
            cidr = ipaddress.IPv4Network(network["cidr"])
        except ValueError as exc:
            self.fail(f"network.cidr: {network['cidr']!r} is not an IPv4 network address with a prefix: {exc}")
        if not PREFIX_MIN <= cidr.prefixlen <= PREFIX_MAX:
            errors.append(f"network.cidr: the prefix length must be from {PREFIX_MIN} to {PREFIX_MAX}, got {cidr}")
        self.cidr = cidr
        self.gateway = next(cidr.hosts())
        errors += self.check_nodes()
        errors += self.check_forwards()
        errors += self.check_files()
        if errors:
            self.fail(errors)

    def check_nodes(self):
        event, cidr, errors = self.params["event"], self.cidr, []
        seen = {"name": {}, "hostname": {}, "address": {}, "mac": {}}
        for index, node in enumerate(self.params["nodes"]):
            where = f"nodes[{index}] ({node['name']})"
            if len(node["name"]) > HOST_NAME_MAX or not DOMAIN_NAME_RE.fullmatch(node["name"]):
                errors.append(
                    f"{where}: the name must be letters, digits, '.', '_' and '-' (at most {HOST_NAME_MAX} characters)"
                )
            if not HOSTNAME_RE.fullmatch(node["hostname"]):
                errors.append(f"{where}: hostname {node['hostname']!r} is not a host name (letters, digits and '-')")
            try:
                address = ipaddress.IPv4Address(node["address"])
            except ValueError:
                errors.append(f"{where}: address {node['address']!r} is not an IPv4 address")
                address = None
            if address is not None and (
                address not in cidr or address in (cidr.network_address, cidr.broadcast_address, self.gateway)
            ):
                errors.append(
                    f"{where}: address {address} must be in network.cidr {cidr} and not its network, broadcast "
                    f"or gateway ({self.gateway}) address"
                )
            node["mac"] = libvirt_api.node_mac(node["name"])
            for key, values in seen.items():
                value = str(node[key])
                if value in values:
                    errors.append(f"{where}: {key} {value} is also that of {values[value]}")
                values.setdefault(value, node["name"])
            labels = {str(key): label_value(value) for key, value in (node["labels"] or {}).items()}
            if labels.setdefault(EVENT_KEY, event) != event:
                errors.append(f"{where}: the label {EVENT_KEY} must be the event's name {event!r}")
            if labels.setdefault(ADDRESS_KEY, node["address"]) != node["address"]:
                errors.append(f"{where}: the label {ADDRESS_KEY} must be the node's address {node['address']}")
            node["labels"] = labels
            for key, low in (("vcpus", 1), ("memory_mb", 128), ("disk_gb", 1)):
                if node[key] < low:
                    errors.append(f"{where}: {key} must be at least {low}, got {node[key]}")
        return errors

    def check_forwards(self):
        errors, ports = [], set()
        forwards = self.params["forwards"]
        if forwards and not self.params["state_dir"]:
            errors.append("forwards need state_dir (where their pid files live)")
        if forwards and shutil.which("socat") is None:
            errors.append("forwards need socat, which is missing: install it (scripts/libvirt-host.sh start does)")
        for index, forward in enumerate(forwards):
            where = f"forwards[{index}]"
            for key in ("port", "to_port"):
                if not 1 <= forward[key] <= 65535:
                    errors.append(f"{where}: {key} must be from 1 to 65535, got {forward[key]}")
            for key in ("bind_address", "to_address"):
                try:
                    ipaddress.ip_address(forward[key])
                except ValueError:
                    errors.append(f"{where}: {key} {forward[key]!r} is not an IP address")
            if forward["port"] in ports:
                errors.append(f"{where}: port {forward['port']} is forwarded twice")
            ports.add(forward["port"])
        return errors

    def check_files(self):
        errors = []
        wanted = []
        if self.params["nodes"]:
            if not self.params["image"]:
                errors.append("image is required to create nodes")
            else:
                wanted.append(("image", self.params["image"]))
            if self.params["boot"] == "kernel":
                if not self.params["kernel"]:
                    errors.append("boot=kernel needs kernel")
                wanted += [(key, self.params[key]) for key in ("kernel", "initrd") if self.params[key]]
        for key, path in wanted:
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                errors.append(f"{key} {path} is not a readable file")
        return errors

    # -- run -------------------------------------------------------------------------------

    def __call__(self):
        self.check_input()
        try:
            self.conn = libvirt_api.connect(self.params["uri"])
            if self.params["state"] == "absent":
                self.absent()
            else:
                self.present()
        except LibvirtApiError as exc:
            self.fail(str(exc))
        except OSError as exc:
            self.fail(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        except Exception as exc:
            libvirt = libvirt_api.load()
            if isinstance(exc, libvirt.libvirtError):
                self.fail(f"libvirt at {self.params['uri']}: {libvirt_api.error_text(exc)}")
            raise

    # -- present: what is there, what to do ------------------------------------------------

    def preflight(self):
        """Look at everything, change nothing; fail (all problems at once) before any change."""
        event, errors = self.params["event"], []
        mine = libvirt_api.event_domains(self.conn, event)
        self.mine = {dom.name(): (dom, labels) for dom, labels in mine}
        for node in self.params["nodes"]:
            if node["name"] in self.mine:
                continue
            dom = libvirt_api.lookup(self.conn, "domain", node["name"])
            if dom is not None:
                owner = (libvirt_api.domain_labels(dom) or {}).get(EVENT_KEY)
                whose = f"event {owner!r}" if owner else "no event"
                errors.append(
                    f"domain {node['name']!r} exists and belongs to {whose}; it is left alone: remove it or choose "
                    "other names"
                )
        errors += self.preflight_network()
        errors += self.preflight_pool()
        errors += self.preflight_forwards()
        if errors:
            self.fail(errors)

    def preflight_network(self):
        errors, network, cidr = [], self.network, self.cidr
        self.net = libvirt_api.lookup(self.conn, "network", network["name"])
        self.net_facts = None
        with operation("cannot list the networks"):
            others = [net for net in self.conn.listAllNetworks(0) if net.name() != network["name"]]
        for other in others:
            with operation(f"cannot read the XML of network {other.name()!r}"):
                facts = libvirt_api.network_facts(other.XMLDesc(0))
            overlapping = [str(net) for net in facts["networks"] if net.overlaps(cidr)]
            if overlapping:
                errors.append(
                    f"network.cidr {cidr} overlaps libvirt network {other.name()!r} ({listing(overlapping)}): "
                    "choose another libvirt.network_cidr"
                )
            if facts["bridge"] == network["bridge"]:
                errors.append(f"bridge {network['bridge']!r} is that of libvirt network {other.name()!r}")
        interfaces = host_networks(self.ansible)
        if interfaces is None:
            self.ansible.warn("iproute2 (ip) is missing: the addresses of this machine's interfaces were not checked")
        for name, interface in interfaces or []:
            if name != network["bridge"] and interface.network.overlaps(cidr):
                errors.append(
                    f"network.cidr {cidr} overlaps address {interface} of interface {name} of this machine: choose "
                    "another libvirt.network_cidr"
                )
        if self.net is not None:
            with operation(f"cannot read the XML of network {network['name']!r}"):
                self.net_facts = libvirt_api.network_facts(self.net.XMLDesc(0))
            facts = self.net_facts
            have = listing(str(net) for net in facts["networks"])
            if facts["bridge"] != network["bridge"] or [str(net) for net in facts["networks"]] != [str(cidr)]:
                errors.append(
                    f"network {network['name']!r} exists with bridge {facts['bridge']!r} and address range {have}, "
                    f"not {network['bridge']!r} and {cidr}: remove the event first (state=absent)"
                )
        return errors

    def preflight_pool(self):
        pool = self.pool
        self.pool_obj = libvirt_api.lookup(self.conn, "pool", pool["name"])
        if self.pool_obj is None:
            return []
        with operation(f"cannot read the XML of pool {pool['name']!r}"):
            kind, path = libvirt_api.pool_path(self.pool_obj)
        if kind != "dir" or os.path.normpath(path or "") != pool["path"]:
            return [
                f"pool {pool['name']!r} exists as a {kind} pool at {path}, not a dir pool at {pool['path']}: remove "
                "the event first (state=absent)"
            ]
        return []

    def preflight_forwards(self):
        errors = []
        self.forward_state = {}
        state_dir = self.params["state_dir"]
        recorded = recorded_forwarders(state_dir)
        for forward in self.params["forwards"]:
            port = forward["port"]
            pid = recorded.get(port)
            argv = process_argv(pid) if pid else None
            ours = pid if is_forwarder(argv, port) else None
            if ours and argv == forward_argv(forward):
                self.forward_state[port] = ("running", ours)
                continue
            self.forward_state[port] = ("restarted" if ours else "started", ours)
            if ours is None and clashes(forward["bind_address"], listeners(port)):
                errors.append(
                    f"port {port} on {forward['bind_address']} is already listened on by another program than the "
                    f"event's forwarder: free it or choose another port (ss -ltnp 'sport = :{port}' shows it)"
                )
        wanted = {forward["port"] for forward in self.params["forwards"]}
        self.stale_forwarders = {
            port: pid
            for port, pid in recorded.items()
            if port not in wanted and pid and is_forwarder(process_argv(pid), port)
        }
        self.stale_pid_files = [port for port in recorded if port not in wanted]
        return errors

    def plan_network(self):
        """The network's actions and the DHCP/DNS host entries to add or replace."""
        network, actions = self.network, []
        hosts = []
        for node in self.params["nodes"]:
            address = node["address"]
            if node["name"] in self.mine:
                # An existing node keeps its address (warned about when it differs).
                address = self.mine[node["name"]][1].get(ADDRESS_KEY) or address
            hosts.append({"mac": node["mac"], "name": node["hostname"], "ip": address})
        self.hosts = hosts
        self.host_changes = []
        if self.net is None:
            actions += ["defined", "started", "autostart"]
            return actions
        facts = self.net_facts
        errors = []
        for host in hosts:
            dhcp = [entry for entry in facts["dhcp_hosts"] if entry["mac"] == host["mac"] or entry["ip"] == host["ip"]]
            if dhcp != [host]:
                taken = [entry for entry in dhcp if entry["mac"] != host["mac"] and entry["ip"] == host["ip"]]
                if taken:
                    errors.append(
                        f"address {host['ip']} of node {host['name']!r} is that of DHCP host {taken[0]['name']!r} "
                        f"({taken[0]['mac']}) of network {network['name']!r}"
                    )
                    continue
                self.host_changes.append(("dhcp", dhcp, host))
                actions.append(f"dhcp host {host['name']}")
            dns = [entry for entry in facts["dns_hosts"] if entry["ip"] == host["ip"]]
            if dns != [{"ip": host["ip"], "names": [host["name"]]}]:
                self.host_changes.append(("dns", dns, host))
                actions.append(f"dns host {host['name']}")
        if errors:
            self.fail(errors)
        with operation(f"cannot read the state of network {network['name']!r}"):
            if not self.net.isActive():
                actions.append("started")
            if not self.net.autostart():
                actions.append("autostart")
        return actions

    def plan_pool(self):
        if self.pool_obj is None:
            return ["defined", "started", "autostart"]
        actions = []
        with operation(f"cannot read the state of pool {self.pool['name']!r}"):
            if not self.pool_obj.isActive():
                actions.append("started")
            if not self.pool_obj.autostart():
                actions.append("autostart")
        return actions

    def plan_nodes(self):
        create, start, update = [], [], []
        for node in self.params["nodes"]:
            name = node["name"]
            if name not in self.mine:
                create.append(node)
                start.append(name)
                continue
            dom, labels = self.mine[name]
            summary = libvirt_api.domain_summary(dom, labels)
            differences = [
                f"{key} {summary[key]} (not {node[key]})"
                for key in ("vcpus", "memory_mb")
                if summary[key] is not None and summary[key] != node[key]
            ]
            if labels.get(ADDRESS_KEY) and labels[ADDRESS_KEY] != node["address"]:
                differences.append(f"address {labels[ADDRESS_KEY]} (not {node['address']})")
            if differences:
                self.ansible.warn(
                    f"node {name} exists with {', '.join(differences)}; it is left so: remove it to make it anew"
                )
            wanted = {key: value for key, value in node["labels"].items() if key != ADDRESS_KEY}
            if any(labels.get(key) != value for key, value in wanted.items()):
                update.append((dom, {**labels, **wanted}))
            if summary["state"] not in ("running", "idle", "in shutdown"):
                start.append(name)
        return create, start, update

    # -- present: doing it -----------------------------------------------------------------

    def present(self):
        self.preflight()
        net_actions = self.plan_network()
        pool_actions = self.plan_pool()
        create, start, update = self.plan_nodes()
        wanted = [node["name"] for node in self.params["nodes"]]
        unlisted = [
            name for name, (_dom, labels) in self.mine.items() if name not in wanted and not is_autoscaled(labels)
        ]
        if create and shutil.which("cloud-localds") is None:
            self.fail("cloud-localds is missing (it makes the nodes' cloud-init seeds): install cloud-image-utils")
        self.result.update(
            {
                "network": {
                    "name": self.network["name"],
                    "bridge": self.network["bridge"],
                    "cidr": str(self.cidr),
                    "gateway": str(self.gateway),
                    "domain": self.network["domain"],
                    "actions": net_actions,
                },
                "pool": {"name": self.pool["name"], "path": self.pool["path"], "actions": pool_actions},
                "created": [node["name"] for node in create],
                "started": start,
                "updated": [dom.name() for dom, _labels in update],
                "unlisted": unlisted,
                "forwards": self.forward_report(),
            }
        )
        self.result["changed"] = self.changed()
        if self.check_mode or not self.result["changed"]:
            self.exit(nodes=self.node_report())
        self.applying = True
        self.apply_network(net_actions)
        self.apply_pool(pool_actions)
        for node in create:
            self.create_node(node)
        for dom, labels in update:
            libvirt_api.set_domain_labels(dom, labels)
        self.start_nodes(start)
        self.apply_forwards()
        self.mine = {
            dom.name(): (dom, labels) for dom, labels in libvirt_api.event_domains(self.conn, self.params["event"])
        }
        self.exit(nodes=self.node_report())

    def node_report(self):
        order = {node["name"]: index for index, node in enumerate(self.params["nodes"])}
        names = sorted(self.mine, key=lambda name: (order.get(name, len(order)), name))
        return [libvirt_api.domain_summary(*self.mine[name]) for name in names]

    def apply_network(self, actions):
        libvirt = libvirt_api.load()
        network = self.network
        name = network["name"]
        if self.net is None:
            xml = libvirt_api.network_xml(name, network["bridge"], str(self.cidr), network["domain"], self.hosts)
            with operation(f"cannot define network {name!r}"):
                self.net = self.conn.networkDefineXML(xml)
        for kind, old_entries, host in self.host_changes:
            flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
            if self.net.isActive():
                flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
            if kind == "dhcp":
                section = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
                old = [libvirt_api.dhcp_host_xml(entry) for entry in old_entries]
                new = libvirt_api.dhcp_host_xml(host)
            else:
                section = libvirt.VIR_NETWORK_SECTION_DNS_HOST
                old = [
                    libvirt_api.dns_host_xml({"ip": entry["ip"], "name": entry["names"][0]})
                    for entry in old_entries
                    if entry["names"]
                ]
                new = libvirt_api.dns_host_xml(host)
            with operation(f"cannot update the {kind} host {host['name']!r} of network {name!r}"):
                for entry in old:
                    self.net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, section, -1, entry, flags)
                self.net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, section, -1, new, flags)
        if "started" in actions:
            with operation(f"cannot start network {name!r}"):
                self.net.create()
        if "autostart" in actions:
            with operation(f"cannot set network {name!r} to start with libvirtd"):
                self.net.setAutostart(1)

    def apply_pool(self, actions):
        pool = self.pool
        name = pool["name"]
        if self.pool_obj is None:
            with operation(f"cannot define pool {name!r} at {pool['path']}"):
                self.pool_obj = self.conn.storagePoolDefineXML(libvirt_api.pool_xml(name, pool["path"]), 0)
            with operation(f"cannot build pool {name!r} (make {pool['path']})"):
                self.pool_obj.build(0)
        if "started" in actions:
            if not os.path.isdir(pool["path"]):
                with operation(f"cannot build pool {name!r} (make {pool['path']})"):
                    self.pool_obj.build(0)
            with operation(f"cannot start pool {name!r}"):
                self.pool_obj.create(0)
        if "autostart" in actions:
            with operation(f"cannot set pool {name!r} to start with libvirtd"):
                self.pool_obj.setAutostart(1)
        with operation(f"cannot refresh pool {name!r}"):
            self.pool_obj.refresh(0)

    def create_node(self, node):
        """The node's disk, seed and domain; volumes left by an interrupted run are made anew."""
        name, pool, params = node["name"], self.pool_obj, self.params
        disk_name, seed_name = f"{name}.qcow2", f"{name}-seed.iso"
        for leftover in (disk_name, seed_name):
            vol = libvirt_api.lookup_volume(pool, leftover)
            if vol is not None:
                libvirt_api.delete_volume(vol)
        image = params["image"]
        xml = libvirt_api.overlay_volume_xml(disk_name, node["disk_gb"], image, libvirt_api.image_format(image))
        libvirt_api.create_volume(pool, xml, disk_name)
        seed = libvirt_api.seed_image(
            node["user_data"], libvirt_api.meta_data(name, node["hostname"]), libvirt_api.network_config(node["mac"])
        )
        vol = libvirt_api.create_volume(pool, libvirt_api.raw_volume_xml(seed_name, len(seed)), seed_name)
        libvirt_api.upload_volume(self.conn, vol, seed)
        kernel = params["boot"] == "kernel"
        xml = libvirt_api.domain_xml(
            name=name,
            labels=node["labels"],
            vcpus=node["vcpus"],
            memory_mb=node["memory_mb"],
            pool=self.pool["name"],
            disk_volume=disk_name,
            seed_volume=seed_name,
            network=self.network["name"],
            mac=node["mac"],
            domain_type=params["domain_type"],
            kernel=params["kernel"] if kernel else None,
            initrd=params["initrd"] if kernel else None,
            cmdline=params["cmdline"],
        )
        with operation(f"cannot define domain {name!r}"):
            dom = self.conn.defineXML(xml)
        self.mine[name] = (dom, node["labels"])

    def start_nodes(self, names):
        libvirt = libvirt_api.load()
        for name in names:
            dom = self.mine[name][0]
            with operation(f"cannot start domain {name!r}"):
                if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
                    dom.resume()
                elif not dom.isActive():
                    dom.create()

    # -- forwards --------------------------------------------------------------------------

    def forward_report(self):
        report = []
        for forward in self.params["forwards"]:
            action, pid = self.forward_state[forward["port"]]
            report.append({**forward, "pid": pid, "action": action})
        for port, pid in self.stale_forwarders.items():
            report.append({"port": port, "pid": pid, "action": "stopped"})
        return report

    def ensure_state_dir(self):
        state_dir = self.params["state_dir"]
        if not os.path.isdir(state_dir):
            os.makedirs(state_dir, mode=0o700)
        if os.stat(state_dir).st_mode & 0o077:
            os.chmod(state_dir, 0o700)

    def apply_forwards(self):
        state_dir = self.params["state_dir"]
        for port, pid in self.stale_forwarders.items():
            if not stop_process(pid):
                self.fail(f"cannot stop the forwarder of port {port} (pid {pid})")
        for port in self.stale_pid_files:
            for suffix in ("pid", "log"):
                with_suffix = os.path.join(state_dir, f"forward-{port}.{suffix}")
                if os.path.exists(with_suffix):
                    os.unlink(with_suffix)
        report = {item["port"]: item for item in self.result["forwards"]}
        for forward in self.params["forwards"]:
            port = forward["port"]
            action, pid = self.forward_state[port]
            if action == "running":
                continue
            if pid and not stop_process(pid):
                self.fail(f"cannot stop the old forwarder of port {port} (pid {pid})")
            report[port]["pid"] = self.start_forwarder(forward)

    def start_forwarder(self, forward):
        self.ensure_state_dir()
        port = forward["port"]
        path = pid_file(self.params["state_dir"], port)
        log_path = os.path.join(self.params["state_dir"], f"forward-{port}.log")
        pid = spawn(forward_argv(forward), shutil.which("socat"), log_path)
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(f"{pid}\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
        end = time.monotonic() + FORWARD_START_TIMEOUT
        bind = ipaddress.ip_address(forward["bind_address"])
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                os.unlink(path)
                with open(log_path, encoding="utf-8", errors="replace") as handle:
                    last = (handle.read().strip().splitlines() or ["no message"])[-1]
                self.fail(f"the forwarder of {forward['bind_address']}:{port} stopped at once: {last}")
            if any(address == bind or address.is_unspecified for address in listeners(port)):
                return pid
            time.sleep(0.1)
        return pid

    # -- absent ----------------------------------------------------------------------------

    def absent(self):
        event = self.params["event"]
        pool_name, network_name = self.pool["name"], self.network["name"]
        found = self.find_event()
        removed = {key: list(value) for key, value in found.items()}
        self.result["removed"] = removed
        self.result["changed"] = any(removed.values())
        if self.check_mode or not self.result["changed"]:
            self.exit(left={key: [] for key in found} if self.check_mode else found)
        self.applying = True
        removed["volumes"] = []
        pool = libvirt_api.lookup(self.conn, "pool", pool_name)
        if pool is not None and not pool.isActive():
            # Started to delete its volumes; a pool whose directory is gone cannot start and has none.
            with contextlib.suppress(libvirt_api.load().libvirtError):
                pool.create(0)
        if pool is not None and pool.isActive():
            with operation(f"cannot refresh pool {pool_name!r}"):
                pool.refresh(0)
        # Log files are this machine's only when the daemon is: a remote host keeps its own.
        local = libvirt_api.is_local(self.params["uri"])
        for dom, _labels in libvirt_api.event_domains(self.conn, event):
            name = dom.name()
            with operation(f"cannot read the XML of domain {name!r}"):
                logs = libvirt_api.domain_xml_summary(dom.XMLDesc(0))["logs"]
            removed["volumes"] += libvirt_api.remove_domain(self.conn, dom, pool_name)
            for path in libvirt_api.domain_log_files(name, logs) if local else []:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        if pool is not None and pool.isActive():
            with operation(f"cannot list the volumes of pool {pool_name!r}"):
                pool.refresh(0)
                volumes = pool.listAllVolumes(0)
            for vol in volumes:
                libvirt_api.delete_volume(vol)
                removed["volumes"].append(vol.name())
            with operation(f"cannot stop pool {pool_name!r}"):
                pool.destroy()
            with operation(f"cannot delete the directory of pool {pool_name!r}"):
                pool.delete(0)
        if pool is not None:
            with operation(f"cannot undefine pool {pool_name!r}"):
                pool.undefine()
        net = libvirt_api.lookup(self.conn, "network", network_name)
        if net is not None:
            if net.isActive():
                with operation(f"cannot stop network {network_name!r}"):
                    net.destroy()
            with operation(f"cannot undefine network {network_name!r}"):
                net.undefine()
        self.remove_forwarders(found["forwards"])
        self.exit(left=self.find_event())

    def find_event(self):
        """What of the event there is, by kind (the keys of ``removed``)."""
        event = self.params["event"]
        domains = [dom.name() for dom, _labels in libvirt_api.event_domains(self.conn, event)]
        pool = libvirt_api.lookup(self.conn, "pool", self.pool["name"])
        volumes = []
        if pool is not None and pool.isActive():
            with operation(f"cannot list the volumes of pool {self.pool['name']!r}"):
                pool.refresh(0)
                volumes = sorted(vol.name() for vol in pool.listAllVolumes(0))
        net = libvirt_api.lookup(self.conn, "network", self.network["name"])
        forwards = sorted(recorded_forwarders(self.params["state_dir"]))
        return {
            "domains": domains,
            "volumes": volumes,
            "pools": [self.pool["name"]] if pool is not None else [],
            "networks": [self.network["name"]] if net is not None else [],
            "forwards": forwards,
        }

    def remove_forwarders(self, ports):
        state_dir = self.params["state_dir"]
        for port in ports:
            path = pid_file(state_dir, port)
            pid = read_pid(path)
            if pid and is_forwarder(process_argv(pid), port) and not stop_process(pid):
                self.fail(f"cannot stop the forwarder of port {port} (pid {pid})")
            for leftover in (path, os.path.join(state_dir, f"forward-{port}.log")):
                if os.path.exists(leftover):
                    os.unlink(leftover)


def main():
    EventNodes()()


if __name__ == "__main__":
    main()
