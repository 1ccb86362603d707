"""site.yml on the docker provider, killed at five points of a first deploy, then run again.

Each case of ``test_a_deploy_killed_at_a_point_converges_when_run_again`` makes the small
event ``ci-int`` (management, login and one compute node, no JupyterHub) from nothing, kills
``ansible-playbook site.yml`` with SIGKILL (a closed laptop, not a polite stop) a few seconds
into the first task that matches its point, runs site.yml again, which must reach "is ready"
with every host ok, and tears the event down, which must leave 0 containers, networks,
volumes and images of the event and no state directory (``make test-interrupted``, about
13 minutes).

``test_a_deploy_killed_again_and_again_converges`` (in ``make test``, about 5 minutes) is the
trainer who closes the laptop at every try: each run is killed at the next point of CHAIN
(the containers half made, the directory half configured, the accounts half written), which
it reaches for the first time, so each kill still interrupts the first run of that part; the
run after the last kill must reach "is ready", and teardown must leave nothing.

Needs a running Docker engine and the node image (``make setup``). Runs from the project's
root: ``pytest -v -s tests/integration/docker/test_interrupted_deploy.py``.
"""

from __future__ import annotations

import contextlib
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
# The points of the chained case, a subset so that it fits CI's time.
CHAIN = ("provision", "directory", "accounts")
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
            # Said before the first signal: the reader below may see the run end before this
            # thread has killed the last worker.
            killed.set()
            # Ansible's workers start sessions of their own (setsid): the process group alone
            # would leave them running, and one writing its result to the dead main process's
            # queue waits forever.
            for pid in [process.pid, *descendants(process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

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
        timer.join()  # a kill under way ends (every worker signalled) before the next run starts
    return status, "".join(lines), killed.is_set()


def descendants(pid):
    """The process IDs below ``pid``, from /proc."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running_playbooks():
    """The process IDs of ansible-playbook runs of the event."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if any(part.endswith(b"ansible-playbook") for part in command) and f"event={EVENT}".encode() in command:
            found.append(int(entry.name))
    return found


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


NOTHING = dict.fromkeys(("containers", "networks", "volumes", "images"), 0)


def kill_at(point, env, log_path):
    """Run site.yml and kill it at ``point``; the seconds it ran."""
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        status, _output, killed = playbook("site.yml", env, kill_at=POINTS[point], log=log)
    assert killed, f"site.yml ended (exit {status}) before it reached the point {point}; see {log_path}"
    ran = time.monotonic() - started
    for _attempt in range(50):
        left = running_playbooks()
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"processes of the killed run are still there: {left}"
    return ran


def converge_and_tear_down(env):
    """site.yml to ready with every host ok, then teardown to nothing; their seconds."""
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
    assert left_of_event() == NOTHING
    assert not (Path(env["LEARNHPC_EVENTS_DIR"]) / ".state" / EVENT).exists()
    return again, teardown


@pytest.mark.parametrize("point", list(POINTS))
def test_a_deploy_killed_at_a_point_converges_when_run_again(env, point, tmp_path):
    assert left_of_event() == NOTHING
    killed_after = kill_at(point, env, tmp_path / "killed.log")
    again, teardown = converge_and_tear_down(env)
    print(f"\n{point}: killed after {killed_after:.0f} s, converged in {again:.0f} s, torn down in {teardown:.0f} s")


def test_a_deploy_killed_again_and_again_converges(env, tmp_path):
    assert left_of_event() == NOTHING
    ran = [f"{point} {kill_at(point, env, tmp_path / f'killed-{point}.log'):.0f} s" for point in CHAIN]
    again, teardown = converge_and_tear_down(env)
    print(f"\nkilled at {', '.join(ran)}; converged in {again:.0f} s, torn down in {teardown:.0f} s")
