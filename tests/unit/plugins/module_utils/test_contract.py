# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared contract: its rules, docs/contracts.md, and every place that still keeps a copy of a name."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.learnhpc.cluster.plugins.filter import docker as docker_filter
from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, openstack
from ansible_collections.learnhpc.cluster.plugins.module_utils import event_file as event_schema
from ansible_collections.learnhpc.cluster.plugins.plugin_utils import inventory_openstack

ROOT = Path(__file__).resolve().parents[4]
DOC = (ROOT / "docs" / "contracts.md").read_text()
PROGRAM = ROOT / "roles" / "slurm_autoscale" / "files" / "learnhpc_autoscale.py"


def autoscale_program():
    spec = importlib.util.spec_from_file_location("learnhpc_autoscale_contract", PROGRAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("demo", True),
        ("hpc-intro-2026", True),
        ("a" * 24, True),
        ("a" * 25, False),
        ("demo-", False),
        ("1demo", False),
        ("Demo", False),
        ("demo\n", False),
        ("", False),
        (None, False),
    ],
)
def test_event_name_rule(name, valid):
    assert (event_schema.event_name_error(name) is None) is valid


def test_every_key_is_documented():
    keys = [value for name, value in vars(contract).items() if name.endswith("_KEY")]
    assert len(keys) >= 8
    undocumented = [key for key in keys if f"`{key}`" not in DOC]
    assert not undocumented, f"docs/contracts.md does not name {undocumented}"
    assert f"`{contract.TAG_PREFIX}<event>`" in DOC


def test_the_autoscale_program_uses_the_contract_and_the_role_installs_it_beside_it():
    # The program runs on a node, without the collection: the role copies contract.py beside it.
    program = autoscale_program()
    assert Path(program.contract.__file__).resolve() == (ROOT / "plugins/module_utils/contract.py").resolve()
    tasks = (ROOT / "roles/slurm_autoscale/tasks/main.yml").read_text()
    assert re.search(r"loop: \[contract\.py, docker_api\.py\]", tasks)


def test_the_yaml_copies_agree():
    # The docker provider's teardown finds everything by the event label, without the event file.
    docker_vars = yaml.safe_load((ROOT / "roles/docker_provider/vars/main.yml").read_text())
    assert docker_vars["__docker_provider_label"] == contract.EVENT_KEY
    # slurm_autoscale, usable without an event file, names its application credential as
    # openstack_event_resources finds it.
    autoscale_vars = yaml.safe_load((ROOT / "roles/slurm_autoscale/vars/main.yml").read_text())
    credential = autoscale_vars["__slurm_autoscale_credential_name"].replace("{{ slurm_autoscale_event }}", "ev")
    assert credential == contract.openstack_names("ev")["credential"]


def test_node_labels():
    labels = contract.node_labels("ev", ["login"], "2030-12-31", None, "openstack", ssh_user="rocky")
    assert tuple(labels)[: len(contract.NODE_KEYS)] == contract.NODE_KEYS
    assert labels[contract.EXPIRES_KEY] == "2030-12-31"
    assert labels[contract.SSH_USER_KEY] == "rocky"
    assert contract.SSH_USER_KEY not in contract.node_labels("ev", ["compute"], "2030-12-31", "2031-01-07", "docker")
    assert tuple(contract.resource_labels("ev", "2030-12-31", "docker")) == contract.RESOURCE_KEYS


def test_docker_nodes_carry_the_node_keys():
    event = {
        "name": "ev",
        "end_date": "2030-12-31",
        "expires": "2031-01-07",
        "docker": {"image": "learnhpc/node:12"},
    }
    container = docker_filter.docker_node_container({"name": "ev-mgmt", "roles": ["mgmt"]}, event)
    assert tuple(container["labels"]) == contract.NODE_KEYS
    names = contract.docker_names("ev")
    assert container["networks"] == [names["network"]]
    assert sorted(v.split(":")[0] for v in container["volumes"]) == sorted(names["volumes"].values())


def test_openstack_names_agree_with_the_modules():
    names = contract.openstack_names("ev")
    net = openstack.network_names("ev")
    assert net["networks"] == [names["network"]]
    assert (net["subnets"], net["routers"]) == ([names["subnet"]], [names["router"]])
    assert re.fullmatch(r"ev-\w+", names["image_builder"])


def test_secret_values_at_any_depth_and_in_any_case():
    auth = {
        "auth": {
            "username": "demo",
            "Password": "pw-1",
            "application_credential_secret": "s-2",
            "nested": {"token": "t-3", "passcode": "123456", "user_domain_name": "Default"},
            "api_key": "k-4",
            "empty_password": "",
        },
        "region_name": "RegionOne",
    }
    assert sorted(contract.secret_values(auth)) == ["123456", "k-4", "pw-1", "s-2", "t-3"]
    # The modules and the inventory find the same ones.
    assert sorted(openstack._secret_values(auth)) == sorted(contract.secret_values(auth))
    assert sorted(inventory_openstack._secrets(auth)) == sorted(contract.secret_values(auth["auth"]))


def test_scrub_replaces_the_longest_secret_first():
    assert contract.scrub("bad pw-1x and pw-1", ["pw-1", "pw-1x"]) == "bad *** and ***"
    assert contract.scrub("nothing here", []) == "nothing here"


def test_tags():
    assert contract.tags_event(["x", contract.event_tag("ev")]) == "ev"
    assert contract.tags_event(["x"]) is None
    assert contract.is_autoscaled({contract.AUTOSCALED_KEY: "true"})
    assert not contract.is_autoscaled({contract.AUTOSCALED_KEY: "yes"})
