# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the globus filters: their errors are Ansible's filter errors, one line each."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.filter import globus as filters


def test_every_filter_is_offered():
    assert set(filters.FilterModule().filters()) == {
        "globus_problems",
        "globus_argv",
        "globus_gateway_policies",
        "globus_documents",
    }


def test_problems_of_nothing_given():
    problems = filters.globus_problems({"state": "present"})
    assert problems[0].startswith("globus_endpoint_client_id and globus_endpoint_client_secret are required")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: filters.globus_problems(["not", "settings"]), "globus_problems: expected the role's settings"),
        (lambda: filters.globus_argv({}, "node_setup"), "globus_argv: node_setup: 'cli'"),
        (lambda: filters.globus_argv({"cli": "x"}, "endpoint_delete"), "globus_argv: endpoint_delete: unknown"),
        (lambda: filters.globus_gateway_policies({}), "globus_gateway_policies: the settings lack 'paths'"),
        (lambda: filters.globus_documents("Created"), "globus_documents: the output is not JSON"),
    ],
)
def test_errors_are_filter_errors(call, message):
    with pytest.raises(AnsibleFilterError) as error:
        call()
    assert str(error.value).startswith(message)


def test_documents_and_argv():
    assert filters.globus_documents('[{"data": [{"id": "c-1"}]}]') == [{"id": "c-1"}]
    assert filters.globus_argv({"cli": "gcs"}, "collection_list") == ["gcs", "collection", "list", "--format", "json"]
