# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the account filters."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.accounts import event_accounts, ldap_account

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWE5b6G1PvJhZuBkSYCtnnF1KoYWlDnHUDTv/ADpW9C ada@laptop"


def test_guests_then_instructors_with_their_ids():
    accounts = event_accounts(3, "guest", 10001, 10000, instructors=[{"name": "ada", "ssh_key": KEY}])
    assert [(a["name"], a["uid"], a["gid"], a["kind"]) for a in accounts] == [
        ("guest01", 10001, 10000, "guest"),
        ("guest02", 10002, 10000, "guest"),
        ("guest03", 10003, 10000, "guest"),
        ("ada", 9001, 10000, "instructor"),
    ]
    assert accounts[3]["ssh_keys"] == [KEY]
    assert accounts[0]["ssh_keys"] == []


def test_three_digits_beyond_99_guests():
    accounts = event_accounts(200, "s", 20001, 20000)
    assert accounts[0]["name"] == "s001"
    assert accounts[-1] == {"name": "s200", "uid": 20200, "gid": 20000, "kind": "guest", "ssh_keys": []}


def test_instructor_uid_given_or_by_position():
    instructors = [{"name": "a", "ssh_key": KEY}, {"name": "b", "ssh_key": KEY, "uid": 7777}, {"name": "c"}]
    accounts = event_accounts(0, "guest", 10001, 10000, instructors=instructors, instructor_uid_start=500)
    assert [(a["name"], a["uid"]) for a in accounts] == [("a", 500), ("b", 7777), ("c", 502)]
    assert accounts[2]["ssh_keys"] == []


@pytest.mark.parametrize(
    "args, message",
    [
        ((3, "guest", "10001", 10000), "uid_start must be an integer"),
        ((3, "guest", 10001, True), "gid must be an integer"),
        ((-1, "guest", 10001, 10000), "count must be an integer >= 0"),
    ],
)
def test_bad_numbers(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        event_accounts(*args)


def test_instructor_without_name():
    with pytest.raises(AnsibleFilterError, match=r"instructors\[0\] must be a mapping with a name"):
        event_accounts(1, "guest", 10001, 10000, instructors=[{"ssh_key": KEY}])


def test_ldap_account_takes_the_password_of_guests_only():
    guest, instructor = event_accounts(1, "guest", 10001, 10000, instructors=[{"name": "ada", "ssh_key": KEY}])
    passwords = {"guest01": "s3cret"}
    assert ldap_account(guest, passwords, "2030-04-18", "/bin/bash", "/home/") == {
        "name": "guest01",
        "uid": 10001,
        "gid": 10000,
        "password": "s3cret",
        "ssh_keys": [],
        "expire_date": "2030-04-18",
        "shell": "/bin/bash",
        "home": "/home/guest01",
    }
    user = ldap_account(instructor, passwords, "")
    assert user["password"] is None
    assert user["expire_date"] is None
    assert user["ssh_keys"] == [KEY]
