# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter.packages import packages_missing

FACTS = {
    "munge": [{"name": "munge", "version": "0.5.15-2", "arch": "amd64", "source": "apt"}],
    "slurmd": [{"name": "slurmd", "version": "22.05.8-4+deb12u3", "arch": "amd64", "source": "apt"}],
}


def test_installed_packages_are_not_missing():
    assert packages_missing(["munge", "slurmd"], FACTS) == []


def test_missing_packages_in_their_order():
    assert packages_missing(["sssd", "munge", "libpam-sss"], FACTS) == ["sssd", "libpam-sss"]


def test_without_facts_everything_is_missing():
    assert packages_missing(["munge"], None) == ["munge"]


def test_versions_and_architectures():
    assert packages_missing(["slurmd=22.05.8-4+deb12u3", "munge:amd64", "slurmd=22.05*"], FACTS) == []
    assert packages_missing(["slurmd=23.02*"], FACTS) == ["slurmd=23.02*"]


def test_a_deb_file_is_always_missing():
    assert packages_missing(["/tmp/globus-repo.deb"], FACTS) == ["/tmp/globus-repo.deb"]


@pytest.mark.parametrize("packages, facts", [([""], FACTS), ([3], FACTS), (["munge"], ["munge"])])
def test_bad_input(packages, facts):
    with pytest.raises(AnsibleFilterError):
        packages_missing(packages, facts)
