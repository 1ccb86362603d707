# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the shared LDAP code."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import directory


def test_sha512_crypt_is_what_openssl_makes():
    hashed = directory.sha512_crypt("correct horse", "saltsaltsaltsalt")
    made = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "saltsaltsaltsalt", "-stdin"],
        input="correct horse",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert hashed == "{CRYPT}" + made


def test_fresh_salt_each_time_and_both_verify():
    first, second = directory.sha512_crypt("pw"), directory.sha512_crypt("pw")
    assert first != second
    assert directory.password_matches(first, "pw") and directory.password_matches(second, "pw")
    assert not directory.password_matches(first, "pW")


def test_without_the_crypt_module_openssl_makes_the_same_hash(monkeypatch):
    if directory._crypt is None:
        pytest.skip("this Python has no crypt module: openssl is used anyway")
    with_crypt = directory.sha512_crypt("pw", "abcdefgh")
    monkeypatch.setattr(directory, "_crypt", None)
    assert directory.sha512_crypt("pw", "abcdefgh") == with_crypt
    assert directory.password_matches(with_crypt, "pw")


@pytest.mark.parametrize("stored", ["{SSHA}abc", "pw", "{CRYPT}$1$abc$def", "{CRYPT}$6$rounds=9999$salt$" + "a" * 86])
def test_other_schemes_never_match(stored):
    assert not directory.password_matches(stored, "pw")


def test_days_since_epoch():
    assert directory.days_since_epoch("1970-01-01") == 0
    assert directory.days_since_epoch("2030-04-18") == 22022


def test_ldap_error_text():
    class Fake(Exception):
        pass

    assert directory.ldap_error_text(Fake({"desc": "Invalid credentials", "info": "bad"})) == "Invalid credentials: bad"
    assert directory.ldap_error_text(Fake({"desc": "Server down"})) == "Server down"
    assert directory.ldap_error_text(Fake("plain")) == "plain"
