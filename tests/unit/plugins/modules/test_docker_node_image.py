# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of learnhpc.cluster.docker_node_image: what is left out, and when an image is made.

The engine is a stand-in object here; molecule/autoscale makes a real image from a real node and looks
for left-out files in every layer of it.
"""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from ansible_collections.learnhpc.cluster.plugins.module_utils.docker_api import DockerError, ExecOutput
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
    with tarfile.open(fileobj=tar_of(FILE_SYSTEM), mode="r|") as reader, tarfile.open(fileobj=out, mode="w") as writer:
        files, left_out = module.copy_members(reader, writer, module.Selection(exclude, empty), set())
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


BASE = "sha256:base"


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
        return {"State": {"Running": self.running}, "Image": BASE}

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
    label = module.full_fingerprint(PARAMS, BASE)
    api = FakeAPI(image={"Id": "sha256:1", "Config": {"Labels": {module.FINGERPRINT_LABEL: label}}})
    result = module.NodeImage(api, PARAMS, False, str(tmp_path)).present()
    assert result["changed"] is False
    assert api.calls == [("GET", "/containers/ev-compute-01/json"), ("GET", "/images/learnhpc/ev-compute:latest/json")]


def test_other_options_make_another_image(tmp_path):
    label = module.full_fingerprint(PARAMS, BASE)
    other = module.full_fingerprint(dict(PARAMS, exclude=["/etc/munge/munge.key", "/var/log/**"]), BASE)
    assert label.startswith("abc-") and other.startswith("abc-") and label != other
    # Another image under the source makes another image too.
    assert module.full_fingerprint(PARAMS, "sha256:other") != label
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


def frames(*chunks):
    """The engine's multiplexed stream of (stream, bytes) chunks."""
    return b"".join(bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data for kind, data in chunks)


class Dribble(io.BytesIO):
    """A response that answers at most 3 bytes a read, as a socket may."""

    def read(self, size=-1):
        return super().read(3 if size < 0 else min(size, 3))


def test_exec_output_keeps_stdout_and_the_end_of_stderr():
    stream = ExecOutput(Dribble(frames((1, b"hello "), (2, b"warning\n"), (1, b""), (1, b"world"))))
    assert stream.read() == b"hello world"
    assert stream.stderr == b"warning\n"


def test_exec_output_refuses_a_stream_cut_in_a_frame():
    with pytest.raises(DockerError, match="broke off"):
        ExecOutput(io.BytesIO(frames((1, b"hello"))[:-2])).read()


def test_plan_skips_mounts_and_sorts_what_changed():
    changes = [
        {"Path": "/etc/munge/munge.key", "Kind": 1},
        {"Path": "/etc/munge", "Kind": 0},
        {"Path": "/home/alice/.bashrc", "Kind": 1},
        {"Path": "/etc/hosts", "Kind": 1},
        {"Path": "/etc/issue", "Kind": 2},
        {"Path": "/var/log/munge", "Kind": 1},
        {"Path": "/var/lib/sss/db/cache.ldb", "Kind": 1},
        {"Path": "/var/lib/sss/db", "Kind": 0},
    ]
    selection = module.Selection(["/etc/munge/munge.key", "/var/log/**", "/var/lib/sss/db/*"], [])
    copied, left_out, deleted = module.plan(changes, selection, {"home"} | set(module.ENGINE_MOUNTS))
    # /var/log/munge may be a directory, which a /** exclusion keeps: the copy drops it if it is a file.
    assert copied == ["etc/munge", "var/lib/sss/db", "var/log/munge"]
    assert left_out == ["etc/munge/munge.key", "var/lib/sss/db/cache.ldb"]
    assert deleted == ["etc/issue"]


def test_removal_covers_the_exclusions_and_what_the_source_deleted():
    selection = module.Selection(["/etc/munge/munge.key", "/var/log/**", "/var/lib/sss/db/*"], ["/etc/machine-id"])
    pairs = module.removal(selection, ["etc/issue", "var/lib/sss/db/old.ldb"])
    assert pairs == [
        ("whole", "/etc/munge/munge.key"),
        ("contents", "/var/lib/sss/db"),
        ("files", "/var/log"),
        ("empty", "/etc/machine-id"),
        ("whole", "/etc/issue"),
    ]


def test_batches_fit_a_command_line():
    paths = [f"dir/{index:04d}" for index in range(1000)]
    batches = list(module.batches(paths, limit=900))
    assert [path for batch in batches for path in batch] == paths
    assert all(sum(len(path) + 1 for path in batch) <= 900 for batch in batches)
    assert len(batches) == 10


def test_the_dockerfile_gives_every_path_as_json():
    odd = "/etc/a path with 'quotes' and $HOME\nand a newline"
    lines = module.dockerfile(BASE, [("whole", odd), ("files", "/var/log")], ["/lib/systemd/systemd"]).splitlines()
    assert lines[0] == f"FROM {BASE}"
    assert lines[-2:] == ["ADD changes.tar /", 'CMD ["/lib/systemd/systemd"]']
    run = json.loads(lines[1].removeprefix("RUN "))
    assert run[:2] == ["/bin/sh", "-c"] and run[3:] == ["sh", "whole", odd, "files", "/var/log"]


def test_many_removals_are_split_into_run_steps_the_builder_can_read():
    pairs = [("whole", f"/var/lib/thing/{index:06d}-{'x' * 40}") for index in range(2000)]
    lines = module.dockerfile(BASE, pairs, ["/sbin/init"]).splitlines()
    runs = [json.loads(line.removeprefix("RUN ")) for line in lines if line.startswith("RUN ")]
    assert len(runs) > 1
    assert all(len(line.encode()) < 64 * 1024 for line in lines)
    assert [item for run in runs for item in run[4:]] == [item for pair in pairs for item in pair]


def test_no_run_step_without_removals():
    assert module.dockerfile(BASE, [], ["/sbin/init"]).splitlines() == [
        f"FROM {BASE}",
        "ADD changes.tar /",
        'CMD ["/sbin/init"]',
    ]


def test_build_answer():
    raw = b'{"stream":"Step 1/3 : FROM x"}\n{"aux":{"ID":"sha256:9f"}}\n{"stream":"Successfully built 9f"}\n'
    assert module.build_answer(raw) == "sha256:9f"
    with pytest.raises(DockerError, match=r"could not build the image: no space left \(Step 2/3 : RUN"):
        module.build_answer(b'{"stream":"Step 2/3 : RUN [...]"}\n{"error":"no space left"}\n')
    with pytest.raises(DockerError, match="named no image"):
        module.build_answer(b'{"stream":"?"}\n')


class LinkedNode(module.NodeImage):
    """A source whose find answers from a table of {path: (device:inode, links)}."""

    def __init__(self, files, tmp_path):
        super().__init__(FakeAPI(), PARAMS, False, str(tmp_path))
        self.files = files
        self.commands = []

    def run(self, command, codes=(0,)):
        self.commands.append(command)
        paths = command[1 : command.index("-maxdepth")]
        printf = command[-1]
        out = ""
        for path in paths:
            if path in self.files and self.files[path][1] > 1:
                out += printf.replace("%D:%i", self.files[path][0]).replace("%p", path).replace("\\t", "\t")
        return out.replace("\\0", "\0").encode()


def test_a_hard_link_to_a_left_out_file_is_left_out(tmp_path):
    files = {
        "/etc/munge/munge.key": ("66:12", 2),
        "/etc/munge/hard": ("66:12", 2),
        "/etc/other-link": ("66:99", 2),
        "/etc/plain": ("66:13", 1),
    }
    node = LinkedNode(files, tmp_path)
    linked = node.linked_to_left_out(["etc/munge/hard", "etc/other-link", "etc/plain"], ["etc/munge/munge.key"])
    assert linked == {"etc/munge/hard"}


def test_the_copied_files_are_not_asked_about_when_no_left_out_file_has_links(tmp_path):
    node = LinkedNode({"/etc/munge/munge.key": ("66:12", 1)}, tmp_path)
    assert node.linked_to_left_out(["etc/plain"], ["etc/munge/munge.key"]) == set()
    assert len(node.commands) == 1
