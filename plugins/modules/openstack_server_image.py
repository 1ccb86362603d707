#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: openstack_server_image
short_description: Make a Glance image of an OpenStack server (a snapshot), or remove one of the collection's images
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - With O(state=present), makes the image O(name) from the server O(server) through Nova's C(createImage) (a
    snapshot), with the image properties O(properties), and waits until Glance says it is C(active).
  - The server is shut off first (O(stop=true)), so that the snapshot is of a file system no program is writing to;
    it is left shut off.
  - Nothing is made when an image named O(name) is already C(active), since images of the collection are named by
    their recipe, so the same name is the same content. An image of that name still being saved (a run stopped while it
    was) is waited for. An image of that name in any other state (C(killed), C(deleted)),
    or more than one image of that name, is an error, one line, and nothing is changed. One that stays C(queued) (Nova
    gave up on it) fails after O(timeout) seconds, naming it.
  - With O(state=absent), removes the images named O(name) that carry every property of O(properties); an image of
    that name without them is an error and is not touched.
  - Only works with OpenStack (Nova and Glance).
options:
  name:
    description:
      - The image name.
    type: str
    required: true
  server:
    description:
      - Name or ID of the server to snapshot; required with O(state=present) when no active image O(name) exists,
        except in check mode, which then only says that the image would be made.
    type: str
  properties:
    description:
      - Image properties (string values). With O(state=present) the new image gets them (besides what Nova copies from
        the server's image); with O(state=absent) an image is removed only when it carries all of them.
    type: dict
    default: {}
  stop:
    description:
      - Whether to shut off an C(ACTIVE) server before the snapshot (and wait until it is C(SHUTOFF)).
    type: bool
    default: true
  state:
    description:
      - V(present) makes the image, V(absent) removes it.
    type: str
    default: present
    choices: [present, absent]
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
  - O(wait=false) is not honoured with O(state=present), because the image is only usable once it is C(active).
  - The snapshot of a server that boots from a volume is a volume snapshot with an empty image; this module refuses
    such a server.
"""

EXAMPLES = r"""
- name: Make the node image from the configured build server
  learnhpc.cluster.openstack_server_image:
    cloud: training
    name: learnhpc-node-0123456789abcdef
    server: course-image
    properties:
      learnhpc_recipe: 0123456789abcdef
      learnhpc_base_image: debian-12
  register: node_image

- name: Remove it again
  learnhpc.cluster.openstack_server_image:
    cloud: training
    name: learnhpc-node-0123456789abcdef
    properties:
      learnhpc_recipe: 0123456789abcdef
    state: absent
"""

RETURN = r"""
image:
  description: The image after the run (with O(state=present)); in check mode, when it would be made, only its name.
  returned: success and O(state=present)
  type: dict
  contains:
    id:
      description: The image ID.
      type: str
      sample: 3c0b2d0e-0a7d-4f7e-9a53-2f0c3cbb5b7e
    name:
      description: The image name.
      type: str
      sample: learnhpc-node-0123456789abcdef
    status:
      description: The image's status in Glance.
      type: str
      sample: active
    properties:
      description: The image's own properties, of those asked for in O(properties).
      type: dict
      sample: {"learnhpc_recipe": "0123456789abcdef"}
removed:
  description: IDs of the images removed (in check mode, that would be).
  returned: success and O(state=absent)
  type: list
  elements: str
  sample: []
"""

from typing import ClassVar

from ansible_collections.learnhpc.cluster.plugins.module_utils.openstack import OpenStackModule, listing

# Glance statuses of an image still being made from a server (Nova's snapshot is under way).
SAVING = ("queued", "saving", "uploading", "importing")


def _properties(image):
    """An image's properties as one dict (openstacksdk puts unknown ones in ``properties``, some as attributes)."""
    found = dict(getattr(image, "properties", None) or {})
    for key, value in (getattr(image, "metadata", None) or {}).items():
        found.setdefault(key, value)
    return found


class OpenStackServerImage(OpenStackModule):
    argument_spec: ClassVar[dict] = {
        "name": {"type": "str", "required": True},
        "server": {"type": "str"},
        "properties": {"type": "dict", "default": {}},
        "stop": {"type": "bool", "default": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    }
    module_kwargs: ClassVar[dict] = {"supports_check_mode": True}

    def check_input(self):
        bad = [key for key, value in self.params["properties"].items() if not isinstance(value, str)]
        if bad:
            self.fail(f"properties: the values of {', '.join(sorted(bad))} must be strings")
        if not self.params["name"].strip():
            self.fail("name must not be empty")

    def images(self):
        name = self.params["name"]
        return [image for image in self.conn.image.images() if image.name == name]

    def describe(self, image):
        wanted = self.params["properties"]
        own = _properties(image)
        return {
            "id": image.id,
            "name": image.name,
            "status": image.status,
            "properties": {key: own[key] for key in wanted if key in own},
        }

    def run(self):
        if self.params["state"] == "absent":
            self.absent()
        self.present()

    # -- absent ----------------------------------------------------------------------------

    def absent(self):
        wanted = self.params["properties"]
        found = self.images()
        foreign = [image.id for image in found if any(_properties(image).get(k) != v for k, v in wanted.items())]
        if foreign:
            self.fail(
                f"image {self.params['name']!r} ({listing(foreign)}) does not carry the properties"
                f" {listing(sorted(wanted))}: not removed"
            )
        if not self.check_mode:
            for image in found:
                self.conn.image.delete_image(image, ignore_missing=True)
        self.exit(changed=bool(found), removed=[image.id for image in found])

    # -- present ---------------------------------------------------------------------------

    def present(self):
        name = self.params["name"]
        found = self.images()
        if len(found) > 1:
            self.fail(f"{len(found)} images are named {name!r} ({listing([i.id for i in found])}): remove all but one")
        if found:
            image = found[0]
            if image.status == "active":
                self.exit(changed=False, image=self.describe(image))
            if image.status in SAVING:
                if self.check_mode:
                    self.exit(changed=True, image=self.describe(image))
                self.exit(changed=True, image=self.describe(self.wait_active(image.id)))
            self.fail(f"image {name!r} ({image.id}) is {image.status}: remove it (state=absent) and run again")
        if self.check_mode and not self.params["server"]:
            self.exit(changed=True, image={"name": name})  # a look: would be made, from a server named later
        server = self.server()
        if self.check_mode:
            self.exit(changed=True, image={"name": name})
        if self.params["stop"] and server.status == "ACTIVE":
            self.conn.compute.stop_server(server)
            self.wait_status(server, "SHUTOFF")
        image = self.conn.compute.create_server_image(server, name, metadata=dict(self.params["properties"]))
        self.exit(changed=True, image=self.describe(self.wait_active(image.id)))

    def server(self):
        ref = self.params["server"]
        if not ref:
            self.fail(f"no active image {self.params['name']!r} yet: name the server to make it from (server)")
        server = self.conn.compute.find_server(ref, ignore_missing=True)
        if server is None:
            self.fail(f"server {ref!r} not found")
        server = self.conn.compute.get_server(server.id)
        if server.status not in ("ACTIVE", "SHUTOFF"):
            self.fail(f"server {ref!r} is {server.status}: only an ACTIVE or SHUTOFF server can be snapshotted")
        if not (isinstance(server.image, dict) and server.image.get("id")):
            self.fail(f"server {ref!r} boots from a volume: its snapshot would hold no image")
        return server

    def wait_status(self, server, status):
        def pending():
            now = self.conn.compute.get_server(server.id)
            if now.status == "ERROR":
                self.fail(f"server {server.name!r} went into ERROR while it was being shut off")
            return [] if now.status == status else [f"{server.name} ({now.status})"]

        self.wait_for(pending, f"the server to be {status}")

    def wait_active(self, image_id):
        state = {}

        def pending():
            image = self.conn.image.get_image(image_id)
            state["image"] = image
            if image.status in ("killed", "deleted", "pending_delete"):
                self.fail(f"image {self.params['name']!r} ({image_id}) is {image.status}: the snapshot failed")
            return [] if image.status == "active" else [f"{image.name} ({image.status})"]

        self.wait_for(pending, "the image to be active")
        return state["image"]


def main():
    OpenStackServerImage()()


if __name__ == "__main__":
    main()
