#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: docker_systemd_booted
short_description: Wait until systemd has booted in containers of the local Docker engine
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Asks systemd in each container of O(containers), one after the other, whether the system has booted
    (C(systemctl is-system-running --wait), for at most O(timeout) seconds each), over the Docker engine's API. The
    containers boot side by side, so the waits overlap.
  - A container whose systemd answers C(running) or C(degraded) (a unit failed, the system is up) has booted. Any
    other answer, a container that is missing or not running, fails the module with one line that names each
    container and what it said.
  - Before it asks, it makes C(/root/.ansible/tmp) with mode 0700 in the container, so that a module that needs
    Ansible's remote temporary directory later does not make it and warn about it.
  - One run for all the containers of an event, instead of one C(community.docker.docker_container_exec) run each,
    because each run of a module on the control machine costs it most of a second of CPU.
options:
  containers:
    description:
      - Names (or IDs) of the containers.
    type: list
    elements: str
    required: true
  timeout:
    description:
      - Seconds that systemd in each container may take to boot.
    type: int
    default: 120
extends_documentation_fragment:
  - learnhpc.cluster.docker_api
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is asked or made (the containers may not exist yet); the module reports no states.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The containers' image must have C(/bin/sh), C(mkdir), C(timeout) and C(systemctl) (Debian's has).
"""

EXAMPLES = r"""
- name: Wait until systemd has booted in the event's containers
  learnhpc.cluster.docker_systemd_booted:
    containers: [demo-mgmt, demo-login, demo-compute-01]
    timeout: 120
"""

RETURN = r"""
states:
  description: What systemd answered in each container (C(running) or C(degraded)); empty in check mode.
  returned: always
  type: dict
  sample: {demo-mgmt: running, demo-login: degraded}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerAPI, DockerError

BOOTED = ("running", "degraded")


def boot_command(timeout):
    """The command that makes Ansible's temporary directory and prints systemd's state once it has booted or
    ``timeout`` seconds have passed (``systemctl is-system-running`` exits non-zero when it is not ``running``)."""
    return [
        "sh",
        "-c",
        'mkdir -p -m 0700 /root/.ansible/tmp && timeout "$1" systemctl is-system-running --wait; true',
        "sh",
        str(timeout),
    ]


def boot_state(api, container, timeout):
    """What systemd in ``container`` says once booted (or when ``timeout`` ends), or what kept it from saying."""
    try:
        exec_id, connection, output = api.exec_output(container, boot_command(timeout), timeout=timeout + 30)
    except DockerError as exc:
        if exc.status == 404:
            return "no such container"
        if exc.status == 409:
            return "not running"
        raise
    try:
        said = output.read().decode("utf-8", "replace").strip()
    finally:
        connection.close()
    api.exec_exit_code(exec_id)
    return said.splitlines()[-1] if said else "no answer"


def not_booted(states):
    """The one-line failure message for the containers in ``states`` that have not booted, or None."""
    bad = [f"{name} ({state})" for name, state in states.items() if state not in BOOTED]
    return f"systemd has not booted in {', '.join(bad)}" if bad else None


def main():
    module = AnsibleModule(
        argument_spec={
            "containers": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "int", "default": 120},
            "docker_host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg=f"docker_systemd_booted: timeout must be at least 1 second, got {params['timeout']}")
    if module.check_mode:
        module.exit_json(changed=False, states={})
    states = {}
    try:
        api = DockerAPI(params["docker_host"], timeout=60)
        for container in params["containers"]:
            states[container] = boot_state(api, container, params["timeout"])
    except DockerError as exc:
        module.fail_json(msg=f"docker_systemd_booted: {exc}", states=states)
    message = not_booted(states)
    if message:
        module.fail_json(msg=f"docker_systemd_booted: {message}", states=states)
    module.exit_json(changed=False, states=states)


if __name__ == "__main__":
    main()
