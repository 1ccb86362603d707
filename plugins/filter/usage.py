# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An event's usage per attendee, from Slurm's accounting (playbooks/report.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

# The sacct fields the filter reads, in this order: sacct -X --parsable2 --noheader --format=<these>.
SACCT_FIELDS = ("User", "JobID", "State", "AllocCPUS", "ElapsedRaw", "CPUTimeRAW")
# Job states counted on their own; every other state (PENDING, RUNNING, NODE_FAIL, ...) is "other".
STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY")


def _int(text, what, line):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"slurm_usage: {what} {text!r} is not a number in the sacct line {line!r}") from None
    if value < 0:
        raise AnsibleFilterError(f"slurm_usage: {what} {value} is negative in the sacct line {line!r}")
    return value


def slurm_usage(sacct, users=(), budgets=None):
    """Jobs and core hours per user.

    ``sacct`` is the output of ``sacct -X --parsable2 --noheader --format=User,JobID,State,
    AllocCPUS,ElapsedRaw,CPUTimeRAW`` (one line per job allocation); ``users`` the names that
    must appear even without a job (the event's associations); ``budgets`` a dict of core hours
    per user (the guests' budget). Returns one dict per user, sorted by name:
    ``{user, jobs, states: {COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, other},
    core_hours, budget_core_hours, budget_used_percent}``; the last two are null without a
    budget. Core hours are CPUTimeRAW (allocated CPUs times elapsed seconds) over 3600, so a
    job still running counts what it used so far.
    """
    if not isinstance(sacct, str):
        raise AnsibleFilterError(f"slurm_usage: expected the text sacct printed, got {type(sacct).__name__}")
    budgets = dict(budgets or {})
    rows = {}

    def row(user):
        return rows.setdefault(
            user, {"user": user, "jobs": 0, "states": dict.fromkeys((*STATES, "other"), 0), "seconds": 0}
        )

    for user in users or ():
        row(str(user))
    for line in sacct.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != len(SACCT_FIELDS):
            wanted = f"{len(SACCT_FIELDS)} fields ({','.join(SACCT_FIELDS)})"
            raise AnsibleFilterError(f"slurm_usage: expected {wanted} in the sacct line {line!r}")
        user, _job, state, _cpus, _elapsed, cpu_seconds = fields
        if not user:
            continue
        item = row(user)
        item["jobs"] += 1
        # "CANCELLED by 10001" is a cancellation.
        state = state.split()[0] if state.strip() else ""
        item["states"][state if state in STATES else "other"] += 1
        item["seconds"] += _int(cpu_seconds, "CPUTimeRAW", line)
    result = []
    for user in sorted(rows):
        item = rows[user]
        hours = round(item.pop("seconds") / 3600, 2)
        budget = budgets.get(user)
        item["core_hours"] = hours
        item["budget_core_hours"] = budget
        item["budget_used_percent"] = round(100 * hours / budget, 1) if budget else None
        result.append(item)
    return result


class FilterModule:
    """Usage filters."""

    def filters(self):
        return {"slurm_usage": slurm_usage}
