#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: event_info
short_description: List the training events of a provider (OpenStack project, Docker engine or libvirt host)
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Lists the events that have something at the provider, with their end date, their expiry date, their servers
    per node role, when their oldest server was created, and whether the event is over.
  - With O(provider=openstack), the events of the current project, from the metadata C(org.learnhpc.event) of
    servers and volumes and the tag C(learnhpc-event=<event>) of networks.
  - With O(provider=docker), the events of the Docker engine, from the label C(org.learnhpc.event) of containers,
    networks and volumes. The engine's API is read over its Unix socket; the OpenStack options are not used.
  - With O(provider=libvirt), the events of the libvirt host O(libvirt_uri), from the labels in the C(<metadata>) of
    domains (docs/contracts.md) and the networks and storage pools named C(learnhpc-<event>); the OpenStack options
    are not used. A network or pool left without a domain counts for its event, which then has no expiry date and
    is never RV(events[].expired).
  - Read-only; it never changes anything. C(playbooks/reap.yml) removes the events it finds expired.
options:
  event:
    description:
      - Only this event.
    type: str
  provider:
    description:
      - Where to look.
    type: str
    choices: [openstack, docker, libvirt]
    default: openstack
  docker_host:
    description:
      - The Docker engine, as a C(unix://) address; with O(provider=docker) only.
      - Defaults to C(DOCKER_HOST), else C(unix:///var/run/docker.sock).
    type: str
  libvirt_uri:
    description:
      - The libvirt connection; with O(provider=libvirt) only.
    type: str
    default: qemu:///system
  grace_days:
    description:
      - Days after its expiry date during which an event is not yet counted as RV(events[].expired).
    type: int
    default: 0
  today:
    description:
      - The current date as C(YYYY-MM-DD), for tests; defaults to the current date (UTC).
    type: str
extends_documentation_fragment:
  - learnhpc.cluster.openstack
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The options O(wait) and O(timeout) are not used.
"""

EXAMPLES = r"""
- name: List the events of the project
  learnhpc.cluster.event_info:
    cloud: training
  register: events

- name: List the events of the local Docker engine
  learnhpc.cluster.event_info:
    provider: docker
  register: local_events

- name: List the events of this machine's libvirt
  learnhpc.cluster.event_info:
    provider: libvirt
  register: vm_events

- name: Show the events that are over
  ansible.builtin.debug:
    msg: "{{ events.events | selectattr('expired') | map(attribute='name') | list }}"
"""

RETURN = r"""
events:
  description: The events, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The event name.
      type: str
      sample: demo
    provider:
      description: Where the event was found, O(provider).
      type: str
      sample: openstack
    end_date:
      description:
        - The end date, C(YYYY-MM-DD), from the metadata or label C(org.learnhpc.end_date) of the servers (the
          latest one if they differ); null when the event has no server.
      type: str
      sample: "2030-12-31"
    expires:
      description:
        - The day after which the event may be removed, C(YYYY-MM-DD) - the end date plus the event's
          C(accounts.grace_days) - from the metadata or label C(org.learnhpc.expires) (the latest one), else
          the end date; null when the event has no server.
      type: str
      sample: "2031-01-07"
    servers:
      description:
        - The number of servers (containers with O(provider=docker), domains with O(provider=libvirt)) of the event.
      type: int
      sample: 4
    roles:
      description: The number of servers per node role.
      type: dict
      sample: {"mgmt": 1, "login": 1, "compute": 2}
    created:
      description: When the oldest server of the event was created (ISO 8601); null without servers.
      type: str
      sample: "2030-12-01T08:00:00Z"
    age_days:
      description: Whole days from RV(events[].created) to today; null without servers.
      type: int
      sample: 3
    expired:
      description:
        - Whether RV(events[].expires) plus O(grace_days) is before today; false without an expiry date.
      type: bool
      sample: false
    networks:
      description: The number of networks of the event.
      type: int
      sample: 1
    volumes:
      description:
        - The number of volumes of the event (none on a cloud without block storage); with O(provider=libvirt), of
          storage pools.
      type: int
      sample: 0
skipped:
  description:
    - Resources whose event label or metadata is not a valid event name (C(../..), a name with a line break, ...).
      They belong to no event in RV(events), so nothing is removed for them; the playbooks report them.
  returned: success
  type: list
  elements: dict
  contains:
    resource:
      description: The kind and name of the resource.
      type: str
      sample: container evil-1
    event:
      description: The name read, quoted (at most 80 characters).
      type: str
      sample: "'../..'"
"""

import datetime
from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils import libvirt_api
from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    END_DATE_KEY,
    EVENT_KEY,
    EXPIRES_KEY,
    ROLES_KEY,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerAPI, DockerError
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_checker import parse_date
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_file import event_name_error
from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    OpenStackModule,
    server_event,
    server_roles,
    tags_event,
)


def _created_date(value):
    """The date of an ISO 8601 time stamp such as 2030-12-01T08:00:00Z, or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _docker_name(container):
    names = container.get("Names") or ["?"]
    return str(names[0]).lstrip("/")


def _iso(timestamp):
    """A Unix time stamp (Docker's C(Created) of a container) as ISO 8601 in UTC."""
    return datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Events:
    """What was found of each event, summed up into the module's RV(events)."""

    def __init__(self):
        self.items = {}
        self.skipped = []

    def accept(self, name, resource):
        """Whether ``name``, read from ``resource``'s label or metadata, is a valid event name.

        A name that is not (``../..``, ``demo\n``: anyone with access to the provider can set a
        label) is recorded in RV(skipped) and never becomes an event: reaping deletes
        ``events/.state/<name>``, so a name read back must pass the rules of an event file.
        """
        if event_name_error(name) is None:
            return True
        self.skipped.append({"resource": resource, "event": repr(name)[:80]})
        return False

    def entry(self, name):
        return self.items.setdefault(
            name,
            {"end_dates": [], "expires": [], "servers": 0, "roles": {}, "created": [], "networks": 0, "volumes": 0},
        )

    def add_server(self, name, roles, metadata, created):
        item = self.entry(name)
        item["servers"] += 1
        for role in roles:
            item["roles"][role] = item["roles"].get(role, 0) + 1
        for key, dates in ((END_DATE_KEY, item["end_dates"]), (EXPIRES_KEY, item["expires"])):
            if parse_date(metadata.get(key)) is not None:
                dates.append(metadata[key])
        if created:
            item["created"].append(created)

    def summary(self, provider, today, wanted=None, grace_days=0):
        result = []
        for name in sorted(self.items):
            if wanted is not None and name != wanted:
                continue
            item = self.items[name]
            end_date = max(item["end_dates"]) if item["end_dates"] else None
            # Servers made before the expiry date was stored expire on their end date.
            expires = max(item["expires"]) if item["expires"] else end_date
            created = min(item["created"]) if item["created"] else None
            created_day = _created_date(created)
            result.append(
                {
                    "name": name,
                    "provider": provider,
                    "end_date": end_date,
                    "expires": expires,
                    "servers": item["servers"],
                    "roles": item["roles"],
                    "created": created,
                    "age_days": (today - created_day).days if created_day else None,
                    "expired": expires is not None
                    and parse_date(expires) + datetime.timedelta(days=grace_days) < today,
                    "networks": item["networks"],
                    "volumes": item["volumes"],
                }
            )
        return result


class DockerEvents:
    """The events of a Docker engine: its containers, networks and volumes with the event label."""

    provider = "docker"

    def __init__(self, docker_host):
        self.api = DockerAPI(docker_host)

    def find(self, events):
        containers, networks, volumes = self.api.labelled(EVENT_KEY)
        for container in containers:
            labels = container.get("Labels") or {}
            if not events.accept(labels.get(EVENT_KEY), f"container {_docker_name(container)}"):
                continue
            roles = [role for role in (labels.get(ROLES_KEY) or "").split(",") if role]
            created = _iso(container["Created"]) if container.get("Created") else None
            events.add_server(labels[EVENT_KEY], roles, labels, created)
        for kind, found in (("networks", networks), ("volumes", volumes)):
            for resource in found:
                name = (resource.get("Labels") or {}).get(EVENT_KEY)
                if events.accept(name, f"{kind[:-1]} {resource.get('Name', '?')}"):
                    events.entry(name)[kind] += 1


class OpenStackEvents:
    """The events of an OpenStack project: its servers (metadata), networks (tag) and volumes (metadata)."""

    provider = "openstack"

    def __init__(self, module):
        self.module = module
        self.conn = module.conn

    def find(self, events):
        for server in self.module.event_servers():
            name = server_event(server)
            if name and events.accept(name, f"server {server.name}"):
                events.add_server(
                    name, server_roles(server), server.metadata or {}, getattr(server, "created_at", None)
                )
        for network in self.conn.network.networks(project_id=self.module.project_id()):
            name = tags_event(network.tags)
            if name and events.accept(name, f"network {network.name}"):
                events.entry(name)["networks"] += 1
        if self.module.has_volumes():
            for volume in self.conn.block_storage.volumes(details=True):
                name = (volume.metadata or {}).get(EVENT_KEY)
                if name and events.accept(name, f"volume {volume.name}"):
                    events.entry(name)["volumes"] += 1


class LibvirtEvents:
    """The events of a libvirt host: its domains (metadata), and its networks and pools named learnhpc-<event>."""

    provider = "libvirt"
    PREFIX = "learnhpc-"

    def __init__(self, uri):
        self.conn = libvirt_api.connect(uri, read_only=True)

    def find(self, events):
        for dom, labels in libvirt_api.event_domains(self.conn):
            name = labels.get(EVENT_KEY)
            if events.accept(name, f"domain {dom.name()}"):
                roles = [role for role in (labels.get(ROLES_KEY) or "").split(",") if role]
                events.add_server(name, roles, labels, None)
        with libvirt_api.operation("list the networks and storage pools"):
            kinds = (("networks", self.conn.listAllNetworks()), ("volumes", self.conn.listAllStoragePools()))
        for kind, found in kinds:
            for resource in found:
                name = resource.name()
                # Only an exact learnhpc-<event name>: anything else is not the collection's.
                if name.startswith(self.PREFIX) and event_name_error(name[len(self.PREFIX) :]) is None:
                    events.entry(name[len(self.PREFIX) :])[kind] += 1


class EventInfo(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str"},
        "today": {"type": "str"},
        "grace_days": {"type": "int", "default": 0},
        "provider": {"type": "str", "default": "openstack", "choices": ["openstack", "docker", "libvirt"]},
        "libvirt_uri": {"type": "str", "default": libvirt_api.SYSTEM_URI},
        "docker_host": {"type": "str"},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        today = self.params["today"]
        if today is not None and parse_date(today) is None:
            self.fail(f"today: must be a date YYYY-MM-DD, got {today!r}")
        if self.params["grace_days"] < 0:
            self.fail(f"grace_days: must be 0 or more, got {self.params['grace_days']}")

    def uses_cloud(self):
        return self.params["provider"] == "openstack"

    def today(self):
        if self.params["today"]:
            return parse_date(self.params["today"])
        return datetime.datetime.now(datetime.UTC).date()

    def run(self):
        events = _Events()
        try:
            if self.uses_cloud():
                source = OpenStackEvents(self)
            elif self.params["provider"] == "libvirt":
                source = LibvirtEvents(self.params["libvirt_uri"])
            else:
                source = DockerEvents(self.params["docker_host"])
            source.find(events)
        except (DockerError, libvirt_api.LibvirtApiError) as exc:
            self.fail(str(exc))
        self.exit(
            changed=False,
            events=events.summary(source.provider, self.today(), self.params["event"], self.params["grace_days"]),
            skipped=events.skipped,
        )


def main():
    EventInfo()()


if __name__ == "__main__":
    main()
