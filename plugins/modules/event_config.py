#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: event_config
short_description: Load and check the event file of a training event
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Reads the event file C(<events_dir>/<name>.yml) (or the file O(path)), checks every setting against the
    schema of docs/event-file.md and returns the event with every default filled in and the derived values
    (full node names, expiry date, state directory) added.
  - All problems of the file are reported at once, one line each, prefixed with the file's path. The path is
    relative to the module's working directory (for a local run, the playbook's directory) when the file is below
    it, else absolute.
  - Read-only; it never changes anything. Run it where the event files are, usually on the controller with
    C(delegate_to=localhost) and C(run_once=true).
options:
  name:
    description:
      - The event name, the name of the event file without C(.yml).
      - Required unless O(path) is given; needs O(events_dir).
    type: str
  path:
    description:
      - The event file to load, instead of looking O(name) up in O(events_dir).
      - The event name is then the file's name without C(.yml).
    type: path
  events_dir:
    description:
      - The directory of the event files, where C(<name>.yml) is looked up.
      - The state directory of the event is C(<events_dir>/.state/<name>).
      - Required with O(name). With O(path) it defaults to the directory of O(path).
    type: path
  check_dates:
    description:
      - Whether an end date in the past is an error.
      - Set it to V(false) to load an event that is over, for example to remove its cluster.
    type: bool
    default: true
  today:
    description:
      - The current date as C(YYYY-MM-DD), for tests.
      - Defaults to the current date of the host the module runs on.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - PyYAML
notes:
  - The schema of event files is described in docs/event-file.md of the collection.
  - An instructor's C(ssh_key) of V(generate) is returned unchanged; the playbooks generate that key pair.
"""

EXAMPLES = r"""
- name: Load the event given with -e event=NAME
  learnhpc.cluster.event_config:
    name: "{{ event }}"
    events_dir: "{{ playbook_dir }}/events"
  delegate_to: localhost
  run_once: true
  register: event_config

- name: Show the compute nodes
  ansible.builtin.debug:
    msg: "{{ event_config.event.compute_names | join(', ') }}"

- name: Load an event file by its path, also when the event is over (to remove it)
  learnhpc.cluster.event_config:
    path: /srv/events/workshop.yml
    check_dates: false
  register: event_config
"""

RETURN = r"""
event:
  description:
    - The event, every setting with its default filled in, dates as C(YYYY-MM-DD), plus derived values.
    - docs/event-file.md describes the settings.
  returned: success
  type: dict
  contains:
    name:
      description: The event name.
      type: str
      returned: success
      sample: demo
    description:
      description: Free text describing the event; empty when not given.
      type: str
      returned: success
      sample: Introduction to HPC, spring school
    provider:
      description: Where the nodes come from, V(docker) or V(openstack).
      type: str
      returned: success
      sample: docker
    start_date:
      description: First day of the event, C(YYYY-MM-DD); the current date (or the end date if earlier) when not given.
      type: str
      returned: success
      sample: "2030-12-01"
    end_date:
      description: Last day of the event, C(YYYY-MM-DD).
      type: str
      returned: success
      sample: "2030-12-31"
    expires:
      description: The end date plus C(accounts.grace_days), C(YYYY-MM-DD); the accounts work until this day.
      type: str
      returned: success
      sample: "2030-12-31"
    nodes:
      description: The node settings.
      type: dict
      returned: success
      contains:
        mgmt:
          description: The management node; C(name) is its short name, C(flavor) its OpenStack flavor (null for docker).
          type: dict
          returned: success
          sample: {"name": "mgmt", "flavor": null}
        login:
          description: The login node; C(name) is its short name, C(flavor) its OpenStack flavor (null for docker).
          type: dict
          returned: success
          sample: {"name": "login", "flavor": null}
        compute:
          description:
            - The compute nodes; C(count), C(max_count), C(prefix) and C(flavor) (null for docker).
          type: dict
          returned: success
          sample: {"count": 2, "max_count": 2, "prefix": "compute", "flavor": null}
        dtn:
          description:
            - The data transfer node of the Globus endpoint, only with C(globus.node) V(dtn); C(name) is its short
              name, C(flavor) its OpenStack flavor (that of the login node unless given; null for docker).
          type: dict
          returned: when globus.node is dtn
          sample: {"name": "dtn", "flavor": null}
    nodes_list:
      description:
        - The nodes of the cluster, mgmt, login and compute 1 to C(nodes.compute.count), in that order, then the data
          transfer node (role C(dtn)) when C(globus.node) is V(dtn).
        - Each has C(name) (the full name, host and container or server name), C(short) and C(roles).
      type: list
      elements: dict
      returned: success
      sample:
        - {"name": "demo-mgmt", "short": "mgmt", "roles": ["mgmt"]}
        - {"name": "demo-login", "short": "login", "roles": ["login"]}
        - {"name": "demo-compute-01", "short": "compute-01", "roles": ["compute"]}
        - {"name": "demo-compute-02", "short": "compute-02", "roles": ["compute"]}
    compute_names:
      description: The full names of compute nodes 1 to C(nodes.compute.count).
      type: list
      elements: str
      returned: success
      sample: ["demo-compute-01", "demo-compute-02"]
    autoscale_names:
      description:
        - The full names of compute nodes C(nodes.compute.count) + 1 to C(nodes.compute.max_count), which Slurm
          creates when jobs need them and removes when they idle (role C(slurm_autoscale)); empty without
          autoscaling.
      type: list
      elements: str
      returned: success
      sample: ["demo-compute-03", "demo-compute-04"]
    check_account:
      description:
        - The account that C(check.yml)'s jobs run as on every node, with a Slurm account of the same name, never an
          attendee's; its UID and GID, kept apart from the guests' UIDs (C(accounts.uid_start)).
      type: dict
      returned: success
      sample: {"name": "learnhpc-check", "uid": 8999}
    resources:
      description:
        - The names of what the event has at its provider besides its nodes (docs/contracts.md), so that no playbook
          builds them.
        - On Docker, C(network) and C(volumes) (by shared directory, V(home), V(project) and V(scratch)).
        - On OpenStack, C(network), C(subnet), C(router), C(internal_group), C(login_group), C(globus_group),
          C(keypair) (the key pair the collection makes when C(openstack.key_name) is null), C(credential) (the
          autoscale programs' application credential) and C(image_builder) (the server that bakes the node image).
      type: dict
      returned: success
      sample: {"network": "learnhpc-demo", "volumes": {"home": "learnhpc-demo-home", "project": "learnhpc-demo-project",
               "scratch": "learnhpc-demo-scratch"}}
    labels:
      description:
        - The labels (Docker) or metadata (OpenStack) that the provider puts on what it makes (docs/contracts.md).
        - C(compute), those of a compute node, on OpenStack with C(org.learnhpc.ssh_user); an autoscaled one gets
          C(org.learnhpc.autoscaled) too.
        - C(resource), Docker only, those of the event's network and volumes.
      type: dict
      returned: success
      sample:
        compute:
          org.learnhpc.event: demo
          org.learnhpc.roles: compute
          org.learnhpc.end_date: "2026-06-03"
          org.learnhpc.expires: "2026-06-03"
          org.learnhpc.provider: docker
        resource:
          org.learnhpc.event: demo
          org.learnhpc.end_date: "2026-06-03"
          org.learnhpc.provider: docker
    docker:
      description:
        - The Docker settings C(image), C(ssh_port), C(https_port), C(bind_address), C(node_cpus),
          C(node_memory_mb) and C(rest_port); null with another provider.
      type: dict
      returned: success
      sample:
        image: learnhpc/node:12
        ssh_port: 2222
        https_port: 8443
        bind_address: 127.0.0.1
        node_cpus: null
        node_memory_mb: null
        rest_port: 6820
    libvirt:
      description:
        - The libvirt settings C(uri), C(image), C(boot), C(kernel), C(initrd), C(network_cidr) (its default filled in),
          C(ssh_port), C(https_port), C(rest_port), C(bind_address), C(node_vcpus), C(node_memory_mb), C(node_disk_gb)
          and C(ssh_user); null with another provider.
      type: dict
      returned: success
      sample:
        uri: qemu:///system
        image: /var/lib/libvirt/images/learnhpc/node-12.qcow2
        boot: kernel
        kernel: /var/lib/libvirt/images/learnhpc/node-12.vmlinuz
        initrd: /var/lib/libvirt/images/learnhpc/node-12.initrd.img
        network_cidr: 10.77.81.0/24
        ssh_port: 2222
        https_port: 8443
        rest_port: 6820
        bind_address: 127.0.0.1
        node_vcpus: 1
        node_memory_mb: 2048
        node_disk_gb: 10
        ssh_user: debian
    openstack:
      description:
        - The OpenStack settings C(cloud), C(image), C(flavors), C(network_cidr), C(external_network),
          C(allowed_cidrs), C(ssh_user) and C(key_name); null with another provider.
      type: dict
      returned: success
      sample:
        cloud: training
        image: Debian 12
        flavors: {"mgmt": "m1.medium", "login": "m1.medium", "compute": "m1.large"}
        network_cidr: 10.42.0.0/24
        external_network: public
        allowed_cidrs: ["192.0.2.0/24"]
        ssh_user: debian
        key_name: null
    accounts:
      description:
        - The accounts, C(guests), C(prefix), C(grace_days), C(uid_start) and C(instructors), a list of
          C(name), C(ssh_key) (a public key, or V(generate)) and C(email) (or null).
      type: dict
      returned: success
      sample:
        guests: 3
        prefix: guest
        grace_days: 0
        uid_start: 10001
        instructors: [{"name": "trainer", "ssh_key": "generate", "email": null}]
    budget:
      description: C(core_hours_per_guest), a number, or null for no limit.
      type: dict
      returned: success
      sample: {"core_hours_per_guest": null}
    software:
      description: C(eessi) (bool), C(eessi_version) and C(cvmfs_proxy) (bool).
      type: dict
      returned: success
      sample: {"eessi": false, "eessi_version": "2023.06", "cvmfs_proxy": false}
    services:
      description: C(jupyterhub), C(globus) and C(slurm_rest), all bool.
      type: dict
      returned: success
      sample: {"jupyterhub": false, "globus": false, "slurm_rest": false}
    jupyterhub:
      description:
        - The most one notebook server may ask for, C(cpus), C(memory_gb) and C(hours) (its time limit), and
          C(idle_minutes), after which an unused server is stopped; all int.
      type: dict
      returned: success
      sample: {"cpus": 2, "memory_gb": 2, "hours": 8, "idle_minutes": 60}
    autoscale:
      description:
        - How autoscaled compute nodes behave, all int - C(suspend_minutes), after which a node without a job is
          removed; C(resume_timeout_minutes), the time a new node has to join Slurm; C(reconcile_minutes), how often
          Slurm's view is compared with the provider's.
      type: dict
      returned: success
      sample: {"suspend_minutes": 10, "resume_timeout_minutes": 5, "reconcile_minutes": 2}
    globus:
      description:
        - Null when C(services.globus) is off. Else the Globus endpoint's C(node) (V(login) or V(dtn)), C(node_name)
          (the full name of that node), C(display_name), C(organization), C(contact_email), C(owner) (or null),
          C(domain), C(credentials_file) (absolute, or null when the credentials come from variables) and
          C(agree_to_letsencrypt_tos) (true).
      type: dict
      returned: success
      sample:
        node: login
        node_name: demo-login
        display_name: demo
        organization: Example University
        contact_email: hpc@example.org
        owner: null
        domain: example.org
        credentials_file: /work/cluster/events/demo-globus.vault.yml
        agree_to_letsencrypt_tos: true
    file:
      description: The absolute path of the event file.
      type: str
      returned: success
      sample: /work/cluster/events/demo.yml
    state_dir:
      description:
        - The directory for the event's generated secrets and credentials, C(<events_dir>/.state/<name>).
        - The module does not create it.
      type: str
      returned: success
      sample: /work/cluster/events/.state/demo
event_warnings:
  description:
    - Settings that are allowed but risky, one line each, prefixed with the file (for example an
      C(openstack.allowed_cidrs) entry of V(0.0.0.0/0)).
    - The same lines are also given as warnings of the task.
  returned: success
  type: list
  elements: str
  sample: ["events/course.yml: openstack.allowed_cidrs[0]: 0.0.0.0/0 lets the whole internet reach ..."]
errors:
  description:
    - Every problem of the event file, one line each, prefixed with the file.
    - C(msg) holds the same lines joined with line breaks.
  returned: failure
  type: list
  elements: str
  sample: ["events/demo.yml: nodes.compute.count: must be an integer >= 1, got 0"]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.learnhpc.cluster.plugins.module_utils.event_checker import parse_date  # noqa: E402
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_file import (  # noqa: E402
    HAS_YAML,
    YAML_IMPORT_ERROR,
    load_event,
)

ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "path": {"type": "path"},
    "events_dir": {"type": "path"},
    "check_dates": {"type": "bool", "default": True},
    "today": {"type": "str"},
}


def run(params):
    """``(event, errors, warnings)`` for the module's parameters."""
    warnings = []
    event, errors = load_event(
        params["path"],
        name=params["name"],
        events_dir=params["events_dir"],
        today=params["today"],
        check_dates=params["check_dates"],
        warnings=warnings,
    )
    return event, errors, warnings


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("name", "path")],
        required_one_of=[("name", "path")],
        required_by={"name": "events_dir"},
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    today = module.params["today"]
    if today is not None and parse_date(today) is None:
        module.fail_json(msg=f"today: must be a date YYYY-MM-DD, got {today!r}")

    event, errors, warnings = run(module.params)
    if errors:
        module.fail_json(msg="\n".join(errors), errors=errors)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, event=event, event_warnings=warnings)


if __name__ == "__main__":
    main()
