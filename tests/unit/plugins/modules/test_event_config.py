# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.event_config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import _internal as _module_utils_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.modules import event_config

TODAY = "2025-06-01"
REPO = Path(__file__).resolve().parents[4]


def run_module(capsys, **args):
    """Run the module's main() with ``args``; returns (failed, result)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        event_config.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def write(directory, name, text):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def events(tmp_path):
    directory = tmp_path / "events"
    write(directory, "demo.yml", "end_date: 2030-12-31\n")
    write(directory, "workshop.yml", "end_date: 2030-12-31\nnodes:\n  compute:\n    count: 4\n")
    return directory


def test_loads_an_event_by_name(capsys, events):
    failed, result = run_module(capsys, name="workshop", events_dir=str(events), today=TODAY)
    assert not failed
    assert result["changed"] is False
    event = result["event"]
    assert event["name"] == "workshop"
    assert event["start_date"] == TODAY
    assert event["compute_names"] == [f"workshop-compute-0{i}" for i in range(1, 5)]
    assert event["file"] == str(events / "workshop.yml")
    assert event["state_dir"] == str(events / ".state" / "workshop")
    assert result["event_warnings"] == []
    assert "warnings" not in result
    # The module does not create the state directory.
    assert not (events / ".state").exists()


def test_loads_an_event_by_path(capsys, events):
    failed, result = run_module(capsys, path=str(events / "demo.yml"), today=TODAY)
    assert not failed
    assert result["event"]["name"] == "demo"
    assert result["event"]["state_dir"] == str(events / ".state" / "demo")


def test_path_with_events_dir(capsys, events, tmp_path):
    failed, result = run_module(capsys, path=str(events / "demo.yml"), events_dir=str(tmp_path / "x"), today=TODAY)
    assert not failed
    assert result["event"]["state_dir"] == str(tmp_path / "x" / ".state" / "demo")


def test_the_demo_event(capsys):
    failed, result = run_module(capsys, name="demo", events_dir=str(REPO / "events"))
    assert not failed
    event = result["event"]
    assert event["provider"] == "docker"
    assert [node["name"] for node in event["nodes_list"]] == [
        "demo-mgmt",
        "demo-login",
        "demo-compute-01",
        "demo-compute-02",
    ]
    assert event["accounts"]["instructors"][0]["ssh_key"] == "generate"


def test_check_mode(capsys, events):
    failed, result = run_module(capsys, name="demo", events_dir=str(events), today=TODAY, _ansible_check_mode=True)
    assert not failed
    assert result["changed"] is False
    assert result["event"]["name"] == "demo"


def test_unknown_event_lists_the_events(capsys, events):
    failed, result = run_module(capsys, name="foo", events_dir=str(events), today=TODAY)
    assert failed
    assert result["msg"] == f"unknown event 'foo': the events in {events}/ are demo, workshop"
    assert result["errors"] == [result["msg"]]


def test_unknown_event_when_there_are_none(capsys, tmp_path):
    failed, result = run_module(capsys, name="foo", events_dir=str(tmp_path), today=TODAY)
    assert failed
    assert result["msg"] == f"unknown event 'foo': there are none in {tmp_path}/"


def test_invalid_event_name(capsys, events):
    failed, result = run_module(capsys, name="Foo_1", events_dir=str(events), today=TODAY)
    assert failed
    assert "\n" not in result["msg"]
    assert "the event name 'Foo_1' is not valid" in result["msg"]


def test_invalid_yaml(capsys, events):
    path = write(events, "broken.yml", "end_date: 2030-12-31\nnodes:\n  compute: {count: 2\n")
    failed, result = run_module(capsys, name="broken", events_dir=str(events), today=TODAY)
    assert failed
    assert result["msg"].startswith(f"{path}: line 4, column 1: not valid YAML: ")
    assert "\n" not in result["msg"]
    assert "exception" not in result
    assert "Traceback" not in json.dumps(result)


def test_not_a_mapping(capsys, events):
    path = write(events, "list.yml", "- end_date: 2030-12-31\n")
    failed, result = run_module(capsys, name="list", events_dir=str(events), today=TODAY)
    assert failed
    assert result["msg"] == f"{path}: the file must hold a mapping of settings (see docs/event-file.md), got a list"


def test_empty_file(capsys, events):
    write(events, "empty.yml", "")
    failed, result = run_module(capsys, name="empty", events_dir=str(events), today=TODAY)
    assert failed
    assert "got nothing (the file is empty)" in result["msg"]


def test_validation_errors_are_all_reported(capsys, events):
    path = write(events, "bad.yml", "end_date: 2020-01-01\nnodes:\n  compute:\n    count: two\ncolour: blue\n")
    failed, result = run_module(capsys, name="bad", events_dir=str(events), today=TODAY)
    assert failed
    assert result["errors"] == [
        f"{path}: colour: unknown key; the allowed keys at the top level are: name, description, provider, "
        "start_date, end_date, nodes, docker, libvirt, openstack, accounts, budget, software, services, jupyterhub, "
        "autoscale, globus",
        f"{path}: end_date: 2020-01-01 is in the past (today is 2025-06-01)",
        f"{path}: nodes.compute.count: must be an integer >= 1, got 'two'",
    ]
    assert result["msg"] == "\n".join(result["errors"])


def test_check_dates_false_loads_an_event_that_is_over(capsys, events):
    write(events, "past.yml", "end_date: 2020-01-01\n")
    failed, result = run_module(capsys, name="past", events_dir=str(events), today=TODAY, check_dates=False)
    assert not failed
    assert result["event"]["end_date"] == "2020-01-01"
    failed, result = run_module(capsys, name="past", events_dir=str(events), today=TODAY)
    assert failed


def test_today_defaults_to_the_current_date(capsys, events):
    write(events, "past.yml", "end_date: 2020-01-01\n")
    failed, result = run_module(capsys, name="past", events_dir=str(events))
    assert failed
    assert "is in the past" in result["msg"]


def test_today_must_be_a_date(capsys, events):
    failed, result = run_module(capsys, name="demo", events_dir=str(events), today="01.06.2025")
    assert failed
    assert result["msg"] == "today: must be a date YYYY-MM-DD, got '01.06.2025'"


def test_warnings(capsys, events, monkeypatch):
    # Once controller code is imported (other tests do), module warnings go to the display instead of the result.
    monkeypatch.setattr(_module_utils_internal, "is_controller", False)
    text = (
        "provider: openstack\n"
        "end_date: 2030-12-31\n"
        "openstack:\n"
        "  cloud: c\n  image: i\n  external_network: public\n"
        "  flavors: {mgmt: a, login: b, compute: c}\n"
        "  allowed_cidrs: [0.0.0.0/0]\n"
    )
    path = write(events, "open.yml", text)
    failed, result = run_module(capsys, name="open", events_dir=str(events), today=TODAY)
    assert not failed
    expected = f"{path}: openstack.allowed_cidrs[0]: 0.0.0.0/0 lets the whole internet reach the login node's SSH"
    assert len(result["event_warnings"]) == 1
    assert result["event_warnings"][0].startswith(expected)
    # The same lines are the task's warnings (ansible-core 2.19 sends them as structured summaries).
    assert [w["event"]["msg"] for w in result["warnings"]] == result["event_warnings"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ({}, "one of the following is required: name, path"),
        ({"name": "demo"}, "missing parameter(s) required by 'name': events_dir"),
        ({"name": "demo", "path": "/x/demo.yml", "events_dir": "/x"}, "mutually exclusive: name|path"),
    ],
)
def test_option_rules(capsys, args, text):
    failed, result = run_module(capsys, **args)
    assert failed
    assert text in result["msg"]


# -- documentation -------------------------------------------------------------------------


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(event_config.DOCUMENTATION)
    options = doc["options"]
    assert set(options) == set(event_config.ARGUMENT_SPEC)
    for name, spec in event_config.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("required", False) == spec.get("required", False), name
    assert doc["author"].startswith("learnhpc.cluster developers")
    assert str(doc["version_added"]) == "0.1.0"


def test_return_documents_every_key_of_the_event(capsys, events):
    result = run_module(capsys, name="demo", events_dir=str(events), today=TODAY)[1]
    documented = yaml.safe_load(event_config.RETURN)
    assert set(documented["event"]["contains"]) == set(result["event"])
    # nodes.dtn only with globus.node dtn.
    assert set(documented["event"]["contains"]["nodes"]["contains"]) == set(result["event"]["nodes"]) | {"dtn"}
    assert {"event", "event_warnings", "errors"} <= set(documented)


def test_examples_are_yaml():
    examples = yaml.safe_load(event_config.EXAMPLES)
    assert all("learnhpc.cluster.event_config" in task for task in examples if "ansible.builtin.debug" not in task)
