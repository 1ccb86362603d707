#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slurm_associations
short_description: Manage one Slurm account and its users' associations in bulk
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Creates or removes a Slurm account in the accounting database (slurmdbd) and the associations of a list of
    users with it, with C(sacctmgr).
  - Changes are made in bulk, a few C(sacctmgr) calls whatever the number of users; one call to add all missing
    users that get the same limits on the same cluster, one call to change the limits of all users that need the
    same new limits, one call to remove associations.
  - Only associations with the account O(account) are read or changed; the users' associations with other
    accounts are left alone.
  - Runs on a host where C(sacctmgr) works, e.g. the Slurm controller, as a user Slurm lets administer
    accounts (root, or the SlurmUser).
options:
  account:
    description:
      - The Slurm account, e.g. the name of the training event.
      - Lower-case letters, digits, C(_), C(-) and C(.), starting with a letter, digit or C(_), at most 64 characters.
    type: str
    required: true
  cluster:
    description:
      - The cluster (ClusterName) whose associations are managed.
      - When not given, every cluster on which the account has an association; when the account is created, every
        cluster known to slurmdbd (what C(sacctmgr add account) does).
    type: str
  description:
    description:
      - The account's description. Slurm stores it in lower case.
      - When not given, a new account gets Slurm's default and an existing one keeps its own.
      - No quotes, commas or line breaks.
    type: str
  organization:
    description:
      - The account's organization. Slurm stores it in lower case.
      - When not given, a new account gets Slurm's default and an existing one keeps its own.
      - No quotes, commas or line breaks.
    type: str
  parent:
    description:
      - The parent account of O(account). An existing account is moved under it when it has another parent.
    type: str
    default: root
  users:
    description:
      - User names whose association with O(account) is managed.
      - With O(state=present), each listed user gets an association with O(account); users of the account who are
        not listed are left alone.
      - With O(state=absent), the listed users' associations with O(account) are removed (and the users themselves,
        when they have no association left); the account stays. Without O(users), the account is removed with all
        its associations.
    type: list
    elements: str
    default: []
  grp_tres_mins:
    description:
      - The limit set on each listed user's association, C(GrpTRESMins), as a mapping from a TRES name to minutes,
        e.g. V(600) for C(cpu) gives 10 core hours. Values are whole numbers >= 0, in the unit Slurm counts the TRES
        (minutes for C(cpu) and C(node), MB-minutes for C(mem)).
      - A TRES the association has a limit for but that is not listed here loses its limit.
      - Null or C({}) for no limit.
      - Slurm enforces it only with C(AccountingStorageEnforce=limits) and C(PriorityType=priority/multifactor);
        with C(safe) a job that could run past the budget is not started.
    type: dict
  state:
    description:
      - Whether the account and the associations should exist.
    type: str
    choices: [present, absent]
    default: present
  sacctmgr_path:
    description:
      - The C(sacctmgr) command; looked up on the PATH when not given.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - C(sacctmgr) (Debian package C(slurm-client)) able to reach slurmdbd.
notes:
  - The users should exist on the Slurm controller (locally or through LDAP) before their associations are added.
    slurmctld looks up a user's UID when it receives the association; an association added for a user it cannot
    resolve yet stays unusable until slurmctld is restarted.
  - slurmdbd refuses to remove an association that still has pending or running jobs; the task then fails with
    its message (cancel the jobs first, e.g. C(scancel --account=NAME)).
  - Associations limited to one partition are not managed; removing a user's association removes those too.
"""

EXAMPLES = r"""
- name: One account for the event, one association per attendee, 10 core hours each
  learnhpc.cluster.slurm_associations:
    account: workshop
    cluster: workshop
    description: Spring workshop
    users: "{{ attendees }}"
    grp_tres_mins:
      cpu: 600

- name: Instructors in the same account, without a limit
  learnhpc.cluster.slurm_associations:
    account: workshop
    users: [trainer1, trainer2]

- name: Remove two attendees from the account
  learnhpc.cluster.slurm_associations:
    account: workshop
    users: [guest07, guest08]
    state: absent

- name: Remove the account with all its associations
  learnhpc.cluster.slurm_associations:
    account: workshop
    state: absent
"""

RETURN = r"""
added:
  description: Users who got an association with the account (or would have, in check mode).
  returned: always
  type: list
  elements: str
  sample: [guest01, guest02]
updated:
  description: Users whose association got a different limit (or would have, in check mode).
  returned: always
  type: list
  elements: str
  sample: [guest03]
removed:
  description: Users whose association with the account was removed (or would have been, in check mode).
  returned: always
  type: list
  elements: str
  sample: [guest07]
account_changed:
  description: Whether the account itself was created, changed (description, organization, parent) or removed.
  returned: always
  type: bool
  sample: true
commands:
  description:
    - The C(sacctmgr) commands that changed something (in check mode, that would have been run), one string each.
  returned: always
  type: list
  elements: str
  sample: ["sacctmgr -i add user name=guest01,guest02 account=workshop cluster=workshop GrpTRESMins=cpu=600"]
"""

import re  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ARGUMENT_SPEC = {
    "account": {"type": "str", "required": True},
    "cluster": {"type": "str"},
    "description": {"type": "str"},
    "organization": {"type": "str"},
    "parent": {"type": "str", "default": "root"},
    "users": {"type": "list", "elements": "str", "default": []},
    "grp_tres_mins": {"type": "dict"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "sacctmgr_path": {"type": "path"},
}

ACCOUNT_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
CLUSTER_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,39}$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
TRES_RE = re.compile(r"^[a-z]+(/[a-z0-9_:.-]+)?$")
TEXT_BAD_RE = re.compile(r"[\"',\x00-\x1f]")
# Units sacctmgr prints after memory-like TRES values, as powers of 1024 relative to MB.
UNITS = {"K": -1, "M": 0, "G": 1, "T": 2, "P": 3}


def check_params(params):
    """Every problem of the parameters, one line each."""
    problems = []
    account = params["account"]
    if not ACCOUNT_RE.fullmatch(account):
        problems.append(
            f"account: {account!r} is not a Slurm account name (lower-case letters, digits, _ - ., at most 64)"
        )
    if params["cluster"] is not None and not CLUSTER_RE.fullmatch(params["cluster"]):
        problems.append(f"cluster: {params['cluster']!r} is not a Slurm cluster name")
    if not ACCOUNT_RE.fullmatch(params["parent"]):
        problems.append(f"parent: {params['parent']!r} is not a Slurm account name")
    elif params["parent"] == account:
        problems.append("parent: an account cannot be its own parent")
    for key in ("description", "organization"):
        value = params[key]
        if value is not None and (not value.strip() or TEXT_BAD_RE.search(value)):
            problems.append(f"{key}: must be non-empty text without quotes, commas or line breaks, got {value!r}")
    bad_users = [user for user in params["users"] if not USER_RE.fullmatch(user)]
    if bad_users:
        problems.append("users: not user names: " + ", ".join(repr(user) for user in bad_users))
    duplicates = sorted({user for user in params["users"] if params["users"].count(user) > 1})
    if duplicates:
        problems.append("users: listed more than once: " + ", ".join(duplicates))
    for tres, minutes in (params["grp_tres_mins"] or {}).items():
        if not TRES_RE.fullmatch(str(tres)):
            problems.append(f"grp_tres_mins: {tres!r} is not a TRES name (e.g. cpu, mem, node, gres/gpu)")
        elif isinstance(minutes, bool) or not isinstance(minutes, (int, str)) or not re.fullmatch(r"\d+", str(minutes)):
            problems.append(f"grp_tres_mins.{tres}: must be a whole number >= 0, got {minutes!r}")
    return problems


def parse_tres(text):
    """``{'cpu': 600}`` from sacctmgr's ``cpu=600,mem=100M``."""
    limits = {}
    for item in filter(None, text.split(",")):
        name, value = item.split("=", 1)
        match = re.fullmatch(r"(\d+)([KMGTP]?)", value)
        if not match:
            limits[name] = value
            continue
        number, unit = int(match.group(1)), match.group(2)
        if unit:
            number = number * 1024 ** UNITS[unit] if UNITS[unit] >= 0 else number // 1024
        limits[name] = number
    return limits


def tres_string(limits):
    """sacctmgr's ``cpu=600,mem=100`` from ``{'cpu': 600, 'mem': 100}``; ``-1`` removes a limit."""
    return ",".join(f"{name}={value}" for name, value in sorted(limits.items()))


class Sacctmgr:
    """Runs sacctmgr: reads always, changes only outside check mode; remembers the changing commands."""

    def __init__(self, module, path):
        self.module = module
        self.path = path
        self.commands = []

    def read(self, args):
        rc, out, err = self.module.run_command([self.path, "--noheader", "--parsable2", *args])
        if rc != 0:
            self.fail(args, err or out)
        return [line.split("|") for line in out.splitlines() if line.strip()]

    def change(self, args):
        self.commands.append(" ".join(["sacctmgr", "-i", *args]))
        if self.module.check_mode:
            return
        rc, out, err = self.module.run_command([self.path, "-i", *args])
        if rc != 0:
            self.fail(args, (err + "\n" + out).strip())

    def fail(self, args, output):
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        self.module.fail_json(
            msg=f"sacctmgr {' '.join(args[:2])} failed: {' '.join(lines) or 'no output'}",
            command=" ".join(["sacctmgr", *args]),
            commands=self.commands,
        )


def read_state(sacctmgr, params):
    """The account's record and its associations (not those limited to a partition)."""
    account = params["account"]
    record = None
    for row in sacctmgr.read(["show", "account", "where", f"name={account}", "format=Account,Descr,Org"]):
        if row[0] == account:
            record = {"description": row[1], "organization": row[2]}
    where = [f"account={account}"] + ([f"cluster={params['cluster']}"] if params["cluster"] else [])
    clusters = {}
    users = {}
    fields = "format=Cluster,Account,User,Partition,ParentName,GrpTRESMins"
    rows = sacctmgr.read(["show", "assoc", "where", *where, fields])
    for cluster, row_account, user, partition, parent, grp_tres_mins in rows:
        if row_account != account or partition:
            continue
        if user:
            users.setdefault(user, {})[cluster] = parse_tres(grp_tres_mins)
        else:
            clusters[cluster] = parent
    return record, clusters, users


def all_clusters(sacctmgr):
    return sorted(row[0] for row in sacctmgr.read(["show", "cluster", "format=Cluster"]))


def grouped(pairs):
    """``{key: [names]}`` from ``[(name, key), ...]``, names in the order given."""
    groups = {}
    for name, key in pairs:
        groups.setdefault(key, []).append(name)
    return groups


def ensure_present(sacctmgr, params, record, clusters, users):
    account = params["account"]
    result = {"added": [], "updated": [], "removed": [], "account_changed": False}
    wanted = {name: int(value) for name, value in (params["grp_tres_mins"] or {}).items()}

    target_clusters = sorted(clusters) or ([params["cluster"]] if params["cluster"] else all_clusters(sacctmgr))
    if not target_clusters:
        sacctmgr.module.fail_json(msg="no cluster is registered in slurmdbd (sacctmgr add cluster NAME)")
    settings = [f"{key}={params[key]}" for key in ("description", "organization") if params[key] is not None]
    missing_clusters = [cluster for cluster in target_clusters if cluster not in clusters]
    if missing_clusters:
        sacctmgr.change(
            [
                "add",
                "account",
                account,
                *settings,
                f"parent={params['parent']}",
                f"cluster={','.join(missing_clusters)}",
            ]
        )
        result["account_changed"] = True
    if record is not None:
        changed = [
            f"{key}={params[key]}"
            for key in ("description", "organization")
            if params[key] is not None and record[key] != params[key].lower()
        ]
        if changed:
            sacctmgr.change(["modify", "account", "where", f"name={account}", "set", *changed])
            result["account_changed"] = True
    moved = [cluster for cluster, parent in sorted(clusters.items()) if parent != params["parent"]]
    if moved:
        sacctmgr.change(
            [
                "modify",
                "account",
                "where",
                f"name={account}",
                f"cluster={','.join(moved)}",
                "set",
                f"parent={params['parent']}",
            ]
        )
        result["account_changed"] = True

    to_add = []
    to_update = []
    for user in params["users"]:
        for cluster in target_clusters:
            current = users.get(user, {}).get(cluster)
            if current is None:
                to_add.append((user, cluster))
            elif current != wanted:
                # Limits that should go are set to -1, the others to their new value.
                change = {**dict.fromkeys(current, -1), **wanted}
                to_update.append((user, (cluster, tres_string(change))))
    limit = [f"GrpTRESMins={tres_string(wanted)}"] if wanted else []
    for cluster, names in sorted(grouped(to_add).items()):
        sacctmgr.change(["add", "user", f"name={','.join(names)}", f"account={account}", f"cluster={cluster}", *limit])
    for (cluster, change), names in sorted(grouped(to_update).items()):
        sacctmgr.change(
            [
                "modify",
                "user",
                "where",
                f"name={','.join(names)}",
                f"account={account}",
                f"cluster={cluster}",
                "set",
                f"GrpTRESMins={change}",
            ]
        )
    result["added"] = sorted({user for user, _cluster in to_add})
    result["updated"] = sorted({user for user, _key in to_update})
    return result


def ensure_absent(sacctmgr, params, record, clusters, users):
    account = params["account"]
    result = {"added": [], "updated": [], "removed": [], "account_changed": False}
    names = [user for user in params["users"] if user in users] if params["users"] else sorted(users)
    cluster = [f"cluster={params['cluster']}"] if params["cluster"] else []
    if names:
        # sacctmgr also removes the users that are left with no association.
        sacctmgr.change(["delete", "user", "where", f"name={','.join(names)}", f"account={account}", *cluster])
        result["removed"] = sorted(names)
    if not params["users"] and (clusters or (record is not None and not params["cluster"])):
        sacctmgr.change(["delete", "account", "where", f"name={account}", *cluster])
        result["account_changed"] = True
    return result


def snapshot(record, clusters, users, names):
    """What the diff shows: the account and the limits of the users concerned."""
    if record is None and not clusters:
        return {"account": None, "users": {}}
    return {
        "account": {"clusters": sorted(clusters), **(record or {})},
        "users": {
            user: {cluster: tres_string(limits) for cluster, limits in sorted(users[user].items())}
            for user in sorted(names)
            if user in users
        },
    }


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    problems = check_params(params)
    if problems:
        module.fail_json(msg="; ".join(problems), errors=problems)

    sacctmgr = Sacctmgr(module, params["sacctmgr_path"] or module.get_bin_path("sacctmgr", required=True))
    record, clusters, users = read_state(sacctmgr, params)
    names = params["users"] if params["users"] or params["state"] == "present" else list(users)
    before = snapshot(record, clusters, users, names)
    if params["state"] == "present":
        result = ensure_present(sacctmgr, params, record, clusters, users)
    else:
        result = ensure_absent(sacctmgr, params, record, clusters, users)

    changed = bool(sacctmgr.commands)
    after = before
    if changed:
        if module.check_mode:
            after = predicted(params, before, result)
        else:
            record, clusters, users = read_state(sacctmgr, params)
            after = snapshot(record, clusters, users, names)
    module.exit_json(changed=changed, commands=sacctmgr.commands, diff={"before": before, "after": after}, **result)


def predicted(params, before, result):
    """The state check mode expects after the changes it did not make."""
    if params["state"] == "absent":
        if not params["users"]:
            return {"account": None, "users": {}}
        return {
            "account": before["account"],
            "users": {user: v for user, v in before["users"].items() if user not in result["removed"]},
        }
    account = before["account"] or {"clusters": [params["cluster"]] if params["cluster"] else []}
    account = {**account, **{key: params[key].lower() for key in ("description", "organization") if params[key]}}
    limits = tres_string({name: int(value) for name, value in (params["grp_tres_mins"] or {}).items()})
    users = dict(before["users"])
    for user in params["users"]:
        users[user] = {cluster: limits for cluster in account["clusters"]} if account["clusters"] else limits
    return {"account": account, "users": dict(sorted(users.items()))}


if __name__ == "__main__":
    main()
