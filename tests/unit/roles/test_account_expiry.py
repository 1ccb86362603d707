"""The accounts role's learnhpc-account-expiry program against a fake sacctmgr, squeue and scancel.

The fake answers from a table of associations and jobs and applies what it is asked, as the
real commands would; the molecule scenario accounts runs the program against real Slurm.
"""

import datetime
import importlib.util
import json
import re
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[3] / "roles" / "accounts" / "files" / "learnhpc_account_expiry.py"
SPEC = importlib.util.spec_from_file_location("learnhpc_account_expiry", PROGRAM)
expiry = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(expiry)

TODAY = datetime.date(2026, 12, 11)


class FakeSlurm:
    def __init__(self, limits, jobs=()):
        self.limits = dict(limits)  # user -> MaxSubmit ("" for none)
        self.jobs = list(jobs)  # (id, user, state)
        self.changes = []

    def __call__(self, argv):
        if argv[:2] == ["sacctmgr", "--noheader"]:
            assert "account=demo" in argv
            return "".join(f"{user}|{limit}\n" for user, limit in [("", ""), *sorted(self.limits.items())])
        if argv[:2] == ["sacctmgr", "--immediate"]:
            users = argv[argv.index("where") + 1].removeprefix("name=").split(",")
            value = argv[-1].removeprefix("MaxSubmitJobs=")
            for user in users:
                self.limits[user] = "" if value == "-1" else value
            self.changes.append(("MaxSubmitJobs", value, users))
            return ""
        if argv[0] == "squeue":
            return "".join(f"{job} {user} {state}\n" for job, user, state in self.jobs)
        if argv[0] == "scancel":
            self.changes.append(("scancel", argv[1:]))
            self.jobs = [job for job in self.jobs if job[0] not in argv[1:]]
            return ""
        raise AssertionError(argv)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(expiry, "DIRECTORY", str(tmp_path))

    def write(expires, account="demo", name="demo.json"):
        (tmp_path / name).write_text(json.dumps({"account": account, "cluster": "demo", "expires": expires}))

    return write


def run_program(monkeypatch, slurm, *argv):
    monkeypatch.setattr(expiry, "run", slurm)
    lines = []
    status = expiry.main(list(argv), today=TODAY, out=lines.append)
    return status, lines


def test_an_account_expires_after_its_last_day(settings, monkeypatch):
    settings({"guest01": "2026-12-10", "guest02": "2026-12-11", "trainer": None})
    slurm = FakeSlurm(
        {"guest01": "", "guest02": "", "trainer": ""},
        jobs=[("7", "guest01", "RUNNING"), ("8", "guest01", "PENDING"), ("9", "guest02", "RUNNING")],
    )
    status, lines = run_program(monkeypatch, slurm)
    assert status == 0
    assert slurm.changes == [("MaxSubmitJobs", "0", ["guest01"]), ("scancel", ["7", "8"])]
    assert lines == [
        "demo: guest01 expired on 2026-12-10: no new jobs (MaxSubmitJobs=0)",
        "demo: job 7 of guest01 cancelled (the account expired on 2026-12-10)",
        "demo: job 8 of guest01 cancelled (the account expired on 2026-12-10)",
    ]
    # a second run changes nothing and says nothing
    status, lines = run_program(monkeypatch, slurm)
    assert (status, lines) == (0, [])
    assert len(slurm.changes) == 2


def test_a_later_date_lets_the_account_in_again(settings, monkeypatch):
    settings({"guest01": "2026-12-31", "guest02": None})
    slurm = FakeSlurm({"guest01": "0", "guest02": "0", "other": "0"})
    status, lines = run_program(monkeypatch, slurm)
    assert status == 0
    assert slurm.changes == [("MaxSubmitJobs", "-1", ["guest01", "guest02"])]
    assert slurm.limits["other"] == "0"  # not in the file: not this program's
    assert lines == [
        "demo: guest01 expires on 2026-12-31 now: MaxSubmitJobs cleared",
        "demo: guest02 expires never now: MaxSubmitJobs cleared",
    ]


def test_check_mode_says_and_changes_nothing(settings, monkeypatch):
    settings({"guest01": "2026-01-01"})
    slurm = FakeSlurm({"guest01": ""}, jobs=[("7", "guest01", "RUNNING")])
    status, lines = run_program(monkeypatch, slurm, "--check")
    assert status == 0 and len(lines) == 2 and slurm.changes == []


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        (
            {"guest01": "2026-02-30"},
            r"expires.guest01: must be a date YYYY-MM-DD or null, got '2026-02-30' \(day is out",
        ),
        ({"guest01": "2026-12-10\n"}, r"expires.guest01: must be a date YYYY-MM-DD or null"),
        ({"guest01\n": "2026-12-10"}, r"expires: 'guest01\\n' is not a user name"),
    ],
)
def test_a_bad_file_is_named_in_one_line_and_others_still_run(settings, monkeypatch, expires, message):
    settings(expires, name="bad.json")
    settings({"guest01": "2026-12-10"}, name="good.json")
    slurm = FakeSlurm({"guest01": ""})
    status, lines = run_program(monkeypatch, slurm)
    assert status == 2
    assert len(lines) == 2
    assert lines[0].startswith("learnhpc-account-expiry: ") and "bad.json: " in lines[0]
    assert re.search(message, lines[0])
    assert slurm.changes == [("MaxSubmitJobs", "0", ["guest01"])]


def test_a_failing_slurm_command_is_one_line(settings, monkeypatch):
    settings({"guest01": "2026-12-10"})

    def broken(argv):
        raise expiry.SlurmError("sacctmgr failed: Connection refused")

    status, lines = run_program(monkeypatch, broken)
    assert status == 1
    assert lines == [f"learnhpc-account-expiry: {expiry.DIRECTORY}/demo.json: sacctmgr failed: Connection refused"]


def test_usage():
    lines = []
    assert expiry.main(["--now"], out=lines.append) == 2
    assert lines == ["usage: learnhpc-account-expiry [--check]"]
