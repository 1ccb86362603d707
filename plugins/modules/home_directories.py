#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: home_directories
short_description: Create or remove many home directories at once
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Makes a home directory C(<path>/<name>) for each of O(users), filled from O(skel), owned by the user's numeric
    IDs and with mode O(mode); or removes them.
  - Owners are numeric, so the accounts need not be known to the host (for example a file server that does not
    look users up in LDAP).
  - A home directory that exists keeps its content; only the owner and mode of the directory itself are brought in
    line. Run it once, on the host that holds the shared storage.
options:
  path:
    description:
      - The directory the home directories are in.
    type: path
    default: /home
  users:
    description:
      - The users.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The user name, also the directory's name.
        type: str
        required: true
      uid:
        description: The numeric user ID. Required with O(state=present).
        type: int
      gid:
        description: The numeric group ID. Required with O(state=present).
        type: int
  mode:
    description:
      - The mode of each home directory, octal.
    type: str
    default: "0700"
  skel:
    description:
      - The directory whose content a new home directory gets.
    type: path
    default: /etc/skel
  state:
    description:
      - V(present) creates the directories; V(absent) removes them with everything in them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Home directories of the event's accounts, on the file server
  learnhpc.cluster.home_directories:
    path: /home
    users:
      - name: student01
        uid: 10001
        gid: 10000
      - name: student02
        uid: 10002
        gid: 10000

- name: Remove them
  learnhpc.cluster.home_directories:
    users:
      - name: student01
      - name: student02
    state: absent
"""

RETURN = r"""
created:
  description: The users whose home directory was created.
  returned: always
  type: list
  elements: str
  sample: [student01]
fixed:
  description: The users whose existing home directory got its owner or mode corrected.
  returned: always
  type: list
  elements: str
  sample: []
removed:
  description: The users whose home directory was removed.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import re
import shutil
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import USER_NAME_RE

# A user or group name (docs/contracts.md): at most 32 characters, useradd's limit.
POSIX_NAME = USER_NAME_RE


def copy_skel(skel, home, uid, gid):
    """Copy the files of skel into the new directory home, all owned by uid:gid."""
    if os.path.isdir(skel):
        shutil.copytree(skel, home, symlinks=True, dirs_exist_ok=True)
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def owner_mode(uid, gid, mode):
    return f"{uid}:{gid} {mode:04o}"


def check_input(params, present):
    """Every problem of the input, one line each."""
    problems = []
    if not re.fullmatch(r"0?[0-7]{3,4}", params["mode"]):
        problems.append(f"mode must be octal like 0700, got {params['mode']!r}")
    for index, user in enumerate(params["users"]):
        if not POSIX_NAME.fullmatch(user["name"]):
            problems.append(f"users[{index}]: name {user['name']!r} is not a POSIX user name")
        elif present and (user["uid"] is None or user["gid"] is None):
            problems.append(f"users[{index}] ({user['name']}): uid and gid are required with state=present")
    if present and not os.path.isdir(params["path"]):
        problems.append(f"path {params['path']} is not a directory")
    return problems


class Homes:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.mode = int(self.params["mode"], 8)
        self.result = dict(changed=False, created=[], fixed=[], removed=[])
        self.diff = dict(before={}, after={})

    def remove(self, user, home, info):
        if info is None:
            return
        self.result["removed"].append(user["name"])
        self.diff["before"][home] = "directory"
        if not self.module.check_mode:
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(home)
            else:
                os.unlink(home)

    def ensure(self, user, home, info):
        uid, gid = user["uid"], user["gid"]
        if info is None:
            self.result["created"].append(user["name"])
            self.diff["after"][home] = owner_mode(uid, gid, self.mode)
            if not self.module.check_mode:
                os.mkdir(home, 0o700)
                copy_skel(self.params["skel"], home, uid, gid)
                os.chown(home, uid, gid)
                os.chmod(home, self.mode)
            return
        if not stat.S_ISDIR(info.st_mode):
            self.module.fail_json(msg=f"{home} exists and is not a directory", **self.result)
        have = (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode))
        if have != (uid, gid, self.mode):
            self.result["fixed"].append(user["name"])
            self.diff["before"][home] = owner_mode(*have)
            self.diff["after"][home] = owner_mode(uid, gid, self.mode)
            if not self.module.check_mode:
                os.chown(home, uid, gid)
                os.chmod(home, self.mode)

    def run(self):
        present = self.params["state"] == "present"
        for user in self.params["users"]:
            home = os.path.join(self.params["path"], user["name"])
            try:
                info = os.lstat(home)
            except FileNotFoundError:
                info = None
            if present:
                self.ensure(user, home, info)
            else:
                self.remove(user, home, info)
        result = self.result
        result["changed"] = bool(result["created"] or result["fixed"] or result["removed"])
        if self.module._diff:
            result["diff"] = self.diff
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/home"),
            users=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(name=dict(type="str", required=True), uid=dict(type="int"), gid=dict(type="int")),
            ),
            mode=dict(type="str", default="0700"),
            skel=dict(type="path", default="/etc/skel"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    problems = check_input(module.params, module.params["state"] == "present")
    if problems:
        module.fail_json(msg="; ".join(problems))
    homes = Homes(module)
    try:
        result = homes.run()
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename or module.params['path']}: {exc.strerror}", **homes.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
