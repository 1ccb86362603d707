# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the docker provider."""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.learnhpc.cluster.plugins.module_utils import contract

SHARED_DIRS = ("home", "project", "scratch")
# The engine's socket, given to the management node when the event autoscales (its resume and
# suspend programs create and remove compute nodes through it).
DOCKER_SOCKET = "/var/run/docker.sock"
# The job gateway's HTTPS port inside the login node (role slurm_rest's slurm_rest_https_port).
REST_PORT = 6820


def docker_node_container(node, event):
    """The container of one node of an event (an item of learnhpc.cluster.event_config's nodes_list).

    Every container of the event carries the event's labels and its node roles, sits on the
    event's network, and mounts the event's shared volumes at /home, /project and /scratch.
    Only the login node publishes ports, on the event's bind address: 22 for SSH and 443
    for HTTPS, and with services.slurm_rest the job gateway's port. Compute nodes get the CPU
    and memory limits of the event, if any. With EESSI on, every node gets /dev/fuse, which
    the CernVM-FS client mounts through. When the event autoscales (``autoscale_names`` not
    empty), the management node gets the engine's socket.
    """
    try:
        name = event["name"]
        names = contract.docker_names(name, SHARED_DIRS)
        docker = event["docker"]
        roles = list(node["roles"])
        container = {
            "name": node["name"],
            "image": docker["image"],
            "networks": [names["network"]],
            "labels": contract.node_labels(name, roles, event["end_date"], event.get("expires"), "docker"),
            "volumes": [f"{names['volumes'][d]}:/{d}" for d in SHARED_DIRS],
            "published_ports": [],
            # The nodes of a multi-day event come back after the host restarts.
            "restart_policy": "unless-stopped",
        }
        if "login" in roles:
            address = docker["bind_address"]
            container["published_ports"] = [
                f"{address}:{docker['ssh_port']}:22",
                f"{address}:{docker['https_port']}:443",
            ]
            if event.get("services", {}).get("slurm_rest"):
                container["published_ports"].append(f"{address}:{docker['rest_port']}:{REST_PORT}")
        if event.get("software", {}).get("eessi"):
            container["devices"] = ["/dev/fuse"]
        if "mgmt" in roles and event.get("autoscale_names"):
            container["volumes"].append(f"{DOCKER_SOCKET}:{DOCKER_SOCKET}")
        if "compute" in roles:
            if docker.get("node_cpus"):
                container["cpus"] = docker["node_cpus"]
            if docker.get("node_memory_mb"):
                container["memory_mb"] = docker["node_memory_mb"]
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"docker_node_container: the event or node lacks {exc}") from exc
    return container


def _device(entry):
    parts = str(entry).split(":")
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and parts[1] else host
    permissions = parts[2] if len(parts) > 2 and parts[2] else "rwm"
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": permissions}


def _tmpfs(entries):
    mounts = {}
    for entry in entries:
        path, _sep, options = str(entry).partition(":")
        mounts[path] = options
    return mounts


def docker_engine_container(container, systemd):
    """The body of a Docker Engine API ``POST /containers/create`` for a node container.

    ``container`` is a node as docker_node_container makes it (the same keys as the
    docker_provider role's ``docker_provider_containers``); ``systemd`` the settings that run
    systemd in a container (the docker_provider role's vars). Programs that create nodes without
    Ansible (the slurm_autoscale role's resume program) send this body; they set the
    container's name in the request and may change ``Hostname`` and ``Labels``.
    """
    try:
        if container.get("published_ports"):
            raise AnsibleFilterError(
                f"docker_engine_container: {container['name']} publishes ports; only nodes without ports are supported"
            )
        command = systemd["command"]
        host_config = {
            "CapAdd": list(systemd["capabilities"]) + list(container.get("capabilities") or []),
            "SecurityOpt": list(systemd["security_opts"]),
            "CgroupnsMode": systemd["cgroupns_mode"],
            "Tmpfs": _tmpfs(systemd["tmpfs"]),
            "Binds": list(systemd["volumes"]) + list(container.get("volumes") or []),
            "Devices": [_device(device) for device in container.get("devices") or []],
            "RestartPolicy": {"Name": container.get("restart_policy") or "no"},
        }
        if container.get("cpus"):
            host_config["NanoCpus"] = int(float(container["cpus"]) * 1_000_000_000)
        if container.get("memory_mb"):
            host_config["Memory"] = int(container["memory_mb"]) * 1024 * 1024
        return {
            "Hostname": container["name"],
            "Image": container.get("image") or "learnhpc/debian-systemd:12",
            "Cmd": command.split() if isinstance(command, str) else list(command),
            "StopSignal": systemd["stop_signal"],
            "Labels": dict(container.get("labels") or {}),
            "HostConfig": host_config,
            "NetworkingConfig": {"EndpointsConfig": {network: {} for network in container.get("networks") or []}},
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"docker_engine_container: the container or the systemd settings lack {exc}") from exc


EVENT_LABEL = contract.EVENT_KEY
ROLES_LABEL = contract.ROLES_KEY
_NUMBER = re.compile(r"-[0-9]+$")


def _name_key(roles):
    for role in ("mgmt", "login", "dtn"):
        if role in roles:
            return f"nodes.{role}.name"
    return "nodes.compute.prefix"


def _holder(labels):
    owner = labels.get(EVENT_LABEL)
    return f"a container of event {owner!r}" if owner else "a container that is not of any event"


def _shown_path(path):
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def docker_name_conflicts(containers, event):
    """One-line problems with the container names an event would use on a Docker engine; empty when none.

    Container names are unique on an engine, and a container of that name would be changed or
    removed by whoever creates it, so an event may use no name that another container holds.
    ``containers`` are the engine's containers, running or not (docker_host_info's), ``event``
    the event as learnhpc.cluster.event_config gives it. The names checked are those of every
    node, including those autoscaling may create (``autoscale_names``), and compute nodes of one
    event may not be numbered like another event's (``E-gpu-compute-NN``), whose autoscaling
    could create them later. Containers of the event itself are not in the way. Names taken
    come first.
    """
    try:
        name = event["name"]
        where = _shown_path(event["file"]) if event.get("file") else f"event {name}"
        wanted = {node["name"]: _name_key(node["roles"]) for node in event["nodes_list"]}
        wanted.update((full, "nodes.compute.prefix") for full in event.get("autoscale_names") or [])
        ours = {_NUMBER.sub("", node["name"]) for node in event["nodes_list"] if list(node["roles"]) == ["compute"]}
        taken, numbered = [], []
        for container in containers:
            labels = container.get("Labels") or {}
            if labels.get(EVENT_LABEL) == name:
                continue
            held = [str(entry).lstrip("/") for entry in container.get("Names") or []]
            for full in held:
                if full in wanted:
                    taken.append(
                        f"{where}: {wanted[full]}: the node name {full!r} is taken on this Docker engine by "
                        f"{_holder(labels)}; choose another"
                    )
                if labels.get(EVENT_LABEL) and "compute" in str(labels.get(ROLES_LABEL, "")).split(","):
                    base = _NUMBER.sub("", full)
                    if base in ours:
                        numbered.append(
                            f"{where}: nodes.compute.prefix: event {labels[EVENT_LABEL]!r} on this Docker engine "
                            f"numbers its compute nodes {base}-N as well (its autoscaling may create more); "
                            "choose another"
                        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"docker_name_conflicts: the containers or the event lack {exc}") from exc
    return sorted(set(taken)) + sorted(set(numbered) - set(taken))


class FilterModule:
    """Filters of the docker provider."""

    def filters(self):
        return {
            "docker_node_container": docker_node_container,
            "docker_engine_container": docker_engine_container,
            "docker_name_conflicts": docker_name_conflicts,
        }
