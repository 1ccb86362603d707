# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test plugins of the contract: the YAML asks them instead of writing the rules again."""

from __future__ import annotations

import pytest

from ansible_collections.learnhpc.cluster.plugins.test import contract as tests

TESTS = tests.TestModule().tests()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo", True),
        ("hpc-2026", True),
        ("a" * 24, True),
        ("a" * 25, False),
        ("demo\n", False),
        ("Demo", False),
        ("-demo", False),
        ("demo-", False),
        ("", False),
        (None, False),
        (42, False),
        (["demo"], False),
    ],
)
def test_event_name(value, expected):
    assert TESTS["event_name"](value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("docker", True),
        ("openstack", True),
        ("Docker", False),
        ("libvirt", True),
        ("qemu", False),
        ("", False),
        (None, False),
    ],
)
def test_provider(value, expected):
    assert TESTS["provider"](value) is expected
