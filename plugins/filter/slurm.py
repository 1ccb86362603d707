# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn data into Slurm's configuration syntax and host lists."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_NUMBERED = re.compile(r"^(.*?)(\d+)$")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
# Options of slurm.conf that Slurm reads once per line rather than as a list.
_REPEATED_OPTIONS = frozenset({"SlurmctldHost", "AccountingStorageExternalHost"})


def _value(key, value):
    """One option value in Slurm's syntax."""
    if isinstance(value, bool):
        text = "YES" if value else "NO"
    elif isinstance(value, (list, tuple)):
        text = ",".join(_value(key, item) for item in value)
    elif isinstance(value, (int, float, str)):
        text = str(value)
    else:
        raise AnsibleFilterError(f"slurm option {key}: cannot write a value of type {type(value).__name__}")
    if "\n" in text or "\r" in text or '"' in text:
        raise AnsibleFilterError(f"slurm option {key}: the value must not contain a line break or a double quote")
    return text


def _option(key, value):
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(key)):
        raise AnsibleFilterError(f"slurm option name {key!r} is not a Slurm option name")
    text = _value(key, value)
    if any(c.isspace() for c in text):
        text = f'"{text}"'
    return f"{key}={text}"


def _is_empty(value):
    return value is None or value == "" or (isinstance(value, (list, tuple)) and len(value) == 0)


def slurm_conf_lines(options):
    """The lines of slurm.conf for a dict of options, sorted by name; empty values are left out."""
    if not isinstance(options, dict):
        raise AnsibleFilterError("slurm_conf_lines expects a dict of slurm.conf options")
    lines = []
    for key in sorted(options):
        value = options[key]
        if _is_empty(value):
            continue
        if key in _REPEATED_OPTIONS and isinstance(value, (list, tuple)):
            lines.extend(_option(key, item) for item in value)
        else:
            lines.append(_option(key, value))
    return lines


def _line(pairs, extra):
    words = [_option(key, value) for key, value in pairs if not _is_empty(value)]
    words.extend(_option(key, value) for key, value in sorted((extra or {}).items()) if not _is_empty(value))
    return " ".join(words)


def slurm_node_line(node):
    """A NodeName line for a node as described in the slurm role's argument spec."""
    pairs = [
        ("NodeName", node["name"]),
        ("NodeAddr", node.get("node_addr")),
        ("CPUs", node["cpus"]),
        ("Sockets", node.get("sockets")),
        ("CoresPerSocket", node.get("cores_per_socket")),
        ("ThreadsPerCore", node.get("threads_per_core")),
        ("RealMemory", node["real_memory"]),
        ("Features", node.get("features")),
    ]
    return _line(pairs, node.get("extra"))


def slurm_partition_line(partition):
    """A PartitionName line for a partition as described in the slurm role's argument spec."""
    nodes = partition.get("nodes", "ALL")
    if isinstance(nodes, (list, tuple)):
        nodes = hostlist_compress(nodes)
    pairs = [
        ("PartitionName", partition["name"]),
        ("Nodes", nodes),
        ("Default", bool(partition.get("default", False))),
        ("MaxTime", partition.get("max_time", "UNLIMITED")),
        ("State", partition.get("state", "UP")),
    ]
    return _line(pairs, partition.get("extra"))


def _fact(variables, name):
    """A fact of a host from its variables: under ansible_facts, or injected as ansible_<name>.

    The collection's ansible.cfg does not inject facts as variables (each task paid for a cleaned copy
    of every host's facts); a site's configuration may.
    """
    facts = variables.get("ansible_facts")
    value = facts.get(name) if isinstance(facts, Mapping) else None
    return variables.get(f"ansible_{name}") if value is None else value


def slurm_node_from_facts(host, hostvars, memory_reserve_mb=0):
    """A node of the slurm role for an inventory host, from its facts.

    The host variables slurm_node_cpus and slurm_node_memory_mb override the facts, and
    slurm_node_addr, when set, becomes the node's NodeAddr. Values
    are passed on as found, so that the role can name a wrong one; nothing is computed from
    a value that is not an integer.
    """
    variables = hostvars[host]
    node = {"name": _fact(variables, "hostname") or host}
    cpus = variables.get("slurm_node_cpus")
    if cpus is None:
        cpus = _fact(variables, "processor_vcpus")
        sockets = _fact(variables, "processor_count")
        cores = _fact(variables, "processor_cores")
        threads = _fact(variables, "processor_threads_per_core")
        topology = (sockets, cores, threads)
        # Give Slurm the topology only when it adds up: some hypervisors report odd values.
        if all(isinstance(n, int) and n > 0 for n in topology) and sockets * cores * threads == cpus:
            node.update(sockets=sockets, cores_per_socket=cores, threads_per_core=threads)
    node["cpus"] = cpus
    memory = variables.get("slurm_node_memory_mb")
    if memory is None:
        total = _fact(variables, "memtotal_mb")
        memory = total - memory_reserve_mb if isinstance(total, int) and isinstance(memory_reserve_mb, int) else total
    node["real_memory"] = memory
    address = variables.get("slurm_node_addr")
    if address:
        node["node_addr"] = address
    return node


def slurm_mem_per_cpu(node):
    """RealMemory per CPU of a node, in MiB (0 when the node's size is not usable)."""
    cpus, memory = node.get("cpus"), node.get("real_memory")
    if isinstance(cpus, int) and isinstance(memory, int) and cpus > 0:
        return memory // cpus
    return 0


def hostlist_compress(names):
    """Compress host names into a Slurm host list: c01,c02,c03,login -> c[01-03],login."""
    if isinstance(names, str):
        names = [names]
    groups = {}
    plain = []
    for name in dict.fromkeys(str(n) for n in names):
        match = _NUMBERED.fullmatch(name)
        if match:
            prefix, digits = match.groups()
            groups.setdefault((prefix, len(digits)), []).append(int(digits))
        else:
            plain.append(name)
    parts = []
    for (prefix, width), numbers in groups.items():
        numbers.sort()
        if len(numbers) == 1:
            parts.append(f"{prefix}{numbers[0]:0{width}d}")
            continue
        ranges = []
        for _offset, pairs in itertools.groupby(enumerate(numbers), key=lambda pair: pair[1] - pair[0]):
            run = [number for _index, number in pairs]
            first, last = run[0], run[-1]
            ranges.append(f"{first:0{width}d}" if first == last else f"{first:0{width}d}-{last:0{width}d}")
        parts.append(f"{prefix}[{','.join(ranges)}]")
    return ",".join(parts + plain)


def _split_outside_brackets(text):
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise AnsibleFilterError(f"host list {text!r}: unbalanced ']'")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        raise AnsibleFilterError(f"host list {text!r}: unbalanced '['")
    parts.append(current)
    return [part for part in parts if part]


def _expand_brackets(content, hostlist):
    values = []
    for item in content.split(","):
        match = _RANGE.fullmatch(item.strip())
        if not match:
            raise AnsibleFilterError(f"host list {hostlist!r}: {item!r} is not a number or a range")
        first, last = match.group(1), match.group(2) or match.group(1)
        if int(last) < int(first):
            raise AnsibleFilterError(f"host list {hostlist!r}: range {item!r} goes backwards")
        width = len(first)
        values.extend(f"{n:0{width}d}" for n in range(int(first), int(last) + 1))
    return values


def hostlist_expand(hostlist):
    """Expand a Slurm host list into host names: c[01-02],login -> [c01, c02, login]."""
    names = []
    for part in _split_outside_brackets(str(hostlist)):
        pieces = re.split(r"\[([^\]]*)\]", part)
        choices = [_expand_brackets(piece, hostlist) if index % 2 else [piece] for index, piece in enumerate(pieces)]
        names.extend("".join(combination) for combination in itertools.product(*choices))
    return list(dict.fromkeys(names))


def numbered_names(count, prefix):
    """Names prefix01 .. prefixNN: two digits, three when there are more than 99."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise AnsibleFilterError(f"numbered_names: the count must be an integer >= 0, got {count!r}")
    width = 3 if count > 99 else 2
    return [f"{prefix}{number:0{width}d}" for number in range(1, count + 1)]


class FilterModule:
    """Slurm configuration and host list filters."""

    def filters(self):
        return {
            "slurm_conf_lines": slurm_conf_lines,
            "slurm_node_line": slurm_node_line,
            "slurm_partition_line": slurm_partition_line,
            "slurm_node_from_facts": slurm_node_from_facts,
            "slurm_mem_per_cpu": slurm_mem_per_cpu,
            "hostlist_compress": hostlist_compress,
            "hostlist_expand": hostlist_expand,
            "numbered_names": numbered_names,
        }
