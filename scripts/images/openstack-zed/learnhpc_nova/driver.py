"""A Nova compute driver for the test cloud: each server is a systemd container.

Nova's fake driver makes servers that boot nothing. This driver keeps every OpenStack
API real and backs each server with a container on the Docker engine of the machine
that runs the test cloud (the pattern of the retired nova-docker driver):

- The Glance image names the container image in its property
  ``learnhpc_container_image`` (Nova keeps image properties in the server's system
  metadata, ``image_<property>``). An image without it puts the server in ERROR.
- The container starts without a network (``NetworkMode: none``) and waits in its
  entry point until its interfaces exist. For each of the server's Neutron ports the
  driver makes a veth pair: ``tap<port id>`` goes into the Linux bridge of the port's
  network in the test cloud (``brq<network id>``, where Neutron's linuxbridge agent, DHCP
  agent and L3 agent work as on a compute host), the peer becomes ``eth<N>`` in the
  container, with the port's MAC address, fixed IP addresses, MTU and, on the first
  port, the subnet's gateway as default route. Floating IPs, routers and security groups
  are then Neutron's own: the L3 agent's NAT and the agent's iptables rules.
- cloud-init in the image reads a NoCloud seed that the driver writes into the container
  before it starts (/var/lib/cloud/seed/nocloud): the server's user data, key pair, host
  name and id. There is no metadata API.
- A snapshot (``createImage``) commits the server's container to the Docker image
  ``learnhpc-os-snapshot:<Glance image id>`` and points the Glance image's
  ``learnhpc_container_image`` at it; the bytes uploaded to Glance are only a small JSON
  manifest naming that Docker image. Servers booted from the snapshot are containers of
  it, with the file system the server had. ``scripts/openstack-cloud.sh stop`` removes
  these Docker images; deleting the Glance image does not.
- When the server's metadata has ``org.learnhpc.event`` and the driver is configured with
  ``[learnhpc] shared_dirs``, the container gets one Docker volume per directory and
  (project, event): the stand-in for a site's shared file system (CephFS, Lustre...).

The driver is test infrastructure: it needs the Docker socket and the host's /proc
(to reach each container's network namespace), which makes the test cloud root on the
machine. docs/openstack-test-cloud.md says what is real and what is stood in for.
"""

# Nova's driver interface fixes the methods' positional parameters.
# ruff: noqa: PLR0917

import base64
import http.client
import io
import json
import os
import socket
import subprocess
import tarfile
import time
import urllib.parse

from nova import exception
from nova.compute import power_state, task_states
from nova.image import glance
from nova.virt import fake, hardware
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.StrOpt("docker_socket", default="/var/run/docker.sock", help="The Docker engine's socket."),
    cfg.StrOpt("host_proc", default="/hostproc", help="The Docker host's /proc, mounted here."),
    cfg.ListOpt(
        "shared_dirs",
        default=[],
        help="Directories (e.g. /home,/project,/scratch) shared by the servers of one event.",
    ),
    cfg.IntOpt("stop_timeout", default=20, help="Seconds a server has to shut down."),
]
CONF = cfg.CONF
CONF.register_opts(OPTS, group="learnhpc")

LABEL = "org.learnhpc.test-cloud"
IMAGE_PROPERTY = "learnhpc_container_image"
# The Docker repository of the servers' snapshots (tag: the Glance image's ID).
SNAPSHOT_REPOSITORY = "learnhpc-os-snapshot"
# How a systemd container runs on these machines (the docker provider's set).
SYSTEMD_HOST_CONFIG = {
    "CapAdd": ["SYS_ADMIN", "NET_ADMIN"],
    "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
    "CgroupnsMode": "host",
    "Tmpfs": {"/run": "", "/run/lock": "", "/tmp": "exec,mode=1777"},
    "NetworkMode": "none",
}
# The entry point waits (at most a minute) until the driver has made every interface,
# as a VM's network cards exist before it boots, then becomes systemd.
ENTRYPOINT = [
    "/bin/sh",
    "-c",
    'n=0; while [ "$(ls /sys/class/net | grep -c "^eth")" -lt "$LEARNHPC_NICS" ] && [ $n -lt 600 ]; '
    "do sleep 0.1; n=$((n+1)); done; exec /lib/systemd/systemd",
]


class DockerError(Exception):
    """The Docker engine answered with an error."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Docker:
    """The few Engine API calls the driver needs."""

    def __init__(self, path):
        self.path = path

    def call(self, method, url, body=None, params=None, raw=None, ok=(200, 201, 204, 304)):
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {}
        data = None
        if raw is not None:
            data, headers["Content-Type"] = raw, "application/x-tar"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        conn = _UnixConnection(self.path)
        try:
            conn.request(method, "/v1.41" + url, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        if resp.status == 404 and method in ("GET", "DELETE"):
            return None  # what is looked up or removed is not there
        if resp.status not in ok:
            raise DockerError(f"{method} {url}: {resp.status} {payload[:300]!r}")
        if resp.getheader("Content-Type", "").startswith("application/json") and payload:
            return json.loads(payload)
        return payload


def _container_name(instance):
    return "learnhpc-os-" + instance.uuid


def _seed_archive(instance):
    """The NoCloud seed (/var/lib/cloud/seed/nocloud) as a tar archive to unpack at the container's /."""
    meta = {"instance-id": instance.uuid, "local-hostname": instance.hostname}
    if instance.key_data:
        meta["public-keys"] = [instance.key_data]
    files = {
        "meta-data": json.dumps(meta, indent=1) + "\n",
        "user-data": base64.b64decode(instance.user_data).decode() if instance.user_data else "",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        path = ""
        for part in ("var", "lib", "cloud", "seed", "nocloud"):
            path += part + "/"
            info = tarfile.TarInfo(path.rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            tar.addfile(info)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("var/lib/cloud/seed/nocloud/" + name)
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run(*cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise exception.NovaException(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def _link_exists(name):
    return os.path.exists("/sys/class/net/" + name)


class ContainerDriver(fake.FakeDriver):
    """Servers as systemd containers, plugged into Neutron's Linux bridges."""

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self.docker = Docker(CONF.learnhpc.docker_socket)

    # -- containers ---------------------------------------------------------------

    def _inspect(self, instance):
        return self.docker.call("GET", f"/containers/{_container_name(instance)}/json")

    def _volumes(self, instance):
        event = (instance.metadata or {}).get("org.learnhpc.event")
        if not event or not CONF.learnhpc.shared_dirs:
            return []
        binds = []
        for path in CONF.learnhpc.shared_dirs:
            volume = f"learnhpc-os-{instance.project_id}-{event}-{path.strip('/').replace('/', '-')}"
            labels = {LABEL: CONF.host, LABEL + ".project": instance.project_id, LABEL + ".event": event}
            self.docker.call("POST", "/volumes/create", {"Name": volume, "Labels": labels})
            binds.append(f"{volume}:{path}")
        return binds

    def _create(self, instance, network_info):
        image = (instance.system_metadata or {}).get("image_" + IMAGE_PROPERTY)
        # No other host would do better: abort the build (the fault says why) instead of
        # rescheduling (the fault would then only say "no valid host").
        if not image:
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid,
                reason=f"image {instance.image_ref} has no property {IMAGE_PROPERTY} naming a container image",
            )
        if not self.docker.call("GET", f"/images/{urllib.parse.quote(image, safe='')}/json"):
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=f"container image {image} is not on the Docker host"
            )
        nics = len([vif for vif in network_info or [] if vif["network"]])
        host_config = dict(SYSTEMD_HOST_CONFIG)
        host_config["Binds"] = ["/sys/fs/cgroup:/sys/fs/cgroup:rw", *self._volumes(instance)]
        body = {
            "Image": image,
            "Hostname": instance.hostname,
            "Entrypoint": ENTRYPOINT,
            "Cmd": [],
            "Env": [f"LEARNHPC_NICS={nics}"],
            "StopSignal": "SIGRTMIN+3",
            "StopTimeout": CONF.learnhpc.stop_timeout,
            "Labels": {
                LABEL: CONF.host,
                LABEL + ".instance": instance.uuid,
                LABEL + ".name": instance.name,
                LABEL + ".project": instance.project_id,
            },
            "HostConfig": host_config,
        }
        name = _container_name(instance)
        self.docker.call("POST", "/containers/create", body, params={"name": name})
        self.docker.call(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": "/"},
            raw=_seed_archive(instance),
        )

    def _start(self, instance, network_info):
        name = _container_name(instance)
        self.docker.call("POST", f"/containers/{name}/start")
        info = self._inspect(instance)
        self._plug(instance, info["State"]["Pid"], network_info)

    def _stop(self, instance, timeout=None):
        name = _container_name(instance)
        params = {"t": CONF.learnhpc.stop_timeout if timeout is None else timeout}
        self.docker.call("POST", f"/containers/{name}/stop", params=params)

    # -- network ------------------------------------------------------------------

    def _plug(self, instance, pid, network_info):
        netns = f"--net={CONF.learnhpc.host_proc}/{pid}/ns/net"
        for index, vif in enumerate(vif for vif in network_info or [] if vif["network"]):
            tap = ("tap" + vif["id"])[:14]
            peer = ("lhp" + vif["id"])[:14]
            bridge = ("brq" + vif["network"]["id"])[:14]
            mtu = str(vif["network"].get_meta("mtu") or 1500)
            if not _link_exists(bridge):
                _run("ip", "link", "add", "name", bridge, "type", "bridge")
                _run("ip", "link", "set", bridge, "up")
            for stale in (tap, peer):
                if _link_exists(stale):
                    _run("ip", "link", "del", stale)
            _run("ip", "link", "add", tap, "mtu", mtu, "type", "veth", "peer", "name", peer, "mtu", mtu)
            _run("ip", "link", "set", peer, "netns", f"{CONF.learnhpc.host_proc}/{pid}/ns/net")
            _run("ip", "link", "set", tap, "master", bridge, "up")
            inside = ["nsenter", netns, "ip"]
            dev = f"eth{index}"
            _run(*inside, "link", "set", peer, "name", dev)
            _run(*inside, "link", "set", dev, "address", vif["address"], "up")
            for subnet in vif["network"]["subnets"]:
                if subnet["version"] != 4:
                    continue
                prefix = subnet["cidr"].split("/")[1]
                for ip in subnet["ips"]:
                    _run(*inside, "addr", "replace", f"{ip['address']}/{prefix}", "dev", dev)
                gateway = subnet["gateway"] and subnet["gateway"]["address"]
                if index == 0 and gateway:
                    _run(*inside, "route", "replace", "default", "via", gateway, "dev", dev)
            LOG.info("plugged port %s into %s as %s", vif["id"], bridge, dev, instance=instance)

    def _unplug(self, network_info):
        for vif in network_info or []:
            tap = ("tap" + vif["id"])[:14]
            if _link_exists(tap):
                _run("ip", "link", "del", tap)

    def plug_vifs(self, instance, network_info):
        info = self._inspect(instance)
        if info and info["State"]["Running"]:
            self._plug(instance, info["State"]["Pid"], network_info)

    def unplug_vifs(self, instance, network_info):
        self._unplug(network_info)

    # -- the driver interface -----------------------------------------------------

    def spawn(
        self,
        context,
        instance,
        image_meta,
        injected_files,
        admin_password,
        allocations,
        network_info=None,
        block_device_info=None,
        power_on=True,
        accel_info=None,
    ):
        self._remove(instance)
        self._create(instance, network_info)
        if power_on:
            self._start(instance, network_info)
        super().spawn(
            context,
            instance,
            image_meta,
            injected_files,
            admin_password,
            allocations,
            network_info,
            block_device_info,
            power_on,
            accel_info,
        )

    def _remove(self, instance):
        self.docker.call("DELETE", f"/containers/{_container_name(instance)}", params={"force": "true"})

    def destroy(
        self, context, instance, network_info, block_device_info=None, destroy_disks=True, destroy_secrets=True
    ):
        self._remove(instance)
        self._unplug(network_info)
        if instance.uuid in self.instances:
            super().destroy(context, instance, network_info, block_device_info, destroy_disks, destroy_secrets)

    def power_off(self, instance, timeout=0, retry_interval=0):
        if not self._inspect(instance):
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        self._stop(instance, timeout or None)

    def power_on(self, context, instance, network_info, block_device_info=None, accel_info=None):
        info = self._inspect(instance)
        if not info:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        if not info["State"]["Running"]:
            self._start(instance, network_info)

    def reboot(
        self,
        context,
        instance,
        network_info,
        reboot_type,
        block_device_info=None,
        bad_volumes_callback=None,
        accel_info=None,
    ):
        if not self._inspect(instance):
            if reboot_type.lower() != "hard":
                raise exception.InstanceNotFound(instance_id=instance.uuid)
            self._create(instance, network_info)
        else:
            self._stop(instance, 0 if reboot_type.lower() == "hard" else None)
        self._start(instance, network_info)

    def resume_state_on_host_boot(self, context, instance, network_info, block_device_info=None):
        # The test cloud restarted: its bridges are new, so running servers lost their
        # interfaces. Plug them again.
        self.plug_vifs(instance, network_info)

    def snapshot(self, context, instance, image_id, update_task_state):
        """The server's container as a Docker image, and the Glance image ``image_id`` naming it.

        Nova made the Glance image (status queued) with the properties the server's image had;
        this commits the container (paused while it runs, as a live snapshot of a VM is) and
        uploads a manifest, which makes the Glance image active.
        """
        name = _container_name(instance)
        if not self._inspect(instance):
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        container_image = f"{SNAPSHOT_REPOSITORY}:{image_id}"
        committed = self.docker.call(
            "POST",
            "/commit",
            params={
                "container": name,
                "repo": SNAPSHOT_REPOSITORY,
                "tag": image_id,
                "pause": "true",
                "comment": f"snapshot of server {instance.uuid}",
                "changes": f"LABEL {LABEL}.snapshot={image_id}",
            },
        )
        update_task_state(task_state=task_states.IMAGE_UPLOADING, expected_state=task_states.IMAGE_PENDING_UPLOAD)
        manifest = json.dumps(
            {"container_image": container_image, "docker_id": (committed or {}).get("Id"), "server": instance.uuid}
        ).encode()
        image_api = glance.API()
        current = image_api.get(context, image_id)
        metadata = {
            "name": current["name"],
            "disk_format": "raw",
            "container_format": "bare",
            "properties": {IMAGE_PROPERTY: container_image},
        }
        # purge_props=False: the properties Nova gave the image (from the server's image) stay.
        image_api.update(context, image_id, metadata, data=io.BytesIO(manifest), purge_props=False)
        LOG.info("snapshot %s is the container image %s", image_id, container_image, instance=instance)

    def get_info(self, instance, use_cache=True):
        info = self._inspect(instance)
        if not info:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        state = info["State"]
        if state["Paused"]:
            return hardware.InstanceInfo(state=power_state.PAUSED)
        if state["Running"]:
            return hardware.InstanceInfo(state=power_state.RUNNING)
        return hardware.InstanceInfo(state=power_state.SHUTDOWN)

    def _containers(self):
        if not os.path.exists(CONF.learnhpc.docker_socket):
            # The image build runs without the Docker socket: no servers there.
            LOG.warning("no Docker socket at %s: no servers", CONF.learnhpc.docker_socket)
            return []
        filters = json.dumps({"label": [f"{LABEL}={CONF.host}"]})
        return self.docker.call("GET", "/containers/json", params={"all": "true", "filters": filters}) or []

    def list_instances(self):
        return [c["Labels"].get(LABEL + ".name", "") for c in self._containers()]

    def list_instance_uuids(self):
        return [c["Labels"][LABEL + ".instance"] for c in self._containers() if LABEL + ".instance" in c["Labels"]]

    def instance_exists(self, instance):
        return bool(self._inspect(instance))

    def get_console_output(self, context, instance):
        """The container's output and cloud-init's log, as a serial console would show them."""
        name = _container_name(instance)
        if not self._inspect(instance):
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        logs = self.docker.call("GET", f"/containers/{name}/logs", params={"stdout": 1, "stderr": 1, "tail": 200})
        text = _demux(logs or b"")
        archive = self.docker.call(
            "GET", f"/containers/{name}/archive", params={"path": "/var/log/cloud-init-output.log"}
        )
        if archive:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                member = tar.extractfile("cloud-init-output.log")
                if member:
                    text += member.read().decode(errors="replace")
        return text


def _demux(stream):
    """Docker's multiplexed log stream (8-byte frame headers) as text."""
    out, pos = [], 0
    while pos + 8 <= len(stream):
        size = int.from_bytes(stream[pos + 4 : pos + 8], "big")
        out.append(stream[pos + 8 : pos + 8 + size])
        pos += 8 + size
    return b"".join(out).decode(errors="replace")
