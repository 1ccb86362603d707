# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_event_network against the in-memory cloud of conftest.py."""

from __future__ import annotations

import pytest

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_event_network, openstack_event_resources

TAG = "learnhpc-event=ev"
ARGS = {
    "event": "ev",
    "network_cidr": "10.42.0.0/24",
    "external_network": "public",
    "allowed_cidrs": ["192.0.2.0/24"],
}


def creates(cloud):
    return [entry for entry in cloud.log if entry[0].startswith("create_")]


def test_first_run_creates_everything_tagged_in_the_create_request(run, cloud):
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["created"] == [
        "network/ev-net",
        "subnet/ev-subnet",
        "router/ev-router",
        "security_group/ev-internal",
        "security_group/ev-login",
    ]
    # Each resource made in one request that carries the tag, never tagged afterwards.
    made = [entry for entry in creates(cloud) if entry[0] != "create_security_group_rule"]
    assert [entry[2] for entry in made] == [(TAG,)] * 5
    assert not cloud.calls("set_tags")
    assert not cloud.calls("add_tag")
    for kind in ("networks", "subnets", "routers"):
        (resource,) = [r for r in getattr(cloud, kind) if TAG in r.tags]
        assert resource.description.startswith("learnhpc event ev: ")
    router = next(r for r in cloud.routers if r.name == "ev-router")
    assert router.external_gateway_info == {"network_id": "net-public"}
    subnet = next(s for s in cloud.subnets if s.name == "ev-subnet")
    assert subnet.cidr == "10.42.0.0/24"
    assert subnet.network_id == result["network"]["id"]
    assert any(p.device_id == router.id and p.fixed_ips[0]["subnet_id"] == subnet.id for p in cloud.ports)
    assert cloud.ingress("ev-internal") == [("IPv4", None, None, None, "ev-internal")]
    assert cloud.ingress("ev-login") == [
        ("IPv4", "tcp", 22, 22, "192.0.2.0/24"),
        ("IPv4", "tcp", 443, 443, "192.0.2.0/24"),
    ]
    assert result["security_groups"]["login"]["name"] == "ev-login"
    assert "globus" not in result["security_groups"]


def test_second_run_changes_nothing(run, cloud):
    run(openstack_event_network, **ARGS)
    before = len(cloud.log)
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed, result.get("msg")
    assert result["changed"] is False
    assert not [e for e in cloud.log[before:] if e[0].startswith(("create", "delete", "add", "set", "update"))]


def test_narrowing_allowed_cidrs_replaces_the_rules(run, cloud):
    run(openstack_event_network, **{**ARGS, "allowed_cidrs": ["192.0.2.0/24", "198.51.100.0/24"]})
    failed, result = run(openstack_event_network, **{**ARGS, "allowed_cidrs": ["198.51.100.7/32", "2001:db8::/32"]})
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert sorted(result["rules_removed"]) == [
        "ev-login: tcp 22 from 192.0.2.0/24 (IPv4)",
        "ev-login: tcp 22 from 198.51.100.0/24 (IPv4)",
        "ev-login: tcp 443 from 192.0.2.0/24 (IPv4)",
        "ev-login: tcp 443 from 198.51.100.0/24 (IPv4)",
    ]
    assert cloud.ingress("ev-login") == [
        ("IPv4", "tcp", 22, 22, "198.51.100.7/32"),
        ("IPv4", "tcp", 443, 443, "198.51.100.7/32"),
        ("IPv6", "tcp", 22, 22, "2001:db8::/32"),
        ("IPv6", "tcp", 443, 443, "2001:db8::/32"),
    ]
    # Egress rules (Neutron's defaults) are left alone; the internal group did not change.
    login = next(g for g in cloud.security_groups if g.name == "ev-login")
    assert sum(r.security_group_id == login.id and r.direction == "egress" for r in cloud.rules) == 2
    assert cloud.ingress("ev-internal") == [("IPv4", None, None, None, "ev-internal")]
    failed, result = run(openstack_event_network, **{**ARGS, "allowed_cidrs": ["198.51.100.7/32", "2001:db8::/32"]})
    assert result["changed"] is False


def test_slurm_rest_off_removes_port_6820(run, cloud):
    run(openstack_event_network, **{**ARGS, "login_ports": [22, 443, 6820]})
    assert ("IPv4", "tcp", 6820, 6820, "192.0.2.0/24") in cloud.ingress("ev-login")
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed, result.get("msg")
    assert result["rules_removed"] == ["ev-login: tcp 6820 from 192.0.2.0/24 (IPv4)"]
    assert result["rules_added"] == []
    assert [rule[2] for rule in cloud.ingress("ev-login")] == [22, 443]


def test_a_rule_added_by_hand_is_removed_and_egress_kept(run, cloud):
    run(openstack_event_network, **ARGS)
    login = next(g for g in cloud.security_groups if g.name == "ev-login")
    cloud.network._rule(security_group_id=login.id, direction="ingress", ether_type="IPv4", protocol="6")
    cloud.network._rule(security_group_id=login.id, direction="egress", ether_type="IPv4", protocol="tcp")
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed
    assert result["rules_removed"] == ["ev-login: tcp from 0.0.0.0/0 (IPv4)"]
    assert sum(r.security_group_id == login.id and r.direction == "egress" for r in cloud.rules) == 3


def test_globus_group(run, cloud):
    failed, result = run(openstack_event_network, **ARGS, globus=True)
    assert not failed, result.get("msg")
    assert "security_group/ev-globus" in result["created"]
    assert cloud.ingress("ev-globus") == [
        ("IPv4", "tcp", 443, 443, "0.0.0.0/0"),
        ("IPv4", "tcp", 50000, 51000, "0.0.0.0/0"),
    ]
    # Turned off: the group is left as it is.
    failed, result = run(openstack_event_network, **ARGS)
    assert result["changed"] is False
    assert any(g.name == "ev-globus" for g in cloud.security_groups)


def test_check_mode_on_nothing_reports_and_changes_nothing(run, cloud):
    failed, result = run(openstack_event_network, **ARGS, _ansible_check_mode=True, _ansible_diff=True)
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert len(result["created"]) == 5
    assert sorted(result["rules_added"]) == [
        "ev-internal: any from group ev-internal (IPv4)",
        "ev-login: tcp 22 from 192.0.2.0/24 (IPv4)",
        "ev-login: tcp 443 from 192.0.2.0/24 (IPv4)",
    ]
    assert result["network"] == {"name": "ev-net", "id": None}
    assert result["diff"]["before"]["ev-login"] == []
    assert not creates(cloud)
    assert not [n for n in cloud.networks if n.name == "ev-net"]


def test_check_mode_on_a_change_reports_it_and_changes_nothing(run, cloud):
    run(openstack_event_network, **ARGS)
    before = len(cloud.log)
    failed, result = run(
        openstack_event_network, **{**ARGS, "allowed_cidrs": ["203.0.113.0/24"]}, _ansible_check_mode=True
    )
    assert not failed
    assert result["changed"] is True
    assert len(result["rules_removed"]) == 2
    assert len(result["rules_added"]) == 2
    assert not [e for e in cloud.log[before:] if e[0].startswith(("create", "delete", "add", "set", "update"))]
    assert cloud.ingress("ev-login")[0][4] == "192.0.2.0/24"


def test_without_tag_creation_it_tags_right_after_creating(run, cloud):
    cloud.extensions.discard("tag-creation")
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed, result.get("msg")
    assert [entry[2] for entry in creates(cloud) if entry[0] == "create_network"] == [()]
    assert len(cloud.calls("set_tags")) == 5
    assert all(TAG in r.tags for r in cloud.networks + cloud.subnets + cloud.routers if r.name.startswith("ev-"))


def test_an_untagged_leftover_of_the_event_is_adopted(run, cloud):
    network = cloud.add_untagged("networks", "ev-net", "learnhpc event ev: the event's network")
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed, result.get("msg")
    assert result["tagged"] == ["network/ev-net"]
    assert network.tags == [TAG]
    assert len([n for n in cloud.networks if n.name == "ev-net"]) == 1


@pytest.mark.parametrize(
    ("tags", "description", "whose"),
    [
        ([], None, "no event"),
        ([], "learnhpc event ev-2: the event's network", "no event"),
        (["learnhpc-event=other"], "learnhpc event ev: the event's network", "event 'other'"),
    ],
)
def test_a_network_of_that_name_that_is_not_the_events_is_one_line(run, cloud, tags, description, whose):
    cloud.add_untagged("networks", "ev-net", description, tags=tags)
    failed, result = run(openstack_event_network, **ARGS)
    assert failed
    assert result["msg"].startswith("network 'ev-net' (")
    assert f"belongs to {whose}" in result["msg"]
    assert not creates(cloud)


def test_unknown_external_network_is_one_line(run, cloud):
    failed, result = run(openstack_event_network, **{**ARGS, "external_network": "nope"})
    assert failed
    assert result["msg"] == "external network 'nope' not found: the external networks are public"
    assert not creates(cloud)
    failed, result = run(openstack_event_network, **{**ARGS, "external_network": "shared"})
    assert result["msg"] == "external network 'shared' is not external: the external networks are public"


def test_a_subnet_with_another_range_is_one_line(run, cloud):
    run(openstack_event_network, **ARGS)
    failed, result = run(openstack_event_network, **{**ARGS, "network_cidr": "10.43.0.0/24"})
    assert failed
    assert result["msg"] == (
        "subnet 'ev-subnet' has the range 10.42.0.0/24, not 10.43.0.0/24 (network_cidr); "
        "tear the event down to change it"
    )


def test_bad_input_is_refused_before_connecting(run, cloud):
    failed, result = run(openstack_event_network, **{**ARGS, "allowed_cidrs": ["192.0.2.0/33"], "login_ports": [0]})
    assert failed
    assert result["errors"] == [
        "allowed_cidrs: not a CIDR: '192.0.2.0/33'",
        "login_ports: 0 is not a TCP port (1-65535)",
    ]
    assert cloud.log == []


def test_a_lost_router_interface_and_gateway_are_put_back(run, cloud):
    run(openstack_event_network, **ARGS)
    router = next(r for r in cloud.routers if r.name == "ev-router")
    cloud.ports = [p for p in cloud.ports if p.device_id != router.id]
    router.external_gateway_info = None
    failed, result = run(openstack_event_network, **ARGS)
    assert not failed
    assert result["updated"] == ["router/ev-router: gateway on public", "router/ev-router: interface on ev-subnet"]
    assert router.external_gateway_info == {"network_id": "net-public"}
    assert any(p.device_id == router.id for p in cloud.ports)


def test_teardown_removes_what_event_network_made(run, cloud):
    run(openstack_event_network, **ARGS, globus=True)
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert result["deleted"]["networks"] == 1
    assert result["deleted"]["security_groups"] == 3
    assert not [r for r in cloud.networks + cloud.subnets + cloud.routers + cloud.security_groups if "ev-" in r.name]
