# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection plugins of collections are loaded in the controller's main process, so that workers import nothing.

Each case runs in a new Python process with Ansible's collection loader, as ansible-playbook's main process has
it: the modules this test process imported for other tests would otherwise hide a plugin that was not loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COLLECTIONS = Path(__file__).resolve().parents[4] / ".venv" / "collections"
DOCKER_ENGINE = "ansible_collections.learnhpc.cluster.plugins.connection.docker_engine"

PROLOGUE = """
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
from ansible.plugins.loader import callback_loader, connection_loader
before = {"requests": "requests" in sys.modules, "plugin": sys.argv[2] in sys.modules}
"""

# What a worker forked after the preload imports to get the plugin: nothing.
EPILOGUE = """
modules = set(sys.modules)
connection_loader.get("learnhpc.cluster.docker_engine", class_only=True)
after = {"requests": "requests" in sys.modules, "plugin": sys.argv[2] in sys.modules}
print(json.dumps({"before": before, "after": after, "loaded": loaded,
                  "imported_by_worker": sorted(set(sys.modules) - modules)}))
"""


def run(body):
    if not (COLLECTIONS / "ansible_collections" / "learnhpc" / "cluster").exists():
        pytest.skip("the set-up links this checkout under .venv/collections (scripts/setup.sh)")
    result = subprocess.run(
        [sys.executable, "-c", PROLOGUE + body + EPILOGUE, str(COLLECTIONS), DOCKER_ENGINE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_preload_loads_the_plugin_and_what_it_imports():
    out = run(
        "from ansible_collections.learnhpc.cluster.plugins.plugin_utils.connection_preload import preload_connections\n"
        "loaded = preload_connections(['learnhpc.cluster.docker_engine', None, '', 'ssh', 'no.such.plugin',"
        " 'learnhpc.cluster.docker_engine'])\n"
    )
    assert out["before"] == {"requests": False, "plugin": False}
    assert out["after"] == {"requests": True, "plugin": True}
    # Unknown and builtin names are left to ansible-core; a name given twice is loaded once.
    assert out["loaded"] == ["learnhpc.cluster.docker_engine"]
    assert out["imported_by_worker"] == []


def test_without_preload_a_worker_imports_the_plugin_and_requests():
    """The cost the preload saves: what each worker imported before."""
    out = run("loaded = []\n")
    assert out["before"] == {"requests": False, "plugin": False}
    assert DOCKER_ENGINE in out["imported_by_worker"]
    assert "requests" in out["imported_by_worker"]


def test_callback_loads_its_configured_plugins_when_the_playbook_starts():
    out = run(
        "callback = callback_loader.get('learnhpc.cluster.preload_connections')\n"
        "callback.set_options()\n"
        "callback.v2_playbook_on_start(None)\n"
        "loaded = callback.get_option('connections')\n"
    )
    assert out["loaded"] == ["learnhpc.cluster.docker_engine"]
    assert out["after"] == {"requests": True, "plugin": True}
    assert out["imported_by_worker"] == []
