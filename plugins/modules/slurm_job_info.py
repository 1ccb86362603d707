#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: slurm_job_info
short_description: Read Slurm jobs and their state through the job gateway (Slurm's REST API)
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Reads jobs from slurmctld through slurmrestd behind the login node's HTTPS (role C(learnhpc.cluster.slurm_rest)),
    as the user of the token (one job by id, the user's jobs of one name, or all the user's jobs).
  - With O(ping), also asks whether the Slurm controllers answer (the gateway's heartbeat).
  - Changes nothing.
options:
  job_id:
    description:
      - The job to read. A job slurmctld does not know, or no longer knows (it forgets ended jobs after C(MinJobAge)
        seconds, 300 by default), gives an empty list.
      - Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Only the jobs of this name.
    type: str
  all_users:
    description:
      - Whether to list the jobs of every user that slurmctld shows to the token's user (all jobs, unless
        C(PrivateData=jobs) is set), not only that user's own.
      - Not used with O(job_id).
    type: bool
    default: false
  ping:
    description:
      - Whether to ask the gateway's C(ping) endpoint whether the Slurm controllers answer, returned as RV(controllers).
    type: bool
    default: false
extends_documentation_fragment:
  - learnhpc.cluster.slurm_rest
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: learnhpc.cluster.slurm_job
"""

EXAMPLES = r"""
- name: Wait until the attendee's job has ended
  learnhpc.cluster.slurm_job_info:
    url: https://login.example.org:6820
    token: "{{ attendee_token }}"
    ca_path: events/.state/workshop/pki/ca.crt
    job_id: "{{ analysis.job_id }}"
  delegate_to: localhost
  register: analysis_info
  until: analysis_info.jobs | length > 0 and not analysis_info.jobs[0].active
  retries: 60
  delay: 10

- name: Fetch its output from the login node (the homes are shared)
  ansible.builtin.fetch:
    src: "{{ analysis_info.jobs[0].standard_output }}"
    dest: results/
    flat: true

- name: Heartbeat of the gateway and the attendee's jobs
  learnhpc.cluster.slurm_job_info:
    url: https://login.example.org:6820
    token: "{{ attendee_token }}"
    ca_path: events/.state/workshop/pki/ca.crt
    ping: true
  delegate_to: localhost
  register: gateway
"""

RETURN = r"""
jobs:
  description: The jobs, by job id.
  returned: always
  type: list
  elements: dict
  contains:
    job_id:
      description: The job id.
      type: int
      sample: 42
    name:
      description: The job's name.
      type: str
      sample: analysis
    user_name:
      description: Who submitted it.
      type: str
      sample: guest01
    job_state:
      description: Its state as Slurm gives it, e.g. C(PENDING), C(RUNNING), C(COMPLETED), C(FAILED), C(CANCELLED),
        C(TIMEOUT).
      type: str
      sample: COMPLETED
    active:
      description: Whether it has not ended yet (pending, running, suspended, ...).
      type: bool
      sample: false
    state_reason:
      description: Why it is pending or why it failed, C(None) otherwise.
      type: str
      sample: None
    partition:
      description: Its partition.
      type: str
      sample: batch
    account:
      description: The account it is charged to.
      type: str
      sample: workshop
    nodes:
      description: The nodes it was given (empty while pending).
      type: str
      sample: workshop-compute-01
    batch_host:
      description: The node that runs (or ran) the batch script (empty while pending).
      type: str
      sample: workshop-compute-01
    current_working_directory:
      description: Its working directory.
      type: str
      sample: /home/guest01/run1
    standard_output:
      description: Its standard output file, an absolute path with C(%j), C(%x) and C(%u) filled in.
      type: str
      sample: /home/guest01/run1/slurm-42.out
    standard_error:
      description: Its standard error file, likewise (the standard output file unless it has its own).
      type: str
      sample: /home/guest01/run1/slurm-42.out
    time_limit:
      description: Its time limit, minutes.
      type: int
      sample: 30
    submit_time:
      description: When it was submitted, UTC.
      type: str
      sample: "2030-06-01T09:00:00Z"
    start_time:
      description: When it started (or is expected to), UTC; null while pending.
      type: str
      sample: "2030-06-01T09:00:05Z"
    end_time:
      description: When it ended, UTC; null until then.
      type: str
      sample: "2030-06-01T09:03:12Z"
    exit_code:
      description: The exit code of its batch script (0 until it ends).
      type: int
      sample: 0
    exit_signal:
      description: The signal that ended its batch script, 0 if none.
      type: int
      sample: 0
controllers:
  description: With O(ping), the Slurm controllers and whether they answer.
  returned: when O(ping) is true
  type: list
  elements: dict
  contains:
    hostname:
      description: The controller's host.
      type: str
      sample: workshop-mgmt
    ping:
      description: V(UP) or V(DOWN).
      type: str
      sample: UP
    mode:
      description: V(primary) or V(backup).
      type: str
      sample: primary
  sample: [{hostname: workshop-mgmt, ping: UP, mode: primary}]
user:
  description: The user the requests were made as.
  returned: always
  type: str
  sample: guest01
"""

from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.slurm_rest import SlurmRestModule, job_summary


class SlurmJobInfo(SlurmRestModule):
    argument_spec: ClassVar[dict] = {
        "job_id": {"type": "int"},
        "name": {"type": "str"},
        "all_users": {"type": "bool", "default": False},
        "ping": {"type": "bool", "default": False},
    }
    module_kwargs: ClassVar[dict] = {
        "supports_check_mode": True,
        "mutually_exclusive": [("job_id", "name")],
    }

    def check_input(self):
        if self.params["job_id"] is not None and self.params["job_id"] < 1:
            self.fail(f"job_id: must be a job id (a whole number >= 1), got {self.params['job_id']}")

    def run(self):
        params = self.params
        result = {}
        if params["ping"]:
            result["controllers"] = [
                {"hostname": item.get("hostname"), "ping": item.get("ping"), "mode": item.get("mode")}
                for item in self.client.ping()
            ]
        if params["job_id"] is not None:
            record = self.client.job(params["job_id"])
            records = [record] if record else []
        else:
            records = [
                job
                for job in self.client.jobs()
                if (params["all_users"] or job.get("user_name") == self.user)
                and (params["name"] is None or job.get("name") == params["name"])
            ]
        result["jobs"] = sorted((job_summary(job) for job in records), key=lambda job: job["job_id"] or 0)
        return result


def main():
    SlurmJobInfo()()


if __name__ == "__main__":
    main()
