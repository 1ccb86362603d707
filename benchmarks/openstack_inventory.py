# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the openstack provider of the inventory plugin learnhpc.cluster.event on 500 servers.

No cloud is needed: the openstacksdk connection is replaced by a fake one whose compute proxy answers
GET /servers/detail with the JSON text of a Nova listing of 500 servers (microversion 2.47: flavor inline, fixed
and floating addresses, the event metadata). Everything else is the real code path: openstacksdk reads
clouds.yaml and builds the cloud's configuration, the plugin decodes the listing, groups the servers, computes
their addresses and sizes, and applies the cache.

Measured, each the median of --runs runs, wall-clock and CPU time:
  - ansible-inventory -i <file> --list, end to end (a new Python process: Ansible's start-up included), with the
    cache off, and with a jsonfile cache that a previous run filled (a plain ansible-inventory run: with the
    cache, no connection is made);
  - the plugin's parse() alone, in this process, the same two ways;
  - ansible-inventory on an empty inventory (Ansible's start-up), and, for scale, on the same 500 hosts and
    variables read from a YAML file;
  - for comparison, the time openstacksdk takes to turn the listing into its Server objects, which the plugin
    avoids (it reads the JSON listing through the SDK's compute proxy).
Targets: <= 2 s without the cache, <= 0.3 s with it, checked against parse() alone and against
ansible-inventory's time beyond its start-up (which also holds Ansible's own work on 500 hosts).
Wall-clock times depend on the load of the machine; the CPU times less so. The exit status is 1 when a target
is missed.

Run from the checkout, after make setup:  .venv/bin/python benchmarks/openstack_inventory.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
SERVERS = 500
TARGETS = {"uncached": 2.0, "cached": 0.3}


def server_listing(count=SERVERS, per_event=20):
    """The JSON text of a Nova server listing: events of ``per_event`` servers (mgmt, login, computes)."""
    servers = []
    for index in range(count):
        event, position = divmod(index, per_event)
        name_event = f"bench-{event:03d}"
        if position == 0:
            role, name = "mgmt", f"{name_event}-mgmt"
        elif position == 1:
            role, name = "login", f"{name_event}-login"
        else:
            role, name = "compute", f"{name_event}-compute-{position - 1:02d}"
        addresses = [
            {
                "addr": f"10.{event // 250}.{event % 250}.{position + 10}",
                "version": 4,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": f"fa:16:3e:00:{event % 256:02x}:{position:02x}",
            }
        ]
        if role == "login":
            addresses.append(
                {
                    "addr": f"198.51.{event // 250}.{event % 250}",
                    "version": 4,
                    "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": f"fa:16:3e:00:{event % 256:02x}:{position:02x}",
                }
            )
        servers.append(
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "name": name,
                "status": "ACTIVE",
                "tenant_id": "0123456789abcdef0123456789abcdef",
                "user_id": "fedcba9876543210fedcba9876543210",
                "metadata": {
                    "org.learnhpc.event": name_event,
                    "org.learnhpc.roles": role,
                    "org.learnhpc.end_date": "2030-12-31",
                    "org.learnhpc.provider": "openstack",
                },
                "hostId": "a" * 56,
                "image": {"id": "11111111-2222-4333-8444-555555555555"},
                "flavor": {
                    "vcpus": 8 if role == "compute" else 2,
                    "ram": 32768 if role == "compute" else 4096,
                    "disk": 20,
                    "ephemeral": 0,
                    "swap": 0,
                    "original_name": "m1.xlarge" if role == "compute" else "m1.medium",
                    "extra_specs": {},
                },
                "created": "2030-12-01T08:00:00Z",
                "updated": "2030-12-01T08:01:00Z",
                "addresses": {f"{name_event}-net": addresses},
                "accessIPv4": "",
                "accessIPv6": "",
                "links": [],
                "OS-DCF:diskConfig": "MANUAL",
                "progress": 0,
                "OS-EXT-AZ:availability_zone": "nova",
                "config_drive": "",
                "key_name": None,
                "OS-SRV-USG:launched_at": "2030-12-01T08:00:30.000000",
                "OS-SRV-USG:terminated_at": None,
                "security_groups": [{"name": f"{name_event}-sg"}],
                "OS-EXT-STS:task_state": None,
                "OS-EXT-STS:vm_state": "active",
                "OS-EXT-STS:power_state": 1,
                "os-extended-volumes:volumes_attached": [],
                "locked": False,
                "description": None,
                "tags": [],
                "trusted_image_certificates": None,
                "server_groups": [],
            }
        )
    return json.dumps({"servers": servers})


class FakeResponse:
    """A requests.Response with a JSON body (decoded by the plugin, as it would decode a real one)."""

    status_code = 200

    def __init__(self, text):
        self.text = text

    def json(self):
        return json.loads(self.text)


class FakeCompute:
    """The compute proxy of an openstacksdk connection: microversion discovery and GET /servers/detail."""

    service_type = "compute"

    def __init__(self, listing):
        self.listing = listing
        self.calls = 0

    @staticmethod
    def get_endpoint_data():
        return SimpleNamespace(min_microversion="2.1", max_microversion="2.96")

    def get(self, url, params=None, microversion=None):
        del params
        if url != "/servers/detail" or microversion != "2.47":
            raise AssertionError(f"unexpected request {url} at microversion {microversion}")
        self.calls += 1
        return FakeResponse(self.listing)

    def get_flavor(self, flavor_id):
        raise AssertionError(f"no flavor lookup expected (flavor {flavor_id}): the servers carry theirs")


class FakeConnection:
    def __init__(self, listing, config=None):
        self.compute = FakeCompute(listing)
        self.config = config


def sdk_objects(listing):
    """openstacksdk's Server objects of the listing, as compute.servers() makes them."""
    from openstack.compute.v2.server import Server  # noqa: PLC0415

    return [Server.existing(**body) for body in json.loads(listing)["servers"]]


def write_files(directory):
    """clouds.yaml, the listing, and the two inventory files (cache off, jsonfile cache on)."""
    clouds = {
        "clouds": {
            "bench": {
                "auth": {
                    # nothing listens there: a run that is meant to use the cache fails at once if it does not
                    "auth_url": "http://127.0.0.1:9/v3",
                    "username": "bench",
                    "password": "not-used",
                    "project_name": "bench",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionOne",
                "identity_api_version": 3,
            }
        }
    }
    (directory / "clouds.yaml").write_text(json.dumps(clouds), encoding="utf-8")
    (directory / "listing.json").write_text(server_listing(), encoding="utf-8")
    base = {
        "plugin": "learnhpc.cluster.event",
        "providers": ["openstack"],
        "clouds": ["bench"],
        "clouds_yaml": str(directory / "clouds.yaml"),
    }
    cache = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(directory / "cache"),
        "cache_timeout": 3600,
    }
    files = {"uncached": directory / "uncached.event.yml", "cached": directory / "cached.event.yml"}
    files["uncached"].write_text(json.dumps(base), encoding="utf-8")
    files["cached"].write_text(json.dumps({**base, **cache}), encoding="utf-8")
    return files


def child(listing_path, argv):
    """ansible-inventory in this process, with openstacksdk's Connection replaced by the fake one."""
    import openstack.connection  # noqa: PLC0415

    listing = Path(listing_path).read_text(encoding="utf-8")
    openstack.connection.Connection = lambda config=None, **_kwargs: FakeConnection(listing, config)
    from ansible.cli.inventory import main  # noqa: PLC0415

    sys.argv = ["ansible-inventory", *argv]
    main()


def children_cpu():
    """CPU seconds (user and system) of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ansible_inventory(directory, inventory, fake=True):
    """Wall and CPU seconds of one ansible-inventory --list run, and the number of hosts it listed."""
    command = [sys.executable]
    if fake:
        command += [str(Path(__file__).resolve()), "--child", str(directory / "listing.json"), "--"]
    else:
        command += [str(ROOT / ".venv" / "bin" / "ansible-inventory")]
    command += ["-i", str(inventory), "--list"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    env.pop("OS_CLOUD", None)
    cpu = children_cpu()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    cpu = children_cpu() - cpu
    if result.returncode != 0:
        sys.exit(f"ansible-inventory failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    listed = json.loads(result.stdout)
    (directory / "last-list.json").write_text(result.stdout, encoding="utf-8")
    return seconds, cpu, len(listed.get("_meta", {}).get("hostvars", {}))


def static_inventory(directory):
    """A YAML (JSON) inventory file with the hosts, groups and host variables of the last --list output."""
    listed = json.loads((directory / "last-list.json").read_text(encoding="utf-8"))
    hostvars = listed["_meta"]["hostvars"]
    groups = {}
    for group, data in listed.items():
        if group in ("_meta", "all") or not data.get("hosts"):
            continue
        groups[group] = {"hosts": {host: {} for host in data["hosts"]}}
    inventory = {"all": {"hosts": hostvars, "children": groups}}
    path = directory / "static.yml"
    path.write_text(json.dumps(inventory), encoding="utf-8")
    return path


def timed(function, runs):
    """Medians of the wall and CPU seconds of ``runs`` calls of ``function``, and its last result."""
    walls, cpus = [], []
    result = None
    for _run in range(runs):
        cpu = time.process_time()
        start = time.perf_counter()
        result = function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def in_process(directory, files, runs):
    """Rows for parse() alone, uncached and cached (a filled jsonfile cache)."""
    os.chdir(ROOT)
    os.environ["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    sys.path.insert(0, str(ROOT / ".venv" / "collections"))
    from ansible.inventory.data import InventoryData  # noqa: PLC0415
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.plugins.loader import init_plugin_loader, inventory_loader  # noqa: PLC0415

    init_plugin_loader([str(ROOT / ".venv" / "collections")])
    plugin = inventory_loader.get("learnhpc.cluster.event")
    # The provider's code lives in plugins/plugin_utils/inventory_openstack.py (the plugin's PROVIDERS).
    module = sys.modules[sys.modules[type(plugin).__module__].PROVIDERS["openstack"].__module__]
    listing = (directory / "listing.json").read_text(encoding="utf-8")
    connection = FakeConnection(listing)
    real_connection = module.openstack_connection

    def openstack_connection(config, cloud):
        real_connection(config, cloud)  # checks the cloud in clouds.yaml as the plugin does; the result is not used
        return connection

    module.openstack_connection = openstack_connection
    module.openstack_sdk()  # imported once per process, as in ansible-inventory; not part of parse()
    loader = DataLoader()
    rows = []
    for mode in ("uncached", "cached"):
        if mode == "cached":  # fill the cache first
            plugin.parse(InventoryData(), loader, str(files[mode]), cache=False)
            plugin.update_cache_if_changed()
        calls = connection.compute.calls

        def parse(path=str(files[mode])):
            inventory = InventoryData()
            plugin.parse(inventory, loader, path)
            return len(inventory.hosts)

        wall, cpu, hosts = timed(parse, runs)
        if mode == "cached" and connection.compute.calls != calls:
            sys.exit("the cached parse() called the API")
        if hosts != SERVERS:
            sys.exit(f"parse() listed {hosts} hosts, not {SERVERS}")
        rows.append(("plugin parse() alone", mode, hosts, wall, cpu, TARGETS[mode]))
    return rows


def print_table(rows, runs):
    """Print the table; True when a target was missed."""
    print(f"openstack provider of learnhpc.cluster.event, fake connection, median of {runs} runs")
    print(f"load average before: {LOAD_BEFORE}, after: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(
        "wall s, CPU s: the whole run (CPU: user and system). beyond start-up: for ansible-inventory, the run minus"
        " the empty inventory's run (so it holds the plugin and Ansible's own work on 500 hosts: vars plugins, the"
        " JSON output); the targets are checked against it and against parse() alone"
    )
    header = f"| {'what':<56} | {'cache':<8} | {'hosts':>5} | {'wall s':>7} | {'CPU s':>7} |"
    print(f"{header} {'beyond start-up wall s':>22} | {'CPU s':>7} | {'target':>6} | ok  |")
    print(f"|{'-' * 58}|{'-' * 10}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 24}|{'-' * 9}|{'-' * 8}|-----|")
    baseline_wall, baseline_cpu = rows[0][3], rows[0][4]
    failed = False
    for what, mode, count, seconds, cpu, target in rows:
        plugin_wall, plugin_cpu = seconds, cpu
        if what.startswith("ansible-inventory -i"):
            plugin_wall, plugin_cpu = seconds - baseline_wall, cpu - baseline_cpu
        ok = "-" if target is None else ("yes" if plugin_wall <= target else "NO")
        failed = failed or ok == "NO"
        target_text = "-" if target is None else f"{target:.1f}"
        wall_text = "-" if target is None else f"{plugin_wall:.3f}"
        cpu_text = "-" if target is None else f"{plugin_cpu:.3f}"
        print(
            f"| {what:<56} | {mode:<8} | {count:>5} | {seconds:>7.3f} | {cpu:>7.3f} | {wall_text:>22} |"
            f" {cpu_text:>7} | {target_text:>6} | {ok:<3} |"
        )
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child(args.child, [arg for arg in rest if arg != "--"])
        return

    with tempfile.TemporaryDirectory(prefix="learnhpc-osinv-bench-") as tmp:
        directory = Path(tmp)
        files = write_files(directory)
        empty = directory / "empty.yml"
        empty.write_text("all: {}\n", encoding="utf-8")
        rows = []

        results = [ansible_inventory(directory, empty, fake=False) for _run in range(args.runs)]
        wall = statistics.median(result[0] for result in results)
        cpu = statistics.median(result[1] for result in results)
        rows.append(("ansible-inventory --list, empty inventory (start-up)", "-", 0, wall, cpu, None))
        ansible_inventory(directory, files["cached"])  # fills the cache
        results = [ansible_inventory(directory, static_inventory(directory), fake=False) for _run in range(args.runs)]
        wall = statistics.median(result[0] for result in results)
        cpu = statistics.median(result[1] for result in results)
        what = "for scale: ansible-inventory --list, hosts from YAML"
        rows.append((what, "-", results[0][2], wall, cpu, None))
        for mode in ("uncached", "cached"):
            # The cached runs are plain ansible-inventory runs: with the cache, no connection is made (and
            # openstacksdk is not imported), so nothing needs to be replaced.
            fake = mode == "uncached"
            results = [ansible_inventory(directory, files[mode], fake=fake) for _run in range(args.runs)]
            hosts = {result[2] for result in results}
            if hosts != {SERVERS}:
                sys.exit(f"ansible-inventory listed {hosts} hosts, not {SERVERS}")
            wall = statistics.median(result[0] for result in results)
            cpu = statistics.median(result[1] for result in results)
            rows.append(("ansible-inventory -i <file> --list", mode, SERVERS, wall, cpu, TARGETS[mode]))

        rows.extend(in_process(directory, files, args.runs))

        listing = (directory / "listing.json").read_text(encoding="utf-8")
        wall, cpu, _result = timed(lambda: sdk_objects(listing), args.runs)
        rows.append(("for comparison: openstacksdk Server objects only", "-", SERVERS, wall, cpu, None))

    failed = print_table(rows, args.runs)
    sys.exit(1 if failed else 0)


LOAD_BEFORE = f"{os.getloadavg()[0]:.1f}"

if __name__ == "__main__":
    main()
