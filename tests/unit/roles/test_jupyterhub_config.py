"""The spawn options check in the jupyterhub role's jupyterhub_config.py.

The template is rendered with the role's own limits and run with a stand-in for
batchspawner and tornado (not installed on the control machine); only the options
check, the spawner's refusal and the form are exercised, which is what the hub runs for the form and the REST API alike.
"""

import asyncio
import json
import sys
import types
from pathlib import Path

import jinja2
import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "jupyterhub"
LIMITS = {
    "partitions": ["notebook", "batch"],
    "partition_default": "notebook",
    "cpus_max": 2,
    "cpus_default": 1,
    "memory_gb_choices": [1, 2, 4],
    "memory_gb_default": 1,
    "hours_max": 8,
    "hours_default": 2,
}


class HTTPError(Exception):
    """tornado.web.HTTPError as far as the hub reads it: a status and a %-formatted message."""

    def __init__(self, status_code, log_message, *args):
        super().__init__(status_code, log_message, *args)
        self.status_code, self.log_message, self.args_ = status_code, log_message, args


class _Config(dict):
    def __getattr__(self, name):
        return self.setdefault(name, types.SimpleNamespace())


class PAMError(Exception):
    """pamela.PAMError."""


EXPIRED = {"guest02"}
CHECKED = []


def check_account(name, service, encoding):
    """pamela.check_account as PAM answers it: an exception for an account that may not log in."""
    CHECKED.append((name, service, encoding))
    if name in EXPIRED:
        raise PAMError("Authentication token is no longer valid; new one required")


@pytest.fixture(scope="module")
def config(monkeypatch_module):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    source = env.from_string((ROLE / "templates" / "jupyterhub_config.py.j2").read_text()).render(
        ansible_managed="test",
        inventory_hostname="login",
        jupyterhub_https_port=443,
        jupyterhub_hub_port=8081,
        jupyterhub_hub_connect_host="login",
        jupyterhub_venv="/opt/jupyterhub",
        jupyterhub_users_group="demo",
        jupyterhub_admin_users=["trainer"],
        jupyterhub_quickstart_page="/usr/local/share/learnhpc/quickstart.html",
        __jupyterhub_limits=LIMITS,
        jupyterhub_idle_timeout=3600,
        jupyterhub_cull_every=300,
        jupyterhub_start_timeout=600,
        jupyterhub_http_timeout=300,
        jupyterhub_auth_refresh_seconds=60,
    )
    stand_in = types.ModuleType("batchspawner")
    stand_in.SlurmSpawner = type("SlurmSpawner", (), {})
    monkeypatch_module.setitem(sys.modules, "batchspawner", stand_in)
    web = types.ModuleType("tornado.web")
    web.HTTPError = HTTPError
    monkeypatch_module.setitem(sys.modules, "tornado", types.ModuleType("tornado"))
    monkeypatch_module.setitem(sys.modules, "tornado.web", web)
    sys.modules["tornado"].web = web
    concurrent = types.ModuleType("tornado.concurrent")
    concurrent.run_on_executor = lambda method: method  # the real one runs it on the authenticator's threads
    monkeypatch_module.setitem(sys.modules, "tornado.concurrent", concurrent)
    pamela = types.ModuleType("pamela")
    pamela.PAMError = PAMError
    pamela.check_account = check_account
    monkeypatch_module.setitem(sys.modules, "pamela", pamela)
    auth = types.ModuleType("jupyterhub.auth")
    auth.PAMAuthenticator = type("PAMAuthenticator", (), {"service": "jupyterhub", "encoding": "utf8"})
    monkeypatch_module.setitem(sys.modules, "jupyterhub", types.ModuleType("jupyterhub"))
    monkeypatch_module.setitem(sys.modules, "jupyterhub.auth", auth)
    c = _Config()
    namespace = {"get_config": lambda: c}
    exec(compile(source, "jupyterhub_config.py", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_defaults_fill_what_is_not_asked(config):
    assert config["checked_options"]({}) == {"partition": "notebook", "cpus": 1, "memory_gb": 1, "hours": 2}


def test_form_values_are_converted(config):
    c = config["c"]
    form = {"partition": ["batch"], "cpus": ["2"], "memory_gb": ["4"], "hours": ["8"]}
    assert c.Spawner.options_from_form(form, spawner=None) == {
        "partition": "batch",
        "cpus": 2,
        "memory_gb": 4,
        "hours": 8,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cpus": 64}, "cpus must be between 1 and 2, got 64"),
        ({"cpus": 0}, "cpus must be between 1 and 2, got 0"),
        ({"memory_gb": 3}, "memory_gb must be one of 1, 2, 4, got 3"),
        ({"hours": "9"}, "hours must be between 1 and 8, got 9"),
        ({"hours": "two"}, "hours must be a whole number, got 'two'"),
        ({"partition": "debug"}, "partition must be one of notebook, batch"),
        ({"cmd": "rm -rf ~"}, "unknown option(s): cmd"),
        ({"options": "--nodes=8", "homedir": "/"}, "unknown option(s): homedir, options"),
    ],
)
def test_refused(config, options, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        config["checked_options"](options)


def test_form_offers_exactly_the_bounds(config):
    form = config["c"].Spawner.options_form
    assert form.count("<option") == 2 + 2 + 3 + 8
    assert '<option value="notebook" selected>' in form
    assert "after 60 minutes without use" in form


def test_spawner_refuses_with_400_and_the_reason(config):
    """What the REST API's caller sees for options beyond the bounds, before any job is submitted."""
    spawner = config["EventSlurmSpawner"]()
    spawner.user_options = {"cpus": 64}
    with pytest.raises(HTTPError) as refused:
        asyncio.run(spawner.submit_batch_script())
    assert refused.value.status_code == 400
    assert refused.value.log_message % refused.value.args_ == "refused: cpus must be between 1 and 2, got 64"


def test_the_account_is_checked_again_while_cookies_and_tokens_are_used(config):
    c = config["c"]
    authenticator_class = c.JupyterHub.authenticator_class
    assert c.Authenticator.auth_refresh_age == 60
    assert c.Authenticator.refresh_pre_spawn is True
    authenticator = authenticator_class()
    authenticator.log = types.SimpleNamespace(warning=lambda *args: CHECKED.append(("warning", *args)))
    assert authenticator.refresh_user(types.SimpleNamespace(name="guest01")) is True
    assert authenticator.refresh_user(types.SimpleNamespace(name="guest02")) is False
    assert CHECKED[:2] == [("guest01", "jupyterhub", "utf8"), ("guest02", "jupyterhub", "utf8")]
    assert CHECKED[2][0] == "warning" and CHECKED[2][2] == "guest02"
