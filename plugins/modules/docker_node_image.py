#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: docker_node_image
short_description: Make an image of a configured node container, without its secrets
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Copies the file system of a running node container (for instance a static compute node that the collection's
    roles configured) into a new image, leaving out the paths in O(exclude) - secrets such as the MUNGE key, caches,
    logs and the node's identity - so that new nodes started from the image are configured like the source node
    and get their secrets from whoever starts them (the resume program of the C(slurm_autoscale) role).
  - The image is flattened (one layer made from C(docker export)), so nothing that is left out survives in a lower
    layer.
  - The image carries the label C(org.learnhpc.fingerprint) with O(fingerprint) and a checksum of O(exclude),
    O(empty), O(command) and O(labels). It is made again only when that differs, so a second run with an unchanged
    source and unchanged options changes nothing. The image it replaces is removed when no container uses it.
  - An existing image of that name is replaced or removed only when it carries every label of O(labels), so that
    an image of another event, or not made by this module, is never touched; the module fails with one line
    instead.
  - Talks to the Docker engine's API over its Unix socket; no Docker SDK is needed.
options:
  name:
    description:
      - The image, C(repository:tag); C(:latest) when no tag is given.
    type: str
    required: true
  container:
    description:
      - The container to copy; required with O(state=present).
    type: str
  fingerprint:
    description:
      - What the source's configuration is, for instance a checksum of its packages and configuration files; the image
        is made again when it differs from the existing image's.
      - Required with O(state=present).
    type: str
  exclude:
    description:
      - Absolute paths to leave out. A path leaves out itself and everything under it; a path ending in C(/*)
        keeps the directory and leaves out what is in it; a path ending in C(/**) keeps the directory and every
        directory under it (services may need them to start) and leaves out everything else under it.
    type: list
    elements: str
    default: []
  empty:
    description:
      - Absolute paths of files kept as empty files (for instance C(/etc/machine-id), which systemd fills at boot).
    type: list
    elements: str
    default: []
  labels:
    description:
      - Labels of the image, besides C(org.learnhpc.fingerprint). An existing image of that name is the module's to
        replace or remove only when it carries all of them (for instance C(org.learnhpc.event) with the event's
        name).
    type: dict
    default: {}
  command:
    description:
      - The command of containers started from the image.
    type: list
    elements: str
    default: [/lib/systemd/systemd]
  state:
    description:
      - V(present) makes the image when it is missing or its fingerprint differs; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  docker_host:
    description:
      - The Docker engine, as a C(unix://) address. Defaults to C(DOCKER_HOST), else C(unix:///var/run/docker.sock).
    type: str
  timeout:
    description:
      - Seconds to wait for the engine to export or import the file system.
    type: int
    default: 600
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The source container keeps running; files that change while it is copied are copied as they are at that moment.
"""

EXAMPLES = r"""
- name: Make the image of autoscaled compute nodes from the first static one
  learnhpc.cluster.docker_node_image:
    name: learnhpc/demo-compute:latest
    container: demo-compute-01
    fingerprint: "{{ node_fingerprint.stdout }}"
    exclude: [/etc/munge/munge.key, /etc/sssd/sssd.conf, /var/lib/sss/db/*, /var/log/*]
    empty: [/etc/machine-id]
    labels:
      org.learnhpc.event: demo

- name: Remove it
  learnhpc.cluster.docker_node_image:
    name: learnhpc/demo-compute:latest
    state: absent
"""

RETURN = r"""
image:
  description: The ID of the image (with O(state=absent), of the image removed); null when there is none.
  returned: always
  type: str
  sample: sha256:4f2a...
fingerprint:
  description:
    - The label C(org.learnhpc.fingerprint) of the image after the run, O(fingerprint) and a checksum of the options
      (null when there is none).
  returned: always
  type: str
  sample: 0c8d4e
files:
  description: Files and directories copied into a new image; 0 when no image was made.
  returned: always
  type: int
  sample: 21873
left_out:
  description: Paths of the source left out because of O(exclude); 0 when no image was made.
  returned: always
  type: int
  sample: 42
"""

import hashlib
import json
import os
import posixpath
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerAPI, DockerError

FINGERPRINT_LABEL = "org.learnhpc.fingerprint"


def full_fingerprint(params):
    """The source's fingerprint with what the module does to it (exclude, empty, command, labels)."""
    settings = json.dumps([params["exclude"], params["empty"], params["command"], params["labels"]], sort_keys=True)
    return f"{params['fingerprint']}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def split_name(name):
    """``(repository, tag)`` of an image name; the tag is ``latest`` when none is given."""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


class Selection:
    """Which member paths of an exported file system (``etc/munge/munge.key``) are left out or emptied."""

    def __init__(self, exclude, empty):
        self.whole = set()
        self.contents = set()
        self.files = set()
        for path in exclude:
            relative = path.strip("/")
            if relative.endswith("/**"):
                self.files.add(relative[:-3])
            elif relative.endswith("/*"):
                self.contents.add(relative[:-2])
            elif relative:
                self.whole.add(relative)
        self.empty = {path.strip("/") for path in empty}

    def left_out(self, member_path, is_directory=False):
        path = posixpath.normpath(member_path.lstrip("./") or ".")
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in self.whole:
                return True
            if depth < len(parts) and (prefix in self.contents or (prefix in self.files and not is_directory)):
                return True
        return False

    def emptied(self, member_path):
        return posixpath.normpath(member_path.lstrip("./")) in self.empty


def copy_file_system(source, destination, selection):
    """Copy a tar stream from ``source`` to ``destination`` with ``selection`` applied; ``(files, left_out)``."""
    files = left_out = 0
    dropped = set()
    with tarfile.open(fileobj=source, mode="r|") as reader, tarfile.open(fileobj=destination, mode="w|") as writer:
        for member in reader:
            name = posixpath.normpath(member.name.lstrip("./") or ".")
            if selection.left_out(name, member.isdir()) or (
                member.islnk() and posixpath.normpath(member.linkname) in dropped
            ):
                dropped.add(name)
                left_out += 1
                continue
            if member.isfile() and selection.emptied(name):
                member.size = 0
                writer.addfile(member)
            elif member.isfile():
                writer.addfile(member, reader.extractfile(member))
            else:
                writer.addfile(member)
            files += 1
    return files, left_out


def import_answer(raw):
    """The image ID from the engine's answer to an import (JSON messages, one per line), or DockerError."""
    image = None
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("error"):
            raise DockerError(f"the Docker engine refused the image: {message['error']}")
        status = message.get("status") or ""
        if status.startswith("sha256:"):
            image = status
    if image is None:
        raise DockerError("the Docker engine's answer to the import named no image")
    return image


def result(changed, image, fingerprint, files=0, left_out=0):
    """The module's result."""
    return {"changed": changed, "image": image, "fingerprint": fingerprint, "files": files, "left_out": left_out}


class NodeImage:
    """What the module does, on a DockerAPI."""

    def __init__(self, api, params, check_mode, tmpdir):
        self.api = api
        self.params = params
        self.check_mode = check_mode
        self.tmpdir = tmpdir

    def existing(self):
        try:
            return self.api.get(f"/images/{self.params['name']}/json")
        except DockerError as exc:
            if exc.status == 404:
                return None
            raise

    def mine(self, image):
        """Refuse, in one line, an existing image that lacks any of the labels given."""
        labels = (image.get("Config") or {}).get("Labels") or {}
        wrong = sorted(key for key, value in self.params["labels"].items() if labels.get(key) != str(value))
        if wrong:
            shown = ", ".join(f"{key}={labels.get(key)!r}" for key in wrong)
            name = self.params["name"]
            raise DockerError(f"image {name} exists and is not this one's to replace ({shown}); left alone")

    def absent(self):
        image = self.existing()
        if image is None:
            return result(False, None, None)
        self.mine(image)
        if not self.check_mode:
            self.api.delete(f"/images/{image['Id']}")
        return result(True, image["Id"], None)

    def present(self):
        params = self.params
        fingerprint = full_fingerprint(params)
        image = self.existing()
        labels = ((image or {}).get("Config") or {}).get("Labels") or {}
        if image is not None and labels.get(FINGERPRINT_LABEL) == fingerprint:
            return result(False, image["Id"], fingerprint)
        if image is not None:
            self.mine(image)
        source = self.api.get(f"/containers/{params['container']}/json")
        if not (source.get("State") or {}).get("Running"):
            raise DockerError(f"container {params['container']} is not running")
        if self.check_mode:
            return result(True, None, fingerprint)
        selection = Selection(params["exclude"], params["empty"])
        with tempfile.TemporaryFile(dir=self.tmpdir) as flat:
            export = f"/containers/{params['container']}/export"
            connection, response = self.api.open("GET", export, timeout=params["timeout"])
            try:
                files, left_out = copy_file_system(response, flat, selection)
            except (tarfile.TarError, OSError) as exc:
                raise DockerError(f"cannot copy the file system of {params['container']}: {exc}") from None
            finally:
                connection.close()
            flat.seek(0)
            repository, tag = split_name(params["name"])
            all_labels = dict(params["labels"], **{FINGERPRINT_LABEL: fingerprint})
            changes = [f"CMD {json.dumps(params['command'])}"]
            changes.extend(f"LABEL {json.dumps(key)}={json.dumps(str(v))}" for key, v in sorted(all_labels.items()))
            connection, response = self.api.open(
                "POST",
                "/images/create",
                body=flat,
                headers={"Content-Type": "application/x-tar", "Content-Length": str(os.fstat(flat.fileno()).st_size)},
                timeout=params["timeout"],
                fromSrc="-",
                repo=repository,
                tag=tag,
                message=f"learnhpc.cluster.docker_node_image from {params['container']}",
                changes=tuple(changes),
            )
            try:
                new = import_answer(response.read())
            finally:
                connection.close()
        if image is not None and image["Id"] != new:
            try:
                self.api.delete(f"/images/{image['Id']}")
            except DockerError as exc:
                if exc.status != 409:  # still used by a container: it goes when that one does
                    raise
        return result(True, new, fingerprint, files, left_out)


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "container": {"type": "str"},
            "fingerprint": {"type": "str"},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "empty": {"type": "list", "elements": "str", "default": []},
            "labels": {"type": "dict", "default": {}},
            "command": {"type": "list", "elements": "str", "default": ["/lib/systemd/systemd"]},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "docker_host": {"type": "str"},
            "timeout": {"type": "int", "default": 600},
        },
        required_if=[("state", "present", ("container", "fingerprint"))],
        supports_check_mode=True,
    )
    params = module.params
    bad = [path for path in params["exclude"] + params["empty"] if not path.startswith("/")]
    if bad:
        module.fail_json(msg=f"docker_node_image: exclude and empty take absolute paths, got {', '.join(bad)}")
    if not params["command"]:
        module.fail_json(msg="docker_node_image: command must not be empty")
    try:
        api = DockerAPI(params["docker_host"], timeout=60)
        work = NodeImage(api, params, module.check_mode, module.tmpdir)
        result = work.present() if params["state"] == "present" else work.absent()
    except DockerError as exc:
        module.fail_json(msg=f"docker_node_image: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
