#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_event_tags
short_description: Tag OpenStack network resources with their training event
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Adds the tag C(learnhpc-event=<event>) (docs/contracts.md) to networks, subnets, routers and security groups of
    the current project, found by name, so that M(learnhpc.cluster.openstack_event_resources) finds and removes them.
  - The modules of openstack.cloud 2.5.0 that create these resources have no option for tags; this module is the
    follow-up step.
  - Other tags of a resource are kept. A resource that carries the tag of another event is an error and is not
    changed; so is a name that is not found (in check mode it counts as to be tagged, since the task that creates it
    did not run), or found more than once.
  - Every resource is looked up before any tag is added.
options:
  event:
    description:
      - The event name (docs/contracts.md).
    type: str
    required: true
  resources:
    description:
      - The resources to tag.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description: The kind of resource.
        type: str
        required: true
        choices: [network, subnet, router, security_group]
      name:
        description: The resource's name in the current project.
        type: str
        required: true
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
- name: Tag the network resources of event demo
  learnhpc.cluster.openstack_event_tags:
    cloud: training
    event: demo
    resources:
      - {kind: network, name: demo-net}
      - {kind: subnet, name: demo-subnet}
      - {kind: router, name: demo-router}
      - {kind: security_group, name: demo-internal}
"""

RETURN = r"""
tagged:
  description: The resources that got the tag in this run (in check mode, that would get it), as C(kind/name).
  returned: success
  type: list
  elements: str
  sample: ["network/demo-net", "router/demo-router"]
"""

from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import (
    OpenStackModule,
    event_tag,
    tags_event,
)

KINDS = {
    "network": "networks",
    "subnet": "subnets",
    "router": "routers",
    "security_group": "security_groups",
}


class EventTags(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "event": {"type": "str", "required": True},
        "resources": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "kind": {"type": "str", "required": True, "choices": list(KINDS)},
                "name": {"type": "str", "required": True},
            },
        },
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def run(self):
        event = self.params["event"]
        tag = event_tag(event)
        project = self.project_id()
        errors, todo = [], []
        for item in self.params["resources"]:
            kind, name = item["kind"], item["name"]
            listing = getattr(self.conn.network, KINDS[kind])
            found = list(listing(name=name, project_id=project))
            if not found and self.check_mode:
                # Not created yet: the task before this one would create it.
                todo.append((f"{kind}/{name}", None))
                continue
            if len(found) != 1:
                errors.append(f"{kind} {name!r}: found {len(found)} in the project, expected 1")
                continue
            resource = found[0]
            owner = tags_event(resource.tags)
            if owner is not None and owner != event:
                errors.append(f"{kind} {name!r} belongs to event {owner!r}, not {event!r}")
            elif owner is None:
                todo.append((f"{kind}/{name}", resource))
        if errors:
            self.fail(errors)
        if not self.check_mode:
            for _label, resource in todo:
                self.conn.network.add_tag(resource, tag)
        self.exit(changed=bool(todo), tagged=[label for label, _resource in todo])


def main():
    EventTags()()


if __name__ == "__main__":
    main()
