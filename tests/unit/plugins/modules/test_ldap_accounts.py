# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.ldap_accounts, against an in-memory directory."""

from __future__ import annotations

import json
import re

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.module_utils.directory import DirectoryError, password_matches
from ansible_collections.learnhpc.cluster.plugins.modules import ldap_accounts

BASE = "dc=t,dc=learnhpc"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWE5b6G1PvJhZuBkSYCtnnF1KoYWlDnHUDTv/ADpW9C ada@laptop"


class FakeDirectory:
    """A directory in a dict: {dn: {attribute: [values]}}; counts the writing operations."""

    def __init__(self, entries=None):
        self.entries = {dn: {k: list(v) for k, v in attrs.items()} for dn, attrs in (entries or {}).items()}
        self.writes = 0

    def search(self, base, scope="one", filterstr="(objectClass=*)", attrs=None):
        wanted = re.match(r"^\(objectClass=(.+)\)$", filterstr).group(1).lower()
        found = {}
        for dn, entry in self.entries.items():
            below = dn.endswith("," + base) and "," not in dn[: -len(base) - 1]
            inside = dn == base if scope == "base" else below
            classes = {value.lower() for value in entry.get("objectClass", [])}
            if inside and (wanted == "*" or wanted in classes):
                found[dn] = {k: list(v) for k, v in entry.items() if attrs is None or k in attrs}
        return found

    def exists(self, dn):
        return dn in self.entries

    def add(self, dn, attrs):
        assert dn not in self.entries, f"{dn} exists"
        parent = dn.split(",", 1)[1]
        if parent != BASE and parent not in self.entries:
            raise DirectoryError(f"add {dn}: No such object")
        self.entries[dn] = {k: list(v) for k, v in attrs.items() if v}
        self.writes += 1

    def replace(self, dn, attrs):
        for key, values in attrs.items():
            if values:
                self.entries[dn][key] = list(values)
            else:
                self.entries[dn].pop(key, None)
        self.writes += 1

    def add_values(self, dn, attr, values):
        self.entries[dn].setdefault(attr, []).extend(values)
        self.writes += 1

    def delete_values(self, dn, attr, values):
        self.entries[dn][attr] = [value for value in self.entries[dn].get(attr, []) if value not in values]
        self.writes += 1

    def delete(self, dn):
        del self.entries[dn]
        self.writes += 1

    def close(self):
        pass


@pytest.fixture
def directory(monkeypatch):
    fake = FakeDirectory()
    monkeypatch.setattr(ldap_accounts, "connect", lambda params: fake)
    return fake


def run(capsys, **args):
    args.setdefault("base_dn", BASE)
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        ldap_accounts.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def guests(count, start=1, **extra):
    return [
        dict({"name": f"guest{n:02d}", "uid": 10000 + n, "password": f"pw-{n}", "expire_date": "2030-04-18"}, **extra)
        for n in range(start, count + 1)
    ]


GROUP = {"name": "t", "gid": 10000}


def test_creates_units_users_and_group(capsys, directory):
    failed, result = run(capsys, group=GROUP, users=[*guests(3), {"name": "ada", "uid": 9001, "ssh_keys": [KEY]}])
    assert not failed and result["changed"]
    assert result["added"] == ["guest01", "guest02", "guest03", "ada"]
    guest = directory.entries[f"uid=guest02,ou=people,{BASE}"]
    assert guest["uidNumber"] == ["10002"] and guest["gidNumber"] == ["10000"]
    assert guest["homeDirectory"] == ["/home/guest02"] and guest["loginShell"] == ["/bin/bash"]
    # 2030-04-18 is day 22022 since 1970-01-01
    assert guest["shadowExpire"] == ["22022"]
    assert password_matches(guest["userPassword"][0], "pw-2")
    assert "ldapPublicKey" not in guest["objectClass"]
    ada = directory.entries[f"uid=ada,ou=people,{BASE}"]
    assert ada["sshPublicKey"] == [KEY] and "ldapPublicKey" in ada["objectClass"]
    assert "userPassword" not in ada and "shadowExpire" not in ada
    group = directory.entries[f"cn=t,ou=groups,{BASE}"]
    assert group["gidNumber"] == ["10000"]
    assert sorted(group["memberUid"]) == ["ada", "guest01", "guest02", "guest03"]
    assert "pw-1" not in json.dumps(result)


def test_rerun_changes_nothing_and_keeps_passwords(capsys, directory):
    run(capsys, group=GROUP, users=guests(3))
    writes = directory.writes
    hashes = {dn: e.get("userPassword") for dn, e in directory.entries.items()}
    failed, result = run(capsys, group=GROUP, users=guests(3))
    assert not failed and not result["changed"]
    assert result["added"] == [] and result["updated"] == []
    assert result["passwords_differ"] == [] and result["passwords_reset"] == []
    assert directory.writes == writes
    assert {dn: e.get("userPassword") for dn, e in directory.entries.items()} == hashes


def test_a_password_that_is_not_the_directorys_is_reported_and_kept(capsys, directory):
    """An attendee changed it, or the control machine lost the file that held it: the sheet must not show it."""
    run(capsys, group=GROUP, users=guests(3))
    writes = directory.writes
    hashes = {dn: e.get("userPassword") for dn, e in directory.entries.items()}
    users = guests(3)
    users[1]["password"] = "a new one"
    failed, result = run(capsys, group=GROUP, users=users)
    assert not failed and not result["changed"]
    assert result["passwords_differ"] == ["guest02"]
    assert directory.writes == writes
    assert {dn: e.get("userPassword") for dn, e in directory.entries.items()} == hashes
    assert "a new one" not in json.dumps(result)


def test_reset_passwords_sets_the_given_one_once(capsys, directory):
    run(capsys, group=GROUP, users=guests(3))
    users = guests(3)
    users[1]["password"] = "a new one"
    users[1]["shell"] = "/bin/zsh"  # an attribute too: its diff and the password's are one entry
    failed, result = run(capsys, group=GROUP, users=users, reset_passwords=["guest02", "guest03"], _ansible_diff=True)
    assert not failed and result["changed"]
    assert result["passwords_reset"] == ["guest02"] and result["passwords_differ"] == []
    assert result["updated"] == ["guest02"]
    assert result["diff"]["after"]["guest02"] == {"loginShell": ["/bin/zsh"], "userPassword": ["(set)"]}
    assert password_matches(directory.entries[f"uid=guest02,ou=people,{BASE}"]["userPassword"][0], "a new one")
    assert password_matches(directory.entries[f"uid=guest03,ou=people,{BASE}"]["userPassword"][0], "pw-3")
    assert "a new one" not in json.dumps(result) and "$6$" not in json.dumps(result)
    failed, result = run(capsys, group=GROUP, users=users, reset_passwords=["guest02"])
    assert not failed and not result["changed"] and result["passwords_reset"] == []


def test_reset_passwords_in_check_mode_writes_nothing(capsys, directory):
    run(capsys, group=GROUP, users=guests(2))
    writes = directory.writes
    users = guests(2)
    users[0]["password"] = "a new one"
    failed, result = run(capsys, group=GROUP, users=users, reset_passwords=["guest01"], _ansible_check_mode=True)
    assert not failed and result["changed"] and result["passwords_reset"] == ["guest01"]
    assert directory.writes == writes
    assert password_matches(directory.entries[f"uid=guest01,ou=people,{BASE}"]["userPassword"][0], "pw-1")


def test_reset_passwords_names_only_accounts_with_a_password(capsys, directory):
    users = [*guests(1), {"name": "ada", "uid": 9001, "ssh_keys": [KEY]}]
    failed, result = run(capsys, group=GROUP, users=users, reset_passwords=["ada", "nobody"])
    assert failed
    assert result["msg"] == (
        "reset_passwords: 'ada' is not an account of users with a password; "
        "reset_passwords: 'nobody' is not an account of users with a password"
    )
    assert directory.writes == 0


def test_growing_adds_only_the_new_ones(capsys, directory):
    run(capsys, group=GROUP, users=guests(2))
    writes = directory.writes
    failed, result = run(capsys, group=GROUP, users=guests(5))
    assert not failed
    assert result["added"] == ["guest03", "guest04", "guest05"] and result["updated"] == []
    # three users and one change of the group's members
    assert directory.writes - writes == 4
    assert sorted(directory.entries[f"cn=t,ou=groups,{BASE}"]["memberUid"]) == [f"guest0{n}" for n in range(1, 6)]


def test_attributes_are_brought_in_line(capsys, directory):
    run(capsys, group=GROUP, users=[{"name": "ada", "uid": 9001, "ssh_keys": [KEY]}])
    failed, result = run(
        capsys, group=GROUP, users=[{"name": "ada", "uid": 9001, "shell": "/bin/zsh", "expire_date": "1970-01-11"}]
    )
    assert not failed and result["updated"] == ["ada"]
    ada = directory.entries[f"uid=ada,ou=people,{BASE}"]
    assert ada["loginShell"] == ["/bin/zsh"] and ada["shadowExpire"] == ["10"]
    assert "sshPublicKey" not in ada and "ldapPublicKey" not in ada["objectClass"]


def test_check_mode_reports_and_writes_nothing(capsys, directory):
    failed, result = run(capsys, group=GROUP, users=guests(2), _ansible_check_mode=True, _ansible_diff=True)
    assert not failed and result["changed"] and result["added"] == ["guest01", "guest02"]
    assert directory.writes == 0 and directory.entries == {}
    assert set(result["diff"]["after"]) == {"guest01", "guest02", "group t"}


def test_uid_of_an_existing_user_is_never_changed(capsys, directory):
    run(capsys, group=GROUP, users=guests(1))
    writes = directory.writes
    failed, result = run(capsys, group=GROUP, users=[{"name": "guest01", "uid": 12345}])
    assert failed and result["msg"] == "user guest01 exists with uidNumber 10001, not 12345"
    assert directory.writes == writes


def test_uid_taken_by_another_user(capsys, directory):
    run(capsys, group=GROUP, users=guests(1))
    failed, result = run(capsys, group=GROUP, users=[{"name": "bob", "uid": 10001}])
    assert failed and result["msg"] == "uid 10001 of bob already belongs to guest01"


@pytest.mark.parametrize(
    "users, message",
    [
        ([{"name": "Bad Name", "uid": 1}], "users[0]: name 'Bad Name' is not a POSIX user name"),
        ([{"name": "alice\n", "uid": 1}], "users[0]: name 'alice\\n' is not a POSIX user name"),
        ([{"name": "a", "uid": 1}, {"name": "a", "uid": 2}], "users[1]: user a is listed twice"),
        ([{"name": "a", "uid": 1}, {"name": "b", "uid": 1}], "users[1] (b): uid 1 is also the uid of a"),
        ([{"name": "a"}], "users[0] (a): uid is required"),
        ([{"name": "a", "uid": 1, "expire_date": "18.04.2030"}], "expire_date must be YYYY-MM-DD, got '18.04.2030'"),
        ([{"name": "a", "uid": 1, "expire_date": "2030-02-30"}], "expire_date 2030-02-30 is not a date"),
        ([{"name": "a", "uid": 1, "ssh_keys": ["AAAA"]}], "ssh_keys[0] is not an OpenSSH public key line"),
    ],
)
def test_bad_input_fails_before_anything_changes(capsys, directory, users, message):
    failed, result = run(capsys, group=GROUP, users=users)
    assert failed and message in result["msg"]
    assert directory.writes == 0


def test_absent_removes_users_then_the_empty_group(capsys, directory):
    run(capsys, group=GROUP, users=guests(3))
    failed, result = run(capsys, group={"name": "t"}, users=[{"name": "guest01"}], state="absent")
    assert not failed and result["removed"] == ["guest01"] and result["group_changed"]
    assert sorted(directory.entries[f"cn=t,ou=groups,{BASE}"]["memberUid"]) == ["guest02", "guest03"]
    failed, result = run(capsys, group={"name": "t"}, users=[{"name": "guest02"}, {"name": "guest03"}], state="absent")
    assert not failed and result["removed"] == ["guest02", "guest03"]
    assert f"cn=t,ou=groups,{BASE}" not in directory.entries
    failed, result = run(capsys, group={"name": "t"}, users=[{"name": "guest02"}], state="absent")
    assert not failed and not result["changed"]


def test_directory_errors_are_one_line(capsys, monkeypatch):
    def refuse(params):
        raise DirectoryError("cannot bind to ldapi:///: Can't contact LDAP server")

    monkeypatch.setattr(ldap_accounts, "connect", refuse)
    failed, result = run(capsys, group=GROUP, users=guests(1))
    assert failed and result["msg"] == "cannot bind to ldapi:///: Can't contact LDAP server"
