#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: config_files
short_description: Put several files and directories in their state in one round trip
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Brings each entry of O(files), in order, to its state - a file with the given content, a directory, or nothing -
    with its owner, group and mode.
  - One module run for all of them. M(ansible.builtin.template) and M(ansible.builtin.copy) make two on every run
    (a C(stat), then C(file) for the attributes) and M(ansible.builtin.file) one per path, so a role's few
    configuration files cost a re-run several round trips per node; this costs one.
  - The action plugin of the same name renders O(files[].template) and reads O(files[].src) on the control machine
    first, as M(ansible.builtin.template) and M(ansible.builtin.copy) do.
  - A file is replaced atomically (written next to it, then renamed), and only when its content differs.
  - A directory is made with its missing parents (as M(ansible.builtin.file) does); a file's directory must exist
    or be listed before it, with O(files[].state=directory). A missing directory, a directory where a file should
    be, or a file where a directory should be fails the task before anything is changed. In check mode a missing
    directory is not an error, since on a new host the package that makes it is not installed in check mode
    either; the file is reported as changed.
options:
  files:
    description:
      - The files and directories, in the order they are brought to their state.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description:
          - Absolute path of the file or directory. A symbolic link there is replaced, not followed.
        type: path
        required: true
      state:
        description:
          - V(present) - a file with O(files[].content); V(directory) - a directory; V(absent) - no file (a
            directory there is an error).
        type: str
        choices: [present, directory, absent]
        default: present
      content:
        description:
          - The file's content as text (V(present) only). A file of V(present) needs exactly one of O(files[].content),
            O(files[].content_base64), O(files[].template) and O(files[].src).
        type: str
      content_base64:
        description:
          - The file's content as base64, for binary content such as a key (V(present) only).
        type: str
      template:
        description:
          - A template, looked up as M(ansible.builtin.template) looks up its O(ansible.builtin.template#module:src)
            (the role's C(templates/) first), rendered with the task's variables on the control machine.
        type: str
      src:
        description:
          - A file of the control machine, looked up as M(ansible.builtin.copy) looks up its
            O(ansible.builtin.copy#module:src) (the role's C(files/) first); text only.
        type: str
      owner:
        description:
          - Owner of the file or directory; unchanged when not given (a new one belongs to the user the module runs
            as).
        type: str
      group:
        description:
          - Group of the file or directory; unchanged when not given.
        type: str
      mode:
        description:
          - Permissions, as octal digits in a string (V('0644')) or symbolic (V(u=rw,g=r,o=r)); a new file without it
            gets the umask's, a replaced one keeps the old file's.
        type: raw
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The content of each changed file (text up to 64 KiB), unless the task is C(no_log).
  platform:
    platforms: posix
notes:
  - Handlers are notified once when any entry changed; files whose changes need different handlers belong in
    different tasks.
  - There is no C(validate); a file that must be checked by its program before it is put in place stays with
    M(ansible.builtin.template).
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Let slurmd start without a local slurm.conf, with its options
  learnhpc.cluster.config_files:
    files:
      - dest: /etc/slurm/slurm.conf
        state: absent
      - dest: /etc/systemd/system/slurmd.service.d
        state: directory
        mode: "0755"
      - dest: /etc/systemd/system/slurmd.service.d/learnhpc-configless.conf
        template: configless.conf.j2
        mode: "0644"
      - dest: /etc/default/slurmd
        content: "SLURMD_OPTIONS=--conf-server ctl:6817\n"
        owner: root
        group: root
        mode: "0644"
  notify: Restart slurmd
"""

RETURN = r"""
files:
  description: Each entry's path, state and whether it changed, in the order given.
  returned: always
  type: list
  elements: dict
  sample: [{dest: /etc/default/slurmd, state: present, changed: true}]
changed_files:
  description: The paths that changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/default/slurmd]
"""

import base64
import binascii
import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

DIFF_LIMIT = 64 * 1024
ENTRY_SPEC = {
    "dest": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "directory", "absent"], "default": "present"},
    "content": {"type": "str"},
    "content_base64": {"type": "str", "no_log": False},
    "template": {"type": "str"},
    "src": {"type": "str"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw"},
}


class Refused(Exception):
    """An entry that cannot be brought to its state; the message names it."""


def kind(path):
    """'missing', 'link', 'directory', 'file' or 'other' for what is at ``path`` (bytes)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(info.st_mode):
        return "link"
    if stat.S_ISDIR(info.st_mode):
        return "directory"
    return "file" if stat.S_ISREG(info.st_mode) else "other"


def content_of(entry, where):
    """The bytes a file of ``entry`` is to hold, or None."""
    if entry["content_base64"] is not None:
        try:
            return base64.b64decode(entry["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise Refused(f"{where}: content_base64 is not base64") from None
    if entry["content"] is not None:
        return to_bytes(entry["content"], errors="surrogate_or_strict")
    return None


def check(entries, planned_dirs, check_mode=False):
    """Refuse, before anything changes, what no entry could be brought to; each file's bytes."""
    data = []
    for index, entry in enumerate(entries):
        where = f"files[{index}] ({entry['dest']})"
        if not os.path.isabs(entry["dest"]):
            raise Refused(f"{where}: dest must be an absolute path")
        given = [key for key in ("content", "content_base64") if entry[key] is not None]
        if entry["state"] == "present" and len(given) != 1:
            raise Refused(f"{where}: state present needs one of content and content_base64 (or template or src)")
        if entry["state"] != "present" and given:
            raise Refused(f"{where}: {given[0]} is only for state present, not {entry['state']}")
        data.append(content_of(entry, where))
        found = kind(to_bytes(entry["dest"], errors="surrogate_or_strict"))
        if entry["state"] in ("present", "absent") and found == "directory":
            raise Refused(f"{where}: a directory is there, not a file")
        if entry["state"] == "directory" and found not in ("missing", "directory"):
            raise Refused(f"{where}: a {found} is there, not a directory")
        if entry["state"] == "present" and found == "missing":
            parent = os.path.dirname(entry["dest"].rstrip("/")) or "/"
            # In check mode the package that would make the directory is not installed either:
            # the file is reported as a change, as ansible.builtin.copy reports it.
            if not os.path.isdir(parent) and parent not in planned_dirs and not check_mode:
                raise Refused(f"{where}: its directory {parent} does not exist (list it first, with state directory)")
        if entry["state"] == "directory":
            path = entry["dest"].rstrip("/")
            while path not in ("", "/"):
                planned_dirs.add(path)
                path = os.path.dirname(path)
    return data


def attributes(module, entry, changed):
    """Owner, group and mode as asked; whether anything (before or now) changed."""
    args = module.load_file_common_arguments(
        {"path": entry["dest"], "owner": entry["owner"], "group": entry["group"], "mode": entry["mode"]}
    )
    return module.set_fs_attributes_if_different(args, changed)


def write(module, entry, data):
    """Replace the file atomically with ``data``, owner, group and mode as asked."""
    directory = os.path.dirname(entry["dest"]) or "/"
    handle, temporary = tempfile.mkstemp(prefix=".learnhpc-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        module.atomic_move(temporary, entry["dest"], unsafe_writes=False)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def bring(module, entry, data):
    """Bring one entry to its state (``data``: a file's bytes); ``(changed, diff or None)``."""
    dest = entry["dest"]
    b_dest = to_bytes(dest, errors="surrogate_or_strict")
    found = kind(b_dest)
    if entry["state"] == "absent":
        if found == "missing":
            return False, None
        if not module.check_mode:
            os.unlink(b_dest)
        return True, {"before_header": dest, "after_header": dest, "before": f"{found} {dest}\n", "after": ""}

    if entry["state"] == "directory":
        if found == "missing":
            if not module.check_mode:
                os.makedirs(b_dest, 0o755)
            else:
                return True, {"before_header": dest, "after_header": dest, "before": "", "after": f"directory {dest}\n"}
        return attributes(module, entry, found == "missing"), None

    before = b""
    if found == "file":
        with open(b_dest, "rb") as current:
            before = current.read()
    changed = found != "file" or before != data
    diff = None
    if changed:
        diff = {"before_header": dest, "after_header": dest, "before": "", "after": ""}
        if entry["content"] is not None and max(len(before), len(data)) <= DIFF_LIMIT and b"\0" not in before:
            diff.update(before=to_text(before, errors="surrogate_or_replace"), after=entry["content"])
        else:
            diff.update(before="(not shown: binary or over 64 KiB)\n", after="(not shown)\n")
        if module.check_mode:
            return True, diff
        write(module, entry, data)
    return attributes(module, entry, changed), diff


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": ENTRY_SPEC}},
        supports_check_mode=True,
    )
    entries = module.params["files"]
    try:
        data = check(entries, set(), module.check_mode)
    except Refused as error:
        module.fail_json(msg=f"config_files: {error}; nothing was changed")

    results, diffs = [], []
    for index, entry in enumerate(entries):
        try:
            changed, diff = bring(module, entry, data[index])
        except (OSError, Refused) as error:
            module.fail_json(msg=f"config_files: files[{index}] ({entry['dest']}): {to_native(error)}", files=results)
        results.append({"dest": entry["dest"], "state": entry["state"], "changed": changed})
        if diff and module._diff and not module.no_log:
            diffs.append(diff)
    changed_files = [result["dest"] for result in results if result["changed"]]
    outcome = {"changed": bool(changed_files), "files": results, "changed_files": changed_files}
    if diffs:
        outcome["diff"] = diffs
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
