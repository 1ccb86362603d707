# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm's power-saving programs for an event's autoscaled compute nodes.

slurmctld runs this program, as SlurmUser, through four commands (each runs
``python3 learnhpc_autoscale.py ACTION [HOSTLIST]``):

  learnhpc-resume HOSTLIST       ResumeProgram: create the nodes at the provider
  learnhpc-suspend HOSTLIST      SuspendProgram: remove them
  learnhpc-resume-fail HOSTLIST  ResumeFailProgram: remove what exists of nodes that did not join in time
  learnhpc-reconcile             (systemd timer) compare Slurm's nodes with the provider's, clean up both
 Its settings are in the JSON file
``LEARNHPC_AUTOSCALE_CONFIG`` (default /etc/learnhpc-autoscale/config.json), written by the
slurm_autoscale role. Every action takes one lock, so a resume and a reconcile never race,
and writes one line per node and action to the log.

A new node is a copy of a static compute node (docker: an image made from one; openstack: the
event's image, set up by node-init over SSH). The files that make it a member of the cluster
(the MUNGE key, sssd's settings) are not in the image: they are written into the node before
it starts (docker) or copied to it before node-init runs (openstack).

The collection's shared names and secret rule (plugins/module_utils/contract.py) and its Docker
API client (docker_api.py) are installed beside this program, unchanged.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import copy
import datetime
import fcntl
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import traceback


def _collection_modules():
    """The directory of contract.py and docker_api.py: beside this program where the role installed it,
    the collection's plugins/module_utils where it runs from the collection's source (the unit tests)."""
    here = os.path.dirname(os.path.realpath(__file__))
    source = os.path.join(here, os.pardir, os.pardir, os.pardir, "plugins", "module_utils")
    return here if os.path.exists(os.path.join(here, "contract.py")) else os.path.normpath(source)


sys.path.insert(0, _collection_modules())
contract = importlib.import_module("contract")

CONFIG = os.environ.get("LEARNHPC_AUTOSCALE_CONFIG", "/etc/learnhpc-autoscale/config.json")
ACTIONS = ("resume", "suspend", "resume-fail", "reconcile")
AUTOSCALED_LABEL = contract.AUTOSCALED_KEY
EVENT_LABEL = contract.EVENT_KEY
# Reasons this program gives to nodes it marks down; reconcile only returns those to service.
REASON_PREFIX = "learnhpc-autoscale:"
# The reason slurmctld gives a node that did not register within ResumeTimeout.
RESUME_TIMEOUT_REASON = "ResumeTimeout reached"


class ProviderError(Exception):
    """A provider call failed; the message is one line."""


class Log:
    """One line per event, with the time, to a file (and to standard error when it is a terminal).

    Every line is written with the secrets of ``secrets`` (the provider's credentials, which a cloud's
    error message may repeat) replaced by ``***`` (contract.scrub)."""

    def __init__(self, path):
        self.path = path
        self.secrets = set()

    def __call__(self, action, message):
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = contract.scrub(f"{stamp} {action}: {message}", self.secrets)
        try:
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(line + "\n")
        except OSError:
            pass
        if sys.stderr is not None and (not self.path or sys.stderr.isatty()):
            print(line, file=sys.stderr)


# -- Slurm ------------------------------------------------------------------------------------


def run(command, check=True):
    """The standard output of ``command`` (a list); ProviderError with its error output when it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProviderError(f"{command[0]}: {exc}") from None
    if check and done.returncode != 0:
        error = " ".join((done.stderr or done.stdout).split())
        raise ProviderError(f"{' '.join(command[:3])}: {error or 'exit code ' + str(done.returncode)}")
    return done.stdout


def hostnames(hostlist):
    """The node names of a Slurm host list."""
    return run(["scontrol", "show", "hostnames", hostlist]).split()


def hostlist(names):
    """A Slurm host list of ``names``."""
    return run(["scontrol", "show", "hostlistsorted", ",".join(names)]).strip()


def slurm_states(names):
    """``{name: {"flags": set of state words, "reason": str}}`` of the nodes Slurm knows among ``names``."""
    if not names:
        return {}
    out = run(["scontrol", "--oneliner", "show", "node", hostlist(names)], check=False)
    states = {}
    for line in out.splitlines():
        fields = {}
        for word in line.split():
            key, sep, value = word.partition("=")
            if sep and key not in fields:
                fields[key] = value
        name = fields.get("NodeName")
        if name:
            reason = line.split("Reason=", 1)[1] if "Reason=" in line else ""
            states[name] = {"flags": set(fields.get("State", "").split("+")), "reason": reason.strip()}
    return states


def set_state(names, state, reason=None):
    """``scontrol update nodename=... state=...`` for ``names``."""
    command = ["scontrol", "update", f"nodename={hostlist(names)}", f"state={state}"]
    if reason:
        command.append(f"reason={reason}")
    run(command)


# -- node files ---------------------------------------------------------------------------------


# Where node-init finds the lines the new server adds to its /etc/hosts.
HOSTS_FILE = "/var/lib/learnhpc-node-init/hosts"


def node_files_archive(path, hosts=None):
    """A tar archive (bytes) of the files every new node gets before it starts.

    The files are those of the JSON list in ``path``; with ``hosts`` (a list of
    ``{"name", "address"}``), also HOSTS_FILE, one ``address name`` line each, for node-init.
    """
    entries = []
    if path:
        with open(path, encoding="utf-8") as stream:
            entries = json.load(stream)
    if hosts:
        lines = "".join(f"{host['address']} {host['name']}\n" for host in hosts).encode()
        content = base64.b64encode(lines).decode()
        entries.append({"path": HOSTS_FILE, "mode": "0644", "uid": 0, "gid": 0, "content": content})
    if not entries:
        return b""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in entries:
            data = base64.b64decode(entry["content"])
            info = tarfile.TarInfo(entry["path"].lstrip("/"))
            info.size = len(data)
            info.mode = int(str(entry["mode"]), 8)
            info.uid = int(entry["uid"])
            info.gid = int(entry["gid"])
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# -- providers ----------------------------------------------------------------------------------


class DockerNodes:
    """Autoscaled nodes as systemd containers of the local Docker engine."""

    def __init__(self, config, log):
        docker_api = importlib.import_module("docker_api")
        self.errors = (docker_api.DockerError,)
        self.api = docker_api.DockerAPI(config["docker"].get("host"), timeout=60)
        self.template = config["docker"]["template"]
        self.boot_timeout = int(config["docker"].get("boot_timeout", 60))
        self.event = config["event"]
        self.files = config.get("files")
        self.log = log

    def _call(self, what, *args, **kwargs):
        try:
            return what(*args, **kwargs)
        except self.errors as exc:
            raise ProviderError(str(exc)) from None

    def list(self):
        """``{name: {"created": epoch seconds, "id": ID}}`` of the event's autoscaled containers, running or not.

        Only containers that carry the event's label and the autoscaled label are the event's:
        everything this class removes is found here, and removed by its ID, never by its name.
        """
        filters = {"label": [f"{EVENT_LABEL}={self.event}", f"{AUTOSCALED_LABEL}={contract.AUTOSCALED_VALUE}"]}
        found = self._call(self.api.get, "/containers/json", all="true", filters=filters)
        return {
            item["Names"][0].lstrip("/"): {"created": item.get("Created", 0), "id": item["Id"]} for item in found or []
        }

    def holder(self, name):
        """Who holds the container name ``name`` that is not one of the event's autoscaled nodes, in words."""
        try:
            found = self.api.get("/containers/json", all="true", filters={"name": [f"^/{name}$"]})
        except self.errors:
            return "another container"
        labels = ((found or [{}])[0].get("Labels")) or {}
        event = labels.get(EVENT_LABEL)
        if not event:
            return "a container that is not of any event"
        if event != self.event:
            return f"a container of event {event}"
        return "a container of this event that is not an autoscaled node"

    def create(self, name, fail=None):
        body = copy.deepcopy(self.template)
        body["Hostname"] = name
        body["Labels"] = dict(body.get("Labels") or {}, **{AUTOSCALED_LABEL: contract.AUTOSCALED_VALUE})
        existing = self.list().get(name)
        if existing is not None:
            state = self._call(self.api.get, f"/containers/{existing['id']}/json")["State"]
            if state.get("Running"):
                return "already running"
            self._remove(existing["id"])
        try:
            created = self.api.post("/containers/create", body, name=name)
        except self.errors as exc:
            if getattr(exc, "status", None) == 409:
                raise ProviderError(f"the name {name} is taken by {self.holder(name)}; it was left alone") from None
            raise ProviderError(str(exc)) from None
        container = created["Id"]
        if fail:
            raise ProviderError(fail)
        archive = node_files_archive(self.files)
        if archive:
            self._call(self.api.put_archive, container, archive, "/")
        self._call(self.api.post, f"/containers/{container}/start")
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            state = self._call(self.api.get, f"/containers/{container}/json")["State"]
            if state.get("Running"):
                return "started"
            if state.get("Status") in ("exited", "dead"):
                raise ProviderError(f"container {name} stopped: {state.get('Error') or state.get('ExitCode')}")
            time.sleep(1)
        raise ProviderError(f"container {name} is not running after {self.boot_timeout} s")

    def _remove(self, container):
        try:
            self.api.delete(f"/containers/{container}", force="true", v="true")
        except self.errors as exc:
            if getattr(exc, "status", None) == 404:
                return False
            raise ProviderError(str(exc)) from None
        return True

    def delete(self, name):
        """Remove the event's autoscaled node ``name``; False when the event has none of that name."""
        existing = self.list().get(name)
        if existing is None:
            return False
        return self._remove(existing["id"])


def fixed_ipv4(addresses):
    """The first fixed IPv4 address in a server's ``addresses`` (Nova's view: network name -> list), or None."""
    for entries in (addresses or {}).values():
        for entry in entries:
            if entry.get("version") == 4 and entry.get("OS-EXT-IPS:type", "fixed") == "fixed":
                return entry.get("addr")
    return None


class OpenStackNodes:
    """Autoscaled nodes as servers of the event's OpenStack project, through an application credential.

    A new server boots the event's image with the event's flavor, network, security groups and
    metadata; cloud-init (user data) authorizes this program's SSH key; node-init then runs over
    SSH with the node files, installs what the image lacks and starts slurmd.

    Only the compute API's server calls are made (create, list, read, delete), by ID: the
    application credential's access rules allow those and nothing else, so the SDK's cloud layer,
    which looks names up and lists networks and floating IPs, is not used.
    """

    def __init__(self, config, log):
        settings = config["openstack"]
        loader = importlib.import_module("openstack.config.loader")
        connection = importlib.import_module("openstack.connection")
        exceptions = importlib.import_module("openstack.exceptions")
        self.sdk_errors, self.not_found = (exceptions.SDKException,), exceptions.NotFoundException
        # The settings' clouds.yaml only: not one that the environment or ~/.config may name.
        found = loader.OpenStackConfig(config_files=[settings["clouds_yaml"]], vendor_files=[])
        region = found.get_one(settings["cloud"])
        # The credentials never reach the log, whatever an error message of the cloud repeats.
        log.secrets.update(contract.secret_values(dict(region.config.get("auth") or {})))
        self.compute = connection.Connection(config=region).compute
        self.settings = settings
        self.event = config["event"]
        self.files = config.get("files")
        self.log = log
        # Settings written before known_hosts_dir existed: the same place in the state directory.
        state_dir = config.get("state_dir", "/var/lib/learnhpc-autoscale")
        self.known_hosts_dir = settings.get("known_hosts_dir") or os.path.join(state_dir, "known_hosts.d")

    def _call(self, what, *args, **kwargs):
        try:
            return what(*args, **kwargs)
        except self.sdk_errors as exc:
            raise ProviderError(" ".join(str(exc).split()) or type(exc).__name__) from None

    def _remove(self, server_id):
        """Delete a server and wait until it is gone; a server already gone is no error."""
        try:
            server = self.compute.get_server(server_id)
            self.compute.delete_server(server, ignore_missing=True)
            self.compute.wait_for_delete(server, interval=2, wait=300)
        except self.not_found:
            pass

    def list(self):
        servers = self._call(lambda: list(self.compute.servers(details=True)))
        found = {}
        for server in servers:
            metadata = server.metadata or {}
            if metadata.get(EVENT_LABEL) == self.event and contract.is_autoscaled(metadata):
                created = server.created_at or ""
                try:
                    epoch = datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
                except ValueError:
                    epoch = 0
                found[server.name] = {"created": epoch, "id": server.id, "status": server.status}
        return found

    def create(self, name, fail=None):
        settings = self.settings
        existing = self.list().get(name)
        if existing is not None and existing["status"] == "ACTIVE":
            return "already running"
        if existing is not None:
            self.delete(name)
        metadata = dict(settings.get("metadata") or {}, **{AUTOSCALED_LABEL: contract.AUTOSCALED_VALUE})
        attributes = {
            "name": name,
            "image_id": settings["image"],
            "flavor_id": settings["flavor"],
            "networks": [{"uuid": settings["network"]}],
            "security_groups": [{"name": group} for group in settings.get("security_groups") or []],
            "metadata": metadata,
        }
        if settings.get("key_name"):
            attributes["key_name"] = settings["key_name"]
        if settings.get("user_data"):
            attributes["user_data"] = base64.b64encode(settings["user_data"].encode()).decode()
        server = self._call(self.compute.create_server, **attributes)
        if fail:
            raise ProviderError(fail)
        server = self._call(
            self.compute.wait_for_server,
            server,
            status="ACTIVE",
            failures=["ERROR"],
            interval=2,
            wait=int(settings.get("boot_timeout", 600)),
        )
        address = fixed_ipv4(server.addresses)
        if not address:
            raise ProviderError(f"server {name} has no fixed IPv4 address")
        self.node_init(name, address)
        return "started"

    def known_hosts(self, name):
        """The known_hosts file of server ``name``: one per server, made anew with it.

        A new server has a new host key, and Neutron hands a deleted server's fixed IP to the
        next one: a single file kept by address would refuse the next server at that address.
        """
        directory = self.known_hosts_dir
        os.makedirs(directory, mode=0o700, exist_ok=True)
        return os.path.join(directory, name)

    def forget_host_key(self, name):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.known_hosts(name))

    def node_init(self, name, address):
        """Copy the node files to the new server and run node-init there, over SSH."""
        settings = self.settings
        self.forget_host_key(name)
        # The cluster's names, and the new server's own, for clouds whose DNS knows neither.
        hosts = [*settings["hosts"], {"name": name, "address": address}] if settings.get("hosts") else None
        ssh = [
            "ssh",
            "-i",
            settings["ssh_key"],
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            f"UserKnownHostsFile={self.known_hosts(name)}",
            "-o",
            "ConnectTimeout=10",
            f"{settings['ssh_user']}@{address}",
        ]
        deadline = time.monotonic() + int(settings.get("ssh_timeout", 300))
        while True:
            try:
                run([*ssh, "true"])
                break
            except ProviderError:
                if time.monotonic() > deadline:
                    raise ProviderError(f"server {name} ({address}) does not answer over SSH") from None
                time.sleep(5)
        done = subprocess.run(
            [*ssh, "sudo", "tar", "-x", "-p", "--same-owner", "-C", "/", "-f", "-"],
            input=node_files_archive(self.files, hosts),
            capture_output=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            error = " ".join(done.stderr.decode(errors="replace").split())
            raise ProviderError(f"copying the node files to {name} failed: {error}")
        with open(settings["node_init"], "rb") as script:
            done = subprocess.run(
                [*ssh, "sudo", "/bin/sh", "-s", "--", name, *settings.get("packages", [])],
                stdin=script,
                capture_output=True,
                check=False,
                timeout=int(settings.get("node_init_timeout", 900)),
            )
        if done.returncode != 0:
            tail = " ".join(done.stderr.decode(errors="replace").split()[-30:])
            raise ProviderError(f"node-init on {name} failed: {tail}")

    def delete(self, name):
        existing = self.list().get(name)
        if existing is None:
            return False
        self._call(self._remove, existing["id"])
        self.forget_host_key(name)
        return True


PROVIDERS = {"docker": DockerNodes, "openstack": OpenStackNodes}


# -- the actions --------------------------------------------------------------------------------


class Autoscaler:
    """The four actions, on a provider and Slurm."""

    def __init__(self, config, provider, log):
        self.config = config
        self.provider = provider
        self.log = log
        self.nodes = list(config["nodes"])
        self.state_dir = config.get("state_dir", "/var/lib/learnhpc-autoscale")

    def ours(self, names, action):
        """``names`` that are autoscaled nodes of this event; the others are logged and left alone."""
        known = [name for name in names if name in self.nodes]
        for name in names:
            if name not in self.nodes:
                self.log(action, f"{name}: not an autoscaled node of event {self.config['event']}; left alone")
        return known

    def injected_failure(self):
        """The message of an injected provider failure (slurm_autoscale_inject_failures), or None."""
        wanted = int(self.config.get("inject_failures", 0))
        if wanted <= 0:
            return None
        path = os.path.join(self.state_dir, "injected_failures")
        try:
            with open(path, encoding="utf-8") as stream:
                done = int(stream.read().strip() or 0)
        except (OSError, ValueError):
            done = 0
        if done >= wanted:
            return None
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(str(done + 1))
        return f"injected provider failure {done + 1} of {wanted} (slurm_autoscale_inject_failures)"

    def resume(self, names):
        names = self.ours(names, "resume")
        failures = {name: self.injected_failure() for name in names}

        def one(name):
            started = time.monotonic()
            try:
                what = self.provider.create(name, fail=failures[name])
            except (ProviderError, OSError, ValueError, KeyError) as exc:
                return name, None, f"{exc}", time.monotonic() - started
            return name, what, None, time.monotonic() - started

        failed = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(names), 16))) as pool:
            for name, what, error, seconds in pool.map(one, names):
                if error is None:
                    self.log("resume", f"{name}: {what} in {seconds:.1f} s")
                    continue
                failed.append(name)
                self.log("resume", f"{name}: failed after {seconds:.1f} s: {error}")
                try:
                    removed = self.provider.delete(name)
                    self.log("resume", f"{name}: {'removed what was created' if removed else 'nothing was left'}")
                except ProviderError as exc:
                    self.log("resume", f"{name}: could not remove what was created ({exc}); reconcile will")
        if failed:
            reason = f"{REASON_PREFIX} resume failed, see the autoscale log"
            set_state(failed, "DOWN", reason)
            self.log("resume", f"{hostlist(failed)}: marked DOWN ({reason})")
        return 1 if failed else 0

    def suspend(self, names, action="suspend"):
        status = 0
        for name in self.ours(names, action):
            try:
                removed = self.provider.delete(name)
            except ProviderError as exc:
                self.log(action, f"{name}: removal failed: {exc}")
                status = 1
                continue
            self.log(action, f"{name}: {'removed' if removed else 'was not there'}")
        return status

    def resume_fail(self, names):
        """Nodes that did not join Slurm within ResumeTimeout: Slurm has marked them DOWN; remove what exists."""
        return self.suspend(names, "resume-fail")

    def remove_unwanted(self, found, states):
        """Remove the provider's nodes that Slurm does not know or has powered down; the number removed."""
        grace = int(self.config.get("orphan_grace_seconds", 60))
        now = time.time()
        removed = 0
        for name, info in sorted(found.items()):
            state = states.get(name)
            if state is None:
                why = "unknown to Slurm"
            elif "POWERED_DOWN" in state["flags"] and "POWERING_UP" not in state["flags"]:
                why = "powered down in Slurm"
            else:
                continue
            if now - float(info.get("created") or 0) < grace:
                continue  # just created: Slurm may not have seen it yet
            try:
                self.provider.delete(name)
            except ProviderError as exc:
                self.log("reconcile", f"{name}: removal failed ({why}): {exc}")
                continue
            self.log("reconcile", f"{name}: removed from the provider ({why})")
            removed += 1
        return removed

    def reset_in_slurm(self, found, states):
        """Offer again the nodes whose resume failed, power down those gone from the provider; the number reset."""
        failed_off, failed_on, gone = [], [], []
        for name in self.nodes:
            state = states.get(name)
            if state is None or name in found or "POWERING_DOWN" in state["flags"]:
                continue
            flags = state["flags"]
            # A failed resume leaves the node DOWN with our reason (and POWERING_UP until ResumeTimeout);
            # one that did not join in time is DOWN and POWERED_DOWN with Slurm's.
            if "DOWN" in flags and state["reason"].startswith((REASON_PREFIX, RESUME_TIMEOUT_REASON)):
                (failed_off if "POWERED_DOWN" in flags else failed_on).append(name)
            elif not flags & {"POWERED_DOWN", "POWERING_UP"}:
                gone.append(name)
        if failed_off:
            set_state(failed_off, "RESUME")
        if failed_on:
            set_state(failed_on, "POWER_DOWN_FORCE", f"{REASON_PREFIX} offered again after a failed resume")
        if failed_off or failed_on:
            names = hostlist(failed_off + failed_on)
            self.log("reconcile", f"{names}: failed resume cleaned up; powered down, offered again")
        if gone:
            set_state(gone, "POWER_DOWN_FORCE", f"{REASON_PREFIX} gone from the provider")
            self.log("reconcile", f"{hostlist(gone)}: up in Slurm but gone from the provider; powered down")
        return len(failed_off) + len(failed_on) + len(gone)

    def reconcile(self):
        """Compare Slurm's nodes with the provider's and clean up both."""
        found = self.provider.list()
        states = slurm_states(self.nodes)
        changes = self.remove_unwanted(found, states) + self.reset_in_slurm(found, states)
        self.log("reconcile", f"{len(found)} at the provider, {changes} change(s)")
        return 0


def standard_streams():
    """Open /dev/null on standard input, output and error where they are closed.

    slurmctld starts the programs with them closed; a socket or pipe opened later would
    otherwise get their numbers, and a child process would read or write it as its own.
    """
    while True:
        descriptor = os.open(os.devnull, os.O_RDWR)
        if descriptor > 2:
            os.close(descriptor)
            break


def parse_arguments(argv):
    """``(action, hostlist)`` from the command line (the program's name or its first argument), or None."""
    name = os.path.basename(argv[0])
    if name.startswith("learnhpc-") and name[len("learnhpc-") :] in ACTIONS:
        action, rest = name[len("learnhpc-") :], argv[1:]
    elif len(argv) > 1 and argv[1] in ACTIONS:
        action, rest = argv[1], argv[2:]
    else:
        print(f"usage: {name} {{{','.join(ACTIONS)}}} [HOSTLIST]", file=sys.stderr)
        return None
    if (action == "reconcile") != (not rest) or len(rest) > 1:
        print(f"{name}: {action} takes {'no host list' if action == 'reconcile' else 'one host list'}", file=sys.stderr)
        return None
    return action, (rest[0] if rest else None)


def act(config, action, nodes, log):
    """Do ``action`` on ``nodes`` (a host list; None for reconcile), under the lock; the exit status."""
    state_dir = config.get("state_dir", "/var/lib/learnhpc-autoscale")
    with open(os.path.join(state_dir, "lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        scaler = Autoscaler(config, PROVIDERS[config["provider"]](config, log), log)
        if action == "reconcile":
            return scaler.reconcile()
        names = hostnames(nodes)
        return {"resume": scaler.resume, "suspend": scaler.suspend, "resume-fail": scaler.resume_fail}[action](names)


def main(argv=None):
    standard_streams()
    parsed = parse_arguments(list(sys.argv if argv is None else argv))
    if parsed is None:
        return 2
    action, nodes = parsed
    try:
        with open(CONFIG, encoding="utf-8") as stream:
            config = json.load(stream)
    except (OSError, ValueError) as exc:
        print(f"learnhpc-{action}: cannot read {CONFIG}: {exc}", file=sys.stderr)
        return 1
    log = Log(config.get("log", ""))
    try:
        return act(config, action, nodes, log)
    except (ProviderError, OSError, KeyError, ValueError, ImportError) as exc:
        log(action, f"failed: {type(exc).__name__}: {exc}")
    except Exception as exc:  # pylint: disable=broad-exception-caught  # slurmctld shows no traceback: log it
        where = traceback.extract_tb(exc.__traceback__)[-1]
        log(action, f"failed: {type(exc).__name__}: {exc} (at line {where.lineno}, in {where.name})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
