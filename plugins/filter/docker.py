# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the docker provider."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

SHARED_DIRS = ("home", "project", "scratch")
# The job gateway's HTTPS port inside the login node (role slurm_rest's slurm_rest_https_port).
REST_PORT = 6820


def docker_node_container(node, event):
    """The container of one node of an event (an item of learnhpc.cluster.event_config's nodes_list).

    Every container of the event carries the event's labels and its node roles, sits on the
    event's network, and mounts the event's shared volumes at /home, /project and /scratch.
    Only the login node publishes ports, on the event's bind address: 22 for SSH and 443
    for HTTPS, and with services.slurm_rest the job gateway's port. Compute nodes get the CPU
    and memory limits of the event, if any. With EESSI on, every node gets /dev/fuse, which
    the CernVM-FS client mounts through.
    """
    try:
        name = event["name"]
        docker = event["docker"]
        roles = list(node["roles"])
        container = {
            "name": node["name"],
            "image": docker["image"],
            "networks": [f"learnhpc-{name}"],
            "labels": {
                "org.learnhpc.event": name,
                "org.learnhpc.roles": ",".join(roles),
                "org.learnhpc.end_date": str(event["end_date"]),
                "org.learnhpc.expires": str(event.get("expires") or event["end_date"]),
                "org.learnhpc.provider": "docker",
            },
            "volumes": [f"learnhpc-{name}-{d}:/{d}" for d in SHARED_DIRS],
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
        if "compute" in roles:
            if docker.get("node_cpus"):
                container["cpus"] = docker["node_cpus"]
            if docker.get("node_memory_mb"):
                container["memory_mb"] = docker["node_memory_mb"]
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"docker_node_container: the event or node lacks {exc}") from exc
    return container


class FilterModule:
    """Filters of the docker provider."""

    def filters(self):
        return {"docker_node_container": docker_node_container}
