# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop expired accounts in Slurm, and let them in again when their date is moved.

PAM refuses an expired account at login, but Slurm does not ask PAM: a JSON Web Token, a
notebook server or a job already queued would keep using the cluster. This program, run by
the accounts role and by a daily systemd timer on the Slurm controller, reads every file
``/etc/learnhpc/account-expiry/<account>.json``::

    {"account": "demo", "cluster": "demo", "expires": {"guest01": "2026-12-10", ...}}

An account expires at the end of its date (local time), as PAM sees it. For each account of
the file:

* expired: its association with the Slurm account gets ``MaxSubmitJobs=0`` (no new job, by
  any path: sbatch, srun, JupyterHub, slurmrestd), and its jobs in that account, pending or
  running, are cancelled;
* not expired (or no date): ``MaxSubmitJobs`` is cleared if it is 0, which is how this program
  stops an account. ``MaxSubmitJobs`` of these associations is this program's.

One line is printed per change; nothing when nothing changes. ``--check`` prints what would
change and changes nothing. Exit status 0, 1 when a Slurm command failed, 2 on a bad file.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import subprocess
import sys

DIRECTORY = os.environ.get("LEARNHPC_ACCOUNT_EXPIRY_DIR", "/etc/learnhpc/account-expiry")
NAME_RE = re.compile(r"[a-z_][a-z0-9_-]*")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SlurmError(Exception):
    """A Slurm command failed; the message is one line."""


def run(argv):
    """The standard output of a Slurm command; SlurmError with its message when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        error = " ".join((done.stderr or done.stdout).split()) or f"exit status {done.returncode}"
        raise SlurmError(f"{argv[0]} failed: {error}")
    return done.stdout


def read_settings(path):
    """``(account, cluster, {user: date or None})`` of one file; ValueError naming the file and key."""
    with open(path, encoding="utf-8") as stream:
        data = json.load(stream)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    account, cluster, expires = data.get("account"), data.get("cluster") or "", data.get("expires")
    if not isinstance(account, str) or not NAME_RE.fullmatch(account):
        raise ValueError(f"{path}: account must be a Slurm account name, got {account!r}")
    if not isinstance(cluster, str) or (cluster and not NAME_RE.fullmatch(cluster)):
        raise ValueError(f"{path}: cluster must be a Slurm cluster name, got {cluster!r}")
    if not isinstance(expires, dict):
        raise ValueError(f"{path}: expires must be an object of user names and dates")
    for user, date in expires.items():
        if not NAME_RE.fullmatch(user):
            raise ValueError(f"{path}: expires: {user!r} is not a user name")
        if date is not None:
            try:
                if not isinstance(date, str) or not DATE_RE.fullmatch(date):
                    raise ValueError("not YYYY-MM-DD")
                datetime.date.fromisoformat(date)
            except ValueError as exc:
                raise ValueError(
                    f"{path}: expires.{user}: must be a date YYYY-MM-DD or null, got {date!r} ({exc})"
                ) from None
    return account, cluster, expires


def expired(date, today):
    """Whether an account whose last day is ``date`` (YYYY-MM-DD or None) has expired on ``today``."""
    return date is not None and datetime.date.fromisoformat(date) < today


def stopped_users(account, cluster):
    """The users whose association with ``account`` has MaxSubmitJobs=0."""
    where = [f"account={account}"] + ([f"cluster={cluster}"] if cluster else [])
    out = run(["sacctmgr", "--noheader", "--parsable2", "show", "associations", "where", *where,
               "format=User,MaxSubmit"])  # fmt: skip
    users = set()
    for line in out.splitlines():
        user, _bar, limit = line.partition("|")
        if user and limit.strip() == "0":
            users.add(user)
    return users


def set_max_submit(account, cluster, users, value):
    where = [f"name={','.join(sorted(users))}", f"account={account}"] + ([f"cluster={cluster}"] if cluster else [])
    run(["sacctmgr", "--immediate", "modify", "user", "where", *where, "set", f"MaxSubmitJobs={value}"])


def jobs_of(account, users):
    """``[job ID, user]`` of the jobs in ``account`` of any of ``users``, pending or running."""
    out = run(["squeue", "--noheader", f"--account={account}", "--states=all", "--format=%i %u %T"])
    jobs = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in users and fields[2] in ("PENDING", "RUNNING", "SUSPENDED", "REQUEUED"):
            jobs.append(fields[:2])
    return jobs


def apply(path, today, check, say):
    """Bring one file's accounts in line; the number of changes."""
    account, cluster, expires = read_settings(path)
    past = {user for user, date in expires.items() if expired(date, today)}
    stopped = stopped_users(account, cluster)
    to_stop = sorted(past - stopped)
    to_restore = sorted((set(expires) - past) & stopped)
    jobs = jobs_of(account, past) if past else []
    for user in to_stop:
        say(f"{account}: {user} expired on {expires[user]}: no new jobs (MaxSubmitJobs=0)")
    for user in to_restore:
        date = expires[user]
        say(f"{account}: {user} expires {'on ' + date if date else 'never'} now: MaxSubmitJobs cleared")
    for job, user in jobs:
        say(f"{account}: job {job} of {user} cancelled (the account expired on {expires[user]})")
    if not check:
        if to_stop:
            set_max_submit(account, cluster, to_stop, 0)
        if to_restore:
            set_max_submit(account, cluster, to_restore, -1)
        if jobs:
            run(["scancel", *[job for job, _user in jobs]])
    return len(to_stop) + len(to_restore) + len(jobs)


def main(argv=None, today=None, out=print):
    args = list(sys.argv[1:] if argv is None else argv)
    check = args == ["--check"]
    if args and not check:
        out("usage: learnhpc-account-expiry [--check]")
        return 2
    today = today or datetime.date.today()
    status = 0
    for path in sorted(glob.glob(os.path.join(DIRECTORY, "*.json"))):
        try:
            apply(path, today, check, out)
        except (OSError, ValueError) as exc:
            out(f"learnhpc-account-expiry: {exc}")
            status = max(status, 2)
        except SlurmError as exc:
            out(f"learnhpc-account-expiry: {path}: {exc}")
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
