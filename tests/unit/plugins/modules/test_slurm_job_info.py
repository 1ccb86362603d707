# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.slurm_job_info, against a fake slurmrestd over HTTP."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.modules import slurm_job_info
from ansible_collections.learnhpc.cluster.tests.unit.plugins.modules.fake_slurmrestd import FakeSlurmrestd


@pytest.fixture
def api():
    with FakeSlurmrestd() as fake:
        yield fake


def run_module(capsys, check_mode=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        slurm_job_info.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def test_one_job_by_id(capsys, api):
    job_id = api.add_job("alice", "analysis", state="FAILED", exit_code=3 << 8, standard_output="out-%x-%j.txt")
    failed, result = run_module(capsys, url=api.url, token=api.token("alice"), job_id=job_id)
    assert not failed, result
    assert result["changed"] is False
    [job] = result["jobs"]
    assert job["job_id"] == job_id
    assert job["job_state"] == "FAILED"
    assert job["active"] is False
    assert job["exit_code"] == 3
    assert job["exit_signal"] == 0
    assert job["standard_output"] == f"/home/alice/out-analysis-{job_id}.txt"
    assert job["standard_error"] == job["standard_output"]
    assert job["end_time"] == "2030-03-18T17:46:41Z"
    assert "controllers" not in result


def test_an_unknown_job_id_is_an_empty_list(capsys, api):
    failed, result = run_module(capsys, url=api.url, token=api.token("alice"), job_id=99)
    assert not failed, result
    assert result["jobs"] == []


def test_the_users_jobs_by_name_and_all(capsys, api):
    api.add_job("alice", "a", state="RUNNING")
    api.add_job("alice", "b", state="PENDING")
    api.add_job("bob", "a", state="RUNNING")
    token = api.token("alice")
    _failed, result = run_module(capsys, url=api.url, token=token, name="a")
    assert [(job["job_id"], job["user_name"]) for job in result["jobs"]] == [(1, "alice")]
    _failed, result = run_module(capsys, url=api.url, token=token)
    assert [job["job_id"] for job in result["jobs"]] == [1, 2]
    assert result["jobs"][1]["start_time"] is None
    _failed, result = run_module(capsys, url=api.url, token=token, all_users=True)
    assert [job["job_id"] for job in result["jobs"]] == [1, 2, 3]


def test_ping_is_the_heartbeat(capsys, api):
    failed, result = run_module(capsys, url=api.url, token=api.token("alice"), ping=True)
    assert not failed
    assert result["controllers"] == [{"hostname": "mgmt", "ping": "UP", "mode": "primary"}]


def test_works_in_check_mode(capsys, api):
    api.add_job("alice", "a")
    failed, result = run_module(capsys, check_mode=True, url=api.url, token=api.token("alice"))
    assert not failed
    assert len(result["jobs"]) == 1


def test_token_from_the_environment(capsys, api, monkeypatch):
    monkeypatch.setenv("SLURM_JWT", api.token("bob"))
    monkeypatch.setenv("SLURM_REST_URL", api.url)
    failed, result = run_module(capsys)
    assert not failed, result
    assert result["user"] == "bob"


def test_another_users_token_is_refused(capsys, api):
    failed, result = run_module(capsys, url=api.url, token=api.token("bob"), user="alice", ping=True)
    assert failed
    assert result["msg"].startswith("GET /slurm/v0.0.38/ping: slurmctld did not accept the token for user alice")


def test_an_admin_token_may_name_another_user(capsys, api):
    api.add_job("alice", "a")
    failed, result = run_module(capsys, url=api.url, token=api.token("slurm"), user="alice")
    assert not failed, result
    assert result["user"] == "alice"
    assert [job["job_id"] for job in result["jobs"]] == [1]


def test_a_malformed_token_makes_no_request(capsys, api):
    failed, result = run_module(capsys, url=api.url, token="abc.def")
    assert failed
    assert "malformed gateway token" in result["msg"]
    assert api.requests == []


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ({"job_id": 0}, "job_id: must be a job id"),
        ({"job_id": 1, "name": "a"}, "mutually exclusive"),
        ({"user": "Not A User"}, "user: 'Not A User' is not a user name"),
        ({"timeout": 0}, "timeout: must be at least 1 second"),
    ],
)
def test_bad_options(capsys, api, args, text):
    failed, result = run_module(capsys, url=api.url, token=api.token("alice"), **args)
    assert failed
    assert text in result["msg"]
    assert api.requests == []
