# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_event_servers against the in-memory cloud of conftest.py."""

from __future__ import annotations

import base64

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_event_servers

END = "2030-12-31"


def node(name, roles="compute", **extra):
    server = {"name": name, "flavor": "m1.small", "image": "debian-12", "network": "shared", "roles": [roles]}
    server.update(extra)
    return server


def cluster(event="ev", computes=3, **login_extra):
    return [
        node(f"{event}-mgmt", "mgmt", flavor="m1.medium"),
        node(f"{event}-login", "login", **login_extra),
        *(node(f"{event}-compute-{i:02d}") for i in range(1, computes + 1)),
    ]


def servers_run(run, servers, event="ev", **args):
    return run(openstack_event_servers, event=event, end_date=END, servers=servers, **args)


def test_creates_the_servers_with_event_metadata(run, cloud):
    failed, result = servers_run(run, cluster())
    assert not failed, result["msg"] if failed else ""
    assert result["changed"] is True
    assert result["created"] == ["ev-mgmt", "ev-login", "ev-compute-01", "ev-compute-02", "ev-compute-03"]
    assert cloud.server_names("ev") == sorted(result["created"])
    mgmt = next(s for s in cloud.servers if s.name == "ev-mgmt")
    assert mgmt.status == "ACTIVE"
    assert mgmt.metadata == {
        "org.learnhpc.event": "ev",
        "org.learnhpc.roles": "mgmt",
        "org.learnhpc.end_date": END,
        "org.learnhpc.expires": END,
        "org.learnhpc.provider": "openstack",
    }
    described = {s["name"]: s for s in result["servers"]}
    assert [s["name"] for s in result["servers"]][:2] == ["ev-mgmt", "ev-login"]
    assert described["ev-mgmt"]["vcpus"] == 2
    assert described["ev-mgmt"]["ram"] == 4096
    assert described["ev-mgmt"]["roles"] == ["mgmt"]
    assert described["ev-mgmt"]["status"] == "ACTIVE"
    assert described["ev-mgmt"]["addresses"]["fixed"]


def test_all_creates_are_sent_before_the_first_wait(run, cloud):
    cloud.build_listings = 3
    failed, _result = servers_run(run, cluster(computes=8))
    assert not failed
    kinds = [entry[0] for entry in cloud.log]
    creates = [i for i, kind in enumerate(kinds) if kind == "create_server"]
    first_sleep = kinds.index("sleep")
    assert len(creates) == 10
    assert max(creates) < first_sleep
    # One wait for all of them: the number of pauses does not grow with the number of servers.
    assert len(cloud.calls("sleep")) <= cloud.build_listings


def test_second_run_changes_nothing(run, cloud):
    servers_run(run, cluster())
    cloud.log.clear()
    failed, result = servers_run(run, cluster())
    assert not failed
    assert result["changed"] is False
    assert result["created"] == result["replaced"] == result["removed"] == result["updated"] == []
    assert not cloud.calls("create_server")
    assert not cloud.calls("delete_server")


def test_creates_only_the_missing_servers(run, cloud):
    cloud.add_server("ev-mgmt", event="ev", roles="mgmt", flavor="m1.medium")
    cloud.add_server("ev-compute-01", event="ev")
    failed, result = servers_run(run, cluster(computes=2))
    assert not failed
    assert result["created"] == ["ev-login", "ev-compute-02"]
    assert [entry[1] for entry in cloud.calls("create_server")] == ["ev-login", "ev-compute-02"]


def test_server_in_error_is_deleted_and_created_again(run, cloud):
    broken = cloud.add_server("ev-compute-01", event="ev", status="ERROR")
    cloud.delete_listings = 3
    failed, result = servers_run(run, [node("ev-compute-01")])
    assert not failed
    assert result["replaced"] == ["ev-compute-01"]
    assert result["created"] == []
    kinds = [entry[0] for entry in cloud.log]
    # Deleted, waited for until gone, then created again.
    assert kinds.index("delete_server") < kinds.index("sleep") < kinds.index("create_server")
    assert [s.id for s in cloud.servers if s.name == "ev-compute-01"] != [broken.id]
    assert [s.status for s in cloud.servers if s.name == "ev-compute-01"] == ["ACTIVE"]


def test_servers_of_other_events_and_without_event_are_untouched(run, cloud):
    other = cloud.add_server("other-compute-01", event="other")
    plain = cloud.add_server("someone-vm")
    failed, _result = servers_run(run, cluster(computes=1), remove_extra=True)
    assert not failed
    assert {s.id for s in cloud.servers} >= {other.id, plain.id}
    assert all(entry[1] not in ("other-compute-01", "someone-vm") for entry in cloud.calls("delete_server"))


def test_a_wanted_name_owned_by_another_event_is_an_error(run, cloud):
    cloud.add_server("ev-compute-01", event="other")
    cloud.add_server("ev-compute-02")
    failed, result = servers_run(run, cluster(computes=2))
    assert failed
    assert result["errors"] == [
        f"server 'ev-compute-01' ({cloud.servers[0].id}) exists and belongs to event 'other'; "
        "it is left alone: remove or rename it, or choose other names",
        f"server 'ev-compute-02' ({cloud.servers[1].id}) exists and belongs to no event "
        "(no org.learnhpc.event metadata); it is left alone: remove or rename it, or choose other names",
    ]
    assert not cloud.calls("create_server")
    assert not cloud.calls("delete_server")


def test_extra_servers_are_kept_unless_remove_extra(run, cloud):
    cloud.add_server("ev-compute-09", event="ev")
    failed, result = servers_run(run, [node("ev-compute-01")])
    assert not failed
    assert result["extra"] == ["ev-compute-09"]
    assert result["removed"] == []
    assert "ev-compute-09" in cloud.server_names("ev")
    failed, result = servers_run(run, [node("ev-compute-01")], remove_extra=True)
    assert not failed
    assert result["removed"] == ["ev-compute-09"]
    assert cloud.server_names("ev") == ["ev-compute-01"]


def test_check_mode_reports_and_changes_nothing(run, cloud):
    cloud.add_server("ev-compute-01", event="ev", status="ERROR")
    cloud.add_server("ev-compute-07", event="ev")
    before = [(s.id, s.status) for s in cloud.servers]
    failed, result = servers_run(
        run, cluster(computes=2), remove_extra=True, _ansible_check_mode=True, _ansible_diff=True
    )
    assert not failed
    assert result["changed"] is True
    assert result["created"] == ["ev-mgmt", "ev-login", "ev-compute-02"]
    assert result["replaced"] == ["ev-compute-01"]
    assert result["removed"] == ["ev-compute-07"]
    assert result["diff"] == {
        "before": {"servers": ["ev-compute-01", "ev-compute-07"]},
        "after": {"servers": ["ev-compute-01", "ev-compute-02", "ev-login", "ev-mgmt"]},
    }
    assert [(s.id, s.status) for s in cloud.servers] == before
    assert not [entry for entry in cloud.log if entry[0] not in ("servers", "token")]


def test_unknown_flavor_image_and_network_are_one_line_each(run, cloud):
    servers = [node("ev-compute-01", flavor="m9.huge", image="centos", network="nowhere")]
    failed, result = servers_run(run, servers)
    assert failed
    assert result["errors"] == [
        "unknown flavor 'm9.huge': the flavors are m1.large, m1.medium, m1.small",
        "unknown image 'centos': the images are debian-12",
        "unknown network 'nowhere': the networks are public, shared",
    ]
    assert "Traceback" not in result["_raw"]
    assert not cloud.calls("create_server")


def test_unknown_security_group_and_key_pair(run, cloud):
    failed, result = servers_run(run, [node("ev-compute-01", security_groups=["nope"], key_name="k")])
    assert failed
    assert result["errors"] == [
        "unknown security group 'nope': the security groups are default",
        "unknown key pair 'k': the key pairs are (none)",
    ]


def test_bad_input_fails_before_connecting(run, cloud):
    metadata = {"org.learnhpc.event": "x", "org.learnhpc.ssh_user": "debian"}
    servers = [node("other-x"), node("ev-a", metadata=metadata), node("ev-a")]
    failed, result = run(openstack_event_servers, event="ev", end_date="31.12.2030", servers=servers)
    assert failed
    assert result["errors"] == [
        "end_date: must be a date YYYY-MM-DD, got '31.12.2030'",
        "servers[0] (other-x): the name must start with 'ev-' and have at most 63 characters",
        "servers[1] (ev-a): metadata keys starting with 'org.learnhpc.' are reserved: org.learnhpc.event",
        "servers[2] (ev-a): the name is given twice",
    ]
    assert cloud.log == []


def test_bad_event_name(run, cloud):
    failed, result = run(openstack_event_servers, event="Bad_Name", end_date=END, servers=[])
    assert failed
    assert result["msg"].startswith("the event name 'Bad_Name' is not valid")
    assert cloud.log == []


def test_build_error_fails_with_the_fault(run, cloud):
    cloud.error_on_build = {"ev-compute-02"}
    failed, result = servers_run(run, cluster(computes=2))
    assert failed
    assert result["msg"] == (
        f"server 'ev-compute-02' ({next(s.id for s in cloud.servers if s.name == 'ev-compute-02')}) "
        "went into ERROR: No valid host was found."
    )
    assert result["changed"] is True
    assert result["created"] == ["ev-mgmt", "ev-login", "ev-compute-01", "ev-compute-02"]
    # The next run replaces it.
    cloud.error_on_build = set()
    failed, result = servers_run(run, cluster(computes=2))
    assert not failed
    assert result["replaced"] == ["ev-compute-02"]


def test_timeout_names_the_servers_still_building(run, cloud):
    cloud.build_listings = 1000
    failed, result = servers_run(run, [node("ev-compute-01")], timeout=10)
    assert failed
    assert result["msg"] == "timed out after 10s waiting for servers to be ACTIVE: ev-compute-01"


def test_floating_ip_for_the_login_node_reuses_a_free_one_of_the_event(run, cloud):
    cloud.add_event_network("ev")
    free_ip = cloud.ips[0]
    failed, result = servers_run(run, cluster(computes=1, floating_ip=True), external_network="public")
    assert not failed
    assert result["floating_ips"] == ["ev-login"]
    login = next(s for s in result["servers"] if s["name"] == "ev-login")
    assert login["addresses"]["floating"] == [free_ip.floating_ip_address]
    assert free_ip.port_id is not None
    assert not cloud.calls("create_ip")
    # Another event's floating IP is not taken: a second login node gets a new, tagged one.
    failed, result = servers_run(
        run, cluster(event="ev2", computes=0, floating_ip=True), "ev2", external_network="public"
    )
    assert not failed
    assert len(cloud.calls("create_ip")) == 1
    assert cloud.ips[-1].tags == ["learnhpc-event=ev2"]


def test_a_new_floating_ip_is_tagged_in_the_request_that_allocates_it(run, cloud):
    failed, result = servers_run(run, cluster(computes=0, floating_ip=True), external_network="public")
    assert not failed, result.get("msg")
    assert cloud.ips[-1].tags == ["learnhpc-event=ev"]
    assert cloud.ips[-1].description == "learnhpc event ev: floating IP"
    assert not cloud.calls("set_tags")


def test_without_tag_creation_a_new_floating_ip_is_tagged_right_after(run, cloud):
    cloud.extensions.discard("tag-creation")
    failed, result = servers_run(run, cluster(computes=0, floating_ip=True), external_network="public")
    assert not failed, result.get("msg")
    assert cloud.ips[-1].tags == ["learnhpc-event=ev"]
    assert cloud.ips[-1].description == "learnhpc event ev: floating IP"
    kinds = [entry[0] for entry in cloud.log]
    assert kinds.index("create_ip") + 1 == kinds.index("set_tags")


def test_waits_until_nova_lists_the_new_floating_ip(run, cloud):
    cloud.floating_listings = 4
    failed, result = servers_run(run, cluster(computes=0, floating_ip=True), external_network="public")
    assert not failed, result.get("msg")
    address = cloud.ips[-1].floating_ip_address
    login = next(s for s in cloud.servers if s.name == "ev-login")
    # What the inventory plugin reads (Nova's addresses) has the address when the module returns.
    assert {"addr": address, "OS-EXT-IPS:type": "floating"} in login.addresses["net"]
    kinds = [entry[0] for entry in cloud.log]
    assert "sleep" in kinds[kinds.index("create_ip") :]  # it waited for Nova after attaching


def test_a_floating_ip_nova_never_lists_is_one_line_after_the_timeout(run, cloud):
    cloud.floating_listings = 10**6
    failed, result = servers_run(run, cluster(computes=0, floating_ip=True), external_network="public", timeout=30)
    assert failed
    address = cloud.ips[-1].floating_ip_address
    assert result["msg"] == f"timed out after 30s waiting for Nova to list the new floating IPs: ev-login ({address})"


def test_floating_ip_needs_external_network(run, cloud):
    failed, result = servers_run(run, [node("ev-login", "login", floating_ip=True)])
    assert failed
    assert result["msg"] == "servers[0] (ev-login): floating_ip needs the option external_network"


def test_end_date_change_updates_metadata_only(run, cloud):
    server = cloud.add_server("ev-compute-01", event="ev")
    failed, result = run(openstack_event_servers, event="ev", end_date="2031-01-15", servers=[node("ev-compute-01")])
    assert not failed
    assert result["updated"] == ["ev-compute-01"]
    assert server.metadata["org.learnhpc.end_date"] == "2031-01-15"
    assert not cloud.calls("create_server")


def test_expiry_date_is_stored_and_moves(run, cloud):
    server = cloud.add_server("ev-compute-01", event="ev")
    args = {"event": "ev", "end_date": "2031-01-15", "servers": [node("ev-compute-01")]}
    failed, result = run(openstack_event_servers, expires="2031-01-22", **args)
    assert not failed
    assert result["updated"] == ["ev-compute-01"]
    assert server.metadata["org.learnhpc.expires"] == "2031-01-22"
    failed, result = run(openstack_event_servers, expires="2031-01-22", **args)
    assert not failed
    assert result["changed"] is False


def test_expiry_before_the_end_date_is_refused(run, cloud):
    failed, result = run(openstack_event_servers, event="ev", end_date=END, expires="2030-01-01", servers=[])
    assert failed
    assert result["msg"] == f"expires: 2030-01-01 is before end_date {END}"
    failed, result = run(openstack_event_servers, event="ev", end_date=END, expires="soon", servers=[])
    assert failed
    assert result["msg"] == "expires: must be a date YYYY-MM-DD, got 'soon'"
    assert cloud.log == []


def test_create_request(run, cloud):
    servers = [
        node(
            "ev-compute-01",
            fixed_ip="10.0.0.50",
            user_data="#cloud-config\n",
            metadata={"purpose": "test"},
            security_groups=["default"],
            boot_from_volume=True,
            volume_size=20,
        )
    ]
    failed, _result = servers_run(run, servers)
    assert not failed
    attrs = cloud.servers[0].attrs
    assert attrs["networks"] == [{"uuid": "net-shared", "fixed_ip": "10.0.0.50"}]
    assert base64.b64decode(attrs["user_data"]) == b"#cloud-config\n"
    assert attrs["metadata"]["purpose"] == "test"
    assert attrs["security_groups"] == [{"name": "default"}]
    assert "image_id" not in attrs
    assert attrs["block_device_mapping"][0]["volume_size"] == 20
    assert attrs["block_device_mapping"][0]["delete_on_termination"] is True


def test_wait_false_sends_the_requests_and_returns(run, cloud):
    failed, result = servers_run(run, cluster(computes=1), wait=False)
    assert not failed
    assert result["created"] == ["ev-mgmt", "ev-login", "ev-compute-01"]
    assert not cloud.calls("sleep")
    assert {s.status for s in cloud.servers} == {"BUILD"}


def test_diff_without_check_mode(run, cloud):
    cloud.add_server("ev-compute-01", event="ev")
    failed, result = servers_run(run, [node("ev-compute-01"), node("ev-compute-02")], _ansible_diff=True)
    assert not failed
    assert result["diff"] == {
        "before": {"servers": ["ev-compute-01"]},
        "after": {"servers": ["ev-compute-01", "ev-compute-02"]},
    }
