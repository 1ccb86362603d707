# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_event_quota against the in-memory cloud of conftest.py."""

from __future__ import annotations

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_event_quota


def servers(count, flavor="m1.large", event="ev", **extra):
    return [{"name": f"{event}-compute-{i:02d}", "flavor": flavor, **extra} for i in range(1, count + 1)]


def test_enough_quota(run, cloud):
    failed, result = run(openstack_event_quota, event="ev", servers=servers(2), networks=1, floating_ips=1)
    assert not failed, result.get("msg")
    assert result["changed"] is False
    assert result["shortfalls"] == []
    assert result["needed"]["instances"] == 2
    assert result["needed"]["cores"] == 8
    assert result["needed"]["ram"] == 16384
    assert result["needed"]["ports"] == 2
    assert result["available"]["instances"] == 10
    assert result["quota"]["cores"] == 20
    # Block storage is not asked when no volume is needed.
    assert result["available"]["volumes"] is None


def test_shortfall_lines(run, cloud):
    for i in range(7):
        cloud.add_server(f"busy-{i}", event="busy")
    cloud.network_limits["floating_ips"] = 0
    failed, result = run(openstack_event_quota, event="ev", servers=servers(5), floating_ips=1)
    assert failed
    assert result["shortfalls"] == [
        "instances: need 5, 3 free of quota 10",
        "cores: need 20, 13 free of quota 20",
        "ram: need 40960, 36864 free of quota 51200",
        "floating_ips: need 1, 0 free of quota 0",
    ]
    assert result["msg"].splitlines() == [
        "the quota of the project is too small for event 'ev':",
        *result["shortfalls"],
    ]
    assert result["needed"]["instances"] == 5
    assert result["available"]["instances"] == 3
    assert not [e for e in cloud.log if e[0].startswith(("create", "delete"))]


def test_a_rerun_needs_only_the_missing_part(run, cloud):
    cloud.add_event_network("ev")
    for server in servers(4)[:3]:
        cloud.add_server(server["name"], event="ev", flavor="m1.large")
    # A server of another event with a wanted name does not count as present.
    cloud.add_server("ev-compute-04", event="other")
    failed, result = run(
        openstack_event_quota, event="ev", servers=servers(4), networks=1, subnets=1, routers=1, floating_ips=2, ports=1
    )
    assert not failed, result.get("msg")
    assert result["needed"]["instances"] == 1
    assert result["needed"]["cores"] == 4
    assert result["needed"]["networks"] == 0
    assert result["needed"]["routers"] == 0
    assert result["needed"]["floating_ips"] == 1
    assert result["needed"]["ports"] == 1


def test_volumes(run, cloud):
    cloud.volume_limits = {"volumes": 3, "gigabytes": 100}
    cloud.add_event_network("other")  # one volume of 10 GB in use
    failed, result = run(
        openstack_event_quota, event="ev", servers=servers(2, boot_volume_size=50), volumes=1, volume_gb=5
    )
    assert failed
    assert result["shortfalls"] == ["volumes: need 3, 2 free of quota 3", "gigabytes: need 105, 90 free of quota 100"]


def test_unlimited_quota_is_never_short(run, cloud):
    cloud.compute_limits["instances"] = -1
    failed, result = run(openstack_event_quota, event="ev", servers=servers(5, flavor="m1.small"))
    assert not failed
    assert result["available"]["instances"] is None
    assert result["quota"]["instances"] is None


def test_unknown_flavor_lists_the_flavors(run, cloud):
    failed, result = run(openstack_event_quota, event="ev", servers=servers(1, flavor="x1.tiny"))
    assert failed
    assert result["msg"] == "unknown flavor 'x1.tiny': the flavors are m1.large, m1.medium, m1.small"


def test_negative_counts(run, cloud):
    failed, result = run(openstack_event_quota, event="ev", ports=-1)
    assert failed
    assert result["msg"] == "ports: must be 0 or more, got -1"
    assert cloud.log == []


def test_volumes_without_block_storage(run, cloud):
    cloud.services.discard("block-storage")
    failed, result = run(openstack_event_quota, event="ev", volumes=1)
    assert failed
    assert result["msg"] == "the event needs volumes, but the cloud has no block storage service"


def test_image_and_external_network_are_checked_before_anything(run, cloud):
    image = cloud.images[0].name
    failed, result = run(openstack_event_quota, event="ev", servers=servers(1), image=image, external_network="public")
    assert not failed, result.get("msg")
    failed, result = run(
        openstack_event_quota, event="ev", servers=servers(1), image="no-such-image", external_network="no-such-net"
    )
    assert failed
    assert result["errors"][0].startswith("unknown image 'no-such-image': the images are ")
    assert result["errors"][1] == "unknown external network 'no-such-net'"
    failed, result = run(openstack_event_quota, event="ev", servers=servers(1), external_network="shared")
    assert failed
    assert result["msg"] == "network 'shared' is not external (router:external is false)"
