# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to a container through the Docker Engine API that keeps the whole output of every command."""

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: docker_engine
short_description: Run tasks in the docker provider's containers through the Docker Engine API
description:
  - The connection of the docker provider's nodes. It is P(community.docker.docker_api#connection) with one
    defect mended, for which a busy machine lost the output of short commands.
  - A command's output arrives on the connection that answered the request to start it (HTTP 101, then the
    raw stream). Reading the answer's headers can read the first bytes of the stream as well, into the
    buffer of the reader of the HTTP response. P(community.docker.docker_api#connection) then reads the
    stream from the socket beneath that buffer, and what was buffered is lost. When a command prints
    at once and little, as the one that makes Ansible's temporary directory does, all of its output can be
    lost. The task then fails with C(failed to resolve remote temporary directory ... returned empty
    string) (U(https://github.com/ansible-collections/community.docker/issues/644)). On two cores under
    load, 7 of 1400 starts of C(echo hello) lost their output.
  - This connection reads the stream through that buffer first, then from the socket. Commands that get
    input (modules run with pipelining) are run as P(community.docker.docker_api#connection) runs them,
    since they print nothing before their input is written.
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - community.docker.docker.api_documentation
  - community.docker.docker.var_names
options:
  remote_user:
    description: The user that runs the commands in the container; empty for the container's own user.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_docker_user
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    cli:
      - name: user
    keyword:
      - name: remote_user
  remote_addr:
    description: Name or ID of the container.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_docker_host
  container_timeout:
    description: Seconds to wait for the output of a command once it has started.
    type: int
    default: 10
    env:
      - name: ANSIBLE_TIMEOUT
      - name: ANSIBLE_DOCKER_TIMEOUT
    ini:
      - section: defaults
        key: timeout
      - section: docker_connection
        key: timeout
    vars:
      - name: ansible_docker_timeout
    cli:
      - name: timeout
  extra_env:
    description: Environment variables added to every command (Ansible variables only).
    type: dict
    vars:
      - name: ansible_docker_extra_env
  working_dir:
    description: Directory in the container where the commands run (Docker API 1.35 or later).
    type: str
    env:
      - name: ANSIBLE_DOCKER_WORKING_DIR
    ini:
      - section: docker_connection
        key: working_dir
    vars:
      - name: ansible_docker_working_dir
  privileged:
    description: Whether the commands run with extended privileges; they can then leave the container.
    type: bool
    default: false
    env:
      - name: ANSIBLE_DOCKER_PRIVILEGED
    ini:
      - section: docker_connection
        key: privileged
    vars:
      - name: ansible_docker_privileged
"""

from ansible_collections.community.docker.plugins.connection.docker_api import Connection as DockerApiConnection
from ansible_collections.community.docker.plugins.module_utils._api.utils.socket import (
    consume_socket_output,
    demux_adaptor,
    frames_iter,
)


class BufferFirst:
    """The raw stream of a response: what the response's reader buffered past the headers, then the socket.

    It offers ``recv`` (which the stream readers of community.docker prefer) and the socket's ``fileno`` to wait
    on. A wait on the socket can block while bytes are buffered; the streams read here are read to their end,
    and the end of the stream wakes it.
    """

    def __init__(self, sock, buffered):
        self._sock = sock
        self._buffered = buffered

    def recv(self, size):
        return self._buffered.read1(size)

    def fileno(self):
        return self._sock.fileno()

    def __getattr__(self, name):
        return getattr(self._sock, name)


def read_whole_stream(client):
    """A replacement of ``client._read_from_socket`` for streams read to their end (``stream=False``)."""
    read_from_socket = client._read_from_socket

    def read(response, stream, tty=True, demux=False):
        buffered = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
        if stream or not hasattr(buffered, "read1"):
            return read_from_socket(response, stream, tty=tty, demux=demux)
        sock = client._get_raw_response_socket(response)
        frames = frames_iter(BufferFirst(sock, buffered), tty)
        frames = (demux_adaptor(*frame) for frame in frames) if demux else (data for _kind, data in frames)
        try:
            return consume_socket_output(frames, demux=demux)
        finally:
            response.close()

    return read


class Connection(DockerApiConnection):
    transport = "learnhpc.cluster.docker_engine"

    def _connect(self, port=None):
        super()._connect(port=port)
        client = self.client
        if client is not None and not getattr(client, "_learnhpc_whole_stream", False):
            client._read_from_socket = read_whole_stream(client)
            client._learnhpc_whole_stream = True
        return self
