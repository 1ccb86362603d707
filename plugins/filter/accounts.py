# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The list of accounts of an event, as the accounts role hands it to its modules."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.slurm import numbered_names


def _int(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnsibleFilterError(f"event_accounts: {what} must be an integer, got {value!r}")
    return value


def event_accounts(guests, prefix, uid_start, gid, *, instructors=None, instructor_uid_start=9001):
    """Guests <prefix>01.. from uid_start, then instructors from instructor_uid_start (or their own uid).

    Each account is {name, uid, gid, kind (guest or instructor), ssh_keys (list)}.
    """
    uid_start, gid = _int(uid_start, "uid_start"), _int(gid, "gid")
    instructor_uid_start = _int(instructor_uid_start, "instructor_uid_start")
    accounts = [
        {"name": name, "uid": uid_start + index, "gid": gid, "kind": "guest", "ssh_keys": []}
        for index, name in enumerate(numbered_names(guests, prefix))
    ]
    for index, instructor in enumerate(instructors or []):
        if not isinstance(instructor, dict) or "name" not in instructor:
            raise AnsibleFilterError(f"event_accounts: instructors[{index}] must be a mapping with a name")
        key = instructor.get("ssh_key")
        accounts.append(
            {
                "name": instructor["name"],
                "uid": _int(instructor.get("uid", instructor_uid_start + index), f"the uid of {instructor['name']}"),
                "gid": gid,
                "kind": "instructor",
                "ssh_keys": [key] if key else [],
            }
        )
    return accounts


def ldap_account(account, passwords, expire_date="", shell="/bin/bash", home_base="/home"):
    """An account of event_accounts as a user of the ldap_accounts module (password from passwords, if any)."""
    return {
        "name": account["name"],
        "uid": account["uid"],
        "gid": account["gid"],
        "password": passwords.get(account["name"]),
        "ssh_keys": list(account.get("ssh_keys", [])),
        "expire_date": expire_date or None,
        "shell": shell,
        "home": f"{home_base.rstrip('/')}/{account['name']}",
    }


class FilterModule:
    """Account filters."""

    def filters(self):
        return {"event_accounts": event_accounts, "ldap_account": ldap_account}
