# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Globus Connect Server v5.4 as the globus_endpoint role and the event file know it.

The formats of the names Globus takes (client IDs, identity domains, identity user names),
the checks of the role's settings (one line each), the command lines the role runs, and the
reading of what ``globus-connect-server ... list --format json`` prints. Plain Python, so
that the event file's checks (module_utils/event_rules.py), the role's filters and the unit tests
share it. A message never shows the client secret or the deployment key.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re

# A Globus Auth client ID, endpoint ID, project ID...: a UUID.
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_RULE = "a UUID such as 2b3c4d5e-6f70-4a1b-9c2d-3e4f5a6b7c8d"
# An identity domain (the part after @ of a Globus identity user name): a DNS name in lower case.
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
DOMAIN_RULE = "an identity domain, a DNS name in lower case such as example.org or globusid.org"
# A Globus identity user name: user@domain.
IDENTITY_RE = re.compile(r"^[^@\s]+@(?P<domain>[^@\s]+)$")
IDENTITY_RULE = "a Globus identity user name such as ada@globusid.org"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
POSIX_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*$")
# The service credentials' own identity, which owns an endpoint set up with them.
SERVICE_IDENTITY_DOMAIN = "clients.auth.globus.org"
# Globus Connect Server's data channels: TCP 50000 to 51000 unless node setup is told otherwise.
DEFAULT_PORT_RANGE = (50000, 51000)
MAPPING_KEYS = ("source", "match", "output", "ignore_case", "literal")
APT_REPOSITORIES = ("globus", "site", "none")
# What check mode shows in place of a storage gateway's ID that does not exist yet.
PLACEHOLDER_GATEWAY = "<ID of the new storage gateway>"


def show(value):
    """A short, one-line rendering of a value for a message."""
    text = json.dumps(value) if isinstance(value, (str, list, dict, bool)) or value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_uuid(value):
    return isinstance(value, str) and UUID_RE.fullmatch(value) is not None


def domain_error(value):
    """Why ``value`` is not an identity domain, or None."""
    if isinstance(value, str) and DOMAIN_RE.fullmatch(value):
        return None
    return f"{show(value)} is not {DOMAIN_RULE}"


def identity_error(value):
    """Why ``value`` is not a Globus identity user name (user@domain), or None."""
    if isinstance(value, str):
        match = IDENTITY_RE.fullmatch(value)
        if match and DOMAIN_RE.fullmatch(match.group("domain")):
            return None
    return f"must be {IDENTITY_RULE}, got {show(value)}"


def _port(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) else None


def port_range(value):
    """``(first, last)`` from a list of two port numbers, or None when it is not a usable range."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    first, last = (_port(v) for v in value)
    if first is None or last is None or not (1024 <= first < last <= 65535):
        return None
    return first, last


def _one_line(value):
    return isinstance(value, str) and value.strip() != "" and "\n" not in value and "\r" not in value


def _absolute_path(value):
    """An absolute, normalized path (no ``..``, no trailing ``/`` but for ``/``)."""
    return (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and posixpath.normpath(value) == value
        and not any(c.isspace() for c in value)
    )


def _under(path, base):
    return base in ("/", path) or path.startswith(base + "/")


def deployment_key_client_id(value):
    """The endpoint's client ID in a deployment key (its JSON text or a mapping), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and is_uuid(value.get("client_id")):
        return value["client_id"]
    return None


def _credential_problems(s):
    client_id, secret = s.get("client_id"), s.get("client_secret")
    if not client_id and not secret:
        return [
            "globus_endpoint_client_id and globus_endpoint_client_secret are required: the client ID and secret of "
            "service credentials registered with Globus (app.globus.org, Settings, Developers), e.g. from an "
            "ansible-vault file"
        ]
    problems = []
    if not client_id:
        problems.append("globus_endpoint_client_id is required with globus_endpoint_client_secret")
    elif not is_uuid(client_id):
        problems.append(f"globus_endpoint_client_id must be a client ID, {UUID_RULE}, got {show(client_id)}")
    if not secret:
        problems.append("globus_endpoint_client_secret is required with globus_endpoint_client_id")
    elif not isinstance(secret, str) or not secret.strip() or any(c.isspace() for c in secret):
        # Never the value itself.
        problems.append("globus_endpoint_client_secret must be the secret as Globus gave it: one word, no spaces")
    return problems


def _endpoint_problems(s):
    problems = []
    for key, what in (
        ("display_name", "the endpoint's name as Globus shows it"),
        ("organization", "the organization that runs the endpoint"),
        ("storage_gateway_name", "the storage gateway's name"),
        ("collection_name", "the collection's name as Globus shows it"),
    ):
        if not _one_line(s.get(key)):
            problems.append(f"globus_endpoint_{key} must be {what}, on one line, got {show(s.get(key))}")
    email = s.get("contact_email")
    if not (isinstance(email, str) and EMAIL_RE.fullmatch(email)):
        problems.append(
            f"globus_endpoint_contact_email must be an e-mail address such as hpc@example.org, got {show(email)}"
        )
    owner = s.get("owner")
    if owner:
        problem = identity_error(owner)
        if problem:
            problems.append(f"globus_endpoint_owner {problem} (or empty: the service credentials' identity)")
    project = s.get("project_id")
    if project and not is_uuid(project):
        problems.append(f"globus_endpoint_project_id must be {UUID_RULE} (or empty), got {show(project)}")
    if s.get("agree_to_letsencrypt_tos") is not True:
        problems.append(
            "globus_endpoint_agree_to_letsencrypt_tos must be true: endpoint setup gets the endpoint's certificate "
            "from Let's Encrypt, whose terms (https://letsencrypt.org/repository/) you agree to by setting it"
        )
    address = s.get("ip_address")
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            problems.append(f"globus_endpoint_ip_address must be an IP address (or empty), got {show(address)}")
    if port_range(s.get("incoming_port_range")) is None:
        problems.append(
            "globus_endpoint_incoming_port_range must be [first, last], two ports from 1024 to 65535 with first below "
            f"last (Globus's default is [50000, 51000]), got {show(s.get('incoming_port_range'))}"
        )
    key = s.get("deployment_key")
    if key and deployment_key_client_id(key) is None:
        problems.append(
            "globus_endpoint_deployment_key must be the content of an endpoint's deployment-key.json (JSON with its "
            "client_id), or empty"
        )
    return problems


def _gateway_problems(s):
    problems = []
    domains = s.get("domains")
    if not isinstance(domains, list) or not domains:
        problems.append(
            f"globus_endpoint_domains must list the identity domains whose users may use the endpoint, e.g. "
            f"[example.org], got {show(domains)}"
        )
        domains = []
    bad = [d for d in domains if domain_error(d)]
    if bad:
        problems.append(f"globus_endpoint_domains has {', '.join(show(d) for d in bad)}: each must be {DOMAIN_RULE}")
    mappings = s.get("identity_mappings") or []
    if not isinstance(mappings, list) or any(
        not isinstance(m, dict)
        or set(m) - set(MAPPING_KEYS)
        or not _one_line(m.get("match"))
        or not _one_line(m.get("output"))
        for m in mappings
    ):
        problems.append(
            "globus_endpoint_identity_mappings must be a list of expression mappings, each with match (a regular "
            "expression) and output (e.g. {0}), and optionally source, ignore_case, literal"
        )
    elif len(domains) > 1 and not mappings:
        problems.append(
            f"with more than one domain ({', '.join(map(str, domains))}), give globus_endpoint_identity_mappings: "
            "Globus maps user@domain to the local user only when there is one domain"
        )
    users = s.get("users_deny")
    if not isinstance(users, list) or any(not (isinstance(u, str) and POSIX_USER_RE.fullmatch(u)) for u in users):
        problems.append(f"globus_endpoint_users_deny must be a list of local user names, got {show(users)}")
    timeout = s.get("authentication_timeout_mins")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        problems.append(
            f"globus_endpoint_authentication_timeout_mins must be a whole number of minutes (0: Globus's default), "
            f"got {show(timeout)}"
        )
    return problems


def _collection_problems(s):
    problems = []
    paths = s.get("paths")
    base = s.get("collection_base_path")
    if not isinstance(paths, list) or not paths:
        problems.append(f"globus_endpoint_paths must list the directories the collection offers, got {show(paths)}")
        paths = []
    bad = [p for p in paths if not _absolute_path(p)]
    if bad:
        problems.append(
            f"globus_endpoint_paths has {', '.join(show(p) for p in bad)}: each must be an absolute path such as "
            "/project, without .. or a trailing /"
        )
    if not _absolute_path(base):
        problems.append(f"globus_endpoint_collection_base_path must be an absolute path such as /, got {show(base)}")
    else:
        outside = [p for p in paths if _absolute_path(p) and not _under(p, base)]
        if outside:
            problems.append(
                f"globus_endpoint_paths {', '.join(outside)} lie outside globus_endpoint_collection_base_path {base}"
            )
    default = s.get("collection_default_directory")
    if not (isinstance(default, str) and default.startswith("/") and _one_line(default)):
        problems.append(
            f"globus_endpoint_collection_default_directory must start with / (/~/ is the user's home), got "
            f"{show(default)}"
        )
    return problems


def _install_problems(s):
    if not s.get("install"):
        return []
    repository = s.get("apt_repository")
    if repository == "globus":
        url = s.get("repo_package_url")
        if not (isinstance(url, str) and re.fullmatch(r"https?://\S+\.deb", url)):
            return [f"globus_endpoint_repo_package_url must be the http(s) URL of a .deb, got {show(url)}"]
    elif repository == "site":
        url, key = s.get("apt_site_url"), s.get("apt_site_key_url")
        good = re.compile(r"^(https?|file)://\S+$")
        if not (isinstance(url, str) and good.fullmatch(url) and isinstance(key, str) and good.fullmatch(key)):
            return [
                "globus_endpoint_apt_repository is site: set globus_endpoint_apt_site_url and "
                "globus_endpoint_apt_site_key_url (http://, https:// or file://)"
            ]
    elif repository != "none":
        return [f"globus_endpoint_apt_repository must be one of {', '.join(APT_REPOSITORIES)}, got {show(repository)}"]
    return []


def settings_problems(settings):
    """The problems of the role's settings, one short clause each; an empty list when they are good.

    ``settings`` is the role's ``__globus_endpoint_settings`` (the role's variables without their
    prefix). With ``state: absent`` only the credentials matter.
    """
    s = settings
    if s.get("state") not in ("present", "absent"):
        return [f"globus_endpoint_state must be present or absent, got {show(s.get('state'))}"]
    problems = _credential_problems(s)
    secrets_dir = s.get("secrets_dir")
    if secrets_dir and not _absolute_path(secrets_dir):
        problems.append(
            f"globus_endpoint_secrets_dir must be an absolute path on the control machine (or empty), "
            f"got {show(secrets_dir)}"
        )
    if s.get("state") == "absent":
        return problems
    return problems + _endpoint_problems(s) + _gateway_problems(s) + _collection_problems(s) + _install_problems(s)


def owner(settings):
    """The endpoint's owner: the one given, else the service credentials' own identity."""
    return settings.get("owner") or f"{settings.get('client_id')}@{SERVICE_IDENTITY_DOMAIN}"


def gateway_policies(settings):
    """The files the storage gateway is created from.

    ``path_restrictions``: read and write in ``paths``, nothing elsewhere (the most specific path
    applies). ``identity_mapping``: the expression mappings (source ``{username}`` unless given),
    or None for Globus's default, which maps user@domain to the local user when there is one domain.
    """
    mappings = settings.get("identity_mappings") or []
    return {
        "path_restrictions": {
            "DATA_TYPE": "path_restrictions#1.0.0",
            "none": ["/"],
            "read_write": list(settings["paths"]),
        },
        "identity_mapping": {
            "DATA_TYPE": "expression_identity_mapping#1.0.0",
            "mappings": [{"source": "{username}", **m} for m in mappings],
        }
        if mappings
        else None,
    }


def _endpoint_setup(s, cli, _gateway_id):
    line = [*cli, "endpoint", "setup", s["display_name"], "--organization", s["organization"]]
    line += ["--contact-email", s["contact_email"], "--owner", owner(s)]
    line += ["--deployment-key", s["deployment_key_path"], "--agree-to-letsencrypt-tos"]
    if s.get("description"):
        line += ["--description", s["description"]]
    if s.get("project_id"):
        line += ["--project-id", s["project_id"]]
    return line


def _node_setup(s, cli, _gateway_id):
    first, last = port_range(s["incoming_port_range"]) or DEFAULT_PORT_RANGE
    line = [*cli, "node", "setup", "--deployment-key", s["deployment_key_path"]]
    line += ["--incoming-port-range", str(first), str(last)]
    if s.get("ip_address"):
        line += ["--ip-address", s["ip_address"]]
    return line


def _storage_gateway_create(s, cli, _gateway_id):
    line = [*cli, "storage-gateway", "create", "posix", s["storage_gateway_name"]]
    for domain in s["domains"]:
        line += ["--domain", domain]
    line += ["--restrict-paths", f"file:{s['dir']}/path-restrictions.json"]
    if s.get("identity_mappings"):
        line += ["--identity-mapping", f"file:{s['dir']}/identity-mapping.json"]
    for user in s.get("users_deny") or []:
        line += ["--user-deny", user]
    if s.get("authentication_timeout_mins"):
        line += ["--authentication-timeout-mins", str(s["authentication_timeout_mins"])]
    return line


def _collection_create(s, cli, gateway_id):
    line = [*cli, "collection", "create", gateway_id or PLACEHOLDER_GATEWAY, s["collection_base_path"]]
    line += [s["collection_name"], "--default-directory", s["collection_default_directory"]]
    line += ["--organization", s["organization"], "--contact-email", s["contact_email"]]
    if s.get("description"):
        line += ["--description", s["description"]]
    return line


_COMMANDS = {
    "endpoint_setup": _endpoint_setup,
    "node_setup": _node_setup,
    "storage_gateway_create": _storage_gateway_create,
    "collection_create": _collection_create,
    "storage_gateway_list": lambda s, cli, _g: [*cli, "storage-gateway", "list", "--format", "json"],
    "collection_list": lambda s, cli, _g: [*cli, "collection", "list", "--format", "json"],
    "node_cleanup": lambda s, cli, _g: [*cli, "node", "cleanup"],
    "endpoint_cleanup": lambda s, cli, _g: [
        *cli,
        "endpoint",
        "cleanup",
        "--deployment-key",
        s["deployment_key_path"],
        "--agree-to-delete-endpoint",
    ],
}


def argv(settings, command, gateway_id=None):
    """The command line the role runs for ``command``, as a list (no shell, no secret in it).

    ``settings`` as for settings_problems, plus ``cli`` (the command that runs
    globus-connect-server with the service credentials), ``dir`` (the role's directory of
    rendered files) and ``deployment_key_path``. ``gateway_id`` is the storage gateway of
    ``collection_create`` (a placeholder when it does not exist yet).
    """
    if command not in _COMMANDS:
        raise ValueError(f"unknown globus-connect-server command {command!r}")
    return _COMMANDS[command](settings, [settings["cli"]], gateway_id)


def documents(data):
    """The documents (storage gateways, collections...) in what a ``list --format json`` printed.

    ``data`` is that output, as text or parsed: a list of result pages, each ``{"DATA_TYPE":
    "result#1.0.0", "data": [documents]}``, one such page alone, or a plain list of documents.
    Raises ValueError for anything else.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else []
        except ValueError as exc:
            raise ValueError(f"the output is not JSON ({exc})") from None
    pages = data if isinstance(data, list) else [data]
    found = []
    for page in pages:
        if isinstance(page, dict) and isinstance(page.get("data"), list):
            found.extend(page["data"])
        elif isinstance(page, dict) and "id" in page:
            found.append(page)
        else:
            raise ValueError(f"expected result pages with data, or documents with an id; got {show(page)}")
    if any(not isinstance(doc, dict) for doc in found):
        raise ValueError("a result page's data holds something other than documents")
    return found
