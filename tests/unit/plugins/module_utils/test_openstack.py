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
