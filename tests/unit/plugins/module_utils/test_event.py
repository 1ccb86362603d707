# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the event file schema (plugins/module_utils/event_file.py and the modules it uses)."""

from __future__ import annotations

import base64
import copy
import datetime
import os
import struct
from pathlib import Path

import pytest
import yaml

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, event_checker, event_keys, event_rules
from ansible_collections.learnhpc.cluster.plugins.module_utils import event_file as ev

TODAY = "2025-06-01"
REPO = Path(__file__).resolve().parents[4]

# Real public keys (made with ssh-keygen for these tests; the private halves are gone).
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWE5b6G1PvJhZuBkSYCtnnF1KoYWlDnHUDTv/ADpW9C trainer@example.org"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPztJRg7cGvtcWNKSFeg+4NExxLQ7LiHZ9Ygrs"
    "fBGY9eoKN/YH13MRdL2LEXtbOCsbs9Bel62ukxYbG+GLSAl1M= root@vm"
)


def make_key(key_type, inner_type=None, comment="ada@laptop"):
    """An OpenSSH public key line whose blob names ``inner_type`` (default: ``key_type``)."""
    inner = (inner_type or key_type).encode()
    payload = b"\x01" * 32
    blob = struct.pack(">I", len(inner)) + inner + struct.pack(">I", len(payload)) + payload
    line = f"{key_type} {base64.b64encode(blob).decode()}"
    return f"{line} {comment}" if comment else line


def docker_event(**top):
    data = {"end_date": "2030-12-31"}
    data.update(top)
    return data


def openstack_event(**top):
    data = {
        "provider": "openstack",
        "end_date": "2030-12-31",
        "openstack": {
            "cloud": "training",
            "image": "Debian 12",
            "flavors": {"mgmt": "m1.medium", "login": "m1.small", "compute": "m1.large"},
            "external_network": "public",
            "allowed_cidrs": ["192.0.2.0/24"],
        },
    }
    data.update(top)
    return data


def validate(data, name="demo", **kwargs):
    kwargs.setdefault("today", TODAY)
    return ev.validate_event(copy.deepcopy(data), name, **kwargs)


def ok(data, name="demo", **kwargs):
    event, errors = validate(data, name, **kwargs)
    assert errors == []
    assert event is not None
    return event


def fails(data, key, text="", name="demo", **kwargs):
    """The errors of ``data``; one of them is about ``key`` and contains ``text``."""
    event, errors = validate(data, name, **kwargs)
    assert event is None
    prefix = f"{kwargs.get('path', f'events/{name}.yml')}: {key}: " if key else ""
    matching = [e for e in errors if e.startswith(prefix) and text in e]
    assert matching, f"no error for {key!r} with {text!r} in {errors}"
    for error in errors:
        assert "\n" not in error
    return errors


def with_section(section, value, base=None):
    data = base if base is not None else docker_event()
    data[section] = value
    return data


# -- the whole file ------------------------------------------------------------------------


def test_minimal_docker_event_gets_every_default():
    event = ok(docker_event())
    assert event["name"] == "demo"
    assert event["description"] == ""
    assert event["provider"] == "docker"
    assert event["start_date"] == TODAY
    assert event["end_date"] == "2030-12-31"
    assert event["nodes"] == {
        "mgmt": {"name": "mgmt", "flavor": None},
        "login": {"name": "login", "flavor": None},
        "compute": {"count": 2, "max_count": 2, "prefix": "compute", "flavor": None},
    }
    assert event["docker"] == {
        "image": "learnhpc/node:12",
        "ssh_port": 2222,
        "https_port": 8443,
        "bind_address": "127.0.0.1",
        "node_cpus": None,
        "node_memory_mb": None,
        "rest_port": 6820,
    }
    assert event["openstack"] is None
    assert event["accounts"] == {
        "guests": 3,
        "prefix": "guest",
        "instructors": [],
        "grace_days": 0,
        "uid_start": 10001,
    }
    assert event["budget"] == {"core_hours_per_guest": None}
    assert event["software"] == {"eessi": False, "eessi_version": "2023.06", "cvmfs_proxy": False}
    assert event["services"] == {"jupyterhub": False, "globus": False, "slurm_rest": False}
    assert event["autoscale"] == {"suspend_minutes": 10, "resume_timeout_minutes": 5, "reconcile_minutes": 2}
    assert event["autoscale_names"] == []


def test_the_provider_names_and_labels_are_the_contracts():
    event = ok(docker_event())
    assert event["resources"] == contract.docker_names(event["name"])
    assert event["labels"]["resource"] == contract.resource_labels(event["name"], event["end_date"], "docker")
    assert event["labels"]["compute"][contract.ROLES_KEY] == "compute"
    assert event["labels"]["compute"][contract.EXPIRES_KEY] == event["expires"]
    openstack = ok(openstack_event())
    assert openstack["resources"] == contract.openstack_names(openstack["name"])
    assert openstack["labels"]["compute"][contract.SSH_USER_KEY] == openstack["openstack"]["ssh_user"]
    assert "resource" not in openstack["labels"]


def test_a_user_name_has_at_most_32_characters():
    data = openstack_event()
    data["openstack"]["ssh_user"] = "u" * 32
    assert ok(data)["openstack"]["ssh_user"] == "u" * 32
    data["openstack"]["ssh_user"] = "u" * 33
    fails(data, "openstack.ssh_user", "at most 32 characters")


def test_normalized_keys():
    event = ok(docker_event())
    assert set(event) == {
        "jupyterhub",
        "globus",
        "name",
        "description",
        "provider",
        "start_date",
        "end_date",
        "expires",
        "nodes",
        "docker",
        "openstack",
        "libvirt",
        "accounts",
        "budget",
        "software",
        "services",
        "nodes_list",
        "compute_names",
        "autoscale_names",
        "check_account",
        "autoscale",
        "file",
        "state_dir",
        "resources",
        "labels",
    }


def test_minimal_openstack_event_gets_every_default():
    event = ok(openstack_event())
    assert event["provider"] == "openstack"
    assert event["docker"] is None
    assert event["openstack"] == {
        "cloud": "training",
        "image": "Debian 12",
        "flavors": {"mgmt": "m1.medium", "login": "m1.small", "compute": "m1.large"},
        "network_cidr": "10.42.0.0/24",
        "external_network": "public",
        "allowed_cidrs": ["192.0.2.0/24"],
        "ssh_user": "debian",
        "key_name": None,
        "shared_storage": "nfs",
    }
    assert event["software"]["eessi"] is True
    # The flavors of openstack.flavors become the nodes' flavors.
    assert event["nodes"]["mgmt"]["flavor"] == "m1.medium"
    assert event["nodes"]["login"]["flavor"] == "m1.small"
    assert event["nodes"]["compute"]["flavor"] == "m1.large"


def test_null_sections_and_values_mean_the_defaults():
    data = docker_event(
        description=None,
        provider=None,
        nodes=None,
        docker=None,
        accounts={"guests": None, "instructors": None},
        budget=None,
        software=None,
        services=None,
    )
    assert ok(data) == ok(docker_event())


@pytest.mark.parametrize("data", [None, [], ["end_date"], "text", 3])
def test_data_must_be_a_mapping(data):
    errors = fails(data, "", "must hold a mapping")
    assert len(errors) == 1


def test_all_errors_are_reported_at_once():
    data = docker_event(
        provider="docker",
        nodes={"compute": {"count": 0}},
        docker={"ssh_port": 0},
        accounts={"guests": 0},
        budget={"core_hours_per_guest": -1},
        services={"jupyterhub": "no"},
        colour="blue",
    )
    errors = validate(data)[1]
    keys = [e.split(": ")[1] for e in errors]
    assert keys == [
        "colour",
        "nodes.compute.count",
        "docker.ssh_port",
        "accounts.guests",
        "budget.core_hours_per_guest",
        "services.jupyterhub",
    ]


def test_every_error_is_one_line_prefixed_with_the_path():
    data = docker_event(description=["a\nb"], nodes={"mgmt": {"name": "A\nB"}})
    errors = validate(data, path="events/demo.yml")[1]
    assert errors
    for error in errors:
        assert error.startswith("events/demo.yml: ")
        assert "\n" not in error


def test_path_is_the_prefix_of_errors():
    errors = validate(docker_event(provider="aws"), path="/srv/events/demo.yml")[1]
    assert errors == ["/srv/events/demo.yml: provider: must be one of: docker, openstack, libvirt, got 'aws'"]


def test_example_error_text():
    errors = validate(docker_event(nodes={"compute": {"count": 0}}))[1]
    assert errors == ["events/demo.yml: nodes.compute.count: must be an integer >= 1, got 0"]
    errors = validate(docker_event(nodes={"compute": {"count": "two"}}))[1]
    assert errors == ["events/demo.yml: nodes.compute.count: must be an integer >= 1, got 'two'"]


# -- unknown keys at every level -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "allowed"),
    [
        (docker_event(colour="blue"), "colour", "name, description, provider, start_date, end_date, nodes"),
        (docker_event(nodes={"gpu": {}}), "nodes.gpu", "mgmt, login, compute"),
        (docker_event(nodes={"mgmt": {"cpus": 2}}), "nodes.mgmt.cpus", "name, flavor"),
        (docker_event(nodes={"login": {"ip": "x"}}), "nodes.login.ip", "name, flavor"),
        (docker_event(nodes={"compute": {"cout": 2}}), "nodes.compute.cout", "count, max_count, prefix, flavor"),
        (docker_event(docker={"port": 22}), "docker.port", "image, ssh_port, https_port, bind_address"),
        (openstack_event(), "openstack.region", "cloud, image, flavors, network_cidr"),
        (openstack_event(), "openstack.flavors.gpu", "mgmt, login, compute"),
        (docker_event(accounts={"users": 3}), "accounts.users", "guests, prefix, instructors"),
        (
            docker_event(accounts={"instructors": [{"name": "ada", "ssh_key": "generate", "phone": 1}]}),
            "accounts.instructors[0].phone",
            "name, ssh_key, email",
        ),
        (docker_event(budget={"core_hours": 3}), "budget.core_hours", "core_hours_per_guest"),
        (docker_event(software={"spack": True}), "software.spack", "eessi, eessi_version, cvmfs_proxy"),
        (docker_event(services={"ldap": True}), "services.ldap", "jupyterhub, globus"),
    ],
)
def test_unknown_keys_are_errors(data, key, allowed):
    if key == "openstack.region":
        data["openstack"]["region"] = "north"
    if key == "openstack.flavors.gpu":
        data["openstack"]["flavors"]["gpu"] = "g1"
    errors = fails(data, key, "unknown key")
    assert allowed in next(e for e in errors if f": {key}: " in e)


def test_unknown_non_string_key():
    fails(docker_event(nodes={1: {}}), "nodes", "unknown key 1")
    errors = fails({"end_date": "2030-12-31", True: 1}, "", "unknown key true")
    assert "at the top level" in errors[0]


@pytest.mark.parametrize("section", ["nodes", "docker", "accounts", "budget", "software", "services"])
def test_sections_must_be_mappings(section):
    fails(with_section(section, ["x"]), section, "must be a mapping, got ['x']")


def test_node_sections_must_be_mappings():
    fails(docker_event(nodes={"mgmt": "big"}), "nodes.mgmt", "must be a mapping")
    fails(docker_event(nodes={"compute": 4}), "nodes.compute", "must be a mapping")


# -- name, description, provider -----------------------------------------------------------


def test_name_may_repeat_the_event_name():
    assert ok(docker_event(name="demo"))["name"] == "demo"


def test_name_must_equal_the_event_name():
    fails(docker_event(name="workshop"), "name", "must be 'demo'")


@pytest.mark.parametrize("name", ["a", "demo", "hpc-2025", "a" * 24, "x9"])
def test_valid_event_names(name):
    assert ok(docker_event(), name=name)["name"] == name


@pytest.mark.parametrize("name", ["Demo", "1demo", "demo-", "-demo", "a" * 25, "demo_1", "", "de mo", None])
def test_invalid_event_names(name):
    errors = validate(docker_event(), name=name, path="events/x.yml")[1]
    assert any("is not valid" in e for e in errors)


def test_event_name_error():
    assert ev.event_name_error("demo") is None
    assert "at most 24 characters" in ev.event_name_error("Demo")


def test_description():
    assert ok(docker_event(description="Spring school"))["description"] == "Spring school"
    fails(docker_event(description=3), "description", "must be a string, got 3")


@pytest.mark.parametrize("provider", ["docker", "openstack"])
def test_provider(provider):
    data = openstack_event() if provider == "openstack" else docker_event(provider="docker")
    assert ok(data)["provider"] == provider


@pytest.mark.parametrize("provider", ["aws", "Docker", 1, True])
def test_provider_invalid(provider):
    fails(docker_event(provider=provider), "provider", "must be one of: docker, openstack")


# -- dates ---------------------------------------------------------------------------------


def test_end_date_is_required():
    fails({}, "end_date", "is required")
    fails({"end_date": None}, "end_date", "is required")


@pytest.mark.parametrize("value", ["2030-12-31", datetime.date(2030, 12, 31)])
def test_dates_as_strings_or_yaml_dates(value):
    event = ok(docker_event(end_date=value, start_date=value))
    assert event["end_date"] == "2030-12-31"
    assert event["start_date"] == "2030-12-31"


@pytest.mark.parametrize(
    "value", ["31.12.2030", "2030-12-32", "2030-1-5", "20301231", 20301231, True, datetime.datetime(2030, 1, 1)]
)
def test_invalid_dates(value):
    fails(docker_event(end_date=value), "end_date", "must be a date YYYY-MM-DD")
    fails(docker_event(start_date=value), "start_date", "must be a date YYYY-MM-DD")


def test_start_date_defaults_to_today():
    assert ok(docker_event())["start_date"] == TODAY
    assert ok(docker_event(), today=datetime.date(2026, 1, 2))["start_date"] == "2026-01-02"


def test_today_defaults_to_the_current_date():
    event, errors = ev.validate_event(docker_event(), "demo")
    assert errors == []
    assert event["start_date"] == datetime.date.today().isoformat()


def test_today_must_be_a_date():
    with pytest.raises(ValueError, match="today"):
        ev.validate_event(docker_event(), "demo", "tomorrow")


def test_end_date_not_before_start_date():
    assert ok(docker_event(start_date="2030-12-31", end_date="2030-12-31"))
    fails(docker_event(start_date="2030-12-31", end_date="2030-12-30"), "end_date", "is before start_date 2030-12-31")


def test_end_date_in_the_past():
    fails(docker_event(end_date="2025-05-31"), "end_date", "2025-05-31 is in the past (today is 2025-06-01)")
    assert ok(docker_event(end_date=TODAY))["end_date"] == TODAY


def test_end_date_in_the_past_without_check_dates():
    event = ok(docker_event(end_date="2020-01-31"), check_dates=False)
    assert event["end_date"] == "2020-01-31"
    # Without start_date, an event that is over started no later than it ended.
    assert event["start_date"] == "2020-01-31"
    event = ok(docker_event(start_date="2020-01-30", end_date="2020-01-31"), check_dates=False)
    assert event["start_date"] == "2020-01-30"


def test_start_date_in_the_past_is_fine():
    assert ok(docker_event(start_date="2020-01-01"))["start_date"] == "2020-01-01"


# -- nodes ---------------------------------------------------------------------------------


def test_node_names():
    event = ok(docker_event(nodes={"mgmt": {"name": "head"}, "login": {"name": "front-1"}}))
    assert event["nodes"]["mgmt"]["name"] == "head"
    assert event["nodes_list"][0] == {"name": "demo-head", "short": "head", "roles": ["mgmt"]}
    assert event["nodes_list"][1] == {"name": "demo-front-1", "short": "front-1", "roles": ["login"]}


@pytest.mark.parametrize("role", ["mgmt", "login"])
@pytest.mark.parametrize("name", ["Head", "1head", "head_1", "head-", "", "he ad", 7])
def test_invalid_node_names(role, name):
    fails(docker_event(nodes={role: {"name": name}}), f"nodes.{role}.name", "")


@pytest.mark.parametrize("prefix", ["Node", "1node", "node_", "node-", 3])
def test_invalid_compute_prefix(prefix):
    fails(docker_event(nodes={"compute": {"prefix": prefix}}), "nodes.compute.prefix", "")


def test_compute_prefix():
    event = ok(docker_event(nodes={"compute": {"prefix": "cn"}}))
    assert event["compute_names"] == ["demo-cn-01", "demo-cn-02"]


def test_compute_count():
    event = ok(docker_event(nodes={"compute": {"count": 4}}))
    assert event["nodes"]["compute"] == {"count": 4, "max_count": 4, "prefix": "compute", "flavor": None}
    assert event["compute_names"] == [f"demo-compute-0{i}" for i in range(1, 5)]
    assert ok(docker_event(nodes={"compute": {"count": 1}}))["compute_names"] == ["demo-compute-01"]


@pytest.mark.parametrize("count", [0, -1, "two", "2", True, False, 1.5])
def test_compute_count_invalid(count):
    fails(docker_event(nodes={"compute": {"count": count}}), "nodes.compute.count", "must be an integer >= 1, got")


def test_compute_count_at_most_999():
    assert ok(docker_event(nodes={"compute": {"count": 999}}))["compute_names"][-1] == "demo-compute-999"
    fails(docker_event(nodes={"compute": {"count": 1000}}), "nodes.compute.count", "at most 999")


def test_max_count():
    event = ok(docker_event(nodes={"compute": {"count": 2, "max_count": 8}}))
    assert event["nodes"]["compute"]["max_count"] == 8
    # Only nodes 1..count exist.
    assert event["compute_names"] == ["demo-compute-01", "demo-compute-02"]
    assert len(event["nodes_list"]) == 4
    assert ok(docker_event(nodes={"compute": {"count": 3, "max_count": 3}}))["nodes"]["compute"]["max_count"] == 3


def test_autoscale_names_are_the_nodes_above_count():
    event = ok(docker_event(nodes={"compute": {"count": 2, "max_count": 4}}, autoscale={"suspend_minutes": 3}))
    assert event["autoscale_names"] == ["demo-compute-03", "demo-compute-04"]
    assert event["autoscale"] == {"suspend_minutes": 3, "resume_timeout_minutes": 5, "reconcile_minutes": 2}


def test_autoscale_waits_longer_for_openstack_servers():
    event = ok(openstack_event(nodes={"compute": {"count": 1, "max_count": 3}}))
    assert event["autoscale"]["resume_timeout_minutes"] == 15
    assert event["autoscale_names"] == ["demo-compute-02", "demo-compute-03"]


def test_max_count_below_count_is_one_line():
    errors = fails(docker_event(nodes={"compute": {"count": 4, "max_count": 2}}), "nodes.compute.max_count", "")
    assert errors == ["events/demo.yml: nodes.compute.max_count: must be an integer >= nodes.compute.count (4), got 2"]


def test_autoscale_settings_without_nodes_to_scale_are_refused():
    fails(docker_event(autoscale={"suspend_minutes": 5}), "autoscale", "needs nodes.compute.max_count above")


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("suspend_minutes", 0, "between 1 and 10080"),
        ("suspend_minutes", "5", "integer"),
        ("resume_timeout_minutes", 500, "120"),
        ("reconcile_minutes", True, "integer"),
        ("suspend_after", 5, "unknown key"),
    ],
)
def test_autoscale_bad_values(key, value, text):
    data = docker_event(nodes={"compute": {"count": 1, "max_count": 2}}, autoscale={key: value})
    fails(data, f"autoscale.{key}", text)


@pytest.mark.parametrize("max_count", [1, 0, "4", True, 2.5])
def test_max_count_invalid(max_count):
    fails(docker_event(nodes={"compute": {"count": 2, "max_count": max_count}}), "nodes.compute.max_count", "")


def test_max_count_too_large():
    fails(docker_event(nodes={"compute": {"max_count": 1000}}), "nodes.compute.max_count", "at most 999")


def test_three_digits_when_max_count_above_99():
    event = ok(docker_event(nodes={"compute": {"count": 2, "max_count": 100}}))
    assert event["compute_names"] == ["demo-compute-001", "demo-compute-002"]
    event = ok(docker_event(nodes={"compute": {"count": 2, "max_count": 99}}))
    assert event["compute_names"] == ["demo-compute-01", "demo-compute-02"]


def test_compute_short_name():
    assert event_rules.compute_short_name("compute", 1, 2) == "compute-01"
    assert event_rules.compute_short_name("compute", 7, 100) == "compute-007"


def test_nodes_list_and_compute_names():
    event = ok(docker_event(nodes={"compute": {"count": 3}}))
    assert event["nodes_list"] == [
        {"name": "demo-mgmt", "short": "mgmt", "roles": ["mgmt"]},
        {"name": "demo-login", "short": "login", "roles": ["login"]},
        {"name": "demo-compute-01", "short": "compute-01", "roles": ["compute"]},
        {"name": "demo-compute-02", "short": "compute-02", "roles": ["compute"]},
        {"name": "demo-compute-03", "short": "compute-03", "roles": ["compute"]},
    ]
    assert event["compute_names"] == ["demo-compute-01", "demo-compute-02", "demo-compute-03"]


def test_duplicate_mgmt_and_login():
    errors = fails(docker_event(nodes={"mgmt": {"name": "head"}, "login": {"name": "head"}}), "nodes", "'demo-head'")
    assert "nodes.mgmt.name" in errors[0]
    assert "nodes.login.name" in errors[0]


def test_duplicate_with_compute_node():
    fails(docker_event(nodes={"login": {"name": "compute-02"}}), "nodes", "'demo-compute-02' is used twice")


def test_duplicate_with_compute_node_up_to_max_count():
    data = docker_event(nodes={"login": {"name": "compute-07"}, "compute": {"count": 2, "max_count": 8}})
    fails(data, "nodes", "'demo-compute-07' is used twice")
    assert ok(docker_event(nodes={"login": {"name": "compute-09"}, "compute": {"count": 2, "max_count": 8}}))


def test_node_names_at_most_63_characters():
    event_name = "a" * 24
    assert ok(docker_event(nodes={"mgmt": {"name": "m" * 38}}), name=event_name)
    fails(docker_event(nodes={"mgmt": {"name": "m" * 39}}), "nodes.mgmt.name", "64 characters", name=event_name)
    fails(docker_event(nodes={"login": {"name": "l" * 39}}), "nodes.login.name", "at most 63", name=event_name)
    # "<24>-<prefix>-NN": the prefix may have 35 characters.
    assert ok(docker_event(nodes={"compute": {"prefix": "c" * 35}}), name=event_name)
    fails(docker_event(nodes={"compute": {"prefix": "c" * 36}}), "nodes.compute.prefix", "", name=event_name)
    # Three digits when max_count > 99, counted for max_count even beyond count.
    data = docker_event(nodes={"compute": {"prefix": "c" * 35, "count": 1, "max_count": 100}})
    fails(data, "nodes.compute.prefix", f"'{event_name}-{'c' * 35}-001' has 64 characters", name=event_name)


def test_flavors_are_only_for_openstack():
    for role in ("mgmt", "login", "compute"):
        data = docker_event(nodes={role: {"flavor": "m1.small"}})
        fails(data, f"nodes.{role}.flavor", "only used with provider openstack")


def test_node_flavor_overrides_openstack_flavors():
    event = ok(openstack_event(nodes={"compute": {"flavor": "gpu.large"}, "login": {"flavor": "m1.tiny"}}))
    assert event["nodes"]["compute"]["flavor"] == "gpu.large"
    assert event["nodes"]["login"]["flavor"] == "m1.tiny"
    assert event["nodes"]["mgmt"]["flavor"] == "m1.medium"
    assert event["openstack"]["flavors"]["compute"] == "m1.large"


def test_node_flavor_must_be_a_string():
    fails(openstack_event(nodes={"mgmt": {"flavor": 3}}), "nodes.mgmt.flavor", "must be a non-empty string")


# -- docker --------------------------------------------------------------------------------


def test_docker_settings():
    docker = {
        "image": "example/image:1",
        "ssh_port": 22022,
        "https_port": 443,
        "bind_address": "0.0.0.0",
        "node_cpus": 2,
        "node_memory_mb": 2048,
        "rest_port": 16820,
    }
    assert ok(docker_event(docker=docker))["docker"] == docker


@pytest.mark.parametrize("key", ["ssh_port", "https_port", "rest_port"])
@pytest.mark.parametrize("value", [0, 65536, -22, "2222", True, 22.0])
def test_docker_ports_invalid(key, value):
    other = {"ssh_port": 2222, "https_port": 8443}
    other[key] = value
    fails(docker_event(docker=other), f"docker.{key}", "must be an integer between 1 and 65535")


@pytest.mark.parametrize("port", [1, 65535])
def test_docker_port_bounds(port):
    assert ok(docker_event(docker={"ssh_port": port}))["docker"]["ssh_port"] == port


def test_https_port_must_differ_from_ssh_port():
    fails(docker_event(docker={"ssh_port": 8443}), "docker.https_port", "must differ from docker.ssh_port")
    fails(docker_event(docker={"ssh_port": 2000, "https_port": 2000}), "docker.https_port", "both are 2000")


@pytest.mark.parametrize("key", ["ssh_port", "https_port"])
def test_rest_port_must_differ_from_the_others_when_the_gateway_is_on(key):
    docker = {"ssh_port": 2222, "https_port": 8443, key: 6820}
    fails(docker_event(docker=docker, services={"slurm_rest": True}), "docker.rest_port", f"differ from docker.{key}")
    # Unused without the gateway: an event may keep a port that happens to be the default.
    assert ok(docker_event(docker=docker))["docker"][key] == 6820


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.7", "::1", "::"])
def test_bind_address(address):
    assert ok(docker_event(docker={"bind_address": address}))["docker"]["bind_address"] == address


@pytest.mark.parametrize("address", ["localhost", "127.0.0.256", "127.0.0.1/8", 127, ""])
def test_bind_address_invalid(address):
    fails(docker_event(docker={"bind_address": address}), "docker.bind_address", "")


@pytest.mark.parametrize("cpus", [1, 0.5, 16, None])
def test_node_cpus(cpus):
    assert ok(docker_event(docker={"node_cpus": cpus}))["docker"]["node_cpus"] == cpus


@pytest.mark.parametrize("cpus", [0, -1, "2", True, float("nan"), float("inf")])
def test_node_cpus_invalid(cpus):
    fails(docker_event(docker={"node_cpus": cpus}), "docker.node_cpus", "must be a number > 0")


@pytest.mark.parametrize("memory", [256, 4096, None])
def test_node_memory_mb(memory):
    assert ok(docker_event(docker={"node_memory_mb": memory}))["docker"]["node_memory_mb"] == memory


@pytest.mark.parametrize("memory", [255, 0, 512.5, "1G", True])
def test_node_memory_mb_invalid(memory):
    fails(docker_event(docker={"node_memory_mb": memory}), "docker.node_memory_mb", "an integer >= 256 or null")


def test_docker_image_must_be_a_string():
    fails(docker_event(docker={"image": ""}), "docker.image", "must be a non-empty string")
    fails(docker_event(docker={"image": 12}), "docker.image", "put it in quotes")


def test_docker_section_is_an_error_with_openstack():
    fails(openstack_event(docker={"ssh_port": 2222}), "docker", "only used with provider docker")


# -- openstack -----------------------------------------------------------------------------


def test_openstack_section_is_required_for_openstack():
    fails({"provider": "openstack", "end_date": "2030-12-31"}, "openstack", "is required")


def test_openstack_section_is_an_error_with_docker():
    data = openstack_event(provider="docker")
    fails(data, "openstack", "only used with provider openstack")


def test_openstack_section_must_be_a_mapping():
    fails(openstack_event(openstack=["training"]), "openstack", "must be a mapping")


@pytest.mark.parametrize("key", ["cloud", "image", "external_network", "flavors", "allowed_cidrs"])
def test_openstack_required_keys(key):
    data = openstack_event()
    del data["openstack"][key]
    fails(data, f"openstack.{key}", "is required")


@pytest.mark.parametrize("key", ["cloud", "image", "external_network"])
@pytest.mark.parametrize("value", ["", "  ", 3, ["x"]])
def test_openstack_strings_invalid(key, value):
    data = openstack_event()
    data["openstack"][key] = value
    fails(data, f"openstack.{key}", "must be a non-empty string")


@pytest.mark.parametrize("role", ["mgmt", "login", "compute"])
def test_openstack_flavors_all_required(role):
    data = openstack_event()
    del data["openstack"]["flavors"][role]
    fails(data, f"openstack.flavors.{role}", "is required")


def test_openstack_flavors_must_be_a_mapping():
    data = openstack_event()
    data["openstack"]["flavors"] = "m1.small"
    fails(data, "openstack.flavors", "must be a mapping")


@pytest.mark.parametrize("cidr", ["10.42.0.0/24", "10.0.0.0/16", "192.168.8.0/28", "172.16.0.0/20"])
def test_network_cidr(cidr):
    data = openstack_event()
    data["openstack"]["network_cidr"] = cidr
    assert ok(data)["openstack"]["network_cidr"] == cidr


@pytest.mark.parametrize(
    ("cidr", "text"),
    [
        ("10.42.0.5/24", "has host bits set; the network is 10.42.0.0/24"),
        ("10.0.0.0/8", "between 16 and 28, got /8"),
        ("10.0.0.0/15", "between 16 and 28"),
        ("10.0.0.0/29", "between 16 and 28"),
        ("10.42.0.0", "prefix length"),
        ("fd00::/64", "must be an IPv4 network"),
        ("10.42.0.0/33", "must be an IPv4 network"),
        ("net", "must be an IPv4 network"),
        (1042, "must be a non-empty string"),
    ],
)
def test_network_cidr_invalid(cidr, text):
    data = openstack_event()
    data["openstack"]["network_cidr"] = cidr
    fails(data, "openstack.network_cidr", text)


def test_allowed_cidrs():
    data = openstack_event()
    data["openstack"]["allowed_cidrs"] = ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.9", "2001:db8::/32"]
    event = ok(data)
    assert event["openstack"]["allowed_cidrs"] == ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.9/32", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("cidrs", "key", "text"),
    [
        ([], "openstack.allowed_cidrs", "must be a non-empty list"),
        ("192.0.2.0/24", "openstack.allowed_cidrs", "must be a non-empty list"),
        (["192.0.2.0/24", "192.0.2.300/32"], "openstack.allowed_cidrs[1]", "must be a CIDR"),
        (["office"], "openstack.allowed_cidrs[0]", "must be a CIDR such as 192.0.2.0/24, got 'office'"),
        (["192.0.2.1/24"], "openstack.allowed_cidrs[0]", "has host bits set; the network is 192.0.2.0/24"),
        ([24], "openstack.allowed_cidrs[0]", "must be a CIDR"),
    ],
)
def test_allowed_cidrs_invalid(cidrs, key, text):
    data = openstack_event()
    data["openstack"]["allowed_cidrs"] = cidrs
    fails(data, key, text)


@pytest.mark.parametrize("everything", ["0.0.0.0/0", "::/0"])
def test_allowed_cidrs_everything_is_a_warning(everything):
    data = openstack_event()
    data["openstack"]["allowed_cidrs"] = ["192.0.2.0/24", everything]
    warnings = []
    event = ok(data, warnings=warnings)
    assert event["openstack"]["allowed_cidrs"] == ["192.0.2.0/24", everything]
    assert len(warnings) == 1
    assert warnings[0].startswith("events/demo.yml: openstack.allowed_cidrs[1]: ")
    assert "whole internet" in warnings[0]


def test_no_warning_normally():
    warnings = []
    ok(openstack_event(), warnings=warnings)
    assert warnings == []


def test_ssh_user_and_key_name():
    data = openstack_event()
    data["openstack"]["ssh_user"] = "cloud-user"
    data["openstack"]["key_name"] = "trainer-key"
    event = ok(data)
    assert event["openstack"]["ssh_user"] == "cloud-user"
    assert event["openstack"]["key_name"] == "trainer-key"


@pytest.mark.parametrize(("key", "value"), [("ssh_user", "Debian"), ("ssh_user", "1user"), ("key_name", 5)])
def test_ssh_user_and_key_name_invalid(key, value):
    data = openstack_event()
    data["openstack"][key] = value
    fails(data, f"openstack.{key}", "")


def test_shared_storage():
    data = openstack_event()
    data["openstack"]["shared_storage"] = "site"
    assert ok(data)["openstack"]["shared_storage"] == "site"


@pytest.mark.parametrize("value", ["cephfs", "NFS", True, ["site"]])
def test_shared_storage_invalid(value):
    data = openstack_event()
    data["openstack"]["shared_storage"] = value
    fails(data, "openstack.shared_storage", "must be one of: nfs, site")


# -- accounts ------------------------------------------------------------------------------


@pytest.mark.parametrize("guests", [1, 25, 1000])
def test_guests(guests):
    assert ok(docker_event(accounts={"guests": guests}))["accounts"]["guests"] == guests


@pytest.mark.parametrize("guests", [0, -3, 1001, "3", True, 2.0])
def test_guests_invalid(guests):
    fails(docker_event(accounts={"guests": guests}), "accounts.guests", "must be an integer between 1 and 1000")


@pytest.mark.parametrize("prefix", ["student", "u", "_x", "team-a", "s1", "p" * 20])
def test_guest_prefix(prefix):
    assert ok(docker_event(accounts={"prefix": prefix}))["accounts"]["prefix"] == prefix


@pytest.mark.parametrize("prefix", ["Guest", "1guest", "-guest", "gu est", "gäst", "", 7])
def test_guest_prefix_invalid(prefix):
    fails(docker_event(accounts={"prefix": prefix}), "accounts.prefix", "")


def test_guest_prefix_at_most_20_characters():
    fails(docker_event(accounts={"prefix": "p" * 21}), "accounts.prefix", "at most 20 characters")


@pytest.mark.parametrize("days", [0, 1, 30])
def test_grace_days(days):
    event = ok(docker_event(end_date="2030-12-31", accounts={"grace_days": days}))
    assert event["accounts"]["grace_days"] == days
    assert event["expires"] == (datetime.date(2030, 12, 31) + datetime.timedelta(days=days)).isoformat()


def test_expires_crosses_the_year():
    assert ok(docker_event(accounts={"grace_days": 1}))["expires"] == "2031-01-01"


@pytest.mark.parametrize("days", [-1, "7", True, 1.5])
def test_grace_days_invalid(days):
    fails(docker_event(accounts={"grace_days": days}), "accounts.grace_days", "must be an integer >= 0")


@pytest.mark.parametrize("uid", [1000, 10001, 200000])
def test_uid_start(uid):
    assert ok(docker_event(accounts={"uid_start": uid}))["accounts"]["uid_start"] == uid


@pytest.mark.parametrize("uid", [999, 0, "10001", True])
def test_uid_start_invalid(uid):
    fails(docker_event(accounts={"uid_start": uid}), "accounts.uid_start", "must be an integer >= 1000")


@pytest.mark.parametrize(("uid", "guests"), [(8999, 1), (8998, 2), (9500, 3), (9999, 1), (8000, 2000)])
def test_uid_start_overlaps_the_clusters_own_ids(uid, guests):
    fails(
        docker_event(accounts={"uid_start": uid, "guests": min(guests, 1000)}),
        "accounts.uid_start",
        "overlap 8999-9999, which the cluster keeps for its check account",
    )


@pytest.mark.parametrize(("uid", "guests"), [(8997, 2), (10000, 5), (1000, 1000)])
def test_uid_start_beside_the_clusters_own_ids(uid, guests):
    assert ok(docker_event(accounts={"uid_start": uid, "guests": guests}))["accounts"]["uid_start"] == uid


def test_check_account():
    assert ok(docker_event())["check_account"] == {"name": "learnhpc-check", "uid": 8999}
    fails(
        docker_event(accounts={"instructors": [{"name": "learnhpc-check", "ssh_key": "generate"}]}),
        "accounts.instructors[0].name",
        "'learnhpc-check' is reserved",
    )


def instructors(*items):
    return docker_event(accounts={"instructors": list(items)})


def test_instructors():
    event = ok(
        instructors(
            {"name": "ada", "ssh_key": ED25519, "email": "ada@example.org"},
            {"name": "grace_h", "ssh_key": ECDSA},
            {"name": "trainer", "ssh_key": "generate"},
        )
    )
    assert event["accounts"]["instructors"] == [
        {"name": "ada", "ssh_key": ED25519, "email": "ada@example.org"},
        {"name": "grace_h", "ssh_key": ECDSA, "email": None},
        {"name": "trainer", "ssh_key": "generate", "email": None},
    ]


def test_instructors_must_be_a_list_of_mappings():
    fails(docker_event(accounts={"instructors": {"name": "ada"}}), "accounts.instructors", "must be a list")
    fails(instructors("ada"), "accounts.instructors[0]", "must be a mapping")


def test_instructor_name_is_required():
    fails(instructors({"ssh_key": "generate"}), "accounts.instructors[0].name", "is required")


@pytest.mark.parametrize("name", ["Ada", "1ada", "-ada", "ada smith", "a" * 33, 5])
def test_instructor_name_invalid(name):
    fails(instructors({"name": name, "ssh_key": "generate"}), "accounts.instructors[0].name", "")


def test_instructor_name_unique():
    data = instructors({"name": "ada", "ssh_key": "generate"}, {"name": "ada", "ssh_key": ED25519})
    fails(data, "accounts.instructors[1].name", "'ada' is used twice (also by accounts.instructors[0])")


@pytest.mark.parametrize(("prefix", "name"), [("guest", "guest1"), ("guest", "guest001"), ("stud", "stud12")])
def test_instructor_name_must_not_look_like_a_guest(prefix, name):
    data = docker_event(accounts={"prefix": prefix, "instructors": [{"name": name, "ssh_key": "generate"}]})
    fails(data, "accounts.instructors[0].name", "looks like a guest account")


@pytest.mark.parametrize(("prefix", "name"), [("guest", "guest"), ("guest", "guests"), ("stud", "guest01")])
def test_instructor_name_like_but_not_a_guest(prefix, name):
    data = docker_event(accounts={"prefix": prefix, "instructors": [{"name": name, "ssh_key": "generate"}]})
    assert ok(data)["accounts"]["instructors"][0]["name"] == name


@pytest.mark.parametrize("name", ["root", "slurm", "munge", "debian"])
def test_instructor_name_reserved(name):
    fails(instructors({"name": name, "ssh_key": "generate"}), "accounts.instructors[0].name", "is reserved")


def test_instructor_ssh_key_is_required():
    fails(instructors({"name": "ada"}), "accounts.instructors[0].ssh_key", "is required")
    fails(instructors({"name": "ada", "ssh_key": None}), "accounts.instructors[0].ssh_key", "'generate'")


@pytest.mark.parametrize("key_type", event_checker.SSH_KEY_TYPES)
def test_instructor_ssh_key_types(key_type):
    key = make_key(key_type)
    assert ok(instructors({"name": "ada", "ssh_key": key}))["accounts"]["instructors"][0]["ssh_key"] == key


def test_instructor_ssh_key_without_comment_and_stripped():
    key = make_key("ssh-ed25519", comment="")
    event = ok(instructors({"name": "ada", "ssh_key": f"  {key}\n"}))
    assert event["accounts"]["instructors"][0]["ssh_key"] == key


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (make_key("ssh-dss"), "key type 'ssh-dss' is not supported"),
        (make_key("ssh-rsa", inner_type="ssh-ed25519"), "does not hold a ssh-rsa key"),
        ("ssh-ed25519 not*base64 ada", "not valid base64"),
        ("ssh-ed25519 AAAA", "does not hold a ssh-ed25519 key"),
        ("ssh-ed25519", "TYPE BASE64"),
        ("", "TYPE BASE64"),
        (ED25519 + "\n" + ECDSA, "must be one line"),
        ('from="10.0.0.1" ' + ED25519, "is not supported"),
        (ED25519.split()[1], "TYPE BASE64"),
        (["ssh-ed25519", "AAAA"], "(a string)"),
        ("GENERATE", "TYPE BASE64"),
    ],
)
def test_instructor_ssh_key_invalid(key, text):
    fails(instructors({"name": "ada", "ssh_key": key}), "accounts.instructors[0].ssh_key", text)


def test_ssh_key_error():
    assert event_checker.ssh_key_error(ED25519) is None
    assert event_checker.ssh_key_error(ECDSA) is None
    assert event_checker.ssh_key_error("generate") is not None  # only the schema knows "generate"


@pytest.mark.parametrize("email", ["ada", "ada@", "@example.org", "ada@example", "a da@example.org", 3])
def test_instructor_email_invalid(email):
    data = instructors({"name": "ada", "ssh_key": "generate", "email": email})
    fails(data, "accounts.instructors[0].email", "")


def test_instructor_errors_name_the_index():
    data = instructors({"name": "ada", "ssh_key": "generate"}, {"name": "bob", "ssh_key": "nope"})
    errors = fails(data, "accounts.instructors[1].ssh_key", "")
    assert len(errors) == 1


# -- budget, software, services ------------------------------------------------------------


@pytest.mark.parametrize("hours", [None, 100, 0.5])
def test_core_hours_per_guest(hours):
    assert ok(docker_event(budget={"core_hours_per_guest": hours}))["budget"]["core_hours_per_guest"] == hours


@pytest.mark.parametrize("hours", [0, -5, 0.0, "100", True, float("inf")])
def test_core_hours_per_guest_invalid(hours):
    fails(docker_event(budget={"core_hours_per_guest": hours}), "budget.core_hours_per_guest", "must be a number > 0")


def test_eessi_defaults_by_provider():
    assert ok(docker_event())["software"]["eessi"] is False
    assert ok(openstack_event())["software"]["eessi"] is True
    assert ok(docker_event(software={"eessi": True}))["software"]["eessi"] is True
    assert ok(openstack_event(software={"eessi": False}))["software"]["eessi"] is False


@pytest.mark.parametrize("value", ["yes", "true", 1, 0])
def test_eessi_invalid(value):
    fails(docker_event(software={"eessi": value}), "software.eessi", "must be true or false")


@pytest.mark.parametrize("version", ["2023.06", "2025.06"])
def test_eessi_version(version):
    assert ok(docker_event(software={"eessi_version": version}))["software"]["eessi_version"] == version


@pytest.mark.parametrize(
    ("version", "text"),
    [(2023.06, "in quotes"), ("2023.6", "YYYY.MM"), ("23.06", "YYYY.MM"), ("latest", "YYYY.MM"), (2023, "quotes")],
)
def test_eessi_version_invalid(version, text):
    fails(docker_event(software={"eessi_version": version}), "software.eessi_version", text)


@pytest.mark.parametrize(
    ("compute", "software", "proxy"),
    [
        ({"count": 2}, {"eessi": True}, False),
        ({"count": 3}, {"eessi": True}, False),
        ({"count": 4}, {"eessi": True}, True),
        ({"count": 2, "max_count": 8}, {"eessi": True}, True),
        ({"count": 8}, {"eessi": False}, False),
        ({"count": 2}, {"eessi": True, "cvmfs_proxy": True}, True),
        ({"count": 8}, {"eessi": True, "cvmfs_proxy": False}, False),
    ],
)
def test_cvmfs_proxy_default_follows_size(compute, software, proxy):
    event = ok(docker_event(nodes={"compute": compute}, software=software))
    assert event["software"]["cvmfs_proxy"] is proxy


def test_cvmfs_proxy_without_eessi():
    fails(docker_event(software={"cvmfs_proxy": True}), "software.cvmfs_proxy", "needs software.eessi: true")
    fails(docker_event(software={"cvmfs_proxy": "yes", "eessi": True}), "software.cvmfs_proxy", "true or false")


def test_cvmfs_proxy_with_bad_nodes_reports_only_the_nodes():
    errors = validate(docker_event(nodes={"compute": {"count": 0}}, software={"eessi": True}), "demo")[1]
    assert [e for e in errors if "cvmfs_proxy" in e] == []


@pytest.mark.parametrize("key", ["jupyterhub", "globus", "slurm_rest"])
def test_services(key):
    # Globus has settings that are required once it is on (see the globus tests below).
    settings = {"globus": GLOBUS} if key == "globus" else {}
    assert ok(docker_event(services={key: True}, **settings))["services"][key] is True
    assert ok(docker_event(services={key: False}))["services"][key] is False


@pytest.mark.parametrize("key", ["jupyterhub", "globus", "slurm_rest"])
@pytest.mark.parametrize("value", ["yes", 1, [True]])
def test_services_invalid(key, value):
    fails(docker_event(services={key: value}), f"services.{key}", "must be true or false")


# -- derived: file and state_dir -----------------------------------------------------------


def test_file_and_state_dir_default_from_the_path(tmp_path):
    path = tmp_path / "events" / "demo.yml"
    event = ok(docker_event(), path=str(path))
    assert event["file"] == str(path)
    assert event["state_dir"] == str(tmp_path / "events" / ".state" / "demo")


def test_state_dir_in_events_dir(tmp_path):
    event = ok(docker_event(), path=str(tmp_path / "demo.yml"), events_dir=str(tmp_path / "elsewhere"))
    assert event["state_dir"] == str(tmp_path / "elsewhere" / ".state" / "demo")


def test_file_is_absolute_for_a_relative_path():
    event = ok(docker_event(), path="events/demo.yml")
    assert os.path.isabs(event["file"])
    assert event["file"] == os.path.abspath("events/demo.yml")
    assert event["state_dir"] == os.path.join(os.path.abspath("events"), ".state", "demo")


# -- reading files -------------------------------------------------------------------------


def write(directory, name, text):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_event_by_name(tmp_path):
    write(tmp_path, "workshop.yml", "end_date: 2030-12-31\nnodes:\n  compute:\n    count: 3\n")
    event, errors = ev.load_event(name="workshop", events_dir=str(tmp_path), today=TODAY)
    assert errors == []
    assert event["name"] == "workshop"
    assert event["end_date"] == "2030-12-31"
    assert event["compute_names"] == ["workshop-compute-01", "workshop-compute-02", "workshop-compute-03"]
    assert event["file"] == str(tmp_path / "workshop.yml")
    assert event["state_dir"] == str(tmp_path / ".state" / "workshop")


def test_load_event_by_path(tmp_path):
    path = write(tmp_path, "course-1.yml", "end_date: '2030-12-31'\n")
    event, errors = ev.load_event(str(path), today=TODAY)
    assert errors == []
    assert event["name"] == "course-1"
    assert event["state_dir"] == str(tmp_path / ".state" / "course-1")


def test_load_event_needs_path_or_name_and_dir():
    with pytest.raises(ValueError, match="path"):
        ev.load_event(name="demo")


def test_load_event_by_path_with_a_bad_name(tmp_path):
    for name in ("Course.yml", "course.yaml", "course_1.yml"):
        path = write(tmp_path, name, "end_date: 2030-12-31\n")
        event, errors = ev.load_event(str(path), today=TODAY)
        assert event is None
        assert len(errors) == 1
        assert "an event file must be named <event>.yml" in errors[0]


def test_unknown_event_lists_the_events(tmp_path):
    write(tmp_path, "workshop.yml", "end_date: 2030-12-31\n")
    write(tmp_path, "demo.yml", "end_date: 2030-12-31\n")
    write(tmp_path, "notes.txt", "x")
    write(tmp_path, "Bad_Name.yml", "x")
    write(tmp_path / ".state", "x.yml", "x")
    event, errors = ev.load_event(name="foo", events_dir=str(tmp_path), today=TODAY)
    assert event is None
    assert errors == [f"unknown event 'foo': the events in {tmp_path}/ are demo, workshop"]


def test_unknown_event_when_there_are_none(tmp_path):
    event, errors = ev.load_event(name="foo", events_dir=str(tmp_path), today=TODAY)
    assert event is None
    assert errors == [f"unknown event 'foo': there are none in {tmp_path}/"]


def test_unknown_event_when_the_directory_is_missing(tmp_path):
    errors = ev.load_event(name="foo", events_dir=str(tmp_path / "nope"), today=TODAY)[1]
    assert errors == [f"unknown event 'foo': the events directory {tmp_path / 'nope'}/ does not exist"]


def test_list_events(tmp_path):
    assert ev.list_events(str(tmp_path / "missing")) == []
    write(tmp_path, "b.yml", "")
    write(tmp_path, "a-1.yml", "")
    (tmp_path / "dir.yml").mkdir()
    assert ev.list_events(str(tmp_path)) == ["a-1", "b"]


@pytest.mark.parametrize("name", ["Foo", "foo_bar", "../etc/passwd", "a" * 25])
def test_load_event_invalid_name(tmp_path, name):
    event, errors = ev.load_event(name=name, events_dir=str(tmp_path), today=TODAY)
    assert event is None
    assert len(errors) == 1
    assert "is not valid" in errors[0]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("end_date: 2030-12-31\nnodes:\n  compute: {count: 2\n", "line 4, column 1"),
        ("end_date: 2030-12-31\n  nodes: x\n", "line 2, column 8"),
        ("end_date: [2030\n", "line 2, column 1"),
        ("end_date: 2030-12-31\n\tnodes: {}\n", "line 2, column 1"),
        ("a: 1\n---\nb: 2\n", "line 2, column 1"),
    ],
)
def test_invalid_yaml_is_one_line_with_line_and_column(tmp_path, text, where):
    path = write(tmp_path, "demo.yml", text)
    event, errors = ev.load_event(str(path), today=TODAY)
    assert event is None
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: {where}: not valid YAML: ")
    assert "\n" not in errors[0]
    assert "Traceback" not in errors[0]


def test_duplicate_keys_are_yaml_errors(tmp_path):
    path = write(tmp_path, "demo.yml", "end_date: 2030-12-31\nnodes: {}\nend_date: 2031-01-01\n")
    errors = ev.load_event(str(path), today=TODAY)[1]
    assert errors == [f"{path}: line 3, column 1: not valid YAML: duplicate key 'end_date' (first given on line 1)"]


def test_merge_keys_are_not_duplicates(tmp_path):
    text = "end_date: 2030-12-31\nnodes:\n  mgmt: &base {name: head}\n  login:\n    <<: *base\n    name: front\n"
    path = write(tmp_path, "demo.yml", text)
    event, errors = ev.load_event(str(path), today=TODAY)
    assert errors == []
    assert event["nodes"]["login"]["name"] == "front"


@pytest.mark.parametrize(
    ("text", "what"),
    [("", "nothing (the file is empty)"), ("- end_date: 2030-12-31\n", "a list"), ("demo\n", "a str")],
)
def test_file_that_is_not_a_mapping(tmp_path, text, what):
    path = write(tmp_path, "demo.yml", text)
    event, errors = ev.load_event(str(path), today=TODAY)
    assert event is None
    assert errors == [f"{path}: the file must hold a mapping of settings (see docs/event-file.md), got {what}"]


def test_unreadable_file(tmp_path):
    path = tmp_path / "demo.yml"
    path.write_bytes(b"end_date: \xff\xfe\n")
    errors = ev.load_event(str(path), today=TODAY)[1]
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: cannot read the file: ")


def test_missing_file_by_path(tmp_path):
    errors = ev.load_event(str(tmp_path / "demo.yml"), today=TODAY)[1]
    assert errors == [f"{tmp_path / 'demo.yml'}: cannot read the file: No such file or directory"]


def test_yaml_dates_are_read_as_dates(tmp_path):
    path = write(tmp_path, "demo.yml", "start_date: 2030-12-01\nend_date: 2030-12-31\n")
    event, errors = ev.load_event(str(path), today=TODAY)
    assert errors == []
    assert (event["start_date"], event["end_date"]) == ("2030-12-01", "2030-12-31")


def test_yaml_eessi_version_unquoted(tmp_path):
    path = write(tmp_path, "demo.yml", "end_date: 2030-12-31\nsoftware:\n  eessi_version: 2023.06\n")
    errors = ev.load_event(str(path), today=TODAY)[1]
    assert errors == [f"{path}: software.eessi_version: must be a string such as '2023.06' (in quotes), got 2023.06"]


def test_load_event_errors_and_warnings(tmp_path):
    text = (
        "provider: openstack\n"
        "end_date: 2030-12-31\n"
        "openstack:\n"
        "  cloud: c\n  image: i\n  external_network: public\n"
        "  flavors: {mgmt: a, login: b, compute: c}\n"
        "  allowed_cidrs: [0.0.0.0/0]\n"
    )
    path = write(tmp_path, "demo.yml", text)
    warnings = []
    event, errors = ev.load_event(str(path), today=TODAY, warnings=warnings)
    assert errors == []
    assert event["openstack"]["allowed_cidrs"] == ["0.0.0.0/0"]
    assert warnings == [
        f"{path}: openstack.allowed_cidrs[0]: 0.0.0.0/0 lets the whole internet reach the login node's SSH and "
        "HTTPS ports"
    ]


def test_relative_paths_in_messages(tmp_path, monkeypatch):
    write(tmp_path / "events", "demo.yml", "end_date: 2020-01-01\n")
    monkeypatch.chdir(tmp_path)
    event, errors = ev.load_event(name="demo", events_dir="events", today=TODAY)
    assert event is None
    assert errors == ["events/demo.yml: end_date: 2020-01-01 is in the past (today is 2025-06-01)"]
    errors = ev.load_event(name="nope", events_dir=str(tmp_path / "events"), today=TODAY)[1]
    assert errors == ["unknown event 'nope': the events in events/ are demo"]
    event, errors = ev.load_event(name="demo", events_dir="events", today=TODAY, check_dates=False)
    assert errors == []
    assert event["file"] == str(tmp_path / "events" / "demo.yml")


# -- the demo event ------------------------------------------------------------------------


def test_demo_event_file_validates():
    warnings = []
    event, errors = ev.load_event(str(REPO / "events" / "demo.yml"), today=TODAY, warnings=warnings)
    assert errors == []
    assert warnings == []
    assert event["name"] == "demo"
    assert event["provider"] == "docker"
    assert event["end_date"] == "2030-12-31"
    assert [node["name"] for node in event["nodes_list"]] == [
        "demo-mgmt",
        "demo-login",
        "demo-compute-01",
        "demo-compute-02",
    ]
    assert event["accounts"]["guests"] == 3
    assert event["accounts"]["prefix"] == "guest"
    assert event["accounts"]["instructors"] == [{"name": "trainer", "ssh_key": "generate", "email": None}]
    assert event["docker"]["ssh_port"] == 2222
    assert event["services"]["jupyterhub"] is True
    assert event["jupyterhub"]["idle_minutes"] == 60
    assert event["software"]["eessi"] is False
    assert event["state_dir"] == str(REPO / "events" / ".state" / "demo")


def test_demo_event_file_validates_today():
    event, errors = ev.load_event(name="demo", events_dir=str(REPO / "events"))
    assert errors == []
    assert event["end_date"] == "2030-12-31"


# -- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        ("two", "'two'"),
        (3, "3"),
        (datetime.date(2030, 1, 2), "2030-01-02"),
    ],
)
def test_show(value, shown):
    assert ev.show(value) == shown


def test_show_is_short():
    assert len(ev.show("x" * 500)) == 60


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2030-12-31", datetime.date(2030, 12, 31)),
        (datetime.date(2030, 12, 31), datetime.date(2030, 12, 31)),
        ("2030-02-30", None),
        ("2030-12-31T00:00", None),
        (datetime.datetime(2030, 12, 31, 1, 2), None),
        (None, None),
    ],
)
def test_parse_date(value, parsed):
    assert ev.parse_date(value) == parsed


# -- docs/event-file.md --------------------------------------------------------------------


def doc_yaml_blocks():
    text = (REPO / "docs" / "event-file.md").read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]


def test_the_complete_example_of_the_docs_validates():
    block = next(b for b in doc_yaml_blocks() if "name: spring-school" in b)
    event = ok(yaml.safe_load(block), name="spring-school")
    assert event["compute_names"] == [f"spring-school-compute-0{i}" for i in range(1, 7)]
    assert event["nodes"]["compute"]["flavor"] == "m1.xlarge"
    assert event["expires"] == "2030-04-18"
    assert [i["name"] for i in event["accounts"]["instructors"]] == ["ada", "grace"]


def test_the_smallest_example_of_the_docs_validates():
    assert ok(yaml.safe_load(doc_yaml_blocks()[0]))["compute_names"] == ["demo-compute-01", "demo-compute-02"]


@pytest.mark.parametrize(
    ("section", "keys"),
    [
        ("", event_keys.keys_in("")),
        ("nodes.mgmt", event_keys.keys_in("nodes.mgmt")),
        ("nodes.login", event_keys.keys_in("nodes.login")),
        ("nodes.compute", event_keys.keys_in("nodes.compute")),
        ("docker", event_keys.keys_in("docker")),
        ("openstack", event_keys.keys_in("openstack")),
        ("openstack.flavors", event_keys.keys_in("openstack.flavors")),
        ("accounts", event_keys.keys_in("accounts")),
        ("", event_keys.keys_in("accounts.instructors[]")),
        ("budget", event_keys.keys_in("budget")),
        ("software", event_keys.keys_in("software")),
        ("services", event_keys.keys_in("services")),
        ("autoscale", event_keys.keys_in("autoscale")),
        ("globus", event_keys.keys_in("globus")),
        ("nodes.dtn", event_keys.keys_in("nodes.dtn")),
    ],
)
def test_every_key_is_documented(section, keys):
    text = (REPO / "docs" / "event-file.md").read_text(encoding="utf-8")
    for key in keys:
        full = f"{section}.{key}" if section else key
        assert f"| `{full}" in text, full


def test_jupyterhub_defaults():
    event = ok(docker_event(services={"jupyterhub": True}))
    assert event["jupyterhub"] == {"cpus": 2, "memory_gb": 2, "hours": 8, "idle_minutes": 60}


def test_jupyterhub_settings():
    settings = {"cpus": 4, "memory_gb": 8, "hours": 3, "idle_minutes": 20}
    assert ok(docker_event(services={"jupyterhub": True}, jupyterhub=settings))["jupyterhub"] == settings


@pytest.mark.parametrize(
    ("settings", "key", "text"),
    [
        ({"cpus": 0}, "jupyterhub.cpus", "between 1 and 256"),
        ({"memory_gb": "4G"}, "jupyterhub.memory_gb", "between 1 and 4096"),
        ({"hours": 1.5}, "jupyterhub.hours", "an integer"),
        ({"idle_minutes": True}, "jupyterhub.idle_minutes", "an integer"),
        ({"gpus": 1}, "jupyterhub.gpus", "unknown"),
    ],
)
def test_jupyterhub_invalid(settings, key, text):
    fails(docker_event(services={"jupyterhub": True}, jupyterhub=settings), key, text)


def test_jupyterhub_settings_need_the_service():
    fails(docker_event(jupyterhub={"cpus": 2}), "jupyterhub", "needs services.jupyterhub: true")


# -- globus --------------------------------------------------------------------------------

GLOBUS = {
    "organization": "Example University",
    "contact_email": "hpc@example.org",
    "domain": "example.org",
    "agree_to_letsencrypt_tos": True,
}


def globus_event(globus=None, services=None, make=docker_event, **top):
    return make(services={"globus": True, **(services or {})}, globus={**GLOBUS, **(globus or {})}, **top)


def test_globus_off_is_null():
    assert ok(docker_event())["globus"] is None


def test_globus_defaults_on_the_login_node():
    event = ok(globus_event(), warnings=(warnings := []))
    assert event["globus"] == {
        "node": "login",
        "node_name": "demo-login",
        "display_name": "demo",
        "organization": "Example University",
        "contact_email": "hpc@example.org",
        "owner": None,
        "domain": "example.org",
        "agree_to_letsencrypt_tos": True,
        "credentials_file": None,
    }
    assert "dtn" not in event["nodes"]
    assert [n["roles"] for n in event["nodes_list"]] == [["mgmt"], ["login"], ["compute"], ["compute"]]
    assert warnings == [
        "events/demo.yml: globus: the docker provider publishes no Globus data ports (50000-51000), and port 443 "
        "only on docker.bind_address: the endpoint is set up, but Globus cannot reach it for transfers"
    ]


def test_globus_display_name_is_the_description():
    assert ok(globus_event(description="HPC school"))["globus"]["display_name"] == "HPC school"
    assert ok(globus_event({"display_name": "School data"}))["globus"]["display_name"] == "School data"


def test_globus_with_jupyterhub_gets_a_data_transfer_node():
    event = ok(globus_event(services={"jupyterhub": True}))
    assert event["globus"]["node"] == "dtn"
    assert event["globus"]["node_name"] == "demo-dtn"
    assert event["nodes"]["dtn"] == {"name": "dtn", "flavor": None}
    assert event["nodes_list"][-1] == {"name": "demo-dtn", "short": "dtn", "roles": ["dtn"]}
    # The compute nodes are still the compute nodes.
    assert event["compute_names"] == ["demo-compute-01", "demo-compute-02"]


def test_globus_dtn_on_openstack_has_the_login_flavor_or_its_own():
    event = ok(globus_event({"node": "dtn"}, make=openstack_event), warnings=(warnings := []))
    assert event["nodes"]["dtn"] == {"name": "dtn", "flavor": "m1.small"}
    assert warnings == [
        "events/demo.yml: globus: TCP 443 and 50000-51000 of demo-dtn are open to the whole internet: Globus's "
        "services and other endpoints connect from anywhere"
    ]
    named = ok(globus_event({"node": "dtn"}, make=openstack_event, nodes={"dtn": {"name": "data", "flavor": "m1.x"}}))
    assert named["nodes"]["dtn"] == {"name": "data", "flavor": "m1.x"}
    assert named["globus"]["node_name"] == "demo-data"


def test_globus_credentials_file_relative_to_the_event_file(tmp_path):
    (tmp_path / "globus.vault.yml").write_text("globus_endpoint_client_id: x\n", encoding="utf-8")
    path = str(tmp_path / "demo.yml")
    event = ok(globus_event({"credentials_file": "globus.vault.yml"}), path=path)
    assert event["globus"]["credentials_file"] == str(tmp_path / "globus.vault.yml")
    absolute = ok(globus_event({"credentials_file": str(tmp_path / "globus.vault.yml")}), path="events/demo.yml")
    assert absolute["globus"]["credentials_file"] == str(tmp_path / "globus.vault.yml")


@pytest.mark.parametrize(
    ("data", "key", "text"),
    [
        (docker_event(services={"globus": True}), "globus.organization", "is required: the organization"),
        (docker_event(services={"globus": True}), "globus.contact_email", "is required: an e-mail address"),
        (docker_event(services={"globus": True}), "globus.domain", "is required: an identity domain"),
        (docker_event(services={"globus": True}), "globus.agree_to_letsencrypt_tos", "must be true: the endpoint's"),
        (globus_event({"agree_to_letsencrypt_tos": "yes"}), "globus.agree_to_letsencrypt_tos", "got 'yes'"),
        (globus_event({"contact_email": "hpc.example.org"}), "globus.contact_email", "must be an e-mail address"),
        (globus_event({"organization": ""}), "globus.organization", "must be a non-empty string"),
        (globus_event({"domain": "Example.ORG"}), "globus.domain", "must be an identity domain, a DNS name"),
        (globus_event({"domain": "ada@example.org"}), "globus.domain", "must be an identity domain"),
        (globus_event({"owner": "ada"}), "globus.owner", "must be a Globus identity user name such as"),
        (globus_event({"node": "mgmt"}), "globus.node", "must be one of: login, dtn, got 'mgmt'"),
        (
            globus_event({"node": "login"}, services={"jupyterhub": True}),
            "globus.node",
            "login cannot hold the Globus endpoint while services.jupyterhub is on",
        ),
        (globus_event({"credentials_file": "nowhere.vault.yml"}), "globus.credentials_file", "no such file: "),
        (globus_event({"colour": "blue"}), "globus.colour", "unknown key; the allowed keys in globus are: node,"),
        (docker_event(globus=GLOBUS), "globus", "needs services.globus: true"),
        (docker_event(nodes={"dtn": {"name": "data"}}), "nodes.dtn", "is only used with services.globus: true"),
        (globus_event(nodes={"dtn": {"name": "data"}}), "nodes.dtn", "is only used with globus.node: dtn"),
        (globus_event({"node": "dtn"}, nodes={"dtn": {"name": "Data"}}), "nodes.dtn.name", "must be a host-name"),
        (globus_event({"node": "dtn"}, nodes={"dtn": {"flavor": "m1.x"}}), "nodes.dtn.flavor", "only used with"),
        (globus_event({"node": "dtn"}, nodes={"dtn": {"name": "login"}}), "nodes.dtn.name", "'demo-login' is taken"),
        (
            globus_event({"node": "dtn"}, nodes={"dtn": {"name": "compute-02"}}),
            "nodes.dtn.name",
            "'demo-compute-02' is taken",
        ),
        (globus_event({"node": "dtn"}, nodes={"dtn": {"size": 1}}), "nodes.dtn.size", "unknown key"),
    ],
)
def test_globus_errors(data, key, text):
    fails(data, key, text)


def test_globus_without_anything_is_one_line_per_missing_key():
    _event, errors = validate(docker_event(services={"globus": True}))
    assert [e.split(": ")[1] for e in errors] == [
        "globus.organization",
        "globus.contact_email",
        "globus.domain",
        "globus.agree_to_letsencrypt_tos",
    ]


# -- full matches: a name that ends in a newline is not a name -----------------------------


def test_names_with_a_final_newline_are_refused():
    assert "is not valid" in ev.event_name_error("demo\n")
    fails(docker_event(nodes={"mgmt": {"name": "mgmt\n"}}), "nodes.mgmt.name", "")
    fails(docker_event(nodes={"compute": {"prefix": "compute\n"}}), "nodes.compute.prefix", "")
    fails(instructors({"name": "alice\n", "ssh_key": "generate"}), "accounts.instructors[0].name", "")
    fails(docker_event(end_date="2030-12-31\n"), "end_date", "must be a date YYYY-MM-DD")


@pytest.mark.parametrize("date", ["2030-02-30", "2030-04-31", "2030-13-01"])
def test_an_impossible_calendar_date_names_the_file_and_the_key(tmp_path, date):
    path = write(tmp_path, "course.yml", f"end_date: {date}\n")
    event, errors = ev.load_event(str(path), today=TODAY)
    assert event is None
    assert len(errors) == 1
    assert "course.yml" in errors[0] and "end_date" in errors[0] and "must be a date YYYY-MM-DD" in errors[0]
