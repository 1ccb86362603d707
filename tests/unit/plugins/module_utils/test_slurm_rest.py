# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/slurm_rest.py: tokens, errors, job records."""

from __future__ import annotations

import time

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import slurm_rest
from ansible_collections.learnhpc.cluster.tests.unit.plugins.modules.fake_slurmrestd import FakeSlurmrestd, make_token


def test_token_claims_of_a_slurm_token():
    claims, problem = slurm_rest.token_claims(make_token("alice", lifespan=60, now=1000))
    assert problem is None
    assert claims == {"exp": 1060, "iat": 1000, "sun": "alice"}


def test_token_with_white_space_around_it():
    claims, problem = slurm_rest.token_claims("  " + make_token("alice") + "\n")
    assert problem is None
    assert claims["sun"] == "alice"


@pytest.mark.parametrize("token", ["", "x", "a.b", "a..c", "a.b.c", "é.b.c"])
def test_malformed_tokens_have_one_line_that_does_not_quote_them(token):
    claims, problem = slurm_rest.token_claims(token)
    assert claims is None
    assert problem.startswith("token: ")
    assert "\n" not in problem
    if len(token) > 2:
        assert token not in problem


def test_errors_text_joins_descriptions_and_sources():
    errors = [
        {"description": 'Unknown key "bogus"', "source": "hsearch_r"},
        {"error_code": 9001, "error": "Failure during parsing"},
        {"error_code": 9001, "error": "Failure during parsing"},
    ]
    assert slurm_rest.api_errors_text(errors) == 'Unknown key "bogus" (hsearch_r); Failure during parsing'


@pytest.mark.parametrize(
    ("job", "path"),
    [
        ({"job_id": 7, "current_working_directory": "/home/a"}, "/home/a/slurm-7.out"),
        (
            {
                "job_id": 7,
                "current_working_directory": "/w",
                "standard_output": "/o/%x-%j-%u.log",
                "name": "n",
                "user_name": "a",
            },
            "/o/n-7-a.log",
        ),
        ({"job_id": 7, "current_working_directory": "/w/", "standard_output": "out%%.txt"}, "/w/out%.txt"),
        ({"job_id": 8, "array_job_id": 7, "array_task_id": 1, "current_working_directory": "/w"}, "/w/slurm-7_1.out"),
    ],
)
def test_output_path(job, path):
    assert slurm_rest.output_path(job, "standard_output") == path


def test_standard_error_has_its_own_file_when_given():
    job = {"job_id": 7, "current_working_directory": "/w", "standard_output": "o", "standard_error": "e-%j"}
    assert slurm_rest.output_path(job, "standard_error") == "/w/e-7"


def test_job_summary_of_a_cancelled_job():
    summary = slurm_rest.job_summary(
        {"job_id": 3, "job_state": "CANCELLED", "exit_code": 15, "start_time": 10, "end_time": 0}
    )
    assert summary["active"] is False
    assert summary["exit_code"] == 0
    assert summary["exit_signal"] == 15
    assert summary["start_time"] == "1970-01-01T00:00:10Z"
    assert summary["end_time"] is None


def test_an_expired_token_is_named_when_slurmctld_refuses_it():
    with FakeSlurmrestd() as api:
        token = make_token("alice", lifespan=-60)
        client = slurm_rest.SlurmRestClient(api.url, "alice", token, expires=int(time.time()) - 60)
        with pytest.raises(slurm_rest.SlurmRestError, match=r"the token expired at .* UTC"):
            client.jobs()


def test_not_json_is_one_line():
    with FakeSlurmrestd() as api:
        client = slurm_rest.SlurmRestClient(api.url, "alice", api.token("alice"))
        with pytest.raises(slurm_rest.SlurmRestError, match="HTTP 404 with something that is not JSON"):
            client.request("GET", "/slurm/v0.0.38/nothing")
