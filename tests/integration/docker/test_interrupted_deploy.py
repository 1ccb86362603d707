"""site.yml on the docker provider, killed at five points of a first deploy, then run again.

Each case makes the small event ``ci-int`` (management, login and one compute node, no
JupyterHub) from nothing, kills ``ansible-playbook site.yml`` with SIGKILL (a closed laptop,
not a polite stop) a few seconds into the first task that matches its point, runs site.yml
again, which must reach "is ready" with every host ok, and tears the event down, which must
leave 0 containers, networks, volumes and images of the event and no state directory.

Needs a running Docker engine and the node image (``make setup``). Runs from the project's
root: ``pytest -v -s tests/integration/docker/test_interrupted_deploy.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EVENT = "ci-int"
EVENT_FILE = """---
# tests/integration/docker/test_interrupted_deploy.py
description: interrupted deploys
provider: docker
end_date: 2099-12-31
accounts:
  guests: 2
nodes:
  compute:
    count: 1
docker:
  ssh_port: 2622
  https_port: 8746
"""
# (the first task whose line matches, seconds after it starts)
POINTS = {
    "provision": (r"TASK \[learnhpc\.cluster\.docker_provider : Start the systemd containers\]", 1),
    "munge": (r"TASK \[learnhpc\.cluster\.munge : ", 2),
    "directory": (r"TASK \[learnhpc\.cluster\.ldap_server : ", 4),
    "accounting": (r"TASK \[learnhpc\.cluster\.slurm_dbd : ", 4),
    "accounts": (r"TASK \[learnhpc\.cluster\.accounts : ", 3),
}
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)")

pytestmark = pytest.mark.skipif(
    subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0,
    reason="no Docker engine",
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    events = tmp_path_factory.mktemp("events")
    (events / f"{EVENT}.yml").write_text(EVENT_FILE)
    environment = dict(os.environ, LEARNHPC_EVENTS_DIR=str(events), ANSIBLE_NOCOLOR="true", ANSIBLE_FORCE_COLOR="false")
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    yield environment
    playbook("teardown.yml", environment)


def playbook(name, environment, kill_at=None, log=None):
    """Run a playbook of the project; ``(exit status, output, whether it was killed)``.

    With ``kill_at`` (pattern, seconds), the run is killed that many seconds after the first
    line that matches, whatever it prints meanwhile.
    """
    process = subprocess.Popen(
        ["ansible-playbook", name, "-e", f"event={EVENT}"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    killed = threading.Event()

    def kill():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            killed.set()

    lines, timer = [], None
    for line in process.stdout:
        lines.append(line)
        if log:
            log.write(line)
        if kill_at and timer is None and re.search(kill_at[0], line):
            timer = threading.Timer(kill_at[1], kill)
            timer.start()
    status = process.wait()
    if timer is not None:
        timer.cancel()
    return status, "".join(lines), killed.is_set()


def left_of_event():
    """``{kind: count}`` of what the Docker engine has with the event's label."""
    counts = {}
    for kind, command in (
        ("containers", ["docker", "ps", "-aq"]),
        ("networks", ["docker", "network", "ls", "-q"]),
        ("volumes", ["docker", "volume", "ls", "-q"]),
        ("images", ["docker", "images", "-q"]),
    ):
        out = subprocess.run(
            [*command, "--filter", f"label=org.learnhpc.event={EVENT}"], capture_output=True, text=True, check=True
        ).stdout
        counts[kind] = len(out.split())
    return counts


@pytest.mark.parametrize("point", list(POINTS))
def test_a_deploy_killed_at_a_point_converges_when_run_again(env, point, tmp_path):
    assert left_of_event() == dict.fromkeys(("containers", "networks", "volumes", "images"), 0)
    started = time.monotonic()
    with open(tmp_path / "killed.log", "w", encoding="utf-8") as log:
        status, _output, killed = playbook("site.yml", env, kill_at=POINTS[point], log=log)
    assert killed, f"site.yml ended (exit {status}) before it reached the point {point}"
    killed_after = time.monotonic() - started

    started = time.monotonic()
    status, output, _killed = playbook("site.yml", env)
    again = time.monotonic() - started
    recap = [RECAP.match(line) for line in output.splitlines()]
    recap = [match.groups() for match in recap if match]
    assert status == 0, output[-3000:]
    assert f"Event {EVENT} is ready" in output
    assert recap and all(unreachable == "0" and failed == "0" for _host, unreachable, failed in recap), recap

    started = time.monotonic()
    status, output, _killed = playbook("teardown.yml", env)
    teardown = time.monotonic() - started
    assert status == 0, output[-3000:]
    assert left_of_event() == dict.fromkeys(("containers", "networks", "volumes", "images"), 0)
    assert not (Path(env["LEARNHPC_EVENTS_DIR"]) / ".state" / EVENT).exists()
    print(f"\n{point}: killed after {killed_after:.0f} s, converged in {again:.0f} s, torn down in {teardown:.0f} s")
