# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's Docker modules reach the engine (plugins/module_utils/docker_api.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine, as a C(unix://) address. Defaults to C(DOCKER_HOST), else C(unix:///var/run/docker.sock).
    type: str
notes:
  - Talks to the Docker engine's API over its Unix socket; no Docker SDK is needed.
"""
