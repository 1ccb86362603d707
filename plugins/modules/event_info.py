#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: event_info
short_description: List the training events present in an OpenStack project
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Lists the events that have servers (metadata C(org.learnhpc.event)) or networks (tag C(learnhpc-event=<event>))
    in the current project, with their end date, their servers per node role, when their oldest server was
    created, and whether the event is over.
  - Read-only; it never changes anything.
options:
  event:
    description:
      - Only this event.
    type: str
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
    end_date:
      description:
        - The end date, C(YYYY-MM-DD), from the metadata C(org.learnhpc.end_date) of the servers (the latest
          one if they differ); null when the event has no server.
      type: str
      sample: "2030-12-31"
    servers:
      description: The number of servers of the event.
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
      description: Whether the end date is before today; false without an end date.
      type: bool
      sample: false
    networks:
      description: The number of networks with the event's tag.
      type: int
      sample: 1
"""

import datetime
from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.event import parse_date
from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    END_DATE_KEY,
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


class EventInfo(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str"},
        "today": {"type": "str"},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        today = self.params["today"]
        if today is not None and parse_date(today) is None:
            self.fail(f"today: must be a date YYYY-MM-DD, got {today!r}")

    def run(self):
        today = parse_date(self.params["today"]) if self.params["today"] else datetime.datetime.now(datetime.UTC).date()
        events = {}

        def entry(name):
            return events.setdefault(
                name, {"name": name, "end_dates": [], "servers": 0, "roles": {}, "created": [], "networks": 0}
            )

        for server in self.event_servers():
            name = server_event(server)
            if not name:
                continue
            item = entry(name)
            item["servers"] += 1
            for role in server_roles(server):
                item["roles"][role] = item["roles"].get(role, 0) + 1
            end_date = (server.metadata or {}).get(END_DATE_KEY)
            if parse_date(end_date) is not None:
                item["end_dates"].append(end_date)
            if getattr(server, "created_at", None):
                item["created"].append(server.created_at)
        for network in self.conn.network.networks(project_id=self.project_id()):
            name = tags_event(network.tags)
            if name:
                entry(name)["networks"] += 1
        wanted = self.params["event"]
        result = []
        for name in sorted(events):
            if wanted is not None and name != wanted:
                continue
            item = events[name]
            end_date = max(item["end_dates"]) if item["end_dates"] else None
            created = min(item["created"]) if item["created"] else None
            created_day = _created_date(created)
            result.append(
                {
                    "name": name,
                    "end_date": end_date,
                    "servers": item["servers"],
                    "roles": item["roles"],
                    "created": created,
                    "age_days": (today - created_day).days if created_day else None,
                    "expired": end_date is not None and parse_date(end_date) < today,
                    "networks": item["networks"],
                }
            )
        self.exit(changed=False, events=result)


def main():
    EventInfo()()


if __name__ == "__main__":
    main()
