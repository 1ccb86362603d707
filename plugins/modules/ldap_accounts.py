#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: ldap_accounts
short_description: Create or remove many POSIX accounts and their group in LDAP at once
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Makes the accounts O(users) and their POSIX group O(group) exist in an LDAP directory (or be gone), over one
    connection - one search for what exists, then one operation for each entry that must change. Meant for the
    accounts of a training event, tens to hundreds at a time.
  - A user is an entry C(uid=<name>,<users_base>) of the object classes C(inetOrgPerson), C(posixAccount),
    C(shadowAccount) and, when it has SSH keys, C(ldapPublicKey) (the openssh-lpk schema must be loaded).
  - A password is set when an account is created, as a salted SHA-512 crypt hash (C({CRYPT}$6$...)). A re-run
    leaves the password of an existing account alone, so a password an attendee changed stays; it reports in
    RV(passwords_differ) each account whose password in the directory is not the one given (changed by the
    attendee, or the given one is new, for example because the file that held it was lost), so that a
    credentials sheet never shows a password the directory does not take. O(reset_passwords) sets the given
    password of existing accounts. An account given without a password can only log in with its SSH keys.
  - The other attributes (numeric group, home, shell, full name, SSH keys, expiry) are brought in line with
    O(users) on every run. The numeric user ID of an existing account is never changed; a different one is an
    error.
  - Every problem found in O(users) is reported before anything is changed.
options:
  base_dn:
    description:
      - The base DN of the directory, for example V(dc=demo,dc=learnhpc).
    type: str
    required: true
  users_base:
    description:
      - Where the user entries are. Defaults to C(ou=people,<base_dn>); made (as an organizational unit) when absent.
    type: str
  groups_base:
    description:
      - Where the group entries are. Defaults to C(ou=groups,<base_dn>); made when absent.
    type: str
  group:
    description:
      - The POSIX group of the accounts. With O(state=present) it is created when absent and every user of O(users)
        is made a member (C(memberUid)); members added by other means stay.
      - With O(state=absent) the users are taken out of it, and the group is removed when no member is left.
    type: dict
    suboptions:
      name:
        description: The group name.
        type: str
        required: true
      gid:
        description: The numeric group ID. Required with O(state=present).
        type: int
      description:
        description: A description of the group.
        type: str
  users:
    description:
      - The accounts.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The user name (a POSIX name, at most 32 characters).
        type: str
        required: true
      uid:
        description: The numeric user ID. Required with O(state=present).
        type: int
      gid:
        description: The numeric ID of the primary group. Defaults to the gid of O(group).
        type: int
      full_name:
        description: The full name (C(cn) and C(gecos)). Defaults to the user name.
        type: str
      home:
        description: The home directory. Defaults to C(/home/<name>).
        type: str
      shell:
        description: The login shell.
        type: str
        default: /bin/bash
      password:
        description:
          - The password, set when the account is created (and when it is in O(reset_passwords)). Leave it out for
            an account that logs in with SSH keys only.
        type: str
      ssh_keys:
        description: The OpenSSH public keys of the account, one line each; exactly these are kept.
        type: list
        elements: str
        default: []
      expire_date:
        description:
          - The last day the account can log in, C(YYYY-MM-DD) (C(shadowExpire)). Leave it out for no expiry.
        type: str
  reset_passwords:
    description:
      - Accounts of O(users) whose password is set to the one given even though they exist (V(present)); each
        must be in O(users) with a password. Nothing changes for an account whose password already is that one.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates the accounts and the group or brings them in line; V(absent) deletes the accounts listed
        in O(users).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - learnhpc.cluster.ldap
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Secrets in O(users) are never returned; the diff shows user names and attribute names only.
seealso:
  - module: community.general.ldap_entry
    description: One entry per task; fine for a handful of entries.
"""

EXAMPLES = r"""
- name: Create the accounts of the event in LDAP
  learnhpc.cluster.ldap_accounts:
    base_dn: dc=spring-school,dc=learnhpc
    group:
      name: spring-school
      gid: 10000
    users:
      - name: student01
        uid: 10001
        password: "{{ student01_password }}"
        expire_date: "2030-04-18"
      - name: ada
        uid: 9001
        ssh_keys:
          - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWE5b6G1PvJhZuBkSYCtnnF1KoYWlDnHUDTv/ADpW9C ada@laptop
        expire_date: "2030-04-18"
  no_log: true

- name: Remove them after the course
  learnhpc.cluster.ldap_accounts:
    base_dn: dc=spring-school,dc=learnhpc
    group:
      name: spring-school
    users:
      - name: student01
      - name: ada
    state: absent
"""

RETURN = r"""
added:
  description: The accounts created (V(present)).
  returned: always
  type: list
  elements: str
  sample: [student01, student02]
updated:
  description: The accounts whose attributes were brought in line (V(present)).
  returned: always
  type: list
  elements: str
  sample: [ada]
removed:
  description: The accounts deleted (V(absent)).
  returned: always
  type: list
  elements: str
  sample: []
group_changed:
  description: Whether the group was created, removed or its members changed.
  returned: always
  type: bool
  sample: true
passwords_differ:
  description:
    - The existing accounts (V(present)) whose password in the directory is not the one given, and that were not
      in O(reset_passwords); their password was left as it is. A password stored in another scheme than
      C({CRYPT}$6$) counts as different.
  returned: always
  type: list
  elements: str
  sample: [student07]
passwords_reset:
  description: The existing accounts whose password was set from O(reset_passwords).
  returned: always
  type: list
  elements: str
  sample: []
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import USER_NAME_RE
from ansible_collections.learnhpc.cluster.plugins.module_utils.directory import (
    LDAP_ARGUMENT_SPEC,
    DirectoryError,
    connect,
    days_since_epoch,
    password_matches,
    sha512_crypt,
)

# A user or group name (docs/contracts.md): at most 32 characters, useradd's limit.
POSIX_NAME = USER_NAME_RE
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-\S+@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$"
)
USER_CLASSES = ["top", "inetOrgPerson", "posixAccount", "shadowAccount"]
USER_ATTRS = [
    "uid",
    "uidNumber",
    "gidNumber",
    "homeDirectory",
    "loginShell",
    "cn",
    "gecos",
    "sshPublicKey",
    "shadowExpire",
    "objectClass",
    # Read to compare with the password given, never returned.
    "userPassword",
]


def check_user(where, user, group):
    """The problems of one user's values (state=present), one line each."""
    problems = []
    name = user["name"]
    if user["uid"] is None:
        problems.append(f"{where} ({name}): uid is required")
    elif user["uid"] < 1:
        problems.append(f"{where} ({name}): uid must be a positive integer")
    if user["gid"] is None and (group is None or group.get("gid") is None):
        problems.append(f"{where} ({name}): gid is required when group.gid is not given")
    expire = user["expire_date"]
    if expire is not None and not DATE.fullmatch(expire):
        problems.append(f"{where} ({name}): expire_date must be YYYY-MM-DD, got {expire!r}")
    elif expire is not None:
        try:
            days_since_epoch(expire)
        except ValueError:
            problems.append(f"{where} ({name}): expire_date {expire} is not a date")
    problems.extend(
        f"{where} ({name}): ssh_keys[{index}] is not an OpenSSH public key line"
        for index, key in enumerate(user["ssh_keys"])
        if not KEY.fullmatch(key.strip())
    )
    if not str(user["home"] or "/").startswith("/"):
        problems.append(f"{where} ({name}): home must be an absolute path")
    return problems


def check_users(users, group, state, reset_passwords=()):
    """Every problem of the input, one line each."""
    problems = []
    with_password = {user["name"] for user in users if user.get("password") is not None}
    for name in reset_passwords:
        if name not in with_password:
            problems.append(f"reset_passwords: {name!r} is not an account of users with a password")
    seen_names, seen_uids = set(), {}
    for index, user in enumerate(users):
        where, name = f"users[{index}]", user["name"]
        if not POSIX_NAME.fullmatch(name):
            problems.append(f"{where}: name {name!r} is not a POSIX user name")
        if name in seen_names:
            problems.append(f"{where}: user {name} is listed twice")
        seen_names.add(name)
        if state == "absent":
            continue
        problems.extend(check_user(where, user, group))
        if user["uid"] in seen_uids:
            problems.append(f"{where} ({name}): uid {user['uid']} is also the uid of {seen_uids[user['uid']]}")
        elif user["uid"] is not None:
            seen_uids[user["uid"]] = name
    if group is not None:
        if not POSIX_NAME.fullmatch(group["name"]):
            problems.append(f"group: name {group['name']!r} is not a POSIX group name")
        if state == "present" and group.get("gid") is None:
            problems.append("group: gid is required with state=present")
    return problems


def wanted_attrs(user, group):
    """The managed attributes of a user's entry, as lists of str."""
    name = user["name"]
    full_name = user["full_name"] or name
    keys = sorted({key.strip() for key in user["ssh_keys"]})
    attrs = {
        "objectClass": USER_CLASSES + (["ldapPublicKey"] if keys else []),
        "uid": [name],
        "uidNumber": [str(user["uid"])],
        "gidNumber": [str(user["gid"] if user["gid"] is not None else group["gid"])],
        "homeDirectory": [user["home"] or f"/home/{name}"],
        "loginShell": [user["shell"]],
        "cn": [full_name],
        "gecos": [full_name],
        "sshPublicKey": keys,
        "shadowExpire": [str(days_since_epoch(user["expire_date"]))] if user["expire_date"] else [],
    }
    return attrs


def differences(current, wanted):
    """The attributes of ``wanted`` whose values differ from ``current`` (compared as sets)."""
    changed = {}
    for attr, values in wanted.items():
        if attr == "objectClass":
            have = {value.lower() for value in current.get(attr, [])}
            if {value.lower() for value in values} != have:
                # Keep object classes added by others; add ours, drop ldapPublicKey when no key is left.
                keep = [value for value in current.get(attr, []) if value.lower() != "ldappublickey"]
                merged = keep + [value for value in values if value.lower() not in {k.lower() for k in keep}]
                if {value.lower() for value in merged} != have:
                    changed[attr] = merged
        elif set(current.get(attr, [])) != set(values):
            changed[attr] = values
    return changed


class Accounts:
    def __init__(self, module, directory):
        self.module = module
        self.directory = directory
        params = module.params
        self.base_dn = params["base_dn"]
        self.users_base = params["users_base"] or f"ou=people,{self.base_dn}"
        self.groups_base = params["groups_base"] or f"ou=groups,{self.base_dn}"
        self.group = params["group"]
        self.users = params["users"]
        self.check_mode = module.check_mode
        self.reset = set(params["reset_passwords"])
        self.result = dict(
            changed=False,
            added=[],
            updated=[],
            removed=[],
            group_changed=False,
            passwords_differ=[],
            passwords_reset=[],
        )
        self.diff = dict(before={}, after={})

    def user_dn(self, name):
        return f"uid={name},{self.users_base}"

    def group_dn(self):
        return f"cn={self.group['name']},{self.groups_base}"

    def existing_users(self):
        entries = self.directory.search(self.users_base, "one", "(objectClass=posixAccount)", USER_ATTRS)
        return {entry["uid"][0]: (dn, entry) for dn, entry in entries.items() if entry.get("uid")}

    def ensure_unit(self, dn):
        if self.directory.exists(dn):
            return
        if not self.check_mode:
            unit = dn.split(",", 1)[0].split("=", 1)[1]
            self.directory.add(dn, {"objectClass": ["top", "organizationalUnit"], "ou": [unit]})

    def present(self):
        existing = self.existing_users()
        by_uid = {int(entry["uidNumber"][0]): name for name, (dn, entry) in existing.items() if entry.get("uidNumber")}
        problems = []
        for user in self.users:
            name = user["name"]
            if name in existing and existing[name][1].get("uidNumber") != [str(user["uid"])]:
                have = (existing[name][1].get("uidNumber") or ["none"])[0]
                problems.append(f"user {name} exists with uidNumber {have}, not {user['uid']}")
            owner = by_uid.get(user["uid"])
            if owner is not None and owner != name:
                problems.append(f"uid {user['uid']} of {name} already belongs to {owner}")
        if problems:
            self.module.fail_json(msg="; ".join(problems), **self.result)

        self.ensure_unit(self.users_base)
        for user in self.users:
            name = user["name"]
            attrs = wanted_attrs(user, self.group)
            if name not in existing:
                self.result["added"].append(name)
                self.diff["after"][name] = sorted(key for key, values in attrs.items() if values)
                if not self.check_mode:
                    if user["password"] is not None:
                        attrs["userPassword"] = [sha512_crypt(user["password"])]
                    attrs["sn"] = [name]
                    self.directory.add(self.user_dn(name), attrs)
                continue
            dn, current = existing[name]
            changed = differences(current, attrs)
            if changed:
                self.result["updated"].append(name)
                self.diff["before"][name] = {key: current.get(key, []) for key in changed}
                self.diff["after"][name] = dict(changed)
            changed.update(self.password_change(user, current))
            if changed and not self.check_mode:
                self.directory.replace(dn, changed)
        if self.group is not None:
            self.group_present([user["name"] for user in self.users])

    def password_change(self, user, current):
        """{"userPassword": [hash]} when an existing account's password is to be set from O(reset_passwords), else {}.

        A password that is not the directory's and not to be reset is reported in passwords_differ.
        """
        name, password = user["name"], user["password"]
        if password is None or any(password_matches(value, password) for value in current.get("userPassword", [])):
            return {}
        if name not in self.reset:
            self.result["passwords_differ"].append(name)
            return {}
        self.result["passwords_reset"].append(name)
        self.diff["after"].setdefault(name, {})["userPassword"] = ["(set)"]
        return {"userPassword": [sha512_crypt(password)]}

    def group_present(self, members):
        self.ensure_unit(self.groups_base)
        dn = self.group_dn()
        found = self.directory.search(dn, "base", "(objectClass=posixGroup)", ["gidNumber", "memberUid"])
        if not found:
            self.result["group_changed"] = True
            self.diff["after"]["group " + self.group["name"]] = sorted(members)
            if not self.check_mode:
                attrs = {
                    "objectClass": ["top", "posixGroup"],
                    "cn": [self.group["name"]],
                    "gidNumber": [str(self.group["gid"])],
                    "memberUid": sorted(members),
                }
                if self.group.get("description"):
                    attrs["description"] = [self.group["description"]]
                self.directory.add(dn, attrs)
            return
        current = found[dn]
        if current.get("gidNumber") != [str(self.group["gid"])]:
            have = (current.get("gidNumber") or ["none"])[0]
            self.module.fail_json(
                msg=f"group {self.group['name']} exists with gidNumber {have}, not {self.group['gid']}", **self.result
            )
        missing = sorted(set(members) - set(current.get("memberUid", [])))
        if missing:
            self.result["group_changed"] = True
            self.diff["before"]["group " + self.group["name"]] = sorted(current.get("memberUid", []))
            self.diff["after"]["group " + self.group["name"]] = sorted(set(current.get("memberUid", [])) | set(missing))
            if not self.check_mode:
                self.directory.add_values(dn, "memberUid", missing)

    def absent(self):
        existing = self.existing_users()
        for user in self.users:
            name = user["name"]
            if name in existing:
                self.result["removed"].append(name)
                self.diff["before"][name] = "present"
                if not self.check_mode:
                    self.directory.delete(existing[name][0])
        if self.group is None:
            return
        dn = self.group_dn()
        found = self.directory.search(dn, "base", "(objectClass=posixGroup)", ["memberUid"])
        if not found:
            return
        members = set(found[dn].get("memberUid", []))
        leaving = sorted(members & {user["name"] for user in self.users})
        self.result["group_changed"] = bool(leaving) or not members - set(leaving)
        if members - set(leaving):
            if leaving and not self.check_mode:
                self.directory.delete_values(dn, "memberUid", leaving)
        elif not self.check_mode:
            self.directory.delete(dn)

    def run(self):
        if self.module.params["state"] == "present":
            self.present()
        else:
            self.absent()
        result = self.result
        result["changed"] = bool(
            result["added"]
            or result["updated"]
            or result["removed"]
            or result["group_changed"]
            or result["passwords_reset"]
        )
        if self.module._diff:
            result["diff"] = self.diff
        return result


def build_module():
    user_spec = dict(
        name=dict(type="str", required=True),
        uid=dict(type="int"),
        gid=dict(type="int"),
        full_name=dict(type="str"),
        home=dict(type="str"),
        shell=dict(type="str", default="/bin/bash"),
        password=dict(type="str", no_log=True),
        ssh_keys=dict(type="list", elements="str", default=[], no_log=False),
        expire_date=dict(type="str"),
    )
    argument_spec = dict(
        LDAP_ARGUMENT_SPEC,
        base_dn=dict(type="str", required=True),
        users_base=dict(type="str"),
        groups_base=dict(type="str"),
        group=dict(
            type="dict",
            options=dict(
                name=dict(type="str", required=True),
                gid=dict(type="int"),
                description=dict(type="str"),
            ),
        ),
        users=dict(type="list", elements="dict", default=[], options=user_spec),
        reset_passwords=dict(type="list", elements="str", default=[], no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    return AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)


def main():
    module = build_module()
    params = module.params
    problems = check_users(params["users"], params["group"], params["state"], params["reset_passwords"])
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        directory = connect(module.params)
        try:
            result = Accounts(module, directory).run()
        finally:
            directory.close()
    except DirectoryError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
