# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml: the old module names lead to modules that exist, the action groups name only modules that
exist, and every module that works with OpenStack only says so in its name."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
MODULES = {path.stem for path in (ROOT / "plugins" / "modules").glob("*.py")}


def test_redirects_lead_to_modules_of_the_collection():
    routes = RUNTIME["plugin_routing"]["modules"]
    assert routes
    for old, route in routes.items():
        assert old not in MODULES, f"{old} is both a module and a redirect"
        prefix, new = route["redirect"].rsplit(".", 1)
        assert prefix == "learnhpc.cluster" and new in MODULES, f"{old} leads to {route['redirect']}, which is missing"


def test_action_groups_name_existing_modules():
    for group, modules in RUNTIME["action_groups"].items():
        missing = sorted(set(modules) - MODULES)
        assert not missing, f"action group {group} names {missing}"


def test_openstack_only_modules_say_so():
    # The action group openstack holds the modules built on module_utils/openstack.py; all but event_info (which
    # also reads a Docker engine) work with OpenStack only.
    for module in RUNTIME["action_groups"]["openstack"]:
        if module != "event_info":
            assert module.startswith("openstack_"), f"{module} works with OpenStack only: name it openstack_*"
