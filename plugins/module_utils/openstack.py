# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared code of the event-level OpenStack modules of learnhpc.cluster.

``OpenStackModule`` is the base class of every module: it builds the ``AnsibleModule`` with the
shared connection options (doc fragment ``learnhpc.cluster.openstack``), checks the ``event``
option, opens the openstacksdk connection, checks the credentials once, and turns every
openstacksdk or keystoneauth error into one line without a traceback. A module sets
``argument_spec`` and ``module_kwargs`` and writes ``run()``.

The event identity (docs/contracts.md): servers carry the metadata ``org.learnhpc.*``;
Neutron resources carry the tag ``learnhpc-event=<event>``; volumes carry the metadata key
``org.learnhpc.event``; the key pair and the application credential, which have neither tags
nor metadata, by an exact name and what the collection writes into them (``owns_keypair``,
``owns_credential``), never by a name prefix. The network, subnet, router and security groups of an event
are tagged when they are made (``OpenStackModule.create_tagged``); one left untagged (an interrupted run, a cloud
without Neutron's ``tag-creation``) is still the event's by its exact name (``network_names``) and the
description the collection gave it (``owns_untagged``).

Every call through ``self.conn``'s service proxies is retried on transient failures (``_RetryingConnection``),
and each request waits at most ``api_timeout`` seconds (default ``DEFAULT_API_TIMEOUT``).
"""

from __future__ import annotations

import time
import traceback
import types
from typing import ClassVar

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

# The shared names (module_utils/contract.py).
from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    DESCRIPTION_PREFIX,
    EVENT_KEY,
    ROLES_KEY,
    event_tag,
    openstack_names,
    secret_values,
    tags_event,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_file import event_name_error

try:
    import keystoneauth1.exceptions as ks_exceptions
    import openstack
    import openstack.config
    from openstack import exceptions as sdk_exceptions
except ImportError:
    HAS_SDK = False
    SDK_IMPORT_ERROR = traceback.format_exc()
    openstack = None
    ks_exceptions = None
    sdk_exceptions = None
else:
    HAS_SDK = True
    SDK_IMPORT_ERROR = None

PROVIDER = "openstack"
# Seconds one request to the cloud's API may take (option api_timeout).
DEFAULT_API_TIMEOUT = 60
# Transient failures (a connection refused or timed out, 502/503/504) are retried this many times, after
# RETRY_DELAY seconds, then twice that, and so on.
RETRIES = 3
RETRY_DELAY = 2
TRANSIENT_STATUS = (502, 503, 504)
# ... but a request that makes something (create_*, add_*) only on answers that say it was not carried
# out: after a timeout, a lost connection or 504 the resource may exist, and a second request would make
# another one. The next run finds it (it was tagged in the same request).
NOT_CARRIED_OUT_STATUS = (502, 503)
ONCE_PREFIXES = ("create_", "add_")
# The service proxies of a connection whose calls are retried.
PROXIES = ("compute", "network", "image", "block_storage", "identity")


def collection_description(event, what):
    """The description of a Neutron resource the collection makes for ``event``."""
    return f"{DESCRIPTION_PREFIX}{event}: {what}"


def floating_ip_description(event):
    """The description of the floating IPs the collection allocates for ``event`` (they have no name)."""
    return collection_description(event, "floating IP")


def network_names(event):
    """The names of the Neutron resources of ``event``, by kind (docs/contracts.md)."""
    names = openstack_names(event)
    return {
        "networks": [names["network"]],
        "subnets": [names["subnet"]],
        "routers": [names["router"]],
        "security_groups": [names["internal_group"], names["login_group"], names["globus_group"]],
    }


def owns_untagged(resource, event, kind):
    """Whether a Neutron resource without an event's tag is one the collection made for ``event``.

    It has exactly one of the names of ``network_names(event)[kind]`` and a description starting with
    ``learnhpc event <event>: `` (a floating IP, which has no name: exactly ``floating_ip_description``).
    Never by a name prefix: ``demo-2-net`` is not event ``demo``'s.
    """
    if tags_event(getattr(resource, "tags", None)) is not None:
        return False
    description = getattr(resource, "description", None) or ""
    if kind == "floating_ips":
        return description == floating_ip_description(event)
    names = network_names(event).get(kind, [])
    return getattr(resource, "name", None) in names and description.startswith(collection_description(event, ""))


def server_event(server):
    """The event a server belongs to (its metadata), or ``None``."""
    metadata = getattr(server, "metadata", None) or {}
    return metadata.get(EVENT_KEY)


def server_roles(server):
    """The node roles of a server, from its metadata, as a list."""
    metadata = getattr(server, "metadata", None) or {}
    return [role for role in (metadata.get(ROLES_KEY) or "").split(",") if role]


def owns_keypair(keypair, event):
    """Whether a key pair is the one the collection made for ``event``.

    Key pairs have neither tags nor metadata. The collection names the one it generates
    ``<event>-key`` and writes that name as the public key's comment; a trainer's own key pair
    (``openstack.key_name``) is never the event's, whatever its name.
    """
    name = f"{event}-key"
    words = (getattr(keypair, "public_key", None) or "").split()
    return getattr(keypair, "name", None) == name and len(words) >= 3 and words[2] == name


AUTOSCALE_CREDENTIAL = "learnhpc.cluster.slurm_autoscale"


def owns_credential(credential, event):
    """Whether an application credential is the one slurm_autoscale made for ``event``.

    Its name is ``<event>-autoscale`` and its description ends with
    ``of event <event> (learnhpc.cluster.slurm_autoscale)``.
    """
    description = getattr(credential, "description", None) or ""
    return getattr(credential, "name", None) == f"{event}-autoscale" and description.endswith(
        f"of event {event} ({AUTOSCALE_CREDENTIAL})"
    )


def listing(names, limit=30):
    """Names for a one-line message: sorted, comma-separated, shortened after ``limit``."""
    names = sorted({str(name) for name in names if name})
    if not names:
        return "(none)"
    if len(names) > limit:
        return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
    return ", ".join(names)


def one_line(text):
    """``text`` with its white space (new lines included) collapsed."""
    return " ".join(str(text).split())


def error_text(exc):
    """One line for an openstacksdk or keystoneauth error."""
    details = getattr(exc, "details", None)
    status = getattr(exc, "status_code", None)
    if details and status:
        return one_line(f"{status} {details}")
    return one_line(str(exc) or type(exc).__name__)


def shared_argument_spec():
    """The options every module of the group has (doc fragment learnhpc.cluster.openstack)."""
    return {
        "cloud": {"type": "raw"},
        "auth": {"type": "dict", "no_log": True},
        "auth_type": {"type": "str"},
        "region_name": {"type": "str"},
        "interface": {"type": "str", "default": "public", "choices": ["public", "internal", "admin"]},
        "validate_certs": {"type": "bool"},
        "ca_cert": {"type": "path"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path", "no_log": False},
        "api_timeout": {"type": "int", "default": DEFAULT_API_TIMEOUT},
        "wait": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 600},
    }


def _cloud_label(params):
    cloud = params.get("cloud")
    if isinstance(cloud, str):
        return cloud
    if isinstance(cloud, dict):
        return "(given as a dict)"
    return "(from the OS_* environment variables)"


def _connect(params):
    """An openstacksdk connection from the shared options (the unit tests replace this function)."""
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        settings = {"api_timeout": params.get("api_timeout"), **cloud}
        return openstack.connect(load_yaml_config=False, load_envvars=False, **settings)
    return openstack.connect(
        cloud=cloud,
        auth_type=params.get("auth_type"),
        auth=params.get("auth"),
        region_name=params.get("region_name"),
        verify=params.get("validate_certs"),
        cacert=params.get("ca_cert"),
        cert=params.get("client_cert"),
        key=params.get("client_key"),
        api_timeout=params.get("api_timeout"),
        interface=params.get("interface"),
    )


def _known_clouds():
    """``(names, file)``: the clouds of the clouds.yaml openstacksdk reads, and that file (or ``None``)."""
    config = openstack.config.OpenStackConfig()
    names = [name for name in config.get_cloud_names() if name != "envvars"]
    return names, config.config_filename


# The secrets of a (nested) auth dict: the contract's rule (module_utils/contract.py).
_secret_values = secret_values


def _status(exc):
    return getattr(exc, "status_code", None) or getattr(exc, "http_status", None)


def _transient(exc):
    """Whether a failed request may well work a moment later (API restarting, overloaded, a proxy's hiccup)."""
    if ks_exceptions is not None and isinstance(exc, ks_exceptions.RetriableConnectionFailure):
        return True
    return isinstance(exc, Exception) and _status(exc) in TRANSIENT_STATUS


def _not_carried_out(exc):
    """Whether a failed request certainly changed nothing (the service said it did not take it)."""
    return _status(exc) in NOT_CARRIED_OUT_STATUS


def retrying(call, sleep, once=False, retries=RETRIES, delay=RETRY_DELAY):
    """``call()``, again after ``delay``, ``2 * delay``, ... seconds (``retries`` times) on a transient failure.

    With ``once`` (a request that makes something) only when the failure says that nothing was made.
    A generator (an openstacksdk listing, whose requests run while it is read) is read here, into a list.
    """
    attempt = 0
    while True:
        try:
            result = call()
            if isinstance(result, types.GeneratorType):
                result = list(result)
            return result
        except Exception as exc:  # pylint: disable=broad-exception-caught  # re-raised unless transient
            repeat = _not_carried_out(exc) if once else _transient(exc)
            if not repeat or attempt >= retries:
                raise
        sleep(delay * 2**attempt)
        attempt += 1


class _RetryingProxy:
    """A service proxy (``conn.network``, ...) whose method calls go through ``retrying``."""

    def __init__(self, proxy, sleep):
        self._proxy = proxy
        self._sleep = sleep

    def __getattr__(self, name):
        value = getattr(self._proxy, name)
        if name.startswith("_") or not callable(value):
            return value
        once = name.startswith(ONCE_PREFIXES)

        def call(*args, **kwargs):
            return retrying(lambda: value(*args, **kwargs), self._sleep, once=once)

        return call


class _RetryingConnection:
    """An openstacksdk connection whose service proxies retry transient failures (one place for all modules)."""

    def __init__(self, conn, sleep):
        self._conn = conn
        self._proxies = {name: _RetryingProxy(getattr(conn, name), sleep) for name in PROXIES if hasattr(conn, name)}

    def __getattr__(self, name):
        if name in self._proxies:
            return self._proxies[name]
        return getattr(self._conn, name)


class OpenStackModule:
    """Base class of the event-level OpenStack modules.

    Subclasses set ``argument_spec`` (their own options; the shared ones are added) and
    ``module_kwargs`` (``supports_check_mode`` and the like), and implement ``run()``, which
    calls ``self.exit(**result)`` or ``self.fail(msg, **result)``. ``self.conn`` is the connection.
    """

    argument_spec: ClassVar[dict] = {}
    module_kwargs: ClassVar[dict] = {}
    # Seconds between two looks at resources being built or removed.
    poll_interval = 2
    # The clock and the pause of the waits (the unit tests replace them with a fake clock).
    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def __init__(self):
        spec = shared_argument_spec()
        spec.update(self.argument_spec)
        self.ansible = AnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.diff_mode = self.ansible._diff
        self.conn = None
        self.cloud_label = _cloud_label(self.params)
        self._tag_creation = None

    # -- results ---------------------------------------------------------------------------

    def exit(self, **result):
        result.setdefault("changed", False)
        self.ansible.exit_json(**result)

    def fail(self, msg, **result):
        """Fail with ``msg``, one line, or with a list of lines (then also returned as ``errors``)."""
        if isinstance(msg, (list, tuple)):
            lines = [one_line(line) for line in msg]
            self.ansible.fail_json(msg="\n".join(lines), errors=lines, **result)
        self.ansible.fail_json(msg=one_line(msg), **result)

    # -- connection ------------------------------------------------------------------------

    def _hide_secrets(self, auth):
        for value in _secret_values(auth):
            self.ansible.no_log_values.add(value)

    def connect(self):
        """Open the connection and get a token; fails with one line when that is not possible."""
        cloud = self.params.get("cloud")
        if cloud is not None and not isinstance(cloud, (str, dict)):
            self.fail(f"cloud must be the name of a cloud in clouds.yaml or a dict, got {type(cloud).__name__}")
        if isinstance(cloud, dict):
            self._hide_secrets(cloud)
            options = ("auth", "auth_type", "region_name", "validate_certs", "ca_cert")
            given = [key for key in options if self.params[key] is not None]
            if given:
                self.fail(f"cloud is a dict: give {', '.join(given)} inside it, not as options")
        if isinstance(cloud, str):
            names, path = _known_clouds()
            if cloud not in names:
                if path is None:
                    self.fail(f"unknown cloud {cloud!r}: no clouds.yaml was found (set OS_CLIENT_CONFIG_FILE)")
                self.fail(f"unknown cloud {cloud!r}: the clouds in {path} are {listing(names)}")
        label = self.cloud_label
        try:
            conn = _connect(self.params)
            self._hide_secrets(getattr(conn.config, "config", {}).get("auth"))
            conn.session.get_token()
        except ks_exceptions.ConnectFailure as exc:
            self.fail(f"cannot reach the identity service of cloud {label}: {error_text(exc)}")
        except ks_exceptions.MissingRequiredOptions as exc:
            self.fail(f"the credentials of cloud {label} are incomplete: {error_text(exc)}")
        except (ks_exceptions.ClientException, sdk_exceptions.SDKException) as exc:
            self.fail(f"authentication failed for cloud {label}: {error_text(exc)}")
        except Exception as exc:  # pylint: disable=broad-exception-caught  # keystoneauth raises bare Exceptions
            self.fail(f"authentication failed for cloud {label}: {error_text(exc)}")
        return _RetryingConnection(conn, self.sleep)

    def __call__(self):
        """Check the event name, connect, run; every SDK error becomes one line."""
        cloud = self.uses_cloud()
        if cloud and not HAS_SDK:
            self.fail(missing_required_lib("openstacksdk"), exception=SDK_IMPORT_ERROR)
        if "event" in self.argument_spec and self.params.get("event") is not None:
            problem = event_name_error(self.params["event"])
            if problem is not None:
                self.fail(problem)
        self.check_input()
        self.conn = self.connect() if cloud else None
        try:
            self.run()
        except ks_exceptions.ClientException as exc:
            self.fail(f"cloud {self.cloud_label}: {error_text(exc)}")
        except sdk_exceptions.SDKException as exc:
            self.fail(f"cloud {self.cloud_label}: {error_text(exc)}")

    def check_input(self):
        """Checks of the options that need no cloud (before connecting); fail with one line."""

    def uses_cloud(self):
        """Whether this run needs the cloud (``self.conn``); a module that can also look elsewhere says no."""
        return True

    def run(self):  # pragma: no cover - every module has one
        raise NotImplementedError

    # -- waiting ---------------------------------------------------------------------------

    def deadline(self):
        return self.now() + self.params["timeout"]

    def wait_for(self, pending, what):
        """Poll ``pending()`` (a list of what is not ready yet) until it is empty.

        Fails with one line naming what was still pending after ``timeout`` seconds.
        """
        end = self.deadline()
        while True:
            left = pending()
            if not left:
                return
            if self.now() >= end:
                self.fail(f"timed out after {self.params['timeout']}s waiting for {what}: {listing(left)}")
            self.sleep(self.poll_interval)

    def retry_conflict(self, call, end=None):
        """Call ``call()``, again while the cloud answers 409 Conflict (a resource still in use), until ``end``."""
        end = end if end is not None else self.deadline()
        while True:
            try:
                return call()
            except sdk_exceptions.ConflictException:
                if self.now() >= end:
                    raise
                self.sleep(self.poll_interval)

    # -- Neutron resources of an event ----------------------------------------------------

    def tag_creation(self):
        """Whether Neutron takes tags in the request that creates a resource (extension ``tag-creation``)."""
        if self._tag_creation is None:
            found = self.conn.network.find_extension("tag-creation", ignore_missing=True)
            self._tag_creation = found is not None
        return self._tag_creation

    def create_tagged(self, kind, event, **attrs):
        """Create a Neutron resource (``create_<kind>`` of the network proxy) tagged with ``event``.

        In the same request when the cloud has ``tag-creation``; else tagged right after (an interruption
        in between leaves it untagged, but with the collection's name and description: ``owns_untagged``).
        """
        tag = event_tag(event)
        create = getattr(self.conn.network, f"create_{kind}")
        if self.tag_creation():
            return create(tags=[tag], **attrs)
        resource = create(**attrs)
        self.conn.network.set_tags(resource, [tag])
        resource.tags = [tag]
        return resource

    # -- shared look-ups -------------------------------------------------------------------

    def project_id(self):
        return self.conn.current_project_id

    def has_volumes(self):
        """Whether the cloud has a block storage service (some small clouds have none)."""
        return self.conn.has_service("block-storage")

    def event_volumes(self, event):
        """The volumes of ``event`` (metadata org.learnhpc.event); none when there is no block storage."""
        if not self.has_volumes():
            return []
        return [
            volume
            for volume in self.conn.block_storage.volumes(details=True)
            if (volume.metadata or {}).get(EVENT_KEY) == event
        ]

    def event_servers(self, event=None):
        """The servers of the project, those of ``event`` only when given."""
        servers = list(self.conn.compute.servers(details=True))
        if event is None:
            return servers
        return [server for server in servers if server_event(server) == event]
