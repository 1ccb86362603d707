# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names and rules that every part of learnhpc.cluster shares (docs/contracts.md).

The modules, the inventory plugin, the filters and the autoscale program read them from here,
never from a copy of their own. Standard library only: the autoscale program runs with the
Python of a node and gets this file beside it.

- The labels of Docker containers, networks and volumes and the metadata of OpenStack servers
  (``*_KEY``), the tag of Neutron resources (``event_tag``) and the description prefix of what
  the collection makes on OpenStack.
- The event name rule (``EVENT_NAME_RE``; module_utils/event_file.py's ``event_name_error`` says why a name breaks it),
  and the lengths of host and user names.
- The labels of a node (``node_labels``) and of a Docker network or volume (``resource_labels``).
- The names of what an event has on a provider (``openstack_names``, ``docker_names``, ``libvirt_names``).
- The words that mark a secret in a configuration, the values found under them
  (``secret_values``) and a message with them replaced (``scrub``).
"""

from __future__ import annotations

import hashlib
import re

# --- Labels and metadata -------------------------------------------------------------------
LABEL_PREFIX = "org.learnhpc."
EVENT_KEY = LABEL_PREFIX + "event"
ROLES_KEY = LABEL_PREFIX + "roles"
END_DATE_KEY = LABEL_PREFIX + "end_date"
# The end date plus the accounts' grace days: the day after which the event may be reaped.
EXPIRES_KEY = LABEL_PREFIX + "expires"
PROVIDER_KEY = LABEL_PREFIX + "provider"
# OpenStack servers only: the user Ansible logs in as. The one reserved key a caller may set.
SSH_USER_KEY = LABEL_PREFIX + "ssh_user"
# Compute nodes that Slurm created (role slurm_autoscale), with the value AUTOSCALED_VALUE.
AUTOSCALED_KEY = LABEL_PREFIX + "autoscaled"
AUTOSCALED_VALUE = "true"
# Images of docker_node_image: what the source's configuration was.
FINGERPRINT_KEY = LABEL_PREFIX + "fingerprint"
# What every node of an event carries, in this order.
NODE_KEYS = (EVENT_KEY, ROLES_KEY, END_DATE_KEY, EXPIRES_KEY, PROVIDER_KEY)
# Docker networks and volumes of an event carry these only.
RESOURCE_KEYS = (EVENT_KEY, END_DATE_KEY, PROVIDER_KEY)
# Node roles, in the order of their names (dtn: the Globus endpoint's data transfer node).
NODE_ROLES = ("mgmt", "login", "compute", "dtn")
PROVIDERS = ("docker", "openstack", "libvirt")
# Host names (servers, containers) and the user names of the nodes (openstack.ssh_user).
HOST_NAME_MAX = 63
USER_NAME_MAX = 32
USER_NAME_RE = re.compile(rf"[a-z_][a-z0-9_-]{{0,{USER_NAME_MAX - 1}}}")
USER_NAME_RULE = (
    f"a user name (lower-case letters, digits, '_' and '-', not starting with a digit or '-', at most {USER_NAME_MAX}"
    " characters)"
)

# --- OpenStack: the Neutron tag and the description of what the collection makes -------------
TAG_PREFIX = "learnhpc-event="
DESCRIPTION_PREFIX = "learnhpc event "

# --- Event names ---------------------------------------------------------------------------
EVENT_NAME_MAX = 24
EVENT_NAME_RE = re.compile(rf"[a-z](?:[a-z0-9-]{{0,{EVENT_NAME_MAX - 2}}}[a-z0-9])?")
EVENT_NAME_RULE = (
    f"lower-case letters, digits and '-', starting with a letter, not ending with '-', at most {EVENT_NAME_MAX}"
    " characters"
)

# --- Secrets -------------------------------------------------------------------------------
# A key of a configuration (clouds.yaml's auth, an event file) whose value is secret when its
# name, in lower case, contains one of these.
SECRET_WORDS = ("password", "passcode", "secret", "token", "key")
SCRUBBED = "***"


def event_tag(event):
    """The Neutron tag of the resources of ``event``."""
    return TAG_PREFIX + event


def tags_event(tags):
    """The event named by a resource's tags, or ``None``."""
    for tag in tags or []:
        if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :]
    return None


def node_labels(event, roles, end_date, expires, provider, *, ssh_user=None):
    """The labels (Docker) or metadata (OpenStack) every node of ``event`` carries, in NODE_KEYS order;
    on OpenStack also the user Ansible logs in as, when it is given."""
    labels = {
        EVENT_KEY: event,
        ROLES_KEY: ",".join(roles),
        END_DATE_KEY: str(end_date),
        EXPIRES_KEY: str(expires or end_date),
        PROVIDER_KEY: provider,
    }
    if ssh_user:
        labels[SSH_USER_KEY] = ssh_user
    return labels


def resource_labels(event, end_date, provider):
    """The labels of an event's Docker networks and volumes (RESOURCE_KEYS)."""
    return {EVENT_KEY: event, END_DATE_KEY: str(end_date), PROVIDER_KEY: provider}


def is_autoscaled(labels):
    """Whether labels (or metadata) mark a node that Slurm created."""
    return (labels or {}).get(AUTOSCALED_KEY) == AUTOSCALED_VALUE


def openstack_names(event):
    """The exact names of what an event has on OpenStack, by kind."""
    return {
        "network": f"{event}-net",
        "subnet": f"{event}-subnet",
        "router": f"{event}-router",
        "internal_group": f"{event}-internal",
        "login_group": f"{event}-login",
        "globus_group": f"{event}-globus",
        "keypair": f"{event}-key",
        "credential": f"{event}-autoscale",
        "image_builder": f"{event}-image",
    }


def docker_names(event, shared_dirs=("home", "project", "scratch")):
    """The exact names of what an event has on a Docker engine besides its containers."""
    return {
        "network": f"learnhpc-{event}",
        "volumes": {directory: f"learnhpc-{event}-{directory}" for directory in shared_dirs},
    }


# libvirt: the XML namespace of the <metadata> element that carries a domain's labels
# (libvirt_metadata), and the most characters of a Linux network interface name (a bridge).
LIBVIRT_METADATA_NS = "https://learnhpc.org/xmlns/libvirt/node/1"
LIBVIRT_METADATA_PREFIX = "learnhpc"
IFNAME_MAX = 15


def libvirt_names(event):
    """The exact names of what an event has on libvirt besides its domains (named as its nodes).

    The bridge's name must fit in IFNAME_MAX characters, which no event name of 24 does with a
    prefix: it is made from a hash of the name instead.
    """
    digest = hashlib.sha256(event.encode()).hexdigest()[:10]
    return {"network": f"learnhpc-{event}", "bridge": f"lh-{digest}", "pool": f"learnhpc-{event}"}


def libvirt_default_cidr(event):
    """The default address range of an event's libvirt network: a /24 of 10.77.0.0/16 chosen by the
    event's name, so that events side by side on one host rarely need to set one."""
    number = int(hashlib.sha256(event.encode()).hexdigest()[:8], 16) % 254 + 1
    return f"10.77.{number}.0/24"


def is_secret_key(key):
    return isinstance(key, str) and any(word in key.lower() for word in SECRET_WORDS)


def secret_values(value, key=""):
    """The non-empty string values under secret keys (``is_secret_key``) of a nested dict, at any depth."""
    if isinstance(value, dict):
        for sub_key, sub_value in value.items():
            yield from secret_values(sub_value, str(sub_key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_values(item, key)
    elif isinstance(value, str) and value and is_secret_key(key):
        yield value


def scrub(message, secrets):
    """``message`` with every secret replaced by ``***``, the longest first (one may contain another)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        message = message.replace(secret, SCRUBBED)
    return message
