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
  - The image is the source container's own image and, on top, what changed in the container since it was
    created (the engine's list of changes; GNU C(tar) in the container reads those files). It is built by the
    engine from the source's image with two steps, in JSON form only. The first removes what the source deleted, the
    excluded paths and the content of emptied files as far as the source's image has them, the second adds the
    changed files that are not left out. So a left-out file that the roles wrote into the source is in no layer
    of the image, and one that the source's image already had is hidden by the first step (it stays in that
    image's layers, which every container of that image has anyway).
  - A changed file that is a hard link to a left-out file is left out too, whatever its name.
  - Paths that the engine mounts into the source (volumes, C(/etc/hosts), C(/etc/hostname), C(/etc/resolv.conf))
    are not taken from it.
  - The image carries the label C(org.learnhpc.fingerprint) with O(fingerprint) and a checksum of the source's
    image, O(exclude), O(empty), O(command) and O(labels). It is made again only when that differs, so a second
    run with an unchanged source and unchanged options changes nothing. The image it replaces is removed when no
    container uses it.
  - An existing image of that name is replaced or removed only when it carries every label of O(labels), so that
    an image of another event, or not made by this module, is never touched; the module fails with one line
    instead.
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
  timeout:
    description:
      - Seconds to wait for the engine while the changed files are read and the image is built.
    type: int
    default: 600
extends_documentation_fragment:
  - learnhpc.cluster.docker_api
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
  - The source's image must have C(/bin/sh), C(find) and GNU C(tar) (Debian's and Ubuntu's have). The image is built
    by the engine's classic builder, without network.
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
    - The label C(org.learnhpc.fingerprint) of the image after the run, O(fingerprint) and a checksum of the source's
      image and the options (null when there is none).
  returned: always
  type: str
  sample: 0c8d4e
files:
  description: Changed files and directories of the source copied into a new image; 0 when no image was made.
  returned: always
  type: int
  sample: 2187
left_out:
  description: Changed paths of the source left out (O(exclude), and hard links to them); 0 when no image was made.
  returned: always
  type: int
  sample: 42
"""

import hashlib
import io
import json
import os
import posixpath
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerAPI, DockerError

FINGERPRINT_LABEL = "org.learnhpc.fingerprint"


def full_fingerprint(params, base):
    """The source's fingerprint with the image it runs (``base``, an ID) and what the module does to it
    (exclude, empty, command, labels)."""
    settings = json.dumps(
        [base, params["exclude"], params["empty"], params["command"], params["labels"]], sort_keys=True
    )
    return f"{params['fingerprint']}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def split_name(name):
    """``(repository, tag)`` of an image name; the tag is ``latest`` when none is given."""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


class Selection:
    """Which member paths of a file system (``etc/munge/munge.key``) are left out or emptied."""

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


def copy_members(reader, writer, selection, dropped):
    """Copy the members of the tar ``reader`` to the tar ``writer`` with ``selection`` applied; ``(files, left_out)``.

    Left-out paths are not copied, nor hard links to them (``dropped`` gathers their names); emptied files are
    copied empty."""
    files = left_out = 0
    for member in reader:
        name = posixpath.normpath(member.name.lstrip("./") or ".")
        linked = member.islnk() and posixpath.normpath(member.linkname) in dropped
        if linked or selection.left_out(name, member.isdir()):
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


# Paths that the engine mounts into every container: never taken from the source.
ENGINE_MOUNTS = ("etc/hostname", "etc/hosts", "etc/resolv.conf")
# The most bytes of paths given to one command (Linux allows 128 KiB in one argument, 2 MiB in all).
ARGUMENT_BYTES = 96 * 1024
# The most bytes of paths in one RUN step of the build: the builder reads the Dockerfile in lines of at most
# 64 KiB, and JSON may escape a path to more bytes than it has.
RUN_BYTES = 24 * 1024
# Run in the build, on the source's image, before the changed files are added: removes what the source
# deleted and what the image must not have (kind, path pairs; see removal()).
REMOVE_SCRIPT = r"""
while [ $# -ge 2 ]; do
    kind=$1 path=$2
    shift 2
    case $kind in
        whole) rm -rf -- "$path" || exit 1 ;;
        contents)
            if [ -d "$path" ]; then find "$path" -xdev -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + || exit 1; fi ;;
        files)
            if [ -d "$path" ]; then find "$path" -xdev -mindepth 1 ! -type d -exec rm -f -- {} + || exit 1; fi ;;
        empty) if [ -f "$path" ] && [ -s "$path" ]; then : >"$path" || exit 1; fi ;;
    esac
done
"""


def mounted(path, mounts):
    """Whether ``path`` (relative) is a mount point of ``mounts`` (relative) or lies under one."""
    return any(path == mount or path.startswith(mount + "/") for mount in mounts)


def plan(changes, selection, mounts):
    """``(copied, left_out, deleted)``: the relative paths to take from the source, those left out, and those it
    deleted.

    ``changes`` is the engine's answer to ``GET /containers/{id}/changes`` (Kind 0 changed, 1 added,
    2 deleted). A path left out as a whole is not copied; one that may be a directory kept under a
    ``/**`` exclusion is, and the copy itself drops the files (copy_members).
    """
    copied, left_out, deleted = [], [], []
    for change in sorted(changes or [], key=lambda item: item.get("Path") or ""):
        path = posixpath.normpath((change.get("Path") or "").strip("/"))
        if path in ("", ".") or mounted(path, mounts):
            continue
        if change.get("Kind") == 2:
            deleted.append(path)
        elif selection.left_out(path, is_directory=True):
            left_out.append(path)
        else:
            copied.append(path)
    return copied, left_out, deleted


def removal(selection, deleted):
    """The (kind, path) pairs of REMOVE_SCRIPT: the exclusions and emptied files, then the deleted paths
    that no exclusion covers."""
    pairs = [("whole", path) for path in sorted(selection.whole)]
    pairs += [("contents", path) for path in sorted(selection.contents)]
    pairs += [("files", path) for path in sorted(selection.files)]
    pairs += [("empty", path) for path in sorted(selection.empty)]
    pairs += [("whole", path) for path in deleted if not selection.left_out(path, is_directory=True)]
    return [(kind, "/" + path) for kind, path in pairs]


def batches(paths, limit=ARGUMENT_BYTES):
    """``paths`` in lists of at most ``limit`` bytes each."""
    batch, size = [], 0
    for path in paths:
        length = len(path.encode()) + 1
        if batch and size + length > limit:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += length
    if batch:
        yield batch


def dockerfile(base, removals, command):
    """The build's Dockerfile: the source's image, the removals (in RUN steps of at most RUN_BYTES), the
    changed files, the command. JSON forms only: no path is ever parsed by a shell or by the builder."""
    lines = [f"FROM {base}"]
    flat = [item for pair in removals for item in pair]
    step, size = [], 0
    for index in range(0, len(flat), 2):
        pair = flat[index : index + 2]
        length = sum(len(item.encode()) + 1 for item in pair)
        if step and size + length > RUN_BYTES:
            lines.append("RUN " + json.dumps(["/bin/sh", "-c", REMOVE_SCRIPT, "sh", *step]))
            step, size = [], 0
        step += pair
        size += length
    if step:
        lines.append("RUN " + json.dumps(["/bin/sh", "-c", REMOVE_SCRIPT, "sh", *step]))
    lines.append("ADD changes.tar /")
    lines.append("CMD " + json.dumps(command))
    return "\n".join(lines) + "\n"


def build_answer(raw):
    """The image ID from the engine's answer to a build (JSON messages, one per line), or DockerError."""
    image = None
    output = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("stream"):
            output.append(message["stream"].strip())
        if message.get("error"):
            said = " / ".join(text for text in output[-3:] if text)
            raise DockerError(f"the Docker engine could not build the image: {message['error'].strip()} ({said})")
        image = (message.get("aux") or {}).get("ID") or image
    if image is None:
        raise DockerError("the Docker engine's answer to the build named no image")
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

    def run(self, command, codes=(0,), consume=None):
        """What ``consume`` makes of the standard output of ``command`` in the source (all of it, as bytes, without
        ``consume``); DockerError when the command exits with a code not in ``codes``."""
        container = self.params["container"]
        exec_id, connection, output = self.api.exec_output(container, command, timeout=self.params["timeout"])
        try:
            data = consume(output) if consume else output.read()
        except (tarfile.TarError, OSError) as exc:
            raise DockerError(f"cannot read what {command[0]} in {container} wrote: {exc}") from None
        finally:
            connection.close()
        code = self.api.exec_exit_code(exec_id)
        if code not in codes:
            said = output.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DockerError(f"{command[0]} in {container} failed ({code}): {said[-1] if said else 'no message'}")
        return data

    def multiply_linked(self, paths, printf):
        """What find in the source prints (``printf``, items ending in NUL) for each of ``paths`` that is a file
        with more than one link; a path that went away in the meantime is skipped (find exits with 1)."""
        for batch in batches(paths):
            command = ["find", *["/" + path for path in batch], "-maxdepth", "0", "-type", "f", "-links", "+1"]
            out = self.run([*command, "-printf", printf], codes=(0, 1))
            yield from (item for item in out.decode("utf-8", "surrogateescape").split("\0") if item)

    def linked_to_left_out(self, copied, left_out):
        """The paths of ``copied`` that are hard links to a file of ``left_out``: they hold its content.

        Asks for the device and inode of every left-out file with more than one link, then, only if there is
        one, for those of the copied files."""
        inodes = set(self.multiply_linked(left_out, "%D:%i\\0"))
        if not inodes:
            return set()
        found = (item.partition("\t") for item in self.multiply_linked(copied, "%D:%i\\t%p\\0"))
        return {path.lstrip("/") for inode, _tab, path in found if inode in inodes}

    def copy_changes(self, paths, destination, selection):
        """Copy ``paths`` (relative, with their metadata; directories without what they hold) from the source
        into the tar file ``destination``, with ``selection`` applied; ``(files, left_out)``.

        GNU tar in the source reads them, in batches that fit a command line; a file that went away in the
        meantime is skipped, one that changed while read is copied as read."""
        files = left_out = 0
        dropped = set()
        with tarfile.open(fileobj=destination, mode="w") as writer:

            def copy(output):
                with tarfile.open(fileobj=output, mode="r|") as reader:
                    return copy_members(reader, writer, selection, dropped)

            for batch in batches(paths):
                command = ["tar", "--create", "--file=-", "--directory=/", "--no-recursion", "--numeric-owner"]
                command += ["--xattrs", "--ignore-failed-read", "--warning=no-failed-read", "--", *batch]
                # GNU tar: 1 when a file changed while it was read (copied as read), 2 and more on a fatal error.
                counts = self.run(command, codes=(0, 1), consume=copy)
                files += counts[0]
                left_out += counts[1]
        return files, left_out

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
        source = self.api.get(f"/containers/{params['container']}/json")
        if not (source.get("State") or {}).get("Running"):
            raise DockerError(f"container {params['container']} is not running")
        base = source.get("Image")
        fingerprint = full_fingerprint(params, base)
        image = self.existing()
        labels = ((image or {}).get("Config") or {}).get("Labels") or {}
        if image is not None and labels.get(FINGERPRINT_LABEL) == fingerprint:
            return result(False, image["Id"], fingerprint)
        if image is not None:
            self.mine(image)
        if self.check_mode:
            return result(True, None, fingerprint)
        selection = Selection(params["exclude"], params["empty"])
        mounts = {
            posixpath.normpath(m["Destination"].strip("/")) for m in source.get("Mounts") or [] if m.get("Destination")
        }
        copied, left_out, deleted = plan(
            self.api.get(f"/containers/{params['container']}/changes"), selection, mounts | set(ENGINE_MOUNTS)
        )
        # A hard link to a left-out file is left out too, whatever its name: it is the same file.
        linked = self.linked_to_left_out(copied, left_out)
        copied = [path for path in copied if path not in linked]
        with tempfile.TemporaryFile(dir=self.tmpdir) as changes, tempfile.TemporaryFile(dir=self.tmpdir) as context:
            files, dropped = self.copy_changes(copied, changes, selection)
            left_out = len(left_out) + len(linked) + dropped
            recipe = dockerfile(base, removal(selection, deleted), params["command"]).encode()
            changes.seek(0)
            with tarfile.open(fileobj=context, mode="w") as tar:
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(recipe)
                tar.addfile(info, io.BytesIO(recipe))
                info = tar.gettarinfo(arcname="changes.tar", fileobj=changes)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                tar.addfile(info, changes)
            context.seek(0)
            repository, tag = split_name(params["name"])
            connection, response = self.api.open(
                "POST",
                "/build",
                body=context,
                headers={
                    "Content-Type": "application/x-tar",
                    "Content-Length": str(os.fstat(context.fileno()).st_size),
                },
                timeout=params["timeout"],
                t=f"{repository}:{tag}",
                rm="1",
                forcerm="1",
                networkmode="none",
                labels=dict(params["labels"], **{FINGERPRINT_LABEL: fingerprint}),
            )
            try:
                new = build_answer(response.read())
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
