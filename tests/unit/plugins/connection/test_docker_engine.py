# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection learnhpc.cluster.docker_engine reads a command's output whole, also when it came with the headers.

The Docker engine is stood in for by one end of a socket pair that sends what the engine sends for a started
exec: an HTTP 101 answer, then the multiplexed stream. When both arrive in one read, the reader of the HTTP
response holds the first frames in its buffer; community.docker reads beneath that buffer.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading

import pytest
from ansible_collections.community.docker.plugins.module_utils._api.api.client import APIClient

from ansible_collections.learnhpc.cluster.plugins.connection import docker_engine

HEADERS = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


def frame(stream, data):
    return struct.pack(">BxxxL", stream, len(data)) + data


class Raw:
    """What ``requests`` gives as ``response.raw``: ``_fp`` is the http.client response."""

    def __init__(self, response):
        self._fp = response


class Response:
    def __init__(self, sock):
        self.http = http.client.HTTPResponse(sock)
        self.http.begin()
        self.raw = Raw(self.http)
        self.closed = False

    def close(self):
        self.closed = True
        self.http.close()


class Client:
    """community.docker's reading of a stream, on a response that did not come through requests."""

    _read_from_socket = APIClient._read_from_socket

    def _get_raw_response_socket(self, response):
        return response.raw._fp.fp.raw


def answer(*parts, pause=None):
    """A response whose peer sends ``parts``, each in one write; ``pause`` is set before the last write."""
    ours, engine = socket.socketpair()

    def send():
        for index, part in enumerate(parts):
            if pause is not None and index == len(parts) - 1:
                pause.wait(5)
            engine.sendall(part)
        engine.close()

    thread = threading.Thread(target=send)
    thread.start()
    response = Response(ours)
    return response, thread


@pytest.mark.parametrize("together", [True, False], ids=["with the headers", "after the headers"])
def test_the_output_is_read_whole(together):
    stream = frame(1, b"ansible-tmp-1=/root/.ansible/tmp/ansible-tmp-1\n") + frame(2, b"a warning\n")
    parts = (HEADERS + stream,) if together else (HEADERS, stream)
    gate = threading.Event()
    response, thread = answer(*parts, pause=None if together else gate)
    client = Client()
    read = docker_engine.read_whole_stream(client)
    gate.set()
    stdout, stderr = read(response, False, tty=False, demux=True)
    thread.join()
    assert stdout == b"ansible-tmp-1=/root/.ansible/tmp/ansible-tmp-1\n"
    assert stderr == b"a warning\n"
    assert response.closed


def test_community_docker_loses_what_came_with_the_headers():
    """The defect mended here: if this fails, community.docker reads the buffer itself and the plugin can go."""
    response, thread = answer(HEADERS + frame(1, b"hello\n"))
    thread.join()
    stdout, stderr = Client()._read_from_socket(response, False, tty=False, demux=True)
    assert (stdout, stderr) == (None, None)


def test_a_stream_read_as_it_comes_is_left_to_community_docker():
    calls = []

    class Recording(Client):
        def _read_from_socket(self, response, stream, tty=True, demux=False):
            calls.append(stream)
            return "community.docker"

    response, thread = answer(HEADERS + frame(1, b"hello\n"))
    thread.join()
    assert docker_engine.read_whole_stream(Recording())(response, True, tty=False, demux=True) == "community.docker"
    assert calls == [True]


def test_the_connection_reads_through_it(monkeypatch):
    """Its client, once connected (community.docker makes it), reads what came with the headers; once."""

    def connect(self, port=None):
        self.client = self.client or Client()

    monkeypatch.setattr(docker_engine.DockerApiConnection, "_connect", connect)
    connection = object.__new__(docker_engine.Connection)
    connection.client = None
    connection._connect()
    connection._connect()
    assert connection.transport == "learnhpc.cluster.docker_engine"
    response, thread = answer(HEADERS + frame(1, b"hello\n"))
    thread.join()
    assert connection.client._read_from_socket(response, False, tty=False, demux=True) == (b"hello\n", None)
