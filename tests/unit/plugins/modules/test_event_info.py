# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.event_info against the in-memory cloud of conftest.py."""

from __future__ import annotations

from ansible_collections.learnhpc.cluster.plugins.modules import event_info


def test_lists_events(run, cloud):
    cloud.add_server("ev-mgmt", event="ev", roles="mgmt")
    cloud.add_server("ev-compute-01", event="ev")
    late = cloud.add_server("ev-compute-02", event="ev")
    late.created_at = "2030-12-05T10:00:00Z"
    old = cloud.add_server("old-compute-01", event="old")
    old.metadata["org.learnhpc.end_date"] = "2030-12-02"
    cloud.add_server("someone-vm")
    cloud.add_event_network("netonly")
    failed, result = run(event_info, today="2030-12-11", _ansible_check_mode=True)
    assert not failed, result.get("msg")
    assert result["changed"] is False
    assert result["events"] == [
        {
            "name": "ev",
            "end_date": "2030-12-31",
            "servers": 3,
            "roles": {"mgmt": 1, "compute": 2},
            "created": "2030-12-01T08:00:00Z",
            "age_days": 10,
            "expired": False,
            "networks": 0,
        },
        {
            "name": "netonly",
            "end_date": None,
            "servers": 0,
            "roles": {},
            "created": None,
            "age_days": None,
            "expired": False,
            "networks": 1,
        },
        {
            "name": "old",
            "end_date": "2030-12-02",
            "servers": 1,
            "roles": {"compute": 1},
            "created": "2030-12-01T08:00:00Z",
            "age_days": 10,
            "expired": True,
            "networks": 0,
        },
    ]


def test_one_event(run, cloud):
    cloud.add_server("ev-mgmt", event="ev", roles="mgmt")
    cloud.add_server("old-mgmt", event="old", roles="mgmt")
    failed, result = run(event_info, event="old")
    assert not failed
    assert [e["name"] for e in result["events"]] == ["old"]


def test_bad_today(run, cloud):
    failed, result = run(event_info, today="tomorrow")
    assert failed
    assert result["msg"] == "today: must be a date YYYY-MM-DD, got 'tomorrow'"
