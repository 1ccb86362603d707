# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.home_directories (on a temporary directory)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.modules import home_directories

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def run(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        home_directories.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


@pytest.fixture
def dirs(tmp_path):
    skel = tmp_path / "skel"
    (skel / ".config").mkdir(parents=True)
    (skel / ".bashrc").write_text("# bashrc\n")
    (skel / ".config" / "x").write_text("x\n")
    home = tmp_path / "home"
    home.mkdir()
    return home, skel


def users(*names, start=10001):
    return [{"name": name, "uid": start + index, "gid": 10000} for index, name in enumerate(names)]


@needs_root
def test_creates_from_skel_with_owner_and_mode(capsys, dirs):
    home, skel = dirs
    failed, result = run(capsys, path=str(home), skel=str(skel), users=users("a", "b"))
    assert not failed and result["created"] == ["a", "b"]
    info = os.stat(home / "b")
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (10002, 10000, 0o700)
    assert (home / "b" / ".bashrc").read_text() == "# bashrc\n"
    assert os.stat(home / "b" / ".config" / "x").st_uid == 10002


@needs_root
def test_rerun_changes_nothing_and_keeps_content(capsys, dirs):
    home, skel = dirs
    run(capsys, path=str(home), skel=str(skel), users=users("a"))
    (home / "a" / "results.txt").write_text("mine\n")
    failed, result = run(capsys, path=str(home), skel=str(skel), users=users("a"))
    assert not failed and not result["changed"]
    assert (home / "a" / "results.txt").read_text() == "mine\n"


@needs_root
def test_owner_and_mode_are_corrected(capsys, dirs):
    home, skel = dirs
    run(capsys, path=str(home), skel=str(skel), users=users("a"))
    os.chmod(home / "a", 0o755)
    failed, result = run(capsys, path=str(home), skel=str(skel), users=users("a"), _ansible_diff=True)
    assert not failed and result["fixed"] == ["a"]
    assert result["diff"]["before"][str(home / "a")] == "10001:10000 0755"
    assert stat.S_IMODE(os.stat(home / "a").st_mode) == 0o700


def test_check_mode_creates_nothing(capsys, dirs):
    home, skel = dirs
    failed, result = run(capsys, path=str(home), skel=str(skel), users=users("a"), _ansible_check_mode=True)
    assert not failed and result["changed"] and result["created"] == ["a"]
    assert not (home / "a").exists()


@needs_root
def test_absent_removes(capsys, dirs):
    home, skel = dirs
    run(capsys, path=str(home), skel=str(skel), users=users("a", "b"))
    failed, result = run(capsys, path=str(home), users=[{"name": "a"}], state="absent")
    assert not failed and result["removed"] == ["a"]
    assert not (home / "a").exists() and (home / "b").exists()
    failed, result = run(capsys, path=str(home), users=[{"name": "a"}], state="absent")
    assert not failed and not result["changed"]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"users": [{"name": "../etc", "uid": 1, "gid": 1}]}, "users[0]: name '../etc' is not a POSIX user name"),
        ({"users": [{"name": "a"}]}, "users[0] (a): uid and gid are required with state=present"),
        ({"users": [], "mode": "rwx"}, "mode must be octal like 0700, got 'rwx'"),
    ],
)
def test_bad_input(capsys, dirs, args, message):
    home, skel = dirs
    failed, result = run(capsys, path=str(home), skel=str(skel), **args)
    assert failed and message in result["msg"]
    assert os.listdir(home) == []
