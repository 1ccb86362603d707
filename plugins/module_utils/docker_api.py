# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker Engine API over its Unix socket, with the standard library only.

The docker provider's roles use community.docker; the modules that only need a few calls
(``event_info`` lists what carries an event's labels, ``docker_node_image`` reads what changed
in a node and builds an image from it) talk to the engine's API directly, so they need no Docker SDK
on the control machine. The slurm_autoscale role ships this file, unchanged, next to its
resume and suspend programs on the Slurm controller, which has no Ansible: keep it free
of imports beyond the standard library. Only ``unix://`` engine addresses are supported.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import time
import urllib.parse

DEFAULT_HOST = "unix:///var/run/docker.sock"


class DockerError(Exception):
    """The engine cannot be reached or answered with an error; the message is one line.

    ``status`` is the HTTP status of the engine's answer, None when there was no answer.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def engine_host(host=None):
    """The engine address to use: ``host``, else ``DOCKER_HOST``, else the default socket."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


class DockerAPI:
    """Requests to the engine at ``host`` (``unix:///path``); every failure is a DockerError of one line."""

    def __init__(self, host=None, timeout=30):
        self.host = engine_host(host)
        if not self.host.startswith("unix://"):
            raise DockerError(f"docker_host: only unix:// addresses are supported, got {self.host!r}")
        self.path = self.host[len("unix://") :]
        self.timeout = timeout

    @staticmethod
    def url(path, query):
        """``path?query``; dict and list query values are sent as JSON, tuples as repeated keys."""
        pairs = []
        for key, value in query.items():
            if value is None:
                continue
            if isinstance(value, tuple):
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, json.dumps(value) if isinstance(value, (dict, list)) else value))
        return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")

    def open(self, method, endpoint, body=None, headers=None, timeout=None, **query):
        """Send a request and return ``(connection, response)``; the caller reads the body and closes both.

        ``body`` may be bytes or a binary file object (sent as it is read). Answers of 400 and more are
        DockerError with the engine's message.
        """
        connection = _UnixConnection(self.path, timeout or self.timeout)
        try:
            connection.request(method, self.url(endpoint, query), body=body, headers=headers or {})
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise DockerError(f"cannot reach the Docker engine at {self.host}: {exc.strerror or exc}") from None
        except http.client.HTTPException as exc:
            connection.close()
            raise DockerError(f"the Docker engine at {self.host} answered badly: {type(exc).__name__}") from None
        if response.status >= 400:
            try:
                raw = response.read()
            finally:
                connection.close()
            try:
                message = json.loads(raw).get("message", "")
            except (ValueError, AttributeError):
                message = raw.decode("utf-8", "replace").strip()
            raise DockerError(
                f"the Docker engine at {self.host} answered {response.status} to {method} {endpoint}: {message}",
                status=response.status,
            )
        return connection, response

    def request(self, method, endpoint, body=None, headers=None, timeout=None, **query):
        """The decoded JSON answer of ``method endpoint?query`` (None for an empty answer)."""
        connection, response = self.open(method, endpoint, body=body, headers=headers, timeout=timeout, **query)
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DockerError(f"the Docker engine at {self.host} broke off its answer to {method} {endpoint}") from exc
        finally:
            connection.close()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise DockerError(f"the Docker engine at {self.host} did not answer JSON to {method} {endpoint}") from None

    def get(self, endpoint, **query):
        """The decoded JSON answer of ``GET endpoint?query``."""
        return self.request("GET", endpoint, **query)

    def post(self, endpoint, data=None, **query):
        """``POST endpoint?query`` with ``data`` as a JSON body; the decoded answer."""
        body = None if data is None else json.dumps(data).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return self.request("POST", endpoint, body=body, headers=headers, **query)

    def delete(self, endpoint, **query):
        """``DELETE endpoint?query``; the decoded answer."""
        return self.request("DELETE", endpoint, **query)

    def put_archive(self, container, archive, path="/"):
        """Unpack the tar ``archive`` (bytes) into ``path`` of ``container`` (which may be created, not started)."""
        headers = {"Content-Type": "application/x-tar"}
        return self.request("PUT", f"/containers/{container}/archive", body=archive, headers=headers, path=path)

    def exec_output(self, container, command, timeout=None):
        """Start ``command`` (a list) in the running ``container``; ``(exec_id, connection, stdout)``.

        ``stdout`` is a binary file of the command's standard output (its ``stderr`` attribute
        keeps the end of its standard error once read to the end); the caller closes ``connection``
        and then asks ``exec_exit_code``.
        """
        created = self.post(
            f"/containers/{container}/exec", {"Cmd": list(command), "AttachStdout": True, "AttachStderr": True}
        )
        connection, response = self.open(
            "POST",
            f"/exec/{created['Id']}/start",
            body=json.dumps({"Detach": False, "Tty": False}).encode(),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
        return created["Id"], connection, ExecOutput(response)

    def exec_exit_code(self, exec_id, timeout=30):
        """The exit code of an exec whose output was read to the end: the engine may record it a moment
        after the output ends. DockerError when it has none after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.get(f"/exec/{exec_id}/json") or {}
            if not state.get("Running") and state.get("ExitCode") is not None:
                return state["ExitCode"]
            if time.monotonic() > deadline:
                raise DockerError(f"a command in {state.get('ContainerID', 'a container')} did not end")
            time.sleep(0.05)

    def labelled(self, label):
        """``(containers, networks, volumes)`` that carry ``label`` (any value), as the engine lists them."""
        filters = {"label": [label]}
        containers = self.get("/containers/json", all="true", filters=filters)
        networks = self.get("/networks", filters=filters)
        volumes = self.get("/volumes", filters=filters).get("Volumes") or []
        return containers, networks, volumes


class ExecOutput(io.RawIOBase):
    """The standard output of an exec without a terminal, read from the engine's multiplexed stream.

    The engine sends frames of an 8-byte header (stream: 1 stdout, 2 stderr; then the payload's
    length, big-endian, in bytes 4 to 8) and the payload. ``stderr`` keeps the last 4 KiB of
    standard error.
    """

    def __init__(self, response):
        super().__init__()
        self._response = response
        self._pending = b""
        self.stderr = b""

    def readable(self):
        return True

    def _exactly(self, size):
        data = b""
        while len(data) < size:
            chunk = self._response.read(size - len(data))
            if not chunk:
                if data:
                    raise DockerError("the Docker engine broke off the output of a command")
                return b""
            data += chunk
        return data

    def readinto(self, buffer):
        while not self._pending:
            header = self._exactly(8)
            if not header:
                return 0
            payload = self._exactly(int.from_bytes(header[4:8], "big"))
            if header[0] == 1:
                self._pending = payload
            elif header[0] == 2:
                self.stderr = (self.stderr + payload)[-4096:]
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
