# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared code of the modules that talk to Slurm's REST API (slurmrestd) through the job gateway.

``SlurmRestModule`` is the base class of ``slurm_job`` and ``slurm_job_info``: it builds the
``AnsibleModule`` with the connection options (doc fragment ``learnhpc.cluster.slurm_rest``),
checks the token before any request (a JSON Web Token: three base64url parts), works out the
user name (the token's claim ``sun`` unless ``user`` is given), and turns every failure of a
request into one line. ``SlurmRestClient`` is a small HTTP client over ``open_url``.

What the API answers was checked against Debian 12's slurmrestd 22.05.8 (openapi/v0.0.38):
a request without a token gets ``401 Authentication failure``; a token slurmctld does not accept
(another user's, expired, signed with another key) gets ``500`` with an error such as
``Unspecified error`` from ``slurm_load_jobs``; errors carry ``description`` and/or ``error``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import time
from typing import ClassVar
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.urls import SSLValidationError, open_url

API_VERSION = "v0.0.38"
# A user name as slurmctld may know it (sssd may give fully qualified ones, user@domain).
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# Job states (base states and the flags Slurm prints instead of them) of a job that has ended
# or is ending; anything else (PENDING, RUNNING, SUSPENDED, CONFIGURING, REQUEUED, ...) is active.
ENDED_STATES = frozenset(
    (
        "COMPLETED",
        "COMPLETING",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "REVOKED",
    )
)
# What slurmctld's refusal of a token looks like through slurmrestd 22.05 (the reason is in
# slurmctld's log only): a generic error, or a connection closed without an answer.
_AUTH_REFUSED = ("Unspecified error", "Zero Bytes were transmitted or received", "Protocol authentication error")
# slurm_load_job's error for a job slurmctld does not know (any more: see MinJobAge).
INVALID_JOB_ID = 2017


def slurm_rest_argument_spec():
    """The options every module of the gateway has (doc fragment learnhpc.cluster.slurm_rest)."""
    return {
        "url": {"type": "str", "required": True, "fallback": (env_fallback, ["SLURM_REST_URL"])},
        "token": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["SLURM_JWT"])},
        "user": {"type": "str"},
        "ca_path": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 30},
    }


class SlurmRestError(Exception):
    """A failed request, with a message fit for one line."""


def one_line(text):
    """``text`` with its white space (new lines included) collapsed."""
    return " ".join(str(text).split())


def _b64url_json(part):
    padded = part + "=" * (-len(part) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    return value if isinstance(value, dict) else None


def token_claims(token):
    """``(claims, problem)``: the payload of a JSON Web Token, or why ``token`` is not one.

    Only the form is checked (three base64url parts, a JSON header and payload); the signature is
    slurmctld's business. The problem never quotes the token.
    """
    if not isinstance(token, str) or not token.strip():
        return None, "token: is empty; get one on the login node with 'scontrol token'"
    token = token.strip()
    if token.startswith("SLURM_JWT="):
        return None, "token: give only what follows 'SLURM_JWT=' in the output of 'scontrol token'"
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL_RE.fullmatch(part) for part in parts):
        what = f"{len(parts)} part(s)" if len(parts) != 3 else "3 parts, one empty or with characters outside base64url"
        return None, (
            "token: malformed gateway token: a JSON Web Token is three base64url parts separated by '.', "
            f"this one has {what}; get one on the login node with 'scontrol token'"
        )
    header = _b64url_json(parts[0])
    claims = _b64url_json(parts[1])
    if header is None or claims is None:
        return None, (
            "token: malformed gateway token: its first two parts are not base64url-encoded JSON objects; "
            "get one on the login node with 'scontrol token'"
        )
    return claims, None


def api_errors_text(errors):
    """One line from the ``errors`` list of an answer of slurmrestd."""
    texts = []
    for error in errors or []:
        if not isinstance(error, dict):
            text = str(error)
        else:
            text = error.get("description") or error.get("error") or ""
            if error.get("source") and text:
                text = f"{text} ({error['source']})"
        text = one_line(text)
        if text and text not in texts:
            texts.append(text)
    return "; ".join(texts)


def api_error_numbers(errors):
    return {
        error.get("error_number", error.get("error_code"))
        for error in errors or []
        if isinstance(error, dict) and error.get("error_number", error.get("error_code")) is not None
    }


def _looks_like_refused_token(errors):
    texts = {error.get("error") for error in errors or [] if isinstance(error, dict)}
    return bool(texts & set(_AUTH_REFUSED))


class SlurmRestClient:
    """Requests to slurmrestd's API behind the gateway, as one user with their token."""

    def __init__(
        self,
        url,
        user,
        token,
        *,
        ca_path=None,
        validate_certs=True,
        timeout=30,
        expires=None,
        api_version=API_VERSION,
    ):
        self.url = url.rstrip("/")
        self.user = user
        self.token = token
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.expires = expires
        self.api_version = api_version
        # Every request made, as "METHOD path" (for the unit tests and for debugging).
        self.requests = []

    def path(self, *parts):
        return "/".join(["/slurm", self.api_version, *(quote(str(part), safe="") for part in parts)])

    def request(self, method, path, body=None, query=None, *, accept_errors=()):
        """The JSON answer of ``method path``.

        Errors of the answer whose number is in ``accept_errors`` are returned (as the answer) rather
        than raised; every other failure raises ``SlurmRestError`` with one line.
        """
        target = self.url + path + (("?" + urlencode(query)) if query else "")
        what = f"{method} {path}"
        self.requests.append(what)
        headers = {
            "X-SLURM-USER-NAME": self.user,
            "X-SLURM-USER-TOKEN": self.token,
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        status = None
        try:
            response = open_url(
                target,
                data=data,
                headers=headers,
                method=method,
                validate_certs=self.validate_certs,
                ca_path=self.ca_path,
                timeout=self.timeout,
                follow_redirects="none",
                http_agent="learnhpc.cluster",
            )
            status = response.getcode()
            text = response.read()
        except HTTPError as exc:
            status = exc.code
            try:
                text = exc.read()
            except (OSError, AttributeError):  # pragma: no cover - a closed connection
                text = b""
        except SSLValidationError as exc:
            raise SlurmRestError(
                f"{what}: the gateway's certificate at {self.url} is not trusted "
                f"(give ca_path, the CA that signed it): {one_line(exc)}"
            ) from None
        except (URLError, OSError) as exc:  # TimeoutError and ConnectionError are OSErrors
            reason = getattr(exc, "reason", None) or exc
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                raise SlurmRestError(
                    f"{what}: the gateway's certificate at {self.url} is not trusted "
                    f"(give ca_path, the CA that signed it): {one_line(reason)}"
                ) from None
            raise SlurmRestError(f"{what}: cannot reach the gateway at {self.url}: {one_line(reason)}") from None
        return self._answer(what, status, text, accept_errors)

    def _answer(self, what, status, text, accept_errors):
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text or "")
        try:
            answer = json.loads(raw) if raw.strip() else {}
        except ValueError:
            answer = None
        if status == 401:
            raise SlurmRestError(
                f"{what}: the gateway refused the request (HTTP 401 {one_line(raw)[:80] or 'Unauthorized'}): "
                "it needs a user name and that user's token"
            )
        if not isinstance(answer, dict):
            raise SlurmRestError(
                f"{what}: the gateway answered HTTP {status} with something that is not JSON: {one_line(raw)[:120]!r}"
            )
        errors = answer.get("errors") or []
        if errors and api_error_numbers(errors) & set(accept_errors):
            return answer
        if status is not None and 200 <= status < 300 and not errors:
            return answer
        detail = api_errors_text(errors) or f"HTTP {status}"
        if _looks_like_refused_token(errors):
            expired = ""
            if self.expires is not None and self.expires < time.time():
                when = datetime.datetime.fromtimestamp(self.expires, datetime.UTC)
                expired = f"; the token expired at {when:%Y-%m-%d %H:%M:%S} UTC"
            raise SlurmRestError(
                f"{what}: slurmctld did not accept the token for user {self.user} (a token is valid only for the "
                f"user it was made for, until it expires, on the cluster that made it{expired}): {detail}"
            )
        raise SlurmRestError(f"{what}: HTTP {status}: {detail}")

    # -- the calls the modules make ----------------------------------------------------------

    def ping(self):
        return self.request("GET", self.path("ping")).get("pings") or []

    def jobs(self):
        return self.request("GET", self.path("jobs")).get("jobs") or []

    def job(self, job_id):
        """The job's record, or ``None`` when slurmctld does not know it (any more)."""
        answer = self.request("GET", self.path("job", job_id), accept_errors=(INVALID_JOB_ID,))
        if api_error_numbers(answer.get("errors")) & {INVALID_JOB_ID}:
            return None
        jobs = answer.get("jobs") or []
        return jobs[0] if jobs else None

    def submit(self, script, properties):
        answer = self.request("POST", self.path("job", "submit"), body={"script": script, "job": properties})
        if answer.get("job_id") is None:
            raise SlurmRestError(f"POST {self.path('job', 'submit')}: the gateway answered without a job id")
        return answer

    def cancel(self, job_id):
        self.request("DELETE", self.path("job", job_id))


def _fill_pattern(pattern, job):
    """An output file name with the replacement symbols of sbatch that are known before the job runs."""
    values = {
        "j": str(job.get("job_id", "")),
        "x": str(job.get("name", "")),
        "u": str(job.get("user_name", "")),
        "A": str(job.get("array_job_id") or job.get("job_id", "")),
        "a": str(job.get("array_task_id") if job.get("array_task_id") is not None else "4294967294"),
        "%": "%",
    }
    return re.sub(r"%([jxuAa%])", lambda match: values[match.group(1)], pattern)


def output_path(job, key):
    """Where the job writes its standard output or error (``key``), as an absolute path.

    Slurm's default is ``slurm-%j.out`` in the working directory, for both; a relative name is
    relative to the working directory.
    """
    pattern = job.get(key) or ""
    if not pattern and key == "standard_error":
        pattern = job.get("standard_output") or ""
    if not pattern:
        pattern = "slurm-%j.out" if not job.get("array_task_id") else "slurm-%A_%a.out"
    path = _fill_pattern(pattern, job)
    cwd = job.get("current_working_directory") or ""
    if not path.startswith("/") and cwd:
        path = cwd.rstrip("/") + "/" + path
    return path


def _timestamp(value):
    """``YYYY-MM-DDTHH:MM:SSZ`` from Slurm's seconds since the epoch, or ``None`` for 0/none."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_summary(job):
    """What the modules return of a job: the keys a playbook needs, in plain types."""
    status = job.get("exit_code")
    status = status if isinstance(status, int) and not isinstance(status, bool) else 0
    state = job.get("job_state") or ""
    return {
        "job_id": job.get("job_id"),
        "name": job.get("name"),
        "user_name": job.get("user_name"),
        "job_state": state,
        "active": state not in ENDED_STATES,
        "state_reason": job.get("state_reason"),
        "partition": job.get("partition"),
        "account": job.get("account"),
        "nodes": job.get("nodes") or "",
        "batch_host": job.get("batch_host") or "",
        "current_working_directory": job.get("current_working_directory"),
        "standard_output": output_path(job, "standard_output"),
        "standard_error": output_path(job, "standard_error"),
        "time_limit": job.get("time_limit"),
        "submit_time": _timestamp(job.get("submit_time")),
        "start_time": _timestamp(job.get("start_time")) if state != "PENDING" else None,
        "end_time": _timestamp(job.get("end_time")) if state in ENDED_STATES else None,
        # Slurm keeps the wait status: the exit code in the high byte, a signal in the low bits.
        "exit_code": (status >> 8) & 0xFF,
        "exit_signal": status & 0x7F,
    }


def host_of(url):
    return urlsplit(url).hostname or ""


class SlurmRestModule:
    """Base class of the modules of the job gateway.

    Subclasses set ``argument_spec`` (their own options; the connection options are added),
    ``module_kwargs`` and implement ``run()``, which returns the result (a dict); a
    ``SlurmRestError`` anywhere becomes a failure with its one line. ``self.client`` talks to
    the API as ``self.user``.
    """

    argument_spec: ClassVar[dict] = {}
    module_kwargs: ClassVar[dict] = {}

    def __init__(self):
        spec = slurm_rest_argument_spec()
        spec.update(self.argument_spec)
        self.ansible = AnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.client = None
        self.user = None

    def fail(self, msg, **result):
        self.ansible.fail_json(msg=one_line(msg), **result)

    def connect(self):
        """Check the connection options and the token (no request yet); fail with one line."""
        params = self.params
        url = params["url"].strip()
        scheme = urlsplit(url).scheme
        if scheme not in ("https", "http") or not host_of(url):
            self.fail(f"url: must be the gateway's address, e.g. https://login.example.org:6820, got {url!r}")
        if params["timeout"] < 1:
            self.fail(f"timeout: must be at least 1 second, got {params['timeout']}")
        claims, problem = token_claims(params["token"])
        if problem is not None:
            self.fail(problem)
        user = params["user"] or claims.get("sun")
        if not user:
            self.fail("user: not given, and the token names no user (claim 'sun'); set user")
        if not USER_RE.fullmatch(str(user)):
            self.fail(f"user: {user!r} is not a user name")
        expires = claims.get("exp") if isinstance(claims.get("exp"), int) else None
        self.user = str(user)
        self.client = SlurmRestClient(
            url,
            self.user,
            params["token"].strip(),
            ca_path=params["ca_path"],
            validate_certs=params["validate_certs"],
            timeout=params["timeout"],
            expires=expires,
        )

    def check_input(self):
        """Checks of the module's own options, before any request; fail with one line."""

    def __call__(self):
        self.connect()
        self.check_input()
        try:
            result = self.run()
        except SlurmRestError as exc:
            self.fail(str(exc), user=self.user)
        result.setdefault("changed", False)
        result.setdefault("user", self.user)
        self.ansible.exit_json(**result)

    def run(self):  # pragma: no cover - every module has one
        raise NotImplementedError
