"""Runs inside the test-cloud container, with the image's own openstacksdk.

    python3 cloud_setup.py identity    projects, users, roles, services and endpoints (build time)
    python3 cloud_setup.py resources   flavors, the test image, the external network (build time)

The passwords are the fixed TEST-ONLY credentials of this throwaway image (see configure.sh);
they must not be used anywhere else.
"""

import subprocess
import sys

import openstack

PASSWORD = "secret"  # test-only, see the module docstring
REGION = "RegionOne"
SERVICE_HOST = "learnhpc-compute"
# (name, type, port, path) of every service in the catalog.
SERVICES = [
    ("glance", "image", 9292, ""),
    ("placement", "placement", 8778, ""),
    ("nova", "compute", 8774, "/v2.1"),
    ("neutron", "network", 9696, ""),
    ("cinderv3", "volumev3", 8776, "/v3/%(project_id)s"),
    ("cinder", "block-storage", 8776, "/v3/%(project_id)s"),
]
SERVICE_USERS = ["glance", "placement", "nova", "neutron", "cinder"]
FLAVORS = [
    ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 20, 1),
    ("m1.medium", "3", 4096, 40, 2),
    ("m1.large", "4", 8192, 80, 4),
    ("cirros256", "c1", 256, 1, 1),
]


def admin():
    return openstack.connect(
        auth_url="http://127.0.0.1:5000/v3",
        username="admin",
        password=PASSWORD,
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        interface="internal",
    )


def identity():
    conn = admin()
    idn = conn.identity
    domain = idn.find_domain("default")
    projects = {}
    for name in ("admin", "service", "demo"):
        projects[name] = idn.find_project(name, domain_id=domain.id) or idn.create_project(
            name=name, domain_id=domain.id, description="learnhpc test cloud"
        )
    roles = {name: idn.find_role(name) or idn.create_role(name=name) for name in ("admin", "member", "service")}

    def user(name, project):
        found = idn.find_user(name, domain_id=domain.id)
        return found or idn.create_user(
            name=name, password=PASSWORD, domain_id=domain.id, default_project_id=project.id
        )

    for name in SERVICE_USERS:
        u = user(name, projects["service"])
        for role in ("admin", "service"):
            idn.assign_project_role_to_user(projects["service"], u, roles[role])
    demo = user("demo", projects["demo"])
    idn.assign_project_role_to_user(projects["demo"], demo, roles["member"])

    for name, kind, port, path in SERVICES:
        service = next(iter(idn.services(type=kind)), None) or idn.create_service(name=name, type=kind)
        have = {e.interface for e in idn.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                # The public address is rewritten at every boot (learnhpc-cloud-endpoints.sh).
                idn.create_endpoint(
                    service_id=service.id, interface=interface, region_id=REGION, url=f"http://127.0.0.1:{port}{path}"
                )


def resources():
    conn = admin()
    for name, flavor_id, ram, disk, vcpus in FLAVORS:
        if not conn.compute.find_flavor(name):
            conn.compute.create_flavor(name=name, id=flavor_id, ram=ram, disk=disk, vcpus=vcpus)
    if not conn.image.find_image("debian-12"):
        # The servers are containers of the Docker image that the property
        # learnhpc_container_image names (learnhpc_nova.driver); Glance only needs some bytes.
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "/var/tmp/debian-12.qcow2", "8M"], check=True)
        conn.image.create_image(
            name="debian-12",
            filename="/var/tmp/debian-12.qcow2",
            disk_format="qcow2",
            container_format="bare",
            visibility="public",
            wait=True,
            timeout=120,
            learnhpc_container_image="learnhpc/cloud-node:12",
            os_distro="debian",
            os_version="12",
            os_admin_user="debian",
        )
    net = conn.network.find_network("public")
    if not net:
        net = conn.network.create_network(
            name="public",
            is_router_external=True,
            is_shared=False,
            provider_network_type="flat",
            provider_physical_network="public",
        )
    if not conn.network.find_subnet("public-subnet"):
        conn.network.create_subnet(
            name="public-subnet",
            network_id=net.id,
            ip_version=4,
            cidr="172.24.4.0/24",
            gateway_ip="172.24.4.1",
            is_dhcp_enabled=False,
            allocation_pools=[{"start": "172.24.4.10", "end": "172.24.4.250"}],
        )


def main():
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "identity":
        identity()
    elif step == "resources":
        resources()
    else:
        sys.exit(f"usage: {sys.argv[0]} identity|resources")


if __name__ == "__main__":
    main()
