# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only access to the Docker Engine API over its Unix socket, with the standard library.

The docker provider's roles use community.docker; the modules that only need to list what
carries an event's labels (``event_info``) read the engine's API directly, so they need no
Docker SDK on the control machine. Only ``unix://`` engine addresses are supported.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse

DEFAULT_HOST = "unix:///var/run/docker.sock"


class DockerError(Exception):
    """The engine cannot be reached or answered with an error; the message is one line."""


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
    """GET requests to the engine at ``host`` (``unix:///path``)."""

    def __init__(self, host=None, timeout=30):
        self.host = engine_host(host)
        if not self.host.startswith("unix://"):
            raise DockerError(f"docker_host: only unix:// addresses are supported, got {self.host!r}")
        self.path = self.host[len("unix://") :]
        self.timeout = timeout

    def get(self, path, **query):
        """The decoded JSON answer of ``GET path?query``; dict and list query values are sent as JSON."""
        params = {key: json.dumps(value) if isinstance(value, (dict, list)) else value for key, value in query.items()}
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        connection = _UnixConnection(self.path, self.timeout)
        try:
            connection.request("GET", url)
            response = connection.getresponse()
            body = response.read()
        except OSError as exc:
            raise DockerError(f"cannot reach the Docker engine at {self.host}: {exc.strerror or exc}") from None
        except http.client.HTTPException as exc:
            raise DockerError(f"the Docker engine at {self.host} answered badly: {type(exc).__name__}") from None
        finally:
            connection.close()
        if response.status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body.decode("utf-8", "replace")
            raise DockerError(f"the Docker engine at {self.host} answered {response.status} to GET {path}: {message}")
        try:
            return json.loads(body)
        except ValueError:
            raise DockerError(f"the Docker engine at {self.host} did not answer JSON to GET {path}") from None

    def labelled(self, label):
        """``(containers, networks, volumes)`` that carry ``label`` (any value), as the engine lists them."""
        filters = {"label": [label]}
        containers = self.get("/containers/json", all="true", filters=filters)
        networks = self.get("/networks", filters=filters)
        volumes = self.get("/volumes", filters=filters).get("Volumes") or []
        return containers, networks, volumes
