# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the inventory plugin tests: parsing with the plugin that Ansible's plugin loader loads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

if AnsibleCollectionConfig.collection_finder is None:
    # Plain pytest (pyproject.toml puts .venv/collections on sys.path): install Ansible's collection loader, as the
    # ansible CLIs do, so that the plugin loader finds learnhpc.cluster and the option definitions of its plugins.
    # Modules of ansible_collections that other tests imported without it are imported again through it.
    # ansible-test units has installed the loader already.
    for module_name in [name for name in sys.modules if name.split(".")[0] == "ansible_collections"]:
        del sys.modules[module_name]
    init_plugin_loader([p for p in sys.path if Path(p, "ansible_collections", "learnhpc", "cluster").is_dir()])


class Run:
    """Parses a configuration with the plugin, the Docker client and the OpenStack connections being fake ones."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.warnings = []
        self.plugin = None
        self.inventory = None
        self.docker_hosts = []
        self.clouds_yaml = []
        self.clouds = []

    def __call__(self, client=None, refresh=False, openstack=None, **options):
        """Parse a configuration file made of ``options``; the Docker client is ``client`` (or it raises it).

        ``openstack`` maps cloud names to the OpenStack connection (or an exception to raise) that the plugin gets for
        them. ``refresh`` parses as ansible-inventory --flush-cache or meta: refresh_inventory do.
        """
        plugin = inventory_loader.get("learnhpc.cluster.event")
        module = sys.modules[type(plugin).__module__]
        # The providers look their clients up in their own modules (plugins/plugin_utils/inventory_*.py).
        docker_module = sys.modules[module.PROVIDERS["docker"].__module__]
        openstack_module = sys.modules[module.PROVIDERS["openstack"].__module__]

        def docker_client(docker_host):
            self.docker_hosts.append(docker_host)
            if isinstance(client, Exception):
                raise client
            return client

        def openstack_config(clouds_yaml):
            self.clouds_yaml.append(clouds_yaml)
            return "fake-config"

        def openstack_connection(config, cloud):
            assert config == "fake-config"
            self.clouds.append(cloud)
            connection = (openstack or {})[cloud]
            if isinstance(connection, Exception):
                raise connection
            return connection

        self.monkeypatch.setattr(docker_module, "docker_client", docker_client)
        self.monkeypatch.setattr(openstack_module, "openstack_config", openstack_config)
        self.monkeypatch.setattr(openstack_module, "openstack_connection", openstack_connection)
        self.monkeypatch.setattr(plugin.display, "warning", self._warning)
        path = self.tmp_path / "test.event.yml"
        path.write_text(json.dumps({"plugin": "learnhpc.cluster.event", **options}), encoding="utf-8")
        self.inventory = InventoryData()
        self.plugin = plugin
        plugin.parse(self.inventory, DataLoader(), str(path), cache=not refresh)
        return self.inventory

    def _warning(self, msg, *_args, **_kwargs):
        self.warnings.append(msg)


@pytest.fixture
def run(tmp_path, monkeypatch):
    return Run(tmp_path, monkeypatch)
