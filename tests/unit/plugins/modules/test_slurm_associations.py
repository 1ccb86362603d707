# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module learnhpc.cluster.slurm_associations, with an in-memory sacctmgr."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.learnhpc.cluster.plugins.modules import slurm_associations

SACCTMGR = "/usr/bin/sacctmgr"


class FakeSacctmgr:
    """Keeps clusters, accounts, users and associations; answers the commands the module runs.

    It behaves as Slurm 22.05's sacctmgr does where the module relies on it: descriptions are stored in lower case,
    a user's association takes the limits given with ``add user``, ``-1`` removes a TRES limit, deleting a user's
    last association deletes the user, deleting an account deletes its associations, and a command that changes
    nothing ends with status 1.
    """

    def __init__(self, clusters=("training",)):
        self.clusters = list(clusters)
        self.accounts = {"root": {"description": "default root account", "organization": "root"}}
        # (cluster, account, user) -> {"parent": str, "limits": {tres: int}}; user "" is the account's own.
        self.assocs = {(cluster, "root", ""): {"parent": "", "limits": {}} for cluster in self.clusters}
        self.users = set()
        self.calls = []

    # -- plumbing -------------------------------------------------------------------------------------------------
    def run_command(self, argv, **_kwargs):
        assert argv[0] == SACCTMGR
        args = list(argv[1:])
        self.calls.append(args)
        if args[:2] == ["--noheader", "--parsable2"]:
            assert args[2] == "show"
            return 0, self.show(args[3:]), ""
        assert args[0] == "-i", f"a change without -i: {args}"
        return self.change(args[1:])

    @property
    def changes(self):
        return [call for call in self.calls if call[0] == "-i"]

    @staticmethod
    def options(words):
        """``{'name': [...], ...}`` from ``name=a,b account=x``; values that are lists are split on commas."""
        parsed = {}
        for word in words:
            key, value = word.split("=", 1)
            parsed[key.lower()] = value
        return parsed

    # -- reading --------------------------------------------------------------------------------------------------
    def show(self, args):
        what = args[0]
        where = self.options(word for word in args[1:] if "=" in word and not word.startswith("format="))
        fields = next(word for word in args if word.startswith("format=")).split("=", 1)[1].lower().split(",")
        rows = []
        if what == "cluster":
            rows = [{"cluster": cluster} for cluster in self.clusters]
        elif what == "account":
            names = where["name"].split(",")
            rows = [
                {"account": name, "descr": record["description"], "org": record["organization"]}
                for name, record in self.accounts.items()
                if name in names
            ]
        elif what == "assoc":
            for (cluster, account, user), assoc in self.assocs.items():
                if "account" in where and account not in where["account"].split(","):
                    continue
                if "cluster" in where and cluster not in where["cluster"].split(","):
                    continue
                rows.append(
                    {
                        "cluster": cluster,
                        "account": account,
                        "user": user,
                        "partition": "",
                        "parentname": assoc["parent"] if not user else "",
                        "grptresmins": ",".join(f"{k}={v}" for k, v in sorted(assoc["limits"].items())),
                    }
                )
        return "".join("|".join(row[field] for field in fields) + "\n" for row in rows)

    # -- changing -------------------------------------------------------------------------------------------------
    def change(self, args):
        verb, what, rest = args[0], args[1], args[2:]
        handler = getattr(self, f"_{verb}_{what}")
        changed = handler(rest)
        return (0, "done\n", "") if changed else (1, " Nothing new added.\n", "")

    def _add_account(self, rest):
        name, options = rest[0], self.options(rest[1:])
        clusters = options.get("cluster", ",".join(self.clusters)).split(",")
        self.accounts.setdefault(
            name,
            {
                "description": options.get("description", name).lower(),
                "organization": options.get("organization", options.get("parent", "root")).lower(),
            },
        )
        changed = False
        for cluster in clusters:
            assert cluster in self.clusters
            assert (cluster, options.get("parent", "root"), "") in self.assocs, "parent missing"
            if (cluster, name, "") not in self.assocs:
                self.assocs[(cluster, name, "")] = {"parent": options.get("parent", "root"), "limits": {}}
                changed = True
        return changed

    def _add_user(self, rest):
        options = self.options(rest)
        account = options["account"]
        clusters = options.get("cluster", ",".join(self.clusters)).split(",")
        limits = self._limits({}, options.get("grptresmins", ""))
        changed = False
        for user in options["name"].split(","):
            for cluster in clusters:
                assert (cluster, account, "") in self.assocs, f"account {account} is not on {cluster}"
                if (cluster, account, user) not in self.assocs:
                    self.assocs[(cluster, account, user)] = {"parent": account, "limits": dict(limits)}
                    self.users.add(user)
                    changed = True
        return changed

    @staticmethod
    def _limits(current, text):
        limits = dict(current)
        for item in filter(None, text.split(",")):
            tres, value = item.split("=")
            if int(value) < 0:
                limits.pop(tres, None)
            else:
                limits[tres] = int(value)
        return limits

    def _split_where_set(self, rest):
        assert rest[0] == "where"
        position = rest.index("set")
        return self.options(rest[1:position]), self.options(rest[position + 1 :])

    def _matching(self, where, users=True):
        return [
            key
            for key in self.assocs
            if (not users or key[2] in where.get("name", "").split(","))
            and key[1] == where["account"]
            and ("cluster" not in where or key[0] in where["cluster"].split(","))
        ]

    def _modify_user(self, rest):
        where, settings = self._split_where_set(rest)
        keys = self._matching(where)
        for key in keys:
            self.assocs[key]["limits"] = self._limits(self.assocs[key]["limits"], settings["grptresmins"])
        return bool(keys)

    def _modify_account(self, rest):
        where, settings = self._split_where_set(rest)
        name = where["name"]
        changed = False
        for key in ("description", "organization"):
            if key in settings:
                self.accounts[name][key] = settings[key].lower()
                changed = True
        if "parent" in settings:
            for cluster in where.get("cluster", ",".join(self.clusters)).split(","):
                self.assocs[(cluster, name, "")]["parent"] = settings["parent"]
                changed = True
        return changed

    def _delete_user(self, rest):
        assert rest[0] == "where"
        keys = self._matching(self.options(rest[1:]))
        for key in keys:
            del self.assocs[key]
        self.users = {user for (_cluster, _account, user) in self.assocs if user}
        return bool(keys)

    def _delete_account(self, rest):
        assert rest[0] == "where"
        where = self.options(rest[1:])
        name = where["name"]
        keys = [
            key
            for key in self.assocs
            if key[1] == name and ("cluster" not in where or key[0] in where["cluster"].split(","))
        ]
        for key in keys:
            del self.assocs[key]
        if not any(key[1] == name for key in self.assocs):
            self.accounts.pop(name, None)
        return bool(keys)

    # -- what the tests look at -----------------------------------------------------------------------------------
    def user_limits(self, account, cluster="training"):
        return {
            user: assoc["limits"]
            for (c, a, user), assoc in self.assocs.items()
            if a == account and c == cluster and user
        }


@pytest.fixture
def sacctmgr(monkeypatch):
    fake = FakeSacctmgr()
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: SACCTMGR)
    return fake


def run_module(capsys, check_mode=False, diff=False, **args):
    """Run the module's main() with ``args``; returns (failed, result)."""
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        slurm_associations.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code != 0 or bool(result.get("failed")), result


def names(count):
    return [f"guest{index:03d}" for index in range(1, count + 1)]


def test_creates_the_account_and_200_associations_in_two_calls(capsys, sacctmgr):
    failed, result = run_module(
        capsys,
        account="workshop",
        cluster="training",
        description="Spring Workshop",
        users=names(200),
        grp_tres_mins={"cpu": 600},
    )
    assert not failed, result
    assert result["changed"] is True
    assert result["account_changed"] is True
    assert result["added"] == names(200)
    assert len(sacctmgr.changes) == 2
    assert sacctmgr.changes[1][:3] == ["-i", "add", "user"]
    assert sacctmgr.accounts["workshop"]["description"] == "spring workshop"
    assert sacctmgr.user_limits("workshop") == {name: {"cpu": 600} for name in names(200)}


def test_a_second_run_changes_nothing_and_only_reads(capsys, sacctmgr):
    args = {
        "account": "workshop",
        "cluster": "training",
        "description": "Spring Workshop",
        "users": names(200),
        "grp_tres_mins": {"cpu": 600},
    }
    run_module(capsys, **args)
    calls_before = len(sacctmgr.calls)
    failed, result = run_module(capsys, **args)
    assert not failed
    assert result["changed"] is False
    assert result["commands"] == []
    assert (result["added"], result["updated"], result["removed"]) == ([], [], [])
    assert len(sacctmgr.calls) - calls_before == 2  # show account, show assoc


def test_new_users_and_changed_limits_in_one_call_each(capsys, sacctmgr):
    run_module(capsys, account="workshop", cluster="training", users=names(150), grp_tres_mins={"cpu": 600})
    changes_before = len(sacctmgr.changes)
    failed, result = run_module(
        capsys, account="workshop", cluster="training", users=names(200), grp_tres_mins={"cpu": 1200}
    )
    assert not failed
    assert result["added"] == names(200)[150:]
    assert result["updated"] == names(150)
    assert len(sacctmgr.changes) - changes_before == 2
    assert sacctmgr.user_limits("workshop") == {name: {"cpu": 1200} for name in names(200)}


def test_removing_the_limit_sets_minus_one(capsys, sacctmgr):
    run_module(
        capsys, account="workshop", cluster="training", users=["alice", "bob"], grp_tres_mins={"cpu": 60, "mem": 1000}
    )
    failed, result = run_module(capsys, account="workshop", cluster="training", users=["alice"], grp_tres_mins=None)
    assert not failed
    assert result["updated"] == ["alice"]
    assert result["commands"] == [
        "sacctmgr -i modify user where name=alice account=workshop cluster=training set GrpTRESMins=cpu=-1,mem=-1"
    ]
    assert sacctmgr.user_limits("workshop") == {"alice": {}, "bob": {"cpu": 60, "mem": 1000}}


def test_memory_limits_printed_with_a_unit_are_not_changed_again(capsys, sacctmgr):
    run_module(capsys, account="workshop", cluster="training", users=["alice"], grp_tres_mins={"mem": 2048})
    # sacctmgr prints memory with its unit.
    original = sacctmgr.show
    sacctmgr.show = lambda args: original(args).replace("mem=2048", "mem=2G")
    failed, result = run_module(
        capsys, account="workshop", cluster="training", users=["alice"], grp_tres_mins={"mem": 2048}
    )
    assert not failed
    assert result["changed"] is False


def test_other_accounts_are_left_alone(capsys, sacctmgr):
    run_module(capsys, account="other", cluster="training", users=["alice"], grp_tres_mins={"cpu": 5})
    run_module(capsys, account="workshop", cluster="training", users=["alice"], grp_tres_mins={"cpu": 600})
    failed, result = run_module(capsys, account="workshop", cluster="training", users=["alice"], state="absent")
    assert not failed
    assert result["removed"] == ["alice"]
    assert sacctmgr.user_limits("other") == {"alice": {"cpu": 5}}
    assert sacctmgr.user_limits("workshop") == {}
    assert "workshop" in sacctmgr.accounts


def test_absent_with_users_removes_them_in_one_call_and_is_idempotent(capsys, sacctmgr):
    run_module(capsys, account="workshop", cluster="training", users=names(200))
    changes_before = len(sacctmgr.changes)
    failed, result = run_module(
        capsys, account="workshop", cluster="training", users=[*names(200)[:100], "nobody"], state="absent"
    )
    assert not failed
    assert result["removed"] == names(100)
    assert len(sacctmgr.changes) - changes_before == 1
    assert sorted(sacctmgr.user_limits("workshop")) == names(200)[100:]
    assert sacctmgr.users == set(names(200)[100:])
    failed, result = run_module(capsys, account="workshop", cluster="training", users=names(100), state="absent")
    assert not failed
    assert result["changed"] is False


def test_absent_without_users_removes_the_account(capsys, sacctmgr):
    run_module(capsys, account="workshop", users=names(200), grp_tres_mins={"cpu": 600})
    failed, result = run_module(capsys, account="workshop", state="absent")
    assert not failed
    assert result["account_changed"] is True
    assert result["removed"] == names(200)
    assert len(result["commands"]) == 2
    assert "workshop" not in sacctmgr.accounts
    assert sacctmgr.users == set()
    failed, result = run_module(capsys, account="workshop", state="absent")
    assert not failed
    assert result["changed"] is False


def test_check_mode_reports_without_changing(capsys, sacctmgr):
    failed, result = run_module(
        capsys,
        check_mode=True,
        diff=True,
        account="workshop",
        cluster="training",
        users=["alice", "bob"],
        grp_tres_mins={"cpu": 60},
    )
    assert not failed
    assert result["changed"] is True
    assert result["added"] == ["alice", "bob"]
    assert len(result["commands"]) == 2
    assert sacctmgr.changes == []
    assert "workshop" not in sacctmgr.accounts
    assert result["diff"]["before"] == {"account": None, "users": {}}
    assert result["diff"]["after"]["users"] == {"alice": {"training": "cpu=60"}, "bob": {"training": "cpu=60"}}


def test_check_mode_of_absent(capsys, sacctmgr):
    run_module(capsys, account="workshop", cluster="training", users=["alice", "bob"])
    failed, result = run_module(
        capsys, check_mode=True, account="workshop", cluster="training", users=["bob"], state="absent"
    )
    assert not failed
    assert result["changed"] is True
    assert result["removed"] == ["bob"]
    assert sorted(sacctmgr.user_limits("workshop")) == ["alice", "bob"]


def test_diff_shows_before_and_after(capsys, sacctmgr):
    run_module(capsys, account="workshop", cluster="training", users=["alice"], grp_tres_mins={"cpu": 60})
    failed, result = run_module(
        capsys, diff=True, account="workshop", cluster="training", users=["alice"], grp_tres_mins={"cpu": 120}
    )
    assert not failed
    assert result["diff"]["before"]["users"] == {"alice": {"training": "cpu=60"}}
    assert result["diff"]["after"]["users"] == {"alice": {"training": "cpu=120"}}


def test_description_and_parent_are_updated(capsys, sacctmgr):
    run_module(capsys, account="events", cluster="training")
    run_module(capsys, account="workshop", cluster="training", description="old")
    failed, result = run_module(capsys, account="workshop", cluster="training", description="New one", parent="events")
    assert not failed
    assert result["account_changed"] is True
    assert sacctmgr.accounts["workshop"]["description"] == "new one"
    assert sacctmgr.assocs[("training", "workshop", "")]["parent"] == "events"
    failed, result = run_module(capsys, account="workshop", cluster="training", description="New one", parent="events")
    assert result["changed"] is False


def test_without_cluster_works_on_every_cluster_of_the_account(capsys, monkeypatch):
    fake = FakeSacctmgr(clusters=("one", "two"))
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: SACCTMGR)
    failed, result = run_module(capsys, account="workshop", users=["alice"])
    assert not failed
    assert sorted(fake.user_limits("workshop", "one")) == ["alice"]
    assert sorted(fake.user_limits("workshop", "two")) == ["alice"]
    failed, result = run_module(capsys, account="workshop", users=["alice"])
    assert result["changed"] is False


def test_a_failing_sacctmgr_gives_one_line(capsys, sacctmgr, monkeypatch):
    monkeypatch.setattr(
        AnsibleModule,
        "run_command",
        lambda self, argv, **kw: ((1, "", "sacctmgr: error: Problem talking to the database: Connection refused\n")),
    )
    failed, result = run_module(capsys, account="workshop", users=["alice"])
    assert failed
    assert (
        result["msg"] == "sacctmgr show account failed: sacctmgr: error: Problem talking to the database: "
        "Connection refused"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"account": "Work Shop"}, "account: 'Work Shop' is not a Slurm account name"),
        ({"account": "a,b"}, "account: 'a,b' is not a Slurm account name"),
        ({"account": "w", "users": ["alice", "bob=x"]}, "users: not user names: 'bob=x'"),
        ({"account": "w", "users": ["alice", "alice"]}, "users: listed more than once: alice"),
        ({"account": "w", "grp_tres_mins": {"cpu": -60}}, "grp_tres_mins.cpu: must be a whole number >= 0, got -60"),
        ({"account": "w", "grp_tres_mins": {"cpu": 2.5}}, "grp_tres_mins.cpu: must be a whole number >= 0, got 2.5"),
        ({"account": "w", "grp_tres_mins": {"cpu,mem": 1}}, "grp_tres_mins: 'cpu,mem' is not a TRES name"),
        ({"account": "w", "description": 'say "hi"'}, "description: must be non-empty text without quotes"),
        ({"account": "w", "cluster": "A B"}, "cluster: 'A B' is not a Slurm cluster name"),
        ({"account": "w", "parent": "w"}, "parent: an account cannot be its own parent"),
    ],
)
def test_bad_input_is_refused_before_sacctmgr_runs(capsys, sacctmgr, args, message):
    failed, result = run_module(capsys, **args)
    assert failed
    assert message in result["msg"]
    assert "\n" not in result["msg"]
    assert sacctmgr.calls == []
