#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: slurm_job
short_description: Submit or cancel a Slurm batch job through the job gateway (Slurm's REST API)
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Submits a batch job with a script and a working directory, as the user of the token, through slurmrestd behind
    the login node's HTTPS (role C(learnhpc.cluster.slurm_rest)); or cancels it.
  - Idempotent by job name. With O(state=present), a job of that name of that user that is still active (pending,
    running, suspended, ...) is returned unchanged, and nothing is submitted; a new job is submitted only when there
    is none. With O(state=absent), the active jobs of that name of that user are cancelled; none is no change.
  - The script and the settings of an active job are not compared with the task's; cancel the job
    (O(state=absent)) to submit a changed one.
  - In check mode nothing is submitted or cancelled; the module reads the jobs and says what it would do.
  - Files are staged in and out with M(ansible.builtin.copy) and M(ansible.builtin.fetch) on a node that sees the
    user's files (the login node); the paths of the job's output are returned.
options:
  name:
    description:
      - The job's name (C(--job-name)), which the module finds the job by.
      - Letters, digits and C(_ - . + @ :), at most 200 characters.
    type: str
    required: true
  state:
    description:
      - V(present) submits the job unless an active job of that name exists; V(absent) cancels the active jobs of that
        name.
    type: str
    choices: [present, absent]
    default: present
  script:
    description:
      - The batch script, starting with C(#!) (e.g. C(#!/bin/bash)); C(#SBATCH) lines in it are read as with sbatch.
      - Required with O(state=present).
    type: str
  working_directory:
    description:
      - The job's working directory on the cluster (C(--chdir)), an absolute path the user may write to; relative
        output file names are relative to it.
      - Required with O(state=present).
    type: str
  partition:
    description:
      - The partition; the cluster's default partition when not given.
    type: str
  account:
    description:
      - The Slurm account to charge; the user's default account when not given.
    type: str
  time_limit:
    description:
      - The time limit in minutes; the partition's default when not given.
    type: int
  nodes:
    description:
      - The number of nodes.
    type: int
  tasks:
    description:
      - The number of tasks (C(--ntasks)).
    type: int
  cpus_per_task:
    description:
      - CPUs per task (C(--cpus-per-task)).
    type: int
  memory_per_node:
    description:
      - Memory per node in MB (C(--mem)).
    type: int
  standard_output:
    description:
      - The job's standard output file (C(--output)); C(%j) is the job id, C(%x) its name, C(%u) the user.
      - Slurm's default is C(slurm-%j.out) in O(working_directory).
    type: str
  standard_error:
    description:
      - The job's standard error file (C(--error)); the standard output file when not given.
    type: str
  environment:
    description:
      - The job's environment. Slurm's REST API does not pass on the environment of the caller; a script that wants
        the user's login environment (modules, EESSI) starts with C(#!/bin/bash -l).
    type: dict
    default:
      PATH: /usr/local/bin:/usr/bin:/bin
  properties:
    description:
      - Any other job property of the API (C(v0.0.38_job_properties)), such as C(qos) or C(mail_type), merged over
        those the options above make.
    type: dict
    default: {}
extends_documentation_fragment:
  - learnhpc.cluster.slurm_rest
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - The job gateway (role C(learnhpc.cluster.slurm_rest)) reachable from the host the module runs on.
notes:
  - Slurm queues a job as soon as it is submitted; there is no separate launch step.
  - slurmctld forgets a job C(MinJobAge) seconds (300 by default) after it ended; a job of that name submitted again
    after that is a new job.
seealso:
  - module: learnhpc.cluster.slurm_job_info
"""

EXAMPLES = r"""
- name: Submit the analysis as the attendee (token from 'scontrol token' on the login node)
  learnhpc.cluster.slurm_job:
    url: https://login.example.org:6820
    token: "{{ attendee_token }}"
    ca_path: events/.state/workshop/pki/ca.crt
    name: analysis
    working_directory: /home/guest01/run1
    script: |
      #!/bin/bash
      #SBATCH --ntasks=2
      srun ./analyse input.dat
    time_limit: 30
  delegate_to: localhost
  register: analysis

- name: Cancel it
  learnhpc.cluster.slurm_job:
    url: https://login.example.org:6820
    token: "{{ attendee_token }}"
    ca_path: events/.state/workshop/pki/ca.crt
    name: analysis
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
job_id:
  description:
    - The id of the job submitted, found active, or cancelled (the first one when several were cancelled).
    - Null when there is none, and in check mode when a job would be submitted.
  returned: always
  type: int
  sample: 42
job_state:
  description: The job's state as Slurm gives it (C(PENDING), C(RUNNING), C(CANCELLED), ...); null when there is no job.
  returned: always
  type: str
  sample: PENDING
job:
  description: The job, as M(learnhpc.cluster.slurm_job_info) returns each of its jobs; null when there is none.
  returned: always
  type: dict
  sample:
    job_id: 42
    name: analysis
    user_name: guest01
    job_state: PENDING
    active: true
    state_reason: Priority
    partition: batch
    account: workshop
    nodes: ""
    batch_host: ""
    current_working_directory: /home/guest01/run1
    standard_output: /home/guest01/run1/slurm-42.out
    standard_error: /home/guest01/run1/slurm-42.out
    time_limit: 30
    submit_time: "2030-06-01T09:00:00Z"
    start_time: null
    end_time: null
    exit_code: 0
    exit_signal: 0
cancelled:
  description: The ids of the jobs cancelled (or that would be, in check mode).
  returned: always
  type: list
  elements: int
  sample: [42]
user:
  description: The user the requests were made as.
  returned: always
  type: str
  sample: guest01
msg:
  description: What was done, or would be done in check mode.
  returned: always
  type: str
  sample: submitted job 42 (analysis) as guest01
"""

import re
from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.slurm_rest import (
    ENDED_STATES,
    SlurmRestModule,
    job_summary,
)

NAME_RE = re.compile(r"^[A-Za-z0-9_.+@:-]{1,200}$")
INT_OPTIONS = ("time_limit", "nodes", "tasks", "cpus_per_task", "memory_per_node")


class SlurmJob(SlurmRestModule):
    argument_spec: ClassVar[dict] = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "script": {"type": "str"},
        "working_directory": {"type": "str"},
        "partition": {"type": "str"},
        "account": {"type": "str"},
        "time_limit": {"type": "int"},
        "nodes": {"type": "int"},
        "tasks": {"type": "int"},
        "cpus_per_task": {"type": "int"},
        "memory_per_node": {"type": "int"},
        "standard_output": {"type": "str"},
        "standard_error": {"type": "str"},
        "environment": {"type": "dict", "default": {"PATH": "/usr/local/bin:/usr/bin:/bin"}},
        "properties": {"type": "dict", "default": {}},
    }
    module_kwargs: ClassVar[dict] = {
        "supports_check_mode": True,
        "required_if": [("state", "present", ("script", "working_directory"))],
    }

    def check_input(self):
        params = self.params
        problems = []
        if not NAME_RE.fullmatch(params["name"]):
            problems.append(
                f"name: {params['name']!r} is not a job name (letters, digits and _ - . + @ :, at most 200 characters)"
            )
        if params["state"] == "present":
            if not params["script"].startswith("#!"):
                problems.append("script: must start with '#!' and the interpreter, e.g. '#!/bin/bash'")
            if not params["working_directory"].startswith("/"):
                problems.append(f"working_directory: must be an absolute path, got {params['working_directory']!r}")
        for key in INT_OPTIONS:
            if params[key] is not None and params[key] < 1:
                problems.append(f"{key}: must be at least 1, got {params[key]}")
        bad_env = [key for key in params["environment"] if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key))]
        if bad_env:
            problems.append("environment: not variable names: " + ", ".join(map(repr, bad_env)))
        if problems:
            self.fail("; ".join(problems))

    def properties(self):
        """The job properties of the submission."""
        params = self.params
        job = {
            "name": params["name"],
            "current_working_directory": params["working_directory"],
            "environment": {str(key): str(value) for key, value in params["environment"].items()},
        }
        for key in ("partition", "account", "time_limit", "tasks", "cpus_per_task", "memory_per_node"):
            if params[key] is not None:
                job[key] = params[key]
        if params["nodes"] is not None:
            job["nodes"] = [params["nodes"], params["nodes"]]
        for key in ("standard_output", "standard_error"):
            if params[key]:
                job[key] = params[key]
        job.update(params["properties"])
        return job

    def active_jobs(self):
        """This user's jobs of that name that have not ended, oldest first."""
        name = self.params["name"]
        return sorted(
            (
                job
                for job in self.client.jobs()
                if job.get("name") == name
                and job.get("user_name") == self.user
                and (job.get("job_state") or "") not in ENDED_STATES
            ),
            key=lambda job: job.get("job_id") or 0,
        )

    def run(self):
        name = self.params["name"]
        active = self.active_jobs()
        before = {"name": name, "active_jobs": [job.get("job_id") for job in active]}
        result = self.present(active) if self.params["state"] == "present" else self.absent(active)
        if self.ansible._diff:
            after = {"name": name, "active_jobs": result.pop("_active_after")}
            result["diff"] = {"before": before, "after": after}
        else:
            result.pop("_active_after")
        return result

    def present(self, active):
        name = self.params["name"]
        if active:
            job = job_summary(active[0])
            if len(active) > 1:
                others = ", ".join(str(other.get("job_id")) for other in active[1:])
                self.ansible.warn(f"{self.user} has more than one active job named {name}: {job['job_id']}, {others}")
            return {
                "job_id": job["job_id"],
                "job_state": job["job_state"],
                "job": job,
                "cancelled": [],
                "msg": f"job {job['job_id']} ({name}) of {self.user} is {job['job_state']}; nothing submitted",
                "_active_after": [item.get("job_id") for item in active],
            }
        if self.check_mode:
            return {
                "changed": True,
                "job_id": None,
                "job_state": None,
                "job": None,
                "cancelled": [],
                "msg": f"would submit job {name} as {self.user} (check mode: nothing submitted)",
                "_active_after": ["(new job)"],
            }
        answer = self.client.submit(self.params["script"], self.properties())
        job_id = answer["job_id"]
        record = self.client.job(job_id)
        job = job_summary(record) if record else None
        result = {
            "changed": True,
            "job_id": job_id,
            "job_state": job["job_state"] if job else None,
            "job": job,
            "cancelled": [],
            "msg": f"submitted job {job_id} ({name}) as {self.user}",
            "_active_after": [job_id],
        }
        if answer.get("job_submit_user_msg"):
            result["msg"] += ": " + answer["job_submit_user_msg"]
        return result

    def absent(self, active):
        name = self.params["name"]
        ids = [job.get("job_id") for job in active]
        if not active:
            return {
                "job_id": None,
                "job_state": None,
                "job": None,
                "cancelled": [],
                "msg": f"{self.user} has no active job named {name}; nothing cancelled",
                "_active_after": [],
            }
        if self.check_mode:
            job = job_summary(active[0])
            return {
                "changed": True,
                "job_id": job["job_id"],
                "job_state": job["job_state"],
                "job": job,
                "cancelled": ids,
                "msg": f"would cancel job(s) {', '.join(map(str, ids))} ({name}) of {self.user} (check mode)",
                "_active_after": [],
            }
        for job_id in ids:
            self.client.cancel(job_id)
        record = self.client.job(ids[0])
        job = job_summary(record) if record else None
        return {
            "changed": True,
            "job_id": ids[0],
            "job_state": job["job_state"] if job else None,
            "job": job,
            "cancelled": ids,
            "msg": f"cancelled job(s) {', '.join(map(str, ids))} ({name}) of {self.user}",
            "_active_after": [],
        }


def main():
    SlurmJob()()


if __name__ == "__main__":
    main()
