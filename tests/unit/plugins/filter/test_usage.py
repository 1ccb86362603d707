# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the slurm_usage filter, on lines as Slurm 22.05's sacct prints them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.usage import slurm_usage

# sacct -X --parsable2 --noheader --format=User,JobID,State,AllocCPUS,ElapsedRaw,CPUTimeRAW
SACCT = """\
guest01|2|COMPLETED|2|3|6
guest01|5|CANCELLED by 10001|1|7200|7200
guest02|3|TIMEOUT|4|1800|7200
trainer|4|COMPLETED|2|2|4
guest01|6|RUNNING|2|900|1800
"""


def test_per_user_jobs_states_and_core_hours():
    usage = slurm_usage(SACCT, ["guest01", "guest02", "guest03", "trainer"], {"guest01": 1, "guest02": 1, "guest03": 1})
    assert [u["user"] for u in usage] == ["guest01", "guest02", "guest03", "trainer"]
    guest01 = usage[0]
    assert guest01["jobs"] == 3
    assert guest01["states"] == {
        "COMPLETED": 1,
        "FAILED": 0,
        "CANCELLED": 1,
        "TIMEOUT": 0,
        "OUT_OF_MEMORY": 0,
        "other": 1,
    }
    assert guest01["core_hours"] == 2.5  # (6 + 7200 + 1800) / 3600 = 2.5017
    assert guest01["budget_used_percent"] == 250.0
    assert usage[1]["core_hours"] == 2.0
    assert usage[1]["states"]["TIMEOUT"] == 1
    # An attendee without a job is in the report, with nothing used.
    assert usage[2] == {
        "user": "guest03",
        "jobs": 0,
        "states": dict.fromkeys(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "other"], 0),
        "core_hours": 0.0,
        "budget_core_hours": 1,
        "budget_used_percent": 0.0,
    }
    # No budget: no percentage.
    assert (usage[3]["budget_core_hours"], usage[3]["budget_used_percent"]) == (None, None)


def test_users_with_jobs_but_no_association_appear_too():
    assert [u["user"] for u in slurm_usage("root|1|COMPLETED|1|1|1\n\n")] == ["root"]


def test_empty_accounting():
    assert slurm_usage("", ["guest01"])[0]["jobs"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "guest01|2|COMPLETED|2|3",
            "slurm_usage: expected 6 fields (User,JobID,State,AllocCPUS,ElapsedRaw,CPUTimeRAW)",
        ),
        ("guest01|2|COMPLETED|2|3|lots", "slurm_usage: CPUTimeRAW 'lots' is not a number"),
        ("guest01|2|COMPLETED|2|3|-5", "slurm_usage: CPUTimeRAW -5 is negative"),
    ],
)
def test_bad_lines_are_named(text, message):
    with pytest.raises(AnsibleFilterError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        slurm_usage(text)


def test_not_text():
    with pytest.raises(AnsibleFilterError, match="expected the text sacct printed, got list"):
        slurm_usage(["guest01|2|COMPLETED|2|3|6"])
