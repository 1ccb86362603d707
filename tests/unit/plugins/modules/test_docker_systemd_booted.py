# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.docker_systemd_booted with a stand-in engine: what each answer of a container
means. Every Molecule scenario and the docker provider's events run it against real containers."""

from __future__ import annotations

import io
import subprocess

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerError, ExecOutput
from ansible_collections.learnhpc.cluster.plugins.modules import docker_systemd_booted as module


def frames(*chunks):
    """The engine's multiplexed stream of (stream, bytes) chunks."""
    return b"".join(bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data for kind, data in chunks)


class Connection:
    closed = False

    def close(self):
        self.closed = True


class FakeAPI:
    """Answers an exec in each container as ``answers`` says: bytes of standard output, or a DockerError."""

    def __init__(self, answers):
        self.answers = answers
        self.commands = []
        self.connections = []
        self.asked_exit = []

    def exec_output(self, container, command, timeout=None):
        self.commands.append((container, command, timeout))
        answer = self.answers[container]
        if isinstance(answer, DockerError):
            raise answer
        connection = Connection()
        self.connections.append(connection)
        return f"exec-{container}", connection, ExecOutput(io.BytesIO(frames((2, b"noise\n"), (1, answer))))

    def exec_exit_code(self, exec_id, timeout=30):
        self.asked_exit.append(exec_id)
        return 0


def test_the_command_makes_the_temporary_directory_and_waits_at_most_the_timeout(tmp_path):
    command = module.boot_command(45)
    assert command[:2] == ["sh", "-c"] and command[3:] == ["sh", "45"]
    # The script itself, run by a real sh with stand-ins for the container's commands: the timeout reaches
    # `timeout`, and the state is printed even when systemctl exits non-zero (it does when degraded).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mkdir").write_text('#!/bin/sh\necho "mkdir $*" >&2\n')
    (bin_dir / "timeout").write_text('#!/bin/sh\necho "timeout $1" >&2\nshift\nexec "$@"\n')
    (bin_dir / "systemctl").write_text("#!/bin/sh\necho degraded\nexit 1\n")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    ran = subprocess.run(command, capture_output=True, text=True, check=False, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert ran.returncode == 0
    assert ran.stdout == "degraded\n"
    assert ran.stderr == "mkdir -p -m 0700 /root/.ansible/tmp\ntimeout 45\n"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (b"running\n", "running"),
        (b"degraded\n", "degraded"),
        (b"starting\n", "starting"),  # timeout ended the wait
        (b"", "no answer"),  # mkdir failed: systemctl never ran
        (DockerError("no such container", status=404), "no such container"),
        (DockerError("container is not running", status=409), "not running"),
    ],
)
def test_what_a_container_answers(answer, state):
    api = FakeAPI({"n1": answer})
    assert module.boot_state(api, "n1", 30) == state
    assert api.commands == [("n1", module.boot_command(30), 60)]
    assert all(connection.closed for connection in api.connections)
    assert api.asked_exit == ([] if isinstance(answer, DockerError) else ["exec-n1"])


def test_other_engine_errors_are_not_answers():
    api = FakeAPI({"n1": DockerError("the engine broke", status=500)})
    with pytest.raises(DockerError, match="the engine broke"):
        module.boot_state(api, "n1", 30)


def test_running_and_degraded_have_booted_and_the_rest_are_named_in_one_line():
    assert module.not_booted({"a": "running", "b": "degraded"}) is None
    assert module.not_booted({}) is None
    assert (
        module.not_booted({"a": "running", "b": "starting", "c": "no such container"})
        == "systemd has not booted in b (starting), c (no such container)"
    )
