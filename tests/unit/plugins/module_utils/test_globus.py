# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/globus.py: the globus_endpoint role's checks, command lines and list parsing."""

from __future__ import annotations

import json

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils import globus

CLIENT_ID = "2b3c4d5e-6f70-4a1b-9c2d-3e4f5a6b7c8d"
SECRET = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1zaG93Cg=="


def settings(**overrides):
    """Good settings, as the role's vars/main.yml builds them from its defaults and a site's values."""
    base = {
        "state": "present",
        "install": True,
        "apt_repository": "globus",
        "repo_package_url": "https://downloads.globus.org/globus-connect-server/stable/installers/repo/deb/"
        "globus-repo_latest_all.deb",
        "apt_site_url": "",
        "apt_site_key_url": "",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "deployment_key": "",
        "secrets_dir": "",
        "display_name": "Summer school",
        "organization": "Example University",
        "contact_email": "hpc@example.org",
        "owner": "",
        "description": "",
        "project_id": "",
        "agree_to_letsencrypt_tos": True,
        "ip_address": "",
        "incoming_port_range": [50000, 51000],
        "domains": ["example.org"],
        "identity_mappings": [],
        "users_deny": ["root"],
        "authentication_timeout_mins": 0,
        "storage_gateway_name": "Summer school POSIX storage",
        "paths": ["/home", "/project"],
        "collection_name": "Summer school",
        "collection_base_path": "/",
        "collection_default_directory": "/~/",
        "cli": "/usr/local/sbin/learnhpc-globus-connect-server",
        "dir": "/etc/learnhpc-globus",
        "deployment_key_path": "/etc/learnhpc-globus/deployment-key.json",
    }
    base.update(overrides)
    return base


def test_good_settings_have_no_problem():
    assert globus.settings_problems(settings()) == []


def test_no_credentials_is_one_clear_line():
    problems = globus.settings_problems(settings(client_id="", client_secret=""))
    assert len(problems) == 1
    assert problems[0].startswith("globus_endpoint_client_id and globus_endpoint_client_secret are required")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_secret": ""}, "globus_endpoint_client_secret is required"),
        ({"client_id": ""}, "globus_endpoint_client_id is required"),
        ({"client_id": "my-client"}, "globus_endpoint_client_id must be a client ID, a UUID such as"),
        ({"client_id": CLIENT_ID.upper()}, "globus_endpoint_client_id must be a client ID"),
        ({"display_name": ""}, "globus_endpoint_display_name must be the endpoint's name"),
        ({"display_name": "two\nlines"}, "globus_endpoint_display_name must be"),
        ({"organization": ""}, "globus_endpoint_organization must be the organization"),
        ({"contact_email": "hpc.example.org"}, "globus_endpoint_contact_email must be an e-mail address"),
        ({"contact_email": ""}, "globus_endpoint_contact_email must be"),
        ({"owner": "ada"}, "globus_endpoint_owner must be a Globus identity user name such as ada@globusid.org"),
        ({"owner": "ada@Globus ID"}, "globus_endpoint_owner must be a Globus identity user name"),
        ({"project_id": "training"}, "globus_endpoint_project_id must be a UUID"),
        ({"agree_to_letsencrypt_tos": False}, "globus_endpoint_agree_to_letsencrypt_tos must be true"),
        ({"ip_address": "198.51.100.300"}, "globus_endpoint_ip_address must be an IP address"),
        ({"incoming_port_range": [51000, 50000]}, "globus_endpoint_incoming_port_range must be [first, last]"),
        ({"incoming_port_range": [80, 1000]}, "globus_endpoint_incoming_port_range must be"),
        ({"incoming_port_range": [50000]}, "globus_endpoint_incoming_port_range must be"),
        ({"incoming_port_range": "50000-51000"}, "globus_endpoint_incoming_port_range must be"),
        ({"incoming_port_range": [50000, 70000]}, "globus_endpoint_incoming_port_range must be"),
        ({"domains": []}, "globus_endpoint_domains must list the identity domains"),
        ({"domains": "example.org"}, "globus_endpoint_domains must list"),
        ({"domains": ["Example.ORG"]}, 'globus_endpoint_domains has "Example.ORG": each must be an identity domain'),
        ({"domains": ["ada@example.org"]}, 'globus_endpoint_domains has "ada@example.org"'),
        ({"domains": ["localhost"]}, 'globus_endpoint_domains has "localhost"'),
        ({"domains": ["example.org", "globusid.org"]}, "with more than one domain (example.org, globusid.org)"),
        ({"identity_mappings": [{"match": "(.*)@example\\.org"}]}, "globus_endpoint_identity_mappings must be a list"),
        ({"identity_mappings": [{"match": "x", "output": "y", "color": 1}]}, "globus_endpoint_identity_mappings"),
        ({"users_deny": ["Root"]}, "globus_endpoint_users_deny must be a list of local user names"),
        ({"authentication_timeout_mins": -1}, "globus_endpoint_authentication_timeout_mins must be"),
        ({"authentication_timeout_mins": True}, "globus_endpoint_authentication_timeout_mins must be"),
        ({"paths": ["home", "/project"]}, 'globus_endpoint_paths has "home": each must be an absolute path'),
        ({"paths": ["/home/../etc"]}, 'globus_endpoint_paths has "/home/../etc"'),
        ({"paths": ["/project/"]}, 'globus_endpoint_paths has "/project/"'),
        ({"paths": []}, "globus_endpoint_paths must list the directories"),
        (
            {"collection_base_path": "/home", "paths": ["/home", "/project"]},
            "globus_endpoint_paths /project lie outside",
        ),
        ({"collection_base_path": "data"}, "globus_endpoint_collection_base_path must be an absolute path"),
        ({"collection_default_directory": "~"}, "globus_endpoint_collection_default_directory must start with /"),
        ({"apt_repository": "site"}, "globus_endpoint_apt_repository is site: set globus_endpoint_apt_site_url"),
        (
            {"apt_repository": "site", "apt_site_url": "https://mirror.example.org/globus"},
            "globus_endpoint_apt_repository is site",
        ),
        ({"apt_repository": "ftp"}, "globus_endpoint_apt_repository must be one of globus, site, none"),
        ({"repo_package_url": "https://example.org/globus-repo.rpm"}, "globus_endpoint_repo_package_url must be"),
        ({"deployment_key": "not json"}, "globus_endpoint_deployment_key must be the content of"),
        ({"deployment_key": {"secret": "x"}}, "globus_endpoint_deployment_key must be the content of"),
        ({"secrets_dir": "state/globus"}, "globus_endpoint_secrets_dir must be an absolute path"),
        ({"state": "gone"}, "globus_endpoint_state must be present or absent"),
    ],
)
def test_each_bad_setting_is_named(overrides, expected):
    problems = globus.settings_problems(settings(**overrides))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]
    assert "\n" not in problems[0]


def test_a_message_never_shows_the_secret():
    bad = "has a space " + SECRET
    problems = globus.settings_problems(settings(client_secret=bad, domains=["Bad"], organization=""))
    assert problems
    assert all(SECRET not in p and bad not in p for p in problems)
    assert "globus_endpoint_client_secret must be the secret as Globus gave it: one word, no spaces" in problems


def test_settings_that_pass():
    good = settings(
        owner="ada@globusid.org",
        project_id=CLIENT_ID,
        ip_address="2001:db8::7",
        incoming_port_range=["50000", "50100"],
        domains=["example.org", "globusid.org"],
        identity_mappings=[{"match": "(.*)@example\\.org", "output": "{0}"}],
        deployment_key=json.dumps({"client_id": CLIENT_ID, "secret": "x"}),
        secrets_dir="/srv/events/.state/demo/globus",
        apt_repository="site",
        apt_site_url="file:///srv/mirror",
        apt_site_key_url="file:///srv/mirror/key.asc",
        collection_base_path="/home",
        paths=["/home"],
    )
    assert globus.settings_problems(good) == []


def test_install_false_needs_no_package_source():
    assert globus.settings_problems(settings(install=False, apt_repository="site")) == []


def test_state_absent_needs_only_the_credentials():
    assert globus.settings_problems(settings(state="absent", display_name="", domains=[], paths=[])) == []
    assert len(globus.settings_problems(settings(state="absent", client_id="", client_secret=""))) == 1


def test_endpoint_setup_with_the_service_identity_as_owner():
    argv = globus.argv(settings(), "endpoint_setup")
    assert argv == [
        "/usr/local/sbin/learnhpc-globus-connect-server",
        "endpoint",
        "setup",
        "Summer school",
        "--organization",
        "Example University",
        "--contact-email",
        "hpc@example.org",
        "--owner",
        f"{CLIENT_ID}@clients.auth.globus.org",
        "--deployment-key",
        "/etc/learnhpc-globus/deployment-key.json",
        "--agree-to-letsencrypt-tos",
    ]


def test_endpoint_setup_with_owner_description_and_project():
    argv = globus.argv(
        settings(owner="ada@globusid.org", description="For the school", project_id=CLIENT_ID), "endpoint_setup"
    )
    assert argv[argv.index("--owner") + 1] == "ada@globusid.org"
    assert argv[-4:] == ["--description", "For the school", "--project-id", CLIENT_ID]


def test_no_command_line_holds_a_secret():
    key = json.dumps({"client_id": CLIENT_ID, "secret": "deployment-secret"})
    s = settings(deployment_key=key, identity_mappings=[{"match": "(.*)", "output": "{0}"}])
    for command in (
        "endpoint_setup",
        "node_setup",
        "storage_gateway_create",
        "storage_gateway_list",
        "collection_create",
        "collection_list",
        "node_cleanup",
        "endpoint_cleanup",
    ):
        line = " ".join(globus.argv(s, command, "gw-1"))
        assert SECRET not in line
        assert "deployment-secret" not in line


def test_node_setup_ports_and_address():
    argv = globus.argv(settings(incoming_port_range=["50000", "50100"], ip_address="198.51.100.7"), "node_setup")
    assert argv[1:] == [
        "node",
        "setup",
        "--deployment-key",
        "/etc/learnhpc-globus/deployment-key.json",
        "--incoming-port-range",
        "50000",
        "50100",
        "--ip-address",
        "198.51.100.7",
    ]


def test_storage_gateway_create():
    argv = globus.argv(settings(), "storage_gateway_create")
    assert argv[1:] == [
        "storage-gateway",
        "create",
        "posix",
        "Summer school POSIX storage",
        "--domain",
        "example.org",
        "--restrict-paths",
        "file:/etc/learnhpc-globus/path-restrictions.json",
        "--user-deny",
        "root",
    ]


def test_storage_gateway_create_with_mapping_and_timeout():
    s = settings(
        domains=["example.org", "globusid.org"],
        identity_mappings=[{"match": "(.*)@example\\.org", "output": "{0}"}],
        authentication_timeout_mins=600,
    )
    argv = globus.argv(s, "storage_gateway_create")
    assert argv.count("--domain") == 2
    assert argv[argv.index("--identity-mapping") + 1] == "file:/etc/learnhpc-globus/identity-mapping.json"
    assert argv[-2:] == ["--authentication-timeout-mins", "600"]


def test_collection_create_with_and_without_the_gateway():
    argv = globus.argv(settings(), "collection_create", "gw-1")
    assert argv[1:7] == ["collection", "create", "gw-1", "/", "Summer school", "--default-directory"]
    assert globus.argv(settings(), "collection_create")[3] == globus.PLACEHOLDER_GATEWAY


def test_lists_and_cleanups():
    s = settings()
    assert globus.argv(s, "storage_gateway_list")[1:] == ["storage-gateway", "list", "--format", "json"]
    assert globus.argv(s, "collection_list")[1:] == ["collection", "list", "--format", "json"]
    assert globus.argv(s, "node_cleanup")[1:] == ["node", "cleanup"]
    assert globus.argv(s, "endpoint_cleanup")[1:] == [
        "endpoint",
        "cleanup",
        "--deployment-key",
        "/etc/learnhpc-globus/deployment-key.json",
        "--agree-to-delete-endpoint",
    ]
    with pytest.raises(ValueError, match="unknown"):
        globus.argv(s, "endpoint_delete")


def test_gateway_policies():
    policies = globus.gateway_policies(settings())
    assert policies == {
        "path_restrictions": {
            "DATA_TYPE": "path_restrictions#1.0.0",
            "none": ["/"],
            "read_write": ["/home", "/project"],
        },
        "identity_mapping": None,
    }
    mapped = globus.gateway_policies(settings(identity_mappings=[{"match": "(.*)@example\\.org", "output": "{0}"}]))
    assert mapped["identity_mapping"] == {
        "DATA_TYPE": "expression_identity_mapping#1.0.0",
        "mappings": [{"source": "{username}", "match": "(.*)@example\\.org", "output": "{0}"}],
    }
    sourced = globus.gateway_policies(settings(identity_mappings=[{"source": "{email}", "match": "x", "output": "y"}]))
    assert sourced["identity_mapping"]["mappings"][0]["source"] == "{email}"


GATEWAY = {"DATA_TYPE": "storage_gateway#1.2.0", "id": "gw-1", "display_name": "Summer school POSIX storage"}


@pytest.mark.parametrize(
    "output",
    [
        [{"DATA_TYPE": "result#1.0.0", "data": [GATEWAY], "has_next_page": False}],
        {"DATA_TYPE": "result#1.0.0", "data": [GATEWAY]},
        [GATEWAY],
        json.dumps([{"DATA_TYPE": "result#1.0.0", "data": [GATEWAY]}]),
    ],
)
def test_documents_of_each_shape(output):
    assert globus.documents(output) == [GATEWAY]


def test_documents_of_several_pages_and_none():
    pages = [{"data": [GATEWAY]}, {"data": [dict(GATEWAY, id="gw-2")]}]
    assert [d["id"] for d in globus.documents(pages)] == ["gw-1", "gw-2"]
    assert globus.documents("") == []
    assert globus.documents("[]") == []
    assert globus.documents([{"data": []}]) == []


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("Storage Gateway ID: gw-1", "the output is not JSON"),
        ('["gw-1"]', "expected result pages with data, or documents with an id"),
        ({"DATA_TYPE": "result#1.0.0"}, "expected result pages"),
        ([{"data": ["gw-1"]}], "holds something other than documents"),
    ],
)
def test_documents_refuses_anything_else(output, message):
    with pytest.raises(ValueError, match=message):
        globus.documents(output)


def test_name_checks():
    assert globus.domain_error("globusid.org") is None
    assert globus.domain_error("clients.auth.globus.org") is None
    assert globus.domain_error("example") is not None
    assert globus.identity_error("ada@example.org") is None
    assert globus.identity_error(f"{CLIENT_ID}@clients.auth.globus.org") is None
    assert globus.identity_error("ada@@example.org") is not None
    assert globus.port_range([1024, 65535]) == (1024, 65535)
    assert globus.port_range([True, 2000]) is None
    assert globus.deployment_key_client_id({"client_id": CLIENT_ID}) == CLIENT_ID
    assert globus.deployment_key_client_id("[1]") is None
