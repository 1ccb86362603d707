# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small stand-in for slurmrestd 22.05 (openapi/v0.0.38) behind the gateway, for unit tests.

``FakeSlurmrestd`` is a real HTTP server on 127.0.0.1 (a thread) that answers the calls the
modules make (ping, jobs, job/{id} GET and DELETE, job/submit) the way Debian 12's slurmrestd
22.05.8 was seen to answer them: ``401 Authentication failure`` without a token; ``500`` with
``Unspecified error`` (or ``Zero Bytes were transmitted or received`` for a submission) when
slurmctld does not accept the token; ``500`` with error 2017 for an unknown job id and 2002
when cancelling another user's job; ``400`` ``environment must be set``. Jobs live in memory;
``set_state`` moves them on as slurmctld would. Every request is logged in ``requests``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/slurm/v0.0.38"
ADMINS = ("root", "slurm")
META = {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"}, "Slurm": {"release": "22.05.8"}}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(user, lifespan=1800, now=None):
    """A token of the form slurmctld makes (HS256; the signature here is random bytes)."""
    now = int(now if now is not None else time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"exp": now + lifespan, "iat": now, "sun": user}).encode())
    return f"{header}.{payload}.{b64url(secrets.token_bytes(32))}"


class FakeSlurmrestd:
    def __init__(self, partitions=("batch",)):
        self.partitions = list(partitions)
        self.tokens = {}  # token -> user
        self.jobs = {}  # job id -> record
        self.scripts = {}
        self.next_id = 1
        self.requests = []  # (method, path, user header, body)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- what the tests set up ---------------------------------------------------------------

    def token(self, user, lifespan=1800):
        token = make_token(user, lifespan)
        self.tokens[token] = user
        return token

    def add_job(self, user, name, state="RUNNING", **extra):
        with self.lock:
            job_id = self.next_id
            self.next_id += 1
            self.jobs[job_id] = {
                "job_id": job_id,
                "name": name,
                "user_name": user,
                "job_state": state,
                "state_reason": "None",
                "partition": "batch",
                "account": "",
                "nodes": "node-01" if state != "PENDING" else "",
                "batch_host": "node-01" if state != "PENDING" else "",
                "current_working_directory": f"/home/{user}",
                "standard_output": "",
                "standard_error": "",
                "time_limit": 1440,
                "submit_time": 1900000000,
                "start_time": 1900000001,
                "end_time": 1900086401,
                "exit_code": 0,
                "array_job_id": 0,
                "array_task_id": None,
                **extra,
            }
        return job_id

    def set_state(self, job_id, state, exit_code=0):
        self.jobs[job_id]["job_state"] = state
        self.jobs[job_id]["exit_code"] = exit_code

    def calls(self, method=None):
        return [f"{m} {p}" for m, p, _user, _body in self.requests if method is None or m == method]

    # -- the API ---------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, text=False):
                data = body.encode() if text else json.dumps({"meta": META, "errors": [], **body}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status, **error):
                self._send(status, {"errors": [error]})

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                user = self.headers.get("X-SLURM-USER-NAME")
                token = self.headers.get("X-SLURM-USER-TOKEN")
                fake.requests.append((method, self.path, user, raw.decode() or None))
                if not token or not user:
                    return self._send(401, "Authentication failure", text=True)
                owner = fake.tokens.get(token)
                path = self.path.split("?", 1)[0]
                if owner is None or (owner != user and owner not in ADMINS):
                    if path.endswith("/job/submit"):
                        return self._error(500, error_code=5005, error="Zero Bytes were transmitted or received")
                    return self._error(
                        500,
                        description="slurmctld config is unable to load",
                        error_number=-1,
                        error="Unspecified error",
                        source="slurm_load_jobs",
                    )
                return fake.route(self, method, path, user, raw)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        return Handler

    def route(self, handler, method, path, user, raw):
        if path == PREFIX + "/ping" and method == "GET":
            return handler._send(200, {"pings": [{"hostname": "mgmt", "ping": "UP", "status": 0, "mode": "primary"}]})
        if path == PREFIX + "/jobs" and method == "GET":
            return handler._send(200, {"jobs": list(self.jobs.values())})
        if path == PREFIX + "/job/submit" and method == "POST":
            return self.submit(handler, user, raw)
        match = re.match(re.escape(PREFIX) + r"/job/(\d+)$", path)
        if match and method in ("GET", "DELETE"):
            return self.one_job(handler, method, int(match.group(1)), user)
        return handler._send(404, "Unable find requested URL. Please view /openapi/v3 for API reference.", text=True)

    def one_job(self, handler, method, job_id, user):
        job = self.jobs.get(job_id)
        if job is None:
            verb = "find" if method == "GET" else "kill"
            return handler._error(
                500,
                description=f"Unable to {verb} JobId={job_id}",
                error_number=2017,
                error="Invalid job id specified",
                source="slurm_load_job" if method == "GET" else "slurm_kill_job",
            )
        if method == "GET":
            return handler._send(200, {"jobs": [job]})
        if job["user_name"] != user and user not in ADMINS:
            return handler._error(
                500,
                description=f"unable to kill JobId={job_id} with signal 9: Access/permission denied",
                error_number=2002,
                error="Access/permission denied",
                source="slurm_kill_job",
            )
        if job["job_state"] in ("PENDING", "RUNNING", "SUSPENDED"):
            self.set_state(job_id, "CANCELLED", exit_code=9)
        return handler._send(200, {})

    def submit(self, handler, user, raw):
        body = json.loads(raw or b"{}")
        job = body.get("job") or {}
        if "script" not in body:
            return handler._error(400, error_code=9001, error="Failure during parsing")
        if "environment" not in job:
            return handler._send(
                400,
                {
                    "errors": [
                        {"error": "environment must be set", "error_code": 2127},
                        {"error_code": 9001, "error": "Failure during parsing"},
                    ]
                },
            )
        if job.get("partition", self.partitions[0]) not in self.partitions:
            return handler._error(500, error_code=2000, error="Invalid partition name specified")
        fields = {
            key: job[key]
            for key in ("current_working_directory", "standard_output", "standard_error", "partition", "time_limit")
            if key in job
        }
        job_id = self.add_job(user, job.get("name", "sbatch"), state="PENDING", **fields)
        self.scripts[job_id] = body["script"]
        return handler._send(200, {"job_id": job_id, "step_id": "BATCH", "job_submit_user_msg": ""})
