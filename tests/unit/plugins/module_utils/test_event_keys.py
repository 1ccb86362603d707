# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table of keys of the event file (plugins/module_utils/event_keys.py): the checks and the docs follow it."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import event_checker, event_file, event_keys
from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import PROVIDERS
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_keys import KEYS, ROWS, Key

REPO = Path(__file__).resolve().parents[4]
DOC = REPO / "docs" / "event-file.md"
TODAY = "2025-06-01"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWE5b6G1PvJhZuBkSYCtnnF1KoYWlDnHUDTv/ADpW9C trainer@example.org"

# An event file that gives every key of the table (but docker's, which are the other provider's).
EVERY_KEY = {
    "name": "demo",
    "description": "A school",
    "provider": "openstack",
    "start_date": "2030-12-01",
    "end_date": "2030-12-31",
    "nodes": {
        "mgmt": {"name": "head", "flavor": "m1.large"},
        "login": {"name": "front", "flavor": "m1.large"},
        "compute": {"count": 2, "max_count": 4, "prefix": "cn", "flavor": "m1.xlarge"},
        "dtn": {"name": "data", "flavor": "m1.small"},
    },
    "openstack": {
        "cloud": "training",
        "image": "Debian 12",
        "flavors": {"mgmt": "m1.medium", "login": "m1.small", "compute": "m1.large"},
        "network_cidr": "10.1.0.0/24",
        "external_network": "public",
        "allowed_cidrs": ["192.0.2.0/24"],
        "ssh_user": "debian",
        "key_name": "trainer",
        "shared_storage": "site",
    },
    "accounts": {
        "guests": 4,
        "prefix": "student",
        "instructors": [{"name": "ada", "ssh_key": KEY, "email": "ada@example.org"}],
        "grace_days": 3,
        "uid_start": 20001,
    },
    "budget": {"core_hours_per_guest": 10},
    "software": {"eessi": True, "eessi_version": "2023.06", "cvmfs_proxy": True},
    "services": {"jupyterhub": True, "globus": True, "slurm_rest": True},
    "jupyterhub": {"cpus": 4, "memory_gb": 8, "hours": 4, "idle_minutes": 30},
    "autoscale": {"suspend_minutes": 5, "resume_timeout_minutes": 20, "reconcile_minutes": 3},
    "globus": {
        "node": "dtn",
        "display_name": "School data",
        "organization": "Example University",
        "contact_email": "hpc@example.org",
        "owner": "ada@globusid.org",
        "domain": "example.org",
        "credentials_file": None,
        "agree_to_letsencrypt_tos": True,
    },
}
EVERY_DOCKER_KEY = {
    "end_date": "2030-12-31",
    "docker": {
        "image": "learnhpc/node:12",
        "ssh_port": 2200,
        "https_port": 8400,
        "bind_address": "127.0.0.1",
        "node_cpus": 2,
        "node_memory_mb": 2048,
        "rest_port": 6800,
    },
}
EVERY_LIBVIRT_KEY = {
    "end_date": "2030-12-31",
    "provider": "libvirt",
    "libvirt": {
        "uri": "qemu:///system",
        "image": "/srv/images/debian-12-genericcloud-amd64.qcow2",
        "boot": "disk",
        "kernel": "/srv/images/vmlinuz",
        "initrd": "/srv/images/initrd.img",
        "network_cidr": "10.77.3.0/24",
        "ssh_port": 2300,
        "https_port": 8500,
        "rest_port": 6900,
        "bind_address": "127.0.0.1",
        "node_vcpus": 2,
        "node_memory_mb": 4096,
        "node_disk_gb": 20,
        "ssh_user": "debian",
    },
}
EVERY_EVENT = (EVERY_KEY, EVERY_DOCKER_KEY, EVERY_LIBVIRT_KEY)


def event_doc():
    spec = importlib.util.spec_from_file_location("learnhpc_event_doc", REPO / "scripts" / "event_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def paths(data, prefix=""):
    """The dotted paths of every key of ``data``, with ``[]`` for the items of a list of mappings."""
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        yield path
        if isinstance(value, dict):
            yield from paths(value, path)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                yield from paths(item, f"{path}[]")


def validate(data, **kwargs):
    return event_file.validate_event(data, "demo", TODAY, **kwargs)


def value_at(data, path):
    """The value at a path of ``paths``; for a list's items, that of the first."""
    for part in path.split(".") if path else []:
        data = data[part[:-2]][0] if part.endswith("[]") else data[part]
    return data


def test_an_event_with_every_key_of_the_table_validates_and_keeps_them():
    given = set().union(*(paths(data) for data in EVERY_EVENT))
    assert given == set(ROWS), "EVERY_KEY and EVERY_*_KEY should give every key of the table, and no other"
    for data in EVERY_EVENT:
        event, errors = validate(data)
        assert errors == []
        for path in paths(data):
            value_at(event, path)


@pytest.mark.parametrize("path", sorted({key.parent for key in KEYS}), ids=lambda path: path or "top")
def test_each_mapping_accepts_its_rows_only(path):
    by_provider = {"docker": EVERY_DOCKER_KEY, "libvirt": EVERY_LIBVIRT_KEY}
    data = copy.deepcopy(by_provider.get(path.partition(".")[0], EVERY_KEY))
    value_at(data, path)["colour"] = "blue"
    where = f"in {path.replace('[]', '[0]')}" if path else "at the top level"
    key = f"{path.replace('[]', '[0]')}.colour" if path else "colour"
    errors = validate(data)[1]
    assert errors == [
        f"events/demo.yml: {key}: unknown key; the allowed keys {where} are: {', '.join(event_keys.keys_in(path))}"
    ]


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key.path)
def test_every_key_is_documented(key):
    text = DOC.read_text(encoding="utf-8")
    if key.type == "mapping" and not key.doc:
        # A mapping without a row of its own (nodes.mgmt) is documented by the rows of its keys.
        assert any(other.parent == key.path and other.doc for other in KEYS), key.path
        return
    shown = key.path.split("[].")[-1]
    assert key.doc and f"| `{shown}` | " in text, key.path


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key.path)
def test_every_row_is_well_formed(key):
    assert key.type == "mapping" or key.type in event_checker.TYPES
    assert key.parent in ("", *ROWS) or key.parent.removesuffix("[]") in ROWS
    assert key.provider in (None, *PROVIDERS)
    # Every default passes the key's own check.
    c = event_checker.Checker("events/demo.yml")
    defaults = key.default.values() if isinstance(key.default, dict) else [key.default]
    for default in defaults:
        if default is not None and key.type != "mapping":
            assert event_checker.TYPES[key.type](c, key.path, default, key) == default
    assert c.errors == []


def test_the_docs_are_up_to_date():
    assert event_doc().check() == [], "run: python scripts/event_doc.py"


def test_the_script_says_what_is_out_of_date(tmp_path, capsys):
    script = event_doc()
    stale = tmp_path / "event-file.md"
    stale.write_text(DOC.read_text(encoding="utf-8").replace("| Free text, e.g. the course title. |", "| x |"))
    assert script.check(stale) == ["top"]
    assert script.main(["--help"]) == 2
    assert capsys.readouterr().err == "usage: python scripts/event_doc.py [--check]\n"


def test_a_new_row_is_picked_up(monkeypatch):
    row = Key("docker.shm_size_mb", "integer", 64, minimum=1, doc="Shared memory of each container, MiB.")
    monkeypatch.setattr(event_keys, "KEYS", (*KEYS, row))
    monkeypatch.setitem(ROWS, row.path, row)
    event, errors = validate({"end_date": "2030-12-31"})
    assert errors == []
    assert event["docker"]["shm_size_mb"] == 64
    errors = validate({"end_date": "2030-12-31", "docker": {"shm_size_mb": 0}})[1]
    assert errors == ["events/demo.yml: docker.shm_size_mb: must be an integer >= 1, got 0"]
    errors = validate({"end_date": "2030-12-31", "docker": {"shm": 1}})[1]
    assert errors[0].endswith("rest_port, shm_size_mb")
    assert "| `docker.shm_size_mb` | integer >= 1 | `64` | Shared memory of each container, MiB. |" in (
        event_doc().table("docker")
    )


def test_libvirt_has_no_autoscaling_yet():
    data = copy.deepcopy(EVERY_LIBVIRT_KEY)
    data["nodes"] = {"compute": {"count": 2, "max_count": 4}}
    assert validate(data)[1] == [
        "events/demo.yml: nodes.compute.max_count: must equal nodes.compute.count (2) with provider libvirt, got 4:"
        " autoscaling is not available there yet"
    ]
    data["nodes"] = {"compute": {"count": 2, "max_count": 2}}
    assert validate(data)[1] == []
