# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event file of a training event: reading, validation and the normalized event.

An event is described by ``events/<name>.yml`` (docs/event-file.md). ``load_event`` reads
one and ``validate_event`` checks data already read; both return ``(event, errors)``:
the normalized event (every key with its default filled in, dates as ``YYYY-MM-DD``,
derived keys added) and a list of one-line error messages, each prefixed with the file.
``event`` is ``None`` exactly when there are errors. Warnings (settings that are allowed
but risky) are appended to the list passed as ``warnings=``.

Plain Python on purpose, so that modules, plugins and tests can all use it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import math
import os
import re
import traceback

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

# The event name rule (docs/contracts.md) lives with the other shared names.
from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    EVENT_NAME_RE,
    EVENT_NAME_RULE,
    USER_NAME_RE,
    USER_NAME_RULE,
    docker_names,
    node_labels,
    openstack_names,
    resource_labels,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.globus import (
    DOMAIN_RE,
    DOMAIN_RULE,
    identity_error,
)

# A host-name label: a letter first, then letters, digits and "-", not ending with "-".
HOST_LABEL_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
HOST_LABEL_RULE = "a host-name label (lower-case letters, digits and '-', starting with a letter, not ending with '-')"
POSIX_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]*$")
POSIX_NAME_RULE = "a user name (lower-case letters, digits, '_' and '-', not starting with a digit or '-')"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EESSI_VERSION_RE = re.compile(r"^\d{4}\.\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

PROVIDERS = ("docker", "openstack")
NODE_ROLES = ("mgmt", "login", "compute")
MAX_HOST_NAME = 63
MAX_COMPUTE = 999
MAX_GUESTS = 1000
MAX_GUEST_PREFIX = 20
MAX_USER_NAME = 32
GENERATE_KEY = "generate"
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
# The account that check.yml's jobs run as on every node, with a Slurm account of its own
# (never an attendee's), and the IDs the collection keeps for itself: that account, the
# attendees' group (9000) and the instructors (9001 on), apart from the guests' UIDs.
CHECK_ACCOUNT = "learnhpc-check"
CHECK_UID = 8999
RESERVED_IDS = range(CHECK_UID, 10000)
# Accounts the nodes have already, or that the services of the cluster use.
RESERVED_USER_NAMES = frozenset(
    (
        "root", "daemon", "bin", "sys", "nobody", "debian", "slurm", "munge", "jupyterhub", "ldap", "cvmfs",
        "slurmrestd", CHECK_ACCOUNT,
    )
)  # fmt: skip

TOP_KEYS = (
    "name",
    "description",
    "provider",
    "start_date",
    "end_date",
    "nodes",
    "docker",
    "openstack",
    "accounts",
    "budget",
    "software",
    "services",
    "jupyterhub",
    "autoscale",
    "globus",
)
# nodes.dtn: only with globus.node dtn (a node of its own for the Globus endpoint).
NODES_KEYS = ("mgmt", "login", "compute", "dtn")
NODE_KEYS = ("name", "flavor")
COMPUTE_KEYS = ("count", "max_count", "prefix", "flavor")
DOCKER_KEYS = ("image", "ssh_port", "https_port", "bind_address", "node_cpus", "node_memory_mb", "rest_port")
OPENSTACK_KEYS = (
    "cloud",
    "image",
    "flavors",
    "network_cidr",
    "external_network",
    "allowed_cidrs",
    "ssh_user",
    "key_name",
    "shared_storage",
)
# openstack.shared_storage: nfs, the mgmt node exports /home, /project and /scratch; site,
# the image or the site mounts them on every node (CephFS, Lustre, Manila...), and the
# playbooks only check that they are mounted and shared.
SHARED_STORAGE = ("nfs", "site")
FLAVORS_KEYS = ("mgmt", "login", "compute")
ACCOUNTS_KEYS = ("guests", "prefix", "instructors", "grace_days", "uid_start")
INSTRUCTOR_KEYS = ("name", "ssh_key", "email")
BUDGET_KEYS = ("core_hours_per_guest",)
SOFTWARE_KEYS = ("eessi", "eessi_version", "cvmfs_proxy")
SERVICES_KEYS = ("jupyterhub", "globus", "slurm_rest")
JUPYTERHUB_KEYS = ("cpus", "memory_gb", "hours", "idle_minutes")
AUTOSCALE_KEYS = ("suspend_minutes", "resume_timeout_minutes", "reconcile_minutes")
GLOBUS_KEYS = (
    "node",
    "display_name",
    "organization",
    "contact_email",
    "owner",
    "domain",
    "credentials_file",
    "agree_to_letsencrypt_tos",
)
# Where the Globus endpoint runs: the login node, or a data transfer node of its own.
GLOBUS_NODES = ("login", "dtn")

DEFAULTS = {
    "description": "",
    "provider": "docker",
    "mgmt_name": "mgmt",
    "login_name": "login",
    "compute_count": 2,
    "compute_prefix": "compute",
    "docker_image": "learnhpc/node:12",
    "ssh_port": 2222,
    "https_port": 8443,
    # The job gateway's HTTPS port (services.slurm_rest), published only when it is on.
    "rest_port": 6820,
    "bind_address": "127.0.0.1",
    "network_cidr": "10.42.0.0/24",
    "ssh_user": "debian",
    "guests": 3,
    "guest_prefix": "guest",
    "grace_days": 0,
    "uid_start": 10001,
    "eessi_version": "2023.06",
    # The most a notebook server (a Slurm job) may ask for, and when the idle ones end.
    "jupyterhub_cpus": 2,
    "jupyterhub_memory_gb": 2,
    "jupyterhub_hours": 8,
    "jupyterhub_idle_minutes": 60,
    # Compute nodes above nodes.compute.count: removed after this long without a job, and
    # given this long from their creation to join Slurm (a VM boots and installs more slowly
    # than a container starts).
    "autoscale_suspend_minutes": 10,
    "autoscale_resume_timeout_minutes": {"docker": 5, "openstack": 15},
    "autoscale_reconcile_minutes": 2,
    "dtn_name": "dtn",
}
# From this many compute nodes (max_count) on, software.cvmfs_proxy defaults to true.
CVMFS_PROXY_FROM = 4

# Marks a value that failed its check, so that the checks depending on it are skipped.
_BAD = object()


def show(value):
    """A short, one-line rendering of a value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def parse_date(value):
    """A ``datetime.date`` from a YAML date or a ``YYYY-MM-DD`` string, else ``None``."""
    if isinstance(value, datetime.datetime):
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and DATE_RE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def event_name_error(name):
    """Why ``name`` is not a valid event name (docs/contracts.md), or ``None``."""
    if isinstance(name, str) and EVENT_NAME_RE.fullmatch(name):
        return None
    return f"the event name {show(name)} is not valid: use {EVENT_NAME_RULE}"


def compute_width(max_count):
    """Digits of the number in a compute node's name: two, or three when max_count > 99."""
    return 3 if max_count > 99 else 2


def compute_short_name(prefix, index, max_count):
    """Short name of compute node ``index`` (from 1), e.g. ``compute-01``."""
    return f"{prefix}-{index:0{compute_width(max_count)}d}"


def _ssh_key_data_error(key_type, blob):
    try:
        data = base64.b64decode(blob.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "the key data after the type is not valid base64"
    length = int.from_bytes(data[:4], "big") if len(data) >= 4 else -1
    if data[4 : 4 + length] != key_type.encode("ascii"):
        return f"the key data does not hold a {key_type} key (the type inside it differs)"
    return None


def ssh_key_error(key):
    """Why ``key`` is not one OpenSSH public key line ``TYPE BASE64 [COMMENT]``, or ``None``."""
    if not isinstance(key, str):
        return "must be an OpenSSH public key (a string) or 'generate'"
    if "\n" in key.strip() or "\r" in key:
        return "must be one line: a single OpenSSH public key"
    fields = key.split(None, 2)
    if len(fields) < 2:
        return "must be an OpenSSH public key 'TYPE BASE64 [COMMENT]' or 'generate'"
    if fields[0] not in SSH_KEY_TYPES:
        return f"key type {show(fields[0])} is not supported; use one of: {', '.join(SSH_KEY_TYPES)}"
    return _ssh_key_data_error(fields[0], fields[1])


def _join(path, key):
    return f"{path}.{key}" if path else key


class _Checker:
    """Collects one-line errors and warnings, each prefixed with the file."""

    def __init__(self, label):
        self.label = label
        self.errors = []
        self.warnings = []

    def error(self, key, message):
        line = f"{self.label}: {key}: {message}" if key else f"{self.label}: {message}"
        self.errors.append(" ".join(line.splitlines()))

    def warn(self, key, message):
        self.warnings.append(f"{self.label}: {key}: {message}")

    # -- structure ---------------------------------------------------------------------

    def unknown_keys(self, data, path, allowed):
        where = f"in {path}" if path else "at the top level"
        allowed_text = ", ".join(allowed)
        for key in data:
            if key in allowed:
                continue
            if isinstance(key, str):
                self.error(_join(path, key), f"unknown key; the allowed keys {where} are: {allowed_text}")
            else:
                self.error(path, f"unknown key {show(key)}; the allowed keys {where} are: {allowed_text}")

    def section(self, data, key, path, allowed, *, required=False):
        """The mapping at ``data[key]`` ({} when absent or null), checked for unknown keys; _BAD if wrong."""
        full = _join(path, key)
        value = data.get(key)
        if value is None:
            if required:
                self.error(full, "is required")
                return _BAD
            return {}
        if not isinstance(value, dict):
            self.error(full, f"must be a mapping, got {show(value)}")
            return _BAD
        self.unknown_keys(value, full, allowed)
        return value

    # -- scalars -----------------------------------------------------------------------

    def integer(self, data, key, path, *, default=None, minimum=None, maximum=None, nullable=False):
        """An int (not a bool) in [minimum, maximum]; ``default`` when absent or null."""
        value = data.get(key)
        if value is None:
            return None if nullable else default
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and minimum is not None and value < minimum:
            ok = False
        if ok and maximum is not None and value > maximum:
            ok = False
        if ok:
            return value
        if minimum is not None and maximum is not None:
            expected = f"an integer between {minimum} and {maximum}"
        elif minimum is not None:
            expected = f"an integer >= {minimum}"
        else:
            expected = "an integer"
        if nullable:
            expected += " or null"
        self.error(_join(path, key), f"must be {expected}, got {show(value)}")
        return _BAD

    def number(self, data, key, path, *, what=""):
        """A number > 0 (int or float, finite), or null (the default)."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return value
        expected = "a number > 0" + (f" ({what})" if what else "") + " or null"
        self.error(_join(path, key), f"must be {expected}, got {show(value)}")
        return _BAD

    def boolean(self, data, key, path, *, default):
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(_join(path, key), f"must be true or false, got {show(value)}")
        return _BAD

    def string(self, data, key, path, *, default=None, required=False, pattern=None, rule=None):
        """A non-empty string; ``default`` when absent or null, or an error when required."""
        full = _join(path, key)
        value = data.get(key)
        if value is None:
            if required:
                self.error(full, "is required")
                return _BAD
            return default
        if not isinstance(value, str) or not value.strip():
            hint = " (put it in quotes)" if isinstance(value, (int, float, datetime.date)) else ""
            self.error(full, f"must be a non-empty string, got {show(value)}{hint}")
            return _BAD
        if pattern is not None and not pattern.fullmatch(value):
            self.error(full, f"must be {rule}, got {show(value)}")
            return _BAD
        return value

    def date(self, data, key, *, required=False):
        value = data.get(key)
        if value is None:
            if required:
                self.error(key, "is required (the last day of the event, YYYY-MM-DD)")
                return _BAD
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.error(key, f"must be a date YYYY-MM-DD, got {show(value)}")
            return _BAD
        return parsed


# -- top level -----------------------------------------------------------------------------


def _check_top(c, data, name):
    """``(description, provider)``."""
    c.unknown_keys(data, "", TOP_KEYS)
    if "name" in data and data["name"] != name:
        c.error(
            "name", f"must be {name!r}, the name of the file without .yml (or be left out), got {show(data['name'])}"
        )
    description = data.get("description")
    if description is None:
        description = DEFAULTS["description"]
    elif not isinstance(description, str):
        c.error("description", f"must be a string, got {show(description)}")
        description = _BAD
    provider = data.get("provider")
    if provider is None:
        provider = DEFAULTS["provider"]
    elif provider not in PROVIDERS:
        c.error("provider", f"must be one of: {', '.join(PROVIDERS)}, got {show(provider)}")
        provider = _BAD
    return description, provider


def _check_dates(c, data, today, check_dates):
    """``(start_date, end_date)`` as ``datetime.date``, or _BAD."""
    start = c.date(data, "start_date")
    end = c.date(data, "end_date", required=True)
    if end is _BAD:
        return start, end
    if start is not None and start is not _BAD and end < start:
        c.error("end_date", f"{end.isoformat()} is before start_date {start.isoformat()}")
    if check_dates and end < today:
        c.error("end_date", f"{end.isoformat()} is in the past (today is {today.isoformat()})")
    if start is None:
        # An event loaded after its end (to remove it: check_dates false) starts no later than it ends.
        start = min(today, end)
    return start, end


# -- nodes ---------------------------------------------------------------------------------


def _check_max_count(c, section, count):
    key = "nodes.compute.max_count"
    value = section.get("max_count")
    if value is None:
        return count
    if not isinstance(value, int) or isinstance(value, bool):
        c.error(key, f"must be an integer >= nodes.compute.count, got {show(value)}")
        return _BAD
    if count is _BAD:
        return _BAD
    if value < count:
        c.error(key, f"must be an integer >= nodes.compute.count ({count}), got {value}")
        return _BAD
    if value > MAX_COMPUTE:
        c.error(key, f"must be at most {MAX_COMPUTE} (node numbers have at most 3 digits), got {value}")
        return _BAD
    return value


def _check_compute(c, nodes):
    section = c.section(nodes, "compute", "nodes", COMPUTE_KEYS)
    if section is _BAD:
        return _BAD
    count = c.integer(section, "count", "nodes.compute", default=DEFAULTS["compute_count"], minimum=1)
    if count is not _BAD and count > MAX_COMPUTE:
        c.error(
            "nodes.compute.count", f"must be at most {MAX_COMPUTE} (node numbers have at most 3 digits), got {count}"
        )
        count = _BAD
    return {
        "count": count,
        "max_count": _check_max_count(c, section, count),
        "prefix": c.string(
            section,
            "prefix",
            "nodes.compute",
            default=DEFAULTS["compute_prefix"],
            pattern=HOST_LABEL_RE,
            rule=HOST_LABEL_RULE,
        ),
        "flavor": c.string(section, "flavor", "nodes.compute"),
    }


def _check_nodes(c, data, provider):
    nodes = c.section(data, "nodes", "", NODES_KEYS)
    if nodes is _BAD:
        return _BAD
    out = {}
    for role in ("mgmt", "login"):
        section = c.section(nodes, role, "nodes", NODE_KEYS)
        if section is _BAD:
            out[role] = _BAD
            continue
        out[role] = {
            "name": c.string(
                section,
                "name",
                f"nodes.{role}",
                default=DEFAULTS[f"{role}_name"],
                pattern=HOST_LABEL_RE,
                rule=HOST_LABEL_RULE,
            ),
            "flavor": c.string(section, "flavor", f"nodes.{role}"),
        }
    out["compute"] = _check_compute(c, nodes)
    if provider == "docker":
        for role in NODE_ROLES:
            if out[role] is not _BAD and out[role]["flavor"] not in (None, _BAD):
                c.error(f"nodes.{role}.flavor", "is only used with provider openstack; remove it")
    return out


def _check_node_names(c, event_name, nodes):
    """Errors for duplicate and over-long full node names (compute nodes up to max_count)."""
    if nodes is _BAD or any(nodes[role] is _BAD for role in NODE_ROLES):
        return
    mgmt, login, compute = nodes["mgmt"]["name"], nodes["login"]["name"], nodes["compute"]
    if _BAD in (mgmt, login, compute["prefix"], compute["count"], compute["max_count"]):
        return
    entries = [("nodes.mgmt.name", f"{event_name}-{mgmt}"), ("nodes.login.name", f"{event_name}-{login}")]
    entries.extend(
        ("nodes.compute.prefix", f"{event_name}-{compute_short_name(compute['prefix'], i, compute['max_count'])}")
        for i in range(1, compute["max_count"] + 1)
    )
    seen = {}
    longest = {}
    for key, full in entries:
        if full in seen:
            c.error("nodes", f"the node name {full!r} is used twice (by {seen[full]} and by {key})")
        else:
            seen[full] = key
        if len(full) > len(longest.get(key, "")):
            longest[key] = full
    for key, full in longest.items():
        if len(full) > MAX_HOST_NAME:
            c.error(key, f"the node name {full!r} has {len(full)} characters, at most {MAX_HOST_NAME} are allowed")


# -- providers -----------------------------------------------------------------------------


def _check_docker(c, data, provider):
    if provider == "openstack":
        if data.get("docker") is not None:
            c.error("docker", "is only used with provider docker; remove it (or set provider: docker)")
        return None
    docker = c.section(data, "docker", "", DOCKER_KEYS)
    if docker is _BAD:
        return _BAD
    out = {
        "image": c.string(docker, "image", "docker", default=DEFAULTS["docker_image"]),
        "ssh_port": c.integer(docker, "ssh_port", "docker", default=DEFAULTS["ssh_port"], minimum=1, maximum=65535),
        "https_port": c.integer(
            docker, "https_port", "docker", default=DEFAULTS["https_port"], minimum=1, maximum=65535
        ),
        "bind_address": c.string(docker, "bind_address", "docker", default=DEFAULTS["bind_address"]),
        "node_cpus": c.number(docker, "node_cpus", "docker", what="CPUs"),
        "node_memory_mb": c.integer(docker, "node_memory_mb", "docker", minimum=256, nullable=True),
        "rest_port": c.integer(docker, "rest_port", "docker", default=DEFAULTS["rest_port"], minimum=1, maximum=65535),
    }
    if out["ssh_port"] is not _BAD and out["ssh_port"] == out["https_port"]:
        c.error("docker.https_port", f"must differ from docker.ssh_port, both are {out['ssh_port']}")
    if out["bind_address"] is not _BAD:
        try:
            out["bind_address"] = str(ipaddress.ip_address(out["bind_address"]))
        except ValueError:
            c.error("docker.bind_address", f"must be an IP address such as 127.0.0.1, got {show(out['bind_address'])}")
            out["bind_address"] = _BAD
    return out


def _parse_network(value, parse, expected):
    """``(network, problem)``: the network ``value`` names, or why it does not name one."""
    if isinstance(value, str):
        try:
            return parse(value, strict=True), None
        except ValueError:
            pass
        try:
            network = parse(value, strict=False)
        except ValueError:
            pass
        else:
            return None, f"{value!r} has host bits set; the network is {network}"
    return None, f"must be {expected}, got {show(value)}"


def _check_allowed_cidrs(c, openstack):
    key = "openstack.allowed_cidrs"
    value = openstack.get("allowed_cidrs")
    if value is None:
        c.error(key, "is required: the address ranges (CIDRs) that may reach the login node, e.g. [192.0.2.0/24]")
        return _BAD
    if not isinstance(value, list) or not value:
        c.error(key, f"must be a non-empty list of CIDRs such as 192.0.2.0/24, got {show(value)}")
        return _BAD
    out = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        network, problem = _parse_network(item, ipaddress.ip_network, "a CIDR such as 192.0.2.0/24")
        if problem is not None:
            c.error(where, problem)
            out.append(_BAD)
            continue
        if network.prefixlen == 0:
            c.warn(where, f"{network} lets the whole internet reach the login node's SSH and HTTPS ports")
        out.append(str(network))
    return _BAD if _BAD in out else out


def _check_network_cidr(c, openstack):
    key = "openstack.network_cidr"
    cidr = c.string(openstack, "network_cidr", "openstack", default=DEFAULTS["network_cidr"])
    if cidr is _BAD:
        return _BAD
    network, problem = _parse_network(cidr, ipaddress.IPv4Network, "an IPv4 network such as 10.42.0.0/24")
    if problem is None and "/" not in cidr:
        problem = f"must be an IPv4 network with a prefix length, such as {network}, got {show(cidr)}"
    if problem is None and not 16 <= network.prefixlen <= 28:
        problem = f"the prefix length must be between 16 and 28, got /{network.prefixlen}"
    if problem is not None:
        c.error(key, problem)
        return _BAD
    return str(network)


def _check_openstack(c, data, provider):
    if provider is _BAD:
        return None
    if provider != "openstack":
        if data.get("openstack") is not None:
            c.error("openstack", "is only used with provider openstack; remove it (or set provider: openstack)")
        return None
    openstack = c.section(data, "openstack", "", OPENSTACK_KEYS, required=True)
    if openstack is _BAD:
        return _BAD
    flavors = c.section(openstack, "flavors", "openstack", FLAVORS_KEYS, required=True)
    if flavors is not _BAD:
        flavors = {role: c.string(flavors, role, "openstack.flavors", required=True) for role in FLAVORS_KEYS}
    return {
        "cloud": c.string(openstack, "cloud", "openstack", required=True),
        "image": c.string(openstack, "image", "openstack", required=True),
        "flavors": flavors,
        "network_cidr": _check_network_cidr(c, openstack),
        "external_network": c.string(openstack, "external_network", "openstack", required=True),
        "allowed_cidrs": _check_allowed_cidrs(c, openstack),
        "ssh_user": c.string(
            openstack,
            "ssh_user",
            "openstack",
            default=DEFAULTS["ssh_user"],
            pattern=USER_NAME_RE,
            rule=USER_NAME_RULE,
        ),
        "key_name": c.string(openstack, "key_name", "openstack"),
        "shared_storage": _check_shared_storage(c, openstack),
    }


def _check_shared_storage(c, openstack):
    value = openstack.get("shared_storage")
    if value is None:
        return "nfs"
    if value not in SHARED_STORAGE:
        c.error("openstack.shared_storage", f"must be one of: {', '.join(SHARED_STORAGE)}, got {show(value)}")
        return _BAD
    return value


# -- accounts and the rest -----------------------------------------------------------------


def _check_instructor_name(c, item, where, taken, guest_prefix):
    name = c.string(item, "name", where, required=True, pattern=USER_NAME_RE, rule=USER_NAME_RULE)
    if name is _BAD:
        return _BAD
    key = f"{where}.name"
    problem = None
    if len(name) > MAX_USER_NAME:
        problem = f"must be at most {MAX_USER_NAME} characters, got {len(name)}"
    elif name in taken:
        problem = f"{name!r} is used twice (also by accounts.instructors[{taken[name]}])"
    elif guest_prefix is not _BAD and re.fullmatch(rf"{re.escape(guest_prefix)}\d+", name):
        problem = f"{name!r} looks like a guest account (accounts.prefix {guest_prefix!r} and a number); choose another"
    elif name in RESERVED_USER_NAMES:
        problem = f"{name!r} is reserved for the system or a service; choose another name"
    if problem is not None:
        c.error(key, problem)
        return _BAD
    return name


def _check_instructor_key(c, item, where):
    key = f"{where}.ssh_key"
    value = item.get("ssh_key")
    if value is None:
        c.error(key, "is required: an OpenSSH public key, or 'generate'")
        return _BAD
    if value == GENERATE_KEY:
        return value
    problem = ssh_key_error(value)
    if problem is not None:
        c.error(key, f"{problem}, got {show(value)}")
        return _BAD
    return value.strip()


def _check_instructors(c, accounts, guest_prefix):
    key = "accounts.instructors"
    value = accounts.get("instructors")
    if value is None:
        return []
    if not isinstance(value, list):
        c.error(key, f"must be a list of instructors (each with name and ssh_key), got {show(value)}")
        return _BAD
    out = []
    taken = {}
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            c.error(where, f"must be a mapping with name and ssh_key, got {show(item)}")
            out.append(_BAD)
            continue
        c.unknown_keys(item, where, INSTRUCTOR_KEYS)
        name = _check_instructor_name(c, item, where, taken, guest_prefix)
        if name is not _BAD:
            taken[name] = index
        out.append(
            {
                "name": name,
                "ssh_key": _check_instructor_key(c, item, where),
                "email": c.string(
                    item, "email", where, pattern=EMAIL_RE, rule="an e-mail address such as ada@example.org"
                ),
            }
        )
    return out


def _check_accounts(c, data):
    accounts = c.section(data, "accounts", "", ACCOUNTS_KEYS)
    if accounts is _BAD:
        return _BAD
    prefix = c.string(
        accounts,
        "prefix",
        "accounts",
        default=DEFAULTS["guest_prefix"],
        pattern=POSIX_NAME_RE,
        rule=f"the start of {POSIX_NAME_RULE}",
    )
    if prefix is not _BAD and len(prefix) > MAX_GUEST_PREFIX:
        c.error("accounts.prefix", f"must be at most {MAX_GUEST_PREFIX} characters, got {len(prefix)}")
        prefix = _BAD
    guests = c.integer(accounts, "guests", "accounts", default=DEFAULTS["guests"], minimum=1, maximum=MAX_GUESTS)
    uid_start = c.integer(accounts, "uid_start", "accounts", default=DEFAULTS["uid_start"], minimum=1000)
    if guests is not _BAD and uid_start is not _BAD:
        last = uid_start + guests - 1
        if uid_start <= RESERVED_IDS[-1] and last >= RESERVED_IDS[0]:
            c.error(
                "accounts.uid_start",
                f"the guests' UIDs {uid_start}-{last} overlap {RESERVED_IDS[0]}-{RESERVED_IDS[-1]}, which the cluster "
                f"keeps for its check account, the attendees' group and the instructors: start at "
                f"{RESERVED_IDS[-1] + 1} or above, or end below {RESERVED_IDS[0]}",
            )
            uid_start = _BAD
    return {
        "guests": guests,
        "prefix": prefix,
        "instructors": _check_instructors(c, accounts, prefix),
        "grace_days": c.integer(accounts, "grace_days", "accounts", default=DEFAULTS["grace_days"], minimum=0),
        "uid_start": uid_start,
    }


def _check_budget(c, data):
    budget = c.section(data, "budget", "", BUDGET_KEYS)
    if budget is _BAD:
        return _BAD
    return {"core_hours_per_guest": c.number(budget, "core_hours_per_guest", "budget", what="core hours")}


def _check_software(c, data, provider, compute_max):
    software = c.section(data, "software", "", SOFTWARE_KEYS)
    if software is _BAD:
        return _BAD
    version = software.get("eessi_version")
    if isinstance(version, float):
        # YAML reads 2023.06 as the number 2023.06 (and 2023.10 as 2023.1).
        c.error("software.eessi_version", f"must be a string such as '2023.06' (in quotes), got {version!r}")
        version = _BAD
    else:
        version = c.string(
            software,
            "eessi_version",
            "software",
            default=DEFAULTS["eessi_version"],
            pattern=EESSI_VERSION_RE,
            rule="an EESSI version YYYY.MM such as '2023.06'",
        )
    eessi = c.boolean(software, "eessi", "software", default=provider == "openstack")
    proxy = c.boolean(
        software,
        "cvmfs_proxy",
        "software",
        default=eessi is True and compute_max is not _BAD and compute_max >= CVMFS_PROXY_FROM,
    )
    if proxy is True and eessi is False:
        c.error("software.cvmfs_proxy", "needs software.eessi: true (the proxy serves EESSI's CernVM-FS clients)")
        proxy = _BAD
    return {"eessi": eessi, "eessi_version": version, "cvmfs_proxy": proxy}


def _compute_max(nodes):
    """The event's largest number of compute nodes, or _BAD when the nodes did not check out."""
    if nodes is _BAD or nodes["compute"] is _BAD:
        return _BAD
    return _BAD if nodes["compute"]["max_count"] is _BAD else nodes["compute"]["max_count"]


def _check_services(c, data):
    services = c.section(data, "services", "", SERVICES_KEYS)
    if services is _BAD:
        return _BAD
    return {key: c.boolean(services, key, "services", default=False) for key in SERVICES_KEYS}


def _check_jupyterhub(c, data, services):
    """The jupyterhub section: the most a notebook server may ask for, the idle time-out."""
    section = c.section(data, "jupyterhub", "", JUPYTERHUB_KEYS)
    if section is _BAD:
        return _BAD
    if section and services is not _BAD and services["jupyterhub"] is False:
        c.error("jupyterhub", "needs services.jupyterhub: true (these settings are the hub's)")
        return _BAD
    limits = {"cpus": 256, "memory_gb": 4096, "hours": 24 * 14, "idle_minutes": 24 * 60}
    return {
        key: c.integer(section, key, "jupyterhub", default=DEFAULTS["jupyterhub_" + key], minimum=1, maximum=limit)
        for key, limit in limits.items()
    }


def _check_autoscale(c, data, provider, nodes):
    """The autoscale section: how long autoscaled nodes may idle and boot, how often to compare Slurm and provider."""
    section = c.section(data, "autoscale", "", AUTOSCALE_KEYS)
    if section is _BAD:
        return _BAD
    compute = _BAD if nodes is _BAD else nodes["compute"]
    counted = compute is not _BAD and _BAD not in (compute["count"], compute["max_count"])
    if counted and section and compute["max_count"] == compute["count"]:
        c.error(
            "autoscale",
            f"needs nodes.compute.max_count above nodes.compute.count ({compute['count']}):"
            " these settings are for the nodes in between",
        )
        return _BAD
    resume_default = DEFAULTS["autoscale_resume_timeout_minutes"].get(provider, 5)
    return {
        "suspend_minutes": c.integer(
            section,
            "suspend_minutes",
            "autoscale",
            default=DEFAULTS["autoscale_suspend_minutes"],
            minimum=1,
            maximum=7 * 24 * 60,
        ),
        "resume_timeout_minutes": c.integer(
            section, "resume_timeout_minutes", "autoscale", default=resume_default, minimum=1, maximum=120
        ),
        "reconcile_minutes": c.integer(
            section,
            "reconcile_minutes",
            "autoscale",
            default=DEFAULTS["autoscale_reconcile_minutes"],
            minimum=1,
            maximum=60,
        ),
    }


def _check_rest_port(c, docker, services):
    """With services.slurm_rest on the docker provider, the gateway's port is published too."""
    if docker in (None, _BAD) or services is _BAD or services["slurm_rest"] is not True:
        return
    rest = docker["rest_port"]
    for key in ("ssh_port", "https_port"):
        if rest is not _BAD and docker[key] is not _BAD and rest == docker[key]:
            c.error("docker.rest_port", f"must differ from docker.{key}, both are {rest}")


def _check_dtn(c, data, provider):
    """nodes.dtn: the data transfer node's short name and flavor."""
    nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
    section = c.section(nodes, "dtn", "nodes", NODE_KEYS)
    if section is _BAD:
        return _BAD
    dtn = {
        "name": c.string(
            section, "name", "nodes.dtn", default=DEFAULTS["dtn_name"], pattern=HOST_LABEL_RE, rule=HOST_LABEL_RULE
        ),
        "flavor": c.string(section, "flavor", "nodes.dtn"),
    }
    if provider == "docker" and dtn["flavor"] not in (None, _BAD):
        c.error("nodes.dtn.flavor", "is only used with provider openstack; remove it")
    return dtn


def _globus_credentials_file(c, section, label):
    """The credentials file, absolute (relative to the event file's directory), or None."""
    value = c.string(section, "credentials_file", "globus")
    if value in (None, _BAD):
        return value
    path = value if os.path.isabs(value) else os.path.join(os.path.dirname(os.path.abspath(label)), value)
    if not os.path.isfile(path):
        c.error(
            "globus.credentials_file",
            f"no such file: {path} (a YAML file, plain or ansible-vault, with globus_endpoint_client_id and "
            "globus_endpoint_client_secret)",
        )
        return _BAD
    return path


def _check_globus_keys(c, section, event):
    """The endpoint's settings of the globus section."""
    required = {
        "organization": "the organization that runs the endpoint, as Globus shows it",
        "contact_email": "an e-mail address where users reach the endpoint's administrators",
        "domain": f"{DOMAIN_RULE}, whose users may use the endpoint (user@domain is the local user)",
    }
    for key, what in required.items():
        if section.get(key) is None:
            c.error(f"globus.{key}", f"is required: {what}")
    owner = c.string(section, "owner", "globus")
    if owner not in (None, _BAD) and identity_error(owner):
        c.error("globus.owner", f"{identity_error(owner)}, or null for the service credentials' own identity")
        owner = _BAD
    agree = section.get("agree_to_letsencrypt_tos")
    if agree is not True:
        c.error(
            "globus.agree_to_letsencrypt_tos",
            "must be true: the endpoint's certificate comes from Let's Encrypt, whose terms "
            f"(https://letsencrypt.org/repository/) you agree to by setting it, got {show(agree)}",
        )
    description = event["description"] if event["description"] is not _BAD else ""
    return {
        "display_name": c.string(section, "display_name", "globus", default=description or event["name"]),
        "organization": c.string(section, "organization", "globus") or _BAD,
        "contact_email": c.string(
            section, "contact_email", "globus", pattern=EMAIL_RE, rule="an e-mail address such as hpc@example.org"
        )
        or _BAD,
        "owner": owner,
        "domain": c.string(section, "domain", "globus", pattern=DOMAIN_RE, rule=DOMAIN_RULE) or _BAD,
        "agree_to_letsencrypt_tos": True if agree is True else _BAD,
    }


def _check_globus(c, data, event, label):
    """``(globus, dtn)``: the globus section (None when services.globus is off) and nodes.dtn (or None)."""
    section = c.section(data, "globus", "", GLOBUS_KEYS)
    services = event["services"]
    has_dtn = isinstance(data.get("nodes"), dict) and data["nodes"].get("dtn") is not None
    if section is _BAD or services is _BAD:
        return _BAD, None
    if services["globus"] is not True:
        if section:
            c.error("globus", "needs services.globus: true (these settings are the Globus endpoint's)")
        if has_dtn:
            c.error("nodes.dtn", "is only used with services.globus: true and globus.node: dtn")
        return (None if not (section or has_dtn) else _BAD), None
    jupyterhub = services["jupyterhub"] is True
    node = section.get("node")
    if node is None:
        node = "dtn" if jupyterhub else "login"
    elif node not in GLOBUS_NODES:
        c.error("globus.node", f"must be one of: {', '.join(GLOBUS_NODES)}, got {show(node)}")
        node = _BAD
    elif node == "login" and jupyterhub:
        c.error(
            "globus.node",
            "login cannot hold the Globus endpoint while services.jupyterhub is on: both need the login node's "
            "port 443; use dtn (a node of its own, the default then)",
        )
        node = _BAD
    dtn = None
    if node == "dtn":
        dtn = _check_dtn(c, data, event["provider"])
    elif has_dtn:
        c.error("nodes.dtn", "is only used with globus.node: dtn")
    out = {"node": node}
    out.update(_check_globus_keys(c, section, event))
    out["credentials_file"] = _globus_credentials_file(c, section, label)
    return out, dtn


def _check_dtn_name(c, event_name, nodes, dtn):
    """The data transfer node's full name must be new and short enough."""
    if nodes is _BAD or dtn in (None, _BAD) or dtn["name"] is _BAD:
        return
    if any(nodes[role] is _BAD for role in NODE_ROLES):
        return
    full = f"{event_name}-{dtn['name']}"
    compute = nodes["compute"]
    taken = [f"{event_name}-{nodes[role]['name']}" for role in ("mgmt", "login") if nodes[role]["name"] is not _BAD]
    if _BAD not in (compute["prefix"], compute["max_count"]):
        taken.extend(
            f"{event_name}-{compute_short_name(compute['prefix'], i, compute['max_count'])}"
            for i in range(1, compute["max_count"] + 1)
        )
    if full in taken:
        c.error("nodes.dtn.name", f"the node name {full!r} is taken by another node of the event")
    if len(full) > MAX_HOST_NAME:
        c.error(
            "nodes.dtn.name", f"the node name {full!r} has {len(full)} characters, at most {MAX_HOST_NAME} are allowed"
        )


def _place_globus(c, event, nodes, dtn):
    """The Globus endpoint's node: nodes.dtn (its flavor that of the login node unless given), node_name, warnings."""
    globus = event["globus"]
    if not globus:
        return
    if dtn is not None:
        nodes["dtn"] = dtn
        if event["provider"] == "openstack" and dtn["flavor"] is None:
            dtn["flavor"] = event["openstack"]["flavors"]["login"]
    node = nodes[globus["node"]]["name"]
    globus["node_name"] = f"{event['name']}-{node}"
    if event["provider"] == "openstack":
        c.warn(
            "globus",
            f"TCP 443 and 50000-51000 of {event['name']}-{node} are open to the whole internet: Globus's services "
            "and other endpoints connect from anywhere",
        )
    else:
        c.warn(
            "globus",
            "the docker provider publishes no Globus data ports (50000-51000), and port 443 only on "
            "docker.bind_address: the endpoint is set up, but Globus cannot reach it for transfers",
        )


def _contains_bad(value):
    if value is _BAD:
        return True
    if isinstance(value, dict):
        return any(_contains_bad(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_bad(v) for v in value)
    return False


def _derived(name, nodes, end, grace_days):
    """The derived keys: nodes_list, compute_names, autoscale_names, expires, check_account."""
    compute = nodes["compute"]
    compute_short = [
        compute_short_name(compute["prefix"], i, compute["max_count"]) for i in range(1, compute["count"] + 1)
    ]
    autoscale_short = [
        compute_short_name(compute["prefix"], i, compute["max_count"])
        for i in range(compute["count"] + 1, compute["max_count"] + 1)
    ]
    nodes_list = [
        {"name": f"{name}-{nodes[role]['name']}", "short": nodes[role]["name"], "roles": [role]}
        for role in ("mgmt", "login")
    ]
    nodes_list.extend({"name": f"{name}-{short}", "short": short, "roles": ["compute"]} for short in compute_short)
    if "dtn" in nodes:
        nodes_list.append({"name": f"{name}-{nodes['dtn']['name']}", "short": nodes["dtn"]["name"], "roles": ["dtn"]})
    return {
        "nodes_list": nodes_list,
        "compute_names": [f"{name}-{short}" for short in compute_short],
        # Compute nodes that Slurm creates when jobs need them and removes when idle (slurm_autoscale).
        "autoscale_names": [f"{name}-{short}" for short in autoscale_short],
        "expires": (end + datetime.timedelta(days=grace_days)).isoformat(),
        "check_account": {"name": CHECK_ACCOUNT, "uid": CHECK_UID},
    }


def _provider_names(event):
    """The derived keys of the provider (docs/contracts.md), so that no playbook or role builds them:
    ``resources``, the names of what the event has at its provider besides its nodes; ``labels``,
    the labels (metadata on OpenStack) of a compute node (``compute``) and, on Docker, of a network
    or volume (``resource``)."""
    name, provider = event["name"], event["provider"]
    end, expires = event["end_date"], event["expires"]
    if provider == "openstack":
        resources = openstack_names(name)
        ssh_user = event["openstack"]["ssh_user"]
    else:
        resources = docker_names(name)
        ssh_user = None
    labels = {"compute": node_labels(name, ["compute"], end, expires, provider, ssh_user=ssh_user)}
    if provider == "docker":
        labels["resource"] = resource_labels(name, end, provider)
    return {"resources": resources, "labels": labels}


def validate_event(data, name, today=None, *, path=None, check_dates=True, events_dir=None, warnings=None):
    """Check the data of an event file and normalize it.

    ``data``: what the YAML file holds; ``name``: the event name (the file's stem);
    ``today``: a ``datetime.date`` or ``YYYY-MM-DD`` string (default: the current date);
    ``path``: the event file, the prefix of every message (default ``events/<name>.yml``)
    and, made absolute, ``file`` in the event; ``check_dates``: whether an ``end_date`` in
    the past is an error; ``events_dir``: the directory of the event files, for
    ``state_dir`` (default: the directory of ``path``); ``warnings``: a list the warnings
    are appended to.

    Returns ``(event, errors)``: the normalized event (``None`` when there are errors) and
    the list of one-line errors.
    """
    label = path if path is not None else os.path.join("events", f"{name}.yml")
    c = _Checker(label)
    today_date = parse_date(today) if today is not None else datetime.date.today()
    if today_date is None:
        raise ValueError(f"today must be a date YYYY-MM-DD, got {today!r}")

    problem = event_name_error(name)
    if problem is not None:
        c.error("", problem)
    if not isinstance(data, dict):
        what = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        c.error("", f"the file must hold a mapping of settings (see docs/event-file.md), got {what}")
        return _finish(c, None, warnings)

    description, provider = _check_top(c, data, name)
    start, end = _check_dates(c, data, today_date, check_dates)
    nodes = _check_nodes(c, data, provider)
    if problem is None:
        _check_node_names(c, name, nodes)
    event = {
        "name": name,
        "description": description,
        "provider": provider,
        "start_date": start,
        "end_date": end,
        "nodes": nodes,
        "docker": _check_docker(c, data, provider),
        "openstack": _check_openstack(c, data, provider),
        "accounts": _check_accounts(c, data),
        "budget": _check_budget(c, data),
        "software": _check_software(c, data, provider, _compute_max(nodes)),
        "services": _check_services(c, data),
    }
    event["jupyterhub"] = _check_jupyterhub(c, data, event["services"])
    event["autoscale"] = _check_autoscale(c, data, provider, nodes)
    _check_rest_port(c, event["docker"], event["services"])
    event["globus"], dtn = _check_globus(c, data, event, label)
    if problem is None:
        _check_dtn_name(c, name, nodes, dtn)
    if c.errors:
        return _finish(c, None, warnings)
    if _contains_bad(event):  # pragma: no cover - every _BAD comes with an error
        raise AssertionError("an invalid value without an error message")

    if provider == "openstack":
        for role in NODE_ROLES:
            if nodes[role]["flavor"] is None:
                nodes[role]["flavor"] = event["openstack"]["flavors"][role]
    _place_globus(c, event, nodes, dtn)
    event.update(_derived(name, nodes, end, event["accounts"]["grace_days"]))
    event["start_date"] = start.isoformat()
    event["end_date"] = end.isoformat()
    event.update(_provider_names(event))
    event["file"] = os.path.abspath(label)
    directory = os.path.abspath(events_dir) if events_dir is not None else os.path.dirname(event["file"])
    event["state_dir"] = os.path.join(directory, ".state", name)
    return _finish(c, event, warnings)


def _finish(c, event, warnings):
    if warnings is not None:
        warnings.extend(c.warnings)
    return (None if c.errors else event), c.errors


# -- files ---------------------------------------------------------------------------------


def display_path(path):
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    return absolute


def list_events(events_dir):
    """The names of the events in ``events_dir``: valid event names with a ``.yml`` file, sorted."""
    try:
        entries = os.listdir(events_dir)
    except OSError:
        return []
    names = []
    for entry in entries:
        stem, ext = os.path.splitext(entry)
        if ext == ".yml" and EVENT_NAME_RE.fullmatch(stem) and os.path.isfile(os.path.join(events_dir, entry)):
            names.append(stem)
    return sorted(names)


def _loader_class():
    class UniqueKeyLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """A safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; SafeLoader reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)} (first given on line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    def construct_timestamp(loader, node):
        # An impossible date (2026-02-30) stays a string, so that the check of its key names
        # the file and the key instead of PyYAML's bare "day is out of range for month".
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    return UniqueKeyLoader


def read_yaml(path, label=None):
    """``(data, error)``: the YAML document in ``path``, or a one-line error."""
    label = label if label is not None else display_path(path)
    if not HAS_YAML:
        return None, f"{label}: cannot read the file: the Python library PyYAML is not installed"
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"{label}: cannot read the file: {reason}"
    try:
        return yaml.load(text, Loader=_loader_class()), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        detail = f"{problem} ({context})" if context else problem
        return None, " ".join(f"{label}: {where}not valid YAML: {detail}".split())


def _find_event_file(name, events_dir):
    """``(path, error)`` of event ``name`` in ``events_dir``."""
    problem = event_name_error(name)
    if problem is not None:
        return None, problem
    path = os.path.join(events_dir, f"{name}.yml")
    if os.path.isfile(path):
        return path, None
    shown = os.path.join(display_path(events_dir), "")
    if not os.path.isdir(events_dir):
        return None, f"unknown event {name!r}: the events directory {shown} does not exist"
    known = list_events(events_dir)
    if known:
        return None, f"unknown event {name!r}: the events in {shown} are {', '.join(known)}"
    return None, f"unknown event {name!r}: there are none in {shown}"


def load_event(path=None, *, name=None, events_dir=None, today=None, check_dates=True, warnings=None):
    """Read and validate an event file.

    Give either ``path`` (the event name is then the file's stem; ``events_dir`` defaults to
    its directory) or ``name`` and ``events_dir`` (the file is ``<events_dir>/<name>.yml``).
    The other arguments are those of ``validate_event``. Returns ``(event, errors)``.
    """
    if path is None:
        if name is None or events_dir is None:
            raise ValueError("load_event needs path, or name and events_dir")
        path, error = _find_event_file(name, events_dir)
        if error is not None:
            return None, [error]
    else:
        stem, ext = os.path.splitext(os.path.basename(path))
        if name is None:
            name = stem
            if event_name_error(name) is not None or ext != ".yml":
                rule = f"<event>.yml, <event> being {EVENT_NAME_RULE}"
                return None, [f"{display_path(path)}: an event file must be named {rule}"]
        if events_dir is None:
            events_dir = os.path.dirname(os.path.abspath(path))
    label = display_path(path)
    data, error = read_yaml(path, label)
    if error is not None:
        return None, [error]
    if not isinstance(data, dict):
        what = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        return None, [f"{label}: the file must hold a mapping of settings (see docs/event-file.md), got {what}"]
    return validate_event(
        data, name, today, path=label, check_dates=check_dates, events_dir=events_dir, warnings=warnings
    )
