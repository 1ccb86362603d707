# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_event_tags against the in-memory cloud of conftest.py."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_event_tags


def untagged(cloud, name):
    network = SimpleNamespace(id=f"id-{name}", name=name, tags=["keep"], project_id=cloud.current_project_id)
    cloud.networks.append(network)
    return network


def test_tags_once_and_keeps_other_tags(run, cloud):
    network = untagged(cloud, "ev-net")
    failed, result = run(openstack_event_tags, event="ev", resources=[{"kind": "network", "name": "ev-net"}])
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["tagged"] == ["network/ev-net"]
    assert network.tags == ["keep", "learnhpc-event=ev"]
    failed, result = run(openstack_event_tags, event="ev", resources=[{"kind": "network", "name": "ev-net"}])
    assert not failed
    assert result["changed"] is False


def test_check_mode_changes_nothing(run, cloud):
    network = untagged(cloud, "ev-net")
    resources = [{"kind": "network", "name": "ev-net"}, {"kind": "router", "name": "ev-router"}]
    failed, result = run(openstack_event_tags, event="ev", resources=resources, _ansible_check_mode=True)
    assert not failed, result.get("msg")
    assert result["tagged"] == ["network/ev-net", "router/ev-router"]
    assert network.tags == ["keep"]


def test_other_event_and_missing_fail_before_any_change(run, cloud):
    cloud.add_event_network("other")
    network = untagged(cloud, "ev-net")
    resources = [
        {"kind": "network", "name": "ev-net"},
        {"kind": "security_group", "name": "other-internal"},
        {"kind": "subnet", "name": "ev-subnet"},
    ]
    failed, result = run(openstack_event_tags, event="ev", resources=resources)
    assert failed
    assert result["errors"] == [
        "security_group 'other-internal' belongs to event 'other', not 'ev'",
        "subnet 'ev-subnet': found 0 in the project, expected 1",
    ]
    assert network.tags == ["keep"]
