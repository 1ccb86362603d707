# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.openstack_server_image against the in-memory cloud of conftest.py."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.learnhpc.cluster.plugins.modules import openstack_server_image

PROPS = {"learnhpc_recipe": "0123456789abcdef", "learnhpc_base_image": "debian-12"}
NAME = "learnhpc-node-0123456789abcdef"


def test_stops_the_server_snapshots_and_waits_until_active(run, cloud):
    server = cloud.add_server("ev-image", "ev", roles="login")
    failed, result = run(openstack_server_image, name=NAME, server="ev-image", properties=PROPS)
    assert not failed, result.get("msg")
    assert result["changed"] is True
    assert result["image"]["status"] == "active"
    assert result["image"]["properties"] == PROPS
    names = [entry[0] for entry in cloud.log]
    # Shut off before the snapshot, never snapshotted while still stopping.
    assert names.index("stop_server") < names.index("create_server_image")
    assert server.status == "SHUTOFF"
    made = [image for image in cloud.images if image.name == NAME]
    assert len(made) == 1 and made[0].properties == PROPS

    cloud.log.clear()
    failed, result = run(openstack_server_image, name=NAME, server="ev-image", properties=PROPS)
    assert not failed and result["changed"] is False
    assert not cloud.calls("create_server_image") and not cloud.calls("stop_server")


def test_an_active_image_needs_no_server(run, cloud):
    cloud.images.append(SimpleNamespace(id="img-9", name=NAME, status="active", properties=dict(PROPS)))
    failed, result = run(openstack_server_image, name=NAME, properties=PROPS)
    assert not failed, result.get("msg")
    assert result == {**result, "changed": False}
    assert result["image"]["id"] == "img-9"


def test_check_mode_makes_nothing(run, cloud):
    server = cloud.add_server("ev-image", "ev", roles="login")
    failed, result = run(openstack_server_image, name=NAME, server="ev-image", _ansible_check_mode=True)
    assert not failed, result.get("msg")
    assert result["changed"] is True and result["image"] == {"name": NAME}
    assert server.status == "ACTIVE"
    assert not cloud.calls("create_server_image") and not cloud.calls("stop_server")
    assert [image.name for image in cloud.images] == ["debian-12"]
    # A look without a server: it would be made.
    failed, result = run(openstack_server_image, name=NAME, _ansible_check_mode=True)
    assert not failed and result["changed"] is True and result["image"] == {"name": NAME}


def test_an_image_still_saving_is_waited_for_not_made_again(run, cloud):
    cloud.images.append(SimpleNamespace(id="img-9", name=NAME, status="saving", properties={}, pending=3, fail=False))
    failed, result = run(openstack_server_image, name=NAME, server="ev-image")
    assert not failed, result.get("msg")
    assert result["changed"] is True and result["image"]["status"] == "active"
    assert not cloud.calls("create_server_image")


def test_one_line_refusals_change_nothing(run, cloud):
    cloud.add_server("ev-build", "ev", status="BUILD").pending = 100
    cloud.add_server("ev-vol", "ev").image = ""
    cases = {
        "missing": "server 'missing' not found",
        "ev-build": "server 'ev-build' is BUILD: only an ACTIVE or SHUTOFF server can be snapshotted",
        "ev-vol": "server 'ev-vol' boots from a volume: its snapshot would hold no image",
    }
    for server, msg in cases.items():
        failed, result = run(openstack_server_image, name=NAME, server=server)
        assert failed and result["msg"] == msg
    failed, result = run(openstack_server_image, name=NAME)
    assert failed and result["msg"] == f"no active image {NAME!r} yet: name the server to make it from (server)"
    failed, result = run(openstack_server_image, name=NAME, server="ev-build", properties={"n": 1})
    assert failed and result["msg"] == "properties: the values of n must be strings"
    assert not cloud.calls("create_server_image") and not cloud.calls("stop_server")


def test_a_killed_or_doubled_image_is_an_error(run, cloud):
    cloud.images.append(SimpleNamespace(id="img-8", name=NAME, status="killed", properties={}))
    failed, result = run(openstack_server_image, name=NAME, server="x")
    assert failed
    assert result["msg"] == f"image {NAME!r} (img-8) is killed: remove it (state=absent) and run again"
    cloud.images.append(SimpleNamespace(id="img-9", name=NAME, status="active", properties={}))
    failed, result = run(openstack_server_image, name=NAME, server="x")
    assert failed and result["msg"].startswith(f"2 images are named {NAME!r}")


def test_a_snapshot_that_fails_says_so(run, cloud):
    cloud.add_server("ev-image", "ev", roles="login", status="SHUTOFF")
    cloud.error_on_build.add(NAME)
    failed, result = run(openstack_server_image, name=NAME, server="ev-image")
    assert failed
    assert result["msg"].startswith(f"image {NAME!r} (img-")
    assert result["msg"].endswith("is killed: the snapshot failed")
    assert not cloud.calls("stop_server")


def test_absent_removes_only_images_with_the_properties(run, cloud):
    cloud.images.append(SimpleNamespace(id="img-8", name=NAME, status="active", properties=dict(PROPS)))
    failed, result = run(openstack_server_image, name=NAME, properties=PROPS, state="absent", _ansible_check_mode=True)
    assert not failed and result["changed"] is True and result["removed"] == ["img-8"]
    assert any(image.id == "img-8" for image in cloud.images)
    failed, result = run(openstack_server_image, name=NAME, properties=PROPS, state="absent")
    assert not failed and result["removed"] == ["img-8"]
    assert not any(image.id == "img-8" for image in cloud.images)
    failed, result = run(openstack_server_image, name=NAME, properties=PROPS, state="absent")
    assert not failed and result["changed"] is False

    cloud.images.append(SimpleNamespace(id="img-7", name="debian-12-copy", status="active", properties={}))
    failed, result = run(
        openstack_server_image, name="debian-12-copy", properties={"learnhpc_recipe": "x"}, state="absent"
    )
    assert failed
    assert result["msg"] == "image 'debian-12-copy' (img-7) does not carry the properties learnhpc_recipe: not removed"
    assert any(image.id == "img-7" for image in cloud.images)
