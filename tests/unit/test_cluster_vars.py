# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/cluster_vars.yml gives each node of an event the variables of playbooks/vars/cluster.yml with
include_vars, which ranks above play, role, block and task variables: a variable of that file set in one of
those places by a play or role that configure.yml or check.yml runs would be overridden silently (with
vars_files it was the other way round for block, task and role variables). None may be."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
CLUSTER_VARS = set(yaml.safe_load((PLAYBOOKS / "vars" / "cluster.yml").read_text()))
# What runs after cluster_vars.yml in a run of site.yml, configure.yml or check.yml.
AFTER = ("configure.yml", "check.yml", "site.yml", "tasks/provider_facts.yml")


def vars_keys(node, where, found):
    """Every key of a ``vars:`` mapping anywhere in ``node``, as ``(where, key)``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "vars" and isinstance(value, dict):
                found.extend((where, name) for name in value)
            vars_keys(value, where, found)
    elif isinstance(node, list):
        for item in node:
            vars_keys(item, where, found)
    return found


def test_the_cluster_variables_file_is_a_mapping_of_names():
    assert len(CLUSTER_VARS) > 100
    assert {"slurm_controller_host", "learnhpc_event_config", "ldap_server_base_dn"} <= CLUSTER_VARS


def test_the_playbooks_after_it_set_none_of_its_variables():
    found = []
    for name in AFTER:
        vars_keys(yaml.safe_load((PLAYBOOKS / name).read_text()), name, found)
    clashes = sorted((where, key) for where, key in found if key in CLUSTER_VARS)
    assert clashes == []


def test_the_roles_set_none_of_its_variables():
    found = []
    for path in sorted((ROOT / "roles").glob("*/vars/*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        found.extend((str(path.relative_to(ROOT)), key) for key in data)
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")) + sorted((ROOT / "roles").glob("*/handlers/*.yml")):
        vars_keys(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT)), found)
    clashes = sorted((where, key) for where, key in found if key in CLUSTER_VARS)
    assert clashes == []


def test_the_node_plays_leave_the_file_to_include_vars():
    """vars_files on a play of the nodes would read the file again for each task and host (localhost's plays
    that need the file keep it: it refers to localhost's own variables, which include_vars there would make
    refer to themselves)."""
    for name in ("configure.yml", "check.yml", "site.yml"):
        for play in yaml.safe_load((PLAYBOOKS / name).read_text()):
            if play.get("hosts", "localhost") != "localhost":
                assert "vars/cluster.yml" not in play.get("vars_files", []), (name, play["name"])
    imported = [
        play["ansible.builtin.import_playbook"]
        for name in ("configure.yml", "check.yml")
        for play in yaml.safe_load((PLAYBOOKS / name).read_text())
        if "ansible.builtin.import_playbook" in play
    ]
    assert imported == ["load_event.yml", "cluster_vars.yml"] * 2
