# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of the event file across keys, and the keys derived from the others.

``check_event`` checks the sections in the order of the file (event_checker.py checks each
key against the table of event_keys.py) and what one key says about another: node names that
must differ, a section that needs a service, a default that follows another key.
``complete_event`` then fills in a valid event's derived keys (docs/event-file.md, "For
playbook authors"; docs/contracts.md).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    HOST_NAME_MAX,
    NODE_ROLES,
    docker_names,
    libvirt_default_cidr,
    libvirt_names,
    node_labels,
    openstack_names,
    resource_labels,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_checker import (
    BAD,
    check_key,
    check_keys,
    section,
    show,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_keys import MAX_COMPUTE, keys_in

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
# From this many compute nodes (max_count) on, software.cvmfs_proxy defaults to true.
CVMFS_PROXY_FROM = 4
# The nodes every event has; a data transfer node only with globus.node: dtn.
STATIC_ROLES = tuple(role for role in NODE_ROLES if role != "dtn")


def compute_short_name(prefix, index, max_count):
    """Short name of compute node ``index`` (from 1), e.g. ``compute-01``: three digits when max_count > 99."""
    return f"{prefix}-{index:0{3 if max_count > 99 else 2}d}"


def check_event(c, data, name, today, *, check_dates, name_ok):
    """The event of the mapping ``data``, every key checked; BAD where a value is wrong.

    ``name_ok``: whether ``name`` is a valid event name (the node names are checked only then).
    """
    c.unknown_keys(data, "", keys_in(""))
    if "name" in data and data["name"] != name:
        c.error(
            "name", f"must be {name!r}, the name of the file without .yml (or be left out), got {show(data['name'])}"
        )
    event = {"name": name, "description": check_key(c, data, "description")}
    event["provider"] = provider = check_key(c, data, "provider")
    event["start_date"], event["end_date"] = _check_dates(c, data, today, check_dates)
    event["nodes"] = nodes = _check_nodes(c, data, provider)
    if name_ok:
        _check_node_names(c, name, nodes)
    event["docker"] = _check_ports(c, data, "docker", provider)
    event["openstack"] = check_key(c, data, "openstack", provider)
    event["libvirt"] = _check_ports(c, data, "libvirt", provider)
    event["accounts"] = _check_accounts(c, data)
    event["budget"] = check_key(c, data, "budget")
    event["software"] = _check_software(c, data, provider, nodes)
    event["services"] = services = check_key(c, data, "services")
    event["jupyterhub"] = _check_jupyterhub(c, data, services)
    event["autoscale"] = _check_autoscale(c, data, provider, nodes)
    _check_rest_port(c, event, services)
    event["globus"] = _check_globus(c, data, event)
    if name_ok:
        _check_dtn_name(c, name, nodes)
    return event


def _check_dates(c, data, today, check_dates):
    """``(start_date, end_date)`` as ``datetime.date``, or BAD."""
    start = check_key(c, data, "start_date")
    end = check_key(c, data, "end_date")
    if end is BAD:
        return start, end
    if start not in (None, BAD) and end < start:
        c.error("end_date", f"{end.isoformat()} is before start_date {start.isoformat()}")
    if check_dates and end < today:
        c.error("end_date", f"{end.isoformat()} is in the past (today is {today.isoformat()})")
    # An event loaded after its end (to remove it: check_dates false) starts no later than it ends.
    return (min(today, end) if start is None else start), end


# -- nodes ---------------------------------------------------------------------------------


def _check_nodes(c, data, provider):
    """The mgmt, login and compute nodes; nodes.dtn is checked with the globus section."""
    nodes = section(c, data, "nodes")
    if nodes is BAD:
        return BAD
    out = {role: check_key(c, nodes, f"nodes.{role}", provider) for role in STATIC_ROLES}
    if out["compute"] is not BAD:
        _check_compute_counts(c, out["compute"])
        compute = out["compute"]
        counted = BAD not in (compute["count"], compute["max_count"])
        if provider == "libvirt" and counted and compute["max_count"] > compute["count"]:
            compute["max_count"] = c.fail(
                "nodes.compute.max_count",
                f"must equal nodes.compute.count ({compute['count']}) with provider libvirt, got "
                f"{compute['max_count']}: autoscaling is not available there yet",
            )
    return out


def _check_compute_counts(c, compute):
    """count and max_count: at most MAX_COMPUTE; max_count from count up, count when not given."""
    count, max_count = compute["count"], compute["max_count"]
    too_many = f"must be at most {MAX_COMPUTE} (node numbers have at most 3 digits), got"
    if count is not BAD and count > MAX_COMPUTE:
        count = compute["count"] = c.fail("nodes.compute.count", f"{too_many} {count}")
    if max_count is None:
        compute["max_count"] = count
    elif max_count is BAD or count is BAD:
        compute["max_count"] = BAD
    elif max_count < count:
        compute["max_count"] = c.fail(
            "nodes.compute.max_count", f"must be an integer >= nodes.compute.count ({count}), got {max_count}"
        )
    elif max_count > MAX_COMPUTE:
        compute["max_count"] = c.fail("nodes.compute.max_count", f"{too_many} {max_count}")


def _compute(nodes):
    """The compute nodes' settings, BAD when they (or the nodes) did not check out."""
    return BAD if nodes is BAD else nodes["compute"]


def _static_nodes_ok(nodes):
    return nodes is not BAD and all(nodes[role] is not BAD for role in STATIC_ROLES)


def _node_names(event_name, nodes):
    """``(key, full name)`` of the mgmt, login and compute nodes (up to max_count) whose names checked out."""
    names = [
        (f"nodes.{role}.name", f"{event_name}-{nodes[role]['name']}")
        for role in ("mgmt", "login")
        if nodes[role]["name"] is not BAD
    ]
    compute = nodes["compute"]
    if BAD not in (compute["prefix"], compute["max_count"]):
        names.extend(
            ("nodes.compute.prefix", f"{event_name}-{compute_short_name(compute['prefix'], i, compute['max_count'])}")
            for i in range(1, compute["max_count"] + 1)
        )
    return names


def _too_long(c, key, full):
    if len(full) > HOST_NAME_MAX:
        c.error(key, f"the node name {full!r} has {len(full)} characters, at most {HOST_NAME_MAX} are allowed")


def _check_node_names(c, event_name, nodes):
    """Errors for duplicate and over-long full node names (compute nodes up to max_count)."""
    if not _static_nodes_ok(nodes):
        return
    compute = nodes["compute"]
    if BAD in (nodes["mgmt"]["name"], nodes["login"]["name"], compute["prefix"], compute["max_count"]):
        return
    seen = {}
    longest = {}
    for key, full in _node_names(event_name, nodes):
        if full in seen:
            c.error("nodes", f"the node name {full!r} is used twice (by {seen[full]} and by {key})")
        else:
            seen[full] = key
        if len(full) > len(longest.get(key, "")):
            longest[key] = full
    for key, full in longest.items():
        _too_long(c, key, full)


def _check_dtn_name(c, event_name, nodes):
    """The data transfer node's full name must be new and short enough."""
    if not _static_nodes_ok(nodes) or nodes.get("dtn") in (None, BAD) or nodes["dtn"]["name"] is BAD:
        return
    full = f"{event_name}-{nodes['dtn']['name']}"
    if full in (name for _key, name in _node_names(event_name, nodes)):
        c.error("nodes.dtn.name", f"the node name {full!r} is taken by another node of the event")
    _too_long(c, "nodes.dtn.name", full)


# -- providers, accounts and the rest ------------------------------------------------------


def _check_ports(c, data, section_name, provider):
    """The docker or libvirt section: the ports on this machine that lead to the login node must differ."""
    ports = check_key(c, data, section_name, provider)
    if ports not in (None, BAD) and ports["ssh_port"] is not BAD and ports["ssh_port"] == ports["https_port"]:
        c.error(f"{section_name}.https_port", f"must differ from {section_name}.ssh_port, both are {ports['ssh_port']}")
    return ports


def _check_rest_port(c, event, services):
    """With services.slurm_rest on a provider that forwards ports of this machine (docker, libvirt), the
    gateway's port is one of them too."""
    section_name = event["provider"] if event["provider"] in ("docker", "libvirt") else None
    ports = event.get(section_name) if section_name else None
    if ports in (None, BAD) or services is BAD or services["slurm_rest"] is not True:
        return
    rest = ports["rest_port"]
    for key in ("ssh_port", "https_port"):
        if rest is not BAD and ports[key] is not BAD and rest == ports[key]:
            c.error(f"{section_name}.rest_port", f"must differ from {section_name}.{key}, both are {rest}")


def _check_accounts(c, data):
    accounts = check_key(c, data, "accounts")
    if accounts is BAD:
        return BAD
    guests, uid_start = accounts["guests"], accounts["uid_start"]
    if guests is not BAD and uid_start is not BAD:
        last = uid_start + guests - 1
        if uid_start <= RESERVED_IDS[-1] and last >= RESERVED_IDS[0]:
            accounts["uid_start"] = c.fail(
                "accounts.uid_start",
                f"the guests' UIDs {uid_start}-{last} overlap {RESERVED_IDS[0]}-{RESERVED_IDS[-1]}, which the cluster "
                f"keeps for its check account, the attendees' group and the instructors: start at "
                f"{RESERVED_IDS[-1] + 1} or above, or end below {RESERVED_IDS[0]}",
            )
    if accounts["instructors"] is not BAD:
        _check_instructor_names(c, accounts["instructors"], accounts["prefix"])
    return accounts


def _check_instructor_names(c, instructors, guest_prefix):
    """Instructor names are unique, do not look like a guest's and are not the system's."""
    taken = {}
    for index, instructor in enumerate(instructors):
        name = BAD if instructor is BAD else instructor["name"]
        if name is BAD:
            continue
        problem = None
        if name in taken:
            problem = f"{name!r} is used twice (also by accounts.instructors[{taken[name]}])"
        elif guest_prefix is not BAD and re.fullmatch(rf"{re.escape(guest_prefix)}\d+", name):
            problem = (
                f"{name!r} looks like a guest account (accounts.prefix {guest_prefix!r} and a number); choose another"
            )
        elif name in RESERVED_USER_NAMES:
            problem = f"{name!r} is reserved for the system or a service; choose another name"
        if problem is None:
            taken[name] = index
        else:
            instructor["name"] = c.fail(f"accounts.instructors[{index}].name", problem)


def _check_software(c, data, provider, nodes):
    """cvmfs_proxy needs eessi, and defaults to true for a cluster of CVMFS_PROXY_FROM compute nodes or more."""
    software = check_key(c, data, "software", provider)
    if software is BAD:
        return BAD
    eessi, proxy = software["eessi"], software["cvmfs_proxy"]
    if proxy is None:
        compute_max = BAD if _compute(nodes) is BAD else nodes["compute"]["max_count"]
        software["cvmfs_proxy"] = eessi is True and compute_max is not BAD and compute_max >= CVMFS_PROXY_FROM
    elif proxy is True and eessi is False:
        software["cvmfs_proxy"] = c.fail(
            "software.cvmfs_proxy", "needs software.eessi: true (the proxy serves EESSI's CernVM-FS clients)"
        )
    return software


def _check_jupyterhub(c, data, services):
    """The jupyterhub section: the most a notebook server may ask for, the idle time-out."""
    hub = section(c, data, "jupyterhub")
    if hub is BAD:
        return BAD
    if hub and services is not BAD and services["jupyterhub"] is False:
        return c.fail("jupyterhub", "needs services.jupyterhub: true (these settings are the hub's)")
    return check_keys(c, hub, "jupyterhub")


def _check_autoscale(c, data, provider, nodes):
    """The autoscale section: how long autoscaled nodes may idle and boot, how often to compare Slurm and provider."""
    autoscale = section(c, data, "autoscale")
    if autoscale is BAD:
        return BAD
    compute = _compute(nodes)
    counted = compute is not BAD and BAD not in (compute["count"], compute["max_count"])
    if counted and autoscale and compute["max_count"] == compute["count"]:
        return c.fail(
            "autoscale",
            f"needs nodes.compute.max_count above nodes.compute.count ({compute['count']}):"
            " these settings are for the nodes in between",
        )
    return check_keys(c, autoscale, "autoscale", provider)


# -- globus --------------------------------------------------------------------------------


def _check_globus(c, data, event):
    """The globus section, None when services.globus is off; nodes.dtn goes to the event's nodes when used."""
    globus = section(c, data, "globus")
    services = event["services"]
    nodes = data["nodes"] if isinstance(data.get("nodes"), dict) else {}
    has_dtn = nodes.get("dtn") is not None
    if globus is BAD or services is BAD:
        return BAD
    if services["globus"] is not True:
        if globus:
            c.error("globus", "needs services.globus: true (these settings are the Globus endpoint's)")
        if has_dtn:
            c.error("nodes.dtn", "is only used with services.globus: true and globus.node: dtn")
        return BAD if globus or has_dtn else None
    globus = check_keys(c, globus, "globus", event["provider"])
    jupyterhub = services["jupyterhub"] is True
    if globus["node"] is None:
        globus["node"] = "dtn" if jupyterhub else "login"
    elif globus["node"] == "login" and jupyterhub:
        globus["node"] = c.fail(
            "globus.node",
            "login cannot hold the Globus endpoint while services.jupyterhub is on: both need the login node's "
            "port 443; use dtn (a node of its own, the default then)",
        )
    if globus["node"] == "dtn":
        dtn = check_key(c, nodes, "nodes.dtn", event["provider"])
        if event["nodes"] is not BAD:
            event["nodes"]["dtn"] = dtn
    elif has_dtn:
        c.error("nodes.dtn", "is only used with globus.node: dtn")
    if globus["display_name"] is None:
        description = event["description"] if event["description"] is not BAD else ""
        globus["display_name"] = description or event["name"]
    return globus


def _place_globus(c, event):
    """The full name of the Globus endpoint's node, and the warnings about its ports."""
    globus = event["globus"]
    node = f"{event['name']}-{event['nodes'][globus['node']]['name']}"
    globus["node_name"] = node
    if event["provider"] == "openstack":
        c.warn(
            "globus",
            f"TCP 443 and 50000-51000 of {node} are open to the whole internet: Globus's services "
            "and other endpoints connect from anywhere",
        )
    else:
        provider = event["provider"]
        verb = "publishes" if provider == "docker" else "forwards"
        c.warn(
            "globus",
            f"the {provider} provider {verb} no Globus data ports (50000-51000), and port 443 only on "
            f"{provider}.bind_address: the endpoint is set up, but Globus cannot reach it for transfers",
        )


# -- the derived keys of a valid event -----------------------------------------------------


def complete_event(c, event):
    """Fill in the defaults that come from other keys, and add the derived keys (dates become strings)."""
    nodes = event["nodes"]
    if event["provider"] == "openstack":
        flavors = event["openstack"]["flavors"]
        for role, node in nodes.items():
            if node["flavor"] is None:
                # The data transfer node has the login node's flavor.
                node["flavor"] = flavors["login" if role == "dtn" else role]
    if event["provider"] == "libvirt" and event["libvirt"]["network_cidr"] is None:
        event["libvirt"]["network_cidr"] = libvirt_default_cidr(event["name"])
    if event["globus"]:
        _place_globus(c, event)
    event.update(_derived(event["name"], nodes, event["end_date"], event["accounts"]["grace_days"]))
    event["start_date"] = event["start_date"].isoformat()
    event["end_date"] = event["end_date"].isoformat()
    event.update(_provider_names(event))


def _derived(name, nodes, end, grace_days):
    """The derived keys: nodes_list, compute_names, autoscale_names, expires, check_account."""
    compute = nodes["compute"]
    compute_short = [
        compute_short_name(compute["prefix"], i, compute["max_count"]) for i in range(1, compute["max_count"] + 1)
    ]
    static, autoscaled = compute_short[: compute["count"]], compute_short[compute["count"] :]
    nodes_list = [
        {"name": f"{name}-{nodes[role]['name']}", "short": nodes[role]["name"], "roles": [role]}
        for role in ("mgmt", "login")
    ]
    nodes_list.extend({"name": f"{name}-{short}", "short": short, "roles": ["compute"]} for short in static)
    if "dtn" in nodes:
        nodes_list.append({"name": f"{name}-{nodes['dtn']['name']}", "short": nodes["dtn"]["name"], "roles": ["dtn"]})
    return {
        "nodes_list": nodes_list,
        "compute_names": [f"{name}-{short}" for short in static],
        # Compute nodes that Slurm creates when jobs need them and removes when idle (slurm_autoscale).
        "autoscale_names": [f"{name}-{short}" for short in autoscaled],
        "expires": (end + datetime.timedelta(days=grace_days)).isoformat(),
        "check_account": {"name": CHECK_ACCOUNT, "uid": CHECK_UID},
    }


def _provider_names(event):
    """The derived keys of the provider (docs/contracts.md), so that no playbook or role builds them:
    ``resources``, the names of what the event has at its provider besides its nodes; ``labels``,
    the labels (metadata on OpenStack and libvirt) of a compute node (``compute``) and, on Docker, of a network
    or volume (``resource``)."""
    name, provider = event["name"], event["provider"]
    end, expires = event["end_date"], event["expires"]
    if provider == "openstack":
        resources = openstack_names(name)
        ssh_user = event["openstack"]["ssh_user"]
    elif provider == "libvirt":
        resources = libvirt_names(name)
        ssh_user = event["libvirt"]["ssh_user"]
    else:
        resources = docker_names(name)
        ssh_user = None
    labels = {"compute": node_labels(name, ["compute"], end, expires, provider, ssh_user=ssh_user)}
    if provider == "docker":
        labels["resource"] = resource_labels(name, end, provider)
    return {"resources": resources, "labels": labels}
