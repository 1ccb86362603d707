# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.config_files (on a temporary directory)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.modules import config_files


def run(capsys, files, **extra):
    with patch_module_args({"files": files, **extra}), pytest.raises(SystemExit) as exit_info:
        config_files.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def entries(tmp_path, text="a=1\n"):
    return [
        {"dest": str(tmp_path / "d"), "state": "directory", "mode": "0750"},
        {"dest": str(tmp_path / "d" / "f.conf"), "content": text, "mode": "0640"},
        {"dest": str(tmp_path / "old"), "state": "absent"},
    ]


def test_makes_everything_in_order_then_changes_nothing(capsys, tmp_path):
    (tmp_path / "old").write_text("x")
    failed, result = run(capsys, entries(tmp_path))
    assert not failed and result["changed"]
    assert result["changed_files"] == [str(tmp_path / "d"), str(tmp_path / "d" / "f.conf"), str(tmp_path / "old")]
    assert (tmp_path / "d" / "f.conf").read_text() == "a=1\n"
    assert (mode_of(tmp_path / "d"), mode_of(tmp_path / "d" / "f.conf")) == (0o750, 0o640)
    assert not (tmp_path / "old").exists()

    failed, result = run(capsys, entries(tmp_path))
    assert not failed and not result["changed"] and result["changed_files"] == []


def test_only_the_file_whose_content_or_mode_differs_changes(capsys, tmp_path):
    run(capsys, entries(tmp_path))
    os.chmod(tmp_path / "d" / "f.conf", 0o644)
    failed, result = run(capsys, entries(tmp_path))
    assert not failed and result["changed_files"] == [str(tmp_path / "d" / "f.conf")]
    assert mode_of(tmp_path / "d" / "f.conf") == 0o640

    failed, result = run(capsys, entries(tmp_path, "a=2\n"), _ansible_diff=True)
    assert not failed and result["changed_files"] == [str(tmp_path / "d" / "f.conf")]
    assert (tmp_path / "d" / "f.conf").read_text() == "a=2\n"
    assert mode_of(tmp_path / "d" / "f.conf") == 0o640
    assert result["diff"] == [
        {"before_header": str(tmp_path / "d" / "f.conf"), "after_header": str(tmp_path / "d" / "f.conf"),
         "before": "a=1\n", "after": "a=2\n"}
    ]  # fmt: skip


def test_check_mode_reports_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "old").write_text("x")
    failed, result = run(capsys, entries(tmp_path), _ansible_check_mode=True)
    assert not failed and len(result["changed_files"]) == 3
    assert sorted(os.listdir(tmp_path)) == ["old"]

    run(capsys, entries(tmp_path))
    os.chmod(tmp_path / "d" / "f.conf", 0o600)
    failed, result = run(capsys, entries(tmp_path, "a=2\n"), _ansible_check_mode=True)
    assert not failed and result["changed_files"] == [str(tmp_path / "d" / "f.conf")]
    assert (tmp_path / "d" / "f.conf").read_text() == "a=1\n" and mode_of(tmp_path / "d" / "f.conf") == 0o600


def test_no_diff_under_no_log(capsys, tmp_path):
    failed, result = run(capsys, entries(tmp_path), _ansible_diff=True, _ansible_no_log=True)
    assert not failed and result["changed"] and "diff" not in result


def test_a_symbolic_link_is_replaced_not_followed(capsys, tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    (tmp_path / "link").symlink_to(target)
    failed, result = run(capsys, [{"dest": str(tmp_path / "link"), "content": "new\n"}])
    assert not failed and result["changed"]
    assert target.read_text() == "keep\n"
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link").read_text() == "new\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"dest": "relative", "content": ""}], "files[0] (relative): dest must be an absolute path"),
        ([{"dest": "/x"}], "files[0] (/x): state present needs one of content and content_base64"),
        ([{"dest": "/x", "content": "", "content_base64": ""}], "state present needs one of content and"),
        ([{"dest": "/x", "content_base64": "not base64!"}], "files[0] (/x): content_base64 is not base64"),
        ([{"dest": "/x", "state": "absent", "content": ""}], "content is only for state present, not absent"),
        ([{"dest": "{tmp}/missing/f", "content": ""}], "its directory {tmp}/missing does not exist"),
        ([{"dest": "{tmp}/dir", "content": ""}], "files[0] ({tmp}/dir): a directory is there, not a file"),
        ([{"dest": "{tmp}/dir", "state": "absent"}], "a directory is there, not a file"),
        ([{"dest": "{tmp}/file", "state": "directory"}], "files[0] ({tmp}/file): a file is there, not a directory"),
    ],
)
def test_refuses_in_one_line_before_changing_anything(capsys, tmp_path, files, message):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("keep\n")
    first = {"dest": str(tmp_path / "new"), "content": "x\n"}
    files = [first] + [{key: value.replace("{tmp}", str(tmp_path)) for key, value in entry.items()} for entry in files]
    message = message.replace("files[0]", "files[1]").replace("{tmp}", str(tmp_path))
    failed, result = run(capsys, files)
    assert failed and message in result["msg"] and "\n" not in result["msg"]
    assert result["msg"].endswith("nothing was changed")
    assert not (tmp_path / "new").exists() and (tmp_path / "file").read_text() == "keep\n"


def test_a_directory_listed_first_is_made_with_its_parents_before_the_next(capsys, tmp_path):
    files = [
        {"dest": str(tmp_path / "a" / "b"), "state": "directory"},
        {"dest": str(tmp_path / "a" / "b" / "c"), "content": "c\n"},
    ]
    failed, result = run(capsys, files)
    assert not failed and (tmp_path / "a" / "b" / "c").read_text() == "c\n"
    failed, result = run(capsys, files, _ansible_check_mode=True)
    assert not failed and not result["changed"]


def test_binary_content_from_base64_is_written_exactly_and_not_shown(capsys, tmp_path):
    key = bytes(range(256)) * 4
    files = [{"dest": str(tmp_path / "munge.key"), "content_base64": base64.b64encode(key).decode(), "mode": "0400"}]
    failed, result = run(capsys, files, _ansible_diff=True)
    assert not failed and (tmp_path / "munge.key").read_bytes() == key
    assert result["diff"][0]["after"] == "(not shown)\n"
    json.dumps(result, ensure_ascii=False).encode()  # nothing the controller would refuse to read
    failed, result = run(capsys, files)
    assert not failed and not result["changed"]


def test_check_mode_on_a_new_host_reports_a_file_whose_directory_a_package_would_make(capsys, tmp_path):
    files = [{"dest": str(tmp_path / "etc-munge" / "munge.key"), "content": "k\n", "mode": "0400"}]
    failed, result = run(capsys, files, _ansible_check_mode=True)
    assert not failed and result["changed_files"] == [files[0]["dest"]]
    assert not (tmp_path / "etc-munge").exists()
    failed, result = run(capsys, files)
    assert failed and "its directory" in result["msg"]
