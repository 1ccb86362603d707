# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/openstack.py: the connection, its errors, and the event identity helpers.

The connection tests run a module (event_info, the simplest) with the real openstacksdk configuration
loader and a clouds.yaml written by the test; only the tests of errors after the connection is made
use the in-memory cloud of conftest.py.
"""

from __future__ import annotations

import json
import types

import pytest
from ansible.module_utils.testing import patch_module_args
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions

from ansible_collections.learnhpc.cluster.plugins.module_utils import openstack as openstack_utils
from ansible_collections.learnhpc.cluster.plugins.modules import event_info

CLOUDS = """\
clouds:
  alpha:
    auth:
      auth_url: http://127.0.0.1:9/v3
      username: demo
      password: s3cret-pw
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    identity_api_version: 3
  beta:
    auth:
      auth_url: http://127.0.0.1:9/v3
"""


@pytest.fixture
def clouds_yaml(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS, encoding="utf-8")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_PASSWORD", "OS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    return path


def run_real(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        event_info.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result, out


def test_unknown_cloud_lists_the_clouds_of_clouds_yaml(capsys, clouds_yaml):
    failed, result, out = run_real(capsys, cloud="gamma")
    assert failed
    assert result["msg"] == f"unknown cloud 'gamma': the clouds in {clouds_yaml} are alpha, beta"
    assert "Traceback" not in out


def test_unreachable_identity_service_is_one_line_without_the_password(capsys, clouds_yaml):
    failed, result, out = run_real(capsys, cloud="alpha", api_timeout=5)
    assert failed
    assert result["msg"].startswith("cannot reach the identity service of cloud alpha: ")
    assert "\n" not in result["msg"]
    assert "s3cret-pw" not in out


def test_incomplete_credentials(capsys, clouds_yaml):
    failed, result, out = run_real(capsys, cloud="beta")
    assert failed
    assert result["msg"] == "authentication failed for cloud beta: password is a required attribute"
    assert "Traceback" not in out


def test_cloud_dict_with_separate_auth_is_refused(capsys, clouds_yaml):
    failed, result, out = run_real(
        capsys, cloud={"auth": {"auth_url": "http://127.0.0.1:9/v3", "password": "dict-pw"}}, auth={"username": "x"}
    )
    assert failed
    assert result["msg"] == "cloud is a dict: give auth inside it, not as options"
    assert "dict-pw" not in out


def test_wrong_credentials(run, cloud):
    cloud.token_error = ks_exceptions.Unauthorized("The request you have made requires authentication. (s3cret-pw)")
    failed, result = run(event_info)
    assert failed
    assert result["msg"].startswith("authentication failed for cloud learnhpc-test: ")
    assert "requires authentication" in result["msg"]
    # The password of the cloud's auth settings is masked wherever it appears.
    assert "s3cret-pw" not in result["_raw"]
    assert "Traceback" not in result["_raw"]


def test_expired_credentials(run, cloud):
    cloud.token_error = ks_exceptions.http.NotFound("Could not find Application Credential: abc.")
    failed, result = run(event_info, cloud="learnhpc-test-admin")
    assert failed
    assert result["msg"] == (
        "authentication failed for cloud learnhpc-test-admin: Could not find Application Credential: abc. (HTTP 404)"
    )


def test_unknown_cloud_with_the_fake(run, cloud):
    failed, result = run(event_info, cloud="nope")
    assert failed
    assert (
        result["msg"] == "unknown cloud 'nope': the clouds in /etc/clouds.yaml are learnhpc-test, learnhpc-test-admin"
    )
    assert cloud.log == []


def test_sdk_error_while_running_is_one_line(run, cloud, monkeypatch):
    def broken(**query):
        raise exceptions.HttpException(message="Internal Server Error\nsecond line", http_status=500)

    monkeypatch.setattr(cloud.network, "networks", broken)
    failed, result = run(event_info)
    assert failed
    assert result["msg"].startswith("cloud learnhpc-test: ")
    assert "\n" not in result["msg"]


def test_event_tag_and_back():
    assert openstack_utils.event_tag("demo") == "learnhpc-event=demo"
    assert openstack_utils.tags_event(["x", "learnhpc-event=demo"]) == "demo"
    assert openstack_utils.tags_event(None) is None


@pytest.mark.parametrize(
    ("name", "public_key", "event", "owned"),
    [
        ("demo-key", "ssh-ed25519 AAAA demo-key", "demo", True),
        # a trainer's own key pair, named like the event's (openstack.key_name)
        ("demo-key", "ssh-ed25519 AAAA trainer@laptop", "demo", False),
        ("demo-key", "ssh-ed25519 AAAA", "demo", False),
        ("demo-trainer", "ssh-ed25519 AAAA demo-trainer", "demo", False),
        ("demo-2-key", "ssh-ed25519 AAAA demo-2-key", "demo", False),
        ("demo-2-key", "ssh-ed25519 AAAA demo-2-key", "demo-2", True),
        ("demonstration-key", "ssh-ed25519 AAAA demonstration-key", "demo", False),
    ],
)
def test_owns_keypair(name, public_key, event, owned):
    keypair = types.SimpleNamespace(name=name, public_key=public_key)
    assert openstack_utils.owns_keypair(keypair, event) is owned


@pytest.mark.parametrize(
    ("name", "description", "event", "owned"),
    [
        ("demo-autoscale", "Slurm autoscaling of event demo (learnhpc.cluster.slurm_autoscale)", "demo", True),
        ("demo-autoscale", "the trainer's own", "demo", False),
        ("demo-autoscale", None, "demo", False),
        ("demo-2-autoscale", "Slurm autoscaling of event demo-2 (learnhpc.cluster.slurm_autoscale)", "demo", False),
        ("demo-ci", "Slurm autoscaling of event demo (learnhpc.cluster.slurm_autoscale)", "demo", False),
    ],
)
def test_owns_credential(name, description, event, owned):
    credential = types.SimpleNamespace(name=name, description=description)
    assert openstack_utils.owns_credential(credential, event) is owned


def test_listing():
    assert openstack_utils.listing(["b", "a", "a", None]) == "a, b"
    assert openstack_utils.listing([]) == "(none)"
    assert openstack_utils.listing([f"n{i:02d}" for i in range(5)], limit=2) == "n00, n01, ... (3 more)"


def test_shared_options_are_those_of_openstack_cloud():
    spec = openstack_utils.shared_argument_spec()
    assert set(spec) == {
        "cloud",
        "auth",
        "auth_type",
        "region_name",
        "interface",
        "validate_certs",
        "ca_cert",
        "client_cert",
        "client_key",
        "api_timeout",
        "wait",
        "timeout",
    }
    assert spec["auth"]["no_log"] is True
    assert spec["wait"]["default"] is True
    assert spec["timeout"]["default"] == 600


# -- timeouts and retries ------------------------------------------------------------------

# The real one: the fixture ``run`` replaces it with the in-memory cloud.
_REAL_CONNECT = openstack_utils._connect


def test_every_connection_has_an_api_timeout(run, cloud, monkeypatch):
    """60 s per request unless told otherwise, also for a cloud given as a dict."""
    seen = []

    def connect(**kwargs):
        seen.append(kwargs)
        return cloud

    monkeypatch.setattr(openstack_utils.openstack, "connect", connect)
    monkeypatch.setattr(openstack_utils, "_connect", _REAL_CONNECT)
    failed, result = run(event_info)
    assert not failed, result.get("msg")
    failed, result = run(event_info, api_timeout=5)
    assert not failed, result.get("msg")
    failed, result = run(event_info, cloud={"auth": {"auth_url": "http://127.0.0.1:9/v3"}})
    assert not failed, result.get("msg")
    assert [kwargs["api_timeout"] for kwargs in seen] == [60, 5, 60]
    assert seen[2]["auth"] == {"auth_url": "http://127.0.0.1:9/v3"}


def flaky(*errors, value="done"):
    """A call that raises ``errors`` one after the other, then returns ``value``; ``calls`` counts the calls."""
    left = list(errors)

    def call():
        call.calls += 1
        if left:
            raise left.pop(0)
        return value

    call.calls = 0
    return call


@pytest.mark.parametrize(
    "error",
    [
        ks_exceptions.ConnectFailure("connection refused"),
        ks_exceptions.ConnectTimeout("Request to http://nova timed out"),
        ks_exceptions.http.ServiceUnavailable("503"),
    ],
)
def test_transient_failures_are_retried_with_backoff(error):
    sleeps = []
    call = flaky(error, error)
    assert openstack_utils.retrying(call, sleeps.append) == "done"
    assert call.calls == 3
    assert sleeps == [2, 4]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_and_unavailable_answers_are_retried(status):
    sleeps = []
    error = exceptions.HttpException(message=f"{status}", http_status=status)
    assert openstack_utils.retrying(flaky(error), sleeps.append) == "done"
    assert sleeps == [2]


def test_retries_give_up_after_three():
    sleeps = []
    error = ks_exceptions.ConnectFailure("connection refused")
    call = flaky(*[error] * 10)
    with pytest.raises(ks_exceptions.ConnectFailure):
        openstack_utils.retrying(call, sleeps.append)
    assert call.calls == 4
    assert sleeps == [2, 4, 8]


@pytest.mark.parametrize(
    "error",
    [
        exceptions.HttpException(message="500", http_status=500),
        exceptions.BadRequestException(message="400"),
        exceptions.ConflictException(message="409"),
        exceptions.NotFoundException(message="404"),
        ValueError("a bug"),
    ],
)
def test_other_failures_are_not_retried(error):
    sleeps = []
    call = flaky(error)
    with pytest.raises(type(error)):
        openstack_utils.retrying(call, sleeps.append)
    assert call.calls == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ks_exceptions.ConnectTimeout("Request to http://neutron timed out"), False),
        (ks_exceptions.ConnectFailure("connection reset"), False),
        (exceptions.HttpException(message="504", http_status=504), False),
        (exceptions.HttpException(message="502", http_status=502), True),
        (exceptions.HttpException(message="503", http_status=503), True),
    ],
)
def test_a_create_is_repeated_only_when_it_was_not_carried_out(error, retried):
    sleeps = []
    call = flaky(error)
    if retried:
        assert openstack_utils.retrying(call, sleeps.append, once=True) == "done"
    else:
        with pytest.raises(type(error)):
            openstack_utils.retrying(call, sleeps.append, once=True)
    assert call.calls == (2 if retried else 1)


def test_a_listing_is_read_inside_the_retry():
    """openstacksdk's listings are generators: their requests fail while they are read."""
    attempts = []

    def listing():
        attempts.append(1)
        yield "first"
        if len(attempts) == 1:
            raise ks_exceptions.ConnectFailure("connection lost on page 2")
        yield "second"

    sleeps = []
    assert openstack_utils.retrying(listing, sleeps.append) == ["first", "second"]
    assert sleeps == [2]


def test_modules_retry_through_the_connection(run, cloud, monkeypatch):
    """A module's calls retry transient failures on the module's (fake) clock, then finish normally."""
    real = type(cloud.network).networks
    failures = [exceptions.HttpException(message="503 Service Unavailable", http_status=503)] * 2

    def networks(self, **query):
        if failures:
            raise failures.pop()
        return real(self, **query)

    monkeypatch.setattr(type(cloud.network), "networks", networks)
    failed, result = run(event_info)
    assert not failed, result.get("msg")
    assert cloud.calls("sleep") == [("sleep", 2), ("sleep", 4)]


def test_a_stalled_api_is_one_line_after_the_retries(run, cloud, monkeypatch):
    def networks(self, **query):
        cloud.log.append(("networks",))
        raise ks_exceptions.ConnectTimeout("Request to http://neutron:9696/v2.0/networks timed out")

    monkeypatch.setattr(type(cloud.network), "networks", networks)
    failed, result = run(event_info)
    assert failed
    assert result["msg"] == "cloud learnhpc-test: Request to http://neutron:9696/v2.0/networks timed out"
    assert len(cloud.calls("networks")) == 4
    assert "Traceback" not in result["_raw"]
