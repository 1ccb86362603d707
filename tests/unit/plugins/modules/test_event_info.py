# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.event_info against the in-memory cloud of conftest.py."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import urllib.parse

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract, libvirt_api
from ansible_collections.learnhpc.cluster.plugins.modules import event_info
from ansible_collections.learnhpc.cluster.tests.unit.plugins.conftest import have_libvirt


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
            "provider": "openstack",
            "end_date": "2030-12-31",
            "expires": "2030-12-31",
            "servers": 3,
            "roles": {"mgmt": 1, "compute": 2},
            "created": "2030-12-01T08:00:00Z",
            "age_days": 10,
            "expired": False,
            "networks": 0,
            "volumes": 0,
        },
        {
            "name": "netonly",
            "provider": "openstack",
            "end_date": None,
            "expires": None,
            "servers": 0,
            "roles": {},
            "created": None,
            "age_days": None,
            "expired": False,
            "networks": 1,
            "volumes": 1,
        },
        {
            "name": "old",
            "provider": "openstack",
            "end_date": "2030-12-02",
            "expires": "2030-12-02",
            "servers": 1,
            "roles": {"compute": 1},
            "created": "2030-12-01T08:00:00Z",
            "age_days": 10,
            "expired": True,
            "networks": 0,
            "volumes": 0,
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


def test_grace_days_keep_an_event_past_its_end_date(run, cloud):
    server = cloud.add_server("ev-mgmt", event="ev", roles="mgmt")
    server.metadata["org.learnhpc.end_date"] = "2030-12-02"
    server.metadata["org.learnhpc.expires"] = "2030-12-09"
    for today, expired in (("2030-12-09", False), ("2030-12-10", True)):
        failed, result = run(event_info, today=today)
        assert not failed
        [event] = result["events"]
        assert (event["end_date"], event["expires"], event["expired"]) == ("2030-12-02", "2030-12-09", expired)
    failed, result = run(event_info, today="2030-12-11", grace_days=2)
    assert not failed
    assert result["events"][0]["expired"] is False
    failed, result = run(event_info, today="2030-12-12", grace_days=2)
    assert result["events"][0]["expired"] is True
    failed, result = run(event_info, grace_days=-1)
    assert failed
    assert result["msg"] == "grace_days: must be 0 or more, got -1"


# --- provider docker: the module reads the engine's API over a Unix socket -----------------
# The stand-in engine below answers the three listings the module asks for, with what a
# Docker engine answers for the label filter; the real engine is used by molecule/reap.


def _labels(event, **more):
    return {"org.learnhpc.event": event, **more}


ENGINE = {
    "/containers/json": [
        {
            "Names": ["/ws-mgmt"],
            "Created": 1922918400,  # 2030-12-08T00:00:00Z
            "Labels": _labels("ws", **{"org.learnhpc.roles": "mgmt", "org.learnhpc.end_date": "2030-12-10"}),
        },
        {
            "Names": ["/ws-compute-01"],
            "Created": 1923033600,
            "Labels": _labels(
                "ws",
                **{
                    "org.learnhpc.roles": "compute",
                    "org.learnhpc.end_date": "2030-12-10",
                    "org.learnhpc.expires": "2030-12-12",
                },
            ),
        },
    ],
    "/networks": [
        {"Name": "learnhpc-ws", "Labels": _labels("ws")},
        {"Name": "learnhpc-gone", "Labels": _labels("gone")},
    ],
    "/volumes": {"Volumes": [{"Name": "learnhpc-ws-home", "Labels": _labels("ws")}], "Warnings": None},
}


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    requests: list


class _Handler(http.server.BaseHTTPRequestHandler):
    def address_string(self):
        return "engine"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        self.server.requests.append((url.path, urllib.parse.parse_qs(url.query)))
        body = json.dumps(ENGINE.get(url.path, {"message": "page not found"})).encode()
        self.send_response(200 if url.path in ENGINE else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def engine(tmp_path):
    server = _Engine(str(tmp_path / "docker.sock"), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_docker_events(run, cloud, engine):
    failed, result = run(
        event_info, provider="docker", docker_host=f"unix://{engine.server_address}", today="2030-12-11"
    )
    assert not failed, result.get("msg")
    assert result["events"] == [
        {
            "name": "gone",
            "provider": "docker",
            "end_date": None,
            "expires": None,
            "servers": 0,
            "roles": {},
            "created": None,
            "age_days": None,
            "expired": False,
            "networks": 1,
            "volumes": 0,
        },
        {
            "name": "ws",
            "provider": "docker",
            "end_date": "2030-12-10",
            "expires": "2030-12-12",
            "servers": 2,
            "roles": {"mgmt": 1, "compute": 1},
            "created": "2030-12-08T00:00:00Z",
            "age_days": 3,
            "expired": False,
            "networks": 1,
            "volumes": 1,
        },
    ]
    # Everything carrying the label, stopped containers included; OpenStack is not asked.
    asked = dict(engine.requests)
    assert set(asked) == {"/containers/json", "/networks", "/volumes"}
    assert asked["/containers/json"]["all"] == ["true"]
    for query in asked.values():
        assert json.loads(query["filters"][0]) == {"label": ["org.learnhpc.event"]}
    assert cloud.log == []


def test_docker_engine_unreachable_is_one_line(run, tmp_path):
    failed, result = run(event_info, provider="docker", docker_host=f"unix://{tmp_path}/none.sock")
    assert failed
    assert result["msg"] == f"cannot reach the Docker engine at unix://{tmp_path}/none.sock: No such file or directory"


def test_docker_engine_over_tcp_is_refused(run):
    failed, result = run(event_info, provider="docker", docker_host="tcp://10.0.0.1:2375")
    assert failed
    assert result["msg"] == "docker_host: only unix:// addresses are supported, got 'tcp://10.0.0.1:2375'"


def test_names_read_back_are_checked_like_an_event_files(run, cloud, engine, monkeypatch):
    # A label anyone with the Docker socket can set: reaping must never see it as an event.
    bad = [
        {"Names": ["/evil-1"], "Created": 1922918400, "Labels": _labels("../..", **{"org.learnhpc.roles": "mgmt"})},
        {"Names": ["/evil-2"], "Created": 1922918400, "Labels": _labels("ws\n")},
    ]
    monkeypatch.setitem(ENGINE, "/containers/json", ENGINE["/containers/json"] + bad)
    monkeypatch.setitem(ENGINE, "/volumes", {"Volumes": [{"Name": "v", "Labels": _labels("")}], "Warnings": None})
    failed, result = run(
        event_info, provider="docker", docker_host=f"unix://{engine.server_address}", today="2030-12-11"
    )
    assert not failed, result.get("msg")
    assert [e["name"] for e in result["events"]] == ["gone", "ws"]
    assert result["events"][1]["servers"] == 2
    assert result["skipped"] == [
        {"resource": "container evil-1", "event": "'../..'"},
        {"resource": "container evil-2", "event": "'ws\\n'"},
        {"resource": "volume v", "event": "''"},
    ]


def test_openstack_names_read_back_are_checked(run, cloud):
    cloud.add_server("ev-mgmt", event="ev", roles="mgmt")
    cloud.add_server("x-1", event="../../etc")
    failed, result = run(event_info, today="2030-12-11")
    assert not failed, result.get("msg")
    assert [e["name"] for e in result["events"]] == ["ev"]
    assert result["skipped"] == [{"resource": "server x-1", "event": "'../../etc'"}]


# -- libvirt: libvirt's own test driver (test:///<file>.xml), skipped without libvirt-python ------

HAVE_LIBVIRT = have_libvirt()

needs_libvirt = pytest.mark.skipif(
    not HAVE_LIBVIRT,
    reason="libvirt-python or libvirt's library is not installed (LEARNHPC_SETUP_LIBVIRT=1 make setup installs both)",
)


def _libvirt_host(tmp_path):
    """A test:/// host: two domains of ws (one shut off), a domain with a bad event label, one without
    labels; the network and pool of ws and of gone (whose domains are gone), and a network not ours."""

    def domain(name, labels=None, state=1):
        metadata = ""
        if labels is not None:
            metadata = (
                f"<metadata>{libvirt_api.metadata_xml(labels, prefix=contract.LIBVIRT_METADATA_PREFIX)}</metadata>"
            )
        return (
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            f"<name>{name}</name><memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type></os>{metadata}"
            f"<test:runstate>{state}</test:runstate></domain>"
        )

    def network(name, number):
        return (
            f"<network><name>{name}</name><bridge name='virbr{number}'/>"
            f"<ip address='10.9.{number}.1' netmask='255.255.255.0'/></network>"
        )

    def pool(name):
        return (
            f"<pool type='dir'><name>{name}</name><target><path>/var/lib/libvirt/images/{name}</path></target></pool>"
        )

    ws = contract.node_labels("ws", ["mgmt"], "2030-12-10", "2030-12-12", "libvirt", ssh_user="debian")
    host = "".join(
        [
            domain("ws-mgmt", ws),
            domain("ws-compute-01", {**ws, contract.ROLES_KEY: "compute"}, state=5),
            domain("evil", {**ws, contract.EVENT_KEY: "../.."}),
            domain("someone-elses"),
            network("learnhpc-ws", 1),
            network("learnhpc-gone", 2),
            network("learnhpc-Not_An_Event", 3),
            network("lab", 4),
            pool("learnhpc-ws"),
        ]
    )
    path = tmp_path / "host.xml"
    path.write_text(f"<node>{host}</node>", encoding="utf-8")
    return f"test://{path}"


@needs_libvirt
def test_libvirt_events(run, cloud, tmp_path):
    failed, result = run(event_info, provider="libvirt", libvirt_uri=_libvirt_host(tmp_path), today="2030-12-13")
    assert not failed, result.get("msg")
    assert result["events"] == [
        {
            "name": "gone",
            "provider": "libvirt",
            "end_date": None,
            "expires": None,
            "servers": 0,
            "roles": {},
            "created": None,
            "age_days": None,
            "expired": False,
            "networks": 1,
            "volumes": 0,
        },
        {
            "name": "ws",
            "provider": "libvirt",
            "end_date": "2030-12-10",
            "expires": "2030-12-12",
            "servers": 2,
            "roles": {"mgmt": 1, "compute": 1},
            "created": None,
            "age_days": None,
            "expired": True,
            "networks": 1,
            "volumes": 1,
        },
    ]
    assert result["skipped"] == [{"resource": "domain evil", "event": "'../..'"}]
    assert cloud.log == []


@needs_libvirt
def test_libvirt_host_that_does_not_answer_is_one_line(run, tmp_path):
    failed, result = run(event_info, provider="libvirt", libvirt_uri=f"test://{tmp_path}/none.xml")
    assert failed
    assert "\n" not in result["msg"] and f"test://{tmp_path}/none.xml" in result["msg"], result["msg"]
