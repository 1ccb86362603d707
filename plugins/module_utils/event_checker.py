# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of single keys of the event file, and the walk of the table of keys.

``check_key`` checks one key of the table (module_utils/event_keys.py) and, for a mapping,
every key under it: unknown keys, types, bounds, defaults. The checks across keys are in
event_rules.py. Every problem is a one-line message of a ``Checker``; a value that failed its
check is ``BAD``, so that the checks depending on it are skipped.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import ipaddress
import math
import os
import re

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import PROVIDERS
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_keys import (
    DEFAULT_PROVIDER,
    ROWS,
    children,
    keys_in,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.globus import identity_error

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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

# Marks a value that failed its check, so that the checks depending on it are skipped.
BAD = object()


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


class Checker:
    """Collects one-line errors and warnings, each prefixed with the file."""

    def __init__(self, label):
        self.label = label
        self.errors = []
        self.warnings = []

    def error(self, key, message):
        line = f"{self.label}: {key}: {message}" if key else f"{self.label}: {message}"
        self.errors.append(" ".join(line.splitlines()))

    def fail(self, key, message):
        """An error, and BAD for the value."""
        self.error(key, message)
        return BAD

    def warn(self, key, message):
        self.warnings.append(f"{self.label}: {key}: {message}")

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


def _join(path, key):
    return f"{path}.{key}" if path else key


# -- the walk of the table -----------------------------------------------------------------


def check_key(c, data, path, provider=None, where=None):
    """The value of the key ``path`` (a row of the table) in the mapping ``data``, checked and normalized.

    Its default when it is left out or null, None when it belongs to another provider, BAD
    when it is wrong; a mapping with every key under it checked. ``where`` names the key in
    messages when it differs from ``path`` (the items of a list: ``accounts.instructors[0]``).
    """
    row = ROWS[path]
    where = where or path
    value = data.get(row.name)
    if row.provider and row.provider != (provider if provider in PROVIDERS else DEFAULT_PROVIDER):
        # Not checked; an error when given, unless the provider is not valid (that error is enough).
        if value is not None and provider in PROVIDERS:
            advice = f" (or set provider: {row.provider})" if not row.parent else ""
            c.error(where, f"is only used with provider {row.provider}; remove it{advice}")
        return None
    if row.type == "mapping":
        mapping = section(c, data, path, where, required=row.required)
        return mapping if mapping is BAD else check_keys(c, mapping, path, provider, where)
    # "true" takes no default: anything but true, nothing included, is an error of its own.
    if value is None and row.type != "true":
        if row.required:
            return c.fail(where, f"is required{row.hint}")
        return _default(row, provider)
    return TYPES[row.type](c, where, value, row)


def section(c, data, path, where=None, *, required=False):
    """The mapping at the key ``path`` of ``data`` as given ({} when absent or null), its keys
    checked against the table; BAD when it is not a mapping (or missing, when ``required``)."""
    row = ROWS[path]
    where = where or path
    value = data.get(row.name)
    if value is None:
        return c.fail(where, f"is required{row.hint}") if required else {}
    if not isinstance(value, dict):
        return c.fail(where, f"must be a mapping, got {show(value)}")
    c.unknown_keys(value, where, keys_in(path))
    return value


def check_keys(c, mapping, path, provider=None, where=None):
    """Every key of the table under ``path``, checked in ``mapping``: the normalized mapping."""
    where = where or path
    return {row.name: check_key(c, mapping, row.path, provider, _join(where, row.name)) for row in children(path)}


def _default(row, provider):
    """The row's default, a copy (no event shares a list with the table); by provider when it is a dict."""
    if isinstance(row.default, dict):
        return row.default.get(provider, row.default[DEFAULT_PROVIDER])
    return copy.copy(row.default)


# -- the types: check(c, key, value, row) -> the value normalized, or BAD (value is not None but for "true") --


def _text(c, key, value, row):
    return value if isinstance(value, str) else c.fail(key, f"must be a string, got {show(value)}")


def _string(c, key, value, row):
    """A non-empty string, matching the row's pattern and at most ``maximum`` characters long."""
    if not isinstance(value, str) or not value.strip():
        hint = " (put it in quotes)" if isinstance(value, (int, float, datetime.date)) else ""
        return c.fail(key, f"must be a non-empty string, got {show(value)}{hint}")
    if row.pattern is not None and not row.pattern.fullmatch(value):
        return c.fail(key, f"must be {row.rule}, got {show(value)}")
    if row.maximum is not None and len(value) > row.maximum:
        return c.fail(key, f"must be at most {row.maximum} characters, got {len(value)}")
    return value


def _integer(c, key, value, row):
    """An int (not a bool) between the row's bounds."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if ok and row.minimum is not None and value < row.minimum:
        ok = False
    if ok and row.maximum is not None and value > row.maximum:
        ok = False
    return value if ok else c.fail(key, f"must be {row.rule or _integer_rule(row)}, got {show(value)}")


def _integer_rule(row):
    """What an integer key must be, in words: its bounds, and null when it has no default."""
    if row.minimum is not None and row.maximum is not None:
        rule = f"an integer between {row.minimum} and {row.maximum}"
    elif row.minimum is not None:
        rule = f"an integer >= {row.minimum}"
    else:
        rule = "an integer"
    return rule + (" or null" if row.default is None else "")


def _number(c, key, value, row):
    """A number > 0 (int or float, finite)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return value
    return c.fail(key, f"must be {row.rule or 'a number > 0 or null'}, got {show(value)}")


def _boolean(c, key, value, row):
    return value if isinstance(value, bool) else c.fail(key, f"must be true or false, got {show(value)}")


def _choice(c, key, value, row):
    if value in row.choices:
        return value
    return c.fail(key, f"must be one of: {', '.join(row.choices)}, got {show(value)}")


def _date(c, key, value, row):
    parsed = parse_date(value)
    return c.fail(key, f"must be a date YYYY-MM-DD, got {show(value)}") if parsed is None else parsed


def _true(c, key, value, row):
    return True if value is True else c.fail(key, f"must be {row.rule}, got {show(value)}")


def _ip_address(c, key, value, row):
    address = _string(c, key, value, row)
    if address is BAD:
        return BAD
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return c.fail(key, f"must be an IP address such as 127.0.0.1, got {show(address)}")


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


def _ipv4_network(c, key, value, row):
    """An IPv4 network with a prefix length from 16 to 28."""
    cidr = _string(c, key, value, row)
    if cidr is BAD:
        return BAD
    network, problem = _parse_network(cidr, ipaddress.IPv4Network, "an IPv4 network such as 10.42.0.0/24")
    if problem is None and "/" not in cidr:
        problem = f"must be an IPv4 network with a prefix length, such as {network}, got {show(cidr)}"
    if problem is None and not 16 <= network.prefixlen <= 28:
        problem = f"the prefix length must be between 16 and 28, got /{network.prefixlen}"
    return str(network) if problem is None else c.fail(key, problem)


def _cidrs(c, key, value, row):
    """A non-empty list of networks (IPv4 or IPv6); one that is the whole internet is a warning."""
    if not isinstance(value, list) or not value:
        return c.fail(key, f"must be a non-empty list of CIDRs such as 192.0.2.0/24, got {show(value)}")
    out = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        network, problem = _parse_network(item, ipaddress.ip_network, "a CIDR such as 192.0.2.0/24")
        if problem is not None:
            out.append(c.fail(where, problem))
            continue
        if network.prefixlen == 0:
            c.warn(where, f"{network} lets the whole internet reach the login node's SSH and HTTPS ports")
        out.append(str(network))
    return BAD if BAD in out else out


def _eessi_version(c, key, value, row):
    if isinstance(value, float):
        # YAML reads 2023.06 as the number 2023.06 (and 2023.10 as 2023.1).
        return c.fail(key, f"must be a string such as '2023.06' (in quotes), got {value!r}")
    return _string(c, key, value, row)


def _ssh_key(c, key, value, row):
    """One OpenSSH public key line (stripped), or 'generate'."""
    if value == GENERATE_KEY:
        return value
    problem = ssh_key_error(value)
    return c.fail(key, f"{problem}, got {show(value)}") if problem is not None else value.strip()


def _globus_identity(c, key, value, row):
    identity = _string(c, key, value, row)
    if identity is not BAD and identity_error(identity):
        return c.fail(key, f"{identity_error(identity)}, or null for the service credentials' own identity")
    return identity


def _credentials_file(c, key, value, row):
    """The path of an existing file, made absolute from the event file's directory."""
    path = _string(c, key, value, row)
    if path is BAD:
        return BAD
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(c.label)), path)
    if not os.path.isfile(path):
        return c.fail(
            key,
            f"no such file: {path} (a YAML file, plain or ansible-vault, with globus_endpoint_client_id and "
            "globus_endpoint_client_secret)",
        )
    return path


def _instructors(c, key, value, row):
    """A list of mappings, each checked against the rows of ``accounts.instructors[]``."""
    if not isinstance(value, list):
        return c.fail(key, f"must be a list of instructors (each with name and ssh_key), got {show(value)}")
    items = f"{row.path}[]"
    out = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            out.append(c.fail(where, f"must be a mapping with name and ssh_key, got {show(item)}"))
            continue
        c.unknown_keys(item, where, keys_in(items))
        out.append(check_keys(c, item, items, where=where))
    return out


TYPES = {
    "text": _text,
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "choice": _choice,
    "date": _date,
    "true": _true,
    # The keys with checks of their own.
    "ip_address": _ip_address,
    "ipv4_network": _ipv4_network,
    "cidrs": _cidrs,
    "eessi_version": _eessi_version,
    "ssh_key": _ssh_key,
    "globus_identity": _globus_identity,
    "credentials_file": _credentials_file,
    "instructors": _instructors,
}
