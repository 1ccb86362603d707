# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.docker_node_image: what is left out, and when an image is made.

The engine is a stand-in object here; molecule/autoscale makes a real image from a real node.
"""

from __future__ import annotations

import io
import tarfile

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerError
from ansible_collections.learnhpc.cluster.plugins.modules import docker_node_image as module


def tar_of(entries):
    """A tar stream of (name, kind, data) with kind 'file', 'dir' or 'link:<target>'."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind.startswith("link:"):
                info.type = tarfile.LNKTYPE
                info.linkname = kind[len("link:") :]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


FILE_SYSTEM = [
    ("etc", "dir", b""),
    ("etc/munge", "dir", b""),
    ("etc/munge/munge.key", "file", b"secret"),
    ("etc/munge/munge.key.hard", "link:etc/munge/munge.key", b""),
    ("etc/machine-id", "file", b"0123456789abcdef\n"),
    ("etc/hostname-ish", "file", b"keep"),
    ("var", "dir", b""),
    ("var/log", "dir", b""),
    ("var/log/munge", "dir", b""),
    ("var/log/munge/munged.log", "file", b"log"),
    ("var/lib/sss/db", "dir", b""),
    ("var/lib/sss/db/cache.ldb", "file", b"hashes"),
]


def copied(exclude, empty=()):
    out = io.BytesIO()
    files, left_out = module.copy_file_system(tar_of(FILE_SYSTEM), out, module.Selection(exclude, empty))
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}
    return members, files, left_out


def test_exclusions_empties_and_hard_links():
    members, files, left_out = copied(
        ["/etc/munge/munge.key", "/var/log/**", "/var/lib/sss/db/*"], empty=["/etc/machine-id"]
    )
    assert sorted(members) == [
        "etc",
        "etc/hostname-ish",
        "etc/machine-id",
        "etc/munge",
        "var",
        "var/lib/sss/db",
        "var/log",
        "var/log/munge",
    ]
    assert members["etc/machine-id"] == b""
    assert members["etc/hostname-ish"] == b"keep"
    # The key, its hard link, the log file and the cache; directories under /var/log stay.
    assert (files, left_out) == (8, 4)


def test_a_whole_directory_can_go():
    members, _files, _left_out = copied(["/var"])
    assert not any(name.startswith("var") for name in members)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("learnhpc/demo-compute:latest", ("learnhpc/demo-compute", "latest")),
        ("demo", ("demo", "latest")),
        ("registry:5000/demo", ("registry:5000/demo", "latest")),
        ("demo:v2", ("demo", "v2")),
    ],
)
def test_split_name(name, expected):
    assert module.split_name(name) == expected


def test_import_answer():
    raw = b'{"status":"Loading"}\n{"status":"sha256:4f2a"}\n'
    assert module.import_answer(raw) == "sha256:4f2a"
    with pytest.raises(DockerError, match="refused the image: no space"):
        module.import_answer(b'{"error":"no space"}\n')


class FakeAPI:
    def __init__(self, image=None, running=True):
        self.image = image
        self.running = running
        self.calls = []

    def get(self, endpoint, **_query):
        self.calls.append(("GET", endpoint))
        if endpoint.startswith("/images/"):
            if self.image is None:
                raise DockerError("no such image", status=404)
            return self.image
        return {"State": {"Running": self.running}}

    def delete(self, endpoint, **_query):
        self.calls.append(("DELETE", endpoint))


PARAMS = {
    "name": "learnhpc/ev-compute:latest",
    "container": "ev-compute-01",
    "fingerprint": "abc",
    "exclude": ["/etc/munge/munge.key"],
    "empty": [],
    "labels": {"org.learnhpc.event": "ev"},
    "command": ["/lib/systemd/systemd"],
    "timeout": 60,
}


def test_unchanged_when_the_fingerprint_and_options_match(tmp_path):
    label = module.full_fingerprint(PARAMS)
    api = FakeAPI(image={"Id": "sha256:1", "Config": {"Labels": {module.FINGERPRINT_LABEL: label}}})
    result = module.NodeImage(api, PARAMS, False, str(tmp_path)).present()
    assert result["changed"] is False
    assert api.calls == [("GET", "/images/learnhpc/ev-compute:latest/json")]


def test_other_options_make_another_image(tmp_path):
    label = module.full_fingerprint(PARAMS)
    other = module.full_fingerprint(dict(PARAMS, exclude=["/etc/munge/munge.key", "/var/log/**"]))
    assert label.startswith("abc-") and other.startswith("abc-") and label != other
    labels = {module.FINGERPRINT_LABEL: other, "org.learnhpc.event": "ev"}
    api = FakeAPI(image={"Id": "sha256:1", "Config": {"Labels": labels}})
    result = module.NodeImage(api, PARAMS, True, str(tmp_path)).present()
    assert result == {"changed": True, "image": None, "fingerprint": label, "files": 0, "left_out": 0}
    assert ("DELETE", "/images/sha256:1") not in api.calls  # check mode


def test_a_stopped_source_is_refused(tmp_path):
    with pytest.raises(DockerError, match="ev-compute-01 is not running"):
        module.NodeImage(FakeAPI(running=False), PARAMS, False, str(tmp_path)).present()


def test_absent(tmp_path):
    api = FakeAPI(image={"Id": "sha256:1", "Config": {"Labels": {"org.learnhpc.event": "ev"}}})
    assert module.NodeImage(api, PARAMS, False, str(tmp_path)).absent()["changed"] is True
    assert api.calls[-1] == ("DELETE", "/images/sha256:1")
    assert module.NodeImage(FakeAPI(), PARAMS, False, str(tmp_path)).absent()["changed"] is False


@pytest.mark.parametrize("labels", [{}, {"org.learnhpc.event": "ev-gpu"}])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_an_image_of_another_event_is_left_alone(tmp_path, labels, state):
    api = FakeAPI(image={"Id": "sha256:1", "Config": {"Labels": dict(labels, **{module.FINGERPRINT_LABEL: "x"})}})
    work = module.NodeImage(api, PARAMS, False, str(tmp_path))
    with pytest.raises(DockerError, match=r"^image learnhpc/ev-compute:latest exists and is not this one's to replace"):
        work.present() if state == "present" else work.absent()
    assert [call for call in api.calls if call[0] == "DELETE"] == []
