# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""STAND-IN for the globus-connect-server command of Globus Connect Server v5.4 (molecule/globus).

globus.org cannot be reached from the test machine, so this program answers in its place,
on the node only. It takes the sub-commands and options the role globus_endpoint runs, as
Globus's documentation gives them, refuses any other option, and keeps the endpoint, its
storage gateways and collections in a local file instead of at Globus. Nothing here talks
to Globus; nothing here proves that Globus accepts these commands.

What it checks, so that the scenario can: the service credentials come in the environment
(GCS_CLI_CLIENT_ID, GCS_CLI_CLIENT_SECRET; GCS_CLI_ENDPOINT_ID for the endpoint's objects),
and the client secret is on no command line of this process or any of its parents (what
ps shows). Every call is appended to CALLS, one JSON line: the arguments, the client ID, the
secret's SHA-256 (never the secret), the endpoint ID given, the user, the exit status.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid

STATE = "/var/lib/globus-standin/state.json"
CALLS = "/var/log/globus-standin/calls.jsonl"
INFO = "/var/lib/globus-connect-server/info.json"


class Refused(Exception):
    """A call the real command would refuse: its message and exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def load_state():
    try:
        with open(STATE, encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        return {"endpoint": None, "gateways": [], "collections": []}


def save_state(state):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, "w", encoding="utf-8") as stream:
        json.dump(state, stream, indent=1, sort_keys=True)


def parse(args, values=(), multi=(), pairs=(), flags=()):
    """Positional arguments and options; an option the command does not take is refused (status 2)."""
    positional, options = [], {name: [] for name in multi}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in flags:
            options[arg] = True
        elif arg in values or arg in multi or arg in pairs:
            width = 2 if arg in pairs else 1
            taken = args[index + 1 : index + 1 + width]
            if len(taken) != width:
                raise Refused(f"Error: Option '{arg}' requires {width} argument(s).", 2)
            if arg in multi:
                options[arg].append(taken[0])
            else:
                options[arg] = taken if width == 2 else taken[0]
            index += width
        elif arg.startswith("-"):
            raise Refused(f"Error: No such option: {arg}", 2)
        else:
            positional.append(arg)
        index += 1
    return positional, options


def secret_on_a_command_line(secret):
    """The PID of this process or a parent whose command line holds the secret, or None."""
    pid = os.getpid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                if secret.encode() in stream.read():
                    return pid
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stream:
                pid = int(stream.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


def need_endpoint(state):
    endpoint = state["endpoint"]
    given = os.environ.get("GCS_CLI_ENDPOINT_ID")
    if endpoint is None:
        raise Refused("Error: there is no endpoint; run globus-connect-server endpoint setup first")
    if given != endpoint["id"]:
        raise Refused(f"Error: set GCS_CLI_ENDPOINT_ID to the endpoint's ID for service credentials, got {given!r}", 4)
    return endpoint


def read_policy(option, data_type):
    if not option.startswith("file:"):
        raise Refused(f"Error: expected file:PATH, got {option!r}", 2)
    with open(option[len("file:") :], encoding="utf-8") as stream:
        policy = json.load(stream)
    if policy.get("DATA_TYPE") != data_type:
        raise Refused(f"Error: {option}: DATA_TYPE must be {data_type}")
    return policy


def endpoint_setup(args, state):
    positional, options = parse(
        args,
        values=("--organization", "--contact-email", "--owner", "--deployment-key", "--description", "--project-id"),
        flags=("--agree-to-letsencrypt-tos",),
    )
    if len(positional) != 1:
        raise Refused("Error: endpoint setup takes one DISPLAY_NAME", 2)
    for required in ("--organization", "--contact-email", "--owner"):
        if required not in options:
            raise Refused(f"Error: Missing option '{required}'.", 2)
    if not options.get("--agree-to-letsencrypt-tos"):
        raise Refused("Error: agree to the Let's Encrypt terms of service (--agree-to-letsencrypt-tos)", 2)
    key = options.get("--deployment-key", "deployment-key.json")
    if os.path.exists(key):
        raise Refused(f"Error: {key} exists: this would make a second endpoint")
    endpoint = {
        "id": str(uuid.uuid4()),
        "display_name": positional[0],
        "organization": options["--organization"],
        "contact_email": options["--contact-email"],
        "owner": options["--owner"],
    }
    endpoint["domain_name"] = endpoint["id"][:6] + ".standin.data.globus.invalid"
    state.update(endpoint=endpoint, gateways=[], collections=[])
    with open(key, "w", encoding="utf-8") as stream:  # the umask's mode, as a program would
        json.dump(
            {"DATA_TYPE": "deployment_key#1.0.0", "client_id": endpoint["id"], "secret": uuid.uuid4().hex}, stream
        )
    return f"Created the endpoint {endpoint['id']}\nDeployment key: {key}"


def node_setup(args, state):
    _positional, options = parse(args, values=("--deployment-key", "--ip-address"), pairs=("--incoming-port-range",))
    if os.geteuid() != 0:
        raise Refused("Error: node setup must run as root")
    with open(options.get("--deployment-key", "deployment-key.json"), encoding="utf-8") as stream:
        key = json.load(stream)
    endpoint = state["endpoint"]
    if endpoint is None or key.get("client_id") != endpoint["id"]:
        raise Refused("Error: the deployment key is not that of an endpoint")
    os.makedirs(os.path.dirname(INFO), exist_ok=True)
    info = {
        "DATA_TYPE": "info#1.0.0",
        "endpoint_id": endpoint["id"],
        "client_id": endpoint["id"],
        "domain_name": endpoint["domain_name"],
        "manager_version": "stand-in",
    }
    with open(INFO, "w", encoding="utf-8") as stream:
        json.dump(info, stream)
    return f"Configured this node for the endpoint {endpoint['id']}"


def storage_gateway(args, state):
    need_endpoint(state)
    if args[:1] == ["list"]:
        _positional, options = parse(args[1:], values=("--format",))
        if options.get("--format") != "json":
            raise Refused("Error: the stand-in answers --format json only", 2)
        return json.dumps([{"DATA_TYPE": "result#1.0.0", "data": state["gateways"], "has_next_page": False}])
    if args[:2] != ["create", "posix"]:
        raise Refused(f"Error: the stand-in has no storage-gateway {' '.join(args[:2])}", 2)
    positional, options = parse(
        args[2:],
        values=("--restrict-paths", "--identity-mapping", "--authentication-timeout-mins"),
        multi=("--domain", "--user-deny"),
    )
    if len(positional) != 1 or not options["--domain"]:
        raise Refused("Error: storage-gateway create posix takes DISPLAY_NAME and at least one --domain", 2)
    gateway = {
        "DATA_TYPE": "storage_gateway#1.2.0",
        "id": str(uuid.uuid4()),
        "display_name": positional[0],
        "connector_id": "145812c8-decc-41f1-83cf-bb2a85a2a70b",
        "allowed_domains": options["--domain"],
        "users_deny": options["--user-deny"],
    }
    if "--restrict-paths" in options:
        gateway["restrict_paths"] = read_policy(options["--restrict-paths"], "path_restrictions#1.0.0")
    if "--identity-mapping" in options:
        gateway["identity_mappings"] = [read_policy(options["--identity-mapping"], "expression_identity_mapping#1.0.0")]
    if "--authentication-timeout-mins" in options:
        gateway["authentication_timeout_mins"] = int(options["--authentication-timeout-mins"])
    state["gateways"].append(gateway)
    return f"Storage Gateway ID: {gateway['id']}"


def collection(args, state):
    need_endpoint(state)
    if args[:1] == ["list"]:
        _positional, options = parse(args[1:], values=("--format",))
        if options.get("--format") != "json":
            raise Refused("Error: the stand-in answers --format json only", 2)
        return json.dumps(state["collections"])
    if args[:1] != ["create"]:
        raise Refused(f"Error: the stand-in has no collection {' '.join(args[:1])}", 2)
    positional, options = parse(
        args[1:], values=("--default-directory", "--organization", "--contact-email", "--description")
    )
    if len(positional) != 3:
        raise Refused("Error: collection create takes STORAGE_GATEWAY_ID BASE_PATH DISPLAY_NAME", 2)
    gateway_id, base_path, name = positional
    if gateway_id not in [g["id"] for g in state["gateways"]]:
        raise Refused(f"Error: no storage gateway {gateway_id}")
    found = {
        "DATA_TYPE": "collection#1.0.0",
        "id": str(uuid.uuid4()),
        "display_name": name,
        "storage_gateway_id": gateway_id,
        "collection_base_path": base_path,
        "collection_type": "mapped",
        "default_directory": options.get("--default-directory"),
    }
    state["collections"].append(found)
    return f"Collection ID: {found['id']}"


def node_cleanup(args, state):
    parse(args)
    if os.geteuid() != 0:
        raise Refused("Error: node cleanup must run as root")
    if os.path.exists(INFO):
        os.remove(INFO)
    return f"Removed this node from the endpoint {(state['endpoint'] or {}).get('id')}"


def endpoint_cleanup(args, state):
    _positional, options = parse(args, values=("--deployment-key",), flags=("--agree-to-delete-endpoint",))
    if not options.get("--agree-to-delete-endpoint"):
        raise Refused("Error: agree to delete the endpoint (--agree-to-delete-endpoint)", 2)
    with open(options.get("--deployment-key", "deployment-key.json"), encoding="utf-8") as stream:
        key = json.load(stream)
    if state["endpoint"] is None or key.get("client_id") != state["endpoint"]["id"]:
        raise Refused("Error: the deployment key is not that of an endpoint")
    state.update(endpoint=None, gateways=[], collections=[])
    return f"Deleted the endpoint {key['client_id']}"


COMMANDS = {
    ("endpoint", "setup"): endpoint_setup,
    ("endpoint", "cleanup"): endpoint_cleanup,
    ("node", "setup"): node_setup,
    ("node", "cleanup"): node_cleanup,
}


def run(args):
    client_id = os.environ.get("GCS_CLI_CLIENT_ID", "")
    secret = os.environ.get("GCS_CLI_CLIENT_SECRET", "")
    record = {
        "argv": args,
        "uid": os.geteuid(),
        "client_id": client_id,
        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        "endpoint_id": os.environ.get("GCS_CLI_ENDPOINT_ID"),
        "secret_on_a_command_line": False,
    }
    try:
        if not client_id or not secret:
            raise Refused("Error: this stand-in takes service credentials only (GCS_CLI_CLIENT_ID, _SECRET)", 4)
        shown_by = secret_on_a_command_line(secret)
        if shown_by is not None:
            record["secret_on_a_command_line"] = True
            raise Refused(f"STAND-IN: the client secret is on the command line of process {shown_by}")
        state = load_state()
        if tuple(args[:2]) in COMMANDS:
            output = COMMANDS[tuple(args[:2])](args[2:], state)
        elif args[:1] == ["storage-gateway"]:
            output = storage_gateway(args[1:], state)
        elif args[:1] == ["collection"]:
            output = collection(args[1:], state)
        else:
            raise Refused(f"Error: the stand-in has no command {' '.join(args[:2])!r}", 2)
        save_state(state)
        print(output)
        record["status"] = 0
    except Refused as refused:
        print(refused, file=sys.stderr)
        record["status"] = refused.status
    os.makedirs(os.path.dirname(CALLS), exist_ok=True)
    with open(CALLS, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, sort_keys=True) + "\n")
    return record["status"]


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
