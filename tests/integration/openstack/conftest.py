"""Fixtures of the OpenStack integration tests: the demo user's connection, and what a test made."""

import pytest

from ansible_collections.learnhpc.cluster.tests.integration.openstack.test_cloud import Made, connect


@pytest.fixture
def demo():
    conn = connect("learnhpc-test")
    yield conn
    conn.close()


@pytest.fixture
def made(demo):
    made = Made(demo)
    yield made
    made.delete()  # also after a failure: leave nothing behind for the next test
