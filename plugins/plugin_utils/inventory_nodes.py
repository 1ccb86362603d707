# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the providers of the inventory plugin learnhpc.cluster.event share (controller side).

The plugin (plugins/inventory/event.py) asks each provider it is configured with (inventory_docker.py,
inventory_openstack.py) for the nodes of the events it has. A provider is a class with

- ``name``: the provider's name, as in the plugin's option ``providers`` (``docker``, ``openstack``);
- ``from_plugin(plugin)``: the provider for the plugin's options, with its client, or AnsibleParserError;
- ``nodes()``: the nodes, as normalized node dicts.

A normalized node dict holds ``name``, ``event``, ``roles`` (known roles only), ``end_date``, ``provider``,
``autoscaled`` (only when true; see ``node_from_labels``), ``cpus`` and ``memory_mb`` (ints, the node's size
before any reserve) and ``vars`` (further host variables, such as how to reach the node). Only plain JSON data,
so the inventory cache can hold it.

Here: the names of docs/contracts.md (from module_utils/contract.py), ``node_from_labels`` (the
provider-independent part of a node, from its labels or metadata) and the helpers of the providers' messages.
"""

from __future__ import annotations

import datetime
import os
import re

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract

PLUGIN = "learnhpc.cluster.event"
# The shared names (docs/contracts.md, module_utils/contract.py).
LABEL_EVENT = contract.EVENT_KEY
LABEL_ROLES = contract.ROLES_KEY
LABEL_END_DATE = contract.END_DATE_KEY
LABEL_SSH_USER = contract.SSH_USER_KEY
LABEL_AUTOSCALED = contract.AUTOSCALED_KEY
# dtn: a data transfer node (the Globus endpoint's, with globus.node dtn in the event file).
NODE_ROLES = contract.NODE_ROLES
EVENT_NAME = contract.EVENT_NAME_RE
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def one_line(exc):
    """The message of an exception on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def error_reason(exc):
    """The innermost cause of an exception, on one line: ``ConnectionRefusedError: [Errno 111] Connection refused``."""
    for _depth in range(20):
        cause = exc.__cause__ or exc.__context__
        if cause is None:
            break
        exc = cause
    return f"{type(exc).__name__}: {one_line(exc)}"


def to_int(value):
    """An integer from an API value, 0 when it is missing or not a number."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _is_date(value):
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def node_from_labels(name, labels, provider, kind, warn):
    """The provider-independent part of a node, from its labels (OpenStack: metadata).

    Returns None, after a warning, when the labels are malformed. ``kind`` names the node in
    warnings (``container``, ``server``).
    """
    labels = labels or {}
    event = labels.get(LABEL_EVENT)
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        warn(f"{PLUGIN}: skipping {kind} {name}: label {LABEL_EVENT}={event!r} is not an event name")
        return None
    roles_text = labels.get(LABEL_ROLES)
    items = [item.strip() for item in roles_text.split(",")] if isinstance(roles_text, str) else []
    items = [item for item in items if item]
    if not items:
        warn(f"{PLUGIN}: skipping {kind} {name}: it has no node roles in label {LABEL_ROLES}")
        return None
    end_date = labels.get(LABEL_END_DATE)
    if not _is_date(end_date):
        warn(f"{PLUGIN}: skipping {kind} {name}: label {LABEL_END_DATE}={end_date!r} is not a date YYYY-MM-DD")
        return None
    roles = []
    unknown = []
    for role in items:
        target = roles if role in NODE_ROLES else unknown
        if role not in target:
            target.append(role)
    if unknown:
        warn(
            f"{PLUGIN}: {kind} {name}: ignoring unknown node role(s) {', '.join(unknown)} in label {LABEL_ROLES}"
            f" (known roles: {', '.join(NODE_ROLES)})"
        )
    node = {"name": name, "event": event, "roles": roles, "end_date": end_date, "provider": provider}
    if labels.get(LABEL_AUTOSCALED) == "true":
        node["autoscaled"] = True
    return node


# -- the nodes reached over SSH (OpenStack servers, libvirt domains) --------------------------


def labelled_user(labels, default, where, word, warn):
    """The user Ansible logs in as: the label (OpenStack: metadata) org.learnhpc.ssh_user, else ``default``.

    A value that is not a user name is ignored, with a warning naming the node (``where``: ``server demo-login``)
    and what held it (``word``: ``label``, ``metadata``).
    """
    user = (labels or {}).get(LABEL_SSH_USER)
    if user is None:
        return default
    if isinstance(user, str) and contract.USER_NAME_RE.fullmatch(user):
        return user
    warn(f"{PLUGIN}: {where}: ignoring {word} {LABEL_SSH_USER}={user!r}, not a user name; using {default}")
    return default


def event_state_dir(events_dir, event):
    """The state directory of an event (where its provider role keeps its SSH key and host keys), or None."""
    if not events_dir:
        return None
    return os.path.normpath(os.path.abspath(os.path.join(events_dir, ".state", event)))


def event_key(events_dir, event, key_file):
    """The private key ``ssh/<key_file>`` that the provider role generated for an event, None when there is none."""
    state = event_state_dir(events_dir, event)
    key = os.path.join(state, "ssh", key_file) if state else None
    return key if key and os.path.isfile(key) else None


def host_key_options(ssh_options, events_dir, event):
    """The plugin's ssh_options, and for an event with a state directory its own host keys file.

    Addresses come back to other nodes and events, with other host keys: one file per event (removed with its
    state directory at teardown), first use trusted (accept-new), unless ssh_options set a host key policy of
    their own.
    """
    options = list(ssh_options)
    named = {option.split("=", 1)[0].strip().lower() for option in options}
    state = event_state_dir(events_dir, event)
    if state and os.path.isdir(state) and not named & {"stricthostkeychecking", "userknownhostsfile"}:
        options += ["StrictHostKeyChecking=accept-new", f"UserKnownHostsFile={state}/known_hosts"]
    return options
