# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_event_resources against the in-memory cloud of conftest.py."""

from __future__ import annotations

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_event_resources
from ansible_collections.learnhpc.cluster.tests.unit.plugins.conftest import Obj

ZERO = dict.fromkeys(openstack_event_resources.KINDS, 0)


def populate(cloud, event):
    network = cloud.add_event_network(event)
    for name in (f"{event}-mgmt", f"{event}-compute-01", f"{event}-compute-02"):
        server = cloud.add_server(name, event=event)
        cloud.add_port(network.id, server.id, "compute:nova")
    return network


def test_removes_everything_of_the_event_in_dependency_order(run, cloud):
    populate(cloud, "ev")
    populate(cloud, "other")
    cloud.delete_listings = 3
    other_before = cloud.event_counts("other")
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["left"] == ZERO
    assert result["deleted"] == {
        **ZERO,
        "servers": 3,
        "floating_ips": 1,
        "router_interfaces": 1,
        "router_gateways": 1,
        "ports": 1,
        "routers": 1,
        "subnets": 1,
        "networks": 1,
        "security_groups": 1,
        "keypairs": 1,
        "volumes": 1,
        "application_credentials": 1,
    }
    assert set(cloud.event_counts("ev").values()) == {0}
    assert cloud.event_counts("other") == other_before
    order = [entry[0] for entry in cloud.log if entry[0].startswith(("delete", "remove", "update_router"))]
    first = {kind: order.index(kind) for kind in dict.fromkeys(order)}
    assert (
        first["delete_server"]
        < first["delete_ip"]
        < first["remove_interface"]
        < first["update_router"]
        < first["delete_port"]
        < first["delete_router"]
        < first["delete_subnet"]
        < first["delete_network"]
        < first["delete_security_group"]
        < first["delete_keypair"]
        < first["delete_volume"]
        < first["delete_application_credential"]
    )
    # The servers were waited for until gone before the network was deleted.
    kinds = [entry[0] for entry in cloud.log]
    assert "sleep" in kinds[kinds.index("delete_server") : kinds.index("delete_ip")]


def test_conflicts_are_retried(run, cloud):
    network = populate(cloud, "ev")
    group = next(g for g in cloud.security_groups if g.name == "ev-internal")
    cloud.conflicts = {network.id: 2, group.id: 3}
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert len([e for e in cloud.log if e[0] == "delete_network"]) == 3
    assert len([e for e in cloud.log if e[0] == "delete_security_group"]) == 4


def test_a_conflict_past_the_timeout_is_one_line(run, cloud):
    network = populate(cloud, "ev")
    cloud.conflicts = {network.id: 1000}
    failed, result = run(openstack_event_resources, event="ev", timeout=30)
    assert failed
    assert result["msg"] == f"cloud learnhpc-test: 409: {network.id} is in use"
    assert "Traceback" not in result["_raw"]


def test_fails_listing_what_is_left(run, cloud, monkeypatch):
    populate(cloud, "ev")
    # A network Neutron says it deleted but that is still there.
    monkeypatch.setattr(type(cloud.network), "delete_network", lambda self, network, ignore_missing=True: None)
    failed, result = run(openstack_event_resources, event="ev")
    assert failed
    assert result["msg"] == "networks of event 'ev' left after the deletion: ev-net"
    assert result["left"] == {**ZERO, "networks": 1}
    assert result["deleted"]["servers"] == 3
    assert result["deleted"]["networks"] == 0


def test_what_is_listed_again_gets_another_pass(run, cloud, monkeypatch):
    populate(cloud, "ev")
    # The first deletion of the network is lost (the cloud lists it again); the second works.
    real = type(cloud.network).delete_network
    calls = []

    def flaky(self, network, ignore_missing=True):
        calls.append(network.id)
        if len(calls) > 1:
            real(self, network, ignore_missing)

    monkeypatch.setattr(type(cloud.network), "delete_network", flaky)
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert len(calls) == 2
    assert result["left"] == ZERO
    assert result["deleted"]["networks"] == 1
    assert [n.name for n in cloud.networks if n.name.startswith("ev-")] == []


def test_check_mode_lists_and_deletes_nothing(run, cloud):
    populate(cloud, "ev")
    before = cloud.event_counts("ev")
    failed, result = run(openstack_event_resources, event="ev", _ansible_check_mode=True)
    assert not failed
    assert result["changed"] is True
    assert result["deleted"]["servers"] == 3
    assert result["resources"]["servers"] == ["ev-compute-01", "ev-compute-02", "ev-mgmt"]
    assert result["resources"]["keypairs"] == ["ev-key"]
    assert cloud.event_counts("ev") == before
    assert not [e for e in cloud.log if e[0].startswith(("delete", "remove", "update"))]


def test_state_present_only_reports(run, cloud):
    populate(cloud, "ev")
    failed, result = run(openstack_event_resources, event="ev", state="present")
    assert not failed
    assert result["changed"] is False
    assert result["resources"]["networks"] == ["ev-net"]
    assert result["deleted"] == ZERO
    assert cloud.event_counts("ev")["servers"] == 3


def test_nothing_to_remove_is_no_change(run, cloud):
    populate(cloud, "other")
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed
    assert result["changed"] is False
    assert result["left"] == ZERO


def test_name_prefix_of_a_longer_event_is_left_to_that_event(run, cloud):
    populate(cloud, "ev")
    populate(cloud, "ev-2")
    failed, _result = run(openstack_event_resources, event="ev")
    assert not failed
    assert [k.name for k in cloud.keypairs] == ["ev-2-key"]
    assert [c.name for c in cloud.app_creds] == ["ev-2-autoscale"]
    assert cloud.event_counts("ev-2")["servers"] == 3


def test_a_trainers_own_key_pair_and_credential_are_left(run, cloud):
    """Owned by what the collection writes into them, not by a name prefix (ev-trainer, ev-key of a trainer)."""
    populate(cloud, "ev")
    cloud.keypairs = [k for k in cloud.keypairs if k.name != "ev-key"]
    cloud.keypairs += [
        Obj(id="ev-trainer", name="ev-trainer", public_key="ssh-ed25519 AAAA ev-trainer"),
        Obj(id="ev-key", name="ev-key", public_key="ssh-ed25519 AAAA trainer@laptop"),
    ]
    cloud.app_creds = [Obj(id="cred-own", name="ev-autoscale", description="the trainer's own")]
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert sorted(k.name for k in cloud.keypairs) == ["ev-key", "ev-trainer"]
    assert [c.name for c in cloud.app_creds] == ["ev-autoscale"]


def test_other_projects_resources_with_the_tag_are_untouched(run, cloud):
    cloud.add_event_network("ev", project="project-2")
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed
    assert result["changed"] is False
    assert sum(n.tags == ["learnhpc-event=ev"] for n in cloud.networks) == 1


def test_a_cloud_without_block_storage(run, cloud):
    populate(cloud, "ev")
    cloud.services.discard("block-storage")
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert result["deleted"]["volumes"] == 0
    assert result["deleted"]["servers"] == 3


def test_an_untagged_leftover_with_the_collections_name_and_description_is_removed(run, cloud):
    """What a deploy interrupted between creating and tagging leaves: found by exact name and description."""
    network = cloud.add_untagged("networks", "ev-net", "learnhpc event ev: the event's network")
    cloud.add_untagged("routers", "ev-router", "learnhpc event ev: the event's router")
    cloud.add_untagged("security_groups", "ev-login", "learnhpc event ev: SSH and HTTPS to the login node")
    subnet = cloud.add_untagged("subnets", "ev-subnet", "learnhpc event ev: the event's subnet")
    subnet.network_id = network.id
    cloud.ips.append(
        Obj(
            id="fip-untagged",
            floating_ip_address="192.0.2.99",
            floating_network_id="net-public",
            port_id=None,
            tags=[],
            description="learnhpc event ev: floating IP",
            project_id=cloud.current_project_id,
        )
    )
    failed, result = run(openstack_event_resources, event="ev", state="present")
    assert result["resources"]["networks"] == ["ev-net"]
    assert result["resources"]["floating_ips"] == ["192.0.2.99"]
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert result["deleted"] == {
        **ZERO,
        "floating_ips": 1,
        "routers": 1,
        "subnets": 1,
        "networks": 1,
        "security_groups": 1,
    }
    assert result["left"] == ZERO
    assert not [r for r in cloud.networks + cloud.subnets + cloud.routers + cloud.security_groups if "ev-" in r.name]
    assert not [ip for ip in cloud.ips if ip.id == "fip-untagged"]


def test_untagged_resources_that_are_not_the_events_are_left(run, cloud):
    """Never by a name prefix (demo-2-net is not demo's), never without the collection's description."""
    kept = [
        cloud.add_untagged("networks", "ev-2-net", "learnhpc event ev-2: the event's network"),
        cloud.add_untagged("networks", "ev-net", None),
        cloud.add_untagged("networks", "ev-net", "the trainer's own network"),
        cloud.add_untagged("networks", "ev-net-old", "learnhpc event ev: the event's network"),
        cloud.add_untagged("routers", "ev-router", "learnhpc event ev-2: the event's router"),
        cloud.add_untagged("security_groups", "ev-2-login", "learnhpc event ev-2: SSH and HTTPS to the login node"),
        cloud.add_untagged("security_groups", "ev-login", "learnhpc event ev: x", tags=["learnhpc-event=other"]),
        cloud.add_untagged("networks", "ev-net", "learnhpc event ev: the event's network", project="project-2"),
    ]
    cloud.ips.append(
        Obj(
            id="fip-2",
            floating_ip_address="192.0.2.98",
            floating_network_id="net-public",
            port_id=None,
            tags=[],
            description="learnhpc event ev-2: floating IP",
            project_id=cloud.current_project_id,
        )
    )
    failed, result = run(openstack_event_resources, event="ev")
    assert not failed, result.get("msg")
    assert result["changed"] is False
    ids = {r.id for r in cloud.networks + cloud.routers + cloud.security_groups}
    assert all(resource.id in ids for resource in kept)
    assert any(ip.id == "fip-2" for ip in cloud.ips)
