# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.slurm_job, against a fake slurmrestd over HTTP."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.module_utils import slurm_rest
from ansible_collections.learnhpc.cluster.plugins.modules import slurm_job
from ansible_collections.learnhpc.cluster.tests.unit.plugins.modules.fake_slurmrestd import FakeSlurmrestd, make_token

SCRIPT = "#!/bin/bash\nhostname\n"


@pytest.fixture
def api():
    with FakeSlurmrestd() as fake:
        yield fake


def run_module(capsys, check_mode=False, diff=False, **args):
    """Run the module's main() with ``args``; returns (failed, result)."""
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        slurm_job.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def submit_args(api, user="alice", **extra):
    return {
        "url": api.url,
        "token": api.token(user),
        "name": "analysis",
        "script": SCRIPT,
        "working_directory": f"/home/{user}/run",
        **extra,
    }


def test_submits_with_script_and_working_directory(capsys, api):
    failed, result = run_module(capsys, **submit_args(api, time_limit=5, nodes=2, partition="batch"))
    assert not failed, result
    assert result["changed"] is True
    assert result["job_id"] == 1
    assert result["job_state"] == "PENDING"
    assert result["user"] == "alice"
    assert result["job"]["standard_output"] == "/home/alice/run/slurm-1.out"
    _method, _path, user, body = next(r for r in api.requests if r[0] == "POST")
    body = json.loads(body)
    assert user == "alice"
    assert body["script"] == SCRIPT
    assert body["job"] == {
        "name": "analysis",
        "current_working_directory": "/home/alice/run",
        "environment": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
        "partition": "batch",
        "time_limit": 5,
        "nodes": [2, 2],
    }


def test_an_active_job_of_that_name_is_returned_unchanged(capsys, api):
    job_id = api.add_job("alice", "analysis", state="RUNNING")
    failed, result = run_module(capsys, **submit_args(api))
    assert not failed, result
    assert result["changed"] is False
    assert result["job_id"] == job_id
    assert result["job_state"] == "RUNNING"
    assert api.calls("POST") == []


def test_a_second_run_submits_nothing(capsys, api):
    args = submit_args(api)
    run_module(capsys, **args)
    failed, result = run_module(capsys, **args)
    assert not failed
    assert result["changed"] is False
    assert result["job_id"] == 1
    assert len(api.calls("POST")) == 1


@pytest.mark.parametrize("state", ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "COMPLETING"])
def test_an_ended_job_of_that_name_does_not_count(capsys, api, state):
    api.add_job("alice", "analysis", state=state)
    failed, result = run_module(capsys, **submit_args(api))
    assert not failed
    assert result["changed"] is True
    assert result["job_id"] == 2


def test_another_users_job_of_that_name_does_not_count(capsys, api):
    api.add_job("bob", "analysis", state="RUNNING")
    failed, result = run_module(capsys, **submit_args(api))
    assert not failed
    assert result["changed"] is True
    assert result["job_id"] == 2


def test_check_mode_says_it_would_submit_and_submits_nothing(capsys, api):
    failed, result = run_module(capsys, check_mode=True, diff=True, **submit_args(api))
    assert not failed, result
    assert result["changed"] is True
    assert result["job_id"] is None
    assert "would submit job analysis as alice" in result["msg"]
    assert result["diff"] == {
        "before": {"name": "analysis", "active_jobs": []},
        "after": {"name": "analysis", "active_jobs": ["(new job)"]},
    }
    assert api.calls("POST") == []
    assert api.jobs == {}


def test_check_mode_with_an_active_job_is_unchanged(capsys, api):
    api.add_job("alice", "analysis", state="PENDING")
    failed, result = run_module(capsys, check_mode=True, **submit_args(api))
    assert not failed
    assert result["changed"] is False
    assert result["job_id"] == 1


def test_absent_cancels_the_active_job_and_is_idempotent(capsys, api):
    job_id = api.add_job("alice", "analysis", state="RUNNING")
    args = {"url": api.url, "token": api.token("alice"), "name": "analysis", "state": "absent"}
    failed, result = run_module(capsys, **args)
    assert not failed, result
    assert result["changed"] is True
    assert result["cancelled"] == [job_id]
    assert result["job_state"] == "CANCELLED"
    failed, result = run_module(capsys, **args)
    assert not failed
    assert result["changed"] is False
    assert result["cancelled"] == []
    assert len(api.calls("DELETE")) == 1


def test_absent_in_check_mode_cancels_nothing(capsys, api):
    api.add_job("alice", "analysis", state="RUNNING")
    args = {"url": api.url, "token": api.token("alice"), "name": "analysis", "state": "absent"}
    failed, result = run_module(capsys, check_mode=True, diff=True, **args)
    assert not failed
    assert result["changed"] is True
    assert result["cancelled"] == [1]
    assert result["diff"]["after"] == {"name": "analysis", "active_jobs": []}
    assert api.calls("DELETE") == []
    assert api.jobs[1]["job_state"] == "RUNNING"


def test_absent_leaves_other_users_jobs_alone(capsys, api):
    api.add_job("bob", "analysis", state="RUNNING")
    args = {"url": api.url, "token": api.token("alice"), "name": "analysis", "state": "absent"}
    failed, result = run_module(capsys, **args)
    assert not failed
    assert result["changed"] is False
    assert api.jobs[1]["job_state"] == "RUNNING"


def test_user_defaults_to_the_tokens_user(capsys, api):
    failed, result = run_module(capsys, **submit_args(api, user="bob"))
    assert not failed
    assert result["user"] == "bob"
    assert {user for _m, _p, user, _b in api.requests} == {"bob"}


def test_another_users_token_is_refused_in_one_line(capsys, api):
    args = submit_args(api, user="bob")
    args["user"] = "alice"
    failed, result = run_module(capsys, **args)
    assert failed
    assert "\n" not in result["msg"]
    assert result["msg"].startswith("GET /slurm/v0.0.38/jobs: slurmctld did not accept the token for user alice")
    assert args["token"] not in result["msg"]
    assert api.calls("POST") == []


def test_an_unknown_token_is_refused(capsys, api):
    args = submit_args(api)
    args["token"] = args["token"][:-4] + "AAAA"
    failed, result = run_module(capsys, **args)
    assert failed
    assert "slurmctld did not accept the token for user alice" in result["msg"]


@pytest.mark.parametrize(
    ("token", "text"),
    [
        ("not-a-token", "malformed gateway token: a JSON Web Token is three base64url parts separated by '.'"),
        ("a.b", "this one has 2 part(s)"),
        ("a.b.c.d", "this one has 4 part(s)"),
        ("ab$.cd.ef", "one empty or with characters outside base64url"),
        ("YWJj.ZGVm.Z2hp", "its first two parts are not base64url-encoded JSON objects"),
        ("SLURM_JWT=eyJh.eyJh.abc", "give only what follows 'SLURM_JWT='"),
        ("  ", "token: is empty"),
    ],
)
def test_a_malformed_token_fails_in_one_line_before_any_request(capsys, api, token, text):
    args = submit_args(api)
    args["token"] = token
    failed, result = run_module(capsys, **args)
    assert failed
    assert text in result["msg"]
    assert "\n" not in result["msg"]
    assert api.requests == []


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        ({"script": "echo hi\n"}, "script: must start with '#!'"),
        ({"working_directory": "run"}, "working_directory: must be an absolute path, got 'run'"),
        ({"name": "two words"}, "name: 'two words' is not a job name"),
        ({"time_limit": 0}, "time_limit: must be at least 1, got 0"),
        ({"environment": {"1X": "y"}}, "environment: not variable names: '1X'"),
        ({"url": "login:6820"}, "url: must be the gateway's address"),
    ],
)
def test_bad_options_fail_in_one_line_before_any_request(capsys, api, extra, text):
    failed, result = run_module(capsys, **{**submit_args(api), **extra})
    assert failed
    assert text in result["msg"]
    assert api.requests == []


def test_what_slurm_refuses_is_one_line(capsys, api):
    failed, result = run_module(capsys, **submit_args(api, partition="nope"))
    assert failed
    assert result["msg"] == "POST /slurm/v0.0.38/job/submit: HTTP 500: Invalid partition name specified"


def test_properties_are_merged_over_the_options(capsys, api):
    failed, _result = run_module(capsys, **submit_args(api, partition="batch", properties={"qos": "normal"}))
    assert not failed
    job = json.loads(next(r for r in api.requests if r[0] == "POST")[3])["job"]
    assert job["qos"] == "normal"
    assert job["partition"] == "batch"


def test_the_apis_refusal_of_a_body_is_one_line(api):
    client = slurm_rest.SlurmRestClient(api.url, "alice", api.token("alice"))
    with pytest.raises(slurm_rest.SlurmRestError) as error:
        client.submit(SCRIPT, {"name": "x"})
    assert str(error.value) == (
        "POST /slurm/v0.0.38/job/submit: HTTP 400: environment must be set; Failure during parsing"
    )


def test_an_unreachable_gateway_is_one_line(capsys):
    failed, result = run_module(
        capsys,
        url="http://127.0.0.1:9",
        token=make_token("alice"),
        name="analysis",
        script=SCRIPT,
        working_directory="/tmp",
        timeout=5,
    )
    assert failed
    assert result["msg"].startswith("GET /slurm/v0.0.38/jobs: cannot reach the gateway at http://127.0.0.1:9:")


def test_no_token_at_the_gateway_is_a_401_in_one_line(api):
    client = slurm_rest.SlurmRestClient(api.url, "alice", "")
    with pytest.raises(slurm_rest.SlurmRestError, match="HTTP 401 Authentication failure"):
        client.jobs()
