"""Start a notebook server for many guests at once through JupyterHub's REST API.

Each guest logs in with their password (the hub's login form, as any HTTP client can),
asks for an API token, and then, all at the same moment, asks the hub to start their
server with the default options. Prints a table: how many started, the time until each
server was ready, the time until all were, and the time until the idle culler had
stopped them all (and so ended their Slurm jobs).

Usage: python benchmarks/jupyterhub_spawn.py --url URL --ca CA --passwords DIR GUEST...
"""

import argparse
import concurrent.futures
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import requests


def token_for(url, ca, user, password):
    """Log in through the form, then make a token with the session's cookie."""
    session = requests.Session()
    # verify on every call: requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override session.verify
    session.get(url + "hub/login", verify=ca, timeout=60).raise_for_status()
    xsrf = session.cookies.get("_xsrf", "")
    reply = session.post(
        url + "hub/login",
        data={"username": user, "password": password, "_xsrf": xsrf},
        verify=ca,
        timeout=120,
    )
    reply.raise_for_status()
    reply = session.post(
        f"{url}hub/api/users/{user}/tokens",
        json={"note": "benchmark", "expires_in": 3600},
        headers={"X-XSRFToken": session.cookies.get("_xsrf", xsrf)},
        verify=ca,
        timeout=60,
    )
    reply.raise_for_status()
    return reply.json()["token"]


def server(url, ca, user, token):
    reply = requests.get(
        f"{url}hub/api/users/{user}", headers={"Authorization": f"token {token}"}, verify=ca, timeout=60
    )
    reply.raise_for_status()
    return reply.json().get("servers", {}).get("")


def spawn(args, user, token, start):
    """Ask for the server, wait until it is ready; the seconds since start, or the failure."""
    url, ca, timeout = args.url, args.ca, args.timeout
    reply = requests.post(
        f"{url}hub/api/users/{user}/server",
        json={},
        headers={"Authorization": f"token {token}"},
        verify=ca,
        timeout=120,
    )
    if reply.status_code not in (201, 202):
        return f"{user}: start refused ({reply.status_code} {reply.text[:120]})"
    while time.monotonic() - start < timeout:
        state = server(url, ca, user, token)
        if state and state.get("ready"):
            return time.monotonic() - start
        if not state or not (state.get("pending") or state.get("ready")):
            return f"{user}: the spawn failed"
        time.sleep(2)
    return f"{user}: not ready after {timeout} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the hub's address, ending in /")
    parser.add_argument("--ca", required=True, help="the CA certificate the hub's certificate is checked with")
    parser.add_argument("--passwords", required=True, type=Path, help="directory with one password file per guest")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for all servers")
    parser.add_argument("--cull-timeout", type=int, default=900, help="seconds to wait for the culler")
    parser.add_argument("guests", nargs="+")
    args = parser.parse_args()

    with concurrent.futures.ThreadPoolExecutor(len(args.guests)) as pool:
        passwords = [(args.passwords / g).read_text().strip() for g in args.guests]
        tokens = dict(
            zip(args.guests, pool.map(partial(token_for, args.url, args.ca), args.guests, passwords), strict=True)
        )
        start = time.monotonic()
        results = list(pool.map(lambda g: spawn(args, g, tokens[g], start), args.guests))
    ready = sorted(r for r in results if isinstance(r, float))
    failures = [r for r in results if isinstance(r, str)]

    all_ready = time.monotonic()
    culled_after = None
    while time.monotonic() - all_ready < args.cull_timeout:
        if not any(server(args.url, args.ca, g, tokens[g]) for g in args.guests):
            culled_after = time.monotonic() - all_ready
            break
        time.sleep(5)

    print("| guests | servers ready | first ready (s) | median (s) | all ready (s) | all culled after (s) |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {len(args.guests)} | {len(ready)} | {ready[0] if ready else float('nan'):.1f} "
        f"| {statistics.median(ready) if ready else float('nan'):.1f} | {ready[-1] if ready else float('nan'):.1f} "
        f"| {'not within ' + str(args.cull_timeout) if culled_after is None else f'{culled_after:.0f}'} |"
    )
    for failure in failures:
        print("failed:", failure)
    return 0 if not failures and culled_after is not None else 1


if __name__ == "__main__":
    sys.exit(main())
