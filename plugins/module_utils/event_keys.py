# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keys of the event file: one row a key, what it may hold, its default and its documentation.

``KEYS`` is read by the checks (module_utils/event_checker.py walks it, event_rules.py adds the
checks across keys) and by scripts/event_doc.py, which writes the key tables of
docs/event-file.md from it. A simple new key is one new row.

A row (``Key``):

- ``path``: the key's place in the file, ``docker.ssh_port``; the keys of a list's items are
  ``accounts.instructors[].name``. The rows of a mapping follow it, in the order the messages
  list them.
- ``type``: ``mapping`` (a section, its keys are rows of their own) or the name of a check in
  event_checker.TYPES: the plain ``string`` (non-empty), ``text`` (any string), ``integer``,
  ``number`` (> 0), ``boolean``, ``choice``, ``date`` and ``true``, or a check of its own
  (``ssh_key``, ``cidrs``, ``credentials_file``, ...).
- ``default``: the value when the key is left out or null; a dict gives it by provider (docker's
  when the provider is not valid). An integer or number without a default may be null.
- ``minimum``, ``maximum``: an integer's bounds; a string's most characters (``maximum``).
- ``choices``; ``pattern`` and ``rule``: what a string must match, and the words for it in a
  message ("must be <rule>"). For an integer or number, ``rule`` replaces the words made from
  the bounds; for ``true``, it says why.
- ``provider``: ``docker``, ``openstack`` or ``libvirt`` when the key (with all below it) belongs to one
  provider only: it is then an error with the other. None: both.
- ``required``: whether the key must be given, ``hint`` the words after "is required".
- ``doc``: the "meaning" column of the key's row in docs/event-file.md ("" for a mapping whose
  keys have rows of their own); ``doc_type`` and ``doc_default``: the type and default columns,
  when they are not what scripts/event_doc.py makes of ``type`` and ``default``.

Some keys have checks across keys as well (event_rules.py): a default that depends on another
key (``max_count``, ``cvmfs_proxy``, ``globus.node``...), names that must differ, sections that
need a service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import (
    PROVIDERS,
    USER_NAME_MAX,
    USER_NAME_RE,
    USER_NAME_RULE,
)
from ansible_collections.learnhpc.cluster.plugins.module_utils.globus import (
    DOMAIN_RE,
    DOMAIN_RULE,
    EMAIL_RE,
    POSIX_USER_RE,
)

# A host-name label: a letter first, then letters, digits and "-", not ending with "-".
HOST_LABEL_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
HOST_LABEL_RULE = "a host-name label (lower-case letters, digits and '-', starting with a letter, not ending with '-')"
POSIX_NAME_RULE = "a user name (lower-case letters, digits, '_' and '-', not starting with a digit or '-')"
EESSI_VERSION_RE = re.compile(r"^\d{4}\.\d{2}$")
DEFAULT_PROVIDER = "docker"
ABSOLUTE_PATH_RE = re.compile(r"^/[^\0]*$")
ABSOLUTE_PATH_RULE = "an absolute path"
# Compute node numbers have at most three digits.
MAX_COMPUTE = 999


@dataclass(frozen=True)
class Key:
    """One key of the event file (see the module's documentation)."""

    path: str
    type: str
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple = ()
    pattern: re.Pattern | None = None
    rule: str = ""
    provider: str | None = None
    required: bool = False
    hint: str = ""
    doc: str = ""
    doc_type: str = ""
    doc_default: str = ""

    @property
    def name(self):
        """The key's own name: ``ssh_port`` for ``docker.ssh_port``."""
        return self.path.rpartition(".")[2]

    @property
    def parent(self):
        """The path of the mapping that holds the key, "" at the top level."""
        return self.path.rpartition(".")[0]


# fmt: off
KEYS = (
    Key("name", "string",
        doc="May be given for readability; must then equal the file name without `.yml`.",
        doc_default="the file name"),
    Key("description", "text", "",
        doc="Free text, e.g. the course title."),
    Key("provider", "choice", DEFAULT_PROVIDER, choices=PROVIDERS,
        doc="Where the nodes come from: containers on this machine, servers in an OpenStack cloud, or virtual "
        "machines on this machine through libvirt."),
    Key("start_date", "date",
        doc="First day of the event.", doc_default="today"),
    Key("end_date", "date", required=True, hint=" (the last day of the event, YYYY-MM-DD)",
        doc="Last day of the event. Must not be before `start_date`, and must not be in the past when the cluster "
        "is built."),

    Key("nodes", "mapping",
        doc="The nodes of the cluster."),
    Key("nodes.mgmt", "mapping"),
    Key("nodes.mgmt.name", "string", "mgmt", pattern=HOST_LABEL_RE, rule=HOST_LABEL_RULE,
        doc="Short name of the management node.", doc_type="host-name label"),
    Key("nodes.mgmt.flavor", "string", provider="openstack",
        doc="OpenStack flavor of this node; overrides `openstack.flavors.mgmt`. Only with `provider: openstack`.",
        doc_default="`openstack.flavors.mgmt`"),
    Key("nodes.login", "mapping"),
    Key("nodes.login.name", "string", "login", pattern=HOST_LABEL_RE, rule=HOST_LABEL_RULE,
        doc="Short name of the login node.", doc_type="host-name label"),
    Key("nodes.login.flavor", "string", provider="openstack",
        doc="As for mgmt.", doc_default="`openstack.flavors.login`"),
    Key("nodes.compute", "mapping"),
    Key("nodes.compute.count", "integer", 2, minimum=1,
        doc="Number of compute nodes.", doc_type=f"integer, 1 to {MAX_COMPUTE}"),
    Key("nodes.compute.max_count", "integer", rule="an integer >= nodes.compute.count",
        doc="The most compute nodes the event may grow to. Names are checked up to this number, and it decides the "
        "number of digits. With `provider: libvirt` it must equal `count` (no autoscaling there yet).",
        doc_type=f"integer, `count` to {MAX_COMPUTE}", doc_default="`count`"),
    Key("nodes.compute.prefix", "string", "compute", pattern=HOST_LABEL_RE, rule=HOST_LABEL_RULE,
        doc="Short names of the compute nodes are `<prefix>-01`, `<prefix>-02`, ...", doc_type="host-name label"),
    Key("nodes.compute.flavor", "string", provider="openstack",
        doc="As for mgmt.", doc_default="`openstack.flavors.compute`"),
    # Only with globus.node: dtn, and checked with the globus section (event_rules.py).
    Key("nodes.dtn", "mapping"),
    Key("nodes.dtn.name", "string", "dtn", pattern=HOST_LABEL_RE, rule=HOST_LABEL_RULE,
        doc="Short name of the data transfer node, which holds the Globus endpoint; only with `globus.node: dtn` "
        "(see [globus](#globus)).", doc_type="host-name label"),
    Key("nodes.dtn.flavor", "string", provider="openstack",
        doc="As for mgmt.", doc_default="`openstack.flavors.login`"),

    Key("docker", "mapping", provider="docker",
        doc="Docker settings; only with `provider: docker`."),
    Key("docker.image", "string", "learnhpc/node:12",
        doc="Image of all nodes. The default is the baked node image: Debian 12 with every package of the roles "
        "already installed (`make setup` builds it, `playbooks/node_image.yml` says what it holds). "
        "`learnhpc/debian-systemd:12` is plain Debian 12: the roles then install everything, which takes minutes "
        "longer."),
    Key("docker.ssh_port", "integer", 2222, minimum=1, maximum=65535,
        doc="Port on this machine that leads to SSH on the login node: `ssh -p 2222 guest01@127.0.0.1`."),
    Key("docker.https_port", "integer", 8443, minimum=1, maximum=65535,
        doc="Port on this machine that leads to the web services (JupyterHub). Must differ from `ssh_port`."),
    Key("docker.bind_address", "ip_address", "127.0.0.1",
        doc="Address the ports are published on. `127.0.0.1`: only this machine; `0.0.0.0`: every network this "
        "machine is on.", doc_type="IP address"),
    Key("docker.node_cpus", "number", rule="a number > 0 (CPUs) or null",
        doc="CPUs each container may use, e.g. `2` or `0.5`.", doc_default="null (no limit)"),
    Key("docker.node_memory_mb", "integer", minimum=256,
        doc="Memory of each container, MiB.", doc_default="null (no limit)"),
    # The job gateway's HTTPS port, published only when services.slurm_rest is on.
    Key("docker.rest_port", "integer", 6820, minimum=1, maximum=65535,
        doc="With `services.slurm_rest`: port on this machine that leads to the job gateway (Slurm's REST API, "
        "HTTPS) on the login node. Must then differ from `ssh_port` and `https_port`; unused otherwise."),

    Key("libvirt", "mapping", provider="libvirt",
        doc="libvirt settings; only with `provider: libvirt`: every node is a virtual machine on this machine "
        "(or the libvirt host of `uri`), on a NAT network of the event's own."),
    Key("libvirt.uri", "string", "qemu:///system",
        doc="The libvirt connection. The event's VMs, network and storage pool are made there."),
    Key("libvirt.image", "string", "/var/lib/libvirt/images/learnhpc/node-12.qcow2", pattern=ABSOLUTE_PATH_RE,
        rule=ABSOLUTE_PATH_RULE,
        doc="Disk image (qcow2) every node's disk starts from; each node writes to an overlay of its own. The default "
        "is the node disk that `LEARNHPC_SETUP_LIBVIRT=1 make setup` builds from the baked node image (every package "
        "of the roles installed). A Debian 12 cloud image (`debian-12-genericcloud-amd64.qcow2`) works with "
        "`boot: disk`.", doc_type="absolute path"),
    Key("libvirt.boot", "choice", "kernel", choices=("kernel", "disk"),
        doc="`kernel`: QEMU starts `kernel` with `initrd` and the image as its root file system (the default image "
        "has no boot loader). `disk`: the image boots by itself, as a cloud image does."),
    Key("libvirt.kernel", "string", "/var/lib/libvirt/images/learnhpc/node-12.vmlinuz", pattern=ABSOLUTE_PATH_RE,
        rule=ABSOLUTE_PATH_RULE,
        doc="With `boot: kernel`: the kernel to start.", doc_type="absolute path"),
    Key("libvirt.initrd", "string", "/var/lib/libvirt/images/learnhpc/node-12.initrd.img", pattern=ABSOLUTE_PATH_RE,
        rule=ABSOLUTE_PATH_RULE,
        doc="With `boot: kernel`: its initial RAM disk.", doc_type="absolute path"),
    Key("libvirt.network_cidr", "ipv4_network",
        doc="Address range of the event's NAT network. Must be a network address with a prefix length from 16 to "
        "28, and must not overlap another network of the host.", doc_type="IPv4 network",
        doc_default="a /24 of 10.77.0.0/16 chosen by the event's name"),
    Key("libvirt.ssh_port", "integer", 2222, minimum=1, maximum=65535,
        doc="Port on this machine that leads to SSH on the login node, as `docker.ssh_port`."),
    Key("libvirt.https_port", "integer", 8443, minimum=1, maximum=65535,
        doc="Port on this machine that leads to the web services (JupyterHub). Must differ from `ssh_port`."),
    Key("libvirt.rest_port", "integer", 6820, minimum=1, maximum=65535,
        doc="With `services.slurm_rest`: port on this machine that leads to the job gateway. Must then differ from "
        "`ssh_port` and `https_port`."),
    Key("libvirt.bind_address", "ip_address", "127.0.0.1",
        doc="Address the ports listen on, as `docker.bind_address`.", doc_type="IP address"),
    Key("libvirt.node_vcpus", "integer", 1, minimum=1, maximum=64,
        doc="Virtual CPUs of each node. Without hardware virtualization (QEMU's TCG) each is one thread of this "
        "machine, and slow: count on one core of the host per node that boots at once."),
    Key("libvirt.node_memory_mb", "integer", 2048, minimum=512,
        doc="Memory of each node, MiB."),
    Key("libvirt.node_disk_gb", "integer", 10, minimum=4, maximum=2048,
        doc="Size of each node's disk, GiB; the root file system grows to it at the first boot."),
    Key("libvirt.ssh_user", "string", "debian", pattern=USER_NAME_RE, rule=USER_NAME_RULE,
        doc="The image's default user, used by Ansible (cloud-init gives it the event's SSH key).",
        doc_type="user name"),

    Key("openstack", "mapping", provider="openstack", required=True,
        doc="OpenStack settings; **required** with `provider: openstack`, an error with `provider: docker`.",
        doc_default="none"),
    Key("openstack.cloud", "string", required=True,
        doc="Name of the cloud in your `clouds.yaml` (openstacksdk)."),
    Key("openstack.image", "string", required=True,
        doc="Image name or ID for all nodes: a Debian 12 cloud image, or the node image `learnhpc-node-<recipe>` "
        "that `ansible-playbook playbooks/openstack_image.yml -e event=NAME` bakes from it (every package of the "
        "roles installed; the roles then install nothing)."),
    Key("openstack.flavors", "mapping", required=True),
    Key("openstack.flavors.mgmt", "string", required=True,
        doc="Flavor of the management node."),
    Key("openstack.flavors.login", "string", required=True,
        doc="Flavor of the login node."),
    Key("openstack.flavors.compute", "string", required=True,
        doc="Flavor of the compute nodes."),
    Key("openstack.network_cidr", "ipv4_network", "10.42.0.0/24",
        doc="Address range of the event's private network. Must be a network address (`10.42.0.0/24`, not "
        "`10.42.0.5/24`) with a prefix length from 16 to 28.", doc_type="IPv4 network"),
    Key("openstack.external_network", "string", required=True,
        doc="The provider network floating IPs come from (often `public`)."),
    Key("openstack.allowed_cidrs", "cidrs", required=True,
        hint=": the address ranges (CIDRs) that may reach the login node, e.g. [192.0.2.0/24]",
        doc="Who may reach SSH and HTTPS on the login node, e.g. the training room's network. At least one. A "
        "single address may be written without `/32`.", doc_type="list of CIDRs"),
    Key("openstack.ssh_user", "string", "debian", pattern=USER_NAME_RE, rule=USER_NAME_RULE,
        doc="The image's default user, used by Ansible.", doc_type="user name"),
    Key("openstack.key_name", "string",
        doc="An existing OpenStack key pair to put on the servers.", doc_type="string or null", doc_default="null"),
    # nfs: the mgmt node exports /home, /project and /scratch; site: the image or the site mounts them on every
    # node (CephFS, Lustre, Manila...), and the playbooks only check that they are mounted and shared.
    Key("openstack.shared_storage", "choice", "nfs", choices=("nfs", "site"),
        doc="Where `/home`, `/project` and `/scratch` come from. `nfs`: the management node exports them to the "
        "other nodes. `site`: the site already mounts a shared file system there on every server (CephFS, Lustre, "
        "Manila, made by the image or cloud-init); the playbooks set up no NFS and check, before anything else, "
        "that each directory is a mount point and that a file written on the management node is seen on every "
        "other node."),

    Key("accounts", "mapping",
        doc="Guest and instructor accounts."),
    Key("accounts.guests", "integer", 3, minimum=1, maximum=1000,
        doc="Number of guest accounts for attendees."),
    Key("accounts.prefix", "string", "guest", maximum=20, pattern=POSIX_USER_RE,
        rule=f"the start of {POSIX_NAME_RULE}",
        doc="Guest accounts are this prefix and a number (`guest01`, ...). Lower-case letters, digits, `_` and `-`, "
        "starting with a letter or `_`.", doc_type="start of a user name, at most 20 characters"),
    Key("accounts.instructors", "instructors", [],
        doc="Instructor accounts, see below.", doc_type="list"),
    Key("accounts.instructors[].name", "string", required=True, pattern=USER_NAME_RE, rule=USER_NAME_RULE,
        doc="Login name. Lower-case letters, digits, `_` and `-`, starting with a letter or `_`. Unique among the "
        "instructors; must not look like a guest account (the guest prefix followed by digits, e.g. `guest7`), and "
        "must not be a system or service account (`root`, `daemon`, `bin`, `sys`, `nobody`, `debian`, `slurm`, "
        "`munge`, `jupyterhub`, `ldap`, `cvmfs`).", doc_type=f"user name, at most {USER_NAME_MAX} characters"),
    Key("accounts.instructors[].ssh_key", "ssh_key", required=True, hint=": an OpenSSH public key, or 'generate'",
        doc="See below.", doc_type="OpenSSH public key, or `generate`"),
    Key("accounts.instructors[].email", "string", pattern=EMAIL_RE, rule="an e-mail address such as ada@example.org",
        doc="Where to reach the instructor.", doc_type="e-mail address, or null", doc_default="null"),
    Key("accounts.grace_days", "integer", 0, minimum=0,
        doc="Days after `end_date` during which the accounts still work (to copy results away). The cluster expires "
        "on `end_date + grace_days`."),
    Key("accounts.uid_start", "integer", 10001, minimum=1000,
        doc="First numeric user ID of the guests; their UIDs must stay outside 8999-9999, which the cluster keeps for "
        "its check account, the attendees' group and the instructors."),

    Key("budget", "mapping",
        doc="Compute time per guest."),
    Key("budget.core_hours_per_guest", "number", rule="a number > 0 (core hours) or null",
        doc="CPU core hours each guest may use in Slurm, e.g. `50` or `2.5`. `0` and negative numbers are errors; "
        "write nothing (or `null`) for no limit.", doc_default="null (no limit)"),

    Key("software", "mapping",
        doc="The software stack."),
    Key("software.eessi", "boolean", {"docker": False, "openstack": True},
        doc="Mount the EESSI software stack (CernVM-FS) on all nodes.",
        doc_default="`true` with `provider: openstack`, `false` with `provider: docker`"),
    Key("software.eessi_version", "eessi_version", "2023.06", pattern=EESSI_VERSION_RE,
        rule="an EESSI version YYYY.MM such as '2023.06'",
        doc='The EESSI version. Quote it: `"2023.06"`.', doc_type="string `YYYY.MM`", doc_default='`"2023.06"`'),
    Key("software.cvmfs_proxy", "boolean",
        doc="A Squid proxy on the management node, which caches EESSI for all nodes: one download from EESSI's "
        "servers per file instead of one per node. Needs `eessi: true`.",
        doc_default="`true` when `eessi` is on and the event has 4 or more compute nodes (`max_count`), else `false`"),

    Key("services", "mapping",
        doc="Optional services."),
    Key("services.jupyterhub", "boolean", False,
        doc="JupyterHub on the login node, for attendees who prefer a browser."),
    Key("services.globus", "boolean", False,
        doc="A Globus endpoint for moving data in and out of `/home` and `/project`, on the login node or a data "
        "transfer node; needs the [globus](#globus) section."),
    Key("services.slurm_rest", "boolean", False,
        doc="The job gateway on the login node: Slurm's REST API (slurmrestd) on HTTPS, each request authenticated "
        "by its user's token (`scontrol token`); see [roles/slurm_rest](../roles/slurm_rest/README.md)."),

    # The most a notebook server (a Slurm job) may ask for, and when the idle ones end.
    Key("jupyterhub", "mapping",
        doc="What a notebook server may ask for; only with `services.jupyterhub: true`."),
    Key("jupyterhub.cpus", "integer", 2, minimum=1, maximum=256,
        doc="The most CPUs one notebook server may have."),
    Key("jupyterhub.memory_gb", "integer", 2, minimum=1, maximum=4096,
        doc="The most memory one notebook server may have, GB (the form offers 1, 2, 4, ... up to this)."),
    Key("jupyterhub.hours", "integer", 8, minimum=1, maximum=24 * 14,
        doc="The longest time limit a notebook server may ask for."),
    Key("jupyterhub.idle_minutes", "integer", 60, minimum=1, maximum=24 * 60,
        doc="A server unused this long is stopped, and its job ends, which frees its share of a node."),

    # Compute nodes above nodes.compute.count: removed after this long without a job, and given this long from
    # their creation to join Slurm (a VM boots and installs more slowly than a container starts).
    Key("autoscale", "mapping",
        doc="How the compute nodes above `nodes.compute.count` come and go; only with `max_count` above `count`."),
    Key("autoscale.suspend_minutes", "integer", 10, minimum=1, maximum=7 * 24 * 60,
        doc="A node without a job for this long is removed."),
    Key("autoscale.resume_timeout_minutes", "integer", {"docker": 5, "openstack": 15}, minimum=1, maximum=120,
        doc="The time a new node has to join Slurm; one that does not is removed, marked down with the reason, and "
        "offered again at the next reconcile.", doc_default="`5` (docker), `15` (openstack)"),
    Key("autoscale.reconcile_minutes", "integer", 2, minimum=1, maximum=60,
        doc="How often Slurm's view of the nodes is compared with the provider's, and nodes that only one of them "
        "knows are cleaned up."),

    Key("globus", "mapping",
        doc="The Globus endpoint; **required** with `services.globus: true`, an error without it."),
    # Where the Globus endpoint runs: the login node, or a data transfer node of its own.
    Key("globus.node", "choice", choices=("login", "dtn"),
        doc="Where the endpoint runs. `dtn` adds a data transfer node `<event>-dtn` (see [nodes](#nodes): "
        "`nodes.dtn`), with the event's accounts and shared directories but no Slurm. Port 443 is the endpoint's on "
        "its node, so `login` and `services.jupyterhub: true` are an error.",
        doc_default="`dtn` with `services.jupyterhub: true`, else `login`"),
    Key("globus.display_name", "string",
        doc="The endpoint's and the collection's name as Globus shows them.",
        doc_default="`description`, else the event name"),
    Key("globus.organization", "string", required=True,
        hint=": the organization that runs the endpoint, as Globus shows it",
        doc="The organization that runs the endpoint."),
    Key("globus.contact_email", "string", required=True, pattern=EMAIL_RE,
        rule="an e-mail address such as hpc@example.org",
        hint=": an e-mail address where users reach the endpoint's administrators",
        doc="Where the endpoint's users reach its administrators.", doc_type="e-mail address"),
    Key("globus.owner", "globus_identity",
        doc="The identity that owns the endpoint, e.g. `ada@globusid.org`; null for the service credentials' own "
        "identity.", doc_type="Globus identity user name, or null", doc_default="null"),
    Key("globus.domain", "string", required=True, pattern=DOMAIN_RE, rule=DOMAIN_RULE,
        hint=f": {DOMAIN_RULE}, whose users may use the endpoint (user@domain is the local user)",
        doc="The domain of the Globus identities that may use the endpoint, a DNS name in lower case such as "
        "`example.org`; `user@example.org` is the local user `user` (an account of the event, e.g. an "
        "instructor's).", doc_type="identity domain"),
    Key("globus.credentials_file", "credentials_file",
        doc="A YAML file (plain or ansible-vault) with `globus_endpoint_client_id` and "
        "`globus_endpoint_client_secret`, relative to the event file's directory; it must exist. Null: those "
        "variables come from the playbook's command line.", doc_type="path, or null", doc_default="null"),
    Key("globus.agree_to_letsencrypt_tos", "true", required=True,
        rule="true: the endpoint's certificate comes from Let's Encrypt, whose terms "
        "(https://letsencrypt.org/repository/) you agree to by setting it",
        doc="The endpoint's certificate comes from Let's Encrypt: `true` agrees to its terms "
        "(https://letsencrypt.org/repository/).", doc_type="`true`"),
)
# fmt: on

ROWS = {key.path: key for key in KEYS}


def children(path):
    """The rows of the keys of the mapping at ``path`` ("" for the top level), in order."""
    return [key for key in KEYS if key.parent == path]


def keys_in(path):
    """The names of the keys allowed in the mapping at ``path``."""
    return tuple(key.name for key in children(path))
